"""Claims on real models: the verdict and its gap on hand-checked bounds, the counterparts' parameter
budgets by hand, the real-model path on shipped CIFAR models, JSON keys, limits and refusals."""

from __future__ import annotations

import json
import math
import sys
import time
from math import comb

import pytest
from helpers import MODELS

from ilpregions.core.errors import ParameterError
from ilpregions.core.spec import ConvLayer, DenseLayer, Network
from ilpregions.core.spec_toml import load
from ilpregions.services import claims as C
from ilpregions.services.bounds import params

NET = Network((2, 1), (DenseLayer(2),))


def big(text: str) -> int:
    """A JSON decimal of thousands of digits (the int-to-str guard restored: other tests check it)."""
    before = sys.get_int_max_str_digits()
    sys.set_int_max_str_digits(0)
    try:
        return int(text)
    finally:
        sys.set_int_max_str_digits(before)


def hand(lower, upper, p, names=("lo", "up")):
    return C.Side("x", NET, p, lower, upper, *names)


# --- verdict logic on hand-checkable bounds ---------------------------------------------------------

def test_proven_and_refuted_on_dense_layers_with_exact_counts():
    # One dense layer on n0 inputs: exactly Σ_{i≤n0} C(n1, i) regions (Pascanu et al.), so both sides are
    # exact and the verdict is never open. n0 = 2: 3 units give 7 regions with 9 parameters, 1 unit 2 with 3.
    wide = C.model_side("wide", Network((2, 1), (DenseLayer(3),)), 5.0)
    narrow = C.model_side("narrow", Network((2, 1), (DenseLayer(1),)), 5.0)
    assert (wide.lower, wide.upper, wide.params) == (1 + 3 + 3, 7, 9)
    assert (narrow.lower, narrow.upper, narrow.params) == (2, 2, 3)
    # 7/9 > 2/3: PROVEN, margin log10(7/9) − log10(2/3).
    assert C.verdict(wide, narrow) == (C.PROVEN, pytest.approx(math.log10(7 / 9) - math.log10(2 / 3), abs=1e-6))
    # The reverse claim: 2/3 ≤ 7/9, REFUTED.
    assert C.verdict(narrow, wide)[0] == C.REFUTED


def test_open_verdict_gap_by_hand():
    # A: 320 ≤ R ≤ 2424 with 21 parameters (two_layer_1d's Theorem 2 pair); B exact, Σ_{i≤4} C(20, i) = 6196
    # with 100 parameters (one dense layer of 20 units on 4 inputs). 320/21 < 61.96 < 2424/21: open.
    b_exact = sum(comb(20, i) for i in range(5))
    assert b_exact == 6196
    a = hand(320, 2424, 21, ("a.lower", "a.upper"))
    b = hand(b_exact, b_exact, 100, ("b.lower", "b.upper"))
    assert C.verdict(a, b)[0] == C.OPEN
    g = C.gap(a, b)
    # to prove: A's lower must pass B's upper; B is exact, so only A's lower can close it.
    assert g.prove.lower_per_param == pytest.approx(math.log10(320 / 21), abs=1e-6)
    assert g.prove.upper_per_param == pytest.approx(math.log10(61.96), abs=1e-6)
    assert g.prove.log10_shortfall == pytest.approx(math.log10(61.96) - math.log10(320 / 21), abs=1e-6)
    assert g.prove.limited_by == ("a.lower",) and not g.prove.both_must_move
    # to refute: B's lower (61.96) must reach A's upper (115.4); only A's upper can close it.
    assert g.refute.log10_shortfall == pytest.approx(math.log10(2424 / 21) - math.log10(61.96), abs=1e-6)
    assert g.refute.limited_by == ("a.upper",)
    assert (g.refute.lower_side, g.refute.upper_side) == ("B", "A")


def test_gap_names_both_bounds_when_either_or_neither_can_close_it():
    # Either: A 10..10^4, B 1..10^3 (one parameter each); to prove, A's lower may rise past 10^3 (A's
    # upper is 10^4) and B's upper may fall below 10 (B's lower is 1).
    a, b = hand(10, 10 ** 4, 1, ("a.lo", "a.up")), hand(1, 10 ** 3, 1, ("b.lo", "b.up"))
    g = C.gap(a, b)
    assert g.prove.limited_by == ("a.lo", "b.up") and not g.prove.both_must_move
    assert g.prove.lower_may_close and g.prove.upper_may_close
    # Neither: A 10..100, B 50..1000: A's lower can rise to 100 < 1000, B's upper fall to 50 > 10.
    g = C.gap(hand(10, 100, 1, ("a.lo", "a.up")), hand(50, 1000, 1, ("b.lo", "b.up")))
    assert g.prove.both_must_move and g.prove.limited_by == ("a.lo", "b.up")
    assert g.prove.log10_shortfall == pytest.approx(2.0)
    # A missing bound: no shortfall, nothing excluded.
    g = C.gap(hand(None, 100, 1), hand(5, 50, 1))
    assert g.prove.log10_shortfall is None and g.prove.lower_per_param is None


def test_an_open_verdict_from_the_library_on_a_real_pair():
    # The same construction with the bounds computed: two_layer_1d against the dense layer of 20 units.
    a = C.model_side("model", load(MODELS / "two_layer_1d.toml"), 10.0)
    b = C.model_side("dense", Network((4, 1), (DenseLayer(20),)), 10.0)
    assert b.lower == b.upper == 6196 and b.params == 100
    assert a.lower * b.params < b.upper * a.params and a.upper * b.params > b.lower * a.params   # overlap
    assert C.verdict(a, b)[0] == C.OPEN
    g = C.gap(a, b)
    assert g.prove.limited_by == (a.lower_name,) and g.refute.limited_by == (a.upper_name,)


# --- counterparts: parameter budgets by hand ---------------------------------------------------------

def test_counterparts_of_the_shipped_models_by_hand():
    small, vgg = load(MODELS / "cifar_small.toml"), load(MODELS / "vgg11_cifar.toml")
    conv, stem = load(MODELS / "cifar_conv.toml"), load(MODELS / "imagenet_stem.toml")
    # cifar_small: 3·3·3·16+16, 3·3·16·32+32, dense 8·8·32·10+10.
    assert params(small) == 448 + 4640 + 20490
    shallow = C.shallow_counterpart(small)
    assert shallow.layers[0].filters == 25578 // 28 and params(shallow) == 913 * 28   # 3×3×3 + 1 per filter
    assert C.shallow_counterpart(vgg).layers[0].filters == params(vgg) // 28 == 329486
    # One-layer models: two layers of d filters, d(k²·3 + 1) + d(k²·d + 1) ≤ P, d largest.
    deep = C.deep_counterpart(conv)
    assert [layer.filters for layer in deep.layers] == [5, 5]
    assert params(deep) == 5 * 28 + 5 * 46 == 370 and 6 * 28 + 6 * 55 > 448
    deep = C.deep_counterpart(stem)
    assert [layer.filters for layer in deep.layers] == [12, 12] and deep.output_shapes()[-1] == (112, 112, 12)
    assert params(deep) == 12 * 148 + 12 * (49 * 12 + 1) <= 9472 < 13 * 148 + 13 * (49 * 13 + 1)
    # Fully-connected: one dense layer per ReLU layer, 3072 inputs.
    fc = C.fc_counterpart(small)
    assert [layer.units for layer in fc.layers] == [8, 8, 8] and params(fc) == 3073 * 8 + 2 * 8 * 9
    assert 3073 * 9 + 2 * 9 * 10 > 25578
    fc = C.fc_counterpart(vgg)
    assert len(fc.layers) == 9 and fc.layers[0].units == 898
    assert params(fc) <= params(vgg) < 3073 * 899 + 8 * 899 * 900
    assert C.fc_counterpart(conv).layers == (DenseLayer(1),)   # one unit costs 3,073 > 448 parameters


def test_only_cnns_are_compared():
    with pytest.raises(ParameterError, match="network: the claims compare CNNs"):
        C.shallow_counterpart(load(MODELS / "dense.toml"))
    with pytest.raises(ParameterError, match="models: dense.toml: "):
        C.run_model_claims([("dense.toml", load(MODELS / "dense.toml"))], time_limit=1)
    with pytest.raises(ParameterError, match="depth"):
        C.deep_counterpart(Network((4, 1), (ConvLayer(1, 2),)), depth=1)


# --- the real-model path ---------------------------------------------------------------------------

CLAIM_KEYS = ["claim", "title", "model", "verdict", "complete", "log10_margin", "gap", "larger", "other"]
SIDE_KEYS = ["label", "params", "formula_lower", "lower", "upper", "lower_log10", "upper_log10", "lower_name",
             "upper_name", "complete", "layers"]
DIRECTION_KEYS = ["goal", "log10_shortfall", "lower", "upper", "limited_by", "both_must_move"]


def test_cifar_small_refutes_deep_vs_shallow_and_proves_cnn_vs_fc(cli):
    limit = 2.0
    start = time.perf_counter()
    code, out, err = cli("claims", str(MODELS / "cifar_small.toml"), "--time-limit", str(limit), "--json", "--quiet")
    assert time.perf_counter() - start <= 2 * limit + 2.0      # the time limit within 2x, plus the imports
    assert code == 0, err     # REFUTED and PROVEN are final, cut bounds or not
    data = json.loads(out)
    assert list(data) == ["status", "seconds", "time_limit", "models", "cases", "finished", "claims"]
    assert data["status"] == "complete" and data["cases"] == data["finished"] == 2
    by_claim = {c["claim"]: c for c in data["claims"]}
    for claim in by_claim.values():
        assert list(claim) == CLAIM_KEYS and claim["gap"] is None
        assert list(claim["larger"]) == SIDE_KEYS and list(claim["other"]) == SIDE_KEYS
    # deep-vs-shallow: the one-layer CNN of 913 filters is proven to have more regions per parameter
    # than cifar_small can have at most (exact integers from the JSON).
    dvs = by_claim["deep-vs-shallow"]
    a, b = dvs["larger"], dvs["other"]
    assert dvs["verdict"] == "REFUTED" and a["label"] == "model" and b["params"] == 913 * 28
    assert big(b["lower"]) * a["params"] >= big(a["upper"]) * b["params"]
    # cnn-vs-fc: cifar_small's proven lower bound beats the FC net's upper bound per parameter.
    cvf = by_claim["cnn-vs-fc"]
    a, b = cvf["larger"], cvf["other"]
    assert cvf["verdict"] == "PROVEN" and b["layers"] == ["dense"] * 3
    assert big(a["lower"]) * b["params"] > big(b["upper"]) * a["params"]
    assert a["lower_name"] and a["upper_name"] and cvf["log10_margin"] > 0


def test_cifar_conv_open_verdict_prints_its_gap_and_is_partial(cli):
    # 2 s leave the layer's searches unfinished: deep-vs-shallow stays open with bounds cut (exit 3).
    code, out, err = cli("claims", str(MODELS / "cifar_conv.toml"), "--time-limit", "2", "--json", "--quiet")
    assert code == 3, err
    data = json.loads(out)
    assert data["status"] == "time_limit"
    dvs = next(c for c in data["claims"] if c["claim"] == "deep-vs-shallow")
    assert dvs["verdict"] == "OPEN" and dvs["complete"] is False
    assert dvs["larger"]["label"] == "deep counterpart" and dvs["other"]["label"] == "model"
    assert set(dvs["gap"]) == {"prove", "refute"}
    for direction in dvs["gap"].values():
        assert list(direction) == DIRECTION_KEYS and direction["log10_shortfall"] > 0
        assert list(direction["lower"]) == ["side", "bound", "log10_per_param", "may_close_alone"]
        assert direction["limited_by"]
    prove = dvs["gap"]["prove"]
    assert prove["log10_shortfall"] == pytest.approx(prove["upper"]["log10_per_param"]
                                                     - prove["lower"]["log10_per_param"], abs=1e-5)
    assert next(c for c in data["claims"] if c["claim"] == "cnn-vs-fc")["verdict"] == "PROVEN"


def test_text_output_on_small_models(cli):
    code, out, err = cli("claims", str(MODELS / "paper_3x3.toml"), str(MODELS / "two_layer_1d.toml"),
                         "--time-limit", "20")
    assert code == 0, err
    assert out.count("verdict: ") == 4 and "verdict: REFUTED" in out and "verdict: PROVEN" in out
    # paper_3x3 against its two-layer counterpart is open: both directions printed with their bounds.
    assert "verdict: open" in out and "to prove: " in out and "to refute:" in out and "orders of magnitude short" in out


@pytest.mark.parametrize("args, needle", [(("--widths", "2"), "--widths: applies to the families only"),
                                          (("--rows",), "--rows: applies to the families only")])
def test_family_options_are_refused_with_models(cli, args, needle):
    code, out, err = cli("claims", str(MODELS / "paper_3x3.toml"), *args)
    assert code == 2 and out == "" and err.count("\n") == 1 and needle in err


def test_a_model_that_is_not_a_cnn_is_refused_before_any_work(cli):
    code, out, err = cli("claims", str(MODELS / "paper_3x3.toml"), str(MODELS / "dense.toml"), "--quiet")
    assert code == 2 and out == "" and err.count("\n") == 1
    assert "MODEL: " in err and "dense.toml" in err and "first layer is conv or local" in err


def test_no_time_left_is_an_honest_partial_run():
    run = C.run_model_claims([("paper", load(MODELS / "paper_3x3.toml"))], time_limit=0.01)
    assert run.results == () and run.status == "time_limit" and run.asked == 2


def test_the_text_of_a_gap_names_a_missing_bound():
    from ilpregions.cli.commands.claims import format_gap

    lines = format_gap(C.gap(hand(100, None, 10, ("a.lo", None)), hand(5000, 6000, 10, ("b.lo", "b.up"))))
    # to prove: 10^1/param against 10^2.78/param, B exact enough that only A's lower can close it
    assert "1.78 orders of magnitude short; limited by a.lo" in lines[0]
    assert "no A's upper bound is available" in lines[1]

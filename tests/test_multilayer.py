"""Multi-layer bounds: hand-computed values, applicability, orderings, and independent checks."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from itertools import product as iproduct
from math import comb
from pathlib import Path

import numpy as np
import pytest

from helpers import MODELS, case_network
from ilpregions.theory import fc_bounds as F
from ilpregions.services import bounds as M
from ilpregions.core.bigint import decimal_text, short_text
from ilpregions.core.errors import TooLargeError
from ilpregions.core.results import CountResult
from ilpregions.core.spec import ConvLayer, DenseLayer, MaxPoolLayer, Network
from ilpregions.core.spec_toml import load
from ilpregions.services.bounds._common import FOLDING_LOWER, PREFIX_LOWER as PREFIX

ROOT = Path(__file__).resolve().parents[1]


def bf(inst, time_limit=None):
    return M.bruteforce_counter(inst, time_limit)


def by_name(report):
    return {b.name: b for b in report.bounds}


def r_nprime_1x3(d):
    """R_{N'} for input 1×3×1, kernel 1×2, d filters, by hand: positions {0,1},{1,2},
    t_p ≤ 2, t_1 + t_2 ≤ 3 (the union constraint)."""
    return sum(comb(d, a) * comb(d, b) for a in range(3) for b in range(3) if a + b <= 3)


@pytest.mark.parametrize("d2", range(1, 9))
def test_issue_example_two_conv_layers(d2):
    # Input 1×4×1, two conv layers with 1×2 kernels, d1 = 2.
    net = Network((1, 4, 1), (ConvLayer(2, (1, 2)), ConvLayer(d2, (1, 2))))
    b = by_name(M.compute_bounds(net, exact_counter=bf))
    # Lower: ⌊d1/d0⌋^{3·1} = 8 times R_{N'}.
    assert b[M.THEOREM2_LOWER].applicable
    assert b[M.THEOREM2_LOWER].value == 8 * r_nprime_1x3(d2)
    # Upper: R_{N''} = 55 (reference value for 4×1, kernel 2, d1 = 2) times Σ_{i≤4} C(2·d2, i).
    assert b[M.THEOREM2_UPPER].value == 55 * sum(comb(2 * d2, i) for i in range(5))
    # Ours: 55 · min(Σ_{i≤4} C(2·d2, i), R^loc): layer 2 acts on min(U, N_1) = 4 dimensions, and its
    # neurons see the input through the composite fields {0,1,2}, {1,2,3}, whose local Theorem-1
    # count (t_q ≤ 3, t_1 + t_2 ≤ 4) is R^loc.
    r_loc = sum(comb(d2, a) * comb(d2, c) for a in range(4) for c in range(4) if a + c <= 4)
    assert b[M.CNN_UPPER].value == 55 * min(sum(comb(2 * d2, i) for i in range(5)), r_loc)
    if d2 >= 4:
        assert r_loc < sum(comb(2 * d2, i) for i in range(5))  # the composite fields help
    # Fully-connected bounds with N_1 = 6, N_2 = 2·d2, n0 = 4.
    assert b[M.MONTUFAR2017].value == sum(comb(6, i) for i in range(5)) * sum(comb(2 * d2, i) for i in range(5))
    assert b[M.SERRA2018].value == F.serra2018_bruteforce(4, [6, 2 * d2])
    assert not b[M.PASCANU].applicable and not b[M.MONTUFAR2014].applicable


def test_r_nprime_hand_formula_matches_the_engine():
    from ilpregions.services.count._theorem1 import count_regions
    for d in range(1, 6):
        net = Network((1, 3, 1), (ConvLayer(d, (1, 2), shared=False),))
        assert count_regions(net, backend="bruteforce").regions == r_nprime_1x3(d)


def test_theorem2_lower_uses_d0_channels_and_floor():
    # d0 = 2, d1 = 5: ⌊5/2⌋^{positions·d0} = 2^{3·2}; N' sees 2 channels, not 5.
    net = Network((4, 2), (ConvLayer(5, 2, shared=False), ConvLayer(3, 2, shared=False)))
    b = by_name(M.compute_bounds(net, exact_counter=bf))
    nprime = Network((3, 2), (ConvLayer(3, 2, shared=False),))
    from ilpregions.services.count._theorem1 import count_regions
    assert b[M.THEOREM2_LOWER].value == 2 ** 6 * count_regions(nprime, backend="bruteforce").regions
    assert b[M.THEOREM2_LOWER].reason is None  # local layers: no caveat


def test_inapplicable_bounds_carry_reasons():
    cases = [
        Network((4, 2), (ConvLayer(1, 2), ConvLayer(3, 2))),           # d1 < d0
        Network((4, 1), (ConvLayer(2, 2), DenseLayer(3))),            # dense after conv
        Network((4, 1), (DenseLayer(3), DenseLayer(2))),              # n_1 < n0
        Network((3, 3, 1), (ConvLayer(2, 2),)),                       # tied 2-D, stride 1
        Network((6, 1), (ConvLayer(2, 3, padding=2), ConvLayer(2, 2))),  # no single tap reads inside
    ]
    expected = [(M.THEOREM2_LOWER, "d_l ≥ d0"), (M.THEOREM2_LOWER, "conv/local"),
                (M.MONTUFAR2014, "n_l ≥ n0"), (M.THEOREM2_LOWER, "one layer"), (M.THEOREM2_LOWER, "tap")]
    for net, (name, words) in zip(cases, expected):
        report = M.compute_bounds(net, exact_counter=bf)
        for bound in report.bounds:
            if not bound.applicable:
                assert bound.value is None and bound.reason, bound
        assert not report.bound(name).applicable
        assert words in report.bound(name).reason


def test_maxpool_keeps_our_bounds_and_says_why_the_others_do_not_apply():
    net = Network((4, 4, 1), (ConvLayer(2, 2), MaxPoolLayer(2, stride=1), ConvLayer(2, 2)))
    report = M.compute_bounds(net, exact_counter=bf, time_limit=1)
    b = by_name(report)
    for name in (M.MONTUFAR2017, M.SERRA2018, M.THEOREM2_UPPER):
        assert not b[name].applicable and "max-pooling" in b[name].reason
    assert b[M.CNN_UPPER].applicable and b[PREFIX].applicable
    assert report.lower is not None and report.upper is not None and report.lower <= report.upper
    assert report.params == 2 * 5 + 2 * (4 * 2 + 1)


def test_params_and_neurons_by_hand():
    net = Network((3, 3, 1), (ConvLayer(2, 2),))
    assert M.params(net) == 2 * (4 + 1) and M.neurons(net) == 8
    local = Network((3, 3, 1), (ConvLayer(2, 2, shared=False),))
    assert M.params(local) == 4 * 2 * (4 + 1)
    dense = Network((4, 1), (DenseLayer(6), DenseLayer(3)))
    assert M.params(dense) == 6 * 5 + 3 * 7 and M.neurons(dense) == 9
    assert M.params(load(MODELS / "two_layer_1d.toml")) == 2 * 3 + 3 * 5
    assert M.params(load(MODELS / "imagenet_stem.toml")) == 64 * (7 * 7 * 3 + 1)


def test_pascanu_equals_theorem1_for_dense_layers():
    for n0, n1 in [(2, 3), (4, 6), (3, 2)]:
        report = M.compute_bounds(Network((n0, 1), (DenseLayer(n1),)), exact_counter=bf)
        assert report.bound(M.PASCANU).value == report.bound(M.THEOREM1).value == report.lower == report.upper


def _random_network(rng):
    axes = rng.choice([1, 1, 2])
    channels = rng.choice([1, 1, 2])
    shape = tuple(rng.randint(2, 5) for _ in range(axes)) + (channels,)
    layers = []
    for index in range(rng.randint(1, 3)):
        kind = rng.choice(["conv", "local", "conv", "dense"] if index else ["conv", "local"])
        if kind == "dense" or (layers and isinstance(layers[-1], DenseLayer)):
            layers.append(DenseLayer(rng.randint(1, 4)))
            continue
        try:
            net = Network(shape, tuple(layers) + (ConvLayer(1, 2),))
        except Exception:
            break
        layers.append(ConvLayer(rng.randint(1, 3), 2, stride=rng.choice([1, 1, 2]), shared=(kind == "conv")))
    try:
        return Network(shape, tuple(layers))
    except Exception:
        return Network(shape, (ConvLayer(2, 2),))


def test_lower_never_exceeds_upper_on_random_stacks():
    rng = random.Random(2024)
    checked = 0
    for _ in range(40):
        net = _random_network(rng)
        report = M.compute_bounds(net, exact_counter=bf, lp=False, time_limit=1)
        lows = [b.value for b in report.bounds if b.applicable and b.kind in ("lower", "exact")]
        ups = [b.value for b in report.bounds if b.applicable and b.kind in ("upper", "exact")]
        if lows and ups:
            assert max(lows) <= min(ups), (net, report.bounds)
            checked += 1
        b = by_name(report)
        if b[M.THEOREM2_UPPER].applicable:
            assert b[M.CNN_UPPER].value <= b[M.THEOREM2_UPPER].value
        assert b[M.CNN_UPPER].value <= b[M.MONTUFAR2017].value
    assert checked >= 10


@pytest.mark.parametrize("name", sorted(p.stem for p in MODELS.glob("*.toml")
                                         if p.stem not in ("imagenet_stem", "cifar_conv", "cifar_small", "vgg11_cifar")))
def test_shipped_models_sandwich(name):
    report = M.compute_bounds(load(MODELS / f"{name}.toml"), time_limit=1)
    if report.lower is not None and report.upper is not None:
        assert report.lower <= report.upper


def test_theorem1_reference_values_are_sandwiched(theorem1_case):
    truth = int(theorem1_case["regions"])
    net = case_network(theorem1_case, shared=False)
    report = M.compute_bounds(net, time_limit=30)
    assert report.lower is not None and report.upper is not None
    assert report.lower <= truth <= report.upper
    assert report.bound(M.THEOREM1).value == truth and report.bound(M.THEOREM1).kind == "exact"
    assert report.exponent == theorem1_case["union_size"]


def test_tied_reference_values_are_sandwiched(tied_case):
    # The real CNN maximum (shared filters): every bound must hold for it.
    tied = int(tied_case["tied"])
    net = case_network(tied_case, shared=True)
    report = M.compute_bounds(net, time_limit=30)
    assert report.upper is not None and tied <= report.upper
    if report.lower is not None:
        assert report.lower <= tied, [b for b in report.bounds if b.applicable]
    if int(tied_case["formula"]) > tied:
        # Theorem 1 overcounts here; no lower bound may be built on it.
        assert report.bound(M.THEOREM2_LOWER).applicable is False


def test_size_guard_skips_the_engine():
    def never(inst, time_limit=None):
        raise AssertionError("the exact engine must not be started")

    net = Network((600, 1), (ConvLayer(3, 3),))
    report = M.compute_bounds(net, exact_counter=never, lp=False)
    b = report.bound(M.THEOREM1)
    assert not b.applicable and "skipped" in b.reason
    assert report.bound(M.CNN_UPPER).applicable and report.upper is not None


def test_time_limit_and_too_large_make_bounds_inapplicable():
    def partial(inst, time_limit=None):
        return CountResult(regions=7, exact=False, backend="fake", t_vectors=None, union_size=4,
                           positions=3, seconds=0.5, status="time_limit")

    def refuse(inst, time_limit=None):
        raise TooLargeError("too many states")

    net = Network((4, 1), (ConvLayer(2, 2), ConvLayer(2, 2)))
    for counter, words in ((partial, "time limit"), (refuse, "too many states")):
        report = M.compute_bounds(net, exact_counter=counter)
        # Theorem 2 (i) rests on tied_max for N' (shared filters), not on the Theorem-1 engine;
        # Theorem 2 (ii) and ours fall back to a valid bound on the first layer and say so.
        assert report.bound(M.THEOREM2_LOWER).applicable
        assert "R_{N''} ≤" in report.bound(M.THEOREM2_UPPER).reason
        assert report.bound(M.CNN_UPPER).applicable and "first layer bounded" in report.bound(M.CNN_UPPER).reason


def _sampled_patterns(weights, n0, samples, rng):
    """Distinct activation patterns of a random ReLU net over random inputs (a lower bound on R)."""
    x = rng.normal(0, 4, size=(samples, n0))
    patterns = []
    h = x
    for w, b in weights:
        z = h @ w.T + b
        patterns.append(z > 0)
        h = np.maximum(z, 0)
    return len({row.tobytes() for row in np.concatenate(patterns, axis=1)})


def test_upper_bounds_hold_for_sampled_local_networks():
    # Two locally connected 1-D layers on 3 inputs; any sampled count is ≤ the true maximum.
    net = Network((3, 1), (ConvLayer(3, 2, shared=False), ConvLayer(2, 2, shared=False)))
    report = M.compute_bounds(net, exact_counter=bf)
    rng = np.random.default_rng(0)
    best = 0
    for _ in range(5):
        w1 = np.zeros((6, 3))  # positions × filters, each neuron sees 2 inputs
        for p in range(2):
            w1[p * 3:(p + 1) * 3, p:p + 2] = rng.normal(size=(3, 2))
        w2 = rng.normal(size=(2, 6))  # one output position sees both input positions (all 6 channels)
        weights = [(w1, rng.normal(size=6)), (w2, rng.normal(size=2))]
        best = max(best, _sampled_patterns(weights, 3, 60_000, rng))
    assert best <= report.upper
    assert report.lower <= report.upper


def _run_cli(*args):
    return subprocess.run([sys.executable, "-m", "ilpregions", *args], capture_output=True, text=True,
                          cwd=ROOT, timeout=120)


def test_cli_bounds_json_and_text():
    out = _run_cli("bounds", "models/two_layer_1d.toml", "--json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    names = [b["name"] for b in data["bounds"]]
    assert names[:5] == [PREFIX, M.THEOREM2_LOWER, FOLDING_LOWER, M.THEOREM2_UPPER, M.CNN_UPPER]
    assert data["lower"] == "320" and data["params"] == 21 and data["neurons"] == 12
    keys = {"name", "kind", "value", "applicable", "reason", "proven_for", "regions", "digits", "log10"}
    assert all(set(b) == keys for b in data["bounds"])
    assert all(b["digits"] == len(b["value"]) for b in data["bounds"] if b["applicable"])
    assert all(b["proven_for"] in ("network", "locally-connected") for b in data["bounds"])
    assert all(isinstance(b["value"], str) for b in data["bounds"] if b["applicable"])
    text = _run_cli("bounds", "models/paper_3x3.toml")
    assert text.returncode == 0 and "exponent U" in text.stdout and "n/a" in text.stdout
    bad = _run_cli("bounds", "models/nope.toml")
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1


@pytest.mark.slow
def test_cli_bounds_imagenet_stem_is_fast():
    import time
    start = time.perf_counter()
    out = _run_cli("bounds", "models/imagenet_stem.toml", "--json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["exponent"] == 224 * 224 * 3
    assert not next(b for b in data["bounds"] if b["name"] == M.THEOREM1)["applicable"]
    sys.set_int_max_str_digits(0)  # the values have ~160,000 digits
    assert int(data["lower"]) <= int(data["upper"])
    print(f"imagenet stem bounds: {time.perf_counter() - start:.1f} s")


def test_single_tap():
    layer = Network((5, 1), (ConvLayer(1, 3, padding=1),)).layers[0]
    assert M.single_tap((5, 1), layer) == (1,)          # "same" padding: the centre tap
    layer = Network((5, 1), (ConvLayer(1, 3),)).layers[0]
    assert M.single_tap((5, 1), layer) == (0,)          # no padding: tap 0
    layer = Network((5, 1), (ConvLayer(1, 2, padding=2),)).layers[0]
    assert M.single_tap((5, 1), layer) is None          # border outputs see only padding


def test_decimal_text_matches_str():
    before = sys.get_int_max_str_digits()
    sys.set_int_max_str_digits(0)   # str() as the reference; restored: other tests check the guard
    try:
        rng = random.Random(9)
        for bits in (1, 100, 4096, 4097, 20_000, 123_457):
            for _ in range(3):
                value = rng.getrandbits(bits) * rng.choice([1, -1])
                assert decimal_text(value) == str(value)
                assert short_text(value) == (str(value) if len(str(abs(value))) <= 15 else
                                               f"{'-' if value < 0 else ''}{str(abs(value))[0]}."
                                               f"{str(abs(value))[1:3]}e{len(str(abs(value))) - 1}")
    finally:
        sys.set_int_max_str_digits(before)
    assert short_text(10 ** 20000 * 987) == "9.87e20002"


def test_our_upper_bound_by_hand_and_strictly_best():
    # Input 4×1, conv(2 filters, kernel 2) then dense(3): R_1 = 55 (Theorem 1), N_1 = 6, U = 4,
    # so the dense layer acts on ≤ min(4, 6) = 4 dimensions: Σ_{i≤4} C(3, i) = 8 pieces per region.
    net = Network((4, 1), (ConvLayer(2, 2), DenseLayer(3)))
    report = M.compute_bounds(net, exact_counter=bf)
    assert report.bound(M.CNN_UPPER).value == 55 * 8
    # Montúfar 2017: 57 · 8; Serra 2018 by hand: 8 + 6·8 + 15·8 + 20·8 + 15·7 = 441.
    assert report.bound(M.MONTUFAR2017).value == 57 * 8
    assert report.bound(M.SERRA2018).value == 441
    # Theorem 2 (ii) extends to dense layers (affine maps): 55 · Σ_{i≤4} C(3, i), the same value.
    assert report.bound(M.THEOREM2_UPPER).value == 440
    assert report.upper == 440 and report.upper_name == M.THEOREM2_UPPER


def test_composite_instances_2d_and_dense():
    net = Network((4, 4, 1), (ConvLayer(2, 2), ConvLayer(2, 2, stride=2), DenseLayer(3)))
    second, third = M.composite_instances(net)
    # Layer 2, position (0, 0) reads layer-1 positions (0,0),(0,1),(1,0),(1,1): input pixels of the 3×3 corner.
    assert second.fields[0] == (0, 1, 2, 4, 5, 6, 8, 9, 10)
    assert second.positions == 1 and second.filters == 2 and second.kind == "local"  # 3×3 grid, k2 s2
    # The dense layer reads only what layer 2 reads (stride 2 drops the last row and column).
    assert third.fields == second.fields and third.filters == 3


OWN_NAMES = {M.THEOREM1, M.THEOREM2_LOWER, M.THEOREM2_UPPER, M.CNN_UPPER, M.PASCANU, M.MONTUFAR2014,
             M.MONTUFAR2017, M.SERRA2018, PREFIX, "ilpregions.tied.max", "ilpregions.tied.fresh_box",
             "ilpregions.tied.sublattice", "ilpregions.tied.strips", "ilpregions.strip_partition.upper",
             FOLDING_LOWER, "serra2018.lower", "ilpregions.local.strips", "ilpregions.strip_cap.upper"}


def test_lp_bounds_are_included_for_one_layer_models():
    local = M.compute_bounds(load(MODELS / "local_3x3.toml"))
    extra = [b for b in local.bounds if b.name not in OWN_NAMES]
    assert extra, "the LP bounds should be listed"
    assert all(b.value <= 48957 for b in extra if b.applicable and b.kind == "lower")
    assert all(b.value >= 48957 for b in extra if b.applicable and b.kind == "upper")
    assert local.exponent == 9 and len(local.position_maxima) == 4
    # Shared 2-D filters at stride 1: the CNN's maximum (255) is below Theorem 1 (256), so an
    # LP lower bound may only be listed as proven for the locally connected layer.
    tied = M.compute_bounds(load(MODELS / "paper_3x3.toml"))
    for b in tied.bounds:
        if b.name not in OWN_NAMES and b.applicable:
            assert (b.kind == "upper" and b.value >= 255) or b.proven_for == "locally-connected"
    assert tied.lower == 255 and tied.lower_name == "ilpregions.tied.max" and tied.upper == 256
    two = M.compute_bounds(load(MODELS / "two_layer_1d.toml"))
    assert {b.name for b in two.bounds} <= OWN_NAMES  # LP bounds are for one-layer models only

"""Exact region counts of concrete networks, checked against independent methods."""

from __future__ import annotations

import json

import numpy as np
import pytest

from helpers import MODELS, THEOREM1_CASES, TIED_CASES, case_id, case_network
from ilpregions.services.count._theorem1 import count_regions
from ilpregions.core.errors import InputError
from ilpregions.core.forward import (check_weights, decisions, forward, he_normal_weights, layer_affine,
                                stages, weight_shapes)
from ilpregions.services.regions import count_linear_regions, count_one_layer
from ilpregions.core.spec import ConvLayer, DenseLayer, MaxPoolLayer, Network


def _ref(case) -> int:
    return int(case["regions"])


# -- forward maps ---------------------------------------------------------------

def test_layer_affine_matches_a_direct_convolution():
    net = Network((4, 3, 2), (ConvLayer(filters=3, kernel=(2, 2), stride=(2, 1), padding=(1, 0)),))
    w = he_normal_weights(net, seed=5)
    A, b = layer_affine(net, w, 0)
    x = np.random.default_rng(0).normal(size=(4, 3, 2))
    padded = np.zeros((6, 3, 2))
    padded[1:5] = x
    W = w["layers.0.weight"]
    out = np.zeros((3, 2, 3))
    for i in range(3):
        for j in range(2):
            patch = padded[2 * i:2 * i + 2, j:j + 2, :]
            out[i, j] = np.tensordot(W, patch, axes=([1, 2, 3], [0, 1, 2])) + w["layers.0.bias"]
    assert np.allclose(A @ x.reshape(-1) + b, out.reshape(-1))


def test_local_layer_uses_per_position_weights():
    net = Network((4, 1), (ConvLayer(filters=2, kernel=2, shared=False),))
    shapes = weight_shapes(net)
    assert shapes == {"layers.0.weight": (3, 2, 2, 1), "layers.0.bias": (3, 2)}
    w = he_normal_weights(net, seed=1)
    A, b = layer_affine(net, w, 0)
    assert np.allclose(A[2:4, 1:3], w["layers.0.weight"][1, :, :, 0])
    assert np.allclose(b, w["layers.0.bias"].reshape(-1))


def test_biases_are_generic_and_weights_he_scaled():
    net = Network((8, 8, 4), (ConvLayer(filters=64, kernel=3),))
    w = he_normal_weights(net, seed=0)
    assert abs(w["layers.0.weight"].std() - np.sqrt(2 / 36)) < 0.01
    assert np.all(w["layers.0.bias"] != 0)


@pytest.mark.parametrize("bad, message", [
    ({"layers.0.weight": np.zeros((2, 2, 2)), "layers.0.bias": np.zeros(2)}, "has shape (2, 2, 2), expected"),
    ({"layers.0.weight": np.zeros((2, 2, 2, 1))}, "missing array 'layers.0.bias'"),
    ({"layers.0.weights": np.zeros((2, 2, 2, 1)), "layers.0.bias": np.zeros(2)}, "unknown array"),
    ({"layers.0.weight": np.full((2, 2, 2, 1), np.nan), "layers.0.bias": np.zeros(2)}, "NaN"),
])
def test_bad_weights_are_one_clear_error(bad, message):
    net = Network((3, 3, 1), (ConvLayer(2, 2),))
    with pytest.raises(InputError, match=message.replace("(", r"\(").replace(")", r"\)")):
        check_weights(net, bad)


# -- one layer: Theorem 1 is exact for untied weights ------------------------------

SMALL_T1 = [c for c in THEOREM1_CASES if _ref(c) <= 60_000]


@pytest.mark.parametrize("case", SMALL_T1, ids=case_id)
def test_local_reference_cases_rank_method(case):
    result = count_linear_regions(case_network(case, shared=False), seed=11)
    assert result.exact and result.method == "rank"
    assert result.regions == _ref(case)


@pytest.mark.parametrize("case", [c for c in THEOREM1_CASES if _ref(c) <= 600], ids=case_id)
def test_local_reference_cases_lp_method(case):
    result = count_linear_regions(case_network(case, shared=False), seed=2, method="lp")
    assert result.exact and result.method == "lp"
    assert result.regions == _ref(case)


def _random_local_network(rng) -> Network:
    if rng.random() < 0.5:
        n, k = int(rng.integers(3, 8)), int(rng.integers(1, 4))
        return Network((n, int(rng.integers(1, 3))),
                       (ConvLayer(filters=int(rng.integers(1, 4)), kernel=min(k, n),
                                  stride=int(rng.integers(1, 3)), shared=False),))
    h, w = int(rng.integers(2, 4)), int(rng.integers(2, 4))
    return Network((h, w, 1), (ConvLayer(filters=int(rng.integers(1, 3)), kernel=2,
                                         stride=int(rng.integers(1, 3)), shared=False),))


@pytest.mark.parametrize("trial", range(12))
def test_random_local_nets_equal_theorem1(trial):
    rng = np.random.default_rng(1000 + trial)
    net = _random_local_network(rng)
    expected = count_regions(net, backend="bruteforce").regions
    got = count_linear_regions(net, seed=trial)
    assert got.regions == expected, net
    if expected <= 400:
        assert count_linear_regions(net, seed=trial, method="lp").regions == expected, net


# -- 1-D conv nets: the tied count equals Theorem 1 --------------------------------

ONE_D = [c for c in THEOREM1_CASES if len(c["input"]) == 2 and _ref(c) <= 60_000]


@pytest.mark.parametrize("case", ONE_D, ids=case_id)
def test_1d_conv_nets_equal_theorem1(case):
    result = count_linear_regions(case_network(case, shared=True), seed=4)
    assert result.exact and result.regions == _ref(case)


@pytest.mark.parametrize("case", [c for c in ONE_D if _ref(c) <= 2500], ids=case_id)
def test_1d_conv_nets_equal_theorem1_by_lp(case):
    result = count_linear_regions(case_network(case, shared=True), seed=4, method="lp")
    assert result.exact and result.regions == _ref(case)


# -- 2-D conv: weight sharing costs a region ---------------------------------------

@pytest.mark.parametrize("method", ["exact", "lp"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_2d_conv_has_255_not_256(method, seed):
    case = TIED_CASES[0]
    assert case["input"] == [3, 3, 1] and case["formula"] == "256"
    net = case_network(case, shared=True)
    result = count_linear_regions(net, seed=seed, method=method)
    assert result.exact
    assert result.regions == int(case["tied"]) == 255
    assert count_regions(net).regions == 256


# -- over all of R^n, not a box -----------------------------------------------------

def test_far_away_regions_are_counted():
    # Every region must be found, including those a box of half-width 1e4 misses.
    case = next(c for c in THEOREM1_CASES if c["input"] == [6, 1] and c["filters"] == 3)
    net = case_network(case, shared=False)
    result = count_linear_regions(net, seed=9, method="lp", seed_samples=0)
    assert result.regions == 2289
    assert result.details["tests"]["lp_ambiguous"] == 0


@pytest.mark.parametrize("method", ["exact", "lp"])
def test_non_generic_biases_are_counted_exactly(method):
    # Zero biases: every hyperplane passes through 0 (a central arrangement). The
    # count is then no longer the number of independent subsets; both routes count it.
    net = Network((3, 1), (DenseLayer(4),))
    w = he_normal_weights(net, seed=0)
    w["layers.0.bias"][:] = 0.0
    result = count_linear_regions(net, weights=w, method=method)
    assert result.method == ("rank" if method == "exact" else "lp") and result.exact
    # 4 generic central planes in R^3: 2 * (C(3,0) + C(3,1) + C(3,2)) = 14 regions.
    assert result.regions == 14


def test_independent_subset_count_pascanu():
    # n0 = 3 inputs, n1 = 5 generic neurons: sum_{i<=3} C(5, i) = 26 (Pascanu et al.).
    rows = np.random.default_rng(0).normal(size=(5, 4))
    assert count_one_layer(rows).regions == 26


# -- multi-layer and pooling: an independent 1-D sweep -------------------------------

def _regions_on_r1(stage_list) -> int:
    """Regions of a network with one input, by splitting intervals at roots."""
    pieces = [(-np.inf, np.inf, np.eye(1), np.zeros(1))]
    for st in stage_list:
        new = []
        for lo, hi, M, c in pieces:
            Z, z0 = st.A @ M, st.A @ c + st.b
            slope = Z[:, 0]
            roots = sorted({-z / s for z, s in zip(z0, slope) if s != 0 and lo < -z / s < hi})
            cuts = [lo] + roots + [hi]
            for a, b in zip(cuts[:-1], cuts[1:]):
                mid = (a + b) / 2 if np.isfinite(a) and np.isfinite(b) else (
                    b - 1.0 if np.isfinite(b) else (a + 1.0 if np.isfinite(a) else 0.0))
                active = (slope * mid + z0 > 0).astype(float)
                new.append((a, b, Z * active[:, None], z0 * active))
        pieces = new
    return len(pieces)


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("layers", [
    (DenseLayer(3), DenseLayer(3)),
    (ConvLayer(3, 1), ConvLayer(2, 1)),
    (DenseLayer(4), DenseLayer(3), DenseLayer(2)),
])
def test_multilayer_nets_on_the_line(layers, seed):
    net = Network((1, 1), layers)
    w = he_normal_weights(net, seed)
    expected = _regions_on_r1(stages(net, w))
    assert count_linear_regions(net, weights=w, method="lp").regions == expected


def test_maxpool_hand_count():
    # relu(x1 + .1), relu(x2 + .1), then max: 4 sign quadrants, and the
    # both-active quadrant splits along x1 = x2: 5 regions.
    net = Network((2, 1), (ConvLayer(filters=1, kernel=1), MaxPoolLayer(2)))
    w = {"layers.0.weight": np.ones((1, 1, 1)), "layers.0.bias": np.array([0.1])}
    assert count_linear_regions(net, weights=w).regions == 5
    codes, _ = decisions(stages(net, check_weights(net, w)), np.array([[1.0, 2.0], [-1.0, -2.0]]))
    assert codes.tolist() == [[1, 1, 1], [0, 0, -1]]


def test_maxpool_adds_regions_and_never_loses_one():
    base = Network((6, 1), (ConvLayer(2, 3),))
    pooled = Network((6, 1), (ConvLayer(2, 3), MaxPoolLayer(2)))
    w = he_normal_weights(base, 0)
    plain = count_linear_regions(base, weights=w, method="lp").regions
    with_pool = count_linear_regions(pooled, weights=w, method="lp")
    assert with_pool.exact and with_pool.regions >= plain
    sampled = count_linear_regions(pooled, weights=w, method="sample", samples=50_000, seed=0)
    assert sampled.regions <= with_pool.regions


def test_forward_agrees_with_the_affine_pieces():
    net = Network((5, 1), (ConvLayer(2, 2), MaxPoolLayer(2), DenseLayer(2)))
    w = he_normal_weights(net, 3)
    x = np.random.default_rng(1).normal(size=(3, 5))
    out = forward(net, w, x)
    assert out.shape == (3, 2) and np.all(out >= 0)


# -- time limit ---------------------------------------------------------------------

def test_time_limit_gives_a_lower_bound():
    net = Network((4, 4, 1), (ConvLayer(2, 2), ConvLayer(2, 2)))
    result = count_linear_regions(net, seed=0, time_limit=0.5)
    assert not result.exact and result.regions >= 1


# -- CLI ------------------------------------------------------------------------------

def test_cli_regions_json(tmp_path, cli):
    code, stdout, err = cli("regions", MODELS / "paper_3x3.toml", "--seed", "3", "--method", "lp", "--json")
    assert code == 0, err
    out = json.loads(stdout)
    assert out["regions"] == "255" and out["exact"] is True and out["status"] == "complete"
    assert {"model", "status", "regions", "exact", "lps_solved", "seconds"} <= set(out)


def test_cli_regions_weights_file(tmp_path, cli):
    net = Network((3, 3, 1), (ConvLayer(2, 2),))
    path = tmp_path / "w.npz"
    np.savez(path, **he_normal_weights(net, 8))
    code, out, err = cli("regions", MODELS / "paper_3x3.toml", "--weights", path, "--json")
    assert code == 0, err
    assert json.loads(out)["regions"] == "255"


@pytest.mark.parametrize("kind", ["shape", "name", "garbage", "pickle"])
def test_cli_bad_weights_exit_2(tmp_path, kind, cli):
    path = tmp_path / "bad.npz"
    if kind == "shape":
        np.savez(path, **{"layers.0.weight": np.zeros((2, 2, 2)), "layers.0.bias": np.zeros(2)})
    elif kind == "name":
        np.savez(path, **{"layer0.weight": np.zeros((2, 2, 2, 1)), "layers.0.bias": np.zeros(2)})
    elif kind == "garbage":
        path.write_bytes(b"not a zip file")
    else:
        np.savez(path, **{"layers.0.weight": np.array([{"a": 1}], dtype=object),
                          "layers.0.bias": np.zeros(2)})
    code, _, err = cli("regions", MODELS / "paper_3x3.toml", "--weights", path)
    assert code == 2
    assert err.count("\n") == 1 and "error" in err
    assert "Traceback" not in err


def test_disjoint_fields_multiply():
    # 4x4x1, 2x2 filters, stride 2, d1 = 6: four disjoint blocks; 10,556,001 regions (reference).
    case = next(c for c in THEOREM1_CASES if c.get("stride") == 2)
    for shared in (True, False):
        result = count_linear_regions(case_network(case, shared=shared), seed=1)
        assert result.exact and result.regions == _ref(case)


@pytest.mark.slow
def test_regions_that_open_only_far_out_are_found():
    # Seed 7 of this pooled net has regions that start beyond |x| ~ 1e11: the homogeneous LP
    # margin is ~3e-11 there and the Euclidean second opinion certifies them. Both routes agree.
    plain = Network((6, 1), (ConvLayer(2, 2),))
    pooled = Network((6, 1), (ConvLayer(2, 2), MaxPoolLayer(3, 1)))
    w = he_normal_weights(plain, 7)
    a = count_linear_regions(pooled, weights=w)
    b = count_linear_regions(pooled, weights=w, seed_samples=0)
    assert a.exact and b.exact and a.regions == b.regions
    assert count_linear_regions(pooled, weights=w, method="sample", samples=200_000).regions < a.regions


# -- solver failures: retried, then one line and exit 2 (never a traceback) ---------------

def _failing_run(fail_first: int):
    """A CellLP._run whose first ``fail_first`` solves end with status Unknown."""
    import highspy

    from ilpregions.backends.highs import CellLP

    original = CellLP._run
    calls = {"n": 0}

    def run(self):
        calls["n"] += 1
        if calls["n"] <= fail_first:
            return highspy.HighsModelStatus.kUnknown
        return original(self)
    return run


def test_cell_lp_retries_a_solve_that_ends_unknown(monkeypatch):
    from ilpregions.backends.highs import CellLP

    lp = CellLP(2)
    lp.push(np.array([[1.0, 0.0, 0.0]]))          # x1 > 0: the margin t* is 1 at (1, *, 1)
    expected, _ = lp.solve()
    monkeypatch.setattr(CellLP, "_run", _failing_run(1))
    t, point = lp.solve()
    assert lp.retried == 1 and t == pytest.approx(expected) and t > 0.5 and point[0] > 0


def test_cell_lp_gives_up_with_a_solver_error(monkeypatch):
    from ilpregions.core.errors import SolverError
    from ilpregions.backends.highs import RETRIES, CellLP

    lp = CellLP(2)
    monkeypatch.setattr(CellLP, "_run", _failing_run(1 + len(RETRIES)))
    with pytest.raises(SolverError, match="HiGHS could not solve a cell LP.*Unknown") as caught:
        lp.solve()
    assert isinstance(caught.value, InputError)


def test_cli_solver_failure_is_one_line_and_exit_2(monkeypatch, cli):
    from ilpregions.backends.highs import CellLP

    monkeypatch.setattr(CellLP, "_run", _failing_run(10 ** 9))
    code, out, err = cli("regions", MODELS / "paper_3x3.toml", "--method", "lp", "--seed", "3")
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "HiGHS" in err and "Traceback" not in err


@pytest.mark.slow
def test_two_conv_layers_where_highs_returned_unknown():
    # 8x8x1, two 3x3 conv layers of 4 filters, seed 0: HiGHS's warm-started simplex ended
    # "Unknown" within seconds and the command crashed; the retry re-solves those LPs.
    net = Network((8, 8, 1), (ConvLayer(4, 3), ConvLayer(4, 3)))
    result = count_linear_regions(net, seed=0, time_limit=15)
    assert result.details.get("lp_retries", 0) >= 1
    assert result.regions >= 1 and not result.exact


def test_avgpool_is_composed_into_the_next_layer():
    # conv(2, k2) → avgpool(2, stride 1) → conv(2, k2) is conv(2, k2) → conv(2, k3) with the second
    # filters' taps averaged pairwise: (w0/2, (w0 + w1)/2, w1/2). Both counts must agree.
    from ilpregions.core.forward import forward
    from ilpregions.core.spec import AvgPoolLayer
    pooled = Network((4, 1), (ConvLayer(2, 2), AvgPoolLayer(2, stride=1), ConvLayer(2, 2)))
    plain = Network((4, 1), (ConvLayer(2, 2), ConvLayer(2, 3)))
    w = he_normal_weights(pooled, 4)
    w2 = w.pop("layers.2.weight")                       # (2, 2, d_in=2)
    b2 = w.pop("layers.2.bias")
    merged = np.stack([w2[:, 0] / 2, (w2[:, 0] + w2[:, 1]) / 2, w2[:, 1] / 2], axis=1)
    w_pooled = dict(w, **{"layers.2.weight": w2, "layers.2.bias": b2})
    w_plain = dict(w, **{"layers.1.weight": merged, "layers.1.bias": b2})
    X = np.random.default_rng(0).normal(size=(7, 4))
    assert np.allclose(forward(pooled, w_pooled, X), forward(plain, w_plain, X))
    a = count_linear_regions(pooled, weights=w_pooled, time_limit=60)
    b = count_linear_regions(plain, weights=w_plain, time_limit=60)
    assert a.exact and b.exact and a.regions == b.regions > 1


def test_cli_refuses_a_rank_count_that_cannot_start(tmp_path, cli):
    # 24×24×1, 3×3 conv, 8 filters: one block of 3872 neurons; the search's first step alone would hold
    # ~32 GiB, so it is refused by arithmetic (exit 2, one line naming the size) instead of swapping.
    model = tmp_path / "big.toml"
    model.write_text('input = [24, 24, 1]\n[[layers]]\ntype = "conv"\nfilters = 8\nkernel = 3\n')
    code, out, err = cli("regions", model, "--seed", "0", "--time-limit", "5")
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and "3872 neurons" in err and "GiB" in err

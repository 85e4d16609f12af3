"""The subspace DP (tied-max --method dp) against enumeration, Theorem 1 and the reference values."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from ilpregions.backends.subspace.plan import supports
from ilpregions.core.errors import InputError, SpecError, TooLargeError
from ilpregions.core.geometry import layer_instance
from strategies import geometries
from ilpregions.core.spec import ConvLayer, DenseLayer, Network
from ilpregions.services.count._theorem1 import count_regions
from ilpregions.services.tied._runner import Draw as _Draw
from ilpregions.services.tied._tied_max import shifted_filter_vectors, tied_max


@st.composite
def conv_layers(draw, max_neurons: int = 14):
    """A random small conv/local layer: 1-3 axes, kernel ≤ 3, stride, padding, dilation, channels."""
    sizes, kernels, strides, pads, dils, d0 = draw(geometries(max_axes=3, max_extra=3, max_d0=2))
    d1 = draw(st.integers(1, 3))
    shared = draw(st.booleans()) or draw(st.booleans())   # 3 in 4 shared
    try:
        net = Network(tuple(sizes) + (d0,), (ConvLayer(d1, tuple(kernels), tuple(strides), tuple(pads),
                                                       tuple(dils), shared=shared),))
        inst = layer_instance(net)
    except SpecError:
        assume(False)
    assume(sum(1 for f in inst.fields if f) * d1 <= max_neurons)
    return net


def _dp_equals_enumeration(net: Network, seed: int) -> None:
    dp = tied_max(net, repeats=2, seed=seed, method="dp")
    en = tied_max(net, repeats=2, seed=seed, method="enumerate")
    # the same filters for the same seed: equal counts draw by draw, not only the maximum
    assert dp.details["draw_counts"] == en.details["draw_counts"]
    assert dp.regions <= dp.formula


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(net=conv_layers(), seed=st.integers(0, 2 ** 16))
def test_dp_equals_enumeration_on_random_geometries(net, seed):
    _dp_equals_enumeration(net, seed)


@pytest.mark.slow
@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(net=conv_layers(max_neurons=16), seed=st.integers(0, 2 ** 16))
def test_dp_equals_enumeration_on_many_random_geometries(net, seed):
    _dp_equals_enumeration(net, seed)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(net=conv_layers(max_neurons=24))
def test_dp_on_untied_layers_is_theorem1(net):
    # untied (locally connected) weights: the generic count is Theorem 1 (Zaslavsky + Hall)
    layer = net.layers[0]
    local = Network(net.input_shape, (ConvLayer(layer.filters, layer.kernel, layer.stride, layer.padding,
                                                layer.dilation, shared=False),))
    assert tied_max(local, repeats=1, seed=1, method="dp").regions == count_regions(local).regions


@pytest.mark.parametrize("shape, kernel, stride, d1", [
    ((6, 6, 1), 2, 2, 3), ((7, 1), 3, 3, 2), ((4, 4, 4, 1), 2, 2, 2), ((6, 6, 2), 3, 3, 4),
])
def test_dp_is_theorem1_on_disjoint_fields(shape, kernel, stride, d1):
    net = Network(shape, (ConvLayer(d1, kernel, stride=stride),))
    assert tied_max(net, repeats=1, method="dp").regions == count_regions(net).regions


@pytest.mark.parametrize("shape, kernel, extra", [
    ((5, 5, 1), 2, {}), ((4, 4, 1), 3, {"padding": 1}), ((5, 4, 2), 2, {"dilation": 2}), ((4, 3, 3, 1), 2, {}),
])
def test_dp_is_theorem1_with_one_filter(shape, kernel, extra):
    net = Network(shape, (ConvLayer(1, kernel, **extra),))
    assert tied_max(net, repeats=1, method="dp").regions == count_regions(net).regions


def test_dense_layer_dp_is_pascanu():
    net = Network((3, 2), (DenseLayer(4),))   # 6 inputs, 4 units: Σ_{i≤6} C(4, i) = 16
    assert tied_max(net, repeats=1, method="dp").regions == 16


@pytest.mark.parametrize("shape, kernel, d1, formula, tied", [
    ((3, 3, 1), 2, 2, 256, 255),
    ((3, 3, 1), 2, 3, 4013, 3998),
    ((4, 3, 1), 2, 2, 4096, 4061),
    ((4, 4, 1), 2, 2, 262121, 257108),
    ((5, 5, 1), 3, 2, 262144, 262143),
    ((4, 4, 2), 2, 2, 262144, 262144),
    ((3, 3, 1), 2, 4, 48957, 48903),
])
def test_dp_reproduces_the_published_weight_sharing_table(shape, kernel, d1, formula, tied):
    r = tied_max(Network(shape, (ConvLayer(d1, kernel),)), repeats=2)
    assert (r.method, r.formula, r.regions, r.gap) == ("dp", formula, tied, formula - tied)
    assert r.details["agreeing_draws"] == 2 and r.complete


@pytest.mark.slow
def test_dp_5x5_gap_ratio():
    r = tied_max(Network((5, 5, 1), (ConvLayer(2, 2),)), repeats=1)
    assert (r.regions, r.formula) == (4087405363, 4290437154)


def test_dp_reference_cases(tied_case):
    from helpers import case_network

    r = tied_max(case_network(tied_case, shared=True), method="dp", repeats=2)
    assert (r.regions, r.formula) == (int(tied_case["tied"]), int(tied_case["formula"]))


@pytest.mark.parametrize("net", [
    Network((4, 3, 2), (ConvLayer(2, (2, 3), stride=(1, 2), padding=(1, 1), dilation=(2, 1)),)),
    Network((5, 1), (ConvLayer(3, 3, padding=2),)),
    Network((3, 3, 2, 1), (ConvLayer(1, 2, dilation=(1, 2, 1)),)),
])
def test_supports_match_the_forward_pass(net):
    # the DP builds its vectors from plan.supports; the forward pass builds them independently
    sup = supports(net)
    draw = _Draw(sup, np.random.default_rng(0))
    layer = net.layers[0]
    filters = draw.shared.reshape((layer.filters,) + tuple(layer.kernel) + (net.input_shape[-1],))
    ours = draw.matrix(list(range(len(sup.elements))), int(np.prod(net.input_shape)))
    assert np.array_equal(ours, shifted_filter_vectors(net, filters))


def test_time_limit_gives_no_invented_value(cli, tmp_path):
    net = Network((5, 5, 1), (ConvLayer(2, 2),))
    r = tied_max(net, repeats=1, time_limit=1e-9)
    # stopped before the first neuron: only the empty set is proven independent
    assert (r.complete, r.regions, r.details["status"], r.details["draws"]) == (False, 1, "time_limit", 0)
    model = tmp_path / "m.toml"
    model.write_text('input = [5, 5, 1]\n[[layers]]\ntype = "conv"\nfilters = 2\nkernel = 2\n')
    code, out, err = cli("tied-max", model, "--time-limit", "1e-9", "--json", "--quiet")
    data = json.loads(out)
    assert code == 3 and data["complete"] is False and data["lower_bound"] == "1"


def test_memory_cap_refuses_before_allocating(cli, tmp_path):
    net = Network((5, 5, 1), (ConvLayer(2, 2),))
    with pytest.raises(TooLargeError, match="memory-cap: (step .* would need about|estimated, not measured)"):
        tied_max(net, repeats=1, memory_cap=2 ** 20)
    model = tmp_path / "m.toml"
    model.write_text('input = [5, 5, 1]\n[[layers]]\ntype = "conv"\nfilters = 2\nkernel = 2\n')
    code, out, err = cli("tied-max", model, "--memory-cap", "0.001", "--quiet")
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1 and "memory-cap" in err


def test_bad_options_name_the_field():
    net = Network((3, 3, 1), (ConvLayer(2, 2),))
    with pytest.raises(InputError, match="^method: "):
        tied_max(net, method="magic")
    with pytest.raises(InputError, match="^repeats: "):
        tied_max(net, repeats=0)


def test_json_has_the_honest_fields(cli):
    from helpers import MODELS

    code, out, err = cli("tied-max", MODELS / "paper_3x3.toml", "--json", "--repeats", "2")
    data = json.loads(out)
    assert code == 0
    assert (data["lower_bound"], data["upper_bound"], data["regions"], data["gap"]) == ("255", "256", "255", "1")
    assert (data["draws"], data["agreeing_draws"], data["method"]) == (2, 2, "dp")
    assert data["degree_bound"] == 8 and 0 < data["failure_probability"] < 1e-16
    assert data["peak_states"] >= 1 and data["peak_memory_bytes"] > 0 and data["seconds"] >= 0


def test_frames_beyond_the_key_are_refused_before_counting(monkeypatch):
    from ilpregions.services.tied import _tied_max as tied

    # 3 rows of 12 pixels x 3 channels active; 1,152 neurons over 432 elements need a scan
    net = Network((12, 12, 3), (ConvLayer(8, 3, padding=1),))
    monkeypatch.setattr(tied.Runner, "run", lambda *a: pytest.fail("counting started"))
    with pytest.raises(TooLargeError, match="active elements"):
        tied_max(net, repeats=1)


def test_a_full_rank_layer_needs_no_scan_and_no_formula_count(monkeypatch):
    # The same geometry with d1 = 2: 288 neurons over 432 elements have full rank, so every subset
    # is independent: 2^288 for the draw, and Theorem 1, between it and 2^288, equals it.
    from ilpregions.services.count import _theorem1 as counting

    monkeypatch.setattr(counting, "count_regions", lambda *a, **k: pytest.fail("formula counted"))
    got = tied_max(Network((12, 12, 3), (ConvLayer(2, 3, padding=1),)), repeats=1)
    assert got.regions == got.formula == 2 ** 288 and got.gap == 0 and got.complete
    assert got.details["max_active"] is None and got.details["peak_states"] == 1


def test_a_big_layer_is_refused_from_a_window_before_its_supports_are_built(monkeypatch):
    from ilpregions import backends
    from ilpregions.backends.dp import frontier

    net = Network((80, 80, 1), (ConvLayer(2, 3),))   # a 39x39 corner of its 6,084 positions keeps 85 pixels
    monkeypatch.setattr(frontier, "WINDOW_POSITIONS", 2000)
    monkeypatch.setattr(backends.load("subspace", backends.TIED), "supports",
                        lambda _: pytest.fail("supports built before the window check"))
    with pytest.raises(TooLargeError, match="at least 85 active elements at once"):
        tied_max(net, repeats=1)
    # The whole layer's frames say the same, later: the window's bound is below the truth.
    monkeypatch.undo()
    with pytest.raises(TooLargeError, match="the dp scan needs (8[5-9]|9[0-9]|1[0-9][0-9]) active elements"):
        tied_max(net, repeats=1)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(net=conv_layers(max_neurons=20), seed=st.integers(0, 2 ** 16))
def test_counting_the_tail_per_state_equals_expanding_it(net, seed):
    _shortcuts_equal_expanding(net, seed)


@pytest.mark.slow
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(net=conv_layers(max_neurons=26), seed=st.integers(0, 2 ** 16))
def test_counting_the_tail_per_state_equals_expanding_it_on_many_geometries(net, seed):
    _shortcuts_equal_expanding(net, seed)


def _shortcuts_equal_expanding(net, seed):
    # the closed forms and the per-state search over the last neurons give the expanding DP's count exactly
    from ilpregions.backends.subspace.engine import count_block
    from ilpregions.backends.subspace.plan import best_plan
    from ilpregions.core.set_system import components

    sup = supports(net)
    draw = _Draw(sup, np.random.default_rng(seed))
    for block in components(layer_instance(net)):
        plan = best_plan(sup, block)
        full = count_block(sup, plan, draw.filters, tail=False)
        assert count_block(sup, plan, draw.filters).count == full.count


def test_a_clearly_too_big_layer_is_refused_early_by_a_labelled_estimate(cli, tmp_path):
    # 40x6 with 2x2 filters: rows of 5 positions, 39 rows; the states grow ~2.7-fold per step
    net = Network((40, 6, 1), (ConvLayer(2, 2),))
    with pytest.raises(TooLargeError, match=r"^memory-cap: estimated, not measured: .* at step \d+ of 195") as exc:
        tied_max(net, repeats=1, memory_cap=2 ** 26)
    step = int(exc.value.args[0].split(" at step ")[1].split()[0])
    assert step <= 2 * 5 + 1, step     # within the second row
    model = tmp_path / "m.toml"
    model.write_text('input = [40, 6, 1]\n[[layers]]\ntype = "conv"\nfilters = 2\nkernel = 2\n')
    code, out, err = cli("tied-max", model, "--memory-cap", "0.0625", "--quiet")
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1
    assert "memory-cap" in err and "estimated" in err


def test_the_projection_does_not_refuse_a_layer_that_fits():
    r = tied_max(Network((5, 5, 1), (ConvLayer(2, 2),)), repeats=1, memory_cap=2 ** 26)
    assert r.complete and r.regions == 4087405363


def test_the_time_limit_is_checked_inside_long_steps():
    # a layer far beyond a 1-second budget (no cap in the way): stops close to the limit, not a step later
    net = Network((6, 6, 1), (ConvLayer(2, 2),))
    r = tied_max(net, repeats=1, time_limit=1.0, memory_cap=2 ** 40)
    assert not r.complete and r.details["status"] == "time_limit" and r.regions >= 1
    assert r.seconds < 1.0 + 3.0     # slices of states, not whole steps (generous: the machine is shared)


def test_absurd_repeats_are_refused_by_arithmetic(cli):
    from helpers import MODELS

    with pytest.raises(TooLargeError, match="^repeats: 1000000000 draws asked, at most"):
        tied_max(Network((3, 3, 1), (ConvLayer(2, 2),)), repeats=10 ** 9)
    code, out, err = cli("tied-max", MODELS / "paper_3x3.toml", "--repeats", "1000000000", "--quiet")
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1 and "repeats" in err


def test_internal_stops_are_library_errors():
    from ilpregions.backends.subspace.engine import Stopped
    from ilpregions.core.errors import ILPRegionsError, InputError
    from ilpregions.services.tied._runner import DrawStopped as _Stopped
    from ilpregions.theory.gfp import CentralDependency

    for exc in (Stopped, _Stopped, CentralDependency):
        assert issubclass(exc, ILPRegionsError) and not issubclass(exc, InputError)


def test_compiled_plan_algebra_matches_the_reference():
    from ilpregions.backends.subspace import linalg
    from ilpregions.theory.gfp import PRIME, rref

    rng = np.random.default_rng(3)
    for shape in [(5, 7), (8, 4), (6, 6)]:
        A = rng.integers(0, 4, size=shape) * rng.integers(1, PRIME, size=shape)
        R, piv = linalg.rref(A % PRIME)
        R0, piv0 = rref(A, PRIME)
        assert list(piv) == list(piv0) and np.array_equal(R[:len(piv)] % PRIME, np.asarray(R0)[:len(piv0)] % PRIME)


def test_the_whole_block_search_counts_independent_subsets():
    # The compiled search against the plain-Python count over GF(p), dependent rows included.
    from ilpregions.backends.subspace.tail import independent_subsets
    from ilpregions.theory.gfp import count_independent_mod_p

    rng = np.random.default_rng(1)
    for _ in range(300):
        f, u = int(rng.integers(0, 9)), int(rng.integers(1, 7))
        U = rng.integers(0, 4, size=(f, u)).astype(np.int64)
        if f > 2 and rng.random() < 0.4:
            U[-1] = (U[0] * 2 + U[1]) % (2 ** 31 - 1)
        expected = count_independent_mod_p(U, 2 ** 31 - 1)
        assert independent_subsets(U) == (expected[0] if isinstance(expected, tuple) else expected)


def test_small_layers_are_counted_without_a_scan_plan(monkeypatch):
    from ilpregions import backends

    monkeypatch.setattr(backends.load("subspace", backends.TIED), "best_order", lambda *a: pytest.fail("planned a scan"))
    for shape, kernel, d1, tied in ((4, 3, 1), 2, 2, 4061), ((3, 3, 1), 2, 3, 3998), ((5, 5, 1), 3, 2, 262143):
        got = tied_max(Network(shape, (ConvLayer(d1, kernel),)), repeats=2)
        assert got.regions == tied and got.details["max_active"] is None


def test_a_block_too_long_for_its_whole_matrix_counts_the_same(monkeypatch):
    # The matrix of what the future sees is built only while small; a long block builds it step by
    # step (the future's size known by arithmetic). Cutting less or not at all never changes a count.
    from ilpregions.backends.subspace import engine, future

    net = Network((9, 1), (ConvLayer(2, 3),))
    expected = tied_max(net, repeats=1, seed=4).regions
    monkeypatch.setattr(engine, "MAX_FUTURE_ENTRIES", 40)
    monkeypatch.setattr(future, "MAX_FUTURE_ENTRIES", 40)
    built, real = [], future.block_matrix

    def recording(*args, **kwargs):
        out = real(*args, **kwargs)
        built.append(None if out is None else out[0].size)
        return out

    monkeypatch.setattr(future, "block_matrix", recording)
    monkeypatch.setattr(engine, "block_matrix", recording)
    assert tied_max(net, repeats=1, seed=4).regions == expected
    assert None in built and all(size <= 40 for size in built if size is not None)


def test_the_closed_forms_up_to_corank_two_count_independent_subsets():
    # Rows of corank 0, 1 and 2 (dependent rows, parallel dual classes, loops) against the plain count.
    from ilpregions.backends.subspace.engine import _corank_closed_form
    from ilpregions.theory.gfp import count_independent_mod_p

    rng = np.random.default_rng(7)
    seen = set()
    for _ in range(400):
        rank, extra = int(rng.integers(1, 7)), int(rng.integers(0, 3))
        B = rng.integers(1, 2 ** 31 - 1, size=(rank, rank + int(rng.integers(0, 3)))).astype(np.int64)
        mix = rng.integers(0, 3, size=(extra, rank)) * (rng.random((extra, rank)) < 0.5)
        G = np.vstack([B, (mix @ B) % (2 ** 31 - 1)]) if extra else B
        G = G[rng.permutation(len(G))]
        got = _corank_closed_form(G)
        expected = count_independent_mod_p(G, 2 ** 31 - 1)
        expected = expected[0] if isinstance(expected, tuple) else expected
        if got is not None:
            seen.add(len(G) - rank)
            assert got == expected, G
    assert seen == {0, 1, 2}

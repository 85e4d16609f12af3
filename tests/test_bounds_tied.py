"""Proven bounds with shared filters, pooling and dense heads, against computed maxima and counts."""

from __future__ import annotations

from math import comb

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ilpregions.core.errors import SpecError
from ilpregions.core.geometry import layer_instance
from ilpregions.core.spec import AvgPoolLayer, ConvLayer, DenseLayer, MaxPoolLayer, Network
from ilpregions.core.spec_toml import loads
from ilpregions.services.bounds import compute_bounds
from ilpregions.services.bounds._common import NETWORK, THEOREM2_LOWER
from ilpregions.services.bounds._exact import Exact
from ilpregions.services.bounds._named import theorem2_lower
from ilpregions.services.regions import count_linear_regions
from ilpregions.services.tied._tied_max import tied_max
from ilpregions.theory import tied_bounds as T

FAST = settings(max_examples=12, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


def proven_lowers(report):
    return [b for b in report.bounds if b.applicable and b.kind in ("lower", "exact")
            and b.proven_for == NETWORK]


def real_max_two_ways(net):
    """The real (shared-filter) maximum by tied_max's DP and by enumeration where both exist."""
    values = []
    for method in ("dp", "enumerate"):
        try:
            values.append(tied_max(net, method=method, time_limit=20).regions)
        except TypeError:   # an engine without the method switch: its one method
            values.append(tied_max(net, time_limit=20).regions)
        except (ValueError, NotImplementedError):
            continue
    return values


def test_theorem2_with_shared_filters_uses_the_real_maximum_of_n_prime():
    # 4×4×1, conv 2×2 d = 3, conv 2×2 d = 4: N' = 3×3×1 → 2×2, d = 4, whose real maximum is 48,903
    # (Theorem 1 would say 48,957): 48,903 · ⌊3/1⌋^9 = 962,557,749 (the formula alone: 963,620,631).
    net = Network((4, 4, 1), (ConvLayer(3, 2), ConvLayer(4, 2)))
    bound = theorem2_lower(net, Exact(None, 10), time_limit=20)
    assert bound.name == THEOREM2_LOWER and bound.applicable
    assert bound.value == 962_557_749 == 48_903 * 3 ** 9
    assert "tied" in bound.reason


def test_fresh_box_by_hand():
    inst = layer_instance(Network((3, 3, 1), (ConvLayer(2, 2),)))
    # Raster: (0,0) sees 4 new pixels, (0,1) and (1,0) two each, (1,1) one.
    assert T.fresh_counts(inst, [0, 1, 2, 3]) == (4, 2, 2, 1)
    assert T.box_product(2, [4, 2, 2, 1]) == 4 * 4 * 4 * 3
    # Reverse order: the same shape mirrored.
    assert sorted(T.fresh_counts(inst, [3, 2, 1, 0])) == [1, 2, 2, 4]
    # With every pixel already used, nothing is fresh.
    assert T.fresh_counts(inst, [0, 1, 2, 3], covered=range(9)) == (0, 0, 0, 0)
    # Padding 1, 3×3 filters on 32×32×3, d1 = 16 (raster): row 0 gives 12, 6, ..., interior 3.
    big = layer_instance(loads('input = [32, 32, 3]\n[[layers]]\ntype = "conv"\nfilters = 16\nkernel = 3\n'
                               'padding = 1\n'))
    fresh = T.fresh_counts(big, range(big.positions))
    assert fresh[0] == 12 and fresh[1] == 6 and fresh[33] == 3 and fresh[-1] == 0 and sum(fresh) == 3072


def test_sublattice_and_pool_factor_by_hand():
    inst = layer_instance(Network((4, 4, 1), (ConvLayer(2, 2),)))
    # Positions (0,0), (0,2), (2,0), (2,2) have disjoint 2×2 fields: (Σ_{t≤2} C(2,t))^4.
    assert T.sublattice(inst) == 4 ** 4
    # One window of 2 entries in dimension 1: 2 pieces; two windows: min(2², Σ_{i≤1} C(2,i) = 3).
    assert T.pool_factor(1, 2, 1) == 2 and T.pool_factor(2, 2, 1) == 3 and T.pool_factor(2, 2, 4) == 4


def test_avgpool_spec_and_bounds_by_hand():
    net = loads('input = [4, 4, 1]\n[[layers]]\ntype = "conv"\nfilters = 2\nkernel = 2\n'
                '[[layers]]\ntype = "avgpool"\nkernel = 3\nstride = 1\n[[layers]]\ntype = "dense"\nunits = 2\n')
    assert isinstance(net.layers[1], AvgPoolLayer) and net.output_shapes()[1] == (1, 1, 2)
    report = compute_bounds(net, time_limit=1, lp=False)
    # Theorem 1 for the first layer: 262,121; the average pool leaves 2 dimensions, the dense
    # layer cuts each region into at most Σ_{i≤2} C(2, i) = 4 pieces.
    assert report.bound("ilpregions.cnn.upper").value == 262_121 * 4
    assert report.bound("montufar2017.upper").applicable
    assert report.lower is not None and report.lower <= report.upper
    with pytest.raises(SpecError, match="layers\\[0\\]"):
        loads('input = [4]\n[[layers]]\ntype = "avgpool"\nkernel = 2\n')


@st.composite
def tied_layers(draw):
    axes = draw(st.integers(1, 2))
    kernel = tuple(draw(st.integers(1, 2 if axes == 2 else 3)) for _ in range(axes))
    padding = tuple(draw(st.integers(0, k - 1)) for k in kernel)
    stride = tuple(draw(st.integers(1, 2)) for _ in range(axes)) if axes == 1 else (1, 1)
    dilation = tuple(draw(st.integers(1, 2)) for _ in range(axes)) if axes == 1 else (1, 1)
    sizes = tuple(draw(st.integers(2, 5 if axes == 1 else 3)) for _ in range(axes))
    filters = draw(st.integers(1, 2 if axes == 2 else 3))
    try:
        net = Network(sizes + (1,), (ConvLayer(filters, kernel, stride, padding, dilation),))
    except SpecError:
        net = Network(sizes + (1,), (ConvLayer(filters, 1),))
    return net


@FAST
@given(tied_layers(), st.integers(0, 3))
def test_one_layer_lower_le_real_max_le_upper(net, seed):
    report = compute_bounds(net, time_limit=5, lp=False)
    maxima = real_max_two_ways(net)
    assert maxima and len(set(maxima)) == 1, maxima
    real = maxima[0]
    concrete = count_linear_regions(net, seed=seed, time_limit=20)
    assert concrete.exact and concrete.regions <= real <= report.upper
    for b in proven_lowers(report):
        assert b.value <= real, (b, real)


@st.composite
def stacks(draw):
    axes = draw(st.integers(1, 2))
    shape = tuple(draw(st.integers(2, 4 if axes == 1 else 3)) for _ in range(axes)) + (1,)
    layers = [ConvLayer(draw(st.integers(1, 2)), 2, padding=draw(st.integers(0, 1)),
                        shared=draw(st.booleans()))]
    for _ in range(draw(st.integers(1, 2))):
        kind = draw(st.sampled_from(["conv", "maxpool", "avgpool", "dense"]))
        if kind == "maxpool" and isinstance(layers[-1], AvgPoolLayer):
            kind = "conv"   # the region counter refuses max-pooling right after average pooling
        if kind == "dense":
            layers.append(DenseLayer(draw(st.integers(1, 3))))
            break
        layers.append({"conv": lambda: ConvLayer(draw(st.integers(1, 2)), 2),
                       "maxpool": lambda: MaxPoolLayer(2, stride=1),
                       "avgpool": lambda: AvgPoolLayer(2, stride=1)}[kind]())
    try:
        return Network(shape, tuple(layers))
    except SpecError:
        return Network(shape, tuple(layers[:1]) + (DenseLayer(2),))


@pytest.mark.slow
@FAST
@given(stacks(), st.integers(0, 5))
def test_concrete_region_counts_never_exceed_the_upper_bound(net, seed):
    report = compute_bounds(net, time_limit=1, lp=False)
    concrete = count_linear_regions(net, seed=seed, time_limit=30)
    assert concrete.regions <= report.upper, (net, concrete.regions, report.upper_name)
    assert report.lower is None or report.lower <= report.upper


@pytest.mark.parametrize("net", [
    Network((4, 1), (ConvLayer(2, 2), ConvLayer(2, 2))),
    Network((3, 3, 1), (ConvLayer(1, 2), MaxPoolLayer(2, stride=1), DenseLayer(2))),
    Network((3, 1), (ConvLayer(2, 2, padding=1), MaxPoolLayer(2), DenseLayer(2))),
    Network((3, 3, 1), (ConvLayer(2, 2, shared=False), DenseLayer(2))),
    Network((4, 1), (ConvLayer(2, 2), AvgPoolLayer(2, stride=1), ConvLayer(2, 2))),
    Network((3, 3, 1), (ConvLayer(1, 2), AvgPoolLayer(2, stride=1), DenseLayer(2))),
], ids=["conv-conv", "2d-maxpool-dense", "padded-maxpool-dense", "local-dense", "avgpool-conv", "2d-avgpool-dense"])
def test_concrete_region_counts_on_fixed_stacks(net):
    report = compute_bounds(net, time_limit=1, lp=False)
    for seed in range(2):
        concrete = count_linear_regions(net, seed=seed, time_limit=30)
        assert concrete.regions <= report.upper, (concrete.regions, report.upper_name)


def test_many_region_weights_stay_below_the_upper_bound():
    # Weights chosen for many regions: layer 1 all-positive filters with spread biases, a wide head.
    import numpy as np
    net = Network((4, 1), (ConvLayer(2, 2), MaxPoolLayer(2, stride=1), DenseLayer(3)))
    report = compute_bounds(net, time_limit=1, lp=False)
    rng = np.random.default_rng(7)
    best = 0
    for _ in range(2):
        weights = {"layers.0.weight": rng.uniform(0.5, 1.5, size=(2, 2, 1)), "layers.0.bias": rng.normal(size=2),
                   "layers.2.weight": rng.normal(size=(3, 4)), "layers.2.bias": rng.normal(size=3)}
        best = max(best, count_linear_regions(net, weights=weights, time_limit=30).regions)
    assert 0 < best <= report.upper


@pytest.mark.slow
def test_shipped_cifar_models_have_proven_bounds():
    from helpers import MODELS
    from ilpregions.core.spec_toml import load
    for name in ("cifar_conv", "cifar_small"):
        report = compute_bounds(load(MODELS / f"{name}.toml"), time_limit=1)
        assert report.lower is not None and report.upper is not None and report.lower < report.upper
        assert report.bound(report.lower_name).proven_for == NETWORK
    # Binomial sanity of the cifar_conv box: interior positions contribute Σ_{t≤3} C(16, t) = 697.
    assert sum(comb(16, t) for t in range(4)) == 697


def test_untied_lower_bounds_never_become_the_headline():
    from helpers import MODELS
    from ilpregions.core.spec_toml import load
    report = compute_bounds(load(MODELS / "paper_4x4.toml"), time_limit=1)
    box = report.bound("best box in K_N")
    assert box.applicable and box.proven_for == "locally-connected"
    assert report.lower_name != "best box in K_N" and report.bound(report.lower_name).proven_for == NETWORK
    data = report.to_json()
    assert data["lower"] == str(report.lower)
    assert all(b["proven_for"] in ("network", "locally-connected") for b in data["bounds"])


def test_wide_fields_still_get_the_real_maximum_when_no_scan_is_needed(monkeypatch):
    # 7x7x3 fields (147 elements) are wider than a scan can hold, but two overlapping positions
    # with d1 = 2 have 4 independent neurons: tied_max counts 2^4 in closed form, without a scan.
    from ilpregions.services.bounds import _one_layer as one_layer
    from ilpregions.services.bounds._common import TIED_MAX

    report = compute_bounds(Network((8, 7, 3), (ConvLayer(2, 7),)), time_limit=5)
    assert report.bound(TIED_MAX).value == 16
    # A big layer is skipped by arithmetic before any plan (here: made "big" by a lower threshold).
    wide = Network((12, 12, 3), (ConvLayer(2, 7),))
    assert one_layer._too_wide(wide) is None
    monkeypatch.setattr(one_layer, "SCAN_CHECKED_BY_TIED", 10)
    assert "tied_max skipped: one position reads 147 input elements" in one_layer._too_wide(wide)

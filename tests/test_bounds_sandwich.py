"""Every bound against exact values on 220 small layers, and the locality bounds' own properties.

The layers (tied and locally connected; 1-D and 2-D; padding, stride,
dilation, one or two channels) are small enough that the exact values are
known: Theorem 1's count by the dp backend (the maximum of the locally
connected layer) and, for shared filters, the real maximum by ``tied_max``
(a proven lower bound that is the maximum with high probability).
"""

from __future__ import annotations

import random
from fractions import Fraction

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from strategies import geometries
from ilpregions.core.errors import SpecError
from ilpregions.core.geometry import Theorem1Instance, layer_instance
from ilpregions.core.spec import ConvLayer, DenseLayer, MaxPoolLayer, Network
from ilpregions.services.bounds import compute_bounds
from ilpregions.services.bounds._budget import Budget
from ilpregions.services.bounds._common import LOCAL, NETWORK
from ilpregions.services.bounds._locality import shrunk_lower, strip_cap_upper, strip_polynomials
from ilpregions.services.count import count_regions
from ilpregions.services.tied import tied_max
from ilpregions.theory import fc_bounds
from ilpregions.theory import locality as L
from ilpregions.theory.fc_bounds import binomial_sum
from ilpregions.theory.tied_bounds import joint_pool_factor

CASES = 220


def _layers(count: int = CASES, seed: int = 20) -> list[Network]:
    """``count`` small one-layer networks, half with shared filters, from a fixed seed."""
    rng, out = random.Random(seed), []
    while len(out) < count:
        axes = rng.choice((1, 2, 2))
        kernel = tuple(rng.randint(1, 3) for _ in range(axes))
        dilation = tuple(rng.randint(1, 2) for _ in range(axes))
        stride = tuple(rng.randint(1, 2) for _ in range(axes))
        padding = tuple(rng.randint(0, k - 1) for k in kernel)
        extra = 4 if axes == 1 else 2
        sizes = tuple(rng.randint(max(1, d * (k - 1) + 1 - 2 * p), d * (k - 1) + 1 + extra)
                      for k, d, p in zip(kernel, dilation, padding))
        try:
            net = Network(sizes + (rng.randint(1, 2),), (ConvLayer(rng.randint(1, 3), kernel, stride, padding,
                                                                    dilation, shared=len(out) % 2 == 0),))
            inst = layer_instance(net)
        except SpecError:
            continue
        if inst.positions <= 12 and inst.union_size <= 18:
            out.append(net)
    return out


LAYERS = _layers()


def test_the_cases_cover_every_feature():
    layers = [net.layers[0] for net in LAYERS]
    assert len(LAYERS) == CASES and sum(layer.shared for layer in layers) == CASES // 2
    assert any(max(l.padding) > 0 for l in layers) and any(max(l.stride) > 1 for l in layers)
    assert any(max(l.dilation) > 1 for l in layers) and any(net.input_shape[-1] > 1 for net in LAYERS)
    assert any(len(net.input_shape) == 3 for net in LAYERS) and any(len(net.input_shape) == 2 for net in LAYERS)


def _exact(net: Network) -> tuple[int, int]:
    """(Theorem 1's count, the network's real maximum)."""
    local = count_regions(layer_instance(net), backend="dp").regions
    if not net.layers[0].shared:
        return local, local
    return local, tied_max(net, repeats=2, seed=0, time_limit=20).regions


@pytest.mark.parametrize("index", range(0, CASES, 20))
def test_every_bound_sandwiches_the_exact_values(index):
    for net in LAYERS[index:index + 20]:
        theorem1, real = _exact(net)
        assert real <= theorem1
        report = compute_bounds(net, time_limit=2.0)
        for b in report.bounds:
            if not b.applicable:
                continue
            if b.kind in ("lower", "exact"):
                assert b.value <= (real if b.proven_for == NETWORK else theorem1), (net, b)
            if b.kind in ("upper", "exact"):
                assert b.value >= theorem1 if b.proven_for == LOCAL else b.value >= real, (net, b)
        assert report.lower <= real <= report.upper, net
        low, up, _, _ = report.theorem1
        assert low <= theorem1 <= up, net


@pytest.mark.parametrize("index", range(0, CASES, 44))
def test_the_locality_bounds_sandwich_theorem1(index):
    for net in LAYERS[index:index + 44]:
        inst = layer_instance(net)
        theorem1 = count_regions(inst, backend="dp").regions
        low = shrunk_lower(net, inst, Budget(5.0))
        assert low.applicable and low.value <= theorem1, net
        assert low.proven_for == (NETWORK if not net.layers[0].shared else LOCAL)
        up = strip_cap_upper(inst, Budget(5.0))
        if len(inst.output_spatial) == 2:
            assert up.applicable and up.value >= theorem1, net
            assert up.value <= binomial_sum(inst.positions * inst.filters, inst.union_size)


FAST = settings(max_examples=25, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


@st.composite
def networks(draw, max_positions: int = 16, max_union: int = 24):
    """A random locally connected one-layer network and its instance (strategies.geometries)."""
    sizes, kernels, strides, pads, dils, d0 = draw(geometries(2, 3, 2))
    try:
        net = Network(tuple(sizes) + (d0,), (ConvLayer(draw(st.integers(1, 3)), tuple(kernels), tuple(strides),
                                                       tuple(pads), tuple(dils), shared=False),))
        inst = layer_instance(net)
    except SpecError:
        assume(False)
    assume(inst.positions <= max_positions and inst.union_size <= max_union)
    return net, inst


@FAST
@given(networks(), st.integers(1, 3), st.integers(-1, 1))
def test_shrunk_strips_are_disjoint_subfields(case, height, offset):
    net, inst = case
    for axis in range(len(inst.output_spatial)):
        shrunk = L.shrink_to_strips(inst, net.layers[0], axis, height, offset)
        assert all(set(a) <= set(b) for a, b in zip(shrunk.fields, inst.fields))
        owner: dict[int, int] = {}
        for p, field in enumerate(shrunk.fields):
            strip = inst.position_coords(p)[axis] // height
            for x in field:
                assert owner.setdefault(x, strip) == strip    # a pixel belongs to one strip
        assert count_regions(shrunk, backend="dp").regions <= count_regions(inst, backend="dp").regions


@FAST
@given(networks(12, 18))
def test_strip_polynomials_recount_the_strips(case):
    _, inst = case
    if len(inst.output_spatial) < 2:
        return
    width = inst.positions // inst.output_spatial[0]
    strip = Theorem1Instance(inst.input_spatial, inst.channels, inst.filters, (1,) + inst.output_spatial[1:],
                             inst.fields[:width], "local")
    polys = strip_polynomials(strip, 10.0)
    total = 1
    for coefficients in polys:
        total *= sum(coefficients)
    assert total == count_regions(strip, backend="dp").regions   # F(1) is the strip's Theorem-1 count


def test_capped_product_by_hand_and_both_ways():
    assert L.capped_product([([1, 3, 3, 1], 2)], 2) == 1 + 6 + 15
    assert L._capped_python([([1, 3, 3, 1], 2)], 2) == 22
    assert L.capped_product([([2, 1], 3), ([1, 0, 5], 1)], 10) == 3 ** 3 * 6


@pytest.mark.parametrize("units", range(1, 13))
def test_the_sawtooth_maps_every_tooth_onto_the_interval(units):
    points, directions, coefficients, constant = fc_bounds.sawtooth(units)

    def g(z):
        return constant + sum(c * max(d * (z - b), 0) for b, d, c in zip(points, directions, coefficients))

    def active(z):
        return tuple(d * (z - b) > 0 for b, d in zip(points, directions))

    edges = [Fraction(0)] + [b for b in points if 0 < b < 1] + [Fraction(1)]
    assert len(edges) - 1 == fc_bounds.teeth(units)
    values = sorted((g(a), g(b)) for a, b in zip(edges, edges[1:]))
    assert all(sorted(v) == [0, 1] for v in values)       # each piece onto (0, 1) (g is affine on it)
    middles = [active((a + b) / 2) for a, b in zip(edges, edges[1:])]
    assert len(set(middles)) == len(middles)               # distinct activation patterns


def test_the_sawtooth_network_has_the_bound_on_a_grid():
    # n0 = 1: three units make four teeth; a second layer of two units with breakpoints at 1/3 and
    # 2/3 of the folded value cuts each tooth in three: 4 · 3 = 12 activation patterns, the bound.
    points, directions, coefficients, constant = fc_bounds.sawtooth(3)
    n = 24_000
    patterns = set()
    for i in range(n):
        z = Fraction(2 * i + 1, 2 * n)
        first = tuple(d * (z - b) > 0 for b, d in zip(points, directions))
        g = constant + sum(c * max(d * (z - b), 0) for b, d, c in zip(points, directions, coefficients))
        patterns.add(first + (g > Fraction(1, 3), g > Fraction(2, 3)))
    assert len(patterns) == 12 == fc_bounds.serra2018_lower(1, [3, 2])


def test_joint_pool_factor_counts_sign_and_choice_patterns():
    from itertools import product as iproduct

    for size in range(1, 6):
        # (which entries are on, which on entry is the largest; None when all are off)
        patterns = {(signs, choice) for signs in iproduct((0, 1), repeat=size)
                    for choice in ([i for i in range(size) if signs[i]] or [None])}
        assert joint_pool_factor(size, 1, size) == len(patterns)
        assert joint_pool_factor(size + 2, 1, size) == 4 * len(patterns)   # two entries in no window
    with pytest.raises(ValueError):
        joint_pool_factor(3, 1, 4)


def test_pooled_stacks_stay_below_the_joint_bound():
    from ilpregions.services.regions import count_linear_regions

    # One 2×2 filter on 3×3: four neurons in one pooling window, then one dense unit. Counted
    # separately: 2^4 sign patterns × 4 choices × 2; together: (1 + 4·2^3) · 2 = 66, and random
    # networks reach the 33 sign-and-choice patterns.
    net = Network((3, 3, 1), (ConvLayer(1, 2), MaxPoolLayer(2), DenseLayer(1)))
    report = compute_bounds(net, time_limit=1, lp=False)
    assert report.upper == 66
    assert max(count_linear_regions(net, seed=seed, time_limit=30).regions for seed in range(2)) >= 33
    wide = Network((4, 1), (ConvLayer(2, 2, padding=1), MaxPoolLayer(2), DenseLayer(2)))
    upper = compute_bounds(wide, time_limit=1, lp=False).upper
    assert all(count_linear_regions(wide, seed=seed, time_limit=30).regions <= upper for seed in range(2))


"""The block-triangular lower bound (ilpregions.tied.blocks) against computed real maxima."""

from __future__ import annotations

from math import comb

import pytest
from hypothesis import HealthCheck, assume, given, settings

from strategies import geometries

from ilpregions.core.errors import InputError, SpecError
from ilpregions.core.geometry import layer_instance
from ilpregions.core.spec import ConvLayer, DenseLayer, Network
from ilpregions.services.bounds._blocks import _blocks, block_lower
from ilpregions.backends.subspace.plan import supports
from ilpregions.services.count._theorem1 import count_regions
from ilpregions.services.tied._tied_max import tied_max
from ilpregions.theory import tied_bounds as T

FAST = settings(max_examples=10, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


def test_hand_checked_tiny_case():
    # 3×3×1, 2×2 filters, d1 = 2; blocks = output rows (two positions each).
    # Row 0 reads input rows 0-1 (6 pixels, all fresh): its 4 neurons are independent -> 2^4 = 16.
    # Row 1 only has input row 2 fresh: a 1-D kernel-2 layer on 3 pixels, 4 vectors in R^3:
    # every set but the full one is independent -> 15. Bound 16·15 = 240 ≤ 255 (the real maximum).
    net = Network((3, 3, 1), (ConvLayer(2, 2),))
    found = block_lower(net, seconds=20)
    assert found.value == 16 * 15 == 240 and found.block == 2 and found.fallbacks == 0
    assert tied_max(net).regions == 255
    assert T.fresh_box(layer_instance(net))[0] == 192 < found.value


@pytest.mark.parametrize("net", [
    Network((6, 1), (ConvLayer(2, 2, stride=2),)),
    Network((4, 4, 2), (ConvLayer(3, 2, stride=2),)),
    Network((6, 5, 1), (ConvLayer(2, (2, 1), stride=(2, 1)),)),
])
def test_disjoint_fields_give_theorem1(net):
    # Every field is fresh in full; blocks are products of single positions: Theorem 1 exactly.
    assert block_lower(net, seconds=20).value == count_regions(net).regions


def test_blocks_follow_raster_lines():
    sup = supports(Network((3, 5, 1), (ConvLayer(1, 2),)))   # output 2×4
    assert _blocks(sup, (0, 1), False, 3) == [[0, 1, 2], [3], [4, 5, 6], [7]]
    assert _blocks(sup, (1, 0), True, 2) == [[7, 3], [6, 2], [5, 1], [4, 0]]


def test_refuses_what_it_cannot_bound():
    with pytest.raises(InputError, match="layers"):
        block_lower(Network((4, 1), (DenseLayer(2),)))
    with pytest.raises(InputError, match="layers"):
        block_lower(Network((4, 1), (ConvLayer(2, 2, shared=False),)))


@FAST
@given(geometries(max_axes=2, max_extra=2, max_d0=2))
def test_blocks_never_exceed_the_real_maximum(geometry):
    sizes, kernels, strides, pads, dils, d0 = geometry
    try:
        net = Network(tuple(sizes) + (d0,), (ConvLayer(2, tuple(kernels), tuple(strides), tuple(pads),
                                                         tuple(dils)),))
        inst = layer_instance(net)
    except SpecError:
        assume(False)
    assume(inst.positions <= 6 and min(inst.positions * 2, inst.union_size * d0) <= 12)
    found = block_lower(net, seconds=10)
    assert found.value >= 1
    dp = tied_max(net, method="dp", time_limit=20)
    enum = tied_max(net, method="enumerate", time_limit=20)
    assert dp.complete and enum.complete and dp.regions == enum.regions
    assert found.value <= dp.regions <= count_regions(net).regions
    # a one-position line is a fresh-box block: the closed form Σ_{t≤min(d1,f)} C(d1, t) per position
    assert found.value >= min(1, comb(2, 0))


@pytest.mark.parametrize("net", [
    Network((3, 2, 2), (ConvLayer(2, 2, padding=(1, 0)),)),
    Network((3, 3, 1), (ConvLayer(2, (2, 3), padding=(0, 1)),)),
    Network((5, 3, 1), (ConvLayer(2, (3, 2), stride=(2, 1), padding=(1, 0)),)),
])
def test_blocks_beat_the_box_and_stay_below_the_real_maximum(net):
    # channels, padding, stride: the block bound is strictly above the fresh box here, and below the
    # real maximum computed by the DP and by enumeration.
    found = block_lower(net, seconds=20)
    runs = [tied_max(net, method=m, time_limit=30) for m in ("dp", "enumerate")]
    real = {r.regions for r in runs}
    assert all(r.complete for r in runs) and len(real) == 1
    assert T.fresh_box(layer_instance(net))[0] < found.value <= real.pop()


def test_block_boxes_build_binomial_rows_only_as_far_as_fresh_elements(monkeypatch):
    # The fresh box inside a block needs Σ_{t≤f} C(d1, t) for f fresh elements only; a full row to d1
    # (what a shallow counterpart with 329,486 filters asked for) took over 20 GB. The guard raises
    # instead of allocating, so a regression fails here without hurting the machine.
    from ilpregions.services.bounds import _blocks

    real, asked = _blocks.binomial_prefix_sums, []

    def guarded(n, upto):
        asked.append(upto)
        if upto > 64:
            raise AssertionError(f"a binomial row of {n} up to {upto}")
        return real(n, upto)

    monkeypatch.setattr(_blocks, "binomial_prefix_sums", guarded)
    found = block_lower(Network((6, 1), (ConvLayer(2000, 2),)), seconds=5)
    assert found is not None and asked and max(asked) <= 2    # a 1-D field of 2 pixels: 2 fresh at most


def test_a_block_count_past_the_overall_deadline_drops_its_scheme(monkeypatch):
    """Under an overall deadline the pattern search gets it too, and a count it stops is never
    cached or used: the scheme is dropped whole, so no value depends on where the clock stopped."""
    import time

    import numpy as np

    from ilpregions.services.bounds import _blocks as B

    net = Network((6, 6, 1), (ConvLayer(3, 2),))
    free = block_lower(net, seconds=30)
    sup = supports(net)
    theta = np.ones((sup.filters, sup.taps_per_filter), dtype=np.int64)
    seen = []

    def stopped(*args, deadline=None, **kwargs):   # a search that runs past its deadline
        seen.append(deadline)
        while time.perf_counter() < deadline:
            time.sleep(0.01)
        raise B.PatternBudget("past the deadline")

    monkeypatch.setattr(B, "pattern_count", stopped)
    monkeypatch.setattr(B, "_patterns_fit", lambda *a: True)
    seen_sub = B._restricted(sup, [0, 1], np.zeros(len(sup.elements) * 4, dtype=bool))[1]
    with pytest.raises(B.SchemeOutOfTime):
        B._count(seen_sub, theta, deadline=time.perf_counter() - 1)
    assert len(seen) == 1 and seen[0] is not None
    cache = {}
    assert B._scheme(sup, theta, (0, 1), False, 2, cache, hard_deadline=time.perf_counter() + 0.2) is None
    assert cache == {}                                         # nothing cut short is remembered
    monkeypatch.undo()
    assert block_lower(net, seconds=30).value == free.value

"""Generic independent-set counts by filter patterns (theory/filter_patterns.py) against a direct search."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from ilpregions.backends.subspace.plan import supports
from ilpregions.core.errors import InputError
from ilpregions.core.spec import ConvLayer, Network
from ilpregions.services.tied._tied_max import tied_max
from ilpregions.theory.filter_patterns import PatternBudget, pattern_bound, pattern_count
from ilpregions.theory.gfp import PRIME, count_independent_mod_p


def _direct(elements, taps, filters, taps_per_filter, seed=7):
    """Independent subsets of every neuron of the block at one draw, by the plain GF(p) search."""
    theta = np.random.default_rng(seed).integers(1, PRIME, size=(filters, taps_per_filter))
    width = 1 + max(int(e.max()) for e in elements if len(e))
    rows = []
    for e, t in zip(elements, taps):
        for k in range(filters):
            v = np.zeros(width, dtype=np.int64)
            v[e] = theta[k, t]
            rows.append(v)
    return count_independent_mod_p(np.array(rows))[0]


@st.composite
def blocks(draw):
    g = draw(st.integers(1, 3))
    width = draw(st.integers(1, 5))
    taps_per_filter = draw(st.integers(1, 4))
    elements, taps = [], []
    for _ in range(g):
        k = draw(st.integers(1, min(width, taps_per_filter)))
        e = sorted(draw(st.lists(st.integers(0, width - 1), min_size=k, max_size=k, unique=True)))
        t = draw(st.lists(st.integers(0, taps_per_filter - 1), min_size=k, max_size=k, unique=True))
        elements.append(np.array(e, dtype=np.int64))
        taps.append(np.array(t, dtype=np.int64))
    return elements, taps, draw(st.integers(1, 3)), taps_per_filter


@settings(max_examples=60, deadline=None, derandomize=True)
@given(blocks())
def test_patterns_equal_the_direct_search(block):
    elements, taps, filters, taps_per_filter = block
    assert pattern_count(elements, taps, filters, taps_per_filter) == _direct(elements, taps, filters, taps_per_filter)


@pytest.mark.parametrize("shape, kernel, filters", [((3, 3, 1), 2, 2), ((4, 3, 1), 2, 3), ((3, 4, 2), 2, 2)])
def test_a_whole_small_layer_equals_the_tied_maximum(shape, kernel, filters):
    # The whole layer as one block: the pattern count is the real (shared-filter) maximum.
    net = Network(shape, (ConvLayer(filters, kernel),))
    sup = supports(net)
    assert len(sup.elements) <= 6
    got = pattern_count(list(sup.elements), list(sup.taps), sup.filters, sup.taps_per_filter)
    assert got == tied_max(net, method="dp").regions     # the subspace DP: an independent count


def test_three_by_three_is_255_not_256():
    sup = supports(Network((3, 3, 1), (ConvLayer(2, 2),)))
    assert pattern_count(list(sup.elements), list(sup.taps), 2, sup.taps_per_filter) == 255


def test_bound_covers_the_visited_patterns_and_budget_refuses():
    sup = supports(Network((4, 3, 1), (ConvLayer(3, 2),)))
    elements, taps = list(sup.elements[:3]), list(sup.taps[:3])
    rank = len(np.unique(np.concatenate(elements)))
    assert pattern_bound(3, rank, 3) >= 1
    with pytest.raises(PatternBudget):
        pattern_count(elements, taps, 3, sup.taps_per_filter, max_nodes=5)
    with pytest.raises(InputError, match="elements"):
        pattern_count(elements, taps[:2], 3, sup.taps_per_filter)

"""Exact means exact (issue 21, item 1): counts reported exact are right in the rationals
the float64 weights are, for near-parallel and near-concurrent hyperplanes too.

The reference is Whitney's formula evaluated in exact rational arithmetic (``fractions``):
r(A) = Σ over subsets S whose hyperplanes meet of (-1)^(|S| - rank S) (Zaslavsky), sharing
no code with either route of ``count_linear_regions``.
"""

from __future__ import annotations

from fractions import Fraction
from itertools import combinations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ilpregions.core.spec import DenseLayer, Network
from ilpregions.services.regions import count_linear_regions

GAPS = [10.0 ** -k for k in range(6, 18)]


def _rank(rows: list[list[Fraction]]) -> int:
    M = [list(r) for r in rows]
    rank = 0
    for c in range(len(M[0]) if M else 0):
        pivot = next((i for i in range(rank, len(M)) if M[i][c] != 0), None)
        if pivot is None:
            continue
        M[rank], M[pivot] = M[pivot], M[rank]
        for i in range(len(M)):
            if i != rank and M[i][c] != 0:
                f = M[i][c] / M[rank][c]
                M[i] = [a - f * b for a, b in zip(M[i], M[rank])]
        rank += 1
    return rank


def whitney(W: np.ndarray, b: np.ndarray) -> int:
    """Regions of {W x + b = 0} over R^n, exactly (neurons with w = 0 cut nothing)."""
    Wq = [[Fraction(float(x)) for x in row] for row in W]
    bq = [Fraction(float(x)) for x in b]
    live = [i for i in range(len(Wq)) if any(Wq[i])]
    total = 0
    for k in range(len(live) + 1):
        for S in combinations(live, k):
            normals = [Wq[i] for i in S]
            r = _rank(normals) if S else 0
            if not S or _rank([Wq[i] + [bq[i]] for i in S]) == r:  # the hyperplanes meet
                total += (-1) ** (k - r)
    return total


def _count(W, b, method):
    net = Network((W.shape[1], 1), (DenseLayer(W.shape[0]),))
    weights = {"layers.0.weight": np.asarray(W, float), "layers.0.bias": np.asarray(b, float)}
    return count_linear_regions(net, weights=weights, method=method, seed_samples=200)


@pytest.mark.parametrize("eps", [1e-12, 1e-15, 1e-17])
@pytest.mark.parametrize("method", ["exact", "lp"])
def test_a_thin_slab_is_two_regions_not_none(eps, method):
    # The case: two parallel lines eps apart and a third across; the truth is 6.
    W = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    b = np.array([0.0, -eps, 0.0])
    result = _count(W, b, method)
    assert whitney(W, b) == 6
    assert not result.exact or result.regions == 6, result
    assert result.exact  # re-decided exactly, not given up


@pytest.mark.parametrize("method", ["exact", "lp"])
def test_lines_meant_to_be_concurrent_are_counted_as_the_floats_lie(method):
    # Five lines through (1/3, 2/3), biases rounded to float64: they no longer all meet.
    W = np.array([[1.0, 0], [0, 1], [1, 1], [1, -1], [2, 1]])
    b = -(W @ np.array([1 / 3, 2 / 3]))
    truth = whitney(W, b)
    assert truth == 13
    result = _count(W, b, method)
    assert result.exact and result.regions == truth


@st.composite
def near_degenerate(draw):
    """Hyperplanes in R^2 or R^3 that are nearly parallel or nearly concurrent (gaps 1e-6 ... 1e-17)."""
    n = draw(st.integers(2, 3))
    m = draw(st.integers(2, 5))
    ints = st.integers(-3, 3)
    W = np.array([[draw(ints) for _ in range(n)] for _ in range(m)], dtype=float)
    point = np.array([draw(st.sampled_from([0.0, 1 / 3, -2 / 7, 0.5])) for _ in range(n)])
    b = -(W @ point)  # concurrent in intent (rounded in float64)
    for i in range(m):
        how = draw(st.sampled_from(["keep", "shift", "tilt", "copy"]))
        gap = draw(st.sampled_from(GAPS))
        if how == "shift":
            b[i] += gap
        elif how == "tilt":
            W[i, draw(st.integers(0, n - 1))] += gap
        elif how == "copy" and i:
            W[i] = W[i - 1]
            b[i] = b[i - 1] + draw(st.sampled_from([0.0, gap]))
    return W, b


@settings(max_examples=40, deadline=None, derandomize=True, database=None)
@given(near_degenerate(), st.sampled_from(["exact", "lp"]))
def test_near_degenerate_arrangements_against_an_exact_count(case, method):
    W, b = case
    result = _count(W, b, method)
    if result.exact:
        assert result.regions == whitney(W, b), (W.tolist(), b.tolist(), result)
    else:  # allowed, but then it must say so and be a lower bound
        assert result.regions <= whitney(W, b)
    if method == "exact":
        assert result.exact


@pytest.mark.slow
@settings(max_examples=400, deadline=None, derandomize=True, database=None)
@given(near_degenerate(), st.sampled_from(["exact", "lp"]))
def test_near_degenerate_arrangements_against_an_exact_count_long(case, method):
    test_near_degenerate_arrangements_against_an_exact_count.hypothesis.inner_test(case, method)


def test_a_tiny_normal_is_a_real_cut():
    # w = 1e-12: the hyperplane x = 1e12 still splits the line; it is not "constant".
    W, b = np.array([[1e-12, 0.0]]), np.array([1.0])
    for method in ("exact", "lp"):
        result = _count(W, b, method)
        assert result.exact and result.regions == 2, result


def test_float_witnesses_are_confirmed_exactly_when_rows_may_be_off(monkeypatch):
    # Deep rows are rounded products; where their rounding bound could reach the witness margin the
    # float decisions are confirmed against the exact rows. Forcing that everywhere must change nothing.
    from ilpregions.core.spec import ConvLayer
    from ilpregions.services.regions import _cell

    net = Network((4, 1), (ConvLayer(2, 2), ConvLayer(1, 2)))
    plain = count_linear_regions(net, seed=3, method="lp", seed_samples=500)
    monkeypatch.setattr(_cell, "FRAGILE", -1.0)
    checked = count_linear_regions(net, seed=3, method="lp", seed_samples=500)
    assert checked.exact and plain.exact and checked.regions == plain.regions
    assert checked.details["tests"]["exact_confirmed"] > plain.details["tests"]["exact_confirmed"]

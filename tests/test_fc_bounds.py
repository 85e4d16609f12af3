"""Fully-connected bounds: hand-computed values, the DP against tuple listing, and the exact engine."""

from __future__ import annotations

import random
from math import comb

import pytest

from ilpregions.theory import fc_bounds as F
from ilpregions.services.count._theorem1 import count_regions
from ilpregions.core.spec import DenseLayer, Network


def direct_sum(n, m):
    return sum(comb(n, i) for i in range(0, min(m, n) + 1)) if m >= 0 else 0


def test_hand_values():
    # 4 lines in general position in the plane: 1 + 4 + 6.
    assert F.pascanu2013_exact(2, 4) == 11
    assert F.pascanu2013_exact(4, 6) == 1 + 6 + 15 + 20 + 15
    assert F.pascanu2013_exact(5, 3) == 8  # fewer units than inputs: 2^3
    # Montúfar 2014: ⌊4/2⌋² · (1 + 3 + 3) and 3 · 3 · (1 + 2).
    assert F.montufar2014_lower(2, [4, 3]) == 4 * 7
    assert F.montufar2014_lower(1, [3, 3, 2]) == 27
    assert F.montufar2014_lower(2, [5, 7, 4]) == 2 ** 2 * 3 ** 2 * (1 + 4 + 6)
    # Montúfar 2017: m_2 = min(3, 2) = 2.
    assert F.montufar2017_upper(2, [4, 3]) == 11 * 7
    assert F.montufar2017_upper(3, [2, 5]) == 4 * (1 + 5 + 10)
    # Serra 2018 by hand: j1 = 0 → Σ_{j≤2} C(5,j) = 16; j1 = 1 → 2·(1+5); j1 = 2 → 1·1.
    assert F.serra2018_upper(3, [2, 5]) == 16 + 12 + 1
    # n0 = 1: J = {(j1, j2): j1 ≤ 1, j2 ≤ min(1, n1 − j1)}.
    assert F.serra2018_upper(1, [1, 3]) == 1 * 4 + 1 * 1
    assert F.fc_params(4, [6]) == 30
    assert F.fc_params(3, [5, 2]) == 5 * 4 + 2 * 6


def test_serra_dp_matches_tuple_listing():
    rng = random.Random(5)
    for _ in range(150):
        n0 = rng.randint(1, 6)
        widths = [rng.randint(1, 7) for _ in range(rng.randint(1, 4))]
        assert F.serra2018_upper(n0, widths) == F.serra2018_bruteforce(n0, widths), (n0, widths)


def test_orderings_between_fc_bounds():
    rng = random.Random(11)
    for _ in range(150):
        n0 = rng.randint(1, 5)
        widths = [rng.randint(1, 9) for _ in range(rng.randint(1, 4))]
        serra, montufar = F.serra2018_upper(n0, widths), F.montufar2017_upper(n0, widths)
        assert serra <= montufar
        if all(w >= n0 for w in widths[:-1]):
            assert F.montufar2014_lower(n0, widths) <= serra
        if len(widths) == 1:
            assert serra == montufar == F.pascanu2013_exact(n0, widths[0]) == F.montufar2014_lower(n0, widths)


@pytest.mark.parametrize("n0,n1", [(1, 1), (1, 5), (2, 2), (2, 5), (3, 4), (4, 3), (3, 7)])
def test_pascanu_equals_theorem1_count_of_a_dense_layer(n0, n1):
    net = Network((n0, 1), (DenseLayer(n1),))
    assert count_regions(net, backend="bruteforce").regions == F.pascanu2013_exact(n0, n1)
    assert count_regions(net, backend="cpsat").regions == F.pascanu2013_exact(n0, n1)


def test_binomial_sum_against_direct_sums():
    for n in range(0, 30):
        for m in range(-1, n + 3):
            assert F.binomial_sum(n, m) == direct_sum(n, m)
    # The fast (2-adic binary splitting) path, above the switch-over, against
    # the plain term recurrence and against the symmetry 2^(2k) for n = 2k + 1.
    for n, m in [(7000, 3499), (9000, 3100), (10001, 6000)]:
        total, term = 0, 1
        for i in range(min(m, n) + 1):
            total += term
            term = term * (n - i) // (i + 1)
        assert F.binomial_sum(n, m) == total
    for k in (3000, 4321, 20000):
        assert F.binomial_sum(2 * k + 1, k) == 2 ** (2 * k)


def test_two_adic_path_directly_on_small_inputs():
    rng = random.Random(3)
    for _ in range(300):
        n = rng.randint(3, 400)
        m = rng.randint(1, (n - 1) // 2)
        assert F._binomial_sum_2adic(n, m) == direct_sum(n, m), (n, m)


def test_serra_refuses_huge_dp():
    with pytest.raises(ValueError, match="big-integer products"):
        F.serra2018_upper(5000, [5000, 5000, 5000])

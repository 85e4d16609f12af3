"""Binomial rows and prefix sums: exact, and fast for large n (issue 13: `bounds` of a dense
20000 -> 20000 layer spent minutes in 20,001 fresh math.comb calls)."""

from __future__ import annotations

import time
from math import comb

import pytest

from ilpregions.core.combinatorics import binomial_prefix_sums, binomial_row


@pytest.mark.parametrize("n, upto", [(0, 3), (1, 1), (4, 5), (7, 9), (30, 12), (200, 200)])
def test_rows_match_math_comb(n, upto):
    assert binomial_row(n, upto) == [comb(n, i) for i in range(upto + 1)]
    assert binomial_prefix_sums(n, upto) == [sum(comb(n, i) for i in range(k + 1)) for k in range(upto + 1)]


def test_a_row_of_20000_is_fast():
    start = time.perf_counter()
    assert binomial_prefix_sums(20000, 20000)[-1] == 2 ** 20000
    assert time.perf_counter() - start < 20     # minutes before (a regression guard, not a benchmark)


def test_block_tree_of_a_wide_dense_layer_builds_fast():
    from ilpregions.core.geometry import layer_instance
    from ilpregions.core.spec import DenseLayer, Network
    from ilpregions.services.bounds._lp.block_tree import BlockTree

    inst = layer_instance(Network((20000, 1), (DenseLayer(20000),)))
    start = time.perf_counter()
    tree = BlockTree(inst)
    assert tree.binom[10000] == comb(20000, 10000)
    assert time.perf_counter() - start < 20     # 215 s before

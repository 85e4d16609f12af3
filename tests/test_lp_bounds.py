"""One-layer bounds: they sandwich every reference value, the LP exponent is
|∪S|, the best box is optimal (checked by brute force), and the ImageNet
stem finishes."""

from __future__ import annotations

import itertools
import time
from math import comb

import pytest

from helpers import MODELS, case_network
from ilpregions.services.bounds import _lp as lp_bounds
from ilpregions.services.bounds._lp import block_tree, tilt
from ilpregions.backends import cbc, highs
from ilpregions.core.geometry import layer_instance
from ilpregions.core.spec import ConvLayer, Network
from ilpregions.core.spec_toml import load


def F(d1, c):
    return sum(comb(d1, i) for i in range(c + 1))


def brute_best_box(inst):
    """max Π F(c_p) over every c in the capped box with Hall's condition
    over all subsets (numpy over the box; exact ints for the near-best)."""
    import numpy as np

    sets = inst.field_sets
    n = inst.positions
    subsets = [J for r in range(2, n + 1) for J in itertools.combinations(range(n), r)]
    incidence = np.zeros((len(subsets), n), dtype=np.int64)
    union = np.zeros(len(subsets), dtype=np.int64)
    for i, J in enumerate(subsets):
        incidence[i, list(J)] = 1
        union[i] = len(set().union(*(sets[p] for p in J))) * inst.channels
    grids = np.meshgrid(*[np.arange(k + 1) for k in inst.caps], indexing="ij")
    box = np.stack([g.ravel() for g in grids], axis=1)
    box = box[((box @ incidence.T) <= union).all(axis=1)]
    logs = np.log(np.array([float(F(inst.filters, c)) for c in range(max(inst.caps) + 1)]))
    score = logs[box].sum(axis=1)
    near = box[score >= score.max() - 1e-6]
    best = 0
    for c in near.tolist():
        value = 1
        for v in c:
            value *= F(inst.filters, v)
        best = max(best, value)
    return best


def test_sandwich_on_reference(theorem1_case):
    inst = layer_instance(case_network(theorem1_case))
    exact = int(theorem1_case["regions"])
    b = lp_bounds.one_layer_bounds(inst)
    assert b.lower <= exact <= b.upper
    assert b.exponent == theorem1_case["union_size"] == inst.union_size
    for bound in b.bounds:
        if bound.value is None:
            continue
        if bound.kind == "lower":
            assert bound.value <= exact
        elif bound.kind == "upper":
            assert bound.value >= exact
        else:
            assert bound.value == exact
    # the tree itself (not just the best of all) beats both textbook baselines here
    tree = next(x.value for x in b.bounds if x.name == "exact-block tree")
    assert tree <= lp_bounds.per_position_bound(inst)
    glob = lp_bounds.global_binomial_bound(inst)
    assert glob is None or tree <= glob


def test_sandwich_with_small_leaves_and_the_tilt(theorem1_case, monkeypatch):
    # Force the non-exact paths: tiny leaves, and top blocks joined by the tilt.
    monkeypatch.setattr(block_tree, "LEAF_BOX", 30)
    monkeypatch.setattr(block_tree, "LEAF_POSITIONS", 2)
    monkeypatch.setattr(block_tree, "POLY_BITS", 40)
    inst = layer_instance(case_network(theorem1_case))
    exact = int(theorem1_case["regions"])
    upper, is_exact, _ = lp_bounds.block_tree_upper(inst)
    assert upper >= exact
    assert not is_exact or upper == exact


def test_exponent_matches_lp_solvers():
    for name in ["paper_3x3", "rgb", "padded", "conv3d", "dilated"]:
        inst = layer_instance(load(MODELS / f"{name}.toml"))
        ones = [1] * inst.positions
        assert lp_bounds.lp_exponent(inst) == inst.union_size
        assert round(highs.lp_max(inst, ones)[0]) == inst.union_size
        assert round(cbc.lp_max(inst, ones)[0]) == inst.union_size
        maxima = lp_bounds.position_lp_maxima(inst)
        for p in range(inst.positions):
            weights = [1 if q == p else 0 for q in range(inst.positions)]
            assert round(highs.lp_max(inst, weights, caps=inst.caps)[0]) == maxima[p]


@pytest.mark.parametrize("net", [
    Network((3, 3, 1), (ConvLayer(4, 2),)),
    Network((4, 4, 1), (ConvLayer(3, 2),)),
    Network((6, 1), (ConvLayer(3, 3),)),
    Network((3, 3, 1), (ConvLayer(2, 3, padding=1),)),
    Network((5, 1), (ConvLayer(3, 2, dilation=2),)),
    Network((4, 3, 2), (ConvLayer(5, 2),)),
], ids=["3x3k2d4", "4x4k2d3", "6k3", "pad", "dil", "4x3x2"])
def test_best_box_is_optimal(net):
    inst = layer_instance(net)
    box = lp_bounds.best_box(inst)
    assert lp_bounds.box_value(inst, box) == brute_best_box(inst)


def test_imagenet_stem_finishes():
    inst = layer_instance(load(MODELS / "imagenet_stem.toml"))
    start = time.perf_counter()
    b = lp_bounds.one_layer_bounds(inst)
    assert time.perf_counter() - start < 60          # generous: shared 2-core CI
    assert b.exponent == inst.union_size == 224 * 224 * 3
    assert 0 < b.lower < b.upper < lp_bounds.per_position_bound(inst)
    assert b.to_json()["lower"].isdigit()


def test_directed_rounding_brackets_exact_values():
    import random

    rng = random.Random(1)
    for _ in range(200):
        a, n = rng.randint(1, 2 ** 24), rng.randint(1, 400)
        exact = a ** n
        up, down = tilt._pow_round((a, 0), n, True), tilt._pow_round((a, 0), n, False)
        assert down[0] << down[1] <= exact <= up[0] << up[1]
        num = rng.randint(1, 10 ** 300)
        ratio = tilt._ceil_ratio(tilt._norm(num, 0, True), down)
        assert ratio * exact >= num                      # an upper bound on num / a^n
        assert ratio <= num // exact + 1 + (num // exact) // 10 ** 15 + 1


def test_tilt_beats_the_plain_product_on_the_stem_shape():
    # A smaller stem-like layer: the tilted top is far below the product of block counts.
    inst = layer_instance(Network((40, 40, 3), (ConvLayer(64, 7, stride=2, padding=3),)))
    upper, exact, info = lp_bounds.block_tree_upper(inst)
    assert not exact and info["tilts"]
    assert upper < lp_bounds.per_position_bound(inst)
    assert lp_bounds.box_value(inst, lp_bounds.best_box(inst)) < upper

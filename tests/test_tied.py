"""The tied (shared-filter) maximum against the reference values and against `regions`."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest

from helpers import MODELS, case_network
from ilpregions.services.count._theorem1 import count_regions
from ilpregions.services.regions import count_linear_regions
from ilpregions.core.spec import ConvLayer, DenseLayer, Network
from ilpregions.services.tied._tied_max import (PRIME, CentralDependency, count_independent_mod_p, shifted_filter_vectors,
                             tied_max, to_residues)


def test_tied_max_matches_reference(tied_case):
    net = case_network(tied_case, shared=True)
    result = tied_max(net)
    assert result.regions == int(tied_case["tied"])
    assert result.formula == int(tied_case["formula"])
    assert result.gap == int(tied_case["formula"]) - int(tied_case["tied"])
    assert result.details["draws_agree"]


def _independent_by_brute_force(V: np.ndarray) -> int:
    count = 0
    for k in range(len(V) + 1):
        for subset in itertools.combinations(range(len(V)), k):
            if k == 0 or np.linalg.matrix_rank(V[list(subset)].astype(float)) == k:
                count += 1
    return count


@pytest.mark.parametrize("seed", range(5))
def test_mod_p_count_equals_brute_force_on_small_integer_matrices(seed):
    rng = np.random.default_rng(seed)
    m, n = int(rng.integers(3, 8)), int(rng.integers(2, 5))
    V = rng.integers(-2, 3, size=(m, n))   # small entries: plenty of dependencies
    assert count_independent_mod_p(V)[0] == _independent_by_brute_force(V)


def test_central_dependency_is_detected():
    # Three lines through one point: dependent normals, and the biases agree.
    V = np.array([[1, 0], [0, 1], [1, 1]])
    with pytest.raises(CentralDependency):
        count_independent_mod_p(V, bias=np.array([1, 1, 2]))
    assert count_independent_mod_p(V, bias=np.array([1, 1, 3]))[0] == 7


def test_residues_are_exact():
    x = np.array([[3.0, 2.0 ** -40, -1.5]])
    r = to_residues(x, PRIME)
    scaled = [3 * 2 ** 40, 1, -3 * 2 ** 39]   # the row times 2^40, up to a power of two
    c = int(r[0, 1])                           # the residue of that power of two
    assert r.tolist() == [[v * c % PRIME for v in scaled]]


def test_shifted_filter_vectors_are_shifts():
    net = Network((4, 1), (ConvLayer(filters=1, kernel=2),))
    V = shifted_filter_vectors(net, np.array([[[5], [7]]]))
    assert V.tolist() == [[5, 7, 0, 0], [0, 5, 7, 0], [0, 0, 5, 7]]


@pytest.mark.parametrize("spec", [
    ((3, 3, 1), 2, 2, 1), ((4, 1), 2, 3, 1), ((5, 1), 3, 2, 1), ((3, 3, 1), 2, 1, 1),
    ((4, 3, 1), 2, 2, 1), ((4, 4, 1), 2, 1, 2), ((5, 1), 2, 2, 2), ((3, 3, 2), 2, 1, 1),
])
def test_tied_max_equals_regions_of_random_cnns(spec):
    shape, kernel, filters, stride = spec
    net = Network(shape, (ConvLayer(filters=filters, kernel=kernel, stride=stride),))
    tied = tied_max(net).regions
    for seed in range(2):
        assert count_linear_regions(net, seed=seed).regions == tied
    if tied <= 300:
        assert count_linear_regions(net, seed=0, method="lp").regions == tied


def test_no_sharing_means_no_gap():
    for net in (Network((3, 3, 1), (ConvLayer(2, 2, shared=False),)), Network((4, 1), (DenseLayer(3),))):
        result = tied_max(net)
        assert result.gap == 0 and result.regions == count_regions(net).regions


def test_gap_appears_in_2d_stride_1_only():
    # docs/math.md#the-commutativity-relation: the relation needs a 2-D stride-1 block of >= f x f outputs and d1 >= 2.
    assert tied_max(Network((3, 3, 1), (ConvLayer(2, 2),))).gap == 1
    assert tied_max(Network((3, 3, 1), (ConvLayer(1, 2),))).gap == 0
    assert tied_max(Network((4, 4, 1), (ConvLayer(2, 2, stride=2),))).gap == 0
    assert tied_max(Network((6, 1), (ConvLayer(3, 3),))).gap == 0


def test_cli_tied_max_json(cli):
    code, stdout, err = cli("tied-max", MODELS / "paper_3x3.toml", "--json")
    assert code == 0, err
    out = json.loads(stdout)
    assert (out["regions"], out["formula"], out["gap"]) == ("255", "256", "1")


@pytest.mark.parametrize("shape,kernel,dilation", [
    ((3, 3, 1), 2, 1), ((3, 3, 2), 2, 1), ((4, 3, 1), 2, 1),
    ((5, 5, 1), 2, 2), ((4, 4, 1), 2, 2), ((4, 4, 1), 3, 1),
])
def test_strict_gap_prediction_is_never_wrong(shape, kernel, dilation):
    """`count`'s note says "strictly smaller" only where the tied count is (checked by tied-max)."""
    from ilpregions.core.geometry import layer_instance
    from ilpregions.services.count._theorem1 import strict_gap_expected
    from ilpregions.services.tied._tied_max import tied_max

    net = Network(shape, (ConvLayer(2, kernel, dilation=dilation),))
    result = tied_max(net, seed=0)
    if strict_gap_expected(net.layers[0], layer_instance(net)):
        assert result.regions < result.formula
    if shape[-1] == 2:  # channel vectors: the commutativity identity is no dependency
        assert not strict_gap_expected(net.layers[0], layer_instance(net))
        assert result.regions == result.formula

"""R_N(d1) as one polynomial: values, degree, leading constant (docs/math.md#polynomial-form-and-asymptotics)."""

from __future__ import annotations

import itertools
import json
from fractions import Fraction
from math import factorial

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from helpers import case_network
from strategies import local_layers
from ilpregions.cli import main as cli
from ilpregions.backends import bruteforce
from ilpregions.backends.dp import engine as dp
from ilpregions.core.errors import TooLargeError
from ilpregions.core.geometry import layer_instance
from ilpregions.services.count._polynomial import (binomial_to_monomial, newton_coefficients, region_polynomial)
from ilpregions.core.spec import ConvLayer, DenseLayer, Network


def _feasible_points(inst):
    """K_N with t_p <= |S_p|, by Hall's condition over every set of positions
    (independent of the library's DP and row pruning)."""
    sizes = inst.field_sizes
    m = inst.positions
    subsets = [J for r in range(1, m + 1) for J in itertools.combinations(range(m), r)]
    unions = {J: inst.coverage(J) for J in subsets}
    for t in itertools.product(*(range(s + 1) for s in sizes)):
        if all(sum(t[p] for p in J) <= unions[J] for J in subsets):
            yield t


def _leading_by_enumeration(inst) -> Fraction:
    u = inst.union_size
    total = Fraction(0)
    for t in _feasible_points(inst):
        if sum(t) == u:
            weight = Fraction(1)
            for v in t:
                weight /= factorial(v)
            total += weight
    return total


SMALL = [
    Network((3, 1), (ConvLayer(1, 2, shared=False),)),
    Network((3, 3, 1), (ConvLayer(1, 2, shared=False),)),
    Network((4, 3, 1), (ConvLayer(1, (3, 2), shared=False),)),
    Network((5, 1), (ConvLayer(1, 2, dilation=2, shared=False),)),
    Network((3, 2), (ConvLayer(1, 2, shared=False),)),
    Network((4, 1), (ConvLayer(1, 3, padding=1, shared=False),)),
    Network((2, 2, 2, 1), (ConvLayer(1, (2, 1, 2), shared=False),)),
    Network((4, 4, 1), (ConvLayer(1, 2, stride=2, shared=False),)),
    Network((2, 2), (DenseLayer(1),)),
]


@pytest.mark.parametrize("net", SMALL, ids=lambda n: "x".join(map(str, n.input_shape)))
def test_polynomial_equals_direct_counts_and_leading_constant(net):
    inst = layer_instance(net)
    poly = region_polynomial(inst)
    assert poly.degree == inst.union_size
    top = max(inst.field_sizes)
    # d1 below max t_p (binomials vanish there), around it, and beyond U.
    for d1 in sorted({0, 1, 2, top - 1, top, top + 1, inst.union_size + 2}):
        if d1 < 0:
            continue
        expected = bruteforce.count(inst.with_filters(d1)).regions
        assert poly(d1) == expected == dp.count(inst.with_filters(d1)).regions
    assert poly.leading == poly.coefficients[-1] == _leading_by_enumeration(inst)


def test_polynomial_matches_reference(theorem1_case):
    inst = layer_instance(case_network(theorem1_case))
    if inst.union_size > 30:
        pytest.skip("large degree")
    poly = region_polynomial(inst)
    assert poly(theorem1_case["filters"]) == int(theorem1_case["regions"])
    assert poly(0) == 1  # only t = 0 survives at d1 = 0


def test_fully_connected_leading_constant_is_one_over_n0_factorial():
    # One position with |S| = n0: R(d1) = Σ_{i<=n0} C(d1, i), leading 1/n0!.
    poly = region_polynomial(layer_instance(Network((5, 1), (DenseLayer(1),))))
    assert poly.degree == 5 and poly.leading == Fraction(1, 120)


def test_newton_and_monomial_conversion_roundtrip():
    # 3 − 2·C(x, 1) + 5·C(x, 3), an integer-valued polynomial
    coeffs = [Fraction(3), Fraction(-1, 3), Fraction(-5, 2), Fraction(5, 6)]

    def value(x):
        return sum(c * x ** k for k, c in enumerate(coeffs))

    values = [value(x) for x in range(4)]
    assert all(v.denominator == 1 for v in values)
    newton = newton_coefficients([int(v) for v in values])
    assert newton == [3, -2, 0, 5]
    assert binomial_to_monomial(newton) == coeffs


def test_cli_polynomial_json(capsys):
    assert cli.main(["count", "models/paper_3x3.toml", "--json", "--quiet", "--polynomial"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["degree"] == 9 and out["union_size"] == 9
    coeffs = [Fraction(c) for c in out["polynomial"]]
    assert len(coeffs) == 10 and Fraction(out["leading"]) == coeffs[-1]
    assert sum(c * 2 ** k for k, c in enumerate(coeffs)) == int(out["regions"])
    # every existing key is kept
    for key in ("regions", "exact", "backend", "t_vectors", "positions", "seconds", "status", "peak_states"):
        assert key in out


def test_cli_polynomial_text(capsys):
    assert cli.main(["count", "models/paper_3x3.toml", "--quiet", "--polynomial"]) == 0
    text = capsys.readouterr().out
    assert "polynomial: R_N(d1) = (29/72)·d1^9" in text and "leading constant: 29/72" in text


def tiny_geometries():
    return local_layers(max_axes=2, max_extra=2, max_d0=2, d1=1, max_positions=6, max_union=12)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(tiny_geometries(), st.integers(0, 6))
def test_property_polynomial_equals_bruteforce(inst, d1):
    try:
        expected = bruteforce.count(inst.with_filters(d1)).regions
    except TooLargeError:
        assume(False)
    assert region_polynomial(inst)(d1) == expected


@pytest.mark.slow
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(tiny_geometries(), st.integers(0, 8))
def test_property_polynomial_equals_bruteforce_many(inst, d1):
    try:
        expected = bruteforce.count(inst.with_filters(d1)).regions
    except TooLargeError:
        assume(False)
    poly = region_polynomial(inst)
    assert poly(d1) == expected
    assert poly.degree == inst.union_size

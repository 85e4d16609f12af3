"""dp = cpsat = bruteforce on random small geometries (hypothesis).

Geometries: 1 to 3 spatial axes, 1 to 3 channels, kernels up to 3, stride
and dilation up to 2, zero padding. Each example is also run through the
compiled step (forced), so both step implementations are checked.
"""

from __future__ import annotations

from math import comb

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from strategies import local_layers
from ilpregions.backends import bruteforce, cpsat
from ilpregions.backends.dp import engine as dp
from ilpregions.backends.dp import run
from ilpregions.backends.dp.weights import Columns
from ilpregions.core.errors import TooLargeError
from ilpregions.core.set_system import components


def geometries():
    return local_layers(max_axes=3, max_extra=2, max_d0=3, d1=st.integers(1, 5), max_positions=8,
                        max_union=14)


def _compiled_total(inst) -> int:
    """R_N with every step of every block through the compiled kernel."""
    total = 1
    for comp in components(inst):
        if len(comp) == 1:
            total *= sum(comb(inst.filters, k) for k in range(inst.caps[comp[0]] + 1))
            continue
        plan = dp.plan_block(inst, comp, list(inst.caps))
        cols = Columns([("binom", inst.filters, 10 ** 40)], max(inst.caps), "residues")
        total *= run.run_plan(plan, cols, kernel="compiled")[0]
    return total


def _check(inst):
    try:
        brute = bruteforce.count(inst)
    except TooLargeError:
        assume(False)
    ours = dp.count(inst)
    sat = cpsat.count(inst)
    assert ours.complete and sat.complete
    assert ours.regions == sat.regions == brute.regions
    assert ours.t_vectors == sat.t_vectors == brute.t_vectors
    assert _compiled_total(inst) == brute.regions


_SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


@settings(max_examples=8, derandomize=True, **_SETTINGS)
@given(geometries())
def test_dp_equals_cpsat_and_bruteforce_sample(inst):
    _check(inst)


@pytest.mark.slow
@settings(max_examples=1200, **_SETTINGS)
@given(geometries())
def test_dp_equals_cpsat_and_bruteforce_many(inst):
    _check(inst)

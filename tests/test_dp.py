"""The frontier DP backend against the reference values, brute force and CP-SAT."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from helpers import THEOREM1_CASES, case_network
from strategies import local_layers
from ilpregions.cli import main as cli
from ilpregions.backends import bruteforce, cpsat
from ilpregions.backends.dp import engine as dp
from ilpregions.backends.dp import npstep, run
from ilpregions.backends.dp.weights import Columns
from ilpregions.services.count._theorem1 import count_regions
from ilpregions.core.errors import TooLargeError
from ilpregions.core.geometry import Theorem1Instance, layer_instance
from ilpregions.core.set_system import components
from ilpregions.core.spec import ConvLayer, DenseLayer, Network


def _brute(inst):
    try:
        return bruteforce.count(inst)
    except TooLargeError:
        return None


# ----------------------------------------------------------------------------
# Reference values
# ----------------------------------------------------------------------------

def test_dp_matches_reference(theorem1_case):
    inst = layer_instance(case_network(theorem1_case))
    out = dp.count(inst)
    assert out.complete
    assert out.regions == int(theorem1_case["regions"])
    assert inst.union_size == theorem1_case["union_size"]
    assert out.details["peak_states"] >= 1 and out.details["peak_memory_bytes"] >= 0


def test_dp_equals_bruteforce_and_cpsat_on_reference_cases(theorem1_case):
    inst = layer_instance(case_network(theorem1_case))
    brute = _brute(inst)
    if brute is None:
        pytest.skip("too large for brute force")
    out = dp.count(inst)
    sat = cpsat.count(inst)
    assert out.regions == brute.regions == sat.regions
    assert out.t_vectors == brute.t_vectors == sat.t_vectors


def test_every_scan_order_and_weight_mode_agree(monkeypatch):
    # 4x5 input, 2x3 kernel: the two axis orders give different frontiers.
    inst = layer_instance(Network((4, 5, 1), (ConvLayer(3, (2, 3), shared=False),)))
    expected = bruteforce.count(inst).regions
    for order in ((0, 1), (1, 0)):
        assert dp.count(inst, order=order).regions == expected
    monkeypatch.setattr(Columns, "MAX_RESIDUE_COLUMNS", 0)  # force Python-int columns
    assert dp.count(inst).regions == expected


def test_hash_collisions_fall_back_to_exact_grouping(monkeypatch):
    inst = layer_instance(Network((4, 4, 1), (ConvLayer(3, 2, shared=False),)))
    monkeypatch.setattr(npstep, "row_hash", lambda words: np.zeros(len(words), dtype=np.uint64))
    assert dp.count(inst).regions == int(THEOREM1_CASES[3]["regions"])


def test_matrix_power_jump_equals_plain_steps(monkeypatch):
    # A long 1-D layer: the interior steps repeat, and the DP jumps over them.
    inst = layer_instance(Network((90, 2), (ConvLayer(7, 3, shared=False),)))
    jumped = dp.count(inst)
    assert jumped.details.get("dp_steps") == inst.positions
    monkeypatch.setattr(run, "MIN_LINEAR_RUN", 10 ** 9)
    plain = dp.count(inst)
    assert plain.regions == jumped.regions and plain.t_vectors == jumped.t_vectors
    # ... and the jump was really taken in the first run (and in residue mode too).
    monkeypatch.setattr(run, "MIN_LINEAR_RUN", 8)
    stats = {}
    comp = components(inst)[0]
    plan = dp.plan_block(inst, comp, list(inst.caps))
    cols = Columns([("binom", 7, 10 ** 200), ("unit", 0, 10 ** 60)], max(inst.caps), "residues")
    totals = dp.run_plan(plan, cols, stats=stats)
    assert stats["jumped_steps"] > 0
    assert totals == [plain.regions, plain.t_vectors]


def test_dense_layer_is_pascanu():
    net = Network((3, 2, 2), (DenseLayer(5),))
    inst = layer_instance(net)
    n0 = 12
    assert dp.count(inst).regions == sum(math.comb(5, i) for i in range(n0 + 1))


def test_disjoint_blocks_multiply_instantly():
    # 16x16, 2x2 stride 2: 64 independent positions, each Σ_{i<=4} C(8, i).
    inst = layer_instance(Network((16, 16, 1), (ConvLayer(8, 2, stride=2, shared=False),)))
    out = dp.count(inst)
    assert out.regions == sum(math.comb(8, i) for i in range(5)) ** 64
    assert out.t_vectors == 5 ** 64


def test_identical_blocks_are_counted_once_and_multiplied():
    # Dilation 2 on a 1-D input splits positions into two interleaved chains.
    inst = layer_instance(Network((11, 1), (ConvLayer(3, 2, dilation=2, shared=False),)))
    assert len(components(inst)) == 2
    assert dp.count(inst).regions == bruteforce.count(inst).regions


def test_empty_fields_and_padding():
    # Padding larger than useful leaves windows that lie entirely in the padding.
    inst = Theorem1Instance((4,), 1, 3, (5,), ((), (0, 1), (1, 2), (2, 3), ()), "local")
    assert dp.count(inst).regions == bruteforce.count(inst).regions


def test_auto_picks_dp():
    result = count_regions(case_network(THEOREM1_CASES[1]))
    assert result.backend == "dp"
    assert "peak_states" in result.to_json()


# ----------------------------------------------------------------------------
# Memory cap and time limit
# ----------------------------------------------------------------------------

def test_memory_cap_refuses_before_allocating():
    inst = layer_instance(Network((6, 6, 1), (ConvLayer(9, 3, shared=False),)))
    with pytest.raises(TooLargeError, match=r"would need about .* over the memory cap of 1.00 KiB"):
        dp.count(inst, memory_cap=1024)


def test_time_limit_gives_the_exact_count_of_the_processed_prefix(monkeypatch):
    inst = layer_instance(Network((4, 4, 1), (ConvLayer(3, 2, shared=False),)))
    plan = dp.plan_block(inst, components(inst)[0], list(inst.caps))
    clock = iter(range(10 ** 6))
    # Each call of the fake clock advances one second: the deadline passes
    # after a few steps, deterministically.
    monkeypatch.setattr(dp.time, "perf_counter", lambda: float(next(clock)))
    out = dp.count(inst, time_limit=3.5)
    assert not out.complete and out.t_vectors is None
    done = out.details["dp_steps"]
    assert 0 < done < inst.positions
    prefix = inst.restricted(list(plan.order[:done]))
    assert out.regions == bruteforce.count(prefix).regions
    assert out.regions <= int(THEOREM1_CASES[3]["regions"])


def test_time_limit_through_count_regions_is_partial():
    inst = layer_instance(Network((7, 7, 1), (ConvLayer(9, 3, shared=False),)))
    result = count_regions(inst, backend="dp", time_limit=1e-6)
    assert not result.exact and result.regions >= 1


# ----------------------------------------------------------------------------
# CLI
# ----------------------------------------------------------------------------

def test_cli_json_reports_peak_states(capsys):
    assert cli.main(["count", "models/paper_3x3.toml", "--json", "--quiet", "--backend", "dp"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["regions"] == "256" and out["backend"] == "dp"
    assert out["peak_states"] >= 1 and out["peak_memory_bytes"] > 0


def test_cli_memory_cap_refusal(capsys):
    code = cli.main(["count", "models/paper_4x4.toml", "--quiet", "--memory-cap", "0.000001"])
    err = capsys.readouterr().err
    assert code == 2
    assert "memory cap" in err and "would need about" in err and len(err.strip().splitlines()) == 1


# ----------------------------------------------------------------------------
# Property test against brute force
# ----------------------------------------------------------------------------

def small_geometries():
    return local_layers(max_axes=3, max_extra=3, max_d0=3, d1=st.integers(1, 6), max_positions=9)


def _check_against_bruteforce(inst):
    brute = _brute(inst)
    assume(brute is not None)
    out = dp.count(inst)
    assert out.regions == brute.regions
    assert out.t_vectors == brute.t_vectors


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(small_geometries())
def test_property_dp_equals_bruteforce(inst):
    _check_against_bruteforce(inst)


@pytest.mark.slow
@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(small_geometries())
def test_property_dp_equals_bruteforce_many(inst):
    _check_against_bruteforce(inst)


def test_residue_scaling_is_exact():
    # The float-estimated quotient must give the exact remainder for every
    # residue, including the extremes 0 and p - 1.
    rng = np.random.default_rng(7)
    cols = Columns([("binom", 97, 10 ** 120)], 40, "residues")
    mods = cols.mods
    weights = rng.integers(0, mods, size=(2000, len(mods)))
    weights[:3] = [0 * mods, mods - 1, mods // 2]
    for t in (1, 17, 40):
        expected = [[(int(w) * int(m)) % int(p) for w, m, p in zip(row, cols.mult[t], mods)]
                    for row in weights[:50].tolist()]
        got = cols.scale(weights.copy(), t)
        assert got[:50].tolist() == expected
        assert ((got >= 0) & (got < mods)).all()
        assert (got == (weights.astype(object) * cols.mult[t].astype(object) % mods.astype(object))).all()


@pytest.mark.parametrize("shape, axes", [((10, 3, 1), (0, 1)), ((3, 10, 1), (1, 0))])
def test_scan_order_follows_the_long_axis(shape, axes):
    # Scanning across the short side keeps the frontier narrow.
    inst = layer_instance(Network(shape, (ConvLayer(3, 2, shared=False),)))
    comp = components(inst)[0]
    chosen = dp.plan_block(inst, comp, list(inst.caps))
    other = dp.plan_block(inst, comp, list(inst.caps), order=axes[::-1])
    assert chosen.axes == axes and chosen.max_width < other.max_width
    assert dp.count(inst).regions == dp.count(inst, order=axes[::-1]).regions

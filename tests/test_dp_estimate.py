"""The dp backend's up-front checks: the pilot estimate of peak states, the
array check of the scan frontier, and their refusals (exit 2, one line)."""

from __future__ import annotations

import time

import pytest

from ilpregions.backends.dp import engine as dp
from ilpregions.backends.dp import estimate, order
from ilpregions.backends.dp.plan import PlanningTimeout
from ilpregions.backends.dp.run import Stopped
from ilpregions.core.errors import ILPRegionsError, TooLargeError
from ilpregions.core.geometry import layer_instance
from ilpregions.core.spec import ConvLayer, Network


def _conv(shape, kernel, filters):
    return layer_instance(Network(shape, (ConvLayer(filters, kernel, shared=False),)))


def test_fit_peak_extrapolates_the_growth_of_the_log_ratio():
    # 2x2 kernels, measured peaks by width: 29, 123, 558, 2894, 17105.
    assert 0.8 < estimate.fit_peak([(3, 29), (4, 123), (5, 558)], 6) / 2894 < 1.25
    assert 0.8 < estimate.fit_peak([(4, 123), (5, 558), (6, 2894)], 7) / 17105 < 1.25
    # The growth of the log ratio is clamped at zero: never below geometric.
    assert estimate.fit_peak([(1, 100), (2, 1000), (3, 2000)], 4) == 4000
    assert estimate.fit_peak([(1, 5), (2, 9)], 2) == 9


@pytest.mark.parametrize("shape, kernel, filters", [((6, 6, 1), 3, 4), ((7, 7, 1), 2, 4), ((5, 5, 2), 2, 3)])
def test_estimate_is_close_and_does_not_refuse_what_fits(shape, kernel, filters):
    inst = _conv(shape, kernel, filters)
    out = dp.count(inst, estimate="always")
    assert out.complete
    guess, measured = out.details["estimated_peak_states"], out.details["peak_states"]
    assert measured / 3 <= guess <= 3 * measured
    assert "estimated_peak_states" not in dp.count(inst).details   # "auto": narrow blocks get no pilot


@pytest.mark.slow
def test_estimate_on_the_benchmark_lines():
    # Measured peaks of results/dp_benchmark.md (6x6/3x3, 8x8/2x2, 10x10/2x2, 8x8/3x3).
    for shape, kernel, filters, measured in [((6, 6, 1), 3, 9, 2558), ((8, 8, 1), 2, 4, 17105),
                                             ((10, 10, 1), 2, 4, 828626), ((8, 8, 1), 3, 16, 580711)]:
        guess = dp.estimate(_conv(shape, kernel, filters))["estimated_peak_states"]
        assert measured / 2 <= guess <= 2 * measured


def test_a_clearly_too_big_block_is_refused_quickly_with_the_estimate():
    inst = _conv((6, 6, 1), 3, 9)        # measured peak: 2,558 states, about 0.7 MiB
    start = time.perf_counter()
    with pytest.raises(TooLargeError) as caught:
        dp.count(inst, memory_cap=2 ** 16, estimate="always")
    message = str(caught.value)
    assert "estimate: about" in message and "states at the peak" in message
    assert "Dask workers of this cap" in message
    assert time.perf_counter() - start < 10
    # Under "auto", this narrow block gets no pilot and fails at a step instead.
    assert not estimate.worth_estimating(dp.plan_block(inst, list(range(inst.positions)),
                                                       list(inst.caps)), inst.channels)


def test_a_wide_frontier_is_refused_before_planning(cli, tmp_path):
    inst = _conv((40, 40, 3), 3, 16)     # 1,444 positions; the best scan keeps 83 pixels
    start = time.perf_counter()
    with pytest.raises(TooLargeError, match="pixels on the scan frontier"):
        dp.count(inst)
    assert time.perf_counter() - start < 20
    path = tmp_path / "wide.toml"
    path.write_text('input = [40, 40, 3]\n[[layers]]\ntype = "conv"\nfilters = 16\nkernel = 3\n')
    code, out, err = cli("count", str(path), "--backend", "dp", "--memory-cap", "1")
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1 and "frontier" in err


def test_narrowest_frontier_matches_the_bitmask_count():
    inst = _conv((8, 6, 1), 3, 2)
    comp = list(range(inst.positions))
    coords = [inst.position_coords(p) for p in comp]
    fields = [inst.fields[p] for p in comp]
    widest, name = order.narrowest_frontier(coords, fields)
    by_masks = {n: order.widest_frontier([fields[j] for j in idx])
                for n, idx in order.candidate_orders(coords)}
    assert widest == min(by_masks.values()) == by_masks[name]


def test_symmetric_scan_orders_are_planned_once():
    inst = _conv((6, 6, 1), 3, 4)
    comp = list(range(inst.positions))
    coords = [inst.position_coords(p) for p in comp]
    fields = [inst.fields[p] for p in comp]
    ranked = order.choose(coords, fields, list(inst.caps))
    assert [name for _, name, _ in ranked] == ["rows 01"]
    # A non-square block keeps the comparison (the long axis wins).
    inst = _conv((9, 5, 1), 2, 2)
    comp = list(range(inst.positions))
    ranked = order.choose([inst.position_coords(p) for p in comp], [inst.fields[p] for p in comp])
    assert ranked[0][1] == "rows 01"


def test_internal_control_flow_errors_are_ilpregions_errors():
    assert issubclass(PlanningTimeout, ILPRegionsError) and issubclass(Stopped, ILPRegionsError)
    assert Stopped([1, 2]).totals == [1, 2]


@pytest.mark.slow
def test_the_9x9_line_is_refused_up_front(cli, tmp_path):
    path = tmp_path / "n99.toml"
    path.write_text('input = [9, 9, 1]\n[[layers]]\ntype = "conv"\nfilters = 9\nkernel = 3\n')
    start = time.perf_counter()
    code, out, err = cli("count", str(path), "--backend", "dp")
    assert code == 2 and "estimate: about" in err and "Dask workers" in err
    assert time.perf_counter() - start < 120


@pytest.mark.slow
def test_a_time_limit_is_honoured_while_planning_and_piloting(cli, tmp_path):
    path = tmp_path / "n99.toml"
    path.write_text('input = [9, 9, 1]\n[[layers]]\ntype = "conv"\nfilters = 9\nkernel = 3\n')
    start = time.perf_counter()
    code, out, err = cli("count", str(path), "--backend", "dp", "--time-limit", "10", "--json")
    assert code == 3 and time.perf_counter() - start < 20


@pytest.mark.slow
def test_a_1000x1000x3_input_is_refused_in_one_line(tmp_path):
    import subprocess
    import sys

    path = tmp_path / "big.toml"
    path.write_text('input = [1000, 1000, 3]\n[[layers]]\ntype = "conv"\nfilters = 16\nkernel = 3\n')
    proc = subprocess.run([sys.executable, "-m", "ilpregions", "count", str(path), "--backend", "dp",
                           "--memory-cap", "1"], capture_output=True, text=True, timeout=1200)
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1
    assert "pixels on the scan frontier" in proc.stderr


@pytest.mark.parametrize("seed", range(6))
def test_a_window_never_has_a_wider_frontier_than_its_block(seed):
    # The window check refuses on a lower bound: for every candidate order,
    # a subset of positions scanned in the induced order keeps no more pixels
    # on its frontier than the whole block does.
    import random

    rng = random.Random(seed)
    shape = (rng.randint(5, 12), rng.randint(5, 12), rng.randint(1, 2))
    layer = ConvLayer(2, (rng.randint(2, 3), rng.randint(2, 3)), stride=rng.randint(1, 2),
                      padding=rng.randint(0, 1), shared=False)
    inst = layer_instance(Network(shape, (layer,)))
    block = max(dp.components(inst), key=len)
    full = {name: order.widest_frontier([inst.fields[block[j]] for j in idx])
            for name, idx in order.candidate_orders([inst.position_coords(p) for p in block], unique=False)}
    sub = sorted(rng.sample(block, max(2, len(block) // 2)))
    part = {name: order.widest_frontier([inst.fields[sub[j]] for j in idx])
            for name, idx in order.candidate_orders([inst.position_coords(p) for p in sub], unique=False)}
    assert all(part[name] <= full[name] for name in full)
    assert order.narrowest_frontier(inst.coords_array(sub), [inst.fields[p] for p in sub])[0] == min(part.values())


def test_a_wide_layer_is_refused_from_a_window_before_it_is_split_into_blocks(monkeypatch):
    from ilpregions.backends.dp import frontier

    inst = _conv((80, 80, 1), 3, 2)     # 6,084 positions; their 39x39 corner keeps 85 pixels
    monkeypatch.setattr(frontier, "WINDOW_POSITIONS", 2000)
    monkeypatch.setattr(dp, "components", lambda _: pytest.fail("grouped before the window check"))
    with pytest.raises(TooLargeError, match="at least 85 pixels on the scan frontier in every scan order "
                                            r"\(found on 1521 of its positions"):
        dp.count(inst)
    # With the window as large as the layer, the block check decides, on the whole block.
    monkeypatch.undo()
    with pytest.raises(TooLargeError, match="a block of 6084 positions keeps at least 163 pixels"):
        dp.count(inst)


def test_the_flat_field_arrays_and_grouping_match_the_tuples():
    from ilpregions.core.combinatorics import connected_groups
    from ilpregions.core.flow_network import _all_components, incidence

    inst = _conv((9, 7, 2), (3, 2), 2)
    lengths, pixels = incidence(inst).lengths, incidence(inst).pixel
    assert [tuple(pixels[a:b].tolist()) for a, b in zip(
        [0, *lengths.cumsum()[:-1].tolist()], lengths.cumsum().tolist())] == list(inst.fields)
    assert [tuple(row) for row in inst.coords_array(range(inst.positions)).tolist()] == \
        [inst.position_coords(p) for p in range(inst.positions)]
    spread = layer_instance(Network((9, 9, 1), (ConvLayer(1, 2, stride=3, padding=1, shared=False),)))
    for case in (inst, spread):
        assert _all_components(case) == [sorted(g) for g in connected_groups(case.fields)
                                         if case.fields[g[0]]]

"""The compiled DP step against the numpy step, and its memory arithmetic."""

from __future__ import annotations

import numpy as np
import pytest

from ilpregions.backends.dp import engine as dp
from ilpregions.backends.dp import hashstep, run
from ilpregions.backends.dp.weights import Columns
from ilpregions.core.errors import TooLargeError
from ilpregions.core.geometry import layer_instance
from ilpregions.core.set_system import components
from ilpregions.core.spec import ConvLayer, Network


def _run(inst, kernel, memory_cap=dp.DEFAULT_MEMORY_CAP, order="auto"):
    comp = components(inst)[0]
    plan = dp.plan_block(inst, comp, list(inst.caps), order)
    cols = Columns([("binom", inst.filters, 10 ** 60), ("unit", 0, 10 ** 20)], max(inst.caps), "residues")
    stats: dict = {}
    return run.run_plan(plan, cols, stats=stats, memory_cap=memory_cap, kernel=kernel), stats


@pytest.mark.parametrize("shape, kernel, d1, order", [
    ((4, 5, 2), (2, 3), 5, "auto"),
    ((5, 5, 1), 3, 9, "diagonal+ 01"),
    ((3, 3, 4, 1), 2, 3, "auto"),
])
def test_compiled_step_equals_numpy_step(shape, kernel, d1, order):
    inst = layer_instance(Network(shape, (ConvLayer(d1, kernel, shared=False),)))
    compiled, stats = _run(inst, "compiled", order=order)
    plain, _ = _run(inst, "numpy", order=order)
    assert stats["compiled_steps"] == stats["steps"] > 0
    assert compiled == plain
    assert compiled[0] == dp.count(inst).regions


def test_compiled_step_refuses_over_the_memory_cap():
    inst = layer_instance(Network((5, 5, 1), (ConvLayer(9, 3, shared=False),)))
    with pytest.raises(TooLargeError, match=r"over the memory cap of 20.00 KiB"):
        _run(inst, "compiled", memory_cap=20 * 2 ** 10)


def test_candidates_and_row_bytes_arithmetic():
    inst = layer_instance(Network((3, 3, 1), (ConvLayer(4, 2, shared=False),)))
    plan = dp.plan_block(inst, components(inst)[0], list(inst.caps))
    states = plan.initial[None, :]
    step = plan.steps[0]
    # One state: t = 0..min(cap, f(W)) are its candidates.
    assert hashstep.candidates(states, step) == min(step.cap, int(states[0, step.window])) + 1
    assert hashstep.row_bytes(16, 3) == 16 + 8 + 36 + 32
    assert np.dtype(plan.initial.dtype).itemsize == 1


def test_numpy_step_over_the_cap_falls_back_to_the_compiled_step():
    # 6x6, 3x3: the numpy step holds ~18,000 candidates (several MiB), the
    # compiled step only the ~2,500 distinct states.
    inst = layer_instance(Network((6, 6, 1), (ConvLayer(9, 3, shared=False),)))
    out = dp.count(inst, memory_cap=3 * 2 ** 20)
    assert out.regions == dp.count(inst).regions
    assert out.details["compiled_steps"] > 0

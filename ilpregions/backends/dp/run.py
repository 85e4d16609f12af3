"""Running the DP along a plan, one stage after another.

Each step goes through one of two exact implementations with the same
result: the numpy step (small stages, Python-int weights) or the compiled
hash-table kernel (large stages; memory follows the distinct states). Long
runs of identical steps on a fixed state set are jumped over by a matrix
power (:mod:`ilpregions.backends.dp.linear`).
"""

from __future__ import annotations

import time

import numpy as np

from ilpregions.backends.dp import hashstep, npstep
from ilpregions.backends.dp.plan import Plan
from ilpregions.backends.dp.weights import Columns, crt, group_weight
from ilpregions.core.errors import ILPRegionsError, TooLargeError

GIB = 2 ** 30
DEFAULT_MEMORY_CAP = 8 * GIB

#: A run of identical steps on a fixed state set is jumped over by
#: Cayley–Hamilton when it has at least this many steps and at most
#: MAX_LINEAR_STATES states.
MIN_LINEAR_RUN = 64
MAX_LINEAR_STATES = 48


class Stopped(ILPRegionsError):
    """Raised inside a block when the deadline passes; carries the partial
    weights (caught by the engine, which reports them as a lower bound)."""

    def __init__(self, totals: list[int]):
        super().__init__("time limit")
        self.totals = totals


_MALLOC_TUNED = False


def tune_malloc() -> None:
    """Keep the numpy step's arrays (a few MiB, allocated and freed every
    step) on the heap instead of fresh mmaps: glibc's dynamic threshold
    otherwise sends them to mmap, and every step then pays page faults on
    new pages (about 8 % of the CPU time on 8x8x1 with 2x2 kernels). The
    compiled step's large tables (above 32 MiB) are still mmapped and touched
    lazily. A no-op off glibc. It changes the allocator of the whole process,
    so the library never calls it: the CLI's ``count`` does (it owns its
    process), and so does the benchmark."""
    global _MALLOC_TUNED
    if _MALLOC_TUNED:
        return
    _MALLOC_TUNED = True
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-3, 32 * 2 ** 20)   # M_MMAP_THRESHOLD: the largest glibc allows on 64-bit
        libc.mallopt(-1, 64 * 2 ** 20)   # M_TRIM_THRESHOLD: keep up to 64 MiB of freed heap
    except (OSError, AttributeError):
        pass


def same_step(a, b) -> bool:
    return (a.window == b.window and a.cap == b.cap and np.array_equal(a.a_idx, b.a_idx)
            and np.array_equal(a.u_idx, b.u_idx) and np.array_equal(a.add, b.add)
            and np.array_equal(a.clip, b.clip))


def use_kernel(states: np.ndarray, step, cols: Columns, mode: str) -> bool:
    """Whether this step runs compiled: ``mode`` "auto" decides by size."""
    if mode == "numpy" or cols.mods is None or states.dtype.itemsize != 1:
        return False
    if mode == "compiled":
        return True
    return hashstep.candidates(states, step) >= hashstep.COMPILE_AT and hashstep.available()


def one_step(states, weights, step, cols: Columns, memory_cap: int, stats: dict, label: str,
             kernel: str = "auto"):
    """The merged successors of a stage: ``(states, weights)``."""
    if use_kernel(states, step, cols, kernel):
        rows, new_weights, _ = hashstep.table_step(states, weights, step, cols, memory_cap, stats, label)
        return rows, new_weights
    if cols.mods is not None and weights.dtype != np.int64:
        weights = weights.astype(np.int64)   # numpy sums residues in int64
    try:
        rows, cand_w, _, _ = npstep.expand(states, weights, step, cols, memory_cap, stats, label)
    except TooLargeError:
        # The numpy step holds every candidate; the compiled one only the
        # distinct successors, so it may still fit under the cap.
        if kernel != "auto" or not use_kernel(states, step, cols, "compiled") or not hashstep.available():
            raise
        rows, new_weights, _ = hashstep.table_step(states, weights, step, cols, memory_cap, stats, label)
        return rows, new_weights
    return npstep.merge(rows, cand_w, cols)


def jump(states, weights, step, cols: Columns, r: int, stats: dict, memory_cap: int):
    """Apply the same step r times to a state set that the step maps onto
    itself: one integer matrix per weight group, raised to the r-th power."""
    from ilpregions.backends.dp.linear import power_apply

    rows, _, src, ts = npstep.expand(states, cols.ones(len(states)), step, cols, memory_cap, stats, "jump",
                                     track=True)
    both = npstep.pack_keys(np.concatenate([states, rows]))
    position = {k: i for i, k in enumerate(both[:len(states)].tolist())}
    dst = [position[k] for k in both[len(states):].tolist()]
    out = np.empty_like(weights)
    n = len(states)
    for kind, x, lo, hi in cols.groups:
        matrix = [[0] * n for _ in range(n)]
        for d, s_, t in zip(dst, src.tolist(), ts.tolist()):
            matrix[d][s_] += group_weight(kind, x, t)
        if cols.mods is None:
            out[:, lo] = power_apply(matrix, [int(v) for v in weights[:, lo]], r)
            continue
        # Residues: every state's weight is below the group's bound, hence
        # below the product of its primes, so CRT recovers it exactly.
        mods = cols.mods[lo:hi].tolist()
        vector = [crt([int(v) for v in row], mods) for row in weights[:, lo:hi]]
        result = power_apply(matrix, vector, r)
        for col, p in enumerate(mods, start=lo):
            out[:, col] = [v % p for v in result]
    return out


def _fixed_point(states, new_states, cols: Columns) -> bool:
    """True when a small stage is mapped onto itself (same rows, any order)."""
    if len(new_states) > MAX_LINEAR_STATES or new_states.shape != states.shape:
        return False
    weights = cols.ones(len(states))
    return np.array_equal(npstep.merge(new_states, weights, cols)[0], npstep.merge(states, weights, cols)[0])


def run_plan(plan: Plan, cols: Columns, *, deadline: float | None = None, progress=None,
             memory_cap: int = DEFAULT_MEMORY_CAP, stats: dict | None = None,
             jump_runs: bool = True, kernel: str = "auto") -> list[int]:
    """Run the DP along a plan; the exact per-group totals.

    Raises :class:`Stopped` (with the totals at the stopping stage) when the
    deadline passes, and :class:`~ilpregions.core.errors.TooLargeError`
    before a step whose arrays would exceed ``memory_cap`` bytes. With
    ``jump_runs``, long runs of identical steps on a self-mapped state set are
    applied as one matrix power. ``kernel``: "auto", "numpy" or "compiled".
    """
    stats = stats if stats is not None else {}
    states = plan.initial[None, :].copy()
    weights = cols.ones(1)
    steps = plan.steps
    number = 0
    while number < len(steps):
        step = steps[number]
        if deadline is not None and time.perf_counter() > deadline:
            raise Stopped(cols.totals(weights))
        new_states, weights = one_step(states, weights, step, cols, memory_cap, stats,
                                       f"step {number + 1} of {len(steps)}", kernel)
        fixed = jump_runs and _fixed_point(states, new_states, cols)
        states = new_states
        stats["peak_states"] = max(stats.get("peak_states", 0), len(states))
        stats["steps"] = stats.get("steps", 0) + 1
        number += 1
        if progress is not None:
            progress.update(1)
        if fixed and number < len(steps) and same_step(steps[number - 1], steps[number]):
            # The previous step mapped this state set onto itself; so does
            # every later step identical to it.
            run = 0
            while number + run < len(steps) and same_step(step, steps[number + run]):
                run += 1
            if run >= MIN_LINEAR_RUN:
                weights = jump(states, weights, step, cols, run, stats, memory_cap)
                stats["steps"] += run
                stats["jumped_steps"] = stats.get("jumped_steps", 0) + run
                number += run
                if progress is not None:
                    progress.update(run)
    return cols.totals(weights)

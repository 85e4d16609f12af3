"""One DP step through the compiled hash-table kernel, with memory arithmetic.

Before a step, the memory it may use is fixed by arithmetic: the bytes held
by the current stage, the table, and per new row its bytes, hash and
weight accumulators. The arrays for the new rows are reserved at that size
but only the rows actually written are touched (the operating system commits
pages lazily), so the resident memory follows the distinct successors. If
the successors do not fit, the kernel stops at the reserved size and the step
is refused with the numbers (``TooLargeError``); nothing is allocated beyond
the cap.
"""

from __future__ import annotations

import numpy as np

from ilpregions.backends.dp.npstep import size_text
from ilpregions.core.errors import TooLargeError

#: A stage with at least this many candidate successors uses the compiled
#: kernel. Loading numba and its compiled code costs one to two seconds per
#: process; below this size the numpy step finishes in well under that.
COMPILE_AT = 200_000


def available() -> bool:
    """True when numba can be imported (the kernels are then usable)."""
    try:
        import numba  # noqa: F401
    except ImportError:  # pragma: no cover - numba is a test dependency
        return False
    return True


def candidates(states: np.ndarray, step) -> int:
    """How many successors the step builds (before merging): Σ_s (min(cap, f_s(W)) + 1)."""
    fw = states[:, step.window].astype(np.int64)
    return int(np.minimum(fw, step.cap).sum()) + len(states)


def row_bytes(width: int, k: int) -> int:
    """Bytes per new row: the row, its hash, k 64-bit accumulators, k final
    32-bit residues, and up to four 64-bit table slots (load factor ≤ 1/2,
    table size rounded up to a power of two)."""
    return width + 8 + 12 * k + 32


def table_for(capacity: int) -> np.ndarray:
    # Entries are 64-bit (hash tag | index + 1), 0 = empty; load ≤ 1/2.
    size = 1 << max(4, (2 * capacity - 1).bit_length())
    return np.zeros(size, dtype=np.uint64)


def kernel_inputs(step, cols) -> tuple:
    """The step's arrays in the kernel's types (cached on the step object)."""
    cache = getattr(step, "_kernel_inputs", None)
    if cache is None:
        # add/clip as 64-bit words of bytes (the row layout), for the SWAR ops.
        cache = (np.ascontiguousarray(step.a_idx, dtype=np.int32), np.ascontiguousarray(step.u_idx, dtype=np.int32),
                 np.ascontiguousarray(step.add, dtype=np.uint8).view(np.uint64),
                 np.ascontiguousarray(step.clip, dtype=np.uint8).view(np.uint64))
        object.__setattr__(step, "_kernel_inputs", cache)
    arrays = getattr(cols, "_kernel_arrays", None)
    if arrays is None:
        arrays = (np.ascontiguousarray(np.array(cols.mult, dtype=np.int64).astype(np.uint64)),
                  cols.mods.astype(np.uint64))
        cols._kernel_arrays = arrays
    return cache + arrays


def table_step(states: np.ndarray, weights: np.ndarray, step, cols, memory_cap: int, stats: dict,
               label: str, held_elsewhere: int = 0):
    """The merged successors of ``states``: ``(rows int8, weights uint32, hashes)``.

    Raises :class:`TooLargeError` when they would not fit in ``memory_cap``
    bytes (besides ``held_elsewhere``, memory held by the caller).
    """
    from ilpregions.backends.dp import kernels

    width = len(step.a_idx)
    k = cols.width
    total = candidates(states, step)
    held = states.nbytes + weights.nbytes + held_elsewhere
    per_row = row_bytes(width, k)
    room = (memory_cap - held) // per_row
    capacity = int(min(total, room))
    if capacity < 1:
        raise TooLargeError(_refusal(label, held + per_row, memory_cap, len(states), total))
    a_idx, u_idx, add, clip, mult, mods = kernel_inputs(step, cols)
    if weights.dtype != np.uint32:  # residues are below 2^31; one compiled signature
        weights = weights.astype(np.uint32)
    rows = np.empty((capacity, width // 8), dtype=np.uint64)   # reserved, touched row by row
    hashes = np.empty(capacity, dtype=np.uint64)
    acc = np.zeros((capacity, k), dtype=np.uint64)
    table = table_for(capacity)
    src = states.view(np.uint8)
    m = kernels.expand_insert(src, weights, step.window, step.cap, a_idx, u_idx, add, clip, mult, mods,
                              rows, hashes, acc, table, kernels.MULTIPLIERS)
    del table
    if m < 0:
        done = -1 - m
        guess = capacity * len(states) // max(1, done)
        raise TooLargeError(_refusal(label, held + guess * per_row, memory_cap, len(states), total,
                                     more_than=capacity, guess=guess))
    new_weights = kernels.reduce_weights(acc, m, mods)
    del acc
    stats["peak_memory_bytes"] = max(stats.get("peak_memory_bytes", 0), held + m * per_row)
    stats["compiled_steps"] = stats.get("compiled_steps", 0) + 1
    stats["candidates"] = stats.get("candidates", 0) + total
    return rows[:m].view(np.int8), new_weights, hashes[:m]


def _refusal(label, need, cap, n, total, more_than=None, guess=None) -> str:
    states = (f"more than {more_than} distinct successors (about {guess} by extrapolation)"
              if more_than is not None else "its successors")
    workers = -(-need // max(cap, 1))
    return (f"dp: {label}: {n} states with {total} candidate successors; {states} would need about "
            f"{size_text(need)}, over the memory cap of {size_text(cap)} "
            f"(raise `memory_cap`, spread it over about {workers} Dask workers of this cap with "
            f"`dask_workers` or `scheduler`, or try the cpsat backend)")

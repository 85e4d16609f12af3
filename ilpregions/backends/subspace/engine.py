r"""The subspace frontier DP: independent subsets of neuron vectors over GF(p).

For one connected block of positions, scanned as in
:mod:`ilpregions.backends.subspace.plan`, the neurons are processed one at a
time (the d1 neurons of a position together). For a chosen set S the state
is ``V = span(S) ∩ GF(p)^{A}``, A the elements some later neuron still
touches, in RREF with columns in expiry order (docs/tied.md):

* a later neuron v lies inside its own step's frame, so ``v ∈ span(S)`` iff
  ``v ∈ V``, and ``span(S + v) ∩ GF(p)^A = V + <v>``;
* when elements expire, ``V ∩ GF(p)^{A'}`` is V without the rows pivoted on
  them (they are the first columns).

Each step keeps every state and adds ``V + <v>`` when ``v ∉ V``; equal keys
merge with their counts added. The count at the end is the number of subsets
of the block's neurons that are independent over GF(p), which are
independent over ℚ as integer vectors: a proven lower bound.

Time limit. Between two neurons, the total count is exactly the number of
independent subsets of the neurons processed so far: removing neurons never
adds regions, so it is a proven lower bound too (:class:`Stopped`).

Memory. Before each allocation the bytes of the step are estimated from the
current state count (at most twice as many states come out); above the cap
the run is refused with that estimate (:class:`MemoryCapExceeded`).

Examples
--------
>>> from ilpregions.core.spec import Network, ConvLayer
>>> from ilpregions.backends.subspace.plan import supports, best_plan
>>> sup = supports(Network((3, 3, 1), (ConvLayer(2, 2),)))
>>> rng = np.random.default_rng(0)
>>> w = rng.integers(1, PRIME, size=(2, 4))
>>> out = count_block(sup, best_plan(sup, [0, 1, 2, 3]), lambda p: w)
>>> out.count, out.peak_states
(255, 8)
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

import numpy as np

from ilpregions.backends.subspace import kernel
from ilpregions.backends.subspace.kernel import PRIME, key_words, limbs_to_int
from ilpregions.backends.subspace.plan import ScanPlan, Supports
from ilpregions.core.errors import TooLargeError
from ilpregions.theory.gfp import null_space, rref

#: The key stores the pivot set in one 64-bit word.
MAX_FRAME = 64


class Stopped(Exception):
    """The deadline passed; ``count`` is the exact count of the processed neurons (a lower bound)."""

    def __init__(self, count: int, step: int, steps: int, peak_states: int = 0):
        super().__init__(f"time limit reached at step {step} of {steps}")
        self.count, self.step, self.steps, self.peak_states = count, step, steps, peak_states


class MemoryCapExceeded(TooLargeError):
    """A step would need more memory than allowed; raised before allocating it."""


@dataclass(frozen=True)
class BlockCount:
    count: int
    peak_states: int
    peak_bytes: int


def _size(nbytes: int) -> str:
    return f"{nbytes / 2 ** 30:.2f} GiB" if nbytes >= 2 ** 30 else f"{nbytes / 2 ** 20:.1f} MiB"


def _merge(cand_k: np.ndarray, cand_c: np.ndarray, T: int) -> tuple[np.ndarray, np.ndarray]:
    """Merge equal candidate keys (adding counts); compact copies of the distinct rows."""
    bk = np.empty((T, cand_k.shape[1]), dtype=np.uint64)
    bc = np.empty((T, cand_c.shape[1]), dtype=np.uint64)
    m = kernel.dedup(cand_k, cand_c, T, bk, bc)
    if m == T:
        return bk, bc
    return bk[:m].copy(), bc[:m].copy()


def step_bytes(states: int, width_in: int, width_out: int, limbs: int, grow: int = 2) -> int:
    """Bytes of the arrays alive at the peak of one step (the process's own baseline excluded).

    Expanding holds the input and up to ``grow``·states candidates; merging
    (the input released) holds the candidates, their bucketed copy, the
    compacted result and two hashes per candidate.
    """
    cap = grow * states
    expanding = states * (width_in + limbs) + cap * (width_out + limbs)
    merging = 3 * cap * (width_out + limbs) + 2 * cap
    return 8 * max(expanding, merging)


def count_block(sup: Supports, plan: ScanPlan, filters_of: Callable[[int], np.ndarray],
                limbs: int | None = None, deadline: float | None = None, memory_cap: int | None = None,
                on_step: Callable[[int, int], None] | None = None) -> BlockCount:
    """Independent subsets over GF(p) of the neurons of one block.

    ``filters_of(p)`` gives the (d1, taps) residues used at position p.
    ``on_step(i, states)`` is called after each position (for progress bars).
    """
    if plan.max_frame > MAX_FRAME:
        raise TooLargeError(f"active elements: the scan needs {plan.max_frame} at once, beyond the "
                            f"{MAX_FRAME} a state key holds (and far beyond what fits in memory)")
    if limbs is None:
        neurons = len(plan.positions) * sup.filters
        limbs = neurons // kernel.LIMB_BITS + 1
    keys = np.zeros((1, key_words(len(plan.frames[0]) if plan.frames else 0)), dtype=np.uint64)
    counts = np.zeros((1, limbs), dtype=np.uint64)
    counts[0, 0] = 1
    n, peak_states, peak_bytes = 1, 1, 0
    steps = len(plan.positions)
    for i, p in enumerate(plan.positions):
        a = len(plan.frames[i])
        W = key_words(a)
        F = np.asarray(filters_of(p), dtype=np.int64) % PRIME
        taps = sup.taps[p]
        for k in range(F.shape[0]):
            if deadline is not None and time.perf_counter() > deadline:
                raise Stopped(limbs_to_int(kernel.total(counts, n)), i, steps, peak_states)
            need = step_bytes(n, W, W, limbs)
            _check(need, memory_cap, i, steps, n)
            peak_bytes = max(peak_bytes, need)
            v = np.zeros(a, dtype=np.int64)
            v[plan.columns[i]] = F[k, taps]
            cand_k = np.empty((2 * n, W), dtype=np.uint64)
            cand_c = np.empty((2 * n, limbs), dtype=np.uint64)
            T = kernel.expand(keys, counts, n, a, v, PRIME, cand_k, cand_c)
            keys = counts = None   # release the input before merging (counted so in step_bytes)
            keys, counts = _merge(cand_k, cand_c, T)
            cand_k = cand_c = None
            n = len(keys)
            peak_states = max(peak_states, n)
        b = len(plan.frames[i + 1]) if i + 1 < steps else 0
        Wb = key_words(b)
        need = step_bytes(n, W, Wb, limbs, grow=1)   # a remap never adds states
        _check(need, memory_cap, i, steps, n)
        cand_k = np.empty((n, Wb), dtype=np.uint64)
        cand_c = np.empty((n, limbs), dtype=np.uint64)
        C = visible_constraints(sup, plan, filters_of, i)
        T = kernel.remap(keys, counts, n, a, b, plan.keep[i], C, PRIME, cand_k, cand_c)
        keys = counts = None
        keys, counts = _merge(cand_k, cand_c, T)
        cand_k = cand_c = None
        n = len(keys)
        if on_step is not None:
            on_step(i, n)
    return BlockCount(limbs_to_int(kernel.total(counts, n)), peak_states, peak_bytes)


#: Compute what the future can see only while the future is this small (neurons × elements).
MAX_FUTURE_ENTRIES = 60_000


def visible_constraints(sup: Supports, plan: ScanPlan, filters_of, i: int) -> np.ndarray:
    """Rows C (in frame i+1's columns) with ``ker C ∩ GF(p)^A = W``, W = span(future) ∩ GF(p)^A.

    A later set T is independent of the chosen S iff ``V ∩ span(T) = 0``, and
    ``span(T) ∩ GF(p)^A ⊆ W``; so V may be replaced by ``V ∩ W`` without
    changing any future answer (docs/tied.md), and more states merge. A
    superset of W is also safe: when the future is too large to row-reduce,
    no rows are returned (W taken as everything).
    """
    b = len(plan.frames[i + 1]) if i + 1 < len(plan.positions) else 0
    keep = plan.keep[i]
    active = plan.frames[i][keep >= 0]
    future = plan.positions[i + 1:]
    none = np.zeros((0, b), dtype=np.int64)
    if len(active) == 0 or not future:
        return none
    elements = np.unique(np.concatenate([sup.elements[q] for q in future]))
    if len(future) * sup.filters * len(elements) > MAX_FUTURE_ENTRIES:
        return none
    others = np.setdiff1d(elements, active)
    column = {e: j for j, e in enumerate(others.tolist() + active.tolist())}
    F = np.zeros((len(future) * sup.filters, len(column)), dtype=np.int64)
    for k, q in enumerate(future):
        cols = [column[e] for e in sup.elements[q].tolist()]
        F[k * sup.filters:(k + 1) * sup.filters, cols] = np.asarray(filters_of(q))[:, sup.taps[q]]
    R, pivots = rref(F, PRIME)
    basis = R[[j for j, c in enumerate(pivots) if c >= len(others)]][:, len(others):]
    if len(basis) == len(active):
        return none     # W is all of GF(p)^A: nothing to cut
    C_active = null_space(basis, len(active), PRIME) if len(basis) else np.eye(len(active), dtype=np.int64)
    C = np.zeros((len(C_active), b), dtype=np.int64)
    C[:, keep[keep >= 0]] = C_active
    return C


def _check(need: int, cap: int | None, i: int, steps: int, states: int) -> None:
    if cap is not None and need > cap:
        raise MemoryCapExceeded(f"memory-cap: step {i + 1} of {steps} would need about {_size(need)} for its states "
                                f"({states} states in, up to {2 * states} out), over the cap of {_size(cap)}")


__all__ = ["count_block", "BlockCount", "Stopped", "MemoryCapExceeded", "MAX_FRAME", "PRIME", "step_bytes"]

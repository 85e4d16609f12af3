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

Memory. The states live in one store that grows in place (keys, counts, a
hash table; no candidate buffer): a neuron appends the new subspaces and
merges them on the fly. Every growth is checked against the cap before it
is allocated; above it the run is refused with that estimate
(:class:`MemoryCapExceeded`).

Examples
--------
>>> from ilpregions.core.spec import Network, ConvLayer
>>> from ilpregions.backends.subspace.plan import supports, best_plan
>>> sup = supports(Network((3, 3, 1), (ConvLayer(2, 2),)))
>>> rng = np.random.default_rng(0)
>>> w = rng.integers(1, PRIME, size=(2, 4))
>>> out = count_block(sup, best_plan(sup, [0, 1, 2, 3]), lambda p: w)
>>> out.count, out.peak_states     # rank 7 of 8 rows: one circuit, counted in closed form
(255, 1)
>>> count_block(sup, best_plan(sup, [0, 1, 2, 3]), lambda p: w, tail=False).peak_states   # expand to the end
8
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

import numpy as np

from ilpregions.backends.subspace import kernel, linalg
from ilpregions.backends.subspace import tail as tail_mod
from ilpregions.backends.subspace.future import (MAX_FUTURE_ENTRIES, block_matrix,  # noqa: F401
                                                 future_elements, visible_constraints)
from ilpregions.backends.subspace.keys import PRIME, key_words
from ilpregions.backends.subspace.plan import ScanPlan, Supports
from ilpregions.backends.subspace.store import (CHUNK, MAX_LOAD, MemoryCapExceeded, Store,  # noqa: F401
                                                limbs_for, size_text, table_size)
from ilpregions.core.errors import ILPRegionsError, TooLargeError

#: The key stores the pivot set in one 64-bit word.
MAX_FRAME = 64


class Stopped(ILPRegionsError):
    """The deadline passed; ``count`` is the exact count of the processed neurons (a lower bound).

    Not an input error: callers turn it into a partial result (exit 3), never a refusal.
    """

    def __init__(self, count: int, step: int, steps: int, peak_states: int = 0):
        super().__init__(f"time limit reached at step {step} of {steps}")
        self.count, self.step, self.steps, self.peak_states = count, step, steps, peak_states


@dataclass(frozen=True)
class BlockCount:
    count: int
    peak_states: int
    peak_bytes: int


def count_block(sup: Supports, plan: ScanPlan, filters_of: Callable[[int], np.ndarray],
                limbs: int | None = None, deadline: float | None = None, memory_cap: int | None = None,
                on_step: Callable[[int, int], None] | None = None, bound: int | None = None,
                tail: bool = True) -> BlockCount:
    """Independent subsets over GF(p) of the neurons of one block.

    ``filters_of(p)`` gives the (d1, taps) residues used at position p.
    ``on_step(i, states)`` is called after each position (for progress bars).
    ``bound`` (optional) is an upper bound on the count (Theorem 1): it sizes
    the count limbs; without it, 2^neurons is used. ``tail`` allows the
    shortcuts: a closed form when the rows have corank ≤ 2, and counting the
    last neurons per state (:mod:`ilpregions.backends.subspace.tail`) once
    that is cheap; False expands every neuron (the same count, the reference).
    """
    if plan.max_frame > MAX_FRAME:
        raise TooLargeError(f"active elements: the scan needs {plan.max_frame} at once, beyond the "
                            f"{MAX_FRAME} a state key holds (and far beyond what fits in memory)")
    steps, d1 = len(plan.positions), sup.filters
    if limbs is None:
        limbs = limbs_for(min(bound, 2 ** (steps * d1)) if bound is not None else 2 ** (steps * d1))
    where = {"i": 0}
    a0 = len(plan.frames[0]) if steps else 0
    st = Store(key_words(a0, min(a0, d1)), limbs, memory_cap,
                lambda: f"step {where['i'] + 1} of {steps}")
    peak_states = 1
    # the whole block's matrix only when small: a long block's would not fit in memory
    st.matrix = block_matrix(sup, plan.positions, filters_of, limit=MAX_FUTURE_ENTRIES)
    st.future = None if st.matrix is not None else future_elements(sup, plan)
    # per step, the bit mask of the frame columns that stay active
    st.keep_masks = [sum(1 << j for j in np.flatnonzero(k >= 0).tolist()) for k in plan.keep]
    rows = _RowWatch(sup, plan, memory_cap)
    small = count_small(sup, plan.positions, filters_of, st.matrix) if tail and st.matrix is not None else None
    if small is not None:
        for j in range(steps):
            if on_step is not None:
                on_step(j, 1)
        return BlockCount(small.count, 1, max(st.peak, small.peak_bytes))
    for i, p in enumerate(plan.positions):
        where["i"] = i
        a = len(plan.frames[i])
        F = np.asarray(filters_of(p), dtype=np.int64) % PRIME
        for k in range(F.shape[0]):
            v = np.zeros(a, dtype=np.int64)
            v[plan.columns[i]] = F[k, sup.taps[p]]
            _neuron(st, a, v, deadline, i, steps, peak_states)
            peak_states = max(peak_states, st.n)
        _next_frame(st, sup, plan, filters_of, i, deadline, peak_states)
        rows.step_done(i, st)
        if on_step is not None:
            on_step(i, st.n)
        if tail and i + 1 < steps and _tail_pays(st, sup, plan, i):
            count = _count_tail(st, sup, plan, filters_of, i, deadline, peak_states)
            for j in range(i + 1, steps):
                if on_step is not None:
                    on_step(j, st.n)
            return BlockCount(count, peak_states, st.peak)
    return BlockCount(st.counted(), peak_states, st.peak)


def count_small(sup: Supports, positions, filters_of, matrix=None) -> BlockCount | None:
    """The count of a block that needs no scan (one state at most), or None.

    Two cases: the block's rows have corank ≤ 2 (a closed form), or it has
    at most ``MAX_TAIL`` neurons and at most ``TAIL_SMALL`` subsets can be
    independent (one search over all of them). Neither keeps states, so no
    scan plan is needed and the frame limit does not apply. ``matrix`` is
    :func:`block_matrix` of ``positions`` (computed here when not given).
    """
    matrix = block_matrix(sup, positions, filters_of, limit=MAX_FUTURE_ENTRIES) if matrix is None else matrix
    if matrix is None:
        return None
    G = matrix[0]
    closed = _corank_closed_form(G)
    if closed is not None:
        return BlockCount(closed, 1, 2 * G.nbytes)   # the matrix and its row reduction
    if searched_whole(G.shape[0], G.shape[1]):
        return BlockCount(int(tail_mod.independent_subsets(np.ascontiguousarray(G))), 1, 2 * G.nbytes)
    return None


def searched_whole(neurons: int, elements: int) -> bool:
    """Whether :func:`count_small` searches a block of this size whole (geometry only)."""
    return neurons <= tail_mod.MAX_TAIL and tail_mod.leaves_bound(neurons, elements) <= TAIL_SMALL


def closed_form_possible(neurons: int, elements: int) -> bool:
    """Whether :func:`_corank_closed_form` tries a block of this size: corank ≤ 2 needs
    neurons ≤ elements + 2, and its row reduction is kept under ``MAX_FUTURE_ENTRIES`` entries."""
    return neurons <= elements + 2 and neurons * (elements + neurons) <= MAX_FUTURE_ENTRIES


def _corank_closed_form(G: np.ndarray) -> int | None:
    """The number of independent subsets of the N rows of G in closed form
    when their corank N − rank is at most 2, else None.

    A set of rows is independent iff the other rows span the dual matroid,
    which has rank c = N − rank and is represented by a basis y_1..y_c of
    {y : y·G = 0}; row e becomes the dual vector w_e = (y_1[e], .., y_c[e]).
    c = 0: every subset, 2^N. c = 1: the non-spanning sets are those inside
    the loops (w_e = 0), 2^N − 2^loops. c = 2: a non-spanning set holds
    loops and rows of at most one parallel class of the w_e, so
    2^N − 2^loops · (1 + Σ_classes (2^|class| − 1)). One row reduction of Gᵀ
    gives the rank and the y's (docs/tied.md, "Closed forms").
    """
    N, E = G.shape
    if N == 0 or not closed_form_possible(N, E):
        return None
    R, piv = linalg.rref(np.ascontiguousarray(G.T))
    corank = N - len(piv)
    if corank == 0:
        return 2 ** N
    if corank > 2:
        return None
    pivots = piv.tolist()
    taken = set(pivots)
    free = [c for c in range(N) if c not in taken]
    rows = R[:len(pivots)].tolist()
    # y_i: 1 at its free column f, −R[row, f] at each pivot column (only zero/non-zero and ratios matter)
    Y = []
    for f in free:
        y = [0] * N
        y[f] = 1
        for row, c in zip(rows, pivots):
            y[c] = -row[f] % PRIME
        Y.append(y)
    if corank == 1:
        return 2 ** N - 2 ** Y[0].count(0)
    loops, classes = 0, []          # classes: [a, b, size], (a, b) a representative direction
    for a, b in zip(Y[0], Y[1]):
        if not (a or b):
            loops += 1
            continue
        for found in classes:        # parallel iff the 2×2 determinant vanishes (no inverses needed)
            if (a * found[1] - b * found[0]) % PRIME == 0:
                found[2] += 1
                break
        else:
            classes.append([a, b, 1])
    return 2 ** N - 2 ** loops * (1 + sum(2 ** size - 1 for _, _, size in classes))


#: Count the remaining neurons per state once the search visits at most this many subsets per state
#: (on average): then it costs about what expanding them would.
TAIL_PER_STATE = 64
#: ... or at most this many in all (a few milliseconds at most).
TAIL_SMALL = 5000
#: ... or, when expanding one more position could pass the memory cap, at most this many in all.
TAIL_BUDGET = 2 * 10 ** 10


def _tail_pays(st: Store, sup: Supports, plan: ScanPlan, i: int) -> bool:
    """Whether to count the rest per state: few neurons left and a cheap search, or no room to expand."""
    f = (len(plan.positions) - i - 1) * sup.filters
    if f > tail_mod.MAX_TAIL:
        return False
    cols, b = tail_mod.tail_columns(sup, plan, i)
    hist = kernel.rank_histogram(st.K, st.n, st.W, b).tolist()
    visits = sum(h * tail_mod.leaves_bound(f, len(cols) - r) for r, h in enumerate(hist) if h)
    if visits <= max(TAIL_PER_STATE * st.n, TAIL_SMALL):
        return True
    # the next position may multiply the states by up to 2^d1
    per_state = 8 * (st.W + 2 * st.L) + 8 / MAX_LOAD
    crowded = st.cap is not None and st.nbytes() + st.n * (2 ** sup.filters - 1) * per_state > st.cap
    return crowded and visits <= TAIL_BUDGET


def _count_tail(st: Store, sup, plan, filters_of, i: int, deadline, peak: int) -> int:
    """Σ count(V) · (independent extensions of V by the remaining neurons), in slices."""
    cols, b = tail_mod.tail_columns(sup, plan, i)
    U = tail_mod.tail_vectors(sup, plan, filters_of, i, cols, PRIME)
    bins = np.zeros((2 ** U.shape[0] + 1, st.L + 1), dtype=np.uint64)
    start, slice_ = 0, max(1, CHUNK >> 4)
    while start < st.n:
        if deadline is not None and time.perf_counter() > deadline:
            raise Stopped(st.counted(), i + 1, len(plan.positions), peak)
        stop = min(st.n, start + slice_)
        tail_mod.count_tail(st.K, st.C, start, stop, b, st.W, st.L, U, bins)
        start = stop
    return tail_mod.bins_total(bins)


class _RowWatch:
    """Refuse early, by a projection, a block whose states clearly outgrow the memory cap.

    The states grow with the rows already scanned (docs/tied.md, "Where the
    wall is"). After step i, j steps into row k ≥ 2 (rows along the outer
    scan axis), with s the states at the end of row k − 1 and n the states
    now, the growth per step r = (n / s)^(1/j) is assumed for the steps left
    before the last row. The last row, where the cut to what the future can
    see shrinks the states, is left out, so the projection n · r^left tends
    to fall *short* of the real peak. It is an estimate, and the refusal
    says so.
    """

    def __init__(self, sup: Supports, plan: ScanPlan, cap: int | None):
        self.cap = cap
        axis = plan.axes[0] if len(plan.axes) > 1 else None
        self.row = None if axis is None else [sup.coords[p][axis] for p in plan.positions]
        if self.row is not None:
            self.last_row_start = self.row.index(self.row[-1])
        self.rows_done = 0
        self.row_end = (0, 0)      # (step, states) at the end of the last finished row

    def step_done(self, i: int, st: Store) -> None:
        if self.cap is None or self.row is None or i + 1 >= len(self.row):
            return
        if self.rows_done >= 1:
            self._project(i, st)
        if self.row[i] != self.row[i + 1]:
            self.rows_done += 1
            self.row_end = (i, st.n)

    def _project(self, i: int, st: Store) -> None:
        end, s = self.row_end
        j, left = i - end, self.last_row_start - i - 1
        if j < 1 or left < 1 or st.n <= s or s < 1:
            return
        r = (st.n / s) ** (1 / j)
        states = st.n * r ** left
        per_state = 8 * (st.W + 2 * st.L) + 8 / MAX_LOAD   # key, count and its old copy, table slots
        need = states * per_state
        if need > self.cap:
            raise MemoryCapExceeded(
                f"memory-cap: estimated, not measured: the states grew {r:.3g}-fold per step over the last "
                f"{j} step(s) ({s} -> {st.n} at step {i + 1} of {len(self.row)}); {left} more such steps "
                f"before the last row give about {states:.3g} states, about {need / 2 ** 30:.3g} GiB, "
                f"over the cap of {size_text(self.cap)}")


def _neuron(st: Store, a: int, v: np.ndarray, deadline, i: int, steps: int, peak: int) -> None:
    """One neuron on every state, in slices (deadline checked, store grown, between slices)."""
    n0 = st.n
    old = st.C[:n0 * st.L].copy()   # the counts before the step: what every addition reads
    st.extra = old.nbytes
    st._charge(0, n0)
    start = 0
    while start < n0:
        if deadline is not None and time.perf_counter() > deadline:
            raise Stopped(st.counted(0, n0, old), i, steps, peak)
        stop = min(n0, start + CHUNK)
        st.reserve(st.n + stop - start)
        st.n = kernel.expand(st.K, st.C, old, start, stop, st.n, a, st.W, st.L, v, st.table)
        start = stop
    st.extra = 0


def _next_frame(st: Store, sup, plan, filters_of, i: int, deadline, peak: int) -> None:
    """Move the states to frame i+1 (expired columns dropped, cut to what the future sees), merging."""
    steps = len(plan.positions)
    a = len(plan.frames[i])
    b = len(plan.frames[i + 1]) if i + 1 < steps else 0
    Cm, visible = visible_constraints(sup, plan, filters_of, i, st.matrix, st.future)
    keepmask = st.keep_masks[i]
    kept = kernel.max_rank(st.K, st.n, st.W, np.uint64(keepmask)) if keepmask else 0
    Wb = key_words(b, min(b, min(kept, visible) + sup.filters))
    n, Wa = st.n, st.W
    st.extra = 0 if Wb <= Wa else 8 * n * Wb
    st._charge(8 * table_size(2 * n) - st.table.nbytes, n)
    out = st.K if Wb <= Wa else np.empty(n * Wb, dtype=np.uint64)
    st.table = None
    st.table = np.zeros(table_size(2 * n), dtype=np.uint64)   # room for the next neurons too
    m, start = 0, 0
    while start < n:
        if deadline is not None and time.perf_counter() > deadline:
            # merged rows hold the counts of rows < start; rows >= start are untouched
            raise Stopped(st.counted(0, m) + st.counted(start, n), i, steps, peak)
        stop = min(n, start + CHUNK)
        m = kernel.remap(st.K, st.C, start, stop, m, a, Wa, b, Wb, st.L, plan.keep[i], Cm, out, st.table)
        start = stop
    st.K, st.W, st.n, st.extra = out, Wb, m, 0


__all__ = ["count_block", "count_small", "searched_whole", "closed_form_possible", "BlockCount", "Stopped", "MemoryCapExceeded", "MAX_FRAME", "PRIME", "visible_constraints",
           "block_matrix"]

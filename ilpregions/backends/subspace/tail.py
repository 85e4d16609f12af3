r"""The last neurons of a block, counted per state instead of expanded.

Near the end of a scan the states are many and each remaining position
could still multiply them by up to 2^d1, while only a few neurons remain.
Then, for each state V (in the frame after step i) and the f remaining
neurons ``u_1 .. u_f``, the number of their subsets T that extend the
chosen set S independently is counted directly: S ∪ T is independent iff T
is and ``V ∩ span(T) = 0`` (span(S) meets the later elements only through
V, docs/tied.md §3), i.e. iff ``rank([V; T]) = dim V + |T|``. A depth-first
search over the remaining neurons (take u_j if it is independent of what is
taken, and always also skip it) visits exactly those subsets. The block's
count is Σ_V count(V) · leaves(V): the same number the expanding steps would
give, with no new states.

Each state first projects the remaining neurons to the quotient by V (the
non-pivot columns of V's RREF), so the search works in dimension
u − dim V. Ranks are tested without inverses: a vector is reduced against the
echelon rows by ``x ← piv·x − x[c]·row`` (a non-zero multiple of the true
reduction), which is enough to decide whether it vanishes.

>>> from ilpregions.core.spec import Network, ConvLayer
>>> from ilpregions.backends.subspace.plan import supports, best_plan
>>> from ilpregions.backends.subspace.engine import count_block
>>> sup = supports(Network((4, 4, 1), (ConvLayer(2, 2),)))
>>> w = np.random.default_rng(0).integers(1, 2 ** 31 - 1, size=(2, 4))
>>> plan = best_plan(sup, list(range(9)))
>>> count_block(sup, plan, lambda p: w).count == count_block(sup, plan, lambda p: w, tail=False).count
True
"""

from __future__ import annotations

from functools import lru_cache
from math import comb

import numpy as np
from ilpregions.core.numba_cache import njit

from ilpregions.backends.subspace.future import block_matrix
from ilpregions.backends.subspace.keys import mul_mod, sub_mod, decode

#: At most this many remaining neurons are searched per state (the leaves are tallied in 2^f bins).
MAX_TAIL = 16


@lru_cache(maxsize=4096)
def leaves_bound(f: int, room: int) -> int:
    """Subsets of f neurons that can be independent in ``room`` free dimensions: Σ_{t ≤ room} C(f, t)."""
    return sum(comb(f, t) for t in range(min(f, max(room, 0)) + 1))


@njit(cache=True)
def _project(K, base, b, W, M, U, X):
    """Reduce the rows of U modulo the state V (RREF in the first b columns); keep the non-pivot columns.

    Those columns are coordinates of the quotient by V, so the subsets of
    the neurons that are independent *together with V* are exactly the
    independent subsets of the rows of X. Returns the quotient dimension.
    """
    f, u = U.shape
    mask = decode(K, base, b, M) if b > 0 else np.uint64(0)
    d = 0
    for c in range(u):
        if c >= b or not ((mask >> np.uint64(c)) & np.uint64(1)):
            for k in range(f):
                acc = U[k, c]
                for j in range(c if c < b else 0):   # V's rows are 0 beyond its frame
                    # x[c] - Σ_j x[j]·M[j, c] over the pivots j < c (row j has 1 at j, 0 at other pivots)
                    if (mask >> np.uint64(j)) & np.uint64(1) and U[k, j] != 0 and M[j, c] != 0:
                        acc = sub_mod(acc, mul_mod(U[k, j], M[j, c]))
                X[k, d] = acc
            d += 1
    return d


# long: one compiled depth-first search; splitting it would add calls to the hot path
@njit(cache=True)
def _leaves(X, dim, f, Y, phase, rk):
    """The subsets of the rows of X (f × dim) that are linearly independent.

    Depth-first over the rows: row d is taken if it is independent of the
    rows taken, and always also skipped; each leaf is one independent
    subset. ``Y[r]`` holds every later row reduced modulo the r rows taken
    on the current path (a non-zero multiple of the reduction, zero on the
    taken rows' pivot columns), so row d is independent iff ``Y[r, d]`` is
    non-zero, and only a take does arithmetic: it reduces the later rows by
    one more pivot into ``Y[r + 1]``. Scratch: ``Y`` (f + 1, f, dim),
    ``phase`` and ``rk`` (f + 1).
    """
    if f == 0:
        return 1
    for k in range(f):
        for c in range(dim):
            Y[0, k, c] = X[k, c]
    leaves = 0
    d = 0
    rk[0] = 0
    phase[0] = 0
    while d >= 0:
        r = rk[d]
        if phase[d] == 0:
            if d == f or r == dim:
                leaves += 1          # every later row is skipped (or dependent): one subset
                d -= 1
                continue
            q = -1
            for c in range(dim):
                if Y[r, d, c] != 0:
                    q = c
                    break
            if d == f - 1:           # the last row: skipped always, taken if independent
                leaves += 2 if q >= 0 else 1
                d -= 1
                continue
            if d == f - 2:           # the last two rows a, b: {}, {a}, {b}, {a, b} as independent
                qb = -1
                for c in range(dim):
                    if Y[r, d + 1, c] != 0:
                        qb = c
                        break
                leaves += 1 + (q >= 0) + (qb >= 0)
                if q >= 0 and qb >= 0:
                    piv, t = Y[r, d, q], Y[r, d + 1, q]
                    for c in range(dim):   # b reduced by a's pivot: non-zero iff {a, b} is independent
                        if sub_mod(mul_mod(piv, Y[r, d + 1, c]), mul_mod(t, Y[r, d, c])) != 0:
                            leaves += 1
                            break
                d -= 1
                continue
            if q >= 0:               # take row d: reduce the later rows by its pivot q
                phase[d] = 1
                piv = Y[r, d, q]
                for k in range(d + 1, f):
                    t = Y[r, k, q]
                    if t == 0:
                        for c in range(dim):
                            Y[r + 1, k, c] = Y[r, k, c]
                    else:
                        for c in range(dim):
                            Y[r + 1, k, c] = sub_mod(mul_mod(piv, Y[r, k, c]), mul_mod(t, Y[r, d, c]))
                d += 1
                rk[d] = r + 1
                phase[d] = 0
                continue
            phase[d] = 1             # dependent: only the skip
        if phase[d] == 1:            # skip row d
            phase[d] = 2
            d += 1
            rk[d] = r
            phase[d] = 0
            continue
        d -= 1
    return leaves


@njit(cache=True)
def independent_subsets(U):
    """The number of linearly independent subsets (the empty one included) of
    the rows of U over GF(p), by :func:`_leaves`.

    >>> independent_subsets(np.array([[1, 0], [0, 1], [1, 1]], dtype=np.int64))
    7
    """
    f, u = U.shape
    return _leaves(U, u, f, np.zeros((f + 1, f, u), dtype=np.int64), np.zeros(f + 1, dtype=np.int64),
                   np.zeros(f + 1, dtype=np.int64))


@njit(cache=True)
def count_tail(K, C, start, stop, b, W, L, U, bins):
    """Tally, for the states [start, stop), count(V) into bins[leaves(V)] (limbs, L+1 per bin).

    ``U`` (f × u) are the remaining neurons over u ≥ b columns, the first b
    being the frame the states live in.
    """
    f, u = U.shape
    M = np.zeros((max(b, 1), max(b, 1)), dtype=np.int64)
    X = np.zeros((f, u), dtype=np.int64)
    Y = np.zeros((f + 1, f, u), dtype=np.int64)
    phase = np.zeros(f + 1, dtype=np.int64)
    rk = np.zeros(f + 1, dtype=np.int64)
    for i in range(start, stop):
        dim = _project(K, i * W, b, W, M, U, X)
        leaves = _leaves(X, dim, f, Y, phase, rk)
        carry = np.uint64(0)
        for k in range(L + 1):
            t = bins[leaves, k] + (C[i * L + k] if k < L else np.uint64(0)) + carry
            carry = t >> np.uint64(63)
            bins[leaves, k] = t & np.uint64((1 << 63) - 1)


def tail_columns(sup, plan, i: int) -> tuple[np.ndarray, int]:
    """The union of frame i+1 and the later neurons' elements: frame i+1 first, then the rest."""
    frame = plan.frames[i + 1].tolist()
    seen = set(frame)
    rest = sorted({e for q in plan.positions[i + 1:] for e in sup.elements[q].tolist()} - seen)
    return np.array(frame + rest, dtype=np.int64), len(frame)


def tail_vectors(sup, plan, filters_of, i: int, cols: np.ndarray, prime: int) -> np.ndarray:
    """The remaining neurons (after step i) as rows over ``cols`` (their elements, in any order)."""
    later = plan.positions[i + 1:]
    if not later:
        return np.zeros((0, len(cols)), dtype=np.int64)
    G, elements = block_matrix(sup, later, filters_of)
    return np.ascontiguousarray(G[:, np.searchsorted(elements, cols)]) % prime


def bins_total(bins: np.ndarray) -> int:
    """Σ leaves · (the count tallied in bin ``leaves``), exactly."""
    total = 0
    for leaves in np.flatnonzero(bins.any(axis=1)).tolist():
        value = 0
        for k, limb in enumerate(bins[leaves].tolist()):
            value |= int(limb) << (63 * k)
        total += leaves * value
    return total


__all__ = ["count_tail", "independent_subsets", "tail_columns", "tail_vectors", "bins_total", "leaves_bound", "MAX_TAIL"]

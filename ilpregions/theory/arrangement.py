"""Exact region counts of affine hyperplane arrangements (one ReLU layer), any biases.

The regions of the arrangement {w_i . x + b_i = 0} in R^n are counted
exactly in the rational numbers that the float64 weights are
(docs/math.md#regions-of-one-layer):

* **Cone.** Adding the hyperplane at infinity gives a central arrangement
  in R^{n+1} of the vectors e0 = (0, ..., 0, 1) and a_i = (w_i, b_i), with
  twice as many regions (Stanley, *An Introduction to Hyperplane
  Arrangements*, Prop. 2.5 and Thm. 2.5: r(cA) = 2 r(A)).
* **No-broken-circuit sets.** The regions of a central arrangement are as
  many as the NBC sets of its matroid (Zaslavsky's theorem with Whitney's
  formula, Björner's NBC basis). With e0 the smallest element, NBC sets come
  in pairs S and S + e0, so r(A) is the number of NBC sets without e0. For
  generic biases this is the number of independent subsets of the normals;
  parallel, repeated and concurrent hyperplanes are counted right too.
* **Exact ranks.** The search runs over GF(p). Every set it finds
  independent mod p is independent over Q (a non-zero minor mod p is a
  non-zero integer), and every dependency it prunes on is the circuit read
  off the reduction's coefficients, which is certified over Q: by its
  support (more vectors than non-zero coordinates) or by fraction-free
  elimination over the integers. A circuit that turns out independent over Q
  means p divides one of its minors; the count restarts with the next prime.
  So a complete count is exact, never "exact with high probability".

Examples
--------
>>> import numpy as np
>>> count_arrangement([[1.0, 0, 0], [1.0, 0, -1e-17], [0, 1.0, 0]]).regions  # a slab 1e-17 wide
6
>>> count_arrangement([[1.0, 0, -1], [0, 1.0, -1], [1.0, 1.0, -2]]).regions   # three lines through (1, 1)
6
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from ilpregions.core.combinatorics import connected_groups
from ilpregions.core.errors import ILPRegionsError, TooLargeError
from ilpregions.theory.gfp import inverse, to_residues

#: Primes below 2^31 (products of residues fit in int64), tried in turn.
PRIMES = (2147483647, 2147483629, 2147483587, 2147483579, 2147483563, 2147483549)


class BadPrime(ILPRegionsError):
    """The prime divides a minor of a set that is independent over Q: retry with another."""


@dataclass(frozen=True)
class ArrangementCount:
    """``regions`` is exact when ``complete``; otherwise a lower bound (time limit, or no prime certified)."""

    regions: int
    complete: bool
    certified: bool = True
    primes_rejected: int = 0
    exact_checks: int = 0


def exact_integer_rows(rows: np.ndarray) -> list[list[int]]:
    """Float rows as Python integers, each row times the power of two that makes it integral.

    Row scaling changes neither which sets are dependent nor where hyperplanes meet.

    Parameters
    ----------
    rows : numpy.ndarray
        Finite float64 rows.

    Returns
    -------
    list of list of int
        Each row scaled by a power of two to integers, then divided by the
        largest power of two common to its entries.

    Examples
    --------
    >>> exact_integer_rows(np.array([[0.5, 0.25, -1.0], [0.0, 3.0, 0.0]]))
    [[2, 1, -4], [0, 3, 0]]
    """
    X = np.asarray(rows, dtype=np.float64)
    frac, expo = np.frexp(X)
    mant = np.rint(frac * 2.0 ** 53).astype(np.int64)
    expo = expo.astype(np.int64) - 53
    out = []
    for m_row, e_row in zip(mant.tolist(), expo.tolist()):
        live = [e for m, e in zip(m_row, e_row) if m]
        base = min(live) if live else 0
        ints = [m << (e - base) if m else 0 for m, e in zip(m_row, e_row)]
        out.append(_primitive(ints))
    return out


def _primitive(ints: list[int]) -> list[int]:
    """The row divided by the largest power of two dividing all its entries."""
    from math import gcd

    g = 0
    for v in ints:
        g = gcd(g, v)
    if g == 0:
        return ints
    shift = (g & -g).bit_length() - 1
    return [v >> shift for v in ints]


def integer_rank(vectors: list[list[int]]) -> int:
    """Rank over Q of integer vectors, by fraction-free (Bareiss) elimination.

    Parameters
    ----------
    vectors : list of list of int
        Rows of equal length (Python integers of any size).

    Returns
    -------
    int

    Examples
    --------
    >>> integer_rank([[1, 2, 3], [2, 4, 6], [0, 0, 1]])
    2
    """
    M = [list(v) for v in vectors if any(v)]
    if not M:
        return 0
    rank, prev = 0, 1
    cols = len(M[0])
    for c in range(cols):
        pivot = next((i for i in range(rank, len(M)) if M[i][c]), None)
        if pivot is None:
            continue
        M[rank], M[pivot] = M[pivot], M[rank]
        p = M[rank][c]
        for i in range(rank + 1, len(M)):
            f = M[i][c]
            M[i] = [(p * a - f * b) // prev for a, b in zip(M[i], M[rank])]
        prev = p
        rank += 1
        if rank == len(M):
            break
    return rank


class _Certifier:
    """Certifies over Q the circuits the modular search prunes on (cached by circuit)."""

    def __init__(self, exact: list[list[int]], support: np.ndarray):
        self.exact = exact
        self.support = support
        self.coords = support.shape[1]
        self.cache: dict[bytes, bool] = {}
        self.checks = 0

    def __call__(self, coefficients: np.ndarray) -> None:
        members = np.flatnonzero(coefficients)
        k = len(members)
        if k > self.coords:
            return  # more vectors than coordinates: dependent
        key = members.tobytes()
        known = self.cache.get(key)
        if known is None:
            known = int(self.support[members].any(axis=0).sum()) < k
            if not known:
                self.checks += 1
                known = integer_rank([self.exact[j] for j in members]) < k
            self.cache[key] = known
        if not known:
            raise BadPrime


def _nbc_without_e0(V: np.ndarray, p: int, certify, deadline: float | None, tick=None) -> tuple[int, bool]:
    """NBC sets without element 0 of the vectors ``V`` (row 0 is e0), over GF(p), certified.

    A search adding elements in decreasing order: a node is its chosen set S,
    holding the reduced vectors of every element below min S; a child adds
    one of them and is kept when none of the elements below it falls into the
    span (else it is never counted nor extended: every NBC set is reached
    through kept nodes only). The identity block carried on the right gives
    the circuit of each vector that reduces to zero.
    """
    n_el, cols = V.shape
    R0 = np.concatenate([np.mod(V, p), np.eye(n_el, dtype=np.int64)], axis=1)
    count, nodes = 1, 0
    stack = [R0]
    while stack:
        R = stack.pop()
        nodes += 1
        if nodes % 256 == 0:
            if tick is not None:
                tick(256, count)
            if deadline is not None and time.perf_counter() > deadline:
                return count, False
        for s in range(len(R) - 1, 0, -1):
            row = R[s]
            pivot = int(np.flatnonzero(row[:cols])[0])
            rest = R[:s]
            factor = (rest[:, pivot] * inverse(int(row[pivot]), p)) % p
            # both factors < 2^31: products fit in int64
            rest = (rest - (factor[:, None] * row[None, :]) % p) % p
            zero = ~rest[:, :cols].any(axis=1)
            if zero.any():
                for y in np.flatnonzero(zero):
                    certify(rest[y, cols:])
                continue
            count += 1
            if s > 1:
                stack.append(rest)
    return count, True


def _block_count(block_rows: np.ndarray, deadline: float | None, tick=None) -> tuple[int, bool, int, int]:
    """(regions, complete, primes rejected, exact checks) of one block of rows [w | b]."""
    cone = np.vstack([np.r_[np.zeros(block_rows.shape[1] - 1), 1.0], block_rows])
    exact = exact_integer_rows(cone)
    support = cone != 0
    certify = _Certifier(exact, support)
    for rejected, p in enumerate(PRIMES):
        try:
            count, done = _nbc_without_e0(to_residues(cone, p), p, certify, deadline, tick)
        except BadPrime:
            certify.cache.clear()
            continue
        return count, done, rejected, certify.checks
    raise BadPrime


#: Bytes the search may hold after its first node (see :func:`check_search_size`).
MAX_SEARCH_BYTES = 2 * 2 ** 30


def check_search_size(m: int, n: int) -> None:
    """Refuse by arithmetic a block the search cannot even start.

    Its first node keeps, for each of the m hyperplanes, the reduced copy of
    the elements below it, with the coefficient block: Σ_s s·(n + m + 2) int64
    entries ≈ 4·m²·(n + m + 2) bytes, before the time limit is ever checked.

    >>> check_search_size(100, 10)
    >>> check_search_size(11552, 1600)
    Traceback (most recent call last):
    ...
    ilpregions.core.errors.TooLargeError: layers: one block of 11552 neurons on 1600 inputs: the exact count would hold about 6539.9 GiB of reduced rows at its first step (limit 2 GiB); use `bounds()` for the maximum or the sample method
    """
    need = 8 * (n + m + 2) * m * (m + 1) // 2
    if need > MAX_SEARCH_BYTES:
        raise TooLargeError(f"layers: one block of {m} neurons on {n} inputs: the exact count would hold about "
                            f"{need / 2 ** 30:.1f} GiB of reduced rows at its first step (limit "
                            f"{MAX_SEARCH_BYTES // 2 ** 30} GiB); use `bounds()` for the maximum or the sample method")


def count_arrangement(rows, deadline: float | None = None, tick=None) -> ArrangementCount:
    """The exact number of regions of the affine arrangement with rows ``[w_i | b_i]``.

    Parameters
    ----------
    rows : array-like, shape (m, n + 1)
        One hyperplane ``w . x + b = 0`` per row (float64: exact rationals).
        All-zero rows (a neuron that is constant zero) and rows with ``w = 0``
        (constant non-zero) cut nothing.
    deadline : float, optional
        ``time.perf_counter()`` value; past it the count so far is returned
        with ``complete=False`` (a lower bound).
    tick : callable, optional
        ``tick(nodes, regions_so_far)`` every 256 search nodes (a progress bar).

    Returns
    -------
    ArrangementCount
        ``regions`` exact when ``complete``; ``certified`` is False when every
        prime in :data:`PRIMES` divided a minor (then ``regions`` is 0 and not a count).

    Raises
    ------
    TooLargeError
        When a block of hyperplanes sharing inputs is over :data:`MAX_SEARCH_BYTES`
        (:func:`check_search_size`), before any work.

    Examples
    --------
    >>> count_arrangement(np.array([[1.0, 0, 1], [0, 1.0, 1], [1.0, 1.0, 0.5]])).regions
    7
    >>> count_arrangement(np.zeros((0, 3))).regions
    1
    """
    rows = np.asarray(rows, dtype=np.float64)
    if rows.ndim != 2:
        raise ValueError("rows must be a 2-D array [w | b]")
    rows = rows[np.any(rows[:, :-1] != 0, axis=1)]  # a constant neuron cuts nothing
    total, complete, rejected, checks = 1, True, 0, 0
    blocks = [np.array(g) for g in connected_groups([np.flatnonzero(r) for r in rows[:, :-1] != 0])]
    columns = [np.flatnonzero(np.any(rows[block, :-1] != 0, axis=0)) for block in blocks]
    for block, cols in zip(blocks, columns):
        check_search_size(len(block), len(cols))
    for block, cols in zip(blocks, columns):
        sub = np.c_[rows[np.ix_(block, cols)], rows[block, -1]]
        try:
            count, done, bad, n_checks = _block_count(sub, deadline, tick)
        except BadPrime:
            return ArrangementCount(0, False, False, len(PRIMES), checks)
        total *= count
        rejected += bad
        checks += n_checks
        if not done:
            complete = False
            break
    return ArrangementCount(total, complete, True, rejected, checks)


__all__ = ["ArrangementCount", "BadPrime", "PRIMES", "MAX_SEARCH_BYTES", "check_search_size", "count_arrangement", "exact_integer_rows", "integer_rank"]

"""Exact linear algebra over the prime field GF(p) (pure numpy, no solver, no I/O).

Used by the shared-filter maximum (docs/tied.md) and by the region
enumerators: exact residues of float matrices, and the number of independent
subsets of a set of integer vectors by a search that never extends a
dependent set.
"""

from __future__ import annotations

import time

import numpy as np

from ilpregions.core.errors import ILPRegionsError

#: The field: a Mersenne prime below 2^31, so products of residues fit in int64.
PRIME = 2 ** 31 - 1


def inverse(value: int, p: int = PRIME) -> int:
    """The inverse of a non-zero residue (Fermat).

    >>> inverse(3, 7)
    5
    """
    return pow(int(value), p - 2, p)


class CentralDependency(ILPRegionsError):
    """A dependent set of normals whose hyperplanes meet: the biases are not generic."""


#: A second prime for cross-checks (2^31 - 19).
PRIME2 = 2 ** 31 - 19


def to_residues(values: np.ndarray, p: int = PRIME) -> np.ndarray:
    """Exact residues mod p of float arrays, row by row up to a power of two.

    Each float is m * 2^e exactly; every row is multiplied by 2^(-min e of the
    row), which turns it into integers without changing which sets of rows
    are independent (nor whether a dependent set's hyperplanes meet, when the
    bias is the row's last entry).

    >>> to_residues(np.array([[0.5, 0.25, -1.0]]), p=7).tolist()  # (2, 1, -4) * 2^52
    [[4, 2, 6]]
    """
    X = np.asarray(values, dtype=np.float64)
    frac, expo = np.frexp(X)
    mant = np.rint(frac * 2.0 ** 53).astype(np.int64)          # exact: |frac| < 1
    expo = expo.astype(np.int64) - 53
    nonzero = mant != 0
    base = np.where(nonzero, expo, np.iinfo(np.int64).max).min(axis=1, keepdims=True)
    base = np.where(base == np.iinfo(np.int64).max, 0, base)
    shifts = np.where(nonzero, expo - base, 0)
    out = np.mod(mant, p)
    powers = {int(k): pow(2, int(k), p) for k in np.unique(shifts)}
    factor = np.vectorize(powers.__getitem__, otypes=[np.int64])(shifts)
    return (out * factor) % p


def count_independent_mod_p(vectors: np.ndarray, p: int = PRIME, deadline: float | None = None,
                            bias: np.ndarray | None = None, strict_deadline: bool = True) -> tuple[int, bool]:
    """Independent subsets (including the empty set) of integer rows over GF(p).

    Each search node keeps the later candidates reduced against the chosen
    set; a candidate reducing to zero is dependent and is never extended,
    which prunes all its supersets. With ``bias`` (one residue per row), the
    bias column is reduced along but never pivoted on, and a dependent
    candidate whose bias also reduces to zero raises
    :class:`CentralDependency` (its hyperplanes meet; every circuit is met
    this way, as the extension of its smaller elements by its largest).

    Returns ``(count, complete)``; ``complete`` is False when the deadline
    passed first (then ``count`` is a lower bound), or raises
    :class:`TimeoutError` if ``strict_deadline``.

    >>> count_independent_mod_p(np.array([[1, 0], [0, 1], [1, 1]]))
    (7, True)
    >>> count_independent_mod_p(np.array([[1, 2], [2, 4]]))
    (3, True)
    """
    V = np.mod(np.asarray(vectors, dtype=np.int64), p)
    cols = V.shape[1]
    if bias is not None:
        V = np.concatenate([V, np.mod(np.asarray(bias, dtype=np.int64), p).reshape(-1, 1)], axis=1)
    count = 1
    stack = [V]
    nodes = 0
    while stack:
        R = stack.pop()
        nodes += 1
        if deadline is not None and nodes % 512 == 0 and time.perf_counter() > deadline:
            if strict_deadline:
                raise TimeoutError("time limit reached")
            return count, False
        W = R[:, :cols]
        nonzero = W.any(axis=1)
        if bias is not None and not np.all(nonzero | (R[:, cols] != 0)):
            raise CentralDependency
        for i in np.flatnonzero(nonzero):
            count += 1
            if i + 1 >= len(R):
                continue
            row = R[i]
            pivot = int(np.flatnonzero(row[:cols])[0])
            rest = R[i + 1:]
            factor = (rest[:, pivot] * inverse(row[pivot], p)) % p
            # rest - factor * row (mod p); both factors < 2^31, so products fit in int64
            rest = (rest - (factor[:, None] * row[None, :]) % p) % p
            stack.append(rest)
    return count, True


__all__ = ["PRIME", "PRIME2", "inverse", "rref", "null_space", "to_residues", "count_independent_mod_p", "CentralDependency"]


def rref(matrix: np.ndarray, p: int = PRIME) -> tuple[np.ndarray, list[int]]:
    """Reduced row-echelon form over GF(p): (the non-zero rows, their pivot columns).

    >>> R, piv = rref(np.array([[2, 4, 1], [1, 2, 1]]), p=7)
    >>> R.tolist(), piv
    ([[1, 2, 0], [0, 0, 1]], [0, 2])
    """
    M = np.mod(np.asarray(matrix, dtype=np.int64), p)
    rows, cols = M.shape
    pivots: list[int] = []
    r = 0
    for c in range(cols):
        if r == rows:
            break
        nz = np.flatnonzero(M[r:, c])
        if len(nz) == 0:
            continue
        i = r + int(nz[0])
        M[[r, i]] = M[[i, r]]
        M[r] = M[r] * inverse(int(M[r, c]), p) % p
        factors = M[:, c].copy()
        factors[r] = 0
        # both factors < 2^31: products fit in int64
        M = (M - (factors[:, None] * M[r][None, :]) % p) % p
        pivots.append(c)
        r += 1
    return M[:r], pivots


def null_space(matrix: np.ndarray, cols: int, p: int = PRIME) -> np.ndarray:
    """A basis (rows) of {x : matrix · x = 0} over GF(p).

    >>> null_space(np.array([[1, 1, 0]]), 3, p=7).tolist()
    [[6, 1, 0], [0, 0, 1]]
    """
    R, pivots = rref(np.asarray(matrix, dtype=np.int64).reshape(-1, cols), p)
    free = [c for c in range(cols) if c not in set(pivots)]
    out = np.zeros((len(free), cols), dtype=np.int64)
    for k, f in enumerate(free):
        out[k, f] = 1
        for i, c in enumerate(pivots):
            out[k, c] = (-R[i, f]) % p
    return out

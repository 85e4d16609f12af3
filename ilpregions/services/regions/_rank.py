"""Regions of one layer with generic biases: the independent subsets of its
neurons' normals (Zaslavsky; docs/math.md#regions-of-one-layer), counted with exact ranks over GF(p)."""

from __future__ import annotations

import numpy as np

from ilpregions.core.combinatorics import connected_groups
from ilpregions.core.errors import TooLargeError


def count_independent_subsets(rows: np.ndarray, deadline: float | None = None) -> tuple[int, bool, bool]:
    """Regions of one layer with generic biases: independent subsets of its normals.

    ``rows`` holds each neuron's ``[w, b]``. Ranks are exact: the floats are
    turned into integers (up to a power of two per row) and eliminated over
    GF(p) for two primes near 2^31. A rank over GF(p) is never above the
    rank over the rationals, so each prime's count is a lower bound and the
    larger one is kept; they agree unless p divides some minor (a chance of
    about 1e-9 per test). Floating-point ranks are not used: on conv layers,
    residuals of 1e-9 occur both for dependent and for independent sets.

    Returns ``(count, complete, generic)``; ``generic`` is False when some
    dependent set's hyperplanes meet (then the count is not the number of
    regions and the caller must enumerate cells instead).

    >>> count_independent_subsets(np.array([[1.0, 0, 1], [0, 1.0, 1], [1.0, 1.0, 0.5]]))
    (7, True, True)
    >>> count_independent_subsets(np.array([[1.0, 0, 0], [0, 1.0, 0], [1.0, 1.0, 0]]))[2]
    False
    """
    from ilpregions.theory.gfp import PRIME, PRIME2, CentralDependency, count_independent_mod_p, to_residues

    rows = np.asarray(rows, dtype=np.float64)
    total, complete = 1, True
    # Neurons whose normals share no input form blocks; their counts multiply.
    blocks = _support_blocks(rows[:, :-1] != 0)
    for block in blocks:
        _check_size(len(block), rows.shape[1])
    for block in blocks:
        sub = rows[block]
        best = 0
        for p in (PRIME, PRIME2):
            residues = _sparse_residues(sub, p, to_residues)
            try:
                count, done = count_independent_mod_p(residues[:, :-1], p, deadline, bias=residues[:, -1],
                                                       strict_deadline=False)
            except CentralDependency:
                return 0, True, False
            best = max(best, count)
            complete = complete and done
            if not done:
                break
        total *= best
        if not complete:
            break
    return total, complete, True


#: Bytes the enumeration may hold at its first step (see _check_size).
MAX_SEARCH_BYTES = 2 * 2 ** 30


def _check_size(m: int, cols: int) -> None:
    """Refuse by arithmetic what the independent-set search cannot even start.

    Its first node pushes, for each of the m rows, the reduced copy of the
    rows after it: Σ_i (m − i)·cols int64 entries ≈ 4·m²·cols bytes, before
    the time limit is ever checked.

    >>> _check_size(100, 10)
    >>> _check_size(11552, 1601)
    Traceback (most recent call last):
    ...
    ilpregions.core.errors.TooLargeError: layers: one block of 11552 neurons on 1600 inputs: the exact rank count would hold about 796.0 GiB of reduced rows at its first step (limit 2 GiB); use `bounds()` for the maximum or the sample method
    """
    need = 8 * cols * m * (m + 1) // 2
    if need > MAX_SEARCH_BYTES:
        raise TooLargeError(f"layers: one block of {m} neurons on {cols - 1} inputs: the exact rank count would "
                            f"hold about {need / 2 ** 30:.1f} GiB of reduced rows at its first step (limit "
                            f"{MAX_SEARCH_BYTES // 2 ** 30} GiB); use `bounds()` for the maximum or "
                            f"the sample method")


def _sparse_residues(rows: np.ndarray, p: int, to_residues) -> np.ndarray:
    """``to_residues(rows, p)`` computed on each row's non-zero entries only.

    A conv layer's rows are mostly zeros; converting only the non-zeros keeps
    the time and memory linear in them (the dense conversion of a 40×40 conv
    layer took minutes and gigabytes before any counting). Row scaling only
    looks at non-zeros, so the result is the same.

    >>> from ilpregions.theory.gfp import to_residues
    >>> M = np.array([[0.0, 0.5, 0.0, 3.0], [1.0, 0.0, 0.0, 0.25]])
    >>> bool((_sparse_residues(M, 7, to_residues) == to_residues(M, 7)).all())
    True
    """
    nonzero = rows != 0
    width = max(1, int(nonzero.sum(axis=1).max(initial=0)))
    compact = np.zeros((rows.shape[0], width))
    r, c = np.nonzero(nonzero)
    slot = np.arange(len(r)) - np.searchsorted(r, r)     # rank of each entry within its row
    compact[r, slot] = rows[r, c]
    out = np.zeros(rows.shape, dtype=np.int64)
    out[r, c] = to_residues(compact, p)[r, slot]
    return out


def _support_blocks(support: np.ndarray) -> list[np.ndarray]:
    """Groups of rows connected through shared nonzero columns.

    >>> [b.tolist() for b in _support_blocks(np.array([[1, 0, 0], [0, 1, 0], [1, 1, 0], [0, 0, 1]], bool))]
    [[0, 1, 2], [3]]
    """
    return [np.array(g) for g in connected_groups([np.flatnonzero(row) for row in support])]


__all__ = ["count_independent_subsets"]

"""Regions of one layer with generic biases: the independent subsets of its
neurons' normals (Zaslavsky; docs/math.md#regions-of-one-layer), counted with exact ranks over GF(p)."""

from __future__ import annotations

import numpy as np

from ilpregions.core.combinatorics import connected_groups


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
    from ilpregions.services.tied import PRIME, PRIME2, CentralDependency, count_independent_mod_p, to_residues

    rows = np.asarray(rows, dtype=np.float64)
    total, complete = 1, True
    # Neurons whose normals share no input form blocks; their counts multiply.
    for block in _support_blocks(rows[:, :-1] != 0):
        sub = rows[block]
        best = 0
        for p in (PRIME, PRIME2):
            residues = to_residues(sub, p)
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


def _support_blocks(support: np.ndarray) -> list[np.ndarray]:
    """Groups of rows connected through shared nonzero columns.

    >>> [b.tolist() for b in _support_blocks(np.array([[1, 0, 0], [0, 1, 0], [1, 1, 0], [0, 0, 1]], bool))]
    [[0, 1, 2], [3]]
    """
    return [np.array(g) for g in connected_groups([np.flatnonzero(row) for row in support])]


__all__ = ["count_independent_subsets"]

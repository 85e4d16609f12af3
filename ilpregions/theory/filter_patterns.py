r"""Generic independent-set counts of a few positions' shared-filter neurons, by filter patterns.

A block has g output positions. Position i reads the elements ``elements[i]``
(column indices 0..r-1) through the filter taps ``taps[i]``; neuron (i, k) is
the vector with entry θ[k, tap] at its element. A chosen set of neurons picks
a set T_i of filters at each position. The d1 filters are exchangeable (all
generic), so whether the chosen set is independent for generic filters
depends only on its *pattern*: for every non-empty set R of positions, n_R,
the number of filters chosen at exactly the positions in R. A pattern is
shared by

    d1! / ((d1 - Σ_R n_R)! · Π_R n_R!)

choices. The count returned is Σ of that multinomial over the patterns
certified independent (docs/math.md, "Filter patterns").

*Certificate.* A pattern is counted when one representative (distinct filters
in region order) is independent mod p at a random integer draw θ. A minor
that is non-zero mod p at a point is a non-zero polynomial in the filter
entries, so every choice with that pattern is independent for generic
filters. A pattern that fails the test only by bad luck (probability at most
deg/p) is not counted: the result is always a lower bound on the generic
count, and equals it with high probability.

*Pruning.* Adding a filter to a pattern adds rows, so a dependent pattern
stays dependent; the search never extends one, and visits each independent
pattern once.

Examples
--------
Two neighbouring positions of a 1-D layer (input 3, kernel 2, one filter
row each): every subset of the four neurons but the whole set is
independent when d1 = 2 -- the locally connected count Σ_{t∈K} Π C(2, t_p).

>>> import numpy as np
>>> elements = [np.array([0, 1]), np.array([1, 2])]
>>> taps = [np.array([0, 1]), np.array([0, 1])]
>>> pattern_count(elements, taps, filters=2, taps_per_filter=2, seed=0)
15
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence

import numpy as np

from ilpregions.core.errors import ILPRegionsError, InputError
from ilpregions.theory.gfp import PRIME


class PatternBudget(ILPRegionsError):
    """The pattern search visited more nodes than allowed (or ran past its deadline)."""


def _regions(g: int) -> list[int]:
    """Non-empty subsets of the g positions as bit masks, larger sets first (they prune earliest)."""
    return sorted(range(1, 1 << g), key=lambda m: (-bin(m).count("1"), m))


def _insert(basis: list[tuple[int, list[int]]], row: list[int], p: int) -> bool:
    """Reduce ``row`` by the basis (insertion order); append it and return True when independent."""
    for pivot, b in basis:
        c = row[pivot]
        if c:
            row = [(x - c * y) % p for x, y in zip(row, b)]
    for pivot, x in enumerate(row):
        if x:
            inv = pow(x, p - 2, p)
            basis.append((pivot, [(y * inv) % p for y in row]))
            return True
    return False


def pattern_count(elements: Sequence[np.ndarray], taps: Sequence[np.ndarray], filters: int,
                  taps_per_filter: int, seed: int = 0, max_nodes: int = 2_000_000,
                  deadline: float | None = None, p: int = PRIME) -> int:
    """Number of neuron subsets of a block that are independent for generic shared filters.

    Parameters
    ----------
    elements, taps : sequences of int arrays
        Per position, the restricted columns it reads and the filter tap at each.
    filters : int
        d1, the number of shared filters.
    taps_per_filter : int
        Length of one filter (taps index into it).
    seed : int
        Seed of the random draw that certifies each pattern.
    max_nodes : int
        Search nodes allowed before :class:`PatternBudget` is raised.
    deadline : float, optional
        ``time.perf_counter()`` value after which :class:`PatternBudget` is raised.

    Returns
    -------
    int
        A proven lower bound on the generic count; equal to it with high probability.
    """
    g = len(elements)
    if g != len(taps) or g == 0:
        raise InputError("elements: one element array and one tap array per position are needed")
    if g > 6:
        raise InputError(f"elements: {g} positions give {2 ** g - 1} filter patterns per filter; at most 6")
    width = 1 + max((int(e.max()) for e in elements if len(e)), default=-1)
    theta = np.random.default_rng(seed).integers(1, p, size=(filters, taps_per_filter), dtype=np.int64)
    regions = _regions(g)

    def neuron(i: int, f: int) -> list[int]:
        row = [0] * width
        for e, t in zip(elements[i].tolist(), taps[i].tolist()):
            row[e] = int(theta[f, t])
        return row

    neurons = [[neuron(i, f) for f in range(filters)] for i in range(g)]
    members = {mask: [i for i in range(g) if mask >> i & 1] for mask in regions}

    def rows(mask: int, f: int) -> list[list[int]]:
        return [neurons[i][f] for i in members[mask]]

    total = 0
    nodes = 0

    def search(j: int, used: int, weight_den: int, basis: list) -> None:
        nonlocal total, nodes
        nodes += 1
        if nodes > max_nodes or (deadline is not None and nodes % 1024 == 0 and time.perf_counter() > deadline):
            raise PatternBudget(f"filter patterns: more than {max_nodes} search nodes or past the deadline")
        if j == len(regions):
            total += math.perm(filters, used) // weight_den
            return
        search(j + 1, used, weight_den, basis)
        mine = list(basis)
        n = 0
        while used + n < filters:
            if not all(_insert(mine, r, p) for r in rows(regions[j], used + n)):
                break
            n += 1
            search(j + 1, used + n, weight_den * math.factorial(n), mine)   # callees copy before adding rows

    search(0, 0, 1, [])
    return total


def pattern_bound(positions: int, rank: int, filters: int) -> int:
    """An upper bound on the patterns the search can visit, by arithmetic (nothing is built).

    Counts the vectors (n_R) over the non-empty sets R of ``positions`` with
    Σ n_R·|R| ≤ ``rank`` (more rows than columns are dependent) and
    Σ n_R ≤ ``filters``.

    >>> pattern_bound(2, 6, 16)
    50
    """
    ways = {(0, 0): 1}
    for mask in _regions(positions):
        size = bin(mask).count("1")
        grown: dict[tuple[int, int], int] = {}
        for (rows, used), c in ways.items():
            n = 0
            while rows + n * size <= rank and used + n <= filters:
                key = (rows + n * size, used + n)
                grown[key] = grown.get(key, 0) + c
                n += 1
        ways = grown
    return sum(ways.values())


__all__ = ["pattern_count", "pattern_bound", "PatternBudget"]

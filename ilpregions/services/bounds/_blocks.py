r"""Block-triangular lower bound for one conv layer with shared filters (docs/math.md, "Block-triangular bound").

Order the output positions in blocks B_1, B_2, ... (here: runs of ``g``
consecutive positions along the fastest axis of a raster order; ``g`` equal
to the line length gives *slabs*, whole output lines). F_j are the elements
(pixel × channel) of B_j's fields that no earlier block's field contains.
A neuron of B_i is zero on F_j for every j > i, so the neuron matrix is block
lower-triangular and a set ∪_j S_j is independent whenever each S_j,
restricted to the columns F_j, is. Hence, with c_j the number of subsets of
B_j's neurons independent on F_j (at one integer draw of the shared filters,
over GF(p)),

    real maximum ≥ Π_j c_j.

Blocks whose restricted matrices coincide (translates, at the same draw)
have equal counts: each distinct one is counted once, by the subspace DP
(the ``subspace`` backend's ``count_block``). A one-position
block has the closed form Σ_{t≤min(d1, |F_j|)} C(d1, t) (the fresh box).
A block whose DP would be too large (more than ``MAX_FLATS`` estimated
flats) falls back to the fresh box inside the block (a count of independent
sets on F_j too, so the product stays proven). The time limit decides which
schemes are tried, never a block's count.

Examples
--------
>>> from ilpregions.core.spec import Network, ConvLayer
>>> r = block_lower(Network((3, 3, 1), (ConvLayer(2, 2),)), seconds=10)
>>> r.value, r.block   # one slab of two positions per output row; real maximum 255
(240, 2)
"""

from __future__ import annotations

import itertools
import math
import time
from dataclasses import dataclass

import numpy as np

from ilpregions import backends
from ilpregions.core.combinatorics import binomial_prefix_sums
from ilpregions.core.errors import ILPRegionsError, InputError
from ilpregions.core.geometry import layer_instance
from ilpregions.core.spec import ConvLayer, Network
from ilpregions.theory import tied_bounds as T
from ilpregions.theory.filter_patterns import PatternBudget, pattern_bound, pattern_count

#: The DP's states are (at most) the flats of the block's neurons; it is run only when
#: Σ_{i<r} C(n, i) (n neurons, r restricted elements) is below this, else the block's box is used.
#: Below the cap a DP runs to the end (a few seconds at most), so the value does not depend on the
#: machine's load; the time limit only decides which further schemes are tried.
MAX_FLATS = 300_000

#: A block of few positions is counted by its filter patterns (docs/math.md#filter-patterns) when
#: :func:`pattern_bound` times r² (the row reductions of one pattern on r restricted elements) is at
#: most this; that search is much cheaper than the DP when d1 is large (the DP's states are subspaces,
#: the search's nodes are counts per set of positions). 2·10^7 is a few seconds of Python.
MAX_PATTERN_WORK = 20_000_000


def _subspace():
    """The subspace DP (a :class:`~ilpregions.backends.protocols.TiedBackend`), loaded on first use."""
    return backends.load("subspace", backends.TIED)


def _patterns_fit(positions: int, rank: int, filters: int) -> bool:
    """Whether the filter-pattern search of a block is cheap enough, by arithmetic."""
    return positions <= 6 and pattern_bound(positions, rank, filters) * rank * rank <= MAX_PATTERN_WORK


@dataclass(frozen=True)
class BlockBound:
    """The best block-triangular bound found: value, scheme and how each block type was counted."""

    value: int
    block: int
    axes: tuple[int, ...]
    reverse: bool
    types: int
    fallbacks: int

    def describe(self) -> str:
        order = "reverse " if self.reverse else ""
        fall = (f", {self.fallbacks} of them cut smaller or by their fresh box (too large)"
                if self.fallbacks else "")
        return (f"blocks of {self.block} position(s) along axis {self.axes[-1]}, {order}raster order over axes "
                f"{list(self.axes)}; {self.types} distinct blocks counted by filter patterns or the subspace DP"
                f"{fall}")


def _blocks(sup, axes: tuple[int, ...], reverse: bool, g: int) -> list[list[int]]:
    """Positions in raster order over ``axes`` (last fastest), cut into runs of ``g`` along each line."""
    coords = sup.coords
    order = sorted(range(len(coords)), key=lambda p: tuple(coords[p][a] for a in axes))
    if reverse:
        order.reverse()
    blocks: list[list[int]] = []
    for _, line in itertools.groupby(order, key=lambda p: tuple(coords[p][a] for a in axes[:-1])):
        line = list(line)
        blocks.extend(line[i:i + g] for i in range(0, len(line), g))
    return blocks


def _restricted(sup, block: list[int], seen: np.ndarray):
    """(signature, restricted Supports) of one block on its fresh elements; marks them seen."""
    union = np.unique(np.concatenate([sup.elements[p] for p in block]))
    fresh = union[~seen[union]]
    seen[union] = True
    els, tps, sig = [], [], [len(fresh)]
    for p in block:
        mask = np.isin(sup.elements[p], fresh)
        e = np.searchsorted(fresh, sup.elements[p][mask]).astype(np.int64)
        t = sup.taps[p][mask]
        els.append(e)
        tps.append(t)
        sig.append((e.tobytes(), t.tobytes()))
    coords = tuple((i,) for i in range(len(block)))
    return tuple(sig), _subspace().Supports(tuple(els), tuple(tps), coords, sup.filters, sup.taps_per_filter, True)


def _box(sub, order: list[int], d1: int) -> int:
    """Fresh box inside a block: each position counts the restricted elements no earlier one reads."""
    # the row only as far as a position can have fresh elements (d1 can be 10^5: a full row is gigabytes)
    prefix = binomial_prefix_sums(d1, min(d1, max((len(e) for e in sub.elements), default=0)))
    used: set[int] = set()
    value = 1
    for i in order:
        new = set(sub.elements[i].tolist()) - used
        used |= new
        value *= prefix[min(d1, len(new))]
    return value


class SchemeOutOfTime(ILPRegionsError):
    """A block's count passed the overall deadline: its scheme is dropped whole (internal)."""


def _out_of_time(deadline: float | None) -> bool:
    return deadline is not None and time.perf_counter() >= deadline


def _count(sub, theta: np.ndarray, deadline: float | None = None) -> tuple[int, bool]:
    """c_j for one restricted block: (count, exact?) -- a proven lower bound on c_j either way.

    Past ``deadline`` (an overall limit) :class:`SchemeOutOfTime` is raised instead of a value,
    so that no value ever depends on where the clock stopped.
    """
    engine = _subspace()
    d1 = sub.filters
    n = len(sub.elements)
    sizes = [len(e) for e in sub.elements]
    if n == 1 or sum(sizes) == 0:
        top = min(d1, sizes[0] if n == 1 else 0)
        return binomial_prefix_sums(d1, top)[top], True
    orders = [list(range(n)), list(range(n))[::-1]]
    # Smallest frames first; on a tie, the position reading most elements first (fewer states merge later).
    order = min(orders, key=lambda o: (max(engine.frame_sizes(sub, o)), sum(engine.frame_sizes(sub, o)), -sizes[o[0]]))
    box = max(_box(sub, o, d1) for o in orders)
    neurons, rank = n * d1, len(np.unique(np.concatenate(sub.elements)))
    if _patterns_fit(n, rank, d1):
        try:
            return pattern_count(list(sub.elements), list(sub.taps), d1, sub.taps_per_filter,
                                 deadline=deadline), True
        except PatternBudget:
            if _out_of_time(deadline):
                raise SchemeOutOfTime("block count past the deadline") from None
            raise
    if sum(math.comb(neurons, i) for i in range(rank)) > MAX_FLATS:
        return max(box, _split(sub, theta, deadline)), False
    try:   # the flats cap bounds the work; only an overall deadline stops it (and drops the scheme)
        out = engine.count_block(sub, engine.make_plan(sub, order), lambda p: theta, memory_cap=2 ** 30,
                                 deadline=deadline)
    except (ILPRegionsError, MemoryError):
        if _out_of_time(deadline):
            raise SchemeOutOfTime("block count past the deadline") from None
        return box, False
    return out.count, True


def _split(sub, theta: np.ndarray, deadline: float | None = None) -> int:
    """A too-large block, cut into runs of one position fewer: block-triangular inside the block too."""
    n = len(sub.elements)
    if n <= 2:
        return 1
    seen = np.zeros(1 + max((int(e.max()) for e in sub.elements if len(e)), default=0), dtype=bool)
    value = 1
    for start in range(0, n, n - 1):
        _, inner = _restricted(sub, list(range(start, min(n, start + n - 1))), seen)
        value *= _count(inner, theta, deadline)[0]
    return value


def _scheme(sup, theta, axes, reverse, g, cache, hard_deadline=None) -> tuple[int, int, int, bool] | None:
    """Π_j c_j for one scheme: (value, distinct types, types that fell back, the commonest type exact?).

    None when ``hard_deadline`` (a perf_counter time) passes before every block type is counted:
    the scheme is dropped whole, so a value never depends on where the clock stopped.
    """
    seen = np.zeros(1 + max((int(e.max()) for e in sup.elements if len(e)), default=0), dtype=bool)
    multiplicity: dict[tuple, int] = {}
    subs: dict[tuple, object] = {}
    for block in _blocks(sup, axes, reverse, g):
        sig, sub = _restricted(sup, block, seen)
        multiplicity[sig] = multiplicity.get(sig, 0) + 1
        subs.setdefault(sig, sub)
    value, fallbacks = 1, 0
    # The commonest type first: if even it cannot be counted, the scheme is no better than the box.
    ranked = sorted(multiplicity.items(), key=lambda item: -item[1])
    for sig, k in ranked:
        if sig not in cache:
            if _out_of_time(hard_deadline):
                return None
            try:
                cache[sig] = _count(subs[sig], theta, hard_deadline)
            except SchemeOutOfTime:
                return None
        count, exact = cache[sig]
        fallbacks += not exact
        value *= count ** k
    return value, len(multiplicity), fallbacks, cache[ranked[0][0]][1]


def _feasible(inst, axes, reverse, g) -> bool:
    """Whether the commonest block of g positions has few enough flats for the DP (by arithmetic).

    A block's fresh elements are the sum of its positions' fresh counts in the
    same raster order, so the fresh box's counts give every block's rank
    bound r without building anything; the DP is tried when
    Σ_{i<r} C(g·d1, i) ≤ MAX_FLATS (g = 1 is the closed form: always).
    """
    if g == 1:
        return True
    coords = np.indices(inst.output_spatial, dtype=np.int64).reshape(len(inst.output_spatial), -1).T
    order = np.lexsort(tuple(coords[:, a] for a in reversed(axes)))
    if reverse:
        order = order[::-1]
    fresh = np.asarray(T.fresh_counts(inst, order.tolist()), dtype=np.int64)[order]
    length = inst.output_spatial[axes[-1]]
    lines = fresh.reshape(-1, length)[:, :length - length % g].reshape(-1, g).sum(axis=1)
    if len(lines) == 0:
        return False
    values, counts = np.unique(lines, return_counts=True)
    r = int(values[np.argmax(counts)])
    if _patterns_fit(g, r, inst.filters):
        return True
    return sum(math.comb(g * inst.filters, i) for i in range(r)) <= MAX_FLATS


def block_lower(network: Network, seconds: float = 4.0, seed: int = 0,
                max_block: int | None = None, hard_deadline: float | None = None) -> BlockBound | None:
    """The best block-triangular lower bound on a one-layer conv net's real maximum within ``seconds``.

    Tries every axis order, both directions, and block lengths g = 1, 2, ...
    up to the line length (or ``max_block``); stops growing g when the
    commonest block's DP is too large (:func:`_feasible`) or does not finish.
    All blocks use one draw of the filters. Returns None when no scheme was
    worth a DP (the fresh box then covers single positions).

    Parameters
    ----------
    network : Network
        One conv layer with shared filters.
    seconds : float
        Time for the search: no new scheme starts after it (a started block count finishes;
        ``MAX_FLATS`` bounds its work).
    seed : int
        Seed of the random integer filters in [1, p).
    max_block : int, optional
        Largest block length tried.
    hard_deadline : float, optional
        A ``time.perf_counter()`` time (an overall limit, e.g. ``bounds --time-limit``): a scheme
        not finished by then is dropped whole (without it a started scheme always finishes).
    """
    layer = network.layers[0] if network.layers else None
    if len(network.layers) != 1 or not isinstance(layer, ConvLayer) or not layer.shared:
        raise InputError("layers: the block-triangular bound needs one conv layer with shared filters")
    deadline = time.perf_counter() + seconds
    inst = layer_instance(network)
    grid = inst.output_spatial
    sup = theta = None
    cache: dict[tuple, tuple[int, bool]] = {}
    best = None
    for axes in itertools.permutations(range(len(grid))):
        top = grid[axes[-1]] if max_block is None else min(max_block, grid[axes[-1]])
        for reverse in (False, True):
            for g in range(min(2, top), top + 1):
                if time.perf_counter() >= deadline or not _feasible(inst, axes, reverse, g):
                    break
                if sup is None:   # built only once some block is worth a DP
                    sup = _subspace().supports(network)
                    theta = np.random.default_rng(seed).integers(1, _subspace().PRIME, size=(sup.filters, sup.taps_per_filter),
                                                                  dtype=np.int64)
                found = _scheme(sup, theta, axes, reverse, g, cache, hard_deadline)
                if found is None:
                    return best
                value, types, fallbacks, common_exact = found
                if best is None or value > best.value:
                    best = BlockBound(value, g, tuple(axes), reverse, types, fallbacks)
                if not common_exact:
                    break      # longer blocks only get slower
    return best


__all__ = ["BlockBound", "block_lower", "MAX_FLATS"]

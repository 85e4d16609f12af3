"""The structure of a Theorem-1 set system: which fields overlap, its connected blocks, the
non-redundant union rows of K_N, and whether it is trivial (no two fields meet).

Examples
--------
>>> from ilpregions.core.geometry import layer_instance
>>> from ilpregions.core.spec import ConvLayer, Network
>>> inst = layer_instance(Network((4, 1), (ConvLayer(2, 2, stride=2),)))
>>> is_trivial(inst), components(inst)
(True, [[0], [1]])
"""

from __future__ import annotations

import time
from typing import Iterator, Sequence

from ilpregions.core.errors import ILPRegionsError, TooLargeError
from ilpregions.core.geometry import Theorem1Instance


def overlap_graph(inst: Theorem1Instance) -> list[set[int]]:
    """Adjacency lists: p ~ q when S_p and S_q share a pixel (p != q)."""
    by_pixel: dict[int, list[int]] = {}
    for p, field_pixels in enumerate(inst.fields):
        for x in field_pixels:
            by_pixel.setdefault(x, []).append(p)
    adjacency = [set() for _ in range(inst.positions)]
    for owners in by_pixel.values():
        for p in owners:
            adjacency[p].update(owners)
    for p in range(inst.positions):
        adjacency[p].discard(p)
    return adjacency


def components(inst: Theorem1Instance) -> list[list[int]]:
    """Connected components of the overlap graph, ignoring empty fields.

    Positions in different components never share an element, so K_N is the
    product of the components' K's and R_N the product of their counts.
    Positions with an empty field are left out: their neurons are constant.
    Computed once per instance (cached), returned as fresh lists.
    """
    cached = inst.__dict__.get("_components")
    if cached is None:
        cached = tuple(tuple(c) for c in _components(inst))
        inst.__dict__["_components"] = cached  # frozen dataclass: cache beside the fields
    return [list(c) for c in cached]


def _components(inst: Theorem1Instance) -> list[list[int]]:
    """Connected components of the overlap graph, ignoring empty fields (one
    implementation: :func:`ilpregions.core.flow_network.overlap_components`)."""
    from ilpregions.core.flow_network import overlap_components  # numpy: not at import time

    return overlap_components(inst)


def iter_connected_subsets(adjacency: Sequence[set[int]], vertices: Sequence[int]) -> Iterator[tuple[int, ...]]:
    """Every connected vertex subset of the induced subgraph, each exactly once.

    This is Wernicke's ESU enumeration without a size limit: a subset is grown
    only from its smallest vertex, through *exclusive* neighbours (not in, and
    not adjacent to, the current subset), which makes every subset appear once.
    """
    allowed = set(vertices)
    neighbours = {v: {w for w in adjacency[v] if w in allowed} for v in allowed}

    def extend(subset: list[int], closed: set[int], extension: set[int], root: int):
        yield tuple(sorted(subset))
        extension = set(extension)
        while extension:
            w = extension.pop()
            exclusive = {u for u in neighbours[w] if u > root and u not in closed}
            yield from extend(subset + [w], closed | neighbours[w] | {w}, extension | exclusive, root)

    for root in sorted(allowed):
        closed = neighbours[root] | {root}
        yield from extend([root], closed, {w for w in neighbours[root] if w > root}, root)


class RowsTimeUp(ILPRegionsError):
    """The deadline given to :func:`essential_unions` passed (callers report a partial answer)."""


#: Beyond this many positions in one overlapping block, the union rows cannot
#: be listed (their number grows exponentially); row-based methods refuse.
MAX_ROW_POSITIONS = 400


def essential_unions(inst: Theorem1Instance, positions: Sequence[int] | None = None,
                     limit: int = 200_000, deadline: float | None = None) -> list[tuple[tuple[int, ...], int]]:
    """The union rows (J, g(J)) that are not implied by others (docs/math.md#redundant-constraints).

    Over the given positions (default: all with a non-empty field), keep J if

    * its fields form one connected overlap component (otherwise J splits into
      groups whose rows add up to it), and
    * J is *closed*: no other position's field lies inside ∪_J S_p (otherwise
      the row of J ∪ {q} dominates it).

    Singletons are kept; callers may turn them into variable bounds. Listing
    them can take minutes before a size limit is reached (about 40 µs a
    connected subset): past ``deadline`` (a ``time.perf_counter()`` value)
    :class:`RowsTimeUp` is raised.

    >>> from ilpregions.core.geometry import layer_instance
    >>> from ilpregions.core.spec import Network, ConvLayer
    >>> inst = layer_instance(Network((4, 1), (ConvLayer(2, 2),)))
    >>> essential_unions(inst)
    [((0,), 2), ((0, 1), 3), ((0, 1, 2), 4), ((1,), 2), ((1, 2), 3), ((2,), 2)]
    """
    if positions is None:
        positions = [p for p in range(inst.positions) if inst.fields[p]]
    positions = list(positions)
    if len(positions) > MAX_ROW_POSITIONS:
        raise TooLargeError(f"{len(positions)} overlapping positions: far too many union rows for a "
                            f"row-based model (use the dp backend, or `bounds()`)")
    adjacency = overlap_graph(inst)
    sets = inst.field_sets
    rows = []
    for generated, subset in enumerate(iter_connected_subsets(adjacency, positions)):
        if deadline is not None and generated % 1024 == 0 and time.perf_counter() > deadline:
            raise RowsTimeUp(f"the time limit passed while listing union rows ({generated} connected sets)")
        if generated > 20 * limit:
            raise TooLargeError(f"more than {20 * limit} connected position sets; this instance is too "
                                f"large for a row-based model (use the dp backend)")
        union = set().union(*(sets[p] for p in subset))
        members = set(subset)
        if any(q not in members and sets[q] <= union for q in positions):
            continue
        rows.append((subset, len(union) * inst.channels))
        if len(rows) > limit:
            raise TooLargeError(f"more than {limit} essential union rows; this instance is too large "
                                f"for a row-based model (use the dp backend)")
    return rows


def disjoint_positions(inst: Theorem1Instance, candidates: Sequence[int]) -> list[int]:
    """A greedy independent set of the overlap graph: positions with pairwise
    disjoint fields, preferring those with the most neighbours (their rows
    couple the most variables, so projecting them out saves the most)."""
    adjacency = overlap_graph(inst)
    chosen: list[int] = []
    blocked: set[int] = set()
    for p in sorted(candidates, key=lambda q: (-inst.caps[q], len(adjacency[q]), q)):
        if p in blocked:
            continue
        chosen.append(p)
        blocked.add(p)
        blocked.update(adjacency[p])
    return sorted(chosen)


def is_trivial(inst: Theorem1Instance) -> bool:
    """True when no two fields overlap: K_N is then a box and R_N a product.

    Decided from the position–pixel incidence (no pixel in two fields), so a
    million positions need no components.
    """
    cached = inst.__dict__.get("_components")
    if cached is not None:
        return all(len(c) == 1 for c in cached)
    seen: set[int] = set()
    for field in inst.fields[:1000]:   # an overlap among the first fields settles it at once
        if not seen.isdisjoint(field):
            return False
        seen.update(field)
    import numpy as np

    from ilpregions.core.flow_network import incidence   # numpy: not at import time

    pixel = incidence(inst).pixel
    return len(pixel) == 0 or int(np.bincount(pixel).max()) <= 1

"""Choosing the scan order of a block before the run.

Candidates: every axis-priority (row-major with permuted axes) order, and
diagonal orders (positions sorted by a signed sum of their coordinates, ties
by an axis order). For each candidate we compute, cheaply, the size of the
visible family at every stage (the width of a DP state; no clip values, no
index maps) and the widest frontier, and keep the order with the narrowest
frontier, then the narrowest widest family, then the smallest total width:
our cheap estimate of which order holds the fewest states at its peak
(:func:`choose`). The full plan is then built for the winner only.

>>> coords = [(i, j) for i in range(2) for j in range(4)]
>>> [name for name, _ in candidate_orders(coords)][:3]
['rows 01', 'rows 10', 'diagonal+ 01']
"""

from __future__ import annotations

import itertools

from ilpregions.backends.dp.plan import set_bits, union_closure, field_masks

#: Give up estimating an order whose family grows beyond this (it loses anyway).
ESTIMATE_LIMIT = 50_000


def candidate_orders(coords: list[tuple[int, ...]], unique: bool = True) -> list[tuple[str, list[int]]]:
    """``(name, order)`` pairs; ``order`` indexes ``coords``. Duplicate orders
    dropped (the first name kept) unless ``unique`` is False."""
    k = len(coords[0]) if coords else 0
    out, seen = [], set()

    def add(name, key):
        order = sorted(range(len(coords)), key=key)
        if not unique or tuple(order) not in seen:
            seen.add(tuple(order))
            out.append((name, order))

    for axes in itertools.permutations(range(k)):
        add("rows " + "".join(map(str, axes)), lambda j, a=axes: tuple(coords[j][x] for x in a))
    if k >= 2:
        for signs in itertools.product((1, -1), repeat=k - 1):
            sign = (1,) + signs
            label = "diagonal" + "".join("+" if s > 0 else "-" for s in signs)
            for axes in itertools.permutations(range(k)):
                add(f"{label} {''.join(map(str, axes))}",
                    lambda j, a=axes, g=sign: (sum(s * c for s, c in zip(g, coords[j])),)
                    + tuple(coords[j][x] for x in a))
    return out or [("rows", list(range(len(coords))))]


def _masks(fields):
    masks, _ = field_masks(fields)
    last: dict[int, int] = {}
    for i, m in enumerate(masks):
        for bit in set_bits(m):
            last[bit] = i
    drop = [0] * len(masks)
    for bit, i in last.items():
        drop[i] |= 1 << bit
    return masks, drop


def widest_frontier(fields: list[tuple[int, ...]]) -> int:
    """The most pixels on the frontier at once when scanning ``fields`` in order.

    >>> widest_frontier([(0, 1), (1, 2), (2, 3)])
    2
    """
    masks, drop = _masks(fields)
    frontier, widest = 0, 0
    for m, d in zip(masks, drop):
        frontier |= m
        widest = max(widest, frontier.bit_count())
        frontier &= ~d
    return widest


def family_widths(fields: list[tuple[int, ...]], limit: int = ESTIMATE_LIMIT) -> tuple | None:
    """``(widest frontier in pixels, [|L_i| at every stage])`` for scanning
    ``fields`` in the given order, or None once a family exceeds ``limit``.

    >>> family_widths([(0, 1), (1, 2), (2, 3)])
    (2, [3, 3, 2])
    """
    masks, _ = field_masks(fields)
    last: dict[int, int] = {}
    steps_of_bit: dict[int, list[int]] = {}
    for i, m in enumerate(masks):
        for bit in set_bits(m):
            last[bit] = i
            steps_of_bit.setdefault(bit, []).append(i)
    widths, frontier, widest = [], 0, 0
    for i, m in enumerate(masks):
        frontier |= m
        widest = max(widest, frontier.bit_count())
        later = set()
        for bit in set_bits(frontier):
            later.update(q for q in steps_of_bit[bit] if q >= i)
        gens = [masks[q] & frontier for q in later]
        try:
            widths.append(len(union_closure([g for g in gens if g], limit)))
        except Exception:  # TooLargeError from the closure: this order is out
            return None
        for bit in set_bits(m):
            if last[bit] == i:
                frontier &= ~(1 << bit)
    return widest, widths


def choose(coords, fields, caps=None) -> list[tuple[tuple[int, int, int], str, list[int]]]:
    """Candidate orders ranked by estimated cost (cheapest first):
    ``(cost, name, order)`` with cost = (widest frontier in pixels, widest
    family, total width); ``caps`` (per position, optional) tell apart scans
    of the same windows with different demands.

    The frontier comes first: the states are (clipped) rank functions on the
    frontier pixels, and their number grows about exponentially with it. On
    6×6×1 with 3×3 kernels, say, the diagonal scan has the narrower family
    (72 sets against 80) but the wider frontier (19 pixels against 15), and
    1.6 times the peak states (4,112 against 2,558).
    """
    candidates = candidate_orders(coords)
    if len(candidates) == 1:  # nothing to choose (1-D): skip the estimate
        return [((0, 0, 0), *candidates[0])]
    orders = [(widest_frontier([fields[j] for j in order]), name, order) for name, order in candidates]
    narrowest = min(w for w, _, _ in orders)
    # Orders that lose on the first key need no families; orders that scan
    # the same hypergraph (a symmetry of the block: a square input with a
    # square kernel scans the same by rows or by columns) have identical
    # plans: keep the first of each.
    tied, seen = [], set()
    for widest, name, order in orders:
        if widest > narrowest:
            continue
        signature = (scan_signature([fields[j] for j in order]),
                     None if caps is None else tuple(caps[j] for j in order))
        if signature not in seen:
            seen.add(signature)
            tied.append((name, order))
    if len(tied) == 1:  # nothing left to compare: skip the families
        return [((narrowest, 0, 0), *tied[0])]
    ranked = []
    for name, order in tied:
        found = family_widths([fields[j] for j in order])
        if found is not None:
            widest, widths = found
            ranked.append(((widest, max(widths), sum(widths)), name, order))
    ranked.sort(key=lambda r: r[0])
    return ranked


def scan_signature(fields) -> tuple:
    """The scanned hypergraph up to renaming pixels: for every pixel, the
    steps whose window holds it (sorted). Two scans with equal signatures
    have the same frontiers, families and DP.

    >>> scan_signature([(0, 1), (1, 2)]) == scan_signature([(7, 5), (5, 9)])
    True
    """
    steps: dict[int, list[int]] = {}
    for i, f in enumerate(fields):
        for x in f:
            steps.setdefault(x, []).append(i)
    return tuple(sorted(tuple(v) for v in steps.values()))


#: A block whose narrowest scan keeps more pixels than this on its frontier is
#: refused before planning: the DP state is a function on sets of frontier
#: pixels, and the number of states grows about exponentially with the
#: frontier (docs/dp.md: 21 pixels, 9×9×1 with 3×3 kernels, about 15
#: million states).
FRONTIER_LIMIT = 64


def narrowest_frontier(coords, fields) -> tuple[int, str]:
    """``(pixels, order name)``: the narrowest widest-frontier over the
    candidate orders, by array arithmetic (no bit masks, no plans), so it is
    cheap on blocks of millions of positions.

    >>> narrowest_frontier([(0,), (1,), (2,)], [(0, 1), (1, 2), (2, 3)])
    (2, 'rows 0')
    """
    import numpy as np

    n = len(fields)
    lengths = np.fromiter((len(f) for f in fields), dtype=np.int64, count=n)
    flat = np.fromiter(itertools.chain.from_iterable(fields), dtype=np.int64, count=int(lengths.sum()))
    _, pixel = np.unique(flat, return_inverse=True)
    return narrowest_frontier_of_arrays(np.asarray(coords, dtype=np.int64).reshape(n, -1), lengths, pixel)


def narrowest_frontier_of_arrays(table, lengths, pixel) -> tuple[int, str]:
    """:func:`narrowest_frontier` of fields given flat: position j (row j of
    the coordinate ``table``) holds the next ``lengths[j]`` entries of
    ``pixel``, small non-negative pixel ids (numpy int64 arrays)."""
    import numpy as np

    n = len(lengths)
    owner = np.repeat(np.arange(n, dtype=np.int64), lengths)
    ids = int(pixel.max()) + 1 if len(pixel) else 0
    best = None
    for name, key in _order_keys(table):
        rank = np.empty(n, dtype=np.int64)
        rank[np.lexsort(key[::-1])] = np.arange(n)
        step = rank[owner]
        first = np.full(ids, n, dtype=np.int64)
        last = np.full(ids, -1, dtype=np.int64)
        np.minimum.at(first, pixel, step)
        np.maximum.at(last, pixel, step)
        seen = last >= 0
        # Pixel x is on the frontier at stages first..last.
        change = (np.bincount(first[seen], minlength=n + 1)
                  - np.bincount(last[seen] + 1, minlength=n + 2)[:n + 1])
        widest = int(np.cumsum(change)[:n].max()) if n else 0
        if best is None or widest < best[0]:
            best = (widest, name)
    return best


def _order_keys(table):
    """The sort keys of :func:`candidate_orders` (most significant first)."""
    k = table.shape[1]
    for axes in itertools.permutations(range(k)):
        yield "rows " + "".join(map(str, axes)), [table[:, x] for x in axes]
    if k >= 2:
        for signs in itertools.product((1, -1), repeat=k - 1):
            sign = (1,) + signs
            diagonal = sum(s * table[:, x] for x, s in enumerate(sign))
            label = "diagonal" + "".join("+" if s > 0 else "-" for s in signs)
            for axes in itertools.permutations(range(k)):
                yield f"{label} {''.join(map(str, axes))}", [diagonal] + [table[:, x] for x in axes]

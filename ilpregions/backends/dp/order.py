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

from ilpregions.backends.dp.plan import _bits, _closure, field_masks

#: Give up estimating an order whose family grows beyond this (it loses anyway).
ESTIMATE_LIMIT = 50_000


def candidate_orders(coords: list[tuple[int, ...]]) -> list[tuple[str, list[int]]]:
    """``(name, order)`` pairs; ``order`` indexes ``coords``. Duplicates dropped."""
    k = len(coords[0]) if coords else 0
    out, seen = [], set()

    def add(name, key):
        order = sorted(range(len(coords)), key=key)
        if tuple(order) not in seen:
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
        for bit in _bits(m):
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
        for bit in _bits(m):
            last[bit] = i
            steps_of_bit.setdefault(bit, []).append(i)
    widths, frontier, widest = [], 0, 0
    for i, m in enumerate(masks):
        frontier |= m
        widest = max(widest, frontier.bit_count())
        later = set()
        for bit in _bits(frontier):
            later.update(q for q in steps_of_bit[bit] if q >= i)
        gens = [masks[q] & frontier for q in later]
        try:
            widths.append(len(_closure([g for g in gens if g], limit)))
        except Exception:  # TooLargeError from the closure: this order is out
            return None
        for bit in _bits(m):
            if last[bit] == i:
                frontier &= ~(1 << bit)
    return widest, widths


def choose(coords, fields) -> list[tuple[tuple[int, int, int], str, list[int]]]:
    """Candidate orders ranked by estimated cost (cheapest first):
    ``(cost, name, order)`` with cost = (widest frontier in pixels, widest
    family, total width).

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
    ranked = []
    for widest, name, order in orders:
        if widest > narrowest:  # loses on the first key: no need for its families
            continue
        found = family_widths([fields[j] for j in order])
        if found is not None:
            widest, widths = found
            ranked.append(((widest, max(widths), sum(widths)), name, order))
    ranked.sort(key=lambda r: r[0])
    return ranked


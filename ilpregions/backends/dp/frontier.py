"""Refusing, before any plan, a layer whose every scan keeps too many pixels on the frontier.

The DP's states are functions on sets of frontier pixels, and their number
grows about exponentially with the frontier (docs/dp.md), so a block whose
narrowest candidate scan keeps more than ``order.FRONTIER_LIMIT`` pixels on
it is refused with that number.

Two checks, cheapest first:

* :func:`check_window`, before the blocks are even known: the frontier of a
  window of at most ``WINDOW_POSITIONS`` positions. It is a proven lower bound
  for the block holding them. Every candidate order sorts positions by a key
  on their coordinates, so it scans the window in the order it scans the
  block. A pixel on the window's frontier after window position i is read by
  a window position before i and by one after i. So it is on the block's
  frontier at that moment too. A million-position layer is refused in a
  fraction of a second this way, instead of after ten seconds of grouping.
* :func:`check_block`: the exact narrowest frontier of one block, by array
  arithmetic on its flat fields.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ilpregions.backends.dp import estimate as pilot
from ilpregions.backends.dp import order as scan_order
from ilpregions.core.combinatorics import connected_groups
from ilpregions.core.errors import TooLargeError
from ilpregions.core.flow_network import incidence

#: Blocks with more positions get the array check of their frontier before planning.
FRONTIER_CHECK_AT = 256
#: Positions of the window checked before the layer is split into blocks.
WINDOW_POSITIONS = 50_000

_ADVICE = ("the DP's states grow about exponentially with the frontier (21 pixels, 9x9x1 with 3x3 "
           "kernels, already need millions); use `bounds()` for this layer")


def window_sides(extents, budget: int = WINDOW_POSITIONS) -> list[int]:
    """The sides of a corner box of output positions, at most ``budget`` in
    all: the longest side is halved until it fits.

    >>> window_sides((998, 998)), window_sides((3, 10 ** 6)), window_sides((5, 5))
    ([125, 250], [3, 15625], [5, 5])
    """
    sides = list(extents)
    while math.prod(sides) > budget:
        longest = max(range(len(sides)), key=lambda a: sides[a])
        sides[longest] = (sides[longest] + 1) // 2
    return sides


@dataclass(frozen=True)
class WindowFrontier:
    """The narrowest frontier of a window of one block: a lower bound, for
    every candidate scan order, on the block's widest frontier (in pixels)."""

    pixels: int
    order: str
    positions: int            # of the window's block part
    first_position: tuple[int, ...]


def window_frontier(inst) -> WindowFrontier | None:
    """The frontier of the largest block part of a corner window of at most
    ``WINDOW_POSITIONS`` output positions (module docstring: a proven lower
    bound for the block holding it). None for layers of at most that many
    positions, 1-D layers and windows of at most ``FRONTIER_CHECK_AT``
    connected positions: the block check sees those whole."""
    import numpy as np

    if inst.positions <= WINDOW_POSITIONS or len(inst.output_spatial) < 2:
        return None
    sides = window_sides(inst.output_spatial, WINDOW_POSITIONS)
    box = np.indices(sides).reshape(len(sides), -1)
    chosen = np.ravel_multi_index(tuple(box), inst.output_spatial).tolist()
    members = [p for p in chosen if inst.fields[p]]
    if not members:
        return None
    largest = max(connected_groups([inst.fields[p] for p in members]), key=len)
    block = [members[i] for i in largest]
    if len(block) <= FRONTIER_CHECK_AT:
        return None
    widest, name = scan_order.narrowest_frontier(inst.coords_array(block), [inst.fields[p] for p in block])
    return WindowFrontier(widest, name, len(block), inst.position_coords(block[0]))


def check_window(inst) -> None:
    """Refuse (:class:`TooLargeError`) when a corner window of the layer's
    output already keeps more than ``order.FRONTIER_LIMIT`` pixels on the
    frontier of every candidate scan (:func:`window_frontier`)."""
    found = window_frontier(inst)
    if found is not None and found.pixels > scan_order.FRONTIER_LIMIT:
        raise TooLargeError(f"dp: the block holding output position {found.first_position} keeps at least "
                            f"{found.pixels} pixels on the scan frontier in every scan order (found on "
                            f"{found.positions} of its positions; best order: {found.order}), over the limit of "
                            f"{scan_order.FRONTIER_LIMIT}; {_ADVICE}")


def check_block(inst, comp: list[int], memory_cap: int) -> None:
    """Refuse a big block whose every scan order keeps more than
    ``order.FRONTIER_LIMIT`` pixels on the frontier, by array arithmetic and
    before any plan (the planner's bit masks would grow with the block)."""
    import numpy as np

    if len(comp) <= FRONTIER_CHECK_AT:
        return
    arcs = incidence(inst)
    lengths, pixels = arcs.lengths, arcs.pixel
    index = np.asarray(comp, dtype=np.int64)
    sizes = lengths[index]
    refs = int(sizes.sum())
    need = 8 * (8 * refs + 8 * len(comp))   # the check's own int64 arrays
    if need > memory_cap:
        raise TooLargeError(f"dp: a block of {len(comp)} positions: checking its scan frontier alone would "
                            f"need about {pilot.size_text(need)}, over the memory cap of "
                            f"{pilot.size_text(memory_cap)}; use `bounds()` for this layer")
    starts = np.cumsum(lengths) - lengths
    within = np.arange(refs, dtype=np.int64) - np.repeat(np.cumsum(sizes) - sizes, sizes)
    _, pixel = np.unique(pixels[np.repeat(starts[index], sizes) + within], return_inverse=True)
    widest, name = scan_order.narrowest_frontier_of_arrays(inst.coords_array(comp), sizes, pixel.ravel())
    if widest > scan_order.FRONTIER_LIMIT:
        raise TooLargeError(f"dp: a block of {len(comp)} positions keeps at least {widest} pixels on the scan "
                            f"frontier (best order: {name}), over the limit of {scan_order.FRONTIER_LIMIT}; "
                            f"{_ADVICE}")

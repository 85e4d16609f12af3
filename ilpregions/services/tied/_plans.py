"""Scan plans of the blocks of a tied layer, built only for blocks that need a scan.

A block whose rows have corank ≤ 2 (a closed form), or that is small enough
to be searched whole, is counted without states
(the subspace backend's ``count_small``), so it needs no scan
plan and the frame limit does not apply to it. Planning costs as much as
counting on small layers, so plans are made on first use. A block that
certainly needs a scan (too many neurons for the search, and corank ≥ 3 by
its shape) is planned up front, so a scan wider than the state key is refused
before anything is counted.
"""

from __future__ import annotations

from ilpregions import backends
from ilpregions.core.errors import TooLargeError


def subspace():
    """The subspace DP (backends/subspace, a :class:`~ilpregions.backends.protocols.TiedBackend`);
    numba is imported on first use, so importing this package stays cheap."""
    return backends.load("subspace", backends.TIED)


def may_skip_scan(neurons: int, elements: int) -> bool:
    """Whether a block of this size may be counted without a scan: searched
    whole, or a closed-form candidate (engine.closed_form_possible).

    >>> may_skip_scan(12, 12), may_skip_scan(18, 25), may_skip_scan(40, 20)
    (True, True, False)
    """
    engine = subspace()
    return engine.closed_form_possible(neurons, elements) or engine.searched_whole(neurons, elements)


class ScanPlans:
    """The plan of each block, made on first use (:meth:`plan`); blocks that
    surely need a scan are planned, and refused if too wide, at once."""

    def __init__(self, inst, sup, blocks: list[list[int]]):
        self.sup, self.blocks = sup, blocks
        self.made: dict = {}
        self.surely_scanned = [not may_skip_scan(len(block) * sup.filters, inst.coverage(block)) for block in blocks]
        for index, scanned in enumerate(self.surely_scanned):
            if scanned:
                self.plan(index)

    def plan(self, index: int):
        """The plan of block ``index`` along its best axis order; TooLargeError
        when that order needs more than the engine's MAX_FRAME active elements at once."""
        if index not in self.made:
            engine = subspace()
            widest, order, axes = engine.best_order(self.sup, self.blocks[index])
            if widest > engine.MAX_FRAME:
                raise TooLargeError(f"method: the dp scan needs {widest} active elements at once, beyond the "
                                    f"{engine.MAX_FRAME} a state key holds (and far beyond what fits in memory); "
                                    f"`count_regions()` gives the formula, an upper bound")
            self.made[index] = engine.make_plan(self.sup, order, axes)
        return self.made[index]

    def max_active(self) -> int | None:
        """The widest frame of the plans made (None when no block needed a scan)."""
        return max((p.max_frame for p in self.made.values()), default=None)

    def scan_axes(self) -> list[int] | None:
        return list(self.made[min(self.made)].axes) if self.made else None

"""The max-flow model of Hall's condition, described once (docs/math.md#theorem-1).

t ∈ K_N iff the network

    source → position p (capacity t_p) → pixel x ∈ S_p (unbounded) → sink (capacity d0)

carries Σ_p t_p units: channels collapse, a pixel stands for its d0
elements, which keeps the graph d0 times smaller than the element graph.
Every ``check`` backend (networkx, HiGHS, CBC, SCIP, CP-SAT) and the LP
bounds solve this one description, :class:`FlowNetwork`; none builds its own.
The position–pixel incidence is computed once per instance and cached.

Examples
--------
>>> from ilpregions.core.spec import Network, ConvLayer
>>> from ilpregions.core.geometry import layer_instance
>>> net = FlowNetwork.build(layer_instance(Network((3, 1), (ConvLayer(1, 2),))), [1, 0])
>>> net.arcs, net.by_position, net.by_pixel
(((0, 0), (0, 1)), {0: (0, 1)}, {0: (0,), 1: (1,)})
>>> overlap_components(layer_instance(Network((4, 1), (ConvLayer(1, 2, stride=2),))))
[[0], [1]]
"""

from __future__ import annotations

from ilpregions.core.errors import InconsistencyError

import itertools
from dataclasses import dataclass
from typing import Mapping, Sequence

from ilpregions.core.combinatorics import connected_groups, groups_of_flat


@dataclass(frozen=True)
class Incidence:
    """Every (position, pixel ∈ S_p) arc of an instance, row-major, as arrays."""

    position: np.ndarray     # arc -> position
    pixel: np.ndarray        # arc -> pixel
    lengths: np.ndarray      # position -> |fields[p]| (pixels)
    pixels: int              # number of pixel ids (at least max id + 1)


def incidence(inst) -> Incidence:
    """The position–pixel arcs of ``inst``, computed once per instance."""
    cached = inst.__dict__.get("_incidence")
    if cached is None:
        import numpy as np   # here, not at import: `check` on a small layer needs no numpy

        lengths = np.fromiter(map(len, inst.fields), dtype=np.int64, count=inst.positions)
        total = int(lengths.sum())
        position = np.repeat(np.arange(inst.positions, dtype=np.int64), lengths)
        pixel = np.fromiter(itertools.chain.from_iterable(inst.fields), dtype=np.int64, count=total)
        pixels = max(inst.pixels, int(pixel.max()) + 1 if total else 0)
        for array in (position, pixel, lengths):
            array.setflags(write=False)   # shared by every caller of this instance
        cached = Incidence(position, pixel, lengths, pixels)
        inst.__dict__["_incidence"] = cached  # frozen dataclass: cache beside the fields
    return cached


@dataclass(frozen=True)
class FlowNetwork:
    """The flow network for one demand vector (positions with demand 0 have no arcs).

    Attributes
    ----------
    positions, channels : of the instance (a pixel's sink capacity is ``channels``)
    demand : source capacities t_p (or caps, for the LP bounds)
    arcs : the (position, pixel) arcs, position-major in field order
    by_position, by_pixel : arc indices leaving a position / entering a pixel,
        in first-appearance order
    """

    positions: int
    channels: int
    demand: tuple
    arcs: tuple[tuple[int, int], ...]
    by_position: Mapping[int, tuple[int, ...]]
    by_pixel: Mapping[int, tuple[int, ...]]

    @classmethod
    def build(cls, inst, demand: Sequence) -> "FlowNetwork":
        """The network of ``inst`` with source capacities ``demand``."""
        arcs: list[tuple[int, int]] = []
        by_position: dict[int, list[int]] = {}
        by_pixel: dict[int, list[int]] = {}
        for p in range(inst.positions):
            if demand[p] <= 0:
                continue
            for x in inst.fields[p]:
                by_position.setdefault(p, []).append(len(arcs))
                by_pixel.setdefault(x, []).append(len(arcs))
                arcs.append((p, x))
        return cls(inst.positions, inst.channels, tuple(demand), tuple(arcs),
                   {p: tuple(v) for p, v in by_position.items()},
                   {x: tuple(v) for x, v in by_pixel.items()})

    def units(self, values: Sequence[float], backend: str, tol: float = 1e-6) -> dict[tuple[int, int], int]:
        """Per-arc solver values as an integral flow ``{(p, x): units}`` (zeros dropped).

        Raises RuntimeError naming ``backend`` when a value is not integral:
        every solver here returns a vertex of a network matrix's polytope.
        """
        out = {}
        for arc, value in zip(self.arcs, values):
            rounded = round(float(value or 0))
            if abs(float(value or 0) - rounded) > tol:
                raise InconsistencyError(f"{backend}: the flow value {value} on {arc} is not integral")
            if rounded > 0:
                out[arc] = int(rounded)
        return out


def overlap_components(inst, positions: Sequence[int] | None = None) -> list[list[int]]:
    """Positions connected through shared pixels (empty fields left out), sorted.

    Positions in different components never share an element, so K_N is the
    product of the components' K's and R_N the product of their counts.
    """
    if positions is None and inst.positions > BIG_LAYER:
        return _all_components(inst)
    chosen = range(inst.positions) if positions is None else positions
    members = [p for p in chosen if inst.fields[p]]
    groups = connected_groups([inst.fields[p] for p in members])
    return [sorted(members[i] for i in group) for group in groups]


#: Layers with more positions are grouped from flat arrays (a million positions in about a second).
BIG_LAYER = 20_000


def _all_components(inst) -> list[list[int]]:
    import numpy as np

    arcs = incidence(inst)
    members = np.flatnonzero(arcs.lengths)
    return groups_of_flat(arcs.lengths[members], arcs.pixel, key_count=arcs.pixels, names=members)


__all__ = ["FlowNetwork", "Incidence", "incidence", "overlap_components"]

r"""Scan plans for the subspace frontier DP (docs/tied.md).

Pure geometry and bookkeeping, no arithmetic: which input elements each
neuron touches (and through which filter tap), the scan order of the
positions, and for every step the *frame* of columns the DP works in.

Notation. The positions of one connected block are scanned in an order
``p_0, p_1, ...``; an element (pixel × channel) has a first and a last step
that touch it. The frame of step i is ``{e : first(e) ≤ i ≤ last(e)}``: the
elements still active from earlier steps plus the new ones of ``S_{p_i}``.
Frames are sorted by ``(last(e), e)`` (expiry order), so the elements that
expire after step i are the first columns of frame i; this is what lets the
DP drop them by deleting rows (see :mod:`ilpregions.backends.subspace.engine`).

Examples
--------
>>> from ilpregions.core.spec import Network, ConvLayer
>>> sup = supports(Network((3, 3, 1), (ConvLayer(2, 2),)))
>>> sup.elements[0].tolist(), sup.taps[0].tolist()
([0, 1, 3, 4], [0, 1, 2, 3])
>>> plan = make_plan(sup, [0, 1, 2, 3])
>>> [len(f) for f in plan.frames], plan.max_frame
([4, 5, 5, 4], 5)
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from ilpregions.core.errors import InputError
from ilpregions.core.geometry import field_grid
from ilpregions.core.spec import ConvLayer, DenseLayer, Network


@dataclass(frozen=True)
class Supports:
    """Where each position's neurons live.

    ``elements[p]`` are the flat input elements (pixel·d0 + channel) of S_p,
    ``taps[p]`` the matching flat filter taps (kernel offset·d0 + channel; for
    a dense layer the element itself). ``coords[p]`` are the output
    coordinates of p, ``taps_per_filter`` the length of one filter, ``shared``
    whether all positions use the same d1 filters.
    """

    elements: tuple[np.ndarray, ...]
    taps: tuple[np.ndarray, ...]
    coords: tuple[tuple[int, ...], ...]
    filters: int
    taps_per_filter: int
    shared: bool


def supports(network: Network) -> Supports:
    """The supports of the neurons of a one-layer conv/local/dense network (filter sizes checked first)."""
    from ilpregions.core.forward import check_weight_sizes

    check_weight_sizes(network)
    layer = network.layers[0]
    shape = network.input_shape
    spatial, d0 = shape[:-1], shape[-1]
    if isinstance(layer, DenseLayer):
        n = int(np.prod(shape))
        everything = np.arange(n, dtype=np.int64)
        return Supports((everything,), (everything,), ((0,),), layer.units, n, True)
    if not isinstance(layer, ConvLayer):
        raise InputError(f"layers[0]: tied-max needs a conv, local or dense layer, not {layer.type}")
    out = network.output_shapes()[0][:-1]
    ids, inside = field_grid(spatial, layer, out)      # (positions, kernel taps), each row sorted
    taps_per_filter = ids.shape[1] * d0
    # element = pixel·d0 + channel and tap = kernel tap·d0 + channel: channels innermost keeps rows sorted
    if d0 == 1:     # one channel: the grid itself (read-only, shared)
        every, mask = ids, inside
    else:
        every = (ids[:, :, None] * d0 + np.arange(d0)).reshape(len(ids), taps_per_filter)
        mask = np.repeat(inside, d0, axis=1)
    all_taps = np.arange(taps_per_filter, dtype=np.int64)
    whole = inside.all(axis=1).tolist()
    elements = tuple(row if w else row[m] for row, m, w in zip(every, mask, whole))
    taps = tuple(all_taps if w else all_taps[m] for m, w in zip(mask, whole))
    coords = tuple(itertools.product(*(range(n) for n in out)))
    every.setflags(write=False)    # rows are shared views
    all_taps.setflags(write=False)
    return Supports(elements, taps, coords, layer.filters, taps_per_filter, layer.shared)


@dataclass(frozen=True)
class ScanPlan:
    """The steps of one block: positions in scan order and their frames.

    ``frames[i]`` are the elements of step i's frame in expiry order;
    ``columns[i]`` the frame columns of ``S_{p_i}`` (aligned with
    ``supports.taps[p_i]``); ``keep[i]`` maps frame i's columns to frame i+1's
    (-1 for an element that expires after step i; the last step maps all to -1).
    """

    positions: tuple[int, ...]
    frames: tuple[np.ndarray, ...]
    columns: tuple[np.ndarray, ...]
    keep: tuple[np.ndarray, ...]
    axes: tuple[int, ...]

    @property
    def max_frame(self) -> int:
        return max((len(f) for f in self.frames), default=0)


def _first_last(sup: Supports, order: list[int]) -> tuple[dict[int, int], dict[int, int]]:
    first: dict[int, int] = {}
    last: dict[int, int] = {}
    for i, p in enumerate(order):
        for e in sup.elements[p].tolist():
            first.setdefault(e, i)
            last[e] = i
    return first, last


def make_plan(sup: Supports, order: list[int], axes: tuple[int, ...] = ()) -> ScanPlan:
    """The frames of the steps for positions scanned in ``order``."""
    first, last = _first_last(sup, order)
    by_step: list[list[int]] = [[] for _ in order]
    for e, f in first.items():
        for i in range(f, last[e] + 1):
            by_step[i].append(e)
    frames, columns, keep = [], [], []
    for i, p in enumerate(order):
        frame = np.array(sorted(by_step[i], key=lambda e: (last[e], e)), dtype=np.int64)
        frames.append(frame)
        where = {e: j for j, e in enumerate(frame.tolist())}
        columns.append(np.array([where[e] for e in sup.elements[p].tolist()], dtype=np.int64))
    for i in range(len(order)):
        nxt = {e: j for j, e in enumerate(frames[i + 1].tolist())} if i + 1 < len(order) else {}
        keep.append(np.array([nxt.get(e, -1) if last[e] > i else -1 for e in frames[i].tolist()],
                             dtype=np.int64))
    return ScanPlan(tuple(order), tuple(frames), tuple(columns), tuple(keep), axes)


def frame_sizes(sup: Supports, order: list[int]) -> list[int]:
    """Frame sizes of a scan order, without building the plan (for choosing one)."""
    first, last = _first_last(sup, order)
    diff = np.zeros(len(order) + 1, dtype=np.int64)
    for e, f in first.items():
        diff[f] += 1
        diff[last[e] + 1] -= 1
    return np.cumsum(diff)[:-1].tolist()


def best_order(sup: Supports, block: list[int]) -> tuple[int, list[int], tuple[int, ...]]:
    """(largest frame, order, axes) of the best axis order, without building the plan.

    Lexicographic order of the permuted output coordinates: the last axis of
    ``axes`` varies fastest, so the best order usually puts the shortest
    axis last (a raster scan along the shorter side). Ties go to the
    smallest total frame size.
    """
    k = len(sup.coords[block[0]]) if block else 0
    best = None
    for axes in itertools.permutations(range(k)):
        order = sorted(block, key=lambda p: tuple(sup.coords[p][a] for a in axes))
        sizes = frame_sizes(sup, order)
        cost = (max(sizes, default=0), sum(sizes))
        if best is None or cost < best[0]:
            best = (cost, order, tuple(axes))
    return best[0][0], best[1], best[2]


def best_plan(sup: Supports, block: list[int]) -> ScanPlan:
    """Scan ``block`` along the axis order with the smallest largest frame (:func:`best_order`)."""
    _, order, axes = best_order(sup, block)
    return make_plan(sup, order, axes)

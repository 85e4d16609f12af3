"""Segments through the line engine: a network prepared once, and a segment's result as a SliceResult.

The line engine (the ``slicer`` backend's ``slice_line``) walks the segment
in t carrying only changes of slope, so its cost follows the pieces and the
neurons that switch; it handles every op but max-pooling (a network with
max-pooling, and every plane, goes to the polygon engine).
"""

from __future__ import annotations

import time
import weakref
from dataclasses import dataclass, field

import numpy as np

from ilpregions import backends
from ilpregions.core.errors import ParameterError
from ilpregions.core.slicenet import SliceNet

SLICER = backends.load("slicer", backends.SLICE)
#: Default memory cap of a slice (bytes): a few GiB.
DEFAULT_MEMORY_CAP = 4 << 30

LINE_ARITHMETIC = ("float64 walk along the segment, every entry's line with a rigorous error bound; a piece is "
                   "certified where no sign is in doubt at its midpoint, else re-checked by a pass of its "
                   f"pattern with error bounds or in exact rational arithmetic; switches closer than "
                   f"{SLICER.MIN_LENGTH:.1e} in t are one breakpoint")


@dataclass(frozen=True)
class PreparedNetwork:
    """A network ready for many slices: its flat graph, the line engine's arrays (None with max-pooling)
    and the seconds preparing took. Pass it as ``model`` to :func:`slice_network`."""

    net: SliceNet = field(repr=False)
    line: object = field(repr=False)
    seconds: float = 0.0

    @property
    def input_size(self) -> int:
        return self.net.input_size


def check_memory_cap(memory_cap) -> int:
    if memory_cap is None:
        return DEFAULT_MEMORY_CAP
    if isinstance(memory_cap, bool) or not isinstance(memory_cap, (int, float)) or not memory_cap > 0:
        raise ParameterError("memory_cap", f"must be a positive number of bytes, got {memory_cap!r}")
    return int(memory_cap)


def prepare_network(model, *, weights=None, seed: int | None = None, input_shape=None,
                    memory_cap: int | None = None) -> PreparedNetwork:
    """Trace (or read) a network once for many slices.

    Parameters
    ----------
    model : Network, SliceNet or torch.nn.Module
        As for :func:`slice_network`.
    weights : mapping of str to ndarray, optional
        A spec network's weights.
    seed : int, optional
        Without weights: He-normal weights from this seed.
    input_shape : sequence of int, optional
        A torch module's input shape (C, *spatial).
    memory_cap : int, optional
        Bytes the line engine's copy of the weights may take (default 4 GiB).

    Returns
    -------
    PreparedNetwork
        The flat graph, the line engine's arrays (None with max-pooling) and
        the seconds preparing took; pass it as ``model`` to :func:`slice_network`.

    Raises
    ------
    InputError
        The model cannot be converted (see :func:`as_slicenet`).
    TooLargeError
        The line engine's arrays would pass ``memory_cap``.

    Examples
    --------
    >>> from ilpregions.core.spec import Network, DenseLayer
    >>> from ilpregions.services.slicing import slice_network
    >>> prep = prepare_network(Network((2,), (DenseLayer(3), DenseLayer(2))), seed=0)
    >>> slice_network(prep, [[-2.0, -2.0], [2.0, 2.0]]).pieces
    5
    """
    from ilpregions.services.slicing._slice import as_slicenet

    if isinstance(model, PreparedNetwork):
        return model
    start = time.perf_counter()
    net = as_slicenet(model, weights, seed, input_shape)
    cap = check_memory_cap(memory_cap)
    known = _PREPARED.get(id(net))
    if known is not None and known[0]() is net and known[1].line is not None and known[1].line.nbytes <= cap:
        return known[1]          # the same SliceNet object, sliced again (many lines): prepared once
    line = None
    if not any(op.kind == "maxpool" for op in net.ops):
        line = SLICER.prepare_line(net, cap)
    prepared = PreparedNetwork(net, line, time.perf_counter() - start)
    if model is net:
        _PREPARED.clear()        # one network at a time: a cache, not a store
        _PREPARED[id(net)] = (weakref.ref(net), prepared)
    return prepared


#: The last SliceNet prepared, by identity (its weak reference tells a reused id apart).
_PREPARED: dict = {}


def slice_segment(prepared: PreparedNetwork, plane, *, start: float, deadline, memory_cap, progress: bool,
                  check: bool):
    """The segment of ``plane`` through the line engine, as a :class:`SliceResult`."""
    from ilpregions.core.progress import Progress
    from ilpregions.services.slicing._slice import SliceResult

    with Progress("slice", total=10 ** 6, unit="ppm", enabled=progress) as bar:
        r = SLICER.slice_line(prepared.line, plane.origin, plane.basis[:, 0], deadline=deadline,
                              memory_cap=check_memory_cap(memory_cap), progress=bar, check=check)
    timings = {"prepare": prepared.seconds, **r.seconds_by_op}
    mark = time.perf_counter()
    verts = tuple(np.array([[a], [b]]) for a, b in zip(r.lo, r.hi))
    P = r.pieces
    if P:
        flat = np.stack([r.lo, r.hi], axis=1).reshape(-1, 1)
        crossed, segments = SLICER.decision_boundary(r.outputs, flat, np.arange(0, 2 * P + 1, 2, dtype=np.int64))
    else:
        crossed, segments = np.zeros(0, bool), []
    timings["boundary"] = time.perf_counter() - mark
    pending = tuple(np.array([[a], [b]]) for a, b in r.pending)
    pieces = P if r.complete else r.certified
    return SliceResult(pieces, r.complete, int(crossed.sum()), verts, r.ids, crossed, pending, tuple(segments),
                       plane, r.certificate if check else None, time.perf_counter() - start, timings, r.outputs,
                       LINE_ARITHMETIC, stopped=None if r.complete else r.status, engine="line",
                       certified=r.states <= SLICER.BY_EXACT, switches=r.switches)


__all__ = ["PreparedNetwork", "prepare_network", "slice_segment", "DEFAULT_MEMORY_CAP", "LINE_ARITHMETIC",
           "check_memory_cap"]

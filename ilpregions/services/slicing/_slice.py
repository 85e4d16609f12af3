"""``slice_network``: the exact pieces of a network on a segment or a plane through given points.

Its examples are in :func:`slice_network`.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from ilpregions import backends
from ilpregions.core.errors import InputError, ParameterError
from ilpregions.core.slicenet import SliceNet, from_spec

#: The engine (backends/slicing): cuts, propagation, certificates.
SLICER = backends.load("slicer", backends.SLICE)

ARITHMETIC = (f"float64 splitting (a sign change needs |value| > {SLICER.REL_TOL:g} x scale at a vertex); "
              "each piece's pattern certified at its centroid by a rigorous float64 error bound, "
              "or re-checked in exact rational arithmetic")


@dataclass(frozen=True)
class Plane:
    """The slice ``x = origin + basis @ c`` and the piece of ``c``-space it covers.

    In 2-D the basis is orthonormal (pictures are not distorted); in 1-D it is
    ``B - A`` and ``c`` runs over [0, 1].
    """

    origin: np.ndarray
    basis: np.ndarray
    polygon: np.ndarray
    anchors: np.ndarray
    region: str


def make_plane(points: Sequence[np.ndarray], region: str = "triangle") -> Plane:
    """The segment A→B, or the triangle/parallelogram spanned by A, B, C, as a :class:`Plane`.

    Parameters
    ----------
    points : sequence of 2 or 3 array_like
        The anchor points, all of the same size and finite.
    region : {"triangle", "parallelogram"}
        For 3 points: the triangle ABC or the parallelogram A, B, B+C-A, C.

    Returns
    -------
    Plane
        ``origin`` (A), ``basis`` (orthonormal in 2-D; ``B - A`` in 1-D), the
        ``polygon`` covered in plane coordinates, and the anchors there.

    Raises
    ------
    InputError
        Not 2 or 3 points, points of different sizes or not finite, A = B,
        A, B, C (nearly) collinear, or an unknown region.

    Examples
    --------
    >>> plane = make_plane([[0.0, 0.0], [2.0, 0.0], [0.0, 1.0]])
    >>> plane.polygon.tolist(), plane.region
    ([[0.0, 0.0], [2.0, 0.0], [0.0, 1.0]], 'triangle')
    >>> make_plane([[1.0, 1.0], [1.0, 1.0]])
    Traceback (most recent call last):
    ...
    ilpregions.core.errors.InputError: through: A and B are the same point
    """
    pts = [np.asarray(p, dtype=np.float64).reshape(-1) for p in points]
    if len(pts) not in (2, 3):
        raise InputError(f"through: expected 2 points (a segment) or 3 (a plane), got {len(pts)}")
    if any(p.shape != pts[0].shape for p in pts) or not all(np.isfinite(p).all() for p in pts):
        raise InputError("through: the points must have the same size and finite values")
    A, B = pts[0], pts[1]
    if not np.any(B != A):
        raise InputError("through: A and B are the same point")
    if len(pts) == 2:
        return Plane(A, (B - A)[:, None], np.array([[0.0], [1.0]]), np.array([[0.0], [1.0]]), "segment")
    if region not in ("triangle", "parallelogram"):
        raise InputError(f"region: expected 'triangle' or 'parallelogram', got {region!r}")
    d1 = B - A
    e1 = d1 / np.linalg.norm(d1)
    w = pts[2] - A
    w2 = w - (w @ e1) * e1
    if np.linalg.norm(w2) <= 1e-9 * np.linalg.norm(w):
        raise InputError("through: A, B and C are (nearly) collinear; they span no plane")
    e2 = w2 / np.linalg.norm(w2)
    a, b, c = np.zeros(2), np.array([np.linalg.norm(d1), 0.0]), np.array([w @ e1, np.linalg.norm(w2)])
    poly = np.array([a, b, c]) if region == "triangle" else np.array([a, b, b + c - a, c])
    return Plane(A, np.stack([e1, e2], axis=1), poly, np.array([a, b, c]), region)


@dataclass(frozen=True)
class SliceResult:
    """The pieces of a network on a slice (see :func:`slice_network`).

    ``pieces`` counts every piece; when ``complete`` is false (time limit) it
    is a lower bound: the coarser ``pending`` pieces still need splitting.
    """

    pieces: int
    complete: bool
    boundary_pieces: int
    vertices: tuple = field(repr=False)
    patterns: tuple = field(repr=False)
    crossed: np.ndarray = field(repr=False, compare=False)
    pending: tuple = field(repr=False, default=())
    boundary: tuple = field(repr=False, default=())
    plane: Plane | None = field(repr=False, default=None, compare=False)
    certificate: SLICER.Certificate | None = None
    seconds: float = 0.0
    seconds_by_op: dict = field(default_factory=dict, compare=False)
    outputs: np.ndarray | None = field(repr=False, default=None, compare=False)
    arithmetic: str = ARITHMETIC
    stopped: str | None = None          # time_limit or memory_cap when not complete
    engine: str = "polygon"             # polygon (planes, max-pooling) or line (segments)
    certified: np.ndarray | None = field(repr=False, default=None, compare=False)   # per piece (line engine)
    switches: tuple = field(repr=False, default=(), compare=False)  # line engine: per ReLU layer, see to_json

    @property
    def exact(self) -> bool:
        """Complete, and every piece's pattern proven (a run without checking is not called exact)."""
        return self.complete and self.certificate is not None and self.certificate.ok

    @property
    def dims(self) -> int:
        return self.plane.polygon.shape[1]

    def breakpoints(self) -> list[float]:
        """1-D slices: the interior breakpoints t in (0, 1), sorted."""
        if self.dims != 1:
            raise InputError("breakpoints: only a 1-D slice (two points) has breakpoints")
        ends = sorted({float(v[0, 0]) for v in self.vertices} | {float(v[1, 0]) for v in self.vertices})
        return [t for t in ends if 0.0 < t < 1.0]

    def to_json(self, model: str | None = None) -> dict[str, Any]:
        status = ("partial" if not self.complete else "exact" if self.certificate is None or self.certificate.ok
                  else "uncertified")
        out: dict[str, Any] = {"model": model, "status": status, "seconds": round(self.seconds, 6)}
        out.update({"dims": self.dims, "region": self.plane.region, "engine": self.engine,
                    "pieces": self.pieces, "lower_bound": not self.complete, "exact": self.exact,
                    "boundary_pieces": self.boundary_pieces, "distinct_patterns": len(set(self.patterns)),
                    "arithmetic": self.arithmetic,
                    "anchors": self.plane.anchors.tolist(),
                    "seconds_by_op": {k: round(v, 6) for k, v in self.seconds_by_op.items()}})
        if self.certificate is not None:
            c = self.certificate
            out["certified"] = {"by_error_bounds": c.by_bounds, "exact_rechecks": c.exact,
                                "unchecked": c.unchecked, "mismatches": len(c.mismatches)}
        if self.stopped:
            out["stopped"] = self.stopped
        if self.switches:
            out["switches"] = [{"layer": w, "entries": n, "switches": k, "switching_entries": m}
                               for w, n, k, m in self.switches]
        out["piece_list"] = [{"pattern": p, "boundary": bool(b), "vertices": v.tolist()}
                             for v, p, b in zip(self.vertices, self.patterns, self.crossed)]
        if self.certified is not None:
            for item, ok in zip(out["piece_list"], self.certified):
                item["certified"] = bool(ok)
        if self.pending:
            out["pending_pieces"] = [v.tolist() for v in self.pending]
        return out


def as_slicenet(model, weights=None, seed: int | None = None, input_shape=None) -> SliceNet:
    """A :class:`SliceNet` from a spec (+ weights or seed), a SliceNet, or a torch module.

    Parameters
    ----------
    model : Network, SliceNet or torch.nn.Module
        What to convert (a SliceNet is returned as is).
    weights : mapping of str to ndarray, optional
        A spec network's weights.
    seed : int, optional
        Without weights: He-normal weights from this seed.
    input_shape : sequence of int, optional
        A torch module's input shape (C, *spatial), torch order.

    Returns
    -------
    SliceNet
        The network as flat operations.

    Raises
    ------
    InputError
        A spec without weights or seed, a torch module without
        ``input_shape``, a model of another type, or weights that do not fit.

    Examples
    --------
    >>> from ilpregions.core.spec import DenseLayer, Network
    >>> [op.kind for op in as_slicenet(Network((2,), (DenseLayer(3), DenseLayer(2))), seed=0).ops]
    ['affine', 'relu', 'affine', 'relu']
    """
    from ilpregions.core.spec import Network

    if isinstance(model, SliceNet):
        return model
    if hasattr(model, "net") and isinstance(model.net, SliceNet):   # a PreparedNetwork
        return model.net
    if isinstance(model, Network):
        if weights is None:
            if seed is None:
                raise InputError("slice: give weights or a seed for the network")
            from ilpregions.core.forward import he_normal_weights
            weights = he_normal_weights(model, seed)
        return from_spec(model, weights)
    if type(model).__module__.startswith("torch") or hasattr(model, "named_modules"):
        from ilpregions.services.torch import to_slicenet
        if input_shape is None:
            raise InputError("slice: a torch module needs input_shape (C, *spatial) in torch order")
        return to_slicenet(model, input_shape)
    raise InputError(f"slice: cannot slice a {type(model).__name__}; expected a Network, SliceNet or nn.Module")


def slice_network(model, through: Sequence, *, weights=None, seed: int | None = None, input_shape=None,
                  region: str = "triangle", time_limit: float | None = None, progress: bool = False,
                  check: bool = True, memory_cap: int | None = None, engine: str = "auto") -> SliceResult:
    """The exact pieces of a network on the segment A→B or the plane piece spanned by A, B, C.

    Parameters
    ----------
    model : Network, SliceNet or torch.nn.Module
        A spec (with ``weights`` or ``seed``), or a module traceable by torch.fx
        (with ``input_shape`` in torch order; points are then channels-first).
    through : sequence of 2 or 3 arrays
        The anchor points, each of the network's input size.
    weights : mapping of str to ndarray, optional
        A spec network's weights.
    seed : int, optional
        Without weights: He-normal weights from this seed.
    input_shape : sequence of int, optional
        A torch module's input shape (C, *spatial).
    region : {"triangle", "parallelogram"}
        For 3 points: the triangle ABC or the parallelogram A, B, B+C-A, C.
    time_limit : float, optional
        Stop after this many seconds; the count is then a lower bound.
    progress : bool
        A bar on stderr (pieces so far), shown after a second.
    check : bool
        Certify every piece's pattern at a point inside it, by a rigorous float64
        error bound or in exact rational arithmetic.
    memory_cap : int, optional
        Bytes the line engine may take (default 4 GiB), checked by arithmetic before its arrays and each
        op's changes are allocated; over it, the preparation is refused or the walk stops with a lower bound.
    engine : {"auto", "line", "polygon"}
        ``line`` walks a segment carrying only changes of slope (any op but max-pooling); ``polygon``
        cuts pieces with all their maps (planes, max-pooling); ``auto`` takes the line engine when it can.

    Returns
    -------
    SliceResult
        ``pieces`` (a lower bound when not ``complete``), the pieces'
        vertices and activation patterns, the pieces the decision boundary
        crosses, the certificate, and seconds per stage.

    Raises
    ------
    InputError
        The model cannot be converted (see :func:`as_slicenet`), the points do
        not span a segment or plane (see :func:`make_plane`), or their size is
        not the network's input size; ``engine="line"`` where it cannot run.
    TooLargeError
        The network's arrays would pass ``memory_cap`` (or a matrix limit of the polygon engine).

    Examples
    --------
    >>> from ilpregions.core.spec import Network, DenseLayer
    >>> net = Network((2,), (DenseLayer(3), DenseLayer(2)))
    >>> r = slice_network(net, [[-2.0, -2.0], [2.0, -1.0], [0.0, 2.0]], seed=0)
    >>> r.pieces, r.complete, r.certificate.ok
    (10, True, True)
    >>> line = slice_network(net, [[-2.0, -2.0], [2.0, 2.0]], seed=0)
    >>> line.pieces, [round(t, 6) for t in line.breakpoints()]
    (5, [0.391135, 0.444969, 0.588604, 0.655101])
    """
    from ilpregions.services.slicing._line import PreparedNetwork, check_memory_cap, prepare_network, slice_segment
    from ilpregions.services.slicing._polygon import polygon_fits, slice_polygon

    start = time.perf_counter()
    deadline = None if time_limit is None else start + time_limit
    if engine not in ("auto", "line", "polygon"):
        raise ParameterError("engine", f"expected 'auto', 'line' or 'polygon', got {engine!r}")
    plane = make_plane(through, region)
    if engine == "line" and plane.region != "segment":
        raise ParameterError("engine", "the line engine slices segments (two points); a plane needs 'polygon'")
    line = plane.region == "segment" and engine != "polygon"
    if isinstance(model, PreparedNetwork) or line:
        prepared = prepare_network(model, weights=weights, seed=seed, input_shape=input_shape,
                                   memory_cap=memory_cap)
        net = prepared.net
    else:
        net = as_slicenet(model, weights, seed, input_shape)
    if plane.origin.size != net.input_size:
        raise InputError(f"through: points have {plane.origin.size} values but the network's input has "
                         f"{net.input_size} ({'x'.join(map(str, net.input_shape))}, {net.layout})")
    line = line and prepared.line is not None
    if engine == "line" and not line:
        raise ParameterError("engine", "the line engine does not handle max-pooling; use 'polygon'")
    if not line:
        polygon_fits(net, check_memory_cap(memory_cap))
    ready = SLICER.ensure_compiled("line" if line else "polygon", deadline, _note)
    if not ready or (line and deadline is not None and time.perf_counter() > deadline):
        # the deadline came while tracing or compiling: nothing is found yet (a lower bound of 0)
        pending = (np.ascontiguousarray(plane.polygon),)
        return SliceResult(0, False, 0, (), (), np.zeros(0, bool), pending, (), plane, None,
                           time.perf_counter() - start, {}, None, stopped="time_limit",
                           engine="line" if line else "polygon")
    if line:
        return slice_segment(prepared, plane, start=start, deadline=deadline, memory_cap=memory_cap,
                             progress=progress, check=check)
    return slice_polygon(net, plane, start=start, deadline=deadline, progress=progress, check=check)


def _note(message: str) -> None:
    print(f"slice: {message}", file=sys.stderr, flush=True)


def total_area(result: SliceResult) -> float:
    """Sum of the pieces' areas (lengths in 1-D): equals the slice's area up to rounding.

    Parameters
    ----------
    result : SliceResult
        A result of :func:`slice_network` (pending pieces included).

    Returns
    -------
    float
        The total area.

    Examples
    --------
    >>> from ilpregions.core.spec import Network, DenseLayer
    >>> r = slice_network(Network((2,), (DenseLayer(3),)), [[-2.0, -2.0], [2.0, -1.0], [0.0, 2.0]], seed=0)
    >>> (ax, ay), (bx, by), (cx, cy) = r.plane.polygon.tolist()
    >>> abs(total_area(r) - abs((bx - ax) * (cy - ay) - (by - ay) * (cx - ax)) / 2) < 1e-9
    True
    """
    return float(sum(SLICER.area(np.ascontiguousarray(v)) for v in (*result.vertices, *result.pending)))


__all__ = ["Plane", "make_plane", "SliceResult", "slice_network", "as_slicenet", "total_area", "ARITHMETIC"]

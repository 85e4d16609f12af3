"""Planes (and segments with max-pooling) through the polygon engine: pieces cut with all their maps.

The polygon engine (the ``slicer`` backend's ``propagate``) carries every
tensor's map on every piece; :func:`polygon_fits` refuses by arithmetic what
it cannot hold, :func:`certify_polygon` checks each piece's pattern at its
centroid within a time budget.
"""

from __future__ import annotations

import time

import numpy as np
from threadpoolctl import threadpool_limits

from ilpregions import backends
from ilpregions.core.progress import Progress

SLICER = backends.load("slicer", backends.SLICE)


def slice_polygon(net, plane, *, start: float, deadline, progress: bool, check: bool):
    """The pieces of ``plane`` through the polygon engine, as a :class:`SliceResult`."""
    from ilpregions.services.slicing._slice import SliceResult

    # the products are small (a batch's maps): BLAS threads only wait for each other
    with threadpool_limits(limits=1, user_api="blas"), Progress("slice", unit="piece", enabled=progress) as bar:
        prop = SLICER.propagate(net, plane.polygon, plane.origin, plane.basis, deadline, bar)
    codes = prop.codes if prop.codes is not None else np.zeros((0, 0), np.int16)
    timings = dict(prop.seconds_by_op)
    mark = time.perf_counter()
    patterns = SLICER.pattern_ids(codes)
    crossed, segments = (SLICER.decision_boundary(prop.outputs, prop.flat, prop.offs) if prop.verts
                         else (np.zeros(0, bool), []))
    timings["boundary"] = time.perf_counter() - mark
    cert = None
    if check and prop.verts:
        mark = time.perf_counter()
        stop = None if deadline is None else deadline + (deadline - start)    # within twice the limit
        with threadpool_limits(limits=1, user_api="blas"):
            cert = certify_polygon(net, plane, SLICER.centroids(prop.flat, prop.offs), codes, stop)
        timings["certify"] = time.perf_counter() - mark
    return SliceResult(len(prop.verts) + len(prop.pending), not prop.timed_out, int(crossed.sum()),
                       tuple(prop.verts), patterns, crossed, tuple(prop.pending), tuple(segments), plane,
                       cert, time.perf_counter() - start, timings, prop.outputs)


def certify_polygon(net, plane, points, codes, stop, chunk: int = 16384):
    """The polygon engine's certificate, in chunks of pieces when there is a ``stop`` (one call otherwise);
    the chunks not started by ``stop`` are unchecked."""
    chunk = max(1, len(points)) if stop is None else chunk
    by_bounds = exact = unchecked = 0
    mismatches: list[int] = []
    for lo in range(0, len(points), chunk):
        if stop is not None and time.perf_counter() > stop:
            unchecked += len(points) - lo
            break
        c = SLICER.certify(net, plane.origin, plane.basis, points[lo:lo + chunk], codes[lo:lo + chunk])
        by_bounds, exact, unchecked = by_bounds + c.by_bounds, exact + c.exact, unchecked + c.unchecked
        mismatches += [lo + k for k in c.mismatches]
    return SLICER.Certificate(by_bounds, exact, unchecked, tuple(mismatches))


def polygon_fits(net, memory_cap) -> None:
    """Refuse, by arithmetic and before any work, a network the polygon engine cannot hold: a matrix over its
    limit, or a batch of pieces whose maps (every tensor's, at most) would pass ``memory_cap``."""
    import scipy.sparse as sp

    from ilpregions.core.errors import TooLargeError
    from ilpregions.core.slicenet import MAX_MATRIX_ENTRIES

    for op in net.ops:
        if op.kind == "affine":
            nnz = op.conv.nnz_bound if op.A is None else (op.A.nnz if sp.issparse(op.A) else op.A.size)
            if nnz > MAX_MATRIX_ENTRIES:
                raise TooLargeError(f"{op.where}: the polygon engine needs its matrix, up to {nnz:,} non-zeros "
                                    f"(limit {MAX_MATRIX_ENTRIES:,}); a segment can take the line engine")
    need = SLICER.BATCH * 8 * 3 * sum(net.sizes)
    if need > memory_cap:
        raise TooLargeError(f"memory_cap: the polygon engine's maps of a batch of {SLICER.BATCH} pieces may "
                            f"need {need:,} bytes, over the cap of {memory_cap:,}")


__all__ = ["slice_polygon", "certify_polygon", "polygon_fits"]

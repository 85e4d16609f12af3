"""The engines' compiled kernels: are they cached, and compiling them (once) under a deadline.

numba compiles a kernel the first time it runs and caches it on disk
(``cache=True``); a first run therefore spends tens of seconds compiling.
:func:`ensure_compiled` tells the caller beforehand (so it can say so on
stderr) and, under a deadline, compiles in a child process that is stopped
when the deadline comes: compilation itself cannot be interrupted, but the
caller then answers on time (with what it has: nothing yet).

Examples
--------
>>> ensure_compiled("line", None, lambda message: None)
True
>>> is_cached("line")
True
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ENGINES = ("line", "polygon")


def _line_kernels():
    from ilpregions.backends.slicing import batch as B
    from ilpregions.backends.slicing import sweep_kernels as SK

    return [SK.conv_stream, SK.matrix_stream, SK.merge_streams, SK.relu_chunk, SK.track_chunk, B.boundary_batch]


def _polygon_kernels():
    from ilpregions.backends.slicing import batch as B
    from ilpregions.backends.slicing import cert_kernels as CK

    return [B.relu_batch, B.pool_batch, B.boundary_batch, B.gather, B.gather_entries, CK.affine_bounded,
            CK.relu_bounded, CK.pool_bounded]


def _kernels(engine: str):
    return _line_kernels() if engine == "line" else _polygon_kernels()


def _cache_folder(engine: str) -> str:
    """Where numba keeps the engine's compiled kernels (for the message), or that it keeps them in memory."""
    try:
        return str(_kernels(engine)[0]._cache._cache_path)
    except AttributeError:         # no disk cache could be had: compiled for this process only
        return "memory only: no writable cache folder"


def is_cached(engine: str) -> bool:
    """Every kernel of ``engine`` is compiled in this process or has a fresh entry in numba's disk cache."""
    for disp in _kernels(engine):
        if disp.signatures:
            continue
        try:
            if not disp._cache._cache_file._load_index():   # numba's own index (stamped with the source)
                return False
        except Exception:  # noqa: BLE001 - another numba version: treat as not cached
            return False
    return True


def _stream():
    times = np.array([0.25, 0.5])
    ptr = np.array([0, 1, 2], dtype=np.int64)
    return times, ptr, np.array([0, 1], dtype=np.int64), np.array([1.0, -1.0]), np.array([1e-16, 1e-16])


def warm_line() -> None:
    """Run every line-engine kernel once on tiny inputs of the real argument types (compiles or loads them)."""
    from ilpregions.backends.slicing import batch as B
    from ilpregions.backends.slicing import sweep_kernels as SK

    s = _stream()
    geom = np.array([1, 1, 1, 3, 1, 1, 1, 3, 1, 1, 3, 1, 1, 1, 0, 0, 1, 1, 1, 1, 1], dtype=np.int64)
    from ilpregions.backends.slicing.linenet import conv_taps

    SK.conv_stream(*s, np.ones(3), np.ones(3), geom, conv_taps(geom), 1.0)
    csc = (np.array([0, 1, 2, 3], dtype=np.int64), np.array([0, 1, 2], dtype=np.int64), np.ones(3))
    SK.matrix_stream(*s, *csc, np.ones(3), 3, 1.0)
    SK.merge_streams(*s, *s)
    st = np.zeros((3, 8))
    st[:, SK.S], st[:, SK.V], st[:, SK.LF] = 1.0, -0.5, np.nan
    SK.relu_chunk(*s, st, 0.0, 1.0, 1.0, 0.0, 1e-15)
    SK.track_chunk(*s, np.zeros((3, 8)), 1.0)
    B.boundary_batch(np.array([[0.0], [1.0]]), np.array([0, 2], dtype=np.int64), np.ones((2, 1, 2)), 1e-9)


def warm_polygon() -> None:
    """Slice a tiny segment and plane of a small conv + max-pool network with the polygon engine."""
    from ilpregions.backends.slicing.certify import certify
    from ilpregions.backends.slicing.engine import centroids
    from ilpregions.backends.slicing.propagate import decision_boundary, propagate
    from ilpregions.core.forward import he_normal_weights
    from ilpregions.core.slicenet import from_spec
    from ilpregions.core.spec import ConvLayer, DenseLayer, MaxPoolLayer, Network

    spec = Network((6, 6, 1), (ConvLayer(2, 2), MaxPoolLayer(2), DenseLayer(2)))   # a sparse conv, a dense head
    net = from_spec(spec, he_normal_weights(spec, 0))
    rng = np.random.default_rng(0)
    for basis, poly in ((rng.normal(size=(36, 1)), np.array([[0.0], [1.0]])),
                        (np.linalg.qr(rng.normal(size=(36, 2)))[0], np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]]))):
        origin = rng.normal(size=36)
        prop = propagate(net, poly, origin, basis)
        decision_boundary(prop.outputs, prop.flat, prop.offs)
        certify(net, origin, basis, centroids(prop.flat, prop.offs), prop.codes)


def ensure_compiled(engine: str, deadline: float | None, notify) -> bool:
    """True once ``engine``'s kernels are ready; False if the deadline came while they were compiling.

    ``notify(message)`` is called first when they must be compiled. Without a
    deadline they are compiled here; with one, in a child process stopped at
    the deadline (numba's disk cache then serves this process).
    """
    if is_cached(engine):
        return True
    folder = _cache_folder(engine)
    notify(f"compiling the {engine} engine's kernels (first run only; cached in {folder})")
    warm = warm_line if engine == "line" else warm_polygon
    if deadline is None:
        warm()
        return True
    root = str(Path(__file__).resolve().parents[3])
    code = (f"import sys; sys.path.insert(0, {root!r}); "
            f"from ilpregions.backends.slicing.warm import warm_{engine}; warm_{engine}()")
    try:
        subprocess.run([sys.executable, "-c", code], timeout=max(0.1, deadline - time.perf_counter()),
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return False
    except subprocess.CalledProcessError:
        pass                         # e.g. no writable cache after all: compile here instead
    warm()
    return True


__all__ = ["ensure_compiled", "is_cached", "warm_line", "warm_polygon", "ENGINES"]

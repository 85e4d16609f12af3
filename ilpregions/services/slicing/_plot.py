"""Pictures of a slice: regions in distinct colours, their edges, the decision boundary, the anchors.

A 2-D slice is drawn in its orthonormal plane coordinates (no distortion); a
1-D slice is drawn as the network's outputs along the segment, with the
breakpoints as thin vertical lines. matplotlib is imported only here (the
``plot`` extra). Files are written atomically, and only to regular files.

Examples
--------
>>> import pytest; _ = pytest.importorskip("matplotlib")
>>> from ilpregions.core.spec import Network, DenseLayer
>>> from ilpregions.services.slicing import slice_network
>>> r = slice_network(Network((2,), (DenseLayer(4), DenseLayer(2))), [[-1, -1], [1, -1], [0, 1]], seed=0)
>>> import tempfile, os; d = tempfile.mkdtemp()
>>> plot_slice(r, os.path.join(d, "s.png")).endswith("s.png")
True
"""

from __future__ import annotations

import colorsys
import os
import stat
from pathlib import Path

import numpy as np

from ilpregions.core.errors import InputError

FORMATS = ("png", "pdf", "svg")


def check_output_path(path: str | Path) -> Path:
    """A path we may write a picture to: a regular file (or nothing yet) in an existing folder.

    Parameters
    ----------
    path : str or Path
        The picture's file name; its suffix picks the format.

    Returns
    -------
    Path
        The path, checked.

    Raises
    ------
    InputError
        An unknown format (not .png, .pdf or .svg), a path that exists and is
        not a regular file, or a folder that does not exist.

    Examples
    --------
    >>> import os, tempfile
    >>> check_output_path(os.path.join(tempfile.mkdtemp(), "slice.svg")).suffix
    '.svg'
    >>> check_output_path("slice.gif")
    Traceback (most recent call last):
    ...
    ilpregions.core.errors.InputError: plot: slice.gif: unknown picture format '.gif'; use .png, .pdf or .svg
    """
    path = Path(path)
    fmt = path.suffix.lower().lstrip(".")
    if fmt not in FORMATS:
        raise InputError(f"plot: {path}: unknown picture format {path.suffix!r}; use .png, .pdf or .svg")
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        mode = None
    except OSError as exc:
        raise InputError(f"plot: {path}: cannot be checked ({exc.strerror})") from None
    if mode is not None and not stat.S_ISREG(mode):
        raise InputError(f"plot: {path} exists and is not a regular file (a directory, device or FIFO); "
                         f"refusing to write there")
    if not path.parent.is_dir():
        raise InputError(f"plot: {path.parent} is not a directory")
    return path


def colours(n: int, seed: int = 0) -> np.ndarray:
    """n distinct, pleasant RGB colours: golden-ratio hues, varied lightness and saturation."""
    rng = np.random.default_rng(seed)
    hues = (np.arange(n) * 0.618033988749895) % 1.0
    light = rng.uniform(0.55, 0.85, n)
    sat = rng.uniform(0.45, 0.85, n)
    return np.array([colorsys.hls_to_rgb(h, l, s) for h, l, s in zip(hues, light, sat)]).reshape(n, 3)


def _draw_plane(ax, result, labels):
    from matplotlib.collections import LineCollection, PolyCollection

    order = np.argsort(np.array(result.patterns, dtype=object)) if result.patterns else []
    face = np.empty((len(result.vertices), 3))
    face[order] = colours(len(result.vertices))
    edge_width = 0.4 if len(result.vertices) < 2000 else 0.15
    ax.add_collection(PolyCollection(list(result.vertices), facecolors=face, edgecolors="0.15",
                                     linewidths=edge_width))
    if result.pending:
        ax.add_collection(PolyCollection(list(result.pending), facecolors="0.85", edgecolors="0.4",
                                         linewidths=0.3, hatch="//"))
    if result.boundary:
        ax.add_collection(LineCollection([s for s in result.boundary], colors="red", linewidths=1.6,
                                         label="decision boundary"))
    anchors = result.plane.anchors
    ax.scatter(anchors[:, 0], anchors[:, 1], s=40, c="black", zorder=5)
    for (x, y), name in zip(anchors, labels):
        ax.annotate(name, (x, y), textcoords="offset points", xytext=(5, 5), fontsize=11, weight="bold")
    poly = result.plane.polygon
    pad = 0.03 * np.ptp(poly, axis=0).max()
    ax.set_xlim(poly[:, 0].min() - pad, poly[:, 0].max() + pad)
    ax.set_ylim(poly[:, 1].min() - pad, poly[:, 1].max() + pad)
    ax.set_aspect("equal")
    ax.set_xlabel("along A→B (input-space distance)")
    ax.set_ylabel("towards C (orthogonal)")
    if result.boundary:
        ax.legend(loc="upper right", fontsize=8)


def _draw_line(ax, result, labels):
    n_out = result.outputs.shape[0] if result.outputs is not None else 0
    order = np.argsort([v[0, 0] for v in result.vertices])
    ts, ys = [], []
    for i in order:
        v = result.vertices[i]
        M = result.outputs[:, i, :]
        ts.extend([v[0, 0], v[1, 0]])
        ys.extend([M[:, 0] + M[:, 1] * v[0, 0], M[:, 0] + M[:, 1] * v[1, 0]])
    ys = np.array(ys).reshape(len(ts), n_out)
    cols = colours(max(n_out, 1), seed=1)
    for j in range(n_out):
        ax.plot(ts, ys[:, j], color=cols[j], lw=1.2, label=f"output {j}" if n_out <= 10 else None)
    for t in result.breakpoints():
        ax.axvline(t, color="0.6", lw=0.4, zorder=0)
    for seg in result.boundary:
        ax.axvline(float(seg[0, 0]), color="red", lw=1.2, ls="--")
    for t, name in zip((0.0, 1.0), labels):
        ax.annotate(name, (t, 0), xycoords=("data", "axes fraction"), xytext=(0, -28),
                    textcoords="offset points", ha="center", weight="bold")
    ax.set_xlim(0, 1)
    ax.set_xlabel("t (input = A + t (B - A))")
    ax.set_ylabel("network output")
    if 0 < n_out <= 10:
        ax.legend(fontsize=7, ncol=2)


def plot_slice(result, path: str | Path, title: str | None = None, labels=("A", "B", "C")) -> str:
    """Draw a slice's pieces (and the decision boundary) to a picture, atomically.

    Parameters
    ----------
    result : SliceResult
        A result of :func:`ilpregions.services.slicing.slice_network`.
    path : str or Path
        The picture (.png, .pdf or .svg; see :func:`check_output_path`).
    title : str, optional
        The title; default the number of pieces and of boundary pieces.
    labels : sequence of str
        Names of the anchor points.

    Returns
    -------
    str
        The path written.

    Raises
    ------
    InputError
        The path is refused (see :func:`check_output_path`).
    ImportError
        matplotlib (the ``plot`` extra) is not installed.

    Examples
    --------
    >>> import os, tempfile, pytest
    >>> _ = pytest.importorskip("matplotlib")   # the plot extra
    >>> from ilpregions.core.spec import Network, DenseLayer
    >>> from ilpregions.services.slicing import slice_network
    >>> r = slice_network(Network((2,), (DenseLayer(3),)), [[-2.0, -2.0], [2.0, -1.0], [0.0, 2.0]], seed=0)
    >>> os.path.basename(plot_slice(r, os.path.join(tempfile.mkdtemp(), "slice.png")))
    'slice.png'
    """
    path = check_output_path(path)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 6) if result.dims == 2 else (8, 4), dpi=130)
    try:
        (_draw_plane if result.dims == 2 else _draw_line)(ax, result, labels)
        status = "" if result.complete else " (time limit: at least)"
        ax.set_title(title or f"{result.pieces} pieces{status}, decision boundary crosses "
                              f"{result.boundary_pieces}", fontsize=10)
        fig.tight_layout()
        save_figure(fig, path)
    finally:
        plt.close(fig)
    return str(path)


def save_figure(fig, path: Path) -> None:
    """Write a figure atomically, under the output's lock (:mod:`ilpregions.core.safe_io`).

    Errors name ``path``, never the temporary file beside it.
    """
    from ilpregions.core.safe_io import atomic_open, output_lock

    with output_lock(path), atomic_open(path, "wb") as handle:
        fig.savefig(handle, format=path.suffix.lower().lstrip("."))


__all__ = ["plot_slice", "check_output_path", "save_figure", "colours"]

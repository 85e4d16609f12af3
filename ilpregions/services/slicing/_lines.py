"""Many lines at once: the exact pieces of a network along N segments, and their density.

Hanin & Rolnick (ICML 2019) measure how finely a network cuts input space by
counting its pieces along lines through data, per unit length. Here every
line is one exact, certified segment slice (:func:`slice_network`, on the
network prepared once by :func:`prepare_network`); the
lines come from ``random_lines`` (pairs of data points, or random
directions through data points, seeded; see ``_line_sets``) or from the
caller, run one after another, on a process pool or on Dask, and
:func:`line_density` sums them up (mean, spread and quantiles of the
pieces per unit length). docs/slice.md shows the command line.

Examples
--------
>>> from ilpregions.core.spec import Network, DenseLayer
>>> from ilpregions.services.slicing import random_lines
>>> net = Network((2,), (DenseLayer(3), DenseLayer(2)))
>>> lines = random_lines(4, size=2, seed=0)
>>> summary = line_density(net, lines, seed=0)
>>> summary.status, [line.pieces for line in summary.lines]
('exact', [2, 5, 2, 3])
>>> round(summary.density.mean, 6)
3.727532
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator, Sequence

import numpy as np

from ilpregions.core.errors import ParameterError
from ilpregions.core.progress import Progress
from ilpregions.services.slicing._line_sets import RandomLines
from ilpregions.services.slicing._lines_run import LineResult, run_lines
from ilpregions.services.slicing._line import LINE_ARITHMETIC, prepare_network
from ilpregions.services.slicing._slice import ARITHMETIC

#: The quantiles every spread reports.
QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)


def slice_lines(model, lines: Iterable, *, weights=None, seed: int | None = None, input_shape=None,
                time_limit: float | None = None, workers: int | None = None, scheduler=None,
                progress: bool = False) -> Iterator[LineResult]:
    """The exact pieces along each segment of ``lines``: one :class:`LineResult` per line, as they finish.

    Parameters
    ----------
    model : Network, SliceNet, PreparedNetwork or torch.nn.Module
        As for :func:`slice_network` (a spec needs ``weights`` or ``seed``, a
        module ``input_shape``); it is traced and prepared for the line engine
        once (:func:`prepare_network`), before any line.
    lines : iterable of (A, B)
        The segments, e.g. :func:`random_lines`; drawn lazily.
    weights : mapping of str to ndarray, optional
        A spec network's weights.
    seed : int, optional
        Without weights: He-normal weights from this seed.
    input_shape : sequence of int, optional
        A torch module's input shape (C, *spatial).
    time_limit : float, optional
        Seconds for the whole call. Lines running at the deadline stop there
        and come back with status ``partial`` (their count a lower bound);
        lines not yet started are not run.
    workers : int, optional
        Run the lines on this many local processes (default: in this process).
    scheduler : str or distributed.Client, optional
        Run them on a Dask cluster instead (``tcp://host:port``).
    progress : bool
        A progress bar over the lines on stderr.

    Returns
    -------
    iterator of LineResult
        In the order the lines finish (``index`` says which line).

    Raises
    ------
    ParameterError
        Bad ``workers``, both ``workers`` and ``scheduler``, or a line whose
        points do not fit the network.

    Examples
    --------
    >>> from ilpregions.core.spec import Network, DenseLayer
    >>> net = Network((2,), (DenseLayer(3), DenseLayer(2)))
    >>> [(r.index, r.pieces, r.status) for r in slice_lines(net, [([-2, -2], [2, 2])], seed=0)]
    [(0, 5, 'exact')]
    """
    start = time.time()
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
        raise ParameterError("workers", f"expected a positive number of processes, got {workers!r}")
    if workers is not None and workers > 1 and scheduler is not None:
        raise ParameterError("workers", "give `workers` (local processes) or `scheduler` (Dask), not both")
    net = prepare_network(model, weights=weights, seed=seed, input_shape=input_shape)   # traced once, every line
    deadline = None if time_limit is None else start + time_limit
    total = _length(lines)
    checked = (_checked(k, pair, net.input_size) for k, pair in enumerate(lines))
    return _with_progress(run_lines(net, checked, workers or 1, scheduler, deadline), total, progress)


def _length(lines) -> int | None:
    try:
        return len(lines)
    except TypeError:
        return None


def _checked(k: int, pair, size: int) -> tuple[int, np.ndarray, np.ndarray]:
    try:
        a, b = (np.asarray(p, dtype=np.float64).reshape(-1) for p in pair)
    except (TypeError, ValueError):
        raise ParameterError("lines", f"line {k}: expected a pair of points (A, B) of numbers") from None
    if a.size != size or b.size != size:
        raise ParameterError("lines", f"line {k}: points have {a.size} and {b.size} values; the network's input "
                                      f"has {size}")
    if not (np.isfinite(a).all() and np.isfinite(b).all()) or not np.any(a != b):
        raise ParameterError("lines", f"line {k}: the points must be finite and distinct")
    return k, a, b


def _with_progress(results: Iterator[LineResult], total, enabled: bool) -> Iterator[LineResult]:
    with Progress("lines", total=total, unit="line", enabled=enabled) as bar:
        done = []
        for result in results:
            if result.exact:
                done.append(result.density)
                bar.set_postfix(pieces_per_length=f"{np.mean(done):.4g}")
            bar.update()
            yield result


@dataclass(frozen=True)
class Spread:
    """Mean, sample standard deviation, extremes and :data:`QUANTILES` of some numbers (``None`` if none)."""

    n: int
    mean: float | None
    std: float | None
    min: float | None
    max: float | None
    quantiles: dict = field(default_factory=dict)

    @classmethod
    def of(cls, values: Sequence[float]) -> "Spread":
        if not len(values):
            return cls(0, None, None, None, None, {})
        x = np.asarray(values, dtype=np.float64)
        std = float(x.std(ddof=1)) if len(x) > 1 else 0.0
        quantiles = {f"q{round(q * 100):02d}": float(v) for q, v in zip(QUANTILES, np.quantile(x, QUANTILES))}
        return cls(len(x), float(x.mean()), std, float(x.min()), float(x.max()), quantiles)

    def to_json(self) -> dict[str, Any]:
        return {"n": self.n, "mean": self.mean, "std": self.std, "min": self.min, "max": self.max,
                "quantiles": dict(self.quantiles)}


@dataclass(frozen=True)
class LineDensity:
    """The lines of :func:`line_density` and the spread of their pieces per unit length.

    Statistics use the ``exact`` lines only (finished and certified); the
    others are listed with their status.
    """

    lines: tuple
    requested: int | None
    not_run: int | None
    seconds: float
    source: dict = field(default_factory=dict)
    workers: int = 1
    arithmetic: str = ARITHMETIC

    @property
    def exact_lines(self) -> tuple:
        return tuple(line for line in self.lines if line.exact)

    @property
    def complete(self) -> bool:
        """Every requested line finished with an exact, certified count."""
        return self.not_run == 0 and len(self.exact_lines) == len(self.lines)

    @property
    def status(self) -> str:
        return "exact" if self.complete else "partial"

    @property
    def pieces(self) -> Spread:
        return Spread.of([line.pieces for line in self.exact_lines])

    @property
    def density(self) -> Spread:
        """Pieces per unit length (input-space distance) of the exact lines."""
        return Spread.of([line.density for line in self.exact_lines])

    @property
    def breakpoint_density(self) -> Spread:
        """Breakpoints (pieces - 1) per unit length: free of the +1 of a short line's own piece."""
        return Spread.of([line.breakpoint_density for line in self.exact_lines])

    def to_json(self, model: str | None = None) -> dict[str, Any]:
        exact = self.exact_lines
        out: dict[str, Any] = {"model": model, "status": self.status, "seconds": round(self.seconds, 6),
                               "lines_requested": self.requested, "lines_exact": len(exact),
                               "lines_partial": sum(line.status == "partial" for line in self.lines),
                               "lines_uncertified": sum(line.status == "uncertified" for line in self.lines),
                               "lines_not_run": self.not_run}
        out.update(self.source)
        out.update({"workers": self.workers, "pieces_total": sum(line.pieces for line in exact),
                    "pieces": self.pieces.to_json(), "density": self.density.to_json(),
                    "breakpoint_density": self.breakpoint_density.to_json(), "arithmetic": self.arithmetic,
                    "line_list": [line.to_json() for line in self.lines]})
        return out


def line_density(model, lines: Iterable, *, weights=None, seed: int | None = None, input_shape=None,
                 time_limit: float | None = None, workers: int | None = None, scheduler=None,
                 progress: bool = False) -> LineDensity:
    """Slice every line of ``lines`` exactly and sum up their pieces per unit length.

    Parameters
    ----------
    model, lines, weights, seed, input_shape, time_limit, workers, scheduler, progress
        As for :func:`slice_lines`.

    Returns
    -------
    LineDensity
        Every finished line (sorted by index), and the mean, spread and
        quantiles of the pieces and of the pieces per unit length over the
        exact lines. With a time limit, ``status`` is ``partial`` when some
        lines did not finish: the statistics are then over the lines done.

    Raises
    ------
    ParameterError
        As for :func:`slice_lines`.

    Examples
    --------
    >>> from ilpregions.core.spec import Network, DenseLayer
    >>> net = Network((2,), (DenseLayer(3), DenseLayer(2)))
    >>> summary = line_density(net, [([-2, -2], [2, 2]), ([0, -2], [0, 2])], seed=0)
    >>> summary.pieces.mean, summary.status
    (5.0, 'exact')
    """
    start = time.perf_counter()
    requested = _length(lines)
    drawn = _Drawn(lines)
    model = prepare_network(model, weights=weights, seed=seed, input_shape=input_shape)
    results = sorted(slice_lines(model, drawn, weights=weights, seed=seed, input_shape=input_shape,
                                 time_limit=time_limit, workers=workers, scheduler=scheduler, progress=progress),
                     key=lambda line: line.index)
    if requested is not None:
        not_run = requested - len(results)
    else:  # an iterator of unknown length: known only if it was drawn to its end
        not_run = drawn.count - len(results) if drawn.exhausted else None
    source = lines.describe() if isinstance(lines, RandomLines) else {}
    return LineDensity(tuple(results), requested, not_run, time.perf_counter() - start, source, workers or 1,
                       ARITHMETIC if model.line is None else LINE_ARITHMETIC)


class _Drawn:
    """An iterable that counts what was drawn from it and whether it ran out."""

    def __init__(self, lines: Iterable):
        self._lines, self.count, self.exhausted = lines, 0, False

    def __len__(self) -> int:
        return len(self._lines)

    def __iter__(self):
        for pair in self._lines:
            self.count += 1
            yield pair
        self.exhausted = True


__all__ = ["slice_lines", "line_density", "LineResult", "LineDensity", "Spread", "QUANTILES"]

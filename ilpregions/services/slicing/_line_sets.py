"""The lines of :func:`line_density`: seeded segments through data points, and the data file they come from.

Two ways to draw a line through data, after Hanin & Rolnick (ICML 2019):
the segment between two distinct random points, or a segment of fixed
length centred at a random point along a uniformly random direction. Line
``k`` has its own random stream, so a line does not depend on how many are
drawn, or on which worker slices it.

Examples
--------
>>> a, b = random_lines(1, size=3, seed=0).line(0)
>>> a.shape, bool(np.any(a != b))
((3,), True)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Iterator

import numpy as np

from ilpregions.core.errors import InputError, ParameterError

#: Most lines one call may draw.
MAX_LINES = 10_000_000
#: Rows read at a time when the default line length is computed from a (memory-mapped) data array.
_CHUNK_ROWS = 4096


@dataclass(frozen=True)
class RandomLines:
    """``count`` seeded segments through data points (or standard-normal points); see :func:`random_lines`.

    Line ``k`` depends only on ``seed`` and ``k`` (its own random stream), so
    the first lines of a larger draw are the lines of a smaller one.
    """

    count: int
    size: int
    directions: bool
    length: float | None
    seed: int
    data: np.ndarray | None = field(default=None, repr=False, compare=False)

    def __len__(self) -> int:
        return self.count

    def __iter__(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        return (self.line(k) for k in range(self.count))

    def _point(self, rng, index: int | None = None) -> np.ndarray:
        if self.data is None:
            return rng.normal(size=self.size)
        return np.asarray(self.data[index], dtype=np.float64).reshape(-1)

    def line(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The end points (A, B) of line ``k``."""
        rng = np.random.default_rng([self.seed, k])
        rows = 0 if self.data is None else len(self.data)
        if self.directions:
            centre = self._point(rng, int(rng.integers(rows)) if rows else None)
            u = rng.normal(size=self.size)
            u *= self.length / (2.0 * np.linalg.norm(u))
            return centre - u, centre + u
        if self.data is None:
            return rng.normal(size=self.size), rng.normal(size=self.size)
        for _ in range(100):  # a pair of equal rows spans no segment: draw again
            i, j = (int(v) for v in rng.choice(rows, size=2, replace=False))
            a, b = self._point(rng, i), self._point(rng, j)
            if np.any(a != b):
                return a, b
        raise ParameterError("data", "100 random pairs of rows were all equal points; the lines need distinct "
                                     "points")

    def describe(self) -> dict[str, Any]:
        """How the lines were drawn (for JSON and reports)."""
        return {"line_kind": "directions" if self.directions else "pairs",
                "points": "gaussian" if self.data is None else "data",
                "line_length": self.length, "point_seed": self.seed}


def _check_count(count) -> int:
    if isinstance(count, bool) or not isinstance(count, (int, np.integer)) or not 1 <= count <= MAX_LINES:
        raise ParameterError("count", f"expected a number of lines from 1 to {MAX_LINES}, got {count!r}")
    return int(count)


def rms_distance(data: np.ndarray) -> float:
    """The root-mean-square distance between two independent rows of ``data``: sqrt(2 * total variance).

    Read in chunks of rows, so a memory-mapped array is never copied whole.

    Parameters
    ----------
    data : array of shape (N, ...)
        N >= 2 points.

    Returns
    -------
    float

    Examples
    --------
    >>> rms_distance(np.array([[0.0, 0.0], [2.0, 0.0]]))
    2.0
    """
    n = len(data)
    total = np.zeros(int(np.prod(data.shape[1:])))
    squares = np.zeros_like(total)
    for lo in range(0, n, _CHUNK_ROWS):
        block = np.asarray(data[lo:lo + _CHUNK_ROWS], dtype=np.float64).reshape(min(_CHUNK_ROWS, n - lo), -1)
        total += block.sum(axis=0)
        squares += np.square(block).sum(axis=0)
    variance = np.maximum(squares / n - np.square(total / n), 0.0) * n / (n - 1)  # per coordinate, unbiased
    return float(math.sqrt(2.0 * variance.sum()))


def random_lines(count: int, data=None, *, size: int | None = None, directions: bool = False,
                 length: float | None = None, seed: int = 0) -> RandomLines:
    """``count`` seeded segments through data points, for :func:`line_density` and :func:`slice_lines`.

    Parameters
    ----------
    count : int
        How many lines (1 to ``MAX_LINES``).
    data : array of shape (N, ...), optional
        The points (one per row; a memory-mapped array is fine). Without it,
        points are standard normal vectors of ``size`` values.
    size : int, optional
        The number of values of one point; required without ``data``.
    directions : bool
        False: the segment between two distinct random rows. True: the segment
        of ``length`` centred at a random row, along a uniformly random direction.
    length : float, optional
        With ``directions``: each segment's length; by default the
        root-mean-square distance between two rows (:func:`rms_distance`;
        sqrt(2 * size) for standard normal points).
    seed : int
        Line ``k`` is drawn from its own stream ``default_rng([seed, k])``.

    Returns
    -------
    RandomLines
        An iterable of (A, B) pairs, drawn lazily.

    Raises
    ------
    ParameterError
        A count out of range, no ``size`` without ``data``, too few rows, a
        bad length, or ``length`` without ``directions``.

    Examples
    --------
    >>> lines = random_lines(3, size=4, directions=True, length=2.0, seed=1)
    >>> [round(float(np.linalg.norm(b - a)), 9) for a, b in lines]
    [2.0, 2.0, 2.0]
    """
    count = _check_count(count)
    if data is None:
        if size is None or isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 1:
            raise ParameterError("size", f"without data, give the number of values of one point, got {size!r}")
        size = int(size)
    else:
        if not isinstance(data, np.ndarray) or data.ndim < 2 or data.dtype.kind not in "fiu":
            raise ParameterError("data", "expected an array of numbers with one point per row (N, ...)")
        if len(data) < (1 if directions else 2):
            raise ParameterError("data", f"has {len(data)} rows; pairs of points need at least 2")
        size = int(np.prod(data.shape[1:]))
    if length is not None and not directions:
        raise ParameterError("length", "sets the length of lines along random directions (`directions=True`); "
                                       "a pair's line runs from one point to the other")
    if directions:
        if length is None:
            length = math.sqrt(2.0 * size) if data is None else rms_distance(data)
        if isinstance(length, bool) or not isinstance(length, (int, float)) or not 0 < length < math.inf:
            raise ParameterError("length", f"expected a positive finite length, got {length!r}")
        length = float(length)
        if length == 0.0:
            raise ParameterError("length", "every data row is the same point; give a positive length")
    return RandomLines(count, size, bool(directions), length, int(seed), data)


def load_points(path, parameter: str = "data") -> np.ndarray:
    """A ``.npy`` array of numbers, memory-mapped: a data set of any size costs no memory until rows are read.

    The file is opened without blocking (a FIFO or device is refused, never waited on), its header is read
    and checked first, pickles are never loaded, and the map is made from the opened file.

    Parameters
    ----------
    path : str or PathLike
        The file.
    parameter : str
        The parameter errors name.

    Returns
    -------
    numpy.memmap (read-only)

    Raises
    ------
    ParameterError
        A missing file, a FIFO, device or directory, or not a plain numeric .npy.

    Examples
    --------
    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "x.npy")
    >>> np.save(path, np.eye(2))
    >>> load_points(path).shape
    (2, 2)
    """
    from numpy.lib import format as npy

    from ilpregions.core.safe_io import open_input

    try:
        with open_input(path, 1 << 62, "a .npy array") as handle:
            version = npy.read_magic(handle)
            header = npy.read_array_header_1_0 if version == (1, 0) else npy.read_array_header_2_0
            shape, fortran, dtype = header(handle)
            if dtype.kind not in "fiu":
                raise ParameterError(parameter, f"{path}: holds {dtype}, not numbers (pickles are never loaded)")
            return np.memmap(handle, dtype=dtype, mode="r", offset=handle.tell(), shape=tuple(shape),
                             order="F" if fortran else "C")
    except ParameterError:
        raise
    except InputError as exc:
        raise ParameterError(parameter, str(exc)) from None
    except (ValueError, OSError, EOFError) as exc:
        raise ParameterError(parameter, f"{path}: not a readable .npy of plain numbers "
                                        f"({exc.__class__.__name__})") from None


__all__ = ["RandomLines", "random_lines", "rms_distance", "load_points", "MAX_LINES"]

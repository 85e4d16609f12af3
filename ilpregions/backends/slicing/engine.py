"""Propagate the pieces of a 1-D or 2-D slice through a :class:`SliceNet`.

Every piece carries, for each live tensor, the affine map from slice
coordinates to that tensor: an array ``(n, P, k + 1)`` for a batch of ``P``
pieces (column 0 the constant, then one column per slice coordinate). An
affine op multiplies these maps; a ReLU splits each piece along the zero sets
of the neurons that change sign on it; a max-pool splits it into the cells
where one entry is the maximum. Batches are processed deepest-first, so at
most a few batches' maps are in memory at a time.

A batch's vertices are one array with offsets (no Python object per piece);
the splitting of all pieces of a batch is one compiled call
(:mod:`ilpregions.backends.slicing.batch`).

Arithmetic: float64 throughout. A function "changes sign" on a piece only if
it exceeds ``REL_TOL`` times its scale (``|c0| + sum |c_i| R``, R the piece's
extent) in both directions at the piece's vertices; each final piece's
pattern is then read at its centroid and certified there (see
:mod:`ilpregions.backends.slicing.certify`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ilpregions.backends.slicing import batch as B
from ilpregions.backends.slicing import kernels as K

#: Relative tolerance of a sign change (see the module docstring).
REL_TOL = 1e-9
#: Pieces per batch (memory: batch * neurons * (k + 1) floats per live tensor).
BATCH = 1024


@dataclass
class Batch:
    """Pieces at one stage: vertices ``flat[offs[p]:offs[p + 1]]``, maps ``(n, P, k + 1)`` per tensor."""

    stage: int
    flat: np.ndarray
    offs: np.ndarray
    maps: dict
    codes: list = field(default_factory=list)

    def __len__(self):
        return len(self.offs) - 1

    @property
    def verts(self) -> list:
        return K.unflatten(self.flat, self.offs)

    def chunk(self, lo: int, hi: int) -> "Batch":
        """Pieces ``lo:hi`` (views of the vertex array, contiguous copies of the maps: the compiled
        kernels then see one memory layout only, so numba compiles each of them once)."""
        a, b = self.offs[lo], self.offs[hi]
        return Batch(self.stage, self.flat[a:b], self.offs[lo:hi + 1] - a,
                     {t: np.ascontiguousarray(m[:, lo:hi, :]) for t, m in self.maps.items()},
                     [c[lo:hi] for c in self.codes])


def relu_split(Z: np.ndarray, flat: np.ndarray, offs: np.ndarray):
    """Split every piece along the neurons of Z ``(n, P, k + 1)`` that change sign on it.

    Returns ``(flat, offs, parents, masks)``: the new pieces, each one's
    parent index and its ReLU pattern ``(P', n)`` (see :func:`_batch.relu_batch`).
    """
    return B.relu_batch(flat, offs, np.ascontiguousarray(Z), REL_TOL)  # one layout: one compilation


def centroids(flat: np.ndarray, offs: np.ndarray) -> np.ndarray:
    """The vertex means ``(P, k)`` of the pieces ``flat[offs[p]:offs[p + 1]]``, in one pass."""
    return np.add.reduceat(flat, offs[:-1], axis=0) / np.diff(offs)[:, None]


def window_arrays(windows: tuple) -> tuple[np.ndarray, np.ndarray]:
    """Pooling windows as one index array and offsets."""
    sizes = np.array([len(w) for w in windows], dtype=np.int64)
    return np.concatenate(windows).astype(np.int64), np.concatenate(([0], np.cumsum(sizes)))


def pool_split(X: np.ndarray, win_flat: np.ndarray, win_offs: np.ndarray, flat: np.ndarray, offs: np.ndarray):
    """Split every piece into the argmax cells of each pooling window.

    Returns ``(flat, offs, parents, entries, codes)``: ``entries[p, j]`` the
    flat input index chosen by window j, ``codes[p, j]`` its pattern code
    (see :func:`_batch.pool_batch`).
    """
    return B.pool_batch(flat, offs, np.ascontiguousarray(X), win_flat, win_offs, REL_TOL)


_MIX = (np.uint64(0x9E3779B97F4A7C15), np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB))


def pattern_keys(positions: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """The 64-bit key of decision ``positions[i]`` taking code ``codes[i]`` (0 for code 0).

    A pattern's id is the XOR of its decisions' keys, so a switch of one
    decision changes it by two keys and the line engine updates ids in O(1)
    (splitmix64's finaliser of ``position * 65537 + code + 1``).

    >>> pattern_keys(np.array([3, 3]), np.array([0, 1]))[0]
    np.uint64(0)
    """
    with np.errstate(over="ignore"):
        x = positions.astype(np.uint64) * np.uint64(65537) + (codes.astype(np.int64) + 1).astype(np.uint64)
        z = x + _MIX[0]
        z = (z ^ (z >> np.uint64(30))) * _MIX[1]
        z = (z ^ (z >> np.uint64(27))) * _MIX[2]
        z = z ^ (z >> np.uint64(31))
    return np.where(codes != 0, z, np.uint64(0))


def format_id(key) -> str:
    """A pattern id (an XOR of keys) as 16 hex digits."""
    return f"{int(key):016x}"


def pattern_id(row: np.ndarray) -> str:
    """A short, stable id of an activation pattern: 16 hex digits of the XOR of its decisions' keys."""
    row = np.asarray(row).reshape(-1)
    return format_id(np.bitwise_xor.reduce(pattern_keys(np.arange(len(row)), row), initial=np.uint64(0)))


def pattern_ids(codes: np.ndarray) -> tuple[str, ...]:
    """:func:`pattern_id` of every row of ``codes``, in one vectorised pass.

    >>> codes = np.array([[1, 0, -1], [0, 1, 2]])
    >>> pattern_ids(codes) == (pattern_id(codes[0]), pattern_id(codes[1]))
    True
    """
    codes = np.asarray(codes)
    if codes.ndim != 2 or codes.shape[0] == 0 or codes.shape[1] == 0:
        return tuple(format_id(0) for _ in range(len(codes)))
    P, D = codes.shape
    # code-1 decisions (ReLUs on) eight at a time: a table of XORs per byte of the packed rows
    ones = pattern_keys(np.arange(D), np.ones(D, np.int64))
    ones = np.concatenate([ones, np.zeros(-D % 8, np.uint64)]).reshape(-1, 8)
    table = np.zeros((len(ones), 256), dtype=np.uint64)
    for bit in range(8):                       # packbits puts column 8b + i at bit 7 - i of byte b
        on = (np.arange(256) >> (7 - bit)) & 1 == 1
        table[:, on] ^= ones[:, bit:bit + 1]
    packed = np.packbits(codes == 1, axis=1)
    keys = np.bitwise_xor.reduce(table[np.arange(len(ones)), packed], axis=1)
    other = (codes != 0) & (codes != 1)        # pooling codes: keyed per column and code
    cols = np.flatnonzero(other.any(axis=0))
    if len(cols):
        sub = codes[:, cols].astype(np.int64)
        lo, hi = int(sub.min()), int(sub.max())
        values = np.arange(lo, hi + 1)
        tab = pattern_keys(np.repeat(cols, len(values)), np.tile(values, len(cols))).reshape(len(cols), -1)
        tab[:, (values == 0) | (values == 1)] = 0          # codes 0 and 1 are done above
        keys ^= np.bitwise_xor.reduce(tab[np.arange(len(cols)), sub - lo], axis=1)
    return tuple(f"{k:016x}" for k in keys.tolist())


__all__ = ["REL_TOL", "BATCH", "Batch", "relu_split", "pool_split", "window_arrays", "pattern_id",
           "pattern_ids", "pattern_keys", "format_id", "centroids"]

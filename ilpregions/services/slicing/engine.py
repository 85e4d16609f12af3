"""Propagate the pieces of a 1-D or 2-D slice through a :class:`SliceNet`.

Every piece carries, for each live tensor, the affine map from slice
coordinates to that tensor: an array ``(n, P, k + 1)`` for a batch of ``P``
pieces (column 0 the constant, then one column per slice coordinate). An
affine op multiplies these maps; a ReLU splits each piece along the zero sets
of the neurons that change sign on it; a max-pool splits it into the cells
where one entry is the maximum. Batches are processed deepest-first, so at
most a few batches' maps are in memory at a time.

Arithmetic: float64 throughout. A function "changes sign" on a piece only if
it exceeds ``REL_TOL`` times its scale (``|c0| + sum |c_i| R``, R the piece's
extent) in both directions at the piece's vertices; each final piece's
pattern is then read at its centroid and certified there (see
:mod:`ilpregions.services.slicing.certify`).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np

from ilpregions.services.slicing import _kernels as K

#: Relative tolerance of a sign change (see the module docstring).
REL_TOL = 1e-9
#: Pieces per batch (memory: batch * neurons * (k + 1) floats per live tensor).
BATCH = 1024


@dataclass
class Batch:
    stage: int
    verts: list
    maps: dict
    codes: list = field(default_factory=list)

    def __len__(self):
        return len(self.verts)

    def take(self, parents: np.ndarray, verts: list) -> "Batch":
        return Batch(self.stage, verts, {t: m[:, parents, :] for t, m in self.maps.items()},
                     [c[parents] for c in self.codes])


def homogeneous(verts: list) -> tuple[np.ndarray, np.ndarray]:
    """Padded homogeneous vertices ``(P, m_max, k + 1)`` and each piece's extent R."""
    m = max(len(v) for v in verts)
    k = verts[0].shape[1]
    H = np.ones((len(verts), m, k + 1))
    for i, v in enumerate(verts):
        H[i, :len(v), 1:] = v
        H[i, len(v):, 1:] = v[-1]
    return H, np.abs(H[:, :, 1:]).max(axis=1)


def _scale(Z: np.ndarray, R: np.ndarray) -> np.ndarray:
    """``|c0| + sum_i |c_i| R_i`` for maps Z ``(..., P, k + 1)`` and extents R ``(P, k)``."""
    return np.abs(Z[..., 0]) + (np.abs(Z[..., 1:]) * R).sum(axis=-1)


def vertex_values(Z: np.ndarray, H: np.ndarray) -> np.ndarray:
    """Values of maps Z ``(n, P, k + 1)`` at the padded vertices H ``(P, m, k + 1)``: ``(P, n, m)``."""
    return np.matmul(Z.transpose(1, 0, 2), H.transpose(0, 2, 1))


def _values(Z: np.ndarray, verts: np.ndarray) -> np.ndarray:
    """Values of maps Z ``(n, k + 1)`` at vertices ``(m, k)``: ``(n, m)``."""
    return Z[:, :1] + Z[:, 1:] @ verts.T


def relu_split(Z: np.ndarray, verts: list):
    """Split every piece along the neurons of Z ``(n, P, k + 1)`` that change sign on it.

    Returns ``(parents, new_verts, masks)``: for each new piece its parent's
    index, its vertices and its ReLU pattern ``(P', n)`` (read at the centroid).
    """
    H, R = homogeneous(verts)
    V = vertex_values(Z, H)                                     # (P, n, m)
    tol = REL_TOL * _scale(Z, R[None]).T                        # (P, n)
    vmax, vmin = V.max(axis=2), V.min(axis=2)
    cross = ((vmax > tol) & (vmin < -tol)).T                    # (n, P)
    tol = tol.T
    active = vmax > tol.T
    crossing = cross.any(axis=0)
    parents = np.flatnonzero(~crossing).tolist()
    out_verts = [verts[i] for i in parents]
    masks = [active[parents]]
    for i in np.flatnonzero(crossing).tolist():
        J = np.flatnonzero(cross[:, i])
        flat, offsets, signs = K.relu_pieces(verts[i], np.ascontiguousarray(Z[J, i, :]),
                                             np.ascontiguousarray(tol[J, i]))
        pieces = K.unflatten(flat, offsets)
        block = np.repeat(active[i][None, :], len(pieces), axis=0)
        block[:, J] = signs
        parents.extend([i] * len(pieces))
        out_verts.extend(pieces)
        masks.append(block)
    return np.array(parents, dtype=np.int64), out_verts, np.concatenate(masks).astype(bool)


def argmax_cells(Zw: np.ndarray, poly: np.ndarray, tol: float) -> list[tuple[int, np.ndarray]]:
    """The cells ``(entry, vertices)`` of a piece where each row of Zw ``(w, k + 1)`` is the maximum."""
    flat, offsets, winners = K.argmax_pieces(poly, np.ascontiguousarray(Zw), tol)
    return list(zip(winners.tolist(), K.unflatten(flat, offsets)))


def centroid(verts: np.ndarray) -> np.ndarray:
    """A point strictly inside a non-degenerate convex piece (the vertex mean)."""
    return verts.mean(axis=0)


def centroids(verts: list) -> np.ndarray:
    """The vertex means of many pieces ``(P, k)``, in one pass."""
    counts = np.array([len(v) for v in verts])
    flat = np.concatenate(verts)
    return np.add.reduceat(flat, np.concatenate(([0], np.cumsum(counts)[:-1])), axis=0) / counts[:, None]


def pool_split(X: np.ndarray, windows: tuple, verts: list):
    """Split every piece into the argmax cells of each pooling window.

    Returns ``(parents, new_verts, entries, codes)``: ``entries[p, j]`` the
    flat input index chosen by window j, ``codes[p, j]`` its pattern code.
    """
    H, R = homogeneous(verts)
    P = len(verts)
    V = vertex_values(X, H)                                     # (P, n, m)
    scale = _scale(X, R[None])                                  # (n, P)
    bad = np.zeros((len(windows), P), dtype=bool)
    for size in {len(w) for w in windows}:
        idx = [j for j, w in enumerate(windows) if len(w) == size]
        W = np.stack([windows[j] for j in idx])                 # (nw, w)
        Vw = V[:, W, :]                                         # (P, nw, w, m)
        tol = REL_TOL * scale[W].max(axis=1).T                  # (P, nw)
        # the window is decided if one entry is >= every other at every vertex
        top = np.argmax(Vw.mean(axis=3), axis=2)                # (P, nw)
        Vtop = np.take_along_axis(Vw, top[:, :, None, None], axis=2)
        ok = ((Vtop - Vw) >= -tol[:, :, None, None]).all(axis=(2, 3))
        bad[idx] = ~ok.T
    any_bad = bad.any(axis=0)
    parents = np.flatnonzero(~any_bad).tolist()
    out_verts = [verts[i] for i in parents]
    sizes = np.array([len(w) for w in windows])
    for i in np.flatnonzero(any_bad).tolist():
        js = np.flatnonzero(bad[:, i])
        win_flat = np.concatenate([windows[j] for j in js])
        offsets = np.concatenate(([0], np.cumsum(sizes[js])))
        tols = REL_TOL * np.maximum.reduceat(scale[win_flat, i], offsets[:-1])
        flat, offs = K.pool_pieces(verts[i], np.ascontiguousarray(X[:, i, :]), win_flat, offsets, tols)
        pieces = K.unflatten(flat, offs)
        parents.extend([i] * len(pieces))
        out_verts.extend(pieces)
    parents = np.array(parents, dtype=np.int64)
    entries, codes = pool_choices(X[:, parents, :], windows, centroids(out_verts))
    return parents, out_verts, entries, codes


def pool_choices(X: np.ndarray, windows: tuple, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each window's maximal entry at each piece's point ``(P, k)``: flat indices and codes."""
    P = X.shape[1]
    vals = X[:, :, 0] + np.einsum("npk,pk->np", X[:, :, 1:], points)
    entries = np.empty((P, len(windows)), dtype=np.int64)
    codes = np.empty((P, len(windows)), dtype=np.int16)
    for size in {len(w) for w in windows}:
        idx = [j for j, w in enumerate(windows) if len(w) == size]
        W = np.stack([windows[j] for j in idx])                 # (nw, w)
        e = np.argmax(vals[W], axis=1)                          # (nw, P)
        chosen = np.take_along_axis(W, e, axis=1)               # (nw, P) flat indices
        zero = ~X[chosen, np.arange(P)[None, :], :].any(axis=-1)
        entries[:, idx] = chosen.T
        codes[:, idx] = np.where(zero, -1, e).T
    return entries, codes


def pattern_id(row: np.ndarray) -> str:
    """A short, stable id of an activation pattern (16 hex digits of BLAKE2b)."""
    return hashlib.blake2b(np.ascontiguousarray(row, dtype=np.int16).tobytes(), digest_size=8).hexdigest()


__all__ = ["REL_TOL", "BATCH", "Batch", "homogeneous", "relu_split", "pool_split", "argmax_cells",
           "pattern_id"]

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
BATCH = 256


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


def _values(Z: np.ndarray, verts: np.ndarray) -> np.ndarray:
    """Values of maps Z ``(n, k + 1)`` at vertices ``(m, k)``: ``(n, m)``."""
    return Z[:, :1] + Z[:, 1:] @ verts.T


def relu_split(Z: np.ndarray, verts: list):
    """Split every piece along the neurons of Z ``(n, P, k + 1)`` that change sign on it.

    Returns ``(parents, new_verts, masks)``: for each new piece its parent's
    index, its vertices and its ReLU pattern ``(P', n)`` (read at the centroid).
    """
    H, R = homogeneous(verts)
    V = np.einsum("npk,pmk->npm", Z, H)
    tol = REL_TOL * _scale(Z, R[None])
    vmax, vmin = V.max(axis=2), V.min(axis=2)
    cross = (vmax > tol) & (vmin < -tol)
    active = (vmax > tol).T
    parents, out_verts, masks = [], [], []
    crossing = cross.any(axis=0)
    for i, v in enumerate(verts):
        if not crossing[i]:
            parents.append(i)
            out_verts.append(v)
            masks.append(active[i])
            continue
        J = np.flatnonzero(cross[:, i])
        flat, offsets, signs = K.relu_pieces(v, np.ascontiguousarray(Z[J, i, :]),
                                             np.ascontiguousarray(tol[J, i]))
        for poly, sign in zip(K.unflatten(flat, offsets), signs):
            mask = active[i].copy()
            mask[J] = sign
            parents.append(i)
            out_verts.append(poly)
            masks.append(mask)
    return np.array(parents, dtype=np.int64), out_verts, np.array(masks, dtype=bool)


def argmax_cells(Zw: np.ndarray, poly: np.ndarray, tol: float) -> list[tuple[int, np.ndarray]]:
    """The cells ``(entry, vertices)`` of a piece where each row of Zw ``(w, k + 1)`` is the maximum."""
    flat, offsets, winners = K.argmax_pieces(poly, np.ascontiguousarray(Zw), tol)
    return list(zip(winners.tolist(), K.unflatten(flat, offsets)))


def centroid(verts: np.ndarray) -> np.ndarray:
    """A point strictly inside a non-degenerate convex piece (the vertex mean)."""
    return verts.mean(axis=0)


def pool_split(X: np.ndarray, windows: tuple, verts: list):
    """Split every piece into the argmax cells of each pooling window.

    Returns ``(parents, new_verts, entries, codes)``: ``entries[p, j]`` the
    flat input index chosen by window j, ``codes[p, j]`` its pattern code.
    """
    H, R = homogeneous(verts)
    P = len(verts)
    bad = np.zeros((len(windows), P), dtype=bool)
    win_sizes = {len(w) for w in windows}
    for size in win_sizes:
        idx = [j for j, w in enumerate(windows) if len(w) == size]
        W = np.stack([windows[j] for j in idx])                 # (nw, w)
        Xw = X[W]                                               # (nw, w, P, k+1)
        V = np.einsum("awpk,pmk->awpm", Xw, H)
        tol = REL_TOL * _scale(Xw, R[None, None]).max(axis=1)   # (nw, P)
        # the window is decided if one entry is >= every other at every vertex
        top = np.argmax(V.mean(axis=3), axis=1)                 # (nw, P)
        Vtop = np.take_along_axis(V, top[:, None, :, None], axis=1)
        ok = ((Vtop - V) >= -tol[:, None, :, None]).all(axis=(1, 3))
        bad[idx] = ~ok
    parents, out_verts = [], []
    for i, v in enumerate(verts):
        pieces = [v]
        for j in np.flatnonzero(bad[:, i]).tolist():
            Zw = X[windows[j], i, :]
            tol = REL_TOL * float(_scale(Zw, R[i]).max())
            Zw = np.ascontiguousarray(Zw)
            pieces = [cell for poly in pieces for cell in K.unflatten(*K.argmax_pieces(poly, Zw, tol)[:2])]
        parents.extend([i] * len(pieces))
        out_verts.extend(pieces)
    parents = np.array(parents, dtype=np.int64)
    entries, codes = pool_choices(X[:, parents, :], windows, np.array([centroid(p) for p in out_verts]))
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

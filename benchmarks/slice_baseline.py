"""Frozen copy of the slicer as landed before the speed work (issue 14, commit 0174001).

Used only by benchmarks/bench_slice.py as the side-by-side baseline: the propagation
(per-piece Python loops, numpy vertex tensors), the decision boundary and the
certification exactly as they were. Not part of the library; do not edit.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from ilpregions.core.progress import Progress, null_progress
from ilpregions.services.slicing import _kernels as K
from ilpregions.backends.slicing.exact import ExactNet, slice_points
from ilpregions.core.slicenet import Op, SliceNet






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








@dataclass
class Propagation:
    """What the loop produced. ``pending`` pieces are coarser (the deadline came first)."""

    verts: list = field(default_factory=list)
    codes: np.ndarray | None = None
    outputs: np.ndarray | None = None  # (n_out, P, k + 1): the output map on each piece
    pending: list = field(default_factory=list)
    timed_out: bool = False
    seconds_by_op: dict = field(default_factory=dict)


def _affine(op: Op, X: np.ndarray) -> np.ndarray:
    n, P, K = X.shape
    Z = np.asarray(op.A @ X.reshape(n, P * K)).reshape(-1, P, K)
    Z[:, :, 0] += op.b[:, None]
    return Z


def _step(op: Op, batch: Batch, keep: set) -> Batch:
    """Apply one op to a batch; ``keep`` are the tensors still needed afterwards."""
    X = batch.maps[op.inputs[0]]
    live = {t: m for t, m in batch.maps.items() if t in keep}
    if op.kind in ("affine", "add"):
        out = _affine(op, X) if op.kind == "affine" else X + batch.maps[op.inputs[1]]
        live[op.output] = out
        return Batch(batch.stage + 1, batch.verts, live, batch.codes)
    if op.kind == "relu":
        parents, verts, masks = relu_split(X, batch.verts)
        out = X[:, parents, :] * masks.T[:, :, None]
        codes = masks.astype(np.int16)
    else:
        parents, verts, entries, codes = pool_split(X, op.windows, batch.verts)
        out = X[entries.T, parents[None, :], :]
    nxt = Batch(batch.stage + 1, verts, {t: m[:, parents, :] for t, m in live.items()},
                [c[parents] for c in batch.codes] + [codes])
    nxt.maps[op.output] = out
    return nxt


def _chunks(batch: Batch, size: int) -> list[Batch]:
    if len(batch) <= size:
        return [batch]
    out = []
    for lo in range(0, len(batch), size):
        idx = np.arange(lo, min(lo + size, len(batch)))
        out.append(Batch(batch.stage, batch.verts[lo:lo + size], {t: m[:, idx, :] for t, m in batch.maps.items()},
                         [c[idx] for c in batch.codes]))
    return out


def propagate(net: SliceNet, poly: np.ndarray, origin: np.ndarray, basis: np.ndarray,
              deadline: float | None = None, progress: Progress | None = None) -> Propagation:
    """Pieces of the slice ``x = origin + basis @ c`` for ``c`` in the piece ``poly``."""
    progress = progress or null_progress()
    M0 = np.concatenate([origin[:, None], basis], axis=1)[:, None, :]   # (n, 1, k + 1)
    stack = [Batch(0, [poly], {0: M0})]
    last = net.last_use()
    done: list[Batch] = []
    result = Propagation()
    finished = 0
    while stack:
        if deadline is not None and time.perf_counter() > deadline:
            result.timed_out = True
            break
        batch = stack.pop()
        if batch.stage == len(net.ops):
            done.append(batch)
            finished += len(batch)
            progress.update(len(batch))
            continue
        op = net.ops[batch.stage]
        start = time.perf_counter()
        keep = {t for t in batch.maps if last.get(t, -1) > batch.stage}
        nxt = _step(op, batch, keep)
        result.seconds_by_op[op.kind] = result.seconds_by_op.get(op.kind, 0.0) + time.perf_counter() - start
        stack.extend(_chunks(nxt, BATCH))
        progress.set_postfix(pieces=finished + sum(len(b) for b in stack))
    result.pending = [v for b in stack for v in b.verts]
    result.verts = [v for b in done for v in b.verts]
    if done:
        result.codes = np.concatenate([np.concatenate(b.codes, axis=1) if b.codes else
                                       np.zeros((len(b), 0), np.int16) for b in done])
        result.outputs = np.concatenate([b.maps[net.output] for b in done], axis=1)
    return result


def decision_boundary(outputs: np.ndarray, verts: list) -> tuple[np.ndarray, list]:
    """Which pieces the decision boundary crosses, and its segments (or points, in 1-D).

    With one output the boundary is its zero set; with several, the set where
    the top two outputs tie (the argmax changes).
    """
    n_out, P, K = outputs.shape
    crossed = np.zeros(P, dtype=bool)
    segments: list = []
    if P == 0:
        return crossed, segments
    if n_out == 1:
        outputs = np.concatenate([outputs, np.zeros_like(outputs)], axis=0)
    H, R = homogeneous(verts)
    V = np.einsum("npk,pmk->npm", outputs, H)
    tol = REL_TOL * _scale(outputs, R[None]).max(axis=0)
    top = np.argmax(V.mean(axis=2), axis=0)
    gap = V[top, np.arange(P)][None] - V
    candidates = np.flatnonzero((gap < -tol[None, :, None]).any(axis=(0, 2)))
    for i in candidates.tolist():
        Y = outputs[:, i, :]
        cells = argmax_cells(Y, verts[i], float(tol[i]))
        if len(cells) < 2:
            continue
        crossed[i] = True
        segments.extend(_boundary_edges(Y, cells, float(tol[i])))
    return crossed, segments


def _boundary_edges(Y: np.ndarray, cells: list, tol: float) -> list:
    """The edges (or, in 1-D, endpoints) of argmax cells along which the top two outputs tie."""
    out = []
    for e, cell in cells:
        if cell.shape[1] == 1:
            edges = [cell[[0]], cell[[1]]]
        else:
            edges = [cell[[a, (a + 1) % len(cell)]] for a in range(len(cell))]
        for edge in edges:
            mid = edge.mean(axis=0)
            vals = Y[:, 0] + Y[:, 1:] @ mid
            others = np.delete(vals, e)
            if others.size and abs(vals[e] - others.max()) <= 10 * tol:
                out.append(edge)
    return out







U = 2.0 ** -53
INFLATE = 1.0 + 1e-6


def gamma(m: int) -> float:
    return m * U / (1.0 - m * U)


@dataclass(frozen=True)
class Certificate:
    """Counts: certified by error bounds, re-checked exactly, and left unchecked (over the cap)."""

    by_bounds: int
    exact: int
    unchecked: int
    mismatches: tuple[int, ...]

    @property
    def ok(self) -> bool:
        return not self.mismatches and not self.unchecked


def _row_nnz(A) -> int:
    if sp.issparse(A):
        return int(np.diff(sp.csr_matrix(A).indptr).max(initial=0))
    return A.shape[1]


def bounded_forward(net: SliceNet, origin: np.ndarray, basis: np.ndarray, points: np.ndarray):
    """Float patterns at the points, and which rows are certified by the error bounds."""
    P = points.shape[0]
    x = origin[None, :] + points @ basis.T
    err = INFLATE * gamma(basis.shape[1] + 1) * (np.abs(origin)[None, :] + np.abs(points) @ np.abs(basis).T)
    values, errs, codes = {0: x}, {0: err}, []
    certified = np.ones(P, dtype=bool)
    for op in net.ops:
        v, e = values[op.inputs[0]], errs[op.inputs[0]]
        if op.kind == "affine":
            absA = abs(op.A)
            y = np.asarray(op.A @ v.T).T + op.b
            g = gamma(_row_nnz(op.A) + 1)
            prop = np.asarray(absA @ e.T).T
            terms = np.asarray(absA @ np.abs(v).T).T
            ey = INFLATE * (prop + g * (terms + np.abs(op.b)))
            # every product exactly zero (inputs exactly 0, no error): the sum is b, exactly
            ey[(prop == 0) & (terms == 0)] = 0.0
        elif op.kind == "add":
            y = v + values[op.inputs[1]]
            ey = INFLATE * (e + errs[op.inputs[1]] + gamma(1) * np.abs(y))
        elif op.kind == "relu":
            certified &= ((np.abs(v) > e) | ((v == 0) & (e == 0))).all(axis=1)
            codes.append((v > 0).astype(np.int16))
            y, ey = np.maximum(v, 0.0), np.where(v > 0, e, 0.0)
        else:
            y, ey, c, ok = _pool_bounded(op.windows, v, e)
            certified &= ok
            codes.append(c)
        values[op.output], errs[op.output] = y, ey
    return (np.concatenate(codes, axis=1) if codes else np.zeros((P, 0), np.int16)), certified


def _pool_bounded(windows, v, e):
    P = v.shape[0]
    y, ey = np.empty((P, len(windows))), np.empty((P, len(windows)))
    c = np.empty((P, len(windows)), dtype=np.int16)
    ok = np.ones(P, dtype=bool)
    for size in {len(w) for w in windows}:
        idx = [j for j, w in enumerate(windows) if len(w) == size]
        W = np.stack([windows[j] for j in idx])
        vals, errs = v[:, W], e[:, W]                            # (P, nw, w)
        arg = np.argmax(vals, axis=2)[:, :, None]
        top, etop = np.take_along_axis(vals, arg, 2), np.take_along_axis(errs, arg, 2)
        exact = errs == 0.0
        # strictly above, or an exact tie of exactly computed entries (the first one wins)
        beats = (top - etop > vals + errs) | (exact & (etop == 0.0) & (vals == top))
        np.put_along_axis(beats, arg, True, axis=2)
        ok &= beats.all(axis=(1, 2))
        y[:, idx], ey[:, idx] = top[:, :, 0], etop[:, :, 0]
        c[:, idx] = np.where(top[:, :, 0] == 0.0, -1, arg[:, :, 0])
    return y, ey, c, ok


def certify(net: SliceNet, origin: np.ndarray, basis: np.ndarray, points: np.ndarray,
            codes: np.ndarray, max_exact: int = 5000) -> Certificate:
    """Check that ``codes[i]`` is the true pattern at ``points[i]`` for every piece."""
    if len(points) == 0:
        return Certificate(0, 0, 0, ())
    found, certified = bounded_forward(net, origin, basis, points)
    mismatches = [int(i) for i in np.flatnonzero(certified & (found != codes).any(axis=1))]
    todo = np.flatnonzero(~certified)[:max_exact]
    if len(todo):
        X, ex = slice_points(origin, basis, points[todo])
        exact = ExactNet(net).patterns(X, ex)
        mismatches += [int(i) for i in todo[(exact != codes[todo]).any(axis=1)]]
    unchecked = int((~certified).sum()) - len(todo)
    return Certificate(int(certified.sum()), len(todo), unchecked, tuple(sorted(mismatches)))



def baseline_slice(net: SliceNet, plane) -> tuple[int, float, dict]:
    """Pieces, seconds and seconds per stage of the landed slicer on ``plane`` (an api.Plane)."""
    start = time.perf_counter()
    prop = propagate(net, plane.polygon, plane.origin, plane.basis)
    timings = dict(prop.seconds_by_op)
    mark = time.perf_counter()
    _ = tuple(pattern_id(row) for row in prop.codes)
    decision_boundary(prop.outputs, prop.verts)
    timings["boundary"] = time.perf_counter() - mark
    mark = time.perf_counter()
    c = certify(net, plane.origin, plane.basis, centroids(prop.verts), prop.codes)
    timings["certify"] = time.perf_counter() - mark
    assert c.ok, c
    return len(prop.verts), time.perf_counter() - start, timings

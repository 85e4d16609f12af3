"""The propagation loop: batches of pieces through the ops, deepest first, under a deadline."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from ilpregions.core.progress import Progress, null_progress
from ilpregions.services.slicing.engine import (BATCH, REL_TOL, Batch, _scale, argmax_cells,
                                                 homogeneous, pool_split, relu_split)
from ilpregions.services.slicing.graph import Op, SliceNet


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


__all__ = ["Propagation", "propagate", "decision_boundary"]

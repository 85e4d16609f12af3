"""The propagation loop: batches of pieces through the ops, deepest first, under a deadline."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from ilpregions.core.progress import Progress, null_progress
from ilpregions.services.slicing import _kernels as K
from ilpregions.services.slicing._batch import boundary_batch
from ilpregions.services.slicing.engine import BATCH, REL_TOL, Batch, pool_split, relu_split, window_arrays
from ilpregions.services.slicing.graph import Op, SliceNet


@dataclass
class Propagation:
    """What the loop produced. ``pending`` pieces are coarser (the deadline came first)."""

    verts: list = field(default_factory=list)
    flat: np.ndarray | None = None  # the finished pieces' vertices, one array (verts are views of it)
    offs: np.ndarray | None = None
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


def _step(op: Op, batch: Batch, keep: set, windows: dict) -> Batch:
    """Apply one op to a batch; ``keep`` are the tensors still needed afterwards."""
    X = batch.maps[op.inputs[0]]
    live = {t: m for t, m in batch.maps.items() if t in keep}
    if op.kind in ("affine", "add"):
        out = _affine(op, X) if op.kind == "affine" else X + batch.maps[op.inputs[1]]
        live[op.output] = out
        return Batch(batch.stage + 1, batch.flat, batch.offs, live, batch.codes)
    if op.kind == "relu":
        flat, offs, parents, masks = relu_split(X, batch.flat, batch.offs)
        gain = masks.T if op.slope == 0.0 else np.where(masks.T, 1.0, op.slope)  # leaky: slope when off
        out = X[:, parents, :] * gain[:, :, None]
        codes = masks.astype(np.int16)
    else:
        if op.output not in windows:
            windows[op.output] = window_arrays(op.windows)
        flat, offs, parents, entries, codes = pool_split(X, *windows[op.output], batch.flat, batch.offs)
        out = X[entries.T, parents[None, :], :]
    if len(parents) == len(batch) and len(batch.codes) == 0:
        maps = live  # nothing was cut and nothing to gather (parents is 0..P-1)
    else:
        maps = {t: m[:, parents, :] for t, m in live.items()}
    nxt = Batch(batch.stage + 1, flat, offs, maps, [c[parents] for c in batch.codes] + [codes])
    nxt.maps[op.output] = out
    return nxt


def _chunks(batch: Batch, size: int) -> list[Batch]:
    if len(batch) <= size:
        return [batch]
    return [batch.chunk(lo, min(lo + size, len(batch))) for lo in range(0, len(batch), size)]


def propagate(net: SliceNet, poly: np.ndarray, origin: np.ndarray, basis: np.ndarray,
              deadline: float | None = None, progress: Progress | None = None) -> Propagation:
    """Pieces of the slice ``x = origin + basis @ c`` for ``c`` in the piece ``poly``."""
    progress = progress or null_progress()
    M0 = np.concatenate([origin[:, None], basis], axis=1)[:, None, :]   # (n, 1, k + 1)
    poly = np.ascontiguousarray(poly, dtype=np.float64)
    stack = [Batch(0, poly, np.array([0, len(poly)], dtype=np.int64), {0: M0})]
    last = net.last_use()
    done: list[Batch] = []
    result = Propagation()
    finished = 0
    windows: dict = {}
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
        nxt = _step(op, batch, keep, windows)
        result.seconds_by_op[op.kind] = result.seconds_by_op.get(op.kind, 0.0) + time.perf_counter() - start
        stack.extend(_chunks(nxt, BATCH))
        progress.set_postfix(pieces=finished + sum(len(b) for b in stack))
    result.pending = [v for b in stack for v in b.verts]
    if done:
        result.flat = np.concatenate([b.flat for b in done])
        sizes = np.concatenate([np.diff(b.offs) for b in done])
        result.offs = np.concatenate(([0], np.cumsum(sizes))).astype(np.int64)
        result.verts = K.unflatten(result.flat, result.offs)
        result.codes = np.concatenate([np.concatenate(b.codes, axis=1) if b.codes else
                                       np.zeros((len(b), 0), np.int16) for b in done])
        result.outputs = np.concatenate([b.maps[net.output] for b in done], axis=1)
    return result


def decision_boundary(outputs: np.ndarray, flat: np.ndarray, offs: np.ndarray) -> tuple[np.ndarray, list]:
    """Which pieces the decision boundary crosses, and its segments (or points, in 1-D).

    With one output the boundary is its zero set; with several, the set where
    the top two outputs tie (the argmax changes). Pieces are ``flat[offs[p]:offs[p + 1]]``.
    """
    n_out, P, K = outputs.shape
    if P == 0:
        return np.zeros(0, dtype=bool), []
    if n_out == 1:
        outputs = np.concatenate([outputs, np.zeros_like(outputs)], axis=0)
    crossed, edges = boundary_batch(flat, offs, np.ascontiguousarray(outputs), REL_TOL)
    return crossed, list(edges)


__all__ = ["Propagation", "propagate", "decision_boundary"]

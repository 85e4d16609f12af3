"""The propagation loop: batches of pieces through the ops, deepest first, under a deadline."""

from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from ilpregions.core.progress import Progress, null_progress
from ilpregions.backends.slicing import kernels as K
from ilpregions.backends.slicing.batch import boundary_batch, gather, gather_entries
from ilpregions.backends.slicing.engine import BATCH, REL_TOL, Batch, pool_split, relu_split, window_arrays
from ilpregions.core.slicenet import Op, SliceNet


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
    Z = np.asarray(op.matrix @ X.reshape(n, P * K)).reshape(-1, P, K)
    Z[:, :, 0] += op.b[:, None]
    return Z


_NO_GAIN = np.zeros((0, 0))


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
        gain = masks.astype(np.float64) if op.slope == 0.0 else np.where(masks, 1.0, op.slope)  # leaky: slope off
        out = gather(X, parents, gain)
        codes = masks.astype(np.int16)
    else:
        flat, offs, parents, entries, codes = pool_split(X, *windows[op.output], batch.flat, batch.offs)
        out = gather_entries(X, parents, entries)
    if len(parents) == len(batch):   # nothing was cut: parents is 0..P-1, nothing to gather
        maps, old = live, list(batch.codes)
    else:
        maps, old = {t: gather(m, parents, _NO_GAIN) for t, m in live.items()}, [c[parents] for c in batch.codes]
    nxt = Batch(batch.stage + 1, flat, offs, maps, old + [codes])
    nxt.maps[op.output] = out
    return nxt


def _charge(seconds: dict, outs: list, wall: float) -> None:
    """Share the wall time of one (threaded) step among its op kinds, in proportion to their own times."""
    total = sum(t for _, _, t in outs) or 1.0
    for _, kind, t in outs:
        seconds[kind] = seconds.get(kind, 0.0) + wall * t / total


def _chunks(batch: Batch, size: int) -> list[Batch]:
    if len(batch) <= size:
        return [batch]
    return [batch.chunk(lo, min(lo + size, len(batch))) for lo in range(0, len(batch), size)]


#: Batches split at once, in threads (the compiled splits and BLAS release the GIL).
THREADS = min(2, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)


def _take(stack: list, n_ops: int, done: list) -> list:
    """Pop finished batches into ``done``, then up to THREADS unfinished batches (top first)."""
    while stack and stack[-1].stage == n_ops:
        done.append(stack.pop())
    take = []
    while stack and len(take) < THREADS and stack[-1].stage < n_ops:
        take.append(stack.pop())
    return take


def propagate(net: SliceNet, poly: np.ndarray, origin: np.ndarray, basis: np.ndarray,
              deadline: float | None = None, progress: Progress | None = None) -> Propagation:
    """Pieces of the slice ``x = origin + basis @ c`` for ``c`` in the piece ``poly``.

    Up to :data:`THREADS` batches are split at once; their children are
    pushed in a fixed order, so the result does not depend on thread timing.
    """
    progress = progress or null_progress()
    M0 = np.concatenate([origin[:, None], basis], axis=1)[:, None, :]   # (n, 1, k + 1)
    poly = np.ascontiguousarray(poly, dtype=np.float64)
    stack = [Batch(0, poly, np.array([0, len(poly)], dtype=np.int64), {0: M0})]
    last = net.last_use()
    done: list[Batch] = []
    result = Propagation()
    windows = {op.output: window_arrays(op.windows) for op in net.ops if op.kind == "maxpool"}

    def step(batch):
        op, mark = net.ops[batch.stage], time.perf_counter()
        keep = {t for t in batch.maps if last.get(t, -1) > batch.stage}
        return _step(op, batch, keep, windows), op.kind, time.perf_counter() - mark

    with ThreadPoolExecutor(THREADS) as pool:
        while True:
            if deadline is not None and time.perf_counter() > deadline:
                result.timed_out = bool(stack)
                break
            before = len(done)
            take = _take(stack, len(net.ops), done)
            progress.update(sum(len(b) for b in done[before:]))
            if not take:
                break
            mark = time.perf_counter()
            outs = list(pool.map(step, take)) if len(take) > 1 else [step(take[0])]
            _charge(result.seconds_by_op, outs, time.perf_counter() - mark)
            for nxt, _, _ in reversed(outs):   # the first batch's children end on top
                stack.extend(_chunks(nxt, BATCH))
            progress.set_postfix(pieces=sum(len(b) for b in done) + sum(len(b) for b in stack))
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

"""The line engine: the exact pieces of a segment, walked in t with changes of slope only.

The segment ``x(t) = origin + t * direction``, t in [0, 1], is cut into a few
*ranges*, each walked by one thread from an *anchor*: a batched forward
pass at the range's start gives every tracked entry (ReLU inputs, the
output) its value, slope and rigorous error bound there
(:func:`~ilpregions.backends.slicing.linenet.dense_pass`). The walk then goes
chunk by chunk of t through the ops in order (:mod:`.sweep_kernels`): an
affine op maps its input's changes of slope to its output's, a ReLU finds
where its entries' lines cross zero, and every crossing is a switch and a
new change downstream. The pieces are the intervals between consecutive
switch times; the chunk's streams are freed as soon as no op needs them, so
memory follows one chunk, not the segment.

**Certificates.** Every entry's line carries an error bound valid on the
whole range (the anchor's rounding, every change's rounding and, at each
switch, what switching at a rounded time leaves out, carried downstream by
``|W|``). Where a line is within its bound of zero, the entry's sign is not
certain: such a *band* (an interval of t) is recorded, and so is the whole
line's stretch if its mask ever disagrees with its sign. A piece whose
midpoint lies in no band has every entry's sign proven there for the
pattern the walk gave it: a genuine, distinct piece. A piece whose midpoint
is in a band is re-checked with a forward pass of its pattern at that point
(error bounds per op), and, if that cannot decide, in exact integer
arithmetic (:mod:`.exact`) when the network is small enough.
"""

from __future__ import annotations

import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from ilpregions.backends.slicing import sweep_kernels as SK
from ilpregions.backends.slicing.linenet import INFLATE, LineNet, dense_pass

THREADS = min(2, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)
#: Pieces shorter than this (in t) are merged into a neighbour: their midpoint is not a float strictly inside.
MIN_LENGTH = 2.0 ** -44
#: The first chunk's share of its range (chunks then grow or shrink towards half a second of work).
FIRST_STEP = 2.0 ** -14
#: A chunk's streams may take this share of the walker's memory budget.
STREAM_SHARE = 1 / 16
_EMPTY = (np.zeros(0), np.zeros(1, np.int64), np.zeros(0, np.int64), np.zeros(0), np.zeros(0))


@dataclass
class Walker:
    """One range ``[t0, t1]`` of the segment and its walk so far (done up to ``t_done``)."""

    t0: float
    t1: float
    t_done: float
    state: dict                       # tracked tensor -> state rows (n, 8), see sweep_kernels
    anchor_masks: dict                # ReLU input tensor -> bool mask at t0+ (a copy)
    flips: list = field(default_factory=list)     # (times, decision index, new mask) per chunk and ReLU
    bands: np.ndarray = field(default_factory=lambda: np.zeros((0, 2)))   # the union of the bands, sorted
    outputs: list = field(default_factory=list)   # (times, values, slopes) of the output
    events: int = 0
    step: float = 0.0
    stopped: str | None = None
    hopeless: bool = False            # some layer's bounds beat its values at the anchor (no re-checks)
    bytes: int = 0
    peak: int = 0
    seconds_by_op: dict = field(default_factory=dict)


def _state(values, slopes, errs, errs_s, masks, t, p, h):
    """The state rows of one tensor's entries (columns: see :data:`.sweep_kernels.V` and after)."""
    n = values.shape[0]
    buf = np.empty(n * 8 + 8)
    skip = (-buf.ctypes.data % 64) // 8          # rows on cache-line boundaries: one line per touch
    st = buf[skip:skip + n * 8].reshape(n, 8)
    st[:, SK.V], st[:, SK.S], st[:, SK.TL] = values[:, p], slopes[:, p], t
    st[:, SK.EPS] = INFLATE * (errs[:, p] + errs_s[:, p] * h)
    st[:, SK.ON] = masks[:, p] if masks is not None else 0.0
    st[:, SK.VER], st[:, SK.CU], st[:, SK.LF] = 0.0, t, np.nan
    return st


def start_walkers(net: LineNet, origin, direction, bounds) -> list[Walker]:
    """Anchors at the ranges' starts (one batched pass) and a walker per range ``bounds[i]..bounds[i+1]``."""
    t0s = np.asarray(bounds[:-1], dtype=np.float64)
    pas = dense_pass(net, origin, direction, t0s)
    relu_inputs = {op.inputs[0] for op in net.ops if op.kind == "relu"}
    walkers = []
    for p, (a, b) in enumerate(zip(bounds[:-1], bounds[1:])):
        state = {}
        for t in net.tracked():
            masks = pas.masks.get(t) if t in relu_inputs else None
            state[t] = _state(pas.values[t], pas.slopes[t], pas.err_values[t], pas.err_slopes[t], masks, a, p,
                              b - a)
        anchor = {t: state[t][:, SK.ON] > 0.5 for t in relu_inputs}
        w = Walker(float(a), float(b), float(a), state, anchor, step=(b - a) * FIRST_STEP)
        # most of some layer's signs not provable at the anchor: the float64 bounds do not reach that deep
        w.hopeless = any(np.mean(np.abs(state[t][:, SK.V]) > state[t][:, SK.EPS]) < 0.5 for t in relu_inputs)
        out = state[net.output]
        w.outputs.append((np.array([a]), out[None, :, SK.V].copy(), out[None, :, SK.S].copy()))
        walkers.append(w)
    return walkers


def _stream_bytes(stream) -> int:
    return sum(a.nbytes for a in stream)


def run_chunk(net: LineNet, w: Walker, t_hi: float, budget: int) -> bool:
    """Walk ``w`` from ``w.t_done`` to ``t_hi`` through every op; False (nothing changed) if a stream
    would exceed ``budget`` bytes, judged by arithmetic before the op runs."""
    last = net.last_use()
    streams = {0: _EMPTY}
    h = w.t1 - w.t0
    saved = {t: st.copy() for t, st in w.state.items()}
    flips, bands, peak = [], [], 0
    for i, op in enumerate(net.ops):
        mark = time.perf_counter()
        x = streams[op.inputs[0]]
        n_out = net.sizes[op.output]
        if op.kind == "conv":
            bound = min(len(x[0]) * n_out, len(x[2]) * int(np.prod(op.geom[8:11])) * int(op.geom[4] // op.geom[20]))
        elif op.kind == "matrix":
            bound = min(len(x[0]) * n_out, int(np.diff(op.csc[0]).max(initial=0)) * len(x[2]))
        elif op.kind == "add":
            bound = len(x[2]) + len(streams[op.inputs[1]][2])
        else:
            bound = 2 * len(x[2]) + n_out
        need = 24 * bound + sum(_stream_bytes(s) for s in streams.values())
        if need > budget:
            for t, st in saved.items():
                w.state[t][...] = st
            return False
        if op.kind == "conv":
            y = SK.conv_stream(*x, op.Wt, op.Wmax, op.geom, op.taps, INFLATE * (1 + op.gamma))
        elif op.kind == "matrix":
            y = SK.matrix_stream(*x, *op.csc, op.Wa, n_out, INFLATE * (1 + op.gamma))
        elif op.kind == "add":
            y = SK.merge_streams(*x, *streams[op.inputs[1]])
        else:
            y, f, b = SK.relu_chunk(*x, w.state[op.inputs[0]], w.t_done, t_hi, h, op.slope, net.gamma_path)
            flips.append((f[:, 0].copy(), f[:, 1].astype(np.int64) + op.offset, f[:, 2].astype(np.int8)))
            b[:, 2] += op.offset
            bands.append(b)
        streams[op.output] = y
        peak = max(peak, sum(_stream_bytes(s) for s in streams.values()))
        for t in [t for t in streams if last.get(t, -1) <= i and t != net.output]:
            del streams[t]
        w.seconds_by_op[op.kind] = w.seconds_by_op.get(op.kind, 0.0) + time.perf_counter() - mark
    out = w.state[net.output]
    w.outputs.append(SK.track_chunk(*streams[net.output], out, h))
    w.flips.extend(flips)
    before = w.bands.nbytes
    w.bands = band_union(w.bands, *bands)
    w.events += len(streams[net.output][0])
    w.bytes += sum(sum(a.nbytes for a in f) for f in flips) + w.bands.nbytes - before
    w.bytes += sum(a.nbytes for a in w.outputs[-1])
    w.t_done = t_hi
    w.peak = peak
    return True


def band_union(*parts: np.ndarray) -> np.ndarray:
    """The union of intervals (rows ``lo, hi, ...``) as sorted, disjoint ``(lo, hi)`` rows: a piece is
    uncertain when its midpoint is in any band, whichever entry's, so only the union is kept.

    >>> band_union(np.array([[0.0, 1.0, 5], [3.0, 4.0, 2]]), np.array([[0.5, 2.0, 1]])).tolist()
    [[0.0, 2.0], [3.0, 4.0]]
    """
    rows = np.concatenate([p[:, :2] for p in parts if len(p)]) if any(len(p) for p in parts) else np.zeros((0, 2))
    if len(rows) < 2:
        return np.ascontiguousarray(rows)
    rows = rows[np.argsort(rows[:, 0], kind="stable")]
    reach = np.maximum.accumulate(rows[:, 1])
    new = np.concatenate(([True], rows[1:, 0] > reach[:-1]))      # a row starting past all before it
    starts = np.flatnonzero(new)
    ends = np.concatenate((starts[1:], [len(rows)])) - 1
    return np.stack([rows[starts, 0], reach[ends]], axis=1)


def walk(net: LineNet, w: Walker, deadline: float | None, budget: int, on_chunk=None, stop=None) -> Walker:
    """Walk a range to its end in chunks whose length adapts to about half a second of work (and to the
    memory budget: a chunk over it is retried at half the length); stops at the deadline, or when the
    ``stop`` event is set (the caller was interrupted)."""
    while w.t_done < w.t1 and w.stopped is None:
        if stop is not None and stop.is_set():
            w.stopped = "interrupted"
            break
        if deadline is not None and time.perf_counter() > deadline:
            w.stopped = "time_limit"
            break
        if w.bytes > budget:
            w.stopped = "memory_cap"
            break
        t_hi = min(w.t1, w.t_done + w.step)
        if t_hi - w.t_done < 0.25 * w.step:     # do not leave a sliver for the next chunk
            t_hi = w.t1
        mark = time.perf_counter()
        before = w.t_done
        if not run_chunk(net, w, t_hi, budget - w.bytes):
            if w.step < 1e-9 * (w.t1 - w.t0):
                w.stopped = "memory_cap"
                break
            w.step *= 0.5
            continue
        spent = max(time.perf_counter() - mark, 1e-4)
        room = STREAM_SHARE * budget / max(w.peak, 1)
        w.step = min(w.t1 - w.t0, w.step * min(2.0, max(0.5, min(0.5 / spent, room))))
        if on_chunk is not None:
            on_chunk(w, t_hi - before)
    return w


def walk_all(net: LineNet, walkers: list[Walker], deadline, budget, on_chunk=None) -> list[Walker]:
    """Every walker to its end (or the deadline), THREADS at a time (the kernels release the GIL).

    An interrupt (Ctrl-C) in the caller's thread stops every walker after its current chunk and is
    raised again.
    """
    share = budget // max(1, min(THREADS, len(walkers)))
    if THREADS < 2 or len(walkers) < 2:
        return [walk(net, w, deadline, share, on_chunk) for w in walkers]
    stop = threading.Event()
    pool = ThreadPoolExecutor(THREADS)
    try:
        futures = [pool.submit(walk, net, w, deadline, share, on_chunk, stop) for w in walkers]
        return [f.result() for f in futures]
    except BaseException:
        stop.set()
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


__all__ = ["Walker", "start_walkers", "run_chunk", "walk", "walk_all", "band_union", "THREADS", "MIN_LENGTH"]

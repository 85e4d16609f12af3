"""``slice_line``: the line engine end to end — walk, pieces, pattern ids, certificate, output maps.

See :mod:`ilpregions.backends.slicing.sweep` for the walk and what is
certified. Pieces are the intervals between consecutive switch times of a
range; two switch times closer than :data:`~.sweep.MIN_LENGTH` are one
breakpoint (the piece between would have no float midpoint strictly
inside). Adjacent ranges meet in one piece when the last pattern of one
equals the anchor pattern of the next (compared entry by entry). A pattern
id is the XOR of its decisions' keys (:func:`.engine.pattern_keys`), kept
up to date switch by switch.

Examples
--------
>>> from ilpregions.core.spec import Network, DenseLayer
>>> from ilpregions.core.slicenet import from_spec
>>> from ilpregions.core.forward import he_normal_weights
>>> from ilpregions.backends.slicing.linenet import prepare
>>> spec = Network((2,), (DenseLayer(3), DenseLayer(2)))
>>> net = prepare(from_spec(spec, he_normal_weights(spec, 0)))
>>> r = slice_line(net, np.array([-2.0, -2.0]), np.array([4.0, 4.0]))
>>> r.pieces, r.complete, r.certificate.ok, [round(float(t), 6) for t in r.lo[1:]]
(5, True, True, [0.391135, 0.444969, 0.588604, 0.655101])
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from ilpregions.backends.slicing.certify import Certificate
from ilpregions.backends.slicing.engine import format_id, pattern_keys
from ilpregions.backends.slicing.linenet import LineNet, dense_pass, dense_pass_bytes
from ilpregions.backends.slicing.sweep import MIN_LENGTH, THREADS, start_walkers, walk_all  # noqa: F401

#: Ranges walked from their own anchors (two per thread: a fast range's thread takes the next).
RANGES = 2 * THREADS


@dataclass(frozen=True)
class LineResult:
    """The pieces ``[lo[k], hi[k]]`` of the segment (t in [0, 1]) in order, and what certifies them."""

    lo: np.ndarray
    hi: np.ndarray
    ids: tuple
    complete: bool
    certificate: Certificate
    outputs: np.ndarray = field(repr=False)        # (n_out, P, 2): output = [:, k, 0] + [:, k, 1] * t
    states: np.ndarray = field(repr=False, default=None)    # per piece: BY_BOUNDS ... MISMATCH
    pending: tuple = ()                            # unwalked (lo, hi) ranges
    status: str = "exact"                          # exact | time_limit | memory_cap
    merged_thin: int = 0
    seconds_by_op: dict = field(default_factory=dict)
    events: int = 0
    switches: tuple = ()        # per ReLU op: (where, entries, switches, entries that switch), walked part

    @property
    def pieces(self) -> int:
        return len(self.lo)

    @property
    def certified(self) -> int:
        """Distinct ids of the pieces whose pattern is proven at a point inside them: a lower bound on the
        pieces (two certified pieces with one pattern are one piece; equal ids are counted once)."""
        return len({k for k, s in zip(self.ids, self.states) if s <= BY_EXACT})


def _walker_pieces(net: LineNet, w) -> dict:
    """A walker's pieces: bounds, ids, and per piece the position of its last switch in the flip log."""
    if w.flips:
        times = np.concatenate([f[0] for f in w.flips])
        dec = np.concatenate([f[1] for f in w.flips])
        on = np.concatenate([f[2] for f in w.flips])
        order = np.argsort(times, kind="stable")
        times, dec, on = times[order], dec[order], on[order]
    else:
        times, dec, on = np.zeros(0), np.zeros(0, np.int64), np.zeros(0, np.int8)
    if w.t_done <= w.t0:          # not walked at all: no piece yet
        times, dec, on = times[:0], dec[:0], on[:0]
    inside = (times > w.t0 + MIN_LENGTH) & (times < w.t_done - MIN_LENGTH)
    # a new piece starts at a switch more than MIN_LENGTH after the previous one
    starts = np.flatnonzero(inside & np.concatenate(([True], np.diff(times) > MIN_LENGTH)))
    group = np.searchsorted(starts, np.arange(len(times)), side="right")     # piece after each switch
    # a breakpoint whose switches cancel (an entry switched back at the same time) changes no pattern:
    # it is no breakpoint (the pieces on its two sides are one)
    order = np.lexsort((dec, group))
    g, d = group[order], dec[order]
    run = np.flatnonzero(np.concatenate(([True], (g[1:] != g[:-1]) | (d[1:] != d[:-1]), [True])))
    odd = (np.diff(run) % 2 == 1)
    changed = np.zeros(len(starts) + 1, dtype=bool)
    if len(g):
        changed[g[run[:-1][odd]]] = True
    if not changed[1:].all():
        starts = starts[changed[1:]]
        group = np.searchsorted(starts, np.arange(len(times)), side="right")
    bounds = np.concatenate(([w.t0], times[starts], [w.t_done])) if w.t_done > w.t0 else np.zeros(1)
    anchor_keys = np.uint64(0)
    for op in net.ops:
        if op.kind == "relu":
            m = w.anchor_masks[op.inputs[0]]
            pos = np.flatnonzero(m) + op.offset
            anchor_keys ^= np.bitwise_xor.reduce(pattern_keys(pos, np.ones(len(pos), np.int64)),
                                                 initial=np.uint64(0))
    keys = pattern_keys(dec, np.ones(len(dec), np.int64))
    per_piece = np.zeros(len(bounds) - 1, dtype=np.uint64)
    np.bitwise_xor.at(per_piece, group, keys)
    ids = np.bitwise_xor.accumulate(per_piece) ^ anchor_keys
    thin = int(np.count_nonzero(np.diff(times) <= MIN_LENGTH)) if len(times) else 0
    return {"lo": bounds[:-1], "hi": bounds[1:], "ids": ids, "times": times, "dec": dec, "on": on,
            "group": group, "thin": thin}


def _uncertain(pieces: dict, w) -> np.ndarray:
    """Pieces whose midpoint lies in some band (difference array over the sorted midpoints)."""
    mid = 0.5 * (pieces["lo"] + pieces["hi"])
    mark = np.zeros(len(mid) + 1, dtype=np.int64)
    if len(w.bands):
        bands = w.bands
        a = np.searchsorted(mid, bands[:, 0], side="left")
        b = np.searchsorted(mid, bands[:, 1], side="right")
        np.add.at(mark, a, 1)
        np.add.at(mark, b, -1)
    bad = np.cumsum(mark[:-1]) > 0
    bad |= ~((mid > pieces["lo"]) & (mid < pieces["hi"]))
    return np.flatnonzero(bad)


def _masks_at(net: LineNet, w, pieces: dict, which: np.ndarray) -> list[dict]:
    """The walk's masks of the pieces ``which`` (sorted), replaying the switches from the anchor."""
    masks = {t: m.copy() for t, m in w.anchor_masks.items()}
    owner = [(op.offset, net.sizes[op.output], op.inputs[0]) for op in net.ops if op.kind == "relu"]
    offsets = np.array([o for o, _, _ in owner])
    out, f = [], 0
    for k in which:
        while f < len(pieces["times"]) and pieces["group"][f] <= k:
            j = int(np.searchsorted(offsets, pieces["dec"][f], side="right")) - 1
            off, _, t = owner[j]
            masks[t][pieces["dec"][f] - off] = bool(pieces["on"][f])
            f += 1
        out.append({t: m.copy() for t, m in masks.items()})
    return out


def _recheck(net: LineNet, origin, direction, points, masks: list[dict]) -> tuple[np.ndarray, np.ndarray]:
    """Each point's given pattern checked by a pattern-fixed pass with error bounds:
    (certified, disproved) flags per point."""
    fixed = {t: np.stack([m[t] for m in masks], axis=1) for t in masks[0]}
    p = dense_pass(net, origin, direction, points, masks=fixed, keep=set(fixed))
    ok = np.ones(len(points), dtype=bool)
    wrong = np.zeros(len(points), dtype=bool)
    for t, on in fixed.items():
        v, e = p.values[t], p.err_values[t]
        sure = (on & (v > e)) | (~on & (v < -e)) | (~on & (v == 0) & (e == 0))
        ok &= sure.all(axis=0)
        wrong |= ((on & (v < -e)) | (~on & (v > e))).any(axis=0)
    return ok, wrong


def _matrix_entries(src) -> int:
    """Non-zeros of every affine op's matrix (by arithmetic: no matrix is built)."""
    total = 0
    for op in src.ops:
        if op.kind == "affine":
            A = op.A
            total += op.conv.nnz_bound if A is None else (A.nnz if hasattr(A, "nnz") else A.size)
    return total


def _exact_recheck(net: LineNet, origin, direction, points, masks, limit_bytes) -> np.ndarray | None:
    """Exact patterns at the points equal the given ones? None when the exact pass would be too large."""
    src = net.source
    if src is None or 100 * _matrix_entries(src) > limit_bytes:   # Python integers: ~100 bytes a weight
        return None
    from ilpregions.backends.slicing.exact import ExactNet, slice_points

    X, e = slice_points(origin, direction[:, None], np.asarray(points)[:, None])
    codes = ExactNet(src).patterns(X, e)
    order = [op.inputs[0] for op in net.ops if op.kind == "relu"]
    claimed = np.stack([np.concatenate([m[t] for t in order]) for m in masks]).astype(np.int16)
    return (codes == claimed).all(axis=1)


#: Memory of one batch of re-checks (their forward passes with error bounds), at most.
RECHECK_BYTES = 512 << 20
#: Per-piece certificate states.
BY_BOUNDS, BY_EXACT, UNCHECKED, MISMATCH = 0, 1, 2, 3


def _certify(net, origin, direction, pieces, w, memory_cap, deadline) -> np.ndarray:
    """Each piece's state (:data:`BY_BOUNDS` ... :data:`MISMATCH`): the walk's own bands first, then a
    pattern-fixed pass with error bounds at the midpoint, then exact arithmetic (small networks, few pieces);
    nothing more is tried after the deadline."""
    state = np.full(len(pieces["lo"]), BY_BOUNDS, dtype=np.int8)
    bad = _uncertain(pieces, w)
    if len(bad) == 0:
        return state
    state[bad] = UNCHECKED
    if w.hopeless:      # the bounds already lose to the values at the anchor: a re-check cannot win
        return state
    mid = 0.5 * (pieces["lo"][bad] + pieces["hi"][bad])
    per = max(1, min(memory_cap // 4, RECHECK_BYTES) // (dense_pass_bytes(net, 1) + 2 * net.decisions))
    undecided, undecided_masks = [], []
    for lo in range(0, len(bad), per):
        if deadline is not None and time.perf_counter() > deadline:
            return state
        masks = _masks_at(net, w, pieces, bad[lo:lo + per])
        ok, wrong = _recheck(net, origin, direction, mid[lo:lo + per], masks)
        state[bad[lo:lo + per][ok]] = BY_BOUNDS
        state[bad[lo:lo + per][wrong]] = MISMATCH
        for k in np.flatnonzero(~ok & ~wrong):
            if len(undecided) < 64:
                undecided.append(lo + k)
                undecided_masks.append(masks[k])
    if undecided and (deadline is None or time.perf_counter() < deadline):
        same = _exact_recheck(net, origin, direction, mid[undecided], undecided_masks, memory_cap)
        if same is not None:
            idx = bad[np.array(undecided)]
            state[idx] = np.where(same, BY_EXACT, MISMATCH)
    return state


def _outputs(net, w, pieces) -> np.ndarray:
    times = np.concatenate([o[0] for o in w.outputs])
    vals = np.concatenate([o[1] for o in w.outputs])
    slopes = np.concatenate([o[2] for o in w.outputs])
    mid = 0.5 * (pieces["lo"] + pieces["hi"])
    k = np.searchsorted(times, mid, side="right") - 1
    const = vals[k] - slopes[k] * times[k][:, None]
    return np.stack([const.T, slopes[k].T], axis=2)


def _switches(net: LineNet, walkers) -> tuple:
    """Per ReLU op: its entries, how many switches the walk found and how many entries switch at all."""
    dec = np.concatenate([f[1] for w in walkers for f in w.flips]) if any(w.flips for w in walkers) \
        else np.zeros(0, np.int64)
    out = []
    for op in net.ops:
        if op.kind == "relu":
            n = net.sizes[op.output]
            mine = dec[(dec >= op.offset) & (dec < op.offset + n)]
            out.append((op.where, n, int(len(mine)), int(len(np.unique(mine)))))
    return tuple(out)


def _same_pattern(a, b) -> bool:
    """Walker a's last masks equal walker b's anchor masks (entry by entry)."""
    return all(np.array_equal(a.state[t][:, 4] > 0.5, b.anchor_masks[t]) for t in b.anchor_masks)


def slice_line(net: LineNet, origin: np.ndarray, direction: np.ndarray, *, deadline: float | None = None,
               memory_cap: int = 4 << 30, progress=None, check: bool = True, ranges: int = RANGES) -> LineResult:
    """The pieces of ``origin + t * direction``, t in [0, 1], of a prepared network.

    Parameters
    ----------
    net : LineNet
        From :func:`~ilpregions.backends.slicing.linenet.prepare` (reuse it for many segments).
    origin, direction : ndarray
        The segment's start and ``B - A``.
    deadline : float, optional
        A ``time.perf_counter()`` value; the walk stops there and the certified pieces are a lower bound.
    memory_cap : int
        Bytes for the walk's streams and logs (checked by arithmetic before each op's stream).
    progress : Progress, optional
        Advanced by the fraction of t walked (in parts per million).
    check : bool
        Re-check the pieces the walk's own bounds leave uncertain (else they count as unchecked).

    Returns
    -------
    LineResult
    """
    origin = np.ascontiguousarray(origin, dtype=np.float64)
    direction = np.ascontiguousarray(direction, dtype=np.float64)
    walkers = start_walkers(net, origin, direction, np.linspace(0.0, 1.0, ranges + 1))

    def tick(w, dt):
        if progress is not None:
            progress.update(int(round(dt * 1e6)))
            progress.set_postfix(events=sum(x.events for x in walkers))

    state = sum(st.nbytes for w in walkers for st in w.state.values())
    walkers = walk_all(net, walkers, deadline, max(1, memory_cap - net.nbytes - 2 * state), tick)
    los, his, ids, outs, states, pending = [], [], [], [], [], []
    thin, seconds = 0, {}
    for i, w in enumerate(walkers):
        pieces = _walker_pieces(net, w)
        state = (_certify(net, origin, direction, pieces, w, memory_cap, deadline) if check
                 else np.full(len(pieces["lo"]), UNCHECKED, np.int8))
        lo, hi, pid, out = pieces["lo"], pieces["hi"], pieces["ids"], _outputs(net, w, pieces)
        last = max((j for j, h in enumerate(his) if len(h)), default=None)    # the last piece so far
        if (last is not None and len(lo) and walkers[i - 1].t_done == w.t0 and his[last][-1] == w.t0
                and _same_pattern(walkers[i - 1], w)):
            his[last][-1] = hi[0]        # one piece across the two ranges: counted once
            a, b = states[last][-1], state[0]
            states[last][-1] = max(a, b) if MISMATCH in (a, b) else min(a, b)
            lo, hi, pid, out, state = lo[1:], hi[1:], pid[1:], out[:, 1:], state[1:]
        los.append(lo.copy())
        his.append(hi.copy())
        ids.extend(format_id(k) for k in pid)
        outs.append(out)
        states.append(state.copy())
        thin += pieces["thin"]
        if w.t_done < w.t1:
            pending.append((w.t_done, w.t1))
        for k, v in w.seconds_by_op.items():
            seconds[k] = seconds.get(k, 0.0) + v / max(1, THREADS)
    state = np.concatenate(states)
    cert = Certificate(int(np.sum(state == BY_BOUNDS)), int(np.sum(state == BY_EXACT)),
                       int(np.sum(state == UNCHECKED)), tuple(int(k) for k in np.flatnonzero(state == MISMATCH)))
    stopped = [w.stopped for w in walkers if w.stopped]
    return LineResult(np.concatenate(los), np.concatenate(his), tuple(ids), not pending, cert,
                      np.concatenate(outs, axis=1), state, tuple(pending), stopped[0] if stopped else "exact",
                      thin, seconds, sum(w.events for w in walkers), _switches(net, walkers))


__all__ = ["LineResult", "slice_line", "RANGES", "MIN_LENGTH", "BY_BOUNDS", "BY_EXACT", "UNCHECKED", "MISMATCH"]

"""Compiled (numba) kernels of the line sweep: changes of slope carried through the ops, one chunk at a time.

Along the line ``x(t)``, every tensor entry is a piecewise-linear function
of t whose slope changes only where some ReLU upstream switches. A
*stream* is the list of those changes for one tensor over a chunk of t, in
time order: event k happens at ``times[k]`` and changes the entries
``idx[ptr[k]:ptr[k + 1]]`` by slope ``ds[...]``; ``er[...]`` bounds, for
every t of the walk, the error those changes add to an entry's value (the
rounding of the changes, and what a switch at a rounded time leaves out).
Only the entries a change reaches are touched, so the work follows the
pieces and the neurons that switch, not all neurons times all pieces.

* :func:`conv_stream`, :func:`matrix_stream`: an affine op maps its input's
  stream to its output's (the constant term never changes);
* :func:`merge_streams`: a residual addition;
* :func:`relu_chunk`: keeps each ReLU input entry's current line (value at
  its last change, slope, error bound) and finds where the lines cross zero,
  in time order, between and at the input's events; a crossing is a switch
  (logged) and a change of the output's slope;
* :func:`track_chunk`: the network output's lines, for the decision
  boundary and the result's output maps.

:func:`relu_chunk` also records the *bands*: the times where an entry's
sign is not certain from its line and error bound (see
:mod:`ilpregions.backends.slicing.sweep`).
"""

from __future__ import annotations

import heapq

import numpy as np

from ilpregions.core.numba_cache import njit   # numba's, with a cache that never stops the import

U = 2.0 ** -53
G3 = 3.0 * U / (1.0 - 3.0 * U)


@njit(cache=True, nogil=True)
def _grow(a, need):
    """``a``, or a copy at least twice as long when ``need`` entries do not fit."""
    if need <= a.shape[0]:
        return a
    b = np.empty(max(need, 2 * a.shape[0]), dtype=a.dtype)
    b[:a.shape[0]] = a
    return b


@njit(cache=True, nogil=True)
def _outputs(K, guess):
    """An output stream's offsets (K events) and first arrays of entries (grown as needed)."""
    cap = max(16, guess)
    return np.zeros(K + 1, dtype=np.int64), np.empty(cap, dtype=np.int64), np.empty(cap), np.empty(cap)


@njit(cache=True, nogil=True)
def conv_stream(times, ptr, idx, ds, er, W, Wmax, geom, taps, inflate):  # long: one loop nest, the hot path
    """The stream of a convolution's output from its input's (see :func:`_geom` in linenet for ``geom``).

    ``W`` is flat ``[ci, a, b, c, col]`` (the input's fan-out contiguous); the error bounds go by position:
    every output channel of a position gets ``sum |change error| * Wmax[ci, a, b, c]``, ``Wmax`` the
    largest ``|w|`` over the output channels (an upper bound at a fraction of the work). ``taps[axis, x]``
    lists, for input coordinate x along an axis, the kernel offsets that reach an output and that
    output's coordinate (``-1`` ends the list): no division in the loop.
    """
    cin, di, hi, wi = geom[0], geom[1], geom[2], geom[3]
    cout, do, ho, wo = geom[4], geom[5], geom[6], geom[7]
    kd, kh, kw, groups = geom[8], geom[9], geom[10], geom[20]
    cig, cog = cin // groups, cout // groups
    s_in, s_out = di * hi * wi, do * ho * wo
    acc = np.zeros(cout * s_out)
    acce = np.zeros(groups * s_out)
    mark = np.full(groups * s_out, -1, dtype=np.int64)
    touched = np.empty(groups * s_out, dtype=np.int64)
    K = len(times)
    optr, oidx, ods, oer = _outputs(K, 4 * len(idx))
    n = 0
    for k in range(K):
        nt = 0
        for q in range(ptr[k], ptr[k + 1]):
            j, d, e = idx[q], ds[q], er[q]
            ci = j // s_in
            r = j - ci * s_in
            z = r // (hi * wi)
            r -= z * hi * wi
            y = r // wi
            x = r - y * wi
            g = ci // cig
            for ta in range(taps.shape[2]):
                a, oz = taps[0, z, ta, 0], taps[0, z, ta, 1]
                if a < 0:
                    break
                for tb in range(taps.shape[2]):
                    b, oy = taps[1, y, tb, 0], taps[1, y, tb, 1]
                    if b < 0:
                        break
                    for tc in range(taps.shape[2]):
                        c, ox = taps[2, x, tc, 0], taps[2, x, tc, 1]
                        if c < 0:
                            break
                        key = g * s_out + (oz * ho + oy) * wo + ox
                        o = key * cog          # accumulators channels-last: the inner loop is contiguous
                        if mark[key] != k:
                            mark[key] = k
                            touched[nt] = key
                            nt += 1
                            acc[o:o + cog] = 0.0
                            acce[key] = 0.0
                        tap = ((ci * kd + a) * kh + b) * kw + c
                        av, wv = acc[o:o + cog], W[cog * tap:cog * (tap + 1)]    # views: the loop vectorises
                        for col in range(cog):
                            av[col] += wv[col] * d
                        acce[key] += Wmax[tap] * e
        touched[:nt].sort()               # in index order: the consumer walks its state rows forwards
        need = n + nt * cog
        oidx = _grow(oidx, need)
        ods = _grow(ods, need)
        oer = _grow(oer, need)
        for col in range(cog):           # in index order (channels first): the consumer's rows in order
            for u in range(nt):
                key = touched[u]
                g = key // s_out
                oidx[n] = (g * cog + col) * s_out + key - g * s_out
                ods[n] = acc[key * cog + col]
                oer[n] = acce[key] * inflate
                n += 1
        optr[k + 1] = n
    return times.copy(), optr, oidx[:n].copy(), ods[:n].copy(), oer[:n].copy()


@njit(cache=True, nogil=True)
def matrix_stream(times, ptr, idx, ds, er, indptr, rows, data, adata, n_out, inflate):
    """The stream of ``A @ x`` from x's, A in CSC form (``indptr``, ``rows``, ``data``; ``adata = |data|``)."""
    acc = np.zeros(n_out)
    acce = np.zeros(n_out)
    mark = np.full(n_out, -1, dtype=np.int64)
    touched = np.empty(n_out, dtype=np.int64)
    K = len(times)
    optr, oidx, ods, oer = _outputs(K, 2 * len(idx))
    n = 0
    for k in range(K):
        nt = 0
        for q in range(ptr[k], ptr[k + 1]):
            j, d, e = idx[q], ds[q], er[q]
            for p in range(indptr[j], indptr[j + 1]):
                o = rows[p]
                if mark[o] != k:
                    mark[o] = k
                    touched[nt] = o
                    nt += 1
                    acc[o] = 0.0
                    acce[o] = 0.0
                acc[o] += data[p] * d
                acce[o] += adata[p] * e
        oidx = _grow(oidx, n + nt)
        ods = _grow(ods, n + nt)
        oer = _grow(oer, n + nt)
        for u in range(nt):
            o = touched[u]
            oidx[n] = o
            ods[n] = acc[o]
            oer[n] = acce[o] * inflate
            n += 1
        optr[k + 1] = n
    return times.copy(), optr, oidx[:n].copy(), ods[:n].copy(), oer[:n].copy()


@njit(cache=True, nogil=True)
def merge_streams(t1, p1, i1, d1, e1, t2, p2, i2, d2, e2):
    """Two streams as one, in time order (the first's event first on equal times): a residual addition."""
    K1, K2 = len(t1), len(t2)
    times = np.empty(K1 + K2)
    ptr = np.zeros(K1 + K2 + 1, dtype=np.int64)
    idx = np.empty(len(i1) + len(i2), dtype=np.int64)
    ds = np.empty(len(idx))
    er = np.empty(len(idx))
    a = b = n = 0
    for k in range(K1 + K2):
        first = b >= K2 or (a < K1 and t1[a] <= t2[b])
        if first:
            lo, hi = p1[a], p1[a + 1]
            times[k] = t1[a]
            idx[n:n + hi - lo] = i1[lo:hi]
            ds[n:n + hi - lo] = d1[lo:hi]
            er[n:n + hi - lo] = e1[lo:hi]
            a += 1
        else:
            lo, hi = p2[b], p2[b + 1]
            times[k] = t2[b]
            idx[n:n + hi - lo] = i2[lo:hi]
            ds[n:n + hi - lo] = d2[lo:hi]
            er[n:n + hi - lo] = e2[lo:hi]
            b += 1
        n += hi - lo
        ptr[k + 1] = n
    return times, ptr, idx, ds, er


#: Columns of a tracked entry's state row (one row per entry: one cache line per touch).
V, S, TL, EPS, ON, VER, CU, LF = range(8)


@njit(cache=True, nogil=True)
def _band(st, i, b):
    """Where entry i's sign is uncertain on [max(tl, cu), b], or its mask disagrees with its line:
    ``(lo, hi)``, empty when ``lo > hi``."""
    a = max(st[i, TL], st[i, CU])
    vi, si, w, on = st[i, V], st[i, S], st[i, EPS], st[i, ON] > 0.5
    lo, hi = np.inf, -np.inf
    if b < a:
        return lo, hi
    # the common case, without a division: the line clears its bound at both ends, on the mask's side
    da, db = a - st[i, TL], b - st[i, TL]
    ea = w + G3 * (abs(vi) + abs(si * da))
    eb = w + G3 * (abs(vi) + abs(si * db))
    va, vb = vi + si * da, vi + si * db
    if (on and va > ea and vb > eb) or (not on and va < -ea and vb < -eb):
        return lo, hi
    if vi == 0.0 and si == 0.0 and w == 0.0:
        if on:
            lo, hi = a, b
    elif si == 0.0:
        if abs(vi) <= w or (vi > 0.0) != on:
            lo, hi = a, b
    else:
        r = st[i, TL] - vi / si
        half = w / abs(si)
        pad = 4.0 * U * (abs(st[i, TL]) + abs(vi / si) + half) + 1e-300
        lo, hi = r - half - pad, r + half + pad
        if not np.isnan(st[i, LF]):
            lo, hi = min(lo, st[i, LF]), max(hi, st[i, LF])
        if (b > hi or b < lo) and (si * (b - r) > 0.0) != on:
            lo, hi = a, b                # the mask disagrees with the line: a crossing was missed
    return max(lo, a), min(hi, b)


@njit(cache=True, nogil=True)
def _add_row(rows, n, a, b, c):
    """Append the row (a, b, c) to ``rows[:n]`` (grown when full): a band or a switch."""
    if n >= rows.shape[0]:
        grown = np.empty((2 * n, 3))
        grown[:n] = rows[:n]
        rows = grown
    rows[n, 0], rows[n, 1], rows[n, 2] = a, b, c
    return rows, n + 1


@njit(cache=True, nogil=True)
def relu_chunk(times, ptr, idx, ds, er, st, t_lo, t_hi, h, slope, gam):  # long: one event loop, shared state
    """One chunk [t_lo, t_hi) of a (leaky) ReLU: its input's stream in, its output's stream out.

    ``st[i]`` is input entry i's state: its line ``v + s (t - tl)``, the line's
    error bound ``eps`` (for every t of the walk, whose length is h), the mask
    ``on``, a version ``ver`` (stale heap entries), ``cu`` (bands recorded up to
    there) and ``lf`` (the time of a switch inside the current line, or NaN).
    Returns the output stream, the switches ``(F, 3)``: time, entry, new mask,
    and the bands ``(B, 3)``: lo, hi, entry.
    """
    K = len(times)
    cap = max(16, len(idx) + 64)
    otimes = np.empty(K + 64)
    optr = np.zeros(K + 65, dtype=np.int64)
    oidx = np.empty(cap, dtype=np.int64)
    ods = np.empty(cap)
    oer = np.empty(cap)
    flips = np.empty((64, 3))
    bands = np.empty((64, 3))
    ne = no = nf = nb = 0
    heap = [(np.inf, np.int64(-1), -1.0)]
    for i in range(st.shape[0]):
        if st[i, S] != 0.0:
            r = st[i, TL] - st[i, V] / st[i, S]
            if r > st[i, TL] and t_lo <= r < t_hi:
                heapq.heappush(heap, (r, np.int64(i), st[i, VER]))
    for k in range(K + 1):
        limit = times[k] if k < K else t_hi
        while heap[0][0] < limit:
            r, i, vr = heapq.heappop(heap)
            if vr != st[i, VER]:
                continue
            dt = r - st[i, TL]
            val = st[i, V] + st[i, S] * dt
            err = st[i, EPS] + G3 * (abs(st[i, V]) + abs(st[i, S] * dt))
            on = st[i, ON] > 0.5
            g_o, g_n = (1.0, slope) if on else (slope, 1.0)
            d = (g_n - g_o) * st[i, S]
            st[i, ON] = 0.0 if on else 1.0
            st[i, LF] = r
            flips, nf = _add_row(flips, nf, r, i, st[i, ON])
            if ne + 1 >= otimes.shape[0]:
                otimes, optr = _grow(otimes, 2 * ne + 2), _grow(optr, 2 * ne + 3)
            oidx, ods, oer = _grow(oidx, no + 1), _grow(ods, no + 1), _grow(oer, no + 1)
            otimes[ne] = r
            oidx[no], ods[no] = i, d
            oer[no] = abs(g_n - g_o) * (abs(val) + err) + (gam + U) * abs(d) * h
            no += 1
            ne += 1
            optr[ne] = no
        if k == K:
            break
        tau = times[k]
        if ne + 1 >= otimes.shape[0]:
            otimes, optr = _grow(otimes, 2 * ne + 2), _grow(optr, 2 * ne + 3)
        cnt = ptr[k + 1] - ptr[k]
        oidx, ods, oer = _grow(oidx, no + cnt), _grow(ods, no + cnt), _grow(oer, no + cnt)
        start = no
        for q in range(ptr[k], ptr[k + 1]):
            i = idx[q]
            dt = tau - st[i, TL]
            val = st[i, V] + st[i, S] * dt
            e_old = st[i, EPS] + G3 * (abs(st[i, V]) + abs(st[i, S] * dt))
            # the line's stretch ends here: it clears its bound at both ends on the mask's side (the common
            # case, bounds of both values below e_old), or its band is recorded
            a = max(st[i, TL], st[i, CU])
            va = st[i, V] + st[i, S] * (a - st[i, TL])
            if not ((st[i, ON] > 0.5 and va > e_old and val > e_old)
                    or (st[i, ON] < 0.5 and va < -e_old and val < -e_old)):
                lo, hi = _band(st, i, tau)
                if lo <= hi:
                    bands, nb = _add_row(bands, nb, lo, hi, i)
            s_old = st[i, S]
            s_new = s_old + ds[q]
            st[i, V] = val
            st[i, TL] = tau
            st[i, CU] = tau
            st[i, LF] = np.nan
            st[i, S] = s_new
            st[i, EPS] = e_old + er[q] + U * abs(s_new) * h
            want = val > 0.0 or (val == 0.0 and s_new > 0.0)
            on = st[i, ON] > 0.5
            g_o = 1.0 if on else slope
            if want == on:
                if g_o != 0.0:
                    oidx[no], ods[no] = i, g_o * ds[q]
                    oer[no] = abs(g_o) * er[q] + (0.0 if g_o == 1.0 else U * abs(g_o * ds[q]) * h)
                    no += 1
            else:
                g_n = slope if on else 1.0
                oidx[no], ods[no] = i, g_n * s_new - g_o * s_old
                oer[no] = (abs(g_n - g_o) * (abs(val) + e_old) + abs(g_n) * er[q]
                           + (G3 + gam) * (abs(g_n * s_new) + abs(g_o * s_old)) * h)
                no += 1
                st[i, ON] = 1.0 if want else 0.0
                st[i, LF] = tau
                flips, nf = _add_row(flips, nf, tau, i, st[i, ON])
            st[i, VER] += 1.0
            if val * s_new < 0.0 and abs(val) < abs(s_new) * (t_hi - tau):   # heads for zero in this chunk
                r = tau - val / s_new
                if r > tau and r < t_hi:
                    heapq.heappush(heap, (r, np.int64(i), st[i, VER]))
        otimes[ne] = tau
        if no > start:            # an event nothing passed is dropped
            ne += 1
            optr[ne] = no
    for i in range(st.shape[0]):
        lo, hi = _band(st, i, t_hi)
        if lo <= hi:
            bands, nb = _add_row(bands, nb, lo, hi, i)
        st[i, CU] = t_hi
    return ((otimes[:ne].copy(), optr[:ne + 1].copy(), oidx[:no].copy(), ods[:no].copy(), oer[:no].copy()),
            flips[:nf].copy(), bands[:nb].copy())


@njit(cache=True, nogil=True)
def track_chunk(times, ptr, idx, ds, er, st, h):
    """Apply a stream to a tensor's lines (the network output); after every event, every entry's
    value at that time and slope: ``(times, values (K, n), slopes (K, n))``."""
    K, n = len(times), st.shape[0]
    vals = np.empty((K, n))
    slopes = np.empty((K, n))
    for k in range(K):
        tau = times[k]
        for q in range(ptr[k], ptr[k + 1]):
            i = idx[q]
            dt = tau - st[i, TL]
            val = st[i, V] + st[i, S] * dt
            st[i, EPS] += G3 * (abs(st[i, V]) + abs(st[i, S] * dt)) + er[q]
            st[i, V] = val
            st[i, TL] = tau
            st[i, S] += ds[q]
            st[i, EPS] += U * abs(st[i, S]) * h
        for i in range(n):
            vals[k, i] = st[i, V] + st[i, S] * (tau - st[i, TL])
            slopes[k, i] = st[i, S]
    return times.copy(), vals, slopes


__all__ = ["conv_stream", "matrix_stream", "merge_streams", "relu_chunk", "track_chunk"]

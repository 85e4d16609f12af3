"""Compiled (numba) batch kernels: split every piece of a batch in one call.

A batch's pieces are one vertex array ``flat`` ``(V, k)`` and offsets
``offs`` ``(P + 1,)``: piece p is ``flat[offs[p]:offs[p + 1]]``. Maps are
``(n, P, k + 1)`` as in :mod:`ilpregions.backends.slicing.engine`. Each kernel
decides, per piece and neuron (or pooling window), whether the piece must be
cut, with the tolerance rule of the engine (a change needs more than
``rel * (|c0| + sum_i |c_i| R_i)`` in both directions at the vertices, R the
piece's extent); cuts go through the same polygon clipping as before
(:mod:`ilpregions.backends.slicing.kernels`). No Python object is made per
piece: the results come back as flat arrays.
"""

from __future__ import annotations

import numpy as np
from ilpregions.core.numba_cache import njit

from ilpregions.backends.slicing.kernels import argmax_list, flatten_pieces, split, values


@njit(cache=True)
def _extent(Q):
    R = np.zeros(Q.shape[1])
    for i in range(Q.shape[0]):
        for d in range(Q.shape[1]):
            R[d] = max(R[d], abs(Q[i, d]))
    return R


@njit(cache=True)
def _map_at(Z, j, p, Q, R, V, scale):
    """Values of map ``Z[j, p]`` at Q's vertices into ``V[j]``, and its scale into ``scale[j]``."""
    K = Z.shape[2]
    s = abs(Z[j, p, 0])
    for d in range(K - 1):
        s += abs(Z[j, p, d + 1]) * R[d]
    scale[j] = s
    for i in range(Q.shape[0]):
        v = Z[j, p, 0]
        for d in range(K - 1):
            v += Z[j, p, d + 1] * Q[i, d]
        V[j, i] = v


@njit(cache=True)
def _relu_cut(Q, Z, p, J, tol, pieces, parents):
    """Cut piece Q (of parent p) by the neurons J in order; append the pieces."""
    polys = [Q]
    starts = [0]
    while len(polys) > 0:
        C = polys.pop()
        j0 = starts.pop()
        found = -1
        f = np.empty(0)
        for jj in range(j0, len(J)):
            f = values(C, Z[J[jj], p])
            if f.max() > tol[J[jj]] and f.min() < -tol[J[jj]]:
                found = jj
                break
        if found < 0:
            pieces.append(C)
            parents.append(p)
            continue
        neg, pos = split(C, f, tol[J[found]])
        if neg.shape[0] > 0:
            polys.append(neg)
            starts.append(found + 1)
        if pos.shape[0] > 0:
            polys.append(pos)
            starts.append(found + 1)


@njit(cache=True, nogil=True)
def relu_batch(flat, offs, Z, rel):
    """Split every piece along the neurons of Z that change sign on it.

    Returns ``(flat, offs, parents, masks)``: the new pieces, each one's
    parent, and its ReLU pattern ``(P', n)`` (a cut neuron is read at the
    piece's vertex mean; any other neuron is active if it exceeds its
    tolerance somewhere on the parent).
    """
    n, P, K = Z.shape
    active = np.zeros((P, n), dtype=np.bool_)
    cross = np.zeros((P, n), dtype=np.bool_)
    ncross = np.zeros(P, dtype=np.int64)
    tol = np.empty((P, n))
    pieces = [flat[0:0].copy()]
    pieces.pop()
    parents = [0]
    parents.pop()
    for p in range(P):
        Q = flat[offs[p]:offs[p + 1]].copy()
        R = _extent(Q)
        for j in range(n):
            s = abs(Z[j, p, 0])
            for d in range(K - 1):
                s += abs(Z[j, p, d + 1]) * R[d]
            t = rel * s
            tol[p, j] = t
            hi, lo = -np.inf, np.inf
            for i in range(Q.shape[0]):
                v = Z[j, p, 0]
                for d in range(K - 1):
                    v += Z[j, p, d + 1] * Q[i, d]
                hi, lo = max(hi, v), min(lo, v)
            active[p, j] = hi > t
            if hi > t and lo < -t:
                cross[p, j] = True
                ncross[p] += 1
        if ncross[p] == 0:
            pieces.append(Q)
            parents.append(p)
        else:
            _relu_cut(Q, Z, p, np.flatnonzero(cross[p]), tol[p], pieces, parents)
    out, out_offs = flatten_pieces(pieces, K - 1)
    par, masks = _relu_masks(pieces, parents, Z, active, cross, ncross)
    return out, out_offs, par, masks


@njit(cache=True)
def _relu_masks(pieces, parents, Z, active, cross, ncross):
    """Each new piece's parent and pattern: the parent's, with cut neurons read at the vertex mean."""
    n, _, K = Z.shape
    par = np.empty(len(parents), dtype=np.int64)
    masks = np.empty((len(parents), n), dtype=np.bool_)
    for q in range(len(parents)):
        p = parents[q]
        par[q] = p
        masks[q] = active[p]
        if ncross[p] == 0:
            continue
        c = np.empty(K - 1)
        for d in range(K - 1):
            c[d] = pieces[q][:, d].mean()
        for j in range(n):
            if cross[p, j]:
                s = Z[j, p, 0]
                for d in range(K - 1):
                    s += Z[j, p, d + 1] * c[d]
                masks[q, j] = s > 0
    return par, masks


@njit(cache=True)
def _undecided(V, scale, win_flat, win_offs, rel, bad, tols):
    """Mark the windows whose maximum is not one entry at every vertex (within tolerance)."""
    m = V.shape[1]
    count = 0
    for b in range(len(win_offs) - 1):
        lo, hi = win_offs[b], win_offs[b + 1]
        t = 0.0
        top = win_flat[lo]
        best = -np.inf
        for i in range(lo, hi):
            e = win_flat[i]
            t = max(t, scale[e])
            mean = V[e].sum() / m
            if mean > best:
                best = mean
                top = e
        t *= rel
        ok = True
        for i in range(lo, hi):
            e = win_flat[i]
            for v in range(m):
                if V[top, v] - V[e, v] < -t:
                    ok = False
        bad[b] = not ok
        tols[b] = t
        count += not ok
    return count


@njit(cache=True)
def _pool_cut(Q, X, p, win_flat, win_offs, bad, tols, pieces, parents):
    cur = [Q]
    K = X.shape[2]
    for b in range(len(win_offs) - 1):
        if not bad[b]:
            continue
        lo, hi = win_offs[b], win_offs[b + 1]
        Zw = np.empty((hi - lo, K))
        for i in range(lo, hi):
            Zw[i - lo] = X[win_flat[i], p]
        nxt = [Q]
        nxt.pop()
        for C in cur:
            cells, _ = argmax_list(C, Zw, tols[b])
            for D in cells:
                nxt.append(D)
        cur = nxt
    for C in cur:
        pieces.append(C)
        parents.append(p)


@njit(cache=True, nogil=True)
def pool_batch(flat, offs, X, win_flat, win_offs, rel):
    """Split every piece into the argmax cells of the pooling windows.

    Window b holds the flat input indices ``win_flat[win_offs[b]:win_offs[b + 1]]``.
    Returns ``(flat, offs, parents, entries, codes)``: ``entries[q, b]`` the
    input index window b takes at piece q's vertex mean (first on ties) and
    ``codes[q, b]`` its position in the window, or -1 when that entry's map
    is identically zero.
    """
    n, P, K = X.shape
    nw = len(win_offs) - 1
    pieces = [flat[0:0].copy()]
    pieces.pop()
    parents = [0]
    parents.pop()
    bad = np.zeros(nw, dtype=np.bool_)
    tols = np.zeros(nw)
    Vbuf = np.empty((n, max(1, int(np.max(np.diff(offs))))))
    scale = np.empty(n)
    for p in range(P):
        Q = flat[offs[p]:offs[p + 1]].copy()
        R = _extent(Q)
        V = Vbuf[:, :Q.shape[0]]
        for e in range(n):
            _map_at(X, e, p, Q, R, V, scale)
        if _undecided(V, scale, win_flat, win_offs, rel, bad, tols) == 0:
            pieces.append(Q)
            parents.append(p)
        else:
            _pool_cut(Q, X, p, win_flat, win_offs, bad, tols, pieces, parents)
    out, out_offs = flatten_pieces(pieces, K - 1)
    par, entries, codes = _pool_choices(pieces, parents, X, win_flat, win_offs)
    return out, out_offs, par, entries, codes


@njit(cache=True)
def _pool_choices(pieces, parents, X, win_flat, win_offs):
    """Each new piece's parent, and each window's maximal entry at the piece's vertex mean (first on ties)."""
    K = X.shape[2]
    nw = len(win_offs) - 1
    P2 = len(parents)
    par = np.empty(P2, dtype=np.int64)
    entries = np.empty((P2, nw), dtype=np.int64)
    codes = np.empty((P2, nw), dtype=np.int16)
    for q in range(P2):
        p = parents[q]
        par[q] = p
        C = pieces[q]
        c = np.empty(K - 1)
        for d in range(K - 1):
            c[d] = C[:, d].mean()
        for b in range(nw):
            best = -np.inf
            arg = 0
            for i in range(win_offs[b], win_offs[b + 1]):
                e = win_flat[i]
                s = X[e, p, 0]
                for d in range(K - 1):
                    s += X[e, p, d + 1] * c[d]
                if s > best:
                    best = s
                    arg = i - win_offs[b]
            e = win_flat[win_offs[b] + arg]
            entries[q, b] = e
            zero = True
            for d in range(K):
                if X[e, p, d] != 0.0:
                    zero = False
            codes[q, b] = -1 if zero else arg
    return par, entries, codes


@njit(cache=True)
def _tie_edges(Y, cells, winners, tol, edges):
    """Append the edges (1-D: endpoints) of the cells along which the top two outputs tie."""
    n, K = Y.shape
    for c in range(len(cells)):
        C, e = cells[c], winners[c]
        m = C.shape[0]
        npts = 1 if K == 2 else 2
        count = 2 if K == 2 else m
        for a in range(count):
            E = np.empty((npts, K - 1))
            E[0] = C[a]
            if npts == 2:
                E[1] = C[(a + 1) % m]
            best_other = -np.inf
            ve = 0.0
            for r in range(n):
                s = Y[r, 0]
                for d in range(K - 1):
                    mid = E[:, d].mean()
                    s += Y[r, d + 1] * mid
                if r == e:
                    ve = s
                else:
                    best_other = max(best_other, s)
            if abs(ve - best_other) <= 10 * tol:
                edges.append(E)


@njit(cache=True, nogil=True)
def boundary_batch(flat, offs, Y, rel):
    """Which pieces the argmax of the outputs ``Y`` ``(n, P, k + 1)`` changes on, and the tie edges.

    Returns ``(crossed, edges, npts)``: a flag per piece and the edges as one
    array ``(E, npts, k)`` (segments in 2-D, points in 1-D).
    """
    n, P, K = Y.shape
    crossed = np.zeros(P, dtype=np.bool_)
    edges = [np.empty((1, K - 1))]
    edges.pop()
    for p in range(P):
        Q = flat[offs[p]:offs[p + 1]].copy()
        R = _extent(Q)
        V = np.empty((n, Q.shape[0]))
        scale = np.empty(n)
        for r in range(n):
            _map_at(Y, r, p, Q, R, V, scale)
        t = rel * scale.max()
        top = 0
        best = -np.inf
        for r in range(n):
            mean = V[r].sum() / Q.shape[0]
            if mean > best:
                best = mean
                top = r
        candidate = False
        for r in range(n):
            for v in range(Q.shape[0]):
                if V[top, v] - V[r, v] < -t:
                    candidate = True
        if not candidate:
            continue
        Yp = np.ascontiguousarray(Y[:, p, :])
        cells, winners = argmax_list(Q, Yp, t)
        if len(cells) < 2:
            continue
        crossed[p] = True
        _tie_edges(Yp, cells, winners, t, edges)
    npts = 1 if K == 2 else 2
    out = np.empty((len(edges), npts, K - 1))
    for i in range(len(edges)):
        out[i] = edges[i]
    return crossed, out


@njit(cache=True, nogil=True)
def gather(X, parents, gain):
    """``X[:, parents, :]``, each row j of piece q scaled by ``gain[q, j]`` (when gain has rows)."""
    n, _, K = X.shape
    P = len(parents)
    out = np.empty((n, P, K))
    scaled = gain.shape[0] > 0
    for j in range(n):
        for q in range(P):
            g = gain[q, j] if scaled else 1.0
            for d in range(K):
                out[j, q, d] = X[j, parents[q], d] * g
    return out


@njit(cache=True, nogil=True)
def gather_entries(X, parents, entries):
    """``out[b, q] = X[entries[q, b], parents[q]]``: each window's chosen entry's map."""
    P, nw = entries.shape
    K = X.shape[2]
    out = np.empty((nw, P, K))
    for b in range(nw):
        for q in range(P):
            for d in range(K):
                out[b, q, d] = X[entries[q, b], parents[q], d]
    return out


__all__ = ["relu_batch", "pool_batch", "boundary_batch", "gather", "gather_entries"]

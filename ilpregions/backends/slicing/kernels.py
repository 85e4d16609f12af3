"""Compiled (numba) inner loops of the slicer: cutting convex pieces by affine functions.

Pieces are float64 arrays ``(m, k)``: an interval ``[[t0], [t1]]`` (k = 1) or a
convex polygon, counter-clockwise (k = 2). An affine function is a row
``(c0, c1[, c2])``; its value at a vertex v is ``c0 + c . v``. A vertex within
``tol`` of zero is *on* the cut and belongs to both sides.
"""

from __future__ import annotations

import numpy as np
from ilpregions.core.numba_cache import njit


@njit(cache=True)
def values(P, c):
    out = np.empty(P.shape[0])
    for i in range(P.shape[0]):
        s = c[0]
        for d in range(P.shape[1]):
            s += c[d + 1] * P[i, d]
        out[i] = s
    return out


@njit(cache=True)
def area(P):
    if P.shape[1] == 1:
        return P[1, 0] - P[0, 0]
    s = 0.0
    m = P.shape[0]
    for i in range(m):
        j = (i + 1) % m
        s += P[i, 0] * P[j, 1] - P[j, 0] * P[i, 1]
    return 0.5 * s


@njit(cache=True)
def _clean(buf, n, scale):
    """Drop repeated vertices; an empty array if the polygon has no area left."""
    keep = np.zeros(n, dtype=np.bool_)
    count = 0
    for i in range(n):
        j = (i - 1) % n
        d = max(abs(buf[i, 0] - buf[j, 0]), abs(buf[i, 1] - buf[j, 1]))
        if d > 1e-15 * scale:
            keep[i] = True
            count += 1
    out = np.empty((count, 2))
    r = 0
    for i in range(n):
        if keep[i]:
            out[r] = buf[i]
            r += 1
    if count < 3 or area(out) <= 1e-24 * scale * scale:
        return np.empty((0, 2))
    return out


@njit(cache=True)
def split(P, f, tol):
    """(part where f <= 0, part where f >= 0); an empty array for an empty part."""
    m, k = P.shape
    if k == 1:
        a, b = f[0], f[1]
        if a >= -tol and b >= -tol:
            return np.empty((0, 1)), P.copy()
        if a <= tol and b <= tol:
            return P.copy(), np.empty((0, 1))
        t = P[0, 0] + a / (a - b) * (P[1, 0] - P[0, 0])
        lo = np.array([[P[0, 0]], [t]])
        hi = np.array([[t], [P[1, 0]]])
        if a < 0:
            return lo, hi
        return hi, lo
    neg = np.empty((m + 2, 2))
    pos = np.empty((m + 2, 2))
    nn = 0
    npos = 0
    scale = 1.0
    for i in range(m):
        scale = max(scale, abs(P[i, 0]) + 1.0, abs(P[i, 1]) + 1.0)
    for i in range(m):
        j = (i + 1) % m
        a, b = f[i], f[j]
        if a >= -tol:
            pos[npos] = P[i]
            npos += 1
        if a <= tol:
            neg[nn] = P[i]
            nn += 1
        if (a > tol and b < -tol) or (a < -tol and b > tol):
            t = a / (a - b)
            for d in range(2):
                x = P[i, d] + t * (P[j, d] - P[i, d])
                pos[npos, d] = x
                neg[nn, d] = x
            npos += 1
            nn += 1
    return _clean(neg, nn, scale), _clean(pos, npos, scale)


@njit(cache=True)
def flatten_pieces(pieces, k):
    """Pieces as one vertex array and offsets (typed lists are slow to read from Python)."""
    total = 0
    for p in range(len(pieces)):
        total += pieces[p].shape[0]
    flat = np.empty((total, k))
    offsets = np.empty(len(pieces) + 1, dtype=np.int64)
    offsets[0] = 0
    for p in range(len(pieces)):
        n = pieces[p].shape[0]
        flat[offsets[p]:offsets[p] + n] = pieces[p]
        offsets[p + 1] = offsets[p] + n
    return flat, offsets


@njit(cache=True)
def relu_pieces(P, Z, tol):
    """Cut piece P by every row of Z that changes sign on it.

    Returns the pieces (flat vertices and offsets) and, per piece, the sign (1 active, 0 not) of every
    row of Z at the piece's vertex mean.
    """
    polys = [P]
    starts = [0]
    out = [P]
    out.pop()
    J = Z.shape[0]
    while len(polys) > 0:
        Q = polys.pop()
        j0 = starts.pop()
        found = -1
        f = np.empty(0)
        for j in range(j0, J):
            f = values(Q, Z[j])
            if f.max() > tol[j] and f.min() < -tol[j]:
                found = j
                break
        if found < 0:
            out.append(Q)
            continue
        neg, pos = split(Q, f, tol[found])
        if neg.shape[0] > 0:
            polys.append(neg)
            starts.append(found + 1)
        if pos.shape[0] > 0:
            polys.append(pos)
            starts.append(found + 1)
    signs = np.empty((len(out), J), dtype=np.bool_)
    for p in range(len(out)):
        Q = out[p]
        c = np.empty(Q.shape[1])
        for d in range(Q.shape[1]):
            c[d] = Q[:, d].mean()
        for j in range(J):
            s = Z[j, 0]
            for d in range(Q.shape[1]):
                s += Z[j, d + 1] * c[d]
            signs[p, j] = s > 0
    flat, offsets = flatten_pieces(out, P.shape[1])
    return flat, offsets, signs


@njit(cache=True)
def _hull(pts):
    """Convex hull, counter-clockwise (Andrew's monotone chain), of points (n, 2)."""
    o1 = np.argsort(pts[:, 1], kind="mergesort")
    order = o1[np.argsort(pts[o1, 0], kind="mergesort")]
    S = pts[order]
    n = S.shape[0]
    H = np.empty((2 * n, 2))
    h = 0
    for i in range(n):
        while h >= 2 and ((H[h - 1, 0] - H[h - 2, 0]) * (S[i, 1] - H[h - 2, 1])
                          - (H[h - 1, 1] - H[h - 2, 1]) * (S[i, 0] - H[h - 2, 0])) <= 0:
            h -= 1
        H[h] = S[i]
        h += 1
    lower = h + 1
    for i in range(n - 2, -1, -1):
        while h >= lower and ((H[h - 1, 0] - H[h - 2, 0]) * (S[i, 1] - H[h - 2, 1])
                              - (H[h - 1, 1] - H[h - 2, 1]) * (S[i, 0] - H[h - 2, 0])) <= 0:
            h -= 1
        H[h] = S[i]
        h += 1
    return H[:h - 1].copy()


@njit(cache=True)
def argmax_list(P, Z, tol):  # long: one compiled loop (cut, then merge); helpers would copy lists
    """The cells of piece P on which one row of Z is the maximum (first index on exact ties),
    and each cell's row.

    Cuts along ``Z[a] - Z[l] = 0`` until every piece has one winner, then
    merges the pieces of each winner (their union is the winner's cell, which
    is convex, so it is the convex hull of their vertices).
    """
    polys = [P]
    leaves = [P]
    leaves.pop()
    winners = [0]
    winners.pop()
    w = Z.shape[0]
    while len(polys) > 0:
        Q = polys.pop()
        c = np.empty(Q.shape[1])
        for d in range(Q.shape[1]):
            c[d] = Q[:, d].mean()
        best = -np.inf
        a = 0
        for e in range(w):
            s = Z[e, 0]
            for d in range(Q.shape[1]):
                s += Z[e, d + 1] * c[d]
            if s > best:
                best = s
                a = e
        worst = -tol
        cut = -1
        fcut = np.empty(0)
        for l in range(w):
            if l == a:
                continue
            f = values(Q, Z[a] - Z[l])
            if f.min() < worst:
                worst = f.min()
                cut = l
                fcut = f
        if cut < 0:
            leaves.append(Q)
            winners.append(a)
            continue
        neg, pos = split(Q, fcut, tol)
        if neg.shape[0] > 0:
            polys.append(neg)
        if pos.shape[0] > 0:
            polys.append(pos)
    out = [P]
    out.pop()
    out_winners = [0]
    out_winners.pop()
    for e in range(w):
        count = 0
        total = 0
        for i in range(len(leaves)):
            if winners[i] == e:
                count += 1
                total += leaves[i].shape[0]
        if count == 0:
            continue
        out_winners.append(e)
        if count == 1:
            for i in range(len(leaves)):
                if winners[i] == e:
                    out.append(leaves[i])
            continue
        pts = np.empty((total, P.shape[1]))
        r = 0
        for i in range(len(leaves)):
            if winners[i] == e:
                pts[r:r + leaves[i].shape[0]] = leaves[i]
                r += leaves[i].shape[0]
        if P.shape[1] == 1:
            out.append(np.array([[pts[:, 0].min()], [pts[:, 0].max()]]))
        else:
            out.append(_hull(pts))
    return out, out_winners


@njit(cache=True)
def argmax_pieces(P, Z, tol):
    """:func:`argmax_list` as (flat vertices, offsets, winners)."""
    out, out_winners = argmax_list(P, Z, tol)
    flat, offsets = flatten_pieces(out, P.shape[1])
    wins = np.empty(len(out_winners), dtype=np.int64)
    for i in range(len(out_winners)):
        wins[i] = out_winners[i]
    return flat, offsets, wins


@njit(cache=True)
def pool_pieces(P, X, win_flat, win_offsets, tols):
    """Cut piece P into the argmax cells of several pooling windows in turn.

    ``X`` ``(n, k + 1)`` are the maps of the pool's input on P; window b holds
    the entries ``win_flat[win_offsets[b]:win_offsets[b + 1]]``.
    """
    pieces = [P]
    for b in range(len(win_offsets) - 1):
        Z = X[win_flat[win_offsets[b]:win_offsets[b + 1]]]
        nxt = [P]
        nxt.pop()
        for Q in pieces:
            cells, _ = argmax_list(Q, Z, tols[b])
            for C in cells:
                nxt.append(C)
        pieces = nxt
    return flatten_pieces(pieces, P.shape[1])


def unflatten(flat, offsets) -> list:
    """The pieces of a ``(flat, offsets)`` pair, as views."""
    return [flat[offsets[i]:offsets[i + 1]] for i in range(len(offsets) - 1)]


__all__ = ["split", "area", "values", "relu_pieces", "argmax_pieces", "pool_pieces", "unflatten"]

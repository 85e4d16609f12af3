"""Compiled (numba) loops of the certified forward pass (see :mod:`ilpregions.backends.slicing.certify`).

Tensors are held transposed, ``(n, P)`` (one row per entry, one column per
point), so the innermost loops run over contiguous points and vectorise.
Each loop fuses what numpy did in several passes: a sparse affine op's value,
its propagated error and its rounding term come from one pass over the
matrix's non-zeros, and ReLU / max-pool decisions are checked against the
error bounds in place. The loops release the GIL (``nogil``): the
certification runs them on parts of the points in threads.
"""

from __future__ import annotations

import numpy as np
from ilpregions.core.numba_cache import njit


@njit(cache=True, nogil=True)
def affine_bounded(indptr, indices, data, b, g, V, E, inflate):
    """``y = A v + b`` for every column of V (A in CSR form) and its error bound.

    ``ey = inflate * (|A| e + g (|A| |v| + |b|))``, and exactly 0 where every
    product ``a_ij v_j`` and ``a_ij e_j`` is zero (the sum is then b, exact).
    """
    P = V.shape[1]
    n = len(indptr) - 1
    absV = np.abs(V)
    Y = np.empty((n, P))
    EY = np.empty((n, P))
    prop = np.empty(P)
    terms = np.empty(P)
    for r in range(n):
        Y[r, :] = b[r]
        prop[:] = 0.0
        terms[:] = 0.0
        for q in range(indptr[r], indptr[r + 1]):
            a, j = data[q], indices[q]
            aa = abs(a)
            for p in range(P):
                Y[r, p] += a * V[j, p]
                prop[p] += aa * E[j, p]
                terms[p] += aa * absV[j, p]
        ab = abs(b[r])
        for p in range(P):
            if prop[p] == 0.0 and terms[p] == 0.0:
                EY[r, p] = 0.0
            else:
                EY[r, p] = inflate * (prop[p] + g * (terms[p] + ab))
    return Y, EY


@njit(cache=True, nogil=True)
def relu_bounded(V, E, certified, slope, g1, inflate):
    """Patterns, outputs and errors of a (leaky) ReLU; clears ``certified[p]`` where a sign is not sure.

    Off entries are ``slope * v``: one rounding, so the error is ``|slope| e + g1 |slope v|`` (inflated).
    """
    n, P = V.shape
    codes = np.empty((n, P), dtype=np.int16)
    Y = np.empty((n, P))
    EY = np.empty((n, P))
    for j in range(n):
        for p in range(P):
            v, e = V[j, p], E[j, p]
            if not (abs(v) > e or (v == 0.0 and e == 0.0)):
                certified[p] = False
            on = v > 0
            codes[j, p] = on
            if on:
                Y[j, p] = v
                EY[j, p] = e
            elif slope == 0.0:
                Y[j, p] = 0.0
                EY[j, p] = 0.0
            else:
                Y[j, p] = slope * v
                EY[j, p] = inflate * (abs(slope) * e + g1 * abs(slope * v))
    return codes, Y, EY


@njit(cache=True, nogil=True)
def pool_bounded(V, E, win_flat, win_offs, certified):
    """Max-pool with error bounds: the first maximal entry wins; it is certified if it beats every
    other entry by more than both errors, or ties only exactly computed entries (exact, as in the exact pass).
    """
    P = V.shape[1]
    nw = len(win_offs) - 1
    codes = np.empty((nw, P), dtype=np.int16)
    Y = np.empty((nw, P))
    EY = np.empty((nw, P))
    for w in range(nw):
        lo, hi = win_offs[w], win_offs[w + 1]
        for p in range(P):
            arg = lo
            for i in range(lo + 1, hi):
                if V[win_flat[i], p] > V[win_flat[arg], p]:
                    arg = i
            top, etop = V[win_flat[arg], p], E[win_flat[arg], p]
            for i in range(lo, hi):
                if i == arg:
                    continue
                v, e = V[win_flat[i], p], E[win_flat[i], p]
                if not (top - etop > v + e or (e == 0.0 and etop == 0.0 and v == top)):
                    certified[p] = False
            Y[w, p] = top
            EY[w, p] = etop
            codes[w, p] = -1 if top == 0.0 else arg - lo
    return codes, Y, EY


__all__ = ["affine_bounded", "relu_bounded", "pool_bounded"]

r"""Small dense linear algebra over GF(2^31 − 1), compiled (numba).

The plan-time work of the DP (what the future can see, step by step) row
reduces a matrix per step. In Python that costs milliseconds per step and
dominated small layers; compiled, microseconds. The pure-Python versions in
:mod:`ilpregions.theory.gfp` stay the reference (the tests compare them).

>>> import numpy as np
>>> A = np.array([[1, 2, 3], [2, 4, 6], [0, 1, 1]], dtype=np.int64)
>>> R, piv = rref(A)
>>> piv.tolist(), R[:2].tolist()
([0, 1], [[1, 0, 1], [0, 1, 1]])
>>> C, dim = visible_rows(np.array([[0, 1, 1]], dtype=np.int64), 0)
>>> C.tolist(), dim
([[1, 0, 0], [0, 2147483646, 1]], 1)
"""

from __future__ import annotations

import numpy as np
from ilpregions.core.numba_cache import njit

from ilpregions.backends.subspace.keys import inv_mod, mul_mod, sub_mod


@njit(cache=True)
def rref(A):
    """The reduced row-echelon form of A mod p (a copy) and the pivot columns of its non-zero rows."""
    R = A.copy()
    rows, cols = R.shape
    piv = np.empty(min(rows, cols), dtype=np.int64)
    top = 0
    for c in range(cols):
        if top == rows:
            break
        k = -1
        for i in range(top, rows):
            if R[i, c] != 0:
                k = i
                break
        if k < 0:
            continue
        for j in range(cols):
            R[top, j], R[k, j] = R[k, j], R[top, j]
        inv = inv_mod(R[top, c])
        for j in range(c, cols):
            R[top, j] = mul_mod(R[top, j], inv)
        for i in range(rows):
            if i != top and R[i, c] != 0:
                f = R[i, c]
                for j in range(c, cols):
                    R[i, j] = sub_mod(R[i, j], mul_mod(f, R[top, j]))
        piv[top] = c
        top += 1
    return R, piv[:top]


@njit(cache=True)
def visible_rows(F, others):
    """Rows C over the last columns of F with ``ker C = W``, and dim W.

    W = (row space of F) ∩ {x : x = 0 on the first ``others`` columns},
    restricted to the remaining columns. In the RREF of F the rows pivoted
    past ``others`` are zero on those columns and span W; C spans the
    annihilator of W (one row per non-pivot column).
    """
    R, piv = rref(F)
    na = F.shape[1] - others
    isp = np.zeros(na, dtype=np.bool_)
    rows = np.empty(na, dtype=np.int64)
    dim = 0
    for t in range(piv.size):
        if piv[t] >= others:
            isp[piv[t] - others] = True
            rows[dim] = t
            dim += 1
    C = np.zeros((na - dim, na), dtype=np.int64)
    k = 0
    for j in range(na):
        if isp[j]:
            continue
        C[k, j] = 1
        for t in range(dim):
            r = rows[t]
            c = piv[r] - others
            v = R[r, others + j]
            if v != 0:
                C[k, c] = sub_mod(0, v)
        k += 1
    return C, dim


@njit(cache=True)
def cut_rows(rows, elements, frame, keep, b):
    """What the future can see from frame i, in frame i+1's columns: ``(C, dim W)``.

    ``rows`` are the later neurons over ``elements`` (sorted); the active
    elements are those of ``frame`` with ``keep >= 0``, which maps them to
    frame i+1's ``b`` columns. C has no rows when W is everything (nothing
    to cut). One compiled call per step: the same steps as
    :func:`visible_rows` after gathering the columns (inactive ones first).
    """
    na = 0
    for j in range(frame.size):
        if keep[j] >= 0:
            na += 1
    act = np.empty(na, dtype=np.int64)
    target = np.empty(na, dtype=np.int64)
    k = 0
    for j in range(frame.size):
        if keep[j] >= 0:
            act[k] = np.searchsorted(elements, frame[j])
            target[k] = keep[j]
            k += 1
    is_active = np.zeros(elements.size, dtype=np.bool_)
    for k in range(na):
        is_active[act[k]] = True
    others = elements.size - na
    F = np.empty((rows.shape[0], elements.size), dtype=np.int64)
    c = 0
    for e in range(elements.size):
        if not is_active[e]:
            for r in range(rows.shape[0]):
                F[r, c] = rows[r, e]
            c += 1
    for k in range(na):
        for r in range(rows.shape[0]):
            F[r, others + k] = rows[r, act[k]]
    C_active, dim = visible_rows(F, others)
    if dim == na:
        return np.zeros((0, b), dtype=np.int64), dim
    C = np.zeros((C_active.shape[0], b), dtype=np.int64)
    for r in range(C_active.shape[0]):
        for k in range(na):
            C[r, target[k]] = C_active[r, k]
    return C, dim


__all__ = ["rref", "visible_rows", "cut_rows"]

"""Certify each piece's activation pattern at one point inside it.

For a point ``c`` of the slice, the input is ``x = origin + basis @ c``
(every float64 is an exact rational). The forward pass runs in float64 with
a rigorous running error bound (Higham, *Accuracy and Stability of Numerical
Algorithms*, §3.1: a dot product of length m is off by at most
``gamma_m * |a| . |x|``, ``gamma_m = m u / (1 - m u)``, ``u = 2**-53``):

* affine ``z = A x + b``: ``err_z <= |A| err_x + gamma_{m+1} (|A| |x| + |b|)``,
  m the most non-zeros in a row;
* a sum whose products are all exactly zero is exactly ``b`` (error 0): this
  happens for pixels that are zero in every anchor point;
* ReLU and max are 1-Lipschitz, so errors pass through unchanged, and a
  decision is *certified* when the computed value clears its error bound
  (``|z| > err_z``, or z is exactly 0; the maximum of a window beats every
  other entry by more than both errors, or ties only exactly computed
  entries, where the first wins, as in the exact pass);
* the bounds themselves are computed in float64 and inflated by ``1 + 1e-6``.

A point where some decision is not certified (a tie of two identical
entries in a pooling window is common: two positions that see only zero
pixels) is re-evaluated in exact dyadic-rational arithmetic
(:mod:`ilpregions.backends.slicing.exact`).
Either way the pattern read there is the true pattern at that exact point, so
a piece whose certified pattern equals the one the propagation gave it is a
genuine, open piece of the slice.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from ilpregions.backends.slicing import cert_kernels as CK
from ilpregions.backends.slicing.engine import window_arrays
from ilpregions.backends.slicing.exact import ExactNet, slice_points
from ilpregions.core.slicenet import SliceNet

U = 2.0 ** -53
INFLATE = 1.0 + 1e-6


def gamma(m: int) -> float:
    return m * U / (1.0 - m * U)


@dataclass(frozen=True)
class Certificate:
    """Counts: certified by error bounds, re-checked exactly, and left unchecked (over the cap)."""

    by_bounds: int
    exact: int
    unchecked: int
    mismatches: tuple[int, ...]

    @property
    def ok(self) -> bool:
        return not self.mismatches and not self.unchecked


def _csr(op):
    """The op's matrix as CSR arrays (dense matrices too: the fused loop needs one layout),
    its constant, and gamma of its longest row plus one (the constant)."""
    A = sp.csr_matrix(op.matrix, dtype=np.float64)
    nnz = int(np.diff(A.indptr).max(initial=0))
    return (A.indptr.astype(np.int64), A.indices.astype(np.int64), np.ascontiguousarray(A.data),
            np.asarray(op.b, dtype=np.float64), gamma(nnz + 1))


def _dense_bounded(op, v, e):
    """A dense affine op by two BLAS products (faster than the fused loop when A is dense).

    ``|A| e + g |A| |v| = |A| (e + g |v|)``: one product of non-negative
    terms, zero exactly when every product ``a_ij v_j`` and ``a_ij e_j`` is
    (no underflow, as in the standard model of the error analysis).
    """
    g = gamma(op.matrix.shape[1] + 1)
    y = op.matrix @ v + op.b[:, None]
    both = np.abs(op.matrix) @ (e + g * np.abs(v))
    ey = INFLATE * (both + g * np.abs(op.b)[:, None])
    ey[both == 0] = 0.0   # every product exactly zero (inputs exactly 0, no error): the sum is b, exactly
    return y, ey


def bounded_forward(net: SliceNet, origin: np.ndarray, basis: np.ndarray, points: np.ndarray):
    """Float patterns at the points, and which rows are certified by the error bounds.

    Internally tensors are ``(n, P)`` (entries by points), see :mod:`._cert_kernels`.
    """
    P = points.shape[0]
    x = origin[:, None] + basis @ points.T
    err = INFLATE * gamma(basis.shape[1] + 1) * (np.abs(origin)[:, None] + np.abs(basis) @ np.abs(points).T)
    values, errs, codes = {0: np.ascontiguousarray(x)}, {0: np.ascontiguousarray(err)}, []
    certified = np.ones(P, dtype=bool)
    for op in net.ops:
        v, e = values[op.inputs[0]], errs[op.inputs[0]]
        if op.kind == "affine" and not sp.issparse(op.matrix):
            y, ey = _dense_bounded(op, v, e)
        elif op.kind == "affine":
            y, ey = CK.affine_bounded(*_csr(op), v, e, INFLATE)
        elif op.kind == "add":
            y = v + values[op.inputs[1]]
            ey = INFLATE * (e + errs[op.inputs[1]] + gamma(1) * np.abs(y))
        elif op.kind == "relu":
            c, y, ey = CK.relu_bounded(v, e, certified, op.slope, gamma(1), INFLATE)
            codes.append(c)
        else:
            c, y, ey = CK.pool_bounded(v, e, *window_arrays(op.windows), certified)
            codes.append(c)
        values[op.output], errs[op.output] = np.ascontiguousarray(y), np.ascontiguousarray(ey)
    return (np.concatenate(codes, axis=0).T if codes else np.zeros((P, 0), np.int16)), certified


#: Threads of the certified forward pass (points split evenly; its loops release the GIL).
THREADS = min(2, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)


def _bounded_forward_threads(net, origin, basis, points):
    if THREADS < 2 or len(points) < 512:
        return bounded_forward(net, origin, basis, points)
    from concurrent.futures import ThreadPoolExecutor

    parts = np.array_split(points, THREADS)
    with ThreadPoolExecutor(THREADS) as pool:
        done = list(pool.map(lambda part: bounded_forward(net, origin, basis, part), parts))
    return np.concatenate([d[0] for d in done]), np.concatenate([d[1] for d in done])


def certify(net: SliceNet, origin: np.ndarray, basis: np.ndarray, points: np.ndarray,
            codes: np.ndarray, max_exact: int = 5000) -> Certificate:
    """Check that ``codes[i]`` is the true pattern at ``points[i]`` for every piece."""
    if len(points) == 0:
        return Certificate(0, 0, 0, ())
    found, certified = _bounded_forward_threads(net, origin, basis, points)
    mismatches = [int(i) for i in np.flatnonzero(certified & (found != codes).any(axis=1))]
    todo = np.flatnonzero(~certified)[:max_exact]
    if len(todo):
        X, ex = slice_points(origin, basis, points[todo])
        exact = ExactNet(net).patterns(X, ex)
        mismatches += [int(i) for i in todo[(exact != codes[todo]).any(axis=1)]]
    unchecked = int((~certified).sum()) - len(todo)
    return Certificate(int(certified.sum()), len(todo), unchecked, tuple(sorted(mismatches)))


__all__ = ["Certificate", "certify", "bounded_forward", "gamma"]

"""Exact forward passes in integer arithmetic: every float64 is a dyadic rational ``m * 2**e``.

Weights, biases and points are float64, so each is exactly an integer times
a power of two, and a forward pass (sums, products, max, ReLU) never leaves
the dyadic rationals. A tensor is held as Python integers (a numpy object
array) with one shared exponent; this is exact and far faster than
:class:`fractions.Fraction` (no gcd, no division).

Examples
--------
>>> v, e = to_dyadic(np.array([0.75, -2.0, 0.0]))
>>> [int(t) for t in v], e, [t * 2.0 ** e for t in v]
([3, -8, 0], -2, [0.75, -2.0, 0.0])
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from ilpregions.core.slicenet import SliceNet


def to_dyadic(a: np.ndarray) -> tuple[np.ndarray, int]:
    """Integers (object array, same shape) and one exponent E with ``a == ints * 2**E`` exactly."""
    a = np.asarray(a, dtype=np.float64)
    m, e = np.frexp(a)
    mant = (m * 2.0 ** 53).astype(np.int64)          # exact: |m| < 1
    expo = e.astype(np.int64) - 53
    nonzero = mant != 0
    # strip trailing zero bits, so the integers stay small
    low = np.where(nonzero, mant & -mant, 1)
    tz = np.log2(low.astype(np.float64)).astype(np.int64)  # exact: low is a power of two
    mant, expo = mant >> tz, expo + tz
    E = int(expo[nonzero].min()) if nonzero.any() else 0
    shifts = np.where(nonzero, expo - E, 0)
    out = np.empty(a.shape, dtype=object)
    out.reshape(-1)[:] = [mm << ss for mm, ss in zip(mant.ravel().tolist(), shifts.ravel().tolist())]
    return out, E


def _align(a: np.ndarray, ea: int, b: np.ndarray, eb: int):
    e = min(ea, eb)
    return a * (1 << (ea - e)), b * (1 << (eb - e)), e


class ExactNet:
    """A :class:`SliceNet` with integer weights, for exact patterns at many points at once."""

    def __init__(self, net: SliceNet):
        self.net = net
        self.ops = []
        for op in net.ops:
            if op.kind != "affine":
                self.ops.append(None)
                continue
            A = sp.csr_matrix(op.matrix)
            data, ea = to_dyadic(A.data)
            b, eb = to_dyadic(op.b)
            self.ops.append((A.indptr, A.indices, data, ea, b, eb))

    def _affine(self, spec, X: np.ndarray, ex: int):
        indptr, indices, data, ea, b, eb = spec
        n_out = len(indptr) - 1
        Z = np.empty((X.shape[0], n_out), dtype=object)
        for r in range(n_out):
            lo, hi = indptr[r], indptr[r + 1]
            if hi > lo:
                Z[:, r] = (X[:, indices[lo:hi]] * data[lo:hi]).sum(axis=1)
            else:
                Z[:, r] = 0
        Z, bb, e = _align(Z, ea + ex, b[None, :], eb)
        return Z + bb, e

    @staticmethod
    def _relu(slope: float, V: np.ndarray, ev: int, positive: np.ndarray):
        if slope == 0.0:
            return np.where(positive, V, 0), ev
        s, es = to_dyadic(np.array([slope]))   # leaky: off entries times the slope, exactly
        on, off, e = _align(np.where(positive, V, 0), ev, np.where(positive, 0, V) * s[0], ev + es)
        return on + off, e

    def patterns(self, X: np.ndarray, ex: int) -> np.ndarray:
        """Exact activation patterns of the input rows ``X * 2**ex`` (X: object ints)."""
        values = {0: (X, ex)}
        codes = []
        for op, spec in zip(self.net.ops, self.ops):
            V, ev = values[op.inputs[0]]
            if op.kind == "affine":
                values[op.output] = self._affine(spec, V, ev)
            elif op.kind == "relu":
                positive = V > 0
                codes.append(positive.astype(np.int16))
                values[op.output] = self._relu(op.slope, V, ev, positive)
            elif op.kind == "add":
                W, ew = values[op.inputs[1]]
                a, b, e = _align(V, ev, W, ew)
                values[op.output] = (a + b, e)
            else:
                out = np.empty((V.shape[0], len(op.windows)), dtype=object)
                c = np.empty((V.shape[0], len(op.windows)), dtype=np.int16)
                rows = np.arange(V.shape[0])
                for j, win in enumerate(op.windows):
                    vals = V[:, win]
                    arg = np.array([max(range(len(win)), key=lambda k, r=r: (vals[r, k], -k))
                                    for r in range(V.shape[0])], dtype=np.int64)
                    out[:, j] = vals[rows, arg]
                    c[:, j] = np.where(out[:, j] == 0, -1, arg)
                codes.append(c)
                values[op.output] = (out, ev)
        return np.concatenate(codes, axis=1) if codes else np.zeros((X.shape[0], 0), np.int16)


def slice_points(origin: np.ndarray, basis: np.ndarray, C: np.ndarray) -> tuple[np.ndarray, int]:
    """The exact inputs ``origin + basis @ c`` for the rows c of C, as integers and one exponent."""
    o, eo = to_dyadic(origin)
    B, eb = to_dyadic(basis)
    Ci, ec = to_dyadic(C)
    X = Ci @ B.T                                         # (P, n), exponent ec + eb
    X, O, e = _align(X, ec + eb, o[None, :], eo)
    return X + O, e


__all__ = ["to_dyadic", "ExactNet", "slice_points"]

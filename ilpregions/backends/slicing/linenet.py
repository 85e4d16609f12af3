"""The line engine's prepared network, and its batched forward pass with rigorous error bounds.

:func:`prepare` turns a :class:`~ilpregions.core.slicenet.SliceNet` into a
:class:`LineNet` once: each affine op as the arrays the compiled change
kernels read (a convolution by its transposed weights, any other matrix in
CSC form) and as what a batched dense pass needs (torch's convolution for a
convolution, the matrix otherwise). A LineNet is cheap to reuse for many
segments.

:func:`dense_pass` evaluates, at several points ``t`` of the line
``x(t) = origin + t * direction`` at once, every tensor's value and slope
(the derivative along the line) with the activation pattern either read off
(the lexicographic sign of value, then slope: the pattern just after ``t``)
or given, together with rigorous bounds on both errors (Higham, *Accuracy
and Stability of Numerical Algorithms*, §3.1: a sum of m products is off by
at most ``gamma_m`` times the sum of their absolute values, in any order of
summation). These bounds start the sweep and re-check single pieces.

Examples
--------
>>> from ilpregions.core.spec import Network, DenseLayer
>>> from ilpregions.core.slicenet import from_spec
>>> from ilpregions.core.forward import he_normal_weights
>>> spec = Network((2,), (DenseLayer(3), DenseLayer(2)))
>>> net = prepare(from_spec(spec, he_normal_weights(spec, 0)))
>>> [op.kind for op in net.ops], net.decisions
(['matrix', 'relu', 'matrix', 'relu'], 5)
>>> p = dense_pass(net, np.array([-2.0, -2.0]), np.array([4.0, 4.0]), np.array([0.5]))
>>> bool(np.all(p.values[net.output][:, 0] >= 0))
True
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from ilpregions.backends.slicing.certify import INFLATE, U, gamma   # the same constants as the polygon engine
from ilpregions.core.errors import InputError, TooLargeError



@dataclass(frozen=True)
class LineOp:
    """One op of a :class:`LineNet` (kinds: conv, matrix, relu, add)."""

    kind: str
    inputs: tuple[int, ...]
    output: int
    where: str
    b: np.ndarray | None = field(default=None, repr=False)
    gamma: float = 0.0                   # affine: gamma of (most products in a row) + 1
    geom: np.ndarray | None = field(default=None, repr=False)   # conv: shapes, kernel, stride, pad, dilation
    Wt: np.ndarray | None = field(default=None, repr=False)     # conv: flat (C_in, kd, kh, kw, C_out / groups)
    Wmax: np.ndarray | None = field(default=None, repr=False)   # conv: max |Wt| over the output channels
    taps: np.ndarray | None = field(default=None, repr=False)   # conv: see :func:`conv_taps`
    Wa: np.ndarray | None = field(default=None, repr=False)     # matrix: |data|
    conv: object = field(default=None, repr=False)              # the ConvSpec (dense passes)
    csc: tuple | None = field(default=None, repr=False)         # matrix: (indptr, indices, data)
    A: object = field(default=None, repr=False)                 # matrix: CSR or dense (dense passes)
    slope: float = 0.0                   # relu: the slope where x <= 0
    offset: int = 0                      # relu: index of its first decision in the whole pattern


@dataclass(frozen=True)
class LineNet:
    """A network prepared for the line engine; ``gamma_path`` bounds the relative rounding of a change
    carried along any path (the sum of every affine op's gamma)."""

    ops: tuple[LineOp, ...]
    sizes: tuple[int, ...]
    output: int
    decisions: int
    gamma_path: float
    nbytes: int
    source: object = field(repr=False, compare=False, default=None)   # the SliceNet

    @property
    def input_size(self) -> int:
        return self.sizes[0]

    def tracked(self) -> list[int]:
        """Tensors whose per-entry state the sweep keeps: every ReLU input, and the output."""
        found = [op.inputs[0] for op in self.ops if op.kind == "relu"]
        return sorted(set(found) | {self.output})

    def last_use(self) -> dict[int, int]:
        last = {self.output: len(self.ops)}
        for i, op in enumerate(self.ops):
            for t in op.inputs:
                last[t] = max(last.get(t, -1), i)
        return last


def _geom(spec) -> np.ndarray:
    """(C_in, D, H, W, C_out, D', H', W', kd, kh, kw, stride x3, padding x3, dilation x3, groups), 1-D and
    2-D convolutions padded to 3-D with leading unit axes."""
    axes = len(spec.in_shape) - 1
    if axes > 3:
        raise InputError(f"convolution over {axes} axes: at most 3 are supported")

    def pad(v, fill):
        return (fill,) * (3 - axes) + tuple(int(x) for x in v)

    return np.array([spec.in_shape[0], *pad(spec.in_shape[1:], 1), spec.out_shape[0], *pad(spec.out_shape[1:], 1),
                     *pad(spec.weight.shape[2:], 1), *pad(spec.stride, 1), *pad(spec.padding, 0),
                     *pad(spec.dilation, 1), spec.groups], dtype=np.int64)


def conv_taps(geom: np.ndarray) -> np.ndarray:
    """``taps[axis, x, i] = (kernel offset, output coordinate)``: the i-th way input coordinate x reaches an
    output along that axis (``(-1, -1)`` after the last), for the change kernels.

    >>> conv_taps(np.array([1, 1, 1, 3, 1, 1, 1, 3, 1, 1, 2, 1, 1, 1, 0, 0, 0, 1, 1, 1, 1]))[2, :, :, 0].tolist()
    [[0, -1], [0, 1], [0, 1]]
    """
    sizes_in, sizes_out, kernel = geom[1:4], geom[5:8], geom[8:11]
    stride, pad, dil = geom[11:14], geom[14:17], geom[17:20]
    width = int(kernel.max())
    taps = np.full((3, int(sizes_in.max()), width, 2), -1, dtype=np.int64)
    for axis in range(3):
        for x in range(sizes_in[axis]):
            found = 0
            for c in range(kernel[axis]):
                num = x + pad[axis] - c * dil[axis]
                if num >= 0 and num % stride[axis] == 0 and num // stride[axis] < sizes_out[axis]:
                    taps[axis, x, found] = (c, num // stride[axis])
                    found += 1
    return taps


def _conv_op(op) -> LineOp:
    spec = op.conv
    g = _geom(spec)
    c_in, groups = int(g[0]), int(g[-1])
    w = spec.weight.reshape(spec.weight.shape[0], spec.weight.shape[1], *g[8:11])
    cog = w.shape[0] // groups
    # Wt[ci, a, b, c, col] = w[g * cog + col, ci - g * cig, a, b, c]: the changed input's fan-out, contiguous
    Wt = np.empty((c_in, *w.shape[2:], cog))
    cig = c_in // groups
    for gi in range(groups):
        Wt[gi * cig:(gi + 1) * cig] = np.moveaxis(w[gi * cog:(gi + 1) * cog], 0, -1)
    return LineOp("conv", op.inputs, op.output, op.where, b=op.b, gamma=gamma(spec.fan_in + 1), geom=g,
                  Wt=np.ascontiguousarray(Wt).reshape(-1), Wmax=np.ascontiguousarray(np.abs(Wt).max(axis=-1)).reshape(-1),
                  taps=conv_taps(g), conv=spec)


def _matrix_op(op) -> LineOp:
    A = op.matrix
    csc = sp.csc_matrix(A, dtype=np.float64)
    csc.sort_indices()
    rows = np.diff(sp.csr_matrix(A).indptr) if sp.issparse(A) else np.full(A.shape[0], A.shape[1])
    return LineOp("matrix", op.inputs, op.output, op.where, b=op.b, gamma=gamma(int(rows.max(initial=0)) + 1),
                  csc=(csc.indptr.astype(np.int64), csc.indices.astype(np.int64), csc.data),
                  Wa=np.abs(csc.data), A=A)


def prepared_bytes(net) -> int:
    """Bytes :func:`prepare` allocates for ``net`` (a SliceNet), by arithmetic, before building anything."""
    total = 0
    for op in net.ops:
        if op.kind == "affine" and op.conv is not None:
            total += 2 * op.conv.weight.size * 8
        elif op.kind == "affine":
            A = op.A if op.A is not None else None
            nnz = A.nnz if sp.issparse(A) else A.size
            total += nnz * (8 * 3 + 8) + (A.shape[1] + 1) * 8
    return total


def prepare(net, memory_cap: int | None = None) -> LineNet:
    """The :class:`LineNet` of a SliceNet (max-pooling is not supported by the line engine).

    Raises
    ------
    InputError
        The network has a max-pooling op.
    TooLargeError
        The prepared arrays would exceed ``memory_cap`` bytes.
    """
    need = prepared_bytes(net)
    if memory_cap is not None and need > memory_cap:
        raise TooLargeError(f"memory_cap: the line engine's copy of the weights needs {need} bytes, "
                            f"over the cap of {memory_cap}")
    ops, decisions, gam = [], 0, 0.0
    for op in net.ops:
        if op.kind == "affine":
            lop = _conv_op(op) if op.conv is not None else _matrix_op(op)
            gam += lop.gamma
        elif op.kind == "relu":
            lop = LineOp("relu", op.inputs, op.output, op.where, slope=op.slope, offset=decisions)
            decisions += net.sizes[op.output]
        elif op.kind == "add":
            lop = LineOp("add", op.inputs, op.output, op.where)
        else:
            raise InputError(f"{op.where}: the line engine does not handle max-pooling")
        ops.append(lop)
    return LineNet(tuple(ops), tuple(net.sizes), net.output, decisions, gam * 1.01, need, net)


def affine_dense(op: LineOp, X: np.ndarray, absolute: bool = False) -> np.ndarray:
    """``W @ X`` (or ``|W| @ X``) for the columns of X ``(n_in, P)``, without the constant."""
    if op.kind == "matrix":
        A = abs(op.A) if absolute else op.A
        return np.asarray(A @ X)
    import torch
    import torch.nn.functional as F

    spec = op.conv
    P = X.shape[1]
    x = torch.from_numpy(np.ascontiguousarray(X.T)).view(P, *spec.in_shape)
    w = torch.from_numpy(np.abs(spec.weight) if absolute else spec.weight)
    conv = (F.conv1d, F.conv2d, F.conv3d)[len(spec.in_shape) - 2]
    with torch.no_grad():
        y = conv(x, w, None, spec.stride, spec.padding, spec.dilation, spec.groups)
    return np.ascontiguousarray(y.reshape(P, -1).numpy().T)


def _affine_bounded(op, V, S, EV, ES):
    g = op.gamma
    v = affine_dense(op, np.concatenate([V, S], axis=1))
    a = affine_dense(op, np.concatenate([EV + g * np.abs(V), ES + g * np.abs(S)], axis=1), absolute=True)
    P = V.shape[1]
    av, as_ = a[:, :P], a[:, P:]
    b = op.b[:, None]
    ev = INFLATE * (av + g * np.abs(b))
    ev[av == 0] = 0.0      # every product exactly zero, no error in: the sum is b, exactly
    return v[:, :P] + b, v[:, P:], ev, INFLATE * as_


@dataclass
class DensePass:
    """Values, slopes and their error bounds per tensor ``(n, P)``; ``masks[t]`` per ReLU input tensor."""

    values: dict
    slopes: dict
    err_values: dict
    err_slopes: dict
    masks: dict


def dense_pass(net: LineNet, origin: np.ndarray, direction: np.ndarray, ts: np.ndarray,
               masks: dict | None = None, keep: set | None = None) -> DensePass:
    """Every tensor at the points ``origin + t * direction`` (t in ``ts``), with error bounds.

    The pattern is read off (value, then slope: the pattern just after t) or,
    when ``masks`` (ReLU input tensor -> bool ``(n, P)``) is given, fixed to
    it: then the values are those of that pattern's affine map, wherever t is.
    Only the tensors in ``keep`` (default: the tracked ones) are returned.
    """
    ts = np.asarray(ts, dtype=np.float64)
    keep = set(net.tracked()) if keep is None else keep
    tD = direction[:, None] * ts[None, :]
    V = {0: origin[:, None] + tD}
    EV = {0: INFLATE * gamma(2) * (np.abs(origin)[:, None] + np.abs(tD))}
    S = {0: np.repeat(direction[:, None], len(ts), axis=1)}
    ES = {0: np.zeros_like(S[0])}
    out_masks, last = {}, net.last_use()
    for i, op in enumerate(net.ops):
        x = op.inputs[0]
        if op.kind in ("conv", "matrix"):
            y = _affine_bounded(op, V[x], S[x], EV[x], ES[x])
        elif op.kind == "add":
            z = op.inputs[1]
            v, s = V[x] + V[z], S[x] + S[z]
            y = v, s, INFLATE * (EV[x] + EV[z] + U * np.abs(v)), INFLATE * (ES[x] + ES[z] + U * np.abs(s))
        else:
            on = (V[x] > 0) | ((V[x] == 0) & (S[x] > 0)) if masks is None else masks[x]
            out_masks[x] = on
            gain = np.where(on, 1.0, op.slope)
            v, s = V[x] * gain, S[x] * gain
            lin = gamma(1) if op.slope else 0.0
            y = v, s, INFLATE * (np.abs(gain) * EV[x] + lin * np.abs(v)), INFLATE * (np.abs(gain) * ES[x] + lin * np.abs(s))
        V[op.output], S[op.output], EV[op.output], ES[op.output] = y
        for t in list(V):
            if t not in keep and last.get(t, -1) <= i:
                del V[t], S[t], EV[t], ES[t]
    return DensePass({t: V[t] for t in keep}, {t: S[t] for t in keep}, {t: EV[t] for t in keep},
                     {t: ES[t] for t in keep}, out_masks)


def dense_pass_bytes(net: LineNet, points: int) -> int:
    """Peak bytes of :func:`dense_pass` at ``points`` points, by arithmetic: four arrays per kept tensor,
    a dozen of the widest tensor's (its inputs and outputs, values and bounds, with their temporaries)
    and a convolution's unfolded input (torch's float64 convolution), for two columns and their bounds."""
    tracked = sum(net.sizes[t] for t in net.tracked())
    unfolded = max((op.conv.fan_in * math.prod(op.conv.out_shape[1:]) for op in net.ops if op.kind == "conv"),
                   default=0)
    return 8 * points * (4 * tracked + 12 * max(net.sizes) + 4 * unfolded)


__all__ = ["LineOp", "LineNet", "prepare", "prepared_bytes", "dense_pass", "dense_pass_bytes", "DensePass",
           "affine_dense", "gamma", "U", "INFLATE"]

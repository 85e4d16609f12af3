"""A piecewise-linear network as a small graph of flat numpy operations.

Both the spec path (a TOML :class:`~ilpregions.core.spec.Network` with
weights) and the PyTorch path (an ``nn.Module`` traced by ``torch.fx``) are
turned into a :class:`SliceNet`: tensors are flat float64 vectors numbered
from 0 (the input), and each :class:`Op` reads tensors and writes one:

=========  ===========================================================
kind       meaning
=========  ===========================================================
affine     ``out = A @ x + b`` (conv, dense, BatchNorm, average pooling,
           flatten/reshape: anything affine, as a dense or sparse matrix;
           a convolution may instead keep its weights (:class:`ConvSpec`),
           its matrix then built only when an engine asks for it)
relu       ``out = x if x > 0 else slope * x`` (ReLU: slope 0; leaky ReLU);
           one decision per entry (active or not)
maxpool    ``out[j] = max(x[windows[j]])``; one decision per window
add        ``out = x + y`` (residual connections)
=========  ===========================================================

An *activation pattern* is the list of all decisions: 1/0 per ReLU entry,
and per pooling window the index (inside the window) of the maximal entry,
or -1 when the maximum is an entry that is identically zero (a window whose
ReLU inputs are all inactive makes no choice).

Examples
--------
>>> from ilpregions.core.spec import Network, ConvLayer, MaxPoolLayer
>>> net = from_spec(Network((4, 1), (ConvLayer(1, 2), MaxPoolLayer(2, 1))),
...                 {"layers.0.weight": np.array([[[1.0], [-1.0]]]), "layers.0.bias": np.array([0.0])})
>>> [op.kind for op in net.ops]
['affine', 'relu', 'maxpool']
>>> codes, out = evaluate(net, np.array([[3.0, 1.0, 2.0, 0.0]]))
>>> codes.tolist(), out.tolist()
([[1, 0, 1, 0, 1]], [[2.0, 2.0]])
"""

from __future__ import annotations

import functools
import itertools
import math
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Mapping

import numpy as np
import scipy.sparse as sp

from ilpregions.core.errors import InputError, TooLargeError

#: Largest dense matrix (entries) an affine op may hold: 160 MB of float64.
MAX_MATRIX_ENTRIES = 20_000_000


@dataclass(frozen=True)
class ConvSpec:
    """A zero-padded convolution by its weights: ``weight`` is (C_out, C_in / groups, *kernel), float64.

    Shapes are torch's, without the batch axis (channels first); the flat
    index of an entry is its position in that order.
    """

    weight: np.ndarray = field(repr=False)
    stride: tuple[int, ...]
    padding: tuple[int, ...]
    dilation: tuple[int, ...]
    groups: int
    in_shape: tuple[int, ...]
    out_shape: tuple[int, ...]

    @property
    def fan_in(self) -> int:
        """Products per output entry, at most (a row's non-zeros)."""
        return int(np.prod(self.weight.shape[1:]))

    @property
    def nnz_bound(self) -> int:
        """Non-zeros of its matrix, at most."""
        return math.prod(self.out_shape) * self.fan_in


def conv_matrix(spec: ConvSpec, where: str):
    """The CSR matrix of a :class:`ConvSpec` (each entry one weight), from index arithmetic.

    >>> w = np.array([[[1.0, 2.0]]])
    >>> conv_matrix(ConvSpec(w, (1,), (1,), (1,), 1, (1, 2), (1, 3)), "c").toarray().tolist()
    [[2.0, 0.0], [1.0, 2.0], [0.0, 1.0]]
    """
    if spec.nnz_bound > MAX_MATRIX_ENTRIES:
        raise TooLargeError(f"{where}: its matrix has up to {spec.nnz_bound} non-zeros "
                            f"(limit {MAX_MATRIX_ENTRIES})")
    c_out, c_in = spec.out_shape[0], spec.in_shape[0]
    s_in, s_out = spec.in_shape[1:], spec.out_shape[1:]
    cog, cig = c_out // spec.groups, c_in // spec.groups
    out_pos = np.indices(s_out).reshape(len(s_out), -1)             # (axes, positions)
    rows, cols, vals = [], [], []
    for off in itertools.product(*(range(k) for k in spec.weight.shape[2:])):
        coords = [out_pos[a] * spec.stride[a] - spec.padding[a] + off[a] * spec.dilation[a] for a in range(len(off))]
        ok = np.all([(c >= 0) & (c < n) for c, n in zip(coords, s_in)], axis=0)
        p_out = np.flatnonzero(ok)
        p_in = np.ravel_multi_index([c[ok] for c in coords], s_in) if len(s_in) else np.zeros(1, np.int64)
        for g in range(spec.groups):
            w = spec.weight[g * cog:(g + 1) * cog, :, *off]                # (cog, cig)
            co, ci = np.nonzero(w)
            rows.append(((g * cog + co)[:, None] * len(out_pos[0]) + p_out[None, :]).ravel())
            cols.append(((g * cig + ci)[:, None] * math.prod(s_in) + p_in[None, :]).ravel())
            vals.append(np.repeat(w[co, ci], len(p_out)))
    shape = (math.prod(spec.out_shape), math.prod(spec.in_shape))
    A = sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=shape)
    A.sort_indices()            # canonical order, as a matrix built row by row has: products read in order
    return A


@dataclass(frozen=True)
class Op:
    """One operation; ``where`` names it for messages (layer index or module path)."""

    kind: str
    inputs: tuple[int, ...]
    output: int
    where: str
    A: object = field(default=None, compare=False, repr=False)  # ndarray or scipy CSR (None: see conv)
    b: np.ndarray | None = field(default=None, compare=False, repr=False)
    windows: tuple[np.ndarray, ...] | None = field(default=None, compare=False, repr=False)
    slope: float = 0.0  # relu only: the slope where x <= 0 (leaky ReLU); 0 for ReLU
    conv: ConvSpec | None = field(default=None, compare=False, repr=False)

    @functools.cached_property
    def matrix(self):
        """An affine op's matrix: ``A``, or its convolution's matrix built on first use."""
        return self.A if self.A is not None else as_matrix(conv_matrix(self.conv, self.where), self.where)


@dataclass(frozen=True)
class SliceNet:
    """A network as flat operations. ``sizes[t]`` is the length of tensor ``t``."""

    input_shape: tuple[int, ...]
    sizes: tuple[int, ...]
    ops: tuple[Op, ...]
    output: int
    layout: str = "channels-last"

    @property
    def input_size(self) -> int:
        return self.sizes[0]

    def decision_sizes(self) -> list[int]:
        """Decisions per decision op (relu, maxpool), in order."""
        return [self.sizes[op.output] if op.kind == "relu" else len(op.windows)
                for op in self.ops if op.kind in ("relu", "maxpool")]

    def last_use(self) -> dict[int, int]:
        """For each tensor, the index of the last op that reads it (the output: len(ops))."""
        last = {self.output: len(self.ops)}
        for i, op in enumerate(self.ops):
            for t in op.inputs:
                last[t] = max(last.get(t, -1), i)
        return last


class Builder:
    def __init__(self, input_shape, layout):
        self.input_shape = tuple(int(v) for v in input_shape)
        self.sizes = [int(np.prod(self.input_shape))]
        self.ops: list[Op] = []
        self.layout = layout

    def new(self, size: int) -> int:
        self.sizes.append(int(size))
        return len(self.sizes) - 1

    def affine(self, x: int, A, b, where: str) -> int:
        A = as_matrix(A, where)
        if A.shape[1] != self.sizes[x]:
            raise InputError(f"{where}: matrix has {A.shape[1]} columns but its input has {self.sizes[x]}")
        out = self.new(A.shape[0])
        self.ops.append(Op("affine", (x,), out, where, A=A, b=np.asarray(b, dtype=np.float64)))
        return out

    def conv(self, x: int, spec: ConvSpec, b, where: str) -> int:
        """A convolution kept as its weights (its matrix is built only if an engine needs it)."""
        if math.prod(spec.in_shape) != self.sizes[x]:
            raise InputError(f"{where}: the convolution reads {math.prod(spec.in_shape)} entries but its input "
                             f"has {self.sizes[x]}")
        out = self.new(math.prod(spec.out_shape))
        self.ops.append(Op("affine", (x,), out, where, b=np.asarray(b, dtype=np.float64), conv=spec))
        return out

    def relu(self, x: int, where: str, slope: float = 0.0) -> int:
        if not np.isfinite(slope):
            raise InputError(f"{where}: the negative slope must be finite, got {slope}")
        out = self.new(self.sizes[x])
        self.ops.append(Op("relu", (x,), out, where, slope=float(slope)))
        return out

    def maxpool(self, x: int, windows, where: str) -> int:
        out = self.new(len(windows))
        self.ops.append(Op("maxpool", (x,), out, where, windows=tuple(np.asarray(w, dtype=np.int64)
                                                                     for w in windows)))
        return out

    def add(self, x: int, y: int, where: str) -> int:
        if self.sizes[x] != self.sizes[y]:
            raise InputError(f"{where}: adds tensors of {self.sizes[x]} and {self.sizes[y]} entries")
        out = self.new(self.sizes[x])
        self.ops.append(Op("add", (x, y), out, where))
        return out

    def build(self, output: int) -> SliceNet:
        return SliceNet(self.input_shape, tuple(self.sizes), tuple(self.ops), output, self.layout)


def as_matrix(A, where: str):
    """A float64 matrix, kept sparse (CSR) when at most a quarter of it is non-zero."""
    if sp.issparse(A):
        A = sp.csr_matrix(A, dtype=np.float64)
        if A.nnz * 4 >= A.shape[0] * A.shape[1]:
            return A.toarray()
        return A
    A = np.asarray(A, dtype=np.float64)
    if A.size > MAX_MATRIX_ENTRIES:
        raise TooLargeError(f"{where}: a {A.shape[0]} x {A.shape[1]} matrix is too large "
                            f"(limit {MAX_MATRIX_ENTRIES} entries)")
    if np.count_nonzero(A) * 4 < A.size:
        return sp.csr_matrix(A)
    return A


def from_spec(network, weights: Mapping[str, np.ndarray]) -> SliceNet:
    """A :class:`SliceNet` of a spec network with concrete weights.

    Every conv, local and dense layer becomes an affine op followed by a ReLU;
    max-pool layers become max-pool ops.

    Parameters
    ----------
    network : Network
        The architecture.
    weights : mapping of str to ndarray
        One array per parameter, named as :func:`ilpregions.core.forward.he_normal_weights`
        names them (``layers.<i>.weight``, ``layers.<i>.bias``).

    Returns
    -------
    SliceNet
        The network as flat float64 operations.

    Raises
    ------
    InputError
        An array is missing, unknown, of the wrong shape or not real.
    TooLargeError
        A layer's matrix would exceed ``MAX_MATRIX_ENTRIES`` entries.

    Examples
    --------
    >>> from ilpregions.core.spec import DenseLayer, Network
    >>> w = {"layers.0.weight": np.array([[1.0, -1.0]]), "layers.0.bias": np.array([0.5])}
    >>> net = from_spec(Network((2,), (DenseLayer(1),)), w)
    >>> [op.kind for op in net.ops], net.sizes
    (['affine', 'relu'], (2, 1, 1))
    """
    from ilpregions.core.forward import check_weights, stages

    sizes = [int(np.prod(s)) for s in network.input_shapes()] + [int(np.prod(network.output_shapes()[-1]))]
    for i, (layer, n_in, n_out) in enumerate(zip(network.layers, sizes, sizes[1:])):
        if layer.type != "maxpool" and n_in * n_out > MAX_MATRIX_ENTRIES:
            raise TooLargeError(f"layers[{i}]: its {n_out} x {n_in} matrix is too large "
                                f"(limit {MAX_MATRIX_ENTRIES} entries)")
    weights = check_weights(network, weights)
    b = Builder(network.input_shape, "channels-last")
    x = 0
    for st in stages(network, weights):
        where = f"layers[{st.index}]"
        if st.kind == "relu":
            x = b.relu(b.affine(x, st.A, st.b, where), where)
        else:
            x = b.maxpool(x, st.windows, where)
    return b.build(x)


def _apply_affine(A, b, X: np.ndarray) -> np.ndarray:
    """Rows of X are inputs; returns rows of outputs."""
    return np.asarray(A @ X.T).T + b


def evaluate(net: SliceNet, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Float64 activation patterns and outputs of the input rows ``X``.

    Ties in a pooling window go to the first maximal entry; a window whose
    maximum is exactly 0.0 (all entries inactive ReLUs) gets code -1.

    Parameters
    ----------
    net : SliceNet
        The network.
    X : array_like
        One input per row (a single input may be a vector), in the network's
        layout.

    Returns
    -------
    codes : ndarray of int16
        One row per input: 1/0 per ReLU entry, then per pooling window the
        index of its maximal entry (or -1), op after op.
    outputs : ndarray of float64
        The network's output for each input row.

    Examples
    --------
    >>> from ilpregions.core.spec import DenseLayer, Network
    >>> w = {"layers.0.weight": np.array([[1.0, -1.0]]), "layers.0.bias": np.array([0.5])}
    >>> net = from_spec(Network((2,), (DenseLayer(1),)), w)
    >>> codes, out = evaluate(net, [[1.0, 0.0], [0.0, 1.0]])
    >>> codes.tolist(), out.tolist()
    ([[1], [0]], [[1.5], [0.0]])
    """
    X = np.atleast_2d(np.asarray(X, dtype=np.float64))
    values = {0: X}
    codes = []
    for op in net.ops:
        x = values[op.inputs[0]]
        if op.kind == "affine":
            y = _apply_affine(op.matrix, op.b, x)
        elif op.kind == "relu":
            codes.append((x > 0).astype(np.int16))
            y = np.where(x > 0, x, op.slope * x) if op.slope else np.maximum(x, 0.0)
        elif op.kind == "add":
            y = x + values[op.inputs[1]]
        else:
            y = np.empty((x.shape[0], len(op.windows)))
            c = np.empty((x.shape[0], len(op.windows)), dtype=np.int16)
            for j, win in enumerate(op.windows):
                vals = x[:, win]
                arg = np.argmax(vals, axis=1)
                y[:, j] = vals[np.arange(len(arg)), arg]
                c[:, j] = np.where(y[:, j] == 0.0, -1, arg)
            codes.append(c)
        values[op.output] = y
    empty = np.zeros((X.shape[0], 0), dtype=np.int16)
    return (np.concatenate(codes, axis=1) if codes else empty), values[net.output]


def _frac_affine(A, b, x: list) -> list:
    A = sp.csr_matrix(A)
    out = []
    for r in range(A.shape[0]):
        lo, hi = A.indptr[r], A.indptr[r + 1]
        total = Fraction(float(b[r]))
        for j, a in zip(A.indices[lo:hi], A.data[lo:hi]):
            total += Fraction(float(a)) * x[j]
        out.append(total)
    return out


def evaluate_exact(net: SliceNet, x: list) -> tuple[list[int], list]:
    """The activation pattern and output at one input, in exact rational arithmetic.

    ``x`` is a list of :class:`fractions.Fraction`; every weight (a float64) is
    read as the exact rational it stores. Slow (pure Python): for re-checks.
    """
    values = {0: list(x)}
    codes: list[int] = []
    for op in net.ops:
        v = values[op.inputs[0]]
        if op.kind == "affine":
            y = _frac_affine(op.matrix, op.b, v)
        elif op.kind == "relu":
            codes.extend(1 if t > 0 else 0 for t in v)
            y = [t if t > 0 else Fraction(op.slope) * t for t in v]
        elif op.kind == "add":
            y = [s + t for s, t in zip(v, values[op.inputs[1]])]
        else:
            y = []
            for win in op.windows:
                vals = [v[i] for i in win]
                top = max(vals)
                y.append(top)
                codes.append(-1 if top == 0 else vals.index(top))
        values[op.output] = y
    return codes, values[net.output]


__all__ = ["Op", "ConvSpec", "conv_matrix", "SliceNet", "from_spec", "evaluate", "evaluate_exact", "as_matrix", "MAX_MATRIX_ENTRIES"]

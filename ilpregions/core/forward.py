"""A concrete network as affine maps: weights, layer matrices, forward passes.

Pure numpy, no solver and no file I/O. Everything here works on *flattened*
activations, channels last and row-major: a tensor of shape
``(spatial..., channels)`` is the vector ``t.reshape(-1)``, so the element
``(x_1, ..., x_k, c)`` sits at ``((x_1 * n_2 + x_2) ... ) * d + c``.

The weights dict (shared with the PyTorch importer) has, for layer ``i``:

===========  ==========================================  ===============================
layer        ``layers.<i>.weight``                        ``layers.<i>.bias``
===========  ==========================================  ===============================
conv         ``(filters, *kernel, d_in)``                 ``(filters,)``
local        ``(*out_spatial, filters, *kernel, d_in)``   ``(*out_spatial, filters)``
dense        ``(units, d_in_flat)``                       ``(units,)``
maxpool      (none)                                       (none)
avgpool      (none)                                       (none)
===========  ==========================================  ===============================

Every conv/local/dense layer is followed by a ReLU. A maxpool layer takes the
maximum of each channel over its window; padded cells are ignored (they act
as -inf, as in the frameworks). An avgpool layer is linear (padded cells
count as zeros, the window divides by its full size): :func:`stages`
composes it into the next conv/local/dense layer's affine map, so it adds no
decisions; a trailing one is applied by :func:`forward` only.

Examples
--------
>>> from ilpregions.core.spec import Network, ConvLayer
>>> net = Network((4, 1), (ConvLayer(filters=1, kernel=2),))
>>> w = {"layers.0.weight": np.array([[[1.0], [2.0]]]), "layers.0.bias": np.array([0.5])}
>>> A, b = layer_affine(net, w, 0)
>>> A
array([[1., 2., 0., 0.],
       [0., 1., 2., 0.],
       [0., 0., 1., 2.]])
>>> b
array([0.5, 0.5, 0.5])
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Mapping

import numpy as np

from ilpregions.core.errors import InputError
from ilpregions.core.spec import AvgPoolLayer, ConvLayer, DenseLayer, MaxPoolLayer, Network


def weight_shapes(network: Network) -> dict[str, tuple[int, ...]]:
    """The expected name → shape of every weight array of ``network``.

    >>> from ilpregions.core.spec import Network, ConvLayer, DenseLayer
    >>> weight_shapes(Network((3, 3, 1), (ConvLayer(2, 2), DenseLayer(3))))
    {'layers.0.weight': (2, 2, 2, 1), 'layers.0.bias': (2,), 'layers.1.weight': (3, 8), 'layers.1.bias': (3,)}
    """
    shapes: dict[str, tuple[int, ...]] = {}
    for i, (layer, shape, out) in enumerate(zip(network.layers, network.input_shapes(),
                                                network.output_shapes())):
        if isinstance(layer, ConvLayer):
            kernel = tuple(layer.kernel) + (shape[-1],)
            if layer.shared:
                shapes[f"layers.{i}.weight"] = (layer.filters,) + kernel
                shapes[f"layers.{i}.bias"] = (layer.filters,)
            else:
                shapes[f"layers.{i}.weight"] = tuple(out[:-1]) + (layer.filters,) + kernel
                shapes[f"layers.{i}.bias"] = tuple(out[:-1]) + (layer.filters,)
        elif isinstance(layer, DenseLayer):
            shapes[f"layers.{i}.weight"] = (layer.units, math.prod(shape))
            shapes[f"layers.{i}.bias"] = (layer.units,)
    return shapes


def check_weight_sizes(network: Network) -> None:
    """Refuse, by arithmetic and before any array exists, weights over the array limit.

    Every weight array of a concrete network (and the filters a random draw
    makes) is at most :data:`ilpregions.core.sizes.MAX_ARRAY_ELEMENTS` elements.

    Parameters
    ----------
    network : Network
        Any network; only its conv/local/dense layers have weights.

    Raises
    ------
    TooLargeError
        Naming the layer, the elements and the limit.

    Examples
    --------
    >>> from ilpregions.core.spec import Network, ConvLayer
    >>> check_weight_sizes(Network((3, 3, 1), (ConvLayer(2, 2),)))
    >>> check_weight_sizes(Network((3, 3, 1), (ConvLayer(10 ** 18, 2),)))
    Traceback (most recent call last):
    ...
    ilpregions.core.errors.TooLargeError: layers[0]: 4000000000000000000 weights (layers.0.weight), over the limit of 50000000
    """
    from ilpregions.core.sizes import MAX_ARRAY_ELEMENTS, refuse

    for name, shape in weight_shapes(network).items():
        refuse(f"layers[{name.split('.')[1]}]", f"weights ({name})", math.prod(shape), MAX_ARRAY_ELEMENTS)


def fan_in(network: Network, index: int) -> int:
    """Inputs seen by one neuron of layer ``index`` (kernel volume times d_in)."""
    layer, shape = network.layers[index], network.input_shapes()[index]
    if isinstance(layer, ConvLayer):
        return math.prod(layer.kernel) * shape[-1]
    if isinstance(layer, DenseLayer):
        return math.prod(shape)
    raise InputError(f"layers[{index}]: a {layer.type} layer has no weights")


def he_normal_weights(network: Network, seed: int | None = 0) -> dict[str, np.ndarray]:
    """Random weights as frameworks initialise them, with *generic* biases.

    Weights are He-normal, N(0, 2 / fan_in) (Keras ``he_normal`` without the
    truncation, PyTorch ``kaiming_normal_``). Biases follow PyTorch's default,
    U(-1/sqrt(fan_in), 1/sqrt(fan_in)), not Keras's zeros: zero biases make
    every first-layer hyperplane pass through the origin, a degenerate
    arrangement with far fewer regions, whereas the maximal count needs
    generic (nonzero, random) biases.

    >>> from ilpregions.core.spec import Network, ConvLayer
    >>> w = he_normal_weights(Network((3, 3, 1), (ConvLayer(2, 2),)), seed=1)
    >>> sorted(w), w["layers.0.weight"].shape
    (['layers.0.bias', 'layers.0.weight'], (2, 2, 2, 1))
    """
    check_weight_sizes(network)
    rng = np.random.default_rng(seed)
    weights: dict[str, np.ndarray] = {}
    for name, shape in weight_shapes(network).items():
        index = int(name.split(".")[1])
        fin = fan_in(network, index)
        if name.endswith("weight"):
            weights[name] = rng.normal(0.0, math.sqrt(2.0 / fin), size=shape)
        else:
            bound = 1.0 / math.sqrt(fin)
            weights[name] = rng.uniform(-bound, bound, size=shape)
    return weights


def check_weights(network: Network, weights: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Validate names, shapes and values; return float64 copies.

    Raises :class:`~ilpregions.core.errors.InputError` with one clear line.

    >>> from ilpregions.core.spec import Network, ConvLayer
    >>> net = Network((3, 3, 1), (ConvLayer(2, 2),))
    >>> check_weights(net, {"layers.0.weight": np.zeros((2, 2, 2)), "layers.0.bias": np.zeros(2)})
    Traceback (most recent call last):
    ...
    ilpregions.core.errors.InputError: weights: layers.0.weight has shape (2, 2, 2), expected (2, 2, 2, 1) (conv: filters, *kernel, d_in)
    """
    check_weight_sizes(network)
    expected = weight_shapes(network)
    unknown = sorted(set(weights) - set(expected))
    if unknown:
        raise InputError(f"weights: unknown array {unknown[0]!r}; expected names: {', '.join(expected) or 'none'}")
    out: dict[str, np.ndarray] = {}
    for name, shape in expected.items():
        if name not in weights:
            raise InputError(f"weights: missing array {name!r} with shape {shape}")
        array = np.asarray(weights[name])
        if array.dtype.kind not in "fiu":
            raise InputError(f"weights: {name} has dtype {array.dtype}, expected real numbers")
        if tuple(array.shape) != shape:
            layer = network.layers[int(name.split(".")[1])]
            layout = {"conv": "filters, *kernel, d_in", "local": "*out_spatial, filters, *kernel, d_in",
                      "dense": "units, d_in_flat"}[layer.type]
            if name.endswith("bias"):
                layout = {"conv": "filters", "local": "*out_spatial, filters", "dense": "units"}[layer.type]
            raise InputError(f"weights: {name} has shape {tuple(array.shape)}, expected {shape} "
                             f"({layer.type}: {layout})")
        array = array.astype(np.float64)
        if not np.all(np.isfinite(array)):
            raise InputError(f"weights: {name} contains NaN or infinite values")
        out[name] = array
    return out


def _flat_index(coords, sizes) -> int:
    index = 0
    for c, n in zip(coords, sizes):
        index = index * n + c
    return index


def layer_affine(network: Network, weights: Mapping[str, np.ndarray], index: int) -> tuple[np.ndarray, np.ndarray]:
    """The pre-activation of a conv/local/dense layer as ``A @ a + b``.

    ``a`` is the flattened layer input, the result the flattened output
    (positions row-major, filters last). Padded cells contribute zero.
    """
    layer = network.layers[index]
    shape = network.input_shapes()[index]
    out = network.output_shapes()[index]
    W = np.asarray(weights[f"layers.{index}.weight"], dtype=np.float64)
    bias = np.asarray(weights[f"layers.{index}.bias"], dtype=np.float64)
    if isinstance(layer, DenseLayer):
        return W.copy(), bias.copy()
    if not isinstance(layer, ConvLayer):
        raise InputError(f"layers[{index}]: a {layer.type} layer is not affine")
    spatial, d_in, filters = shape[:-1], shape[-1], layer.filters
    n_in, n_out = math.prod(shape), math.prod(out)
    A = np.zeros((n_out, n_in))
    b = np.zeros(n_out)
    for pos in itertools.product(*(range(n) for n in out[:-1])):
        p_flat = _flat_index(pos, out[:-1])
        rows = slice(p_flat * filters, (p_flat + 1) * filters)
        Wp = W if layer.shared else W[pos]          # (filters, *kernel, d_in)
        b[rows] = bias if layer.shared else bias[pos]
        for offset in itertools.product(*(range(k) for k in layer.kernel)):
            coords = [p * s - pad + a * d for p, s, pad, a, d in
                      zip(pos, layer.stride, layer.padding, offset, layer.dilation)]
            if any(not 0 <= x < n for x, n in zip(coords, spatial)):
                continue  # a padded cell: a constant zero
            pix = _flat_index(coords, spatial)
            A[rows, pix * d_in:(pix + 1) * d_in] += Wp[(slice(None),) + offset]
    return A, b


def pool_windows(network: Network, index: int) -> list[np.ndarray]:
    """For each output element of a maxpool layer, the flat input indices it maxes over.

    >>> from ilpregions.core.spec import Network, MaxPoolLayer
    >>> [w.tolist() for w in pool_windows(Network((4, 1), (MaxPoolLayer(2),)), 0)]
    [[0, 1], [2, 3]]
    """
    layer = network.layers[index]
    shape = network.input_shapes()[index]
    out = network.output_shapes()[index]
    spatial, channels = shape[:-1], shape[-1]
    windows = []
    for pos in itertools.product(*(range(n) for n in out[:-1])):
        pixels = []
        for offset in itertools.product(*(range(k) for k in layer.kernel)):
            coords = [p * s - pad + a for p, s, pad, a in zip(pos, layer.stride, layer.padding, offset)]
            if all(0 <= x < n for x, n in zip(coords, spatial)):
                pixels.append(_flat_index(coords, spatial))
        for c in range(channels):
            windows.append(np.array([pix * channels + c for pix in pixels], dtype=np.int64))
    return windows


def avgpool_matrix(network: Network, index: int) -> np.ndarray:
    """The linear map of an avgpool layer on flattened activations (padded cells count as zeros).

    >>> from ilpregions.core.spec import Network, AvgPoolLayer
    >>> avgpool_matrix(Network((4, 1), (AvgPoolLayer(2),)), 0).tolist()
    [[0.5, 0.5, 0.0, 0.0], [0.0, 0.0, 0.5, 0.5]]
    """
    layer = network.layers[index]
    shape = network.input_shapes()[index]
    out = network.output_shapes()[index]
    spatial, channels = shape[:-1], shape[-1]
    kernel = tuple(layer.kernel) if isinstance(layer.kernel, tuple) else (layer.kernel,) * len(spatial)
    stride = layer.stride if isinstance(layer.stride, tuple) else ((layer.stride,) * len(spatial) if layer.stride
                                                                   else kernel)
    padding = layer.padding if isinstance(layer.padding, tuple) else (layer.padding,) * len(spatial)
    P = np.zeros((math.prod(out), math.prod(shape)))
    weight = 1.0 / math.prod(kernel)
    for pos in itertools.product(*(range(n) for n in out[:-1])):
        row = _flat_index(pos, out[:-1]) * channels
        for offset in itertools.product(*(range(k) for k in kernel)):
            coords = [p * s - pad + a for p, s, pad, a in zip(pos, stride, padding, offset)]
            if all(0 <= x < n for x, n in zip(coords, spatial)):
                col = _flat_index(coords, spatial) * channels
                P[row + np.arange(channels), col + np.arange(channels)] += weight
    return P


@dataclass(frozen=True)
class Stage:
    """One step of the forward pass, in the form the region enumerators need.

    ``kind`` is "relu" (``A``, ``b`` set: pre-activation ``A @ a + b``, then
    ReLU) or "pool" (``windows`` set; ``nonneg`` tells whether its input is a
    ReLU output, in which case zeros are "inactive" and never the argmax).
    """

    kind: str
    index: int
    A: np.ndarray | None = None
    b: np.ndarray | None = None
    windows: tuple[np.ndarray, ...] | None = None
    nonneg: bool = False
    #: When average pooling was multiplied in: (the layer's own A, the pooling as an
    #: integer matrix, its divisor), so that exact arithmetic can redo ``A @ P`` (1/k is no float).
    pooled: tuple[np.ndarray, np.ndarray, int] | None = None

    @property
    def decisions(self) -> int:
        return len(self.b) if self.kind == "relu" else len(self.windows)


def stages(network: Network, weights: Mapping[str, np.ndarray]) -> list[Stage]:
    """The network as a list of :class:`Stage` (weights already validated).

    Average pooling is linear: its matrix is multiplied into the next
    affine layer (``A @ P``), so it makes no stage of its own; a trailing one
    changes no decision and is dropped. Max-pooling right after average
    pooling is refused (not an affine-then-max stage).
    """
    out, nonneg, pending, exact = [], False, None, None
    for i, layer in enumerate(network.layers):
        if isinstance(layer, AvgPoolLayer):
            P = avgpool_matrix(network, i)
            k = math.prod(tuple(layer.kernel) if isinstance(layer.kernel, tuple)
                          else (layer.kernel,) * (len(network.input_shapes()[i]) - 1))
            counts = np.rint(P * k).astype(np.int64)  # P holds counts / k exactly
            exact = (counts, k) if exact is None else (counts @ exact[0], k * exact[1])
            pending = P if pending is None else P @ pending
        elif isinstance(layer, MaxPoolLayer):
            if pending is not None:
                raise InputError(f"layers[{i}]: maxpool right after avgpool is not supported by the region "
                                 f"counter (put a conv/local/dense layer between them)")
            out.append(Stage("pool", i, windows=tuple(pool_windows(network, i)), nonneg=nonneg))
        else:
            A, b = layer_affine(network, weights, i)
            pooled = None
            if pending is not None:
                pooled = (A, exact[0], exact[1])
                A, pending, exact = A @ pending, None, None
            out.append(Stage("relu", i, A=A, b=b, pooled=pooled))
            nonneg = True
    return out


def decisions(stage_list: list[Stage], X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The activation pattern of each input row, and how safely it was read.

    Returns ``(codes, margin)``: ``codes`` has one column per decision (each
    ReLU: 1 active / 0 inactive; each pooling window: the window-local index
    of its argmax among the non-zero entries, or -1 when all are zero), and
    ``margin`` per row is the smallest relative gap behind any decision
    (|z| over its rounding scale for a ReLU, max minus runner-up over the
    max for a pool), so callers can drop inputs whose pattern floats could
    misread.

    >>> from ilpregions.core.spec import Network, ConvLayer
    >>> net = Network((4, 1), (ConvLayer(filters=1, kernel=2),))
    >>> w = {"layers.0.weight": np.array([[[1.0], [-1.0]]]), "layers.0.bias": np.array([0.0])}
    >>> codes, margin = decisions(stages(net, w), np.array([[3.0, 1.0, 2.0, 0.0]]))
    >>> codes.tolist()
    [[1, 0, 1]]
    """
    X = np.atleast_2d(np.asarray(X, dtype=np.float64))
    a = X
    columns, margin = [], np.full(X.shape[0], np.inf)
    for st in stage_list:
        if st.kind == "relu":
            z = a @ st.A.T + st.b
            scale = np.abs(a) @ np.abs(st.A).T + np.abs(st.b) + 1e-300
            columns.append((z > 0).astype(np.int16))
            margin = np.minimum(margin, (np.abs(z) / scale).min(axis=1))
            a = np.maximum(z, 0.0)
        else:
            pooled = np.empty((a.shape[0], len(st.windows)))
            codes = np.empty((a.shape[0], len(st.windows)), dtype=np.int16)
            for j, win in enumerate(st.windows):
                vals = a[:, win]
                if st.nonneg:
                    vals = np.where(vals > 0, vals, -np.inf)
                arg = np.argmax(vals, axis=1)
                top = vals[np.arange(len(arg)), arg]
                none = ~np.isfinite(top)
                codes[:, j] = np.where(none, -1, arg)
                pooled[:, j] = np.where(none, 0.0, top)
                if win.size > 1:
                    second = np.partition(vals, -2, axis=1)[:, -2]
                    with np.errstate(invalid="ignore"):
                        gap = np.where(np.isfinite(second), (top - second) / (np.abs(top) + 1e-300), np.inf)
                    margin = np.minimum(margin, np.where(none, np.inf, gap))
            columns.append(codes)
            a = pooled
    return np.concatenate(columns, axis=1), margin


def forward(network: Network, weights: Mapping[str, np.ndarray], X: np.ndarray) -> np.ndarray:
    """The network's output (after the last ReLU or pool, trailing average pooling applied) for each input row."""
    a = np.atleast_2d(np.asarray(X, dtype=np.float64))
    for st in stages(network, weights):
        if st.kind == "relu":
            a = np.maximum(a @ st.A.T + st.b, 0.0)
        else:
            a = np.stack([a[:, w].max(axis=1) for w in st.windows], axis=1)
    last = max((st.index for st in stages(network, weights)), default=-1)
    for i in range(last + 1, len(network.layers)):
        a = a @ avgpool_matrix(network, i).T
    return a


__all__ = ["weight_shapes", "fan_in", "he_normal_weights", "check_weights", "layer_affine",
           "pool_windows", "avgpool_matrix", "check_weight_sizes", "Stage", "stages", "decisions", "forward"]

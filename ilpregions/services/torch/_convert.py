"""PyTorch models in: an ``nn.Sequential`` becomes a :class:`~ilpregions.core.spec.Network` plus weights.

Supported layers: ``Conv1d/2d/3d``, ``Linear``, ``ReLU``, ``Flatten``,
``MaxPool1d/2d/3d``, ``BatchNorm1d/2d/3d`` directly after a conv or linear
layer (folded into it exactly, in float64, from its running statistics; the
model must be in ``eval()`` mode), and ``Dropout``/``Identity`` (identities at
inference), and a ReLU whose input is already non-negative (after a ReLU and
pooling: an identity). Nested ``nn.Sequential`` blocks are flattened.

Everything else is refused with an error naming the layer: ``groups != 1``,
activations other than ReLU, ``padding_mode`` other than ``"zeros"``,
``ceil_mode=True`` or dilated pooling, asymmetric ``padding="same"``, and a
conv/linear layer that is not followed by a ReLU. A classifier's final linear
layer has no ReLU; it does not change the activation regions, so
``drop_head=True`` leaves it out (the result records it in ``dropped``).

Layout: torch is channels-first ``(C, *spatial)``, ilpregions channels-last
``(*spatial, C)``. ``input_shape`` is given in torch order. The weights dict
(:mod:`ilpregions.core.forward` documents the format) has ``layers.<i>.weight`` of
shape ``(filters, *kernel, d_in)`` for a conv layer and ``(units, d_in_flat)``
for a dense layer, whose flat input is ordered channels-last, row-major. A
``Linear`` after a ``Flatten`` of a channels-first tensor has its columns
permuted to that order. ``i`` counts our layers (conv, dense, maxpool): a ReLU
is implicit after every conv and dense layer.

torch is imported only inside these functions (an optional extra:
``pip install 'ilpregions[torch]'``).

Examples
--------
>>> import pytest; nn = pytest.importorskip("torch.nn")   # torch is an optional extra
>>> model = nn.Sequential(nn.Conv2d(1, 2, kernel_size=2), nn.ReLU(),
...                       nn.Flatten(), nn.Linear(8, 3), nn.ReLU())
>>> imported = from_torch(model, input_shape=(1, 3, 3))
>>> imported.network.input_shape, [layer.type for layer in imported.network.layers]
((3, 3, 1), ['conv', 'dense'])
>>> {name: array.shape for name, array in imported.weights.items()}
{'layers.0.weight': (2, 2, 2, 1), 'layers.0.bias': (2,), 'layers.1.weight': (3, 8), 'layers.1.bias': (3,)}
>>> from_torch(nn.Sequential(nn.Conv1d(1, 2, 2), nn.Tanh()), input_shape=(1, 4))
Traceback (most recent call last):
...
ilpregions.core.errors.InputError: layer 1 (Tanh): only ReLU activations can be counted
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

from ilpregions.core.errors import InputError, ParameterError
from ilpregions.core.spec import ConvLayer, DenseLayer, MaxPoolLayer, Network
# The file format lives in torch_file; these names stay importable from here.
from ilpregions.services.torch._file import (FORMAT, flatten_modules, entry_name, architecture,  # noqa: F401
                                            build_module, load_file, save)

#: Where a model the spec format cannot express can still be analysed.
SLICE_HINT = "`slice_network()` handles it"

_ACTIVATIONS = ("Tanh", "Sigmoid", "LeakyReLU", "PReLU", "ELU", "SELU", "CELU", "GELU", "SiLU",
                "Mish", "Softplus", "Softsign", "Hardtanh", "ReLU6", "Hardswish", "Hardsigmoid",
                "Tanhshrink", "Softmax", "LogSoftmax", "Threshold", "RReLU", "LogSigmoid")


@dataclass(frozen=True)
class ImportedNetwork:
    """A network imported from PyTorch and its weights (float64 numpy arrays).

    ``dropped`` names the torch layers left out (a final linear head with
    ``drop_head=True``, identities); ``source`` is one line per torch layer.
    """

    network: Network
    weights: Mapping[str, Any] = field(compare=False)
    dropped: tuple[str, ...] = ()
    source: tuple[str, ...] = ()

    def save_weights(self, path: str | Path) -> None:
        """Write the weights as ``.npz`` (read back with ``allow_pickle=False``).

        Through :mod:`ilpregions.core.safe_io`: atomically, to a regular file
        only (a FIFO, device or directory is refused), under an exclusive lock.
        """
        import numpy as np

        from ilpregions.core.safe_io import atomic_open, output_lock

        with output_lock(path), atomic_open(path, "wb") as fh:
            np.savez(fh, **{k: np.asarray(v) for k, v in self.weights.items()})


def _tuple(value, axes: int) -> tuple[int, ...]:
    if isinstance(value, int):
        return (value,) * axes
    value = tuple(int(v) for v in value)
    return value * axes if len(value) == 1 else value


def _to_numpy(tensor):
    import numpy as np

    return np.asarray(tensor.detach().cpu().double().numpy(), dtype=np.float64)


def _conv_padding(where: str, module, kernel, dilation, stride, axes: int) -> tuple[int, ...]:
    padding = module.padding
    if isinstance(padding, str):
        if padding == "valid":
            return (0,) * axes
        # "same": torch pads dilation*(k-1) in total per axis, the odd cell on the far side;
        # our specs pad symmetrically, so only even totals convert exactly.
        total = [d * (k - 1) for d, k in zip(dilation, kernel)]
        if any(t % 2 for t in total):
            raise InputError(f"{where}: padding='same' with an even kernel pads asymmetrically "
                             f"({total} cells per axis), which a spec cannot express")
        return tuple(t // 2 for t in total)
    return _tuple(padding, axes)


class Builder:
    def __init__(self, input_shape: Sequence[int]):
        import numpy as np

        self.np = np
        shape = tuple(int(v) for v in input_shape)
        if not shape or any(v <= 0 for v in shape) or len(shape) > 4:
            raise InputError(f"input_shape: expected (C, *spatial) in torch order with 0 to 3 spatial "
                             f"axes, got {list(input_shape)}")
        self.torch_shape = shape  # current tensor shape, torch order, without the batch axis
        self.flat_from: tuple[int, ...] | None = None if len(shape) > 1 else ()
        # flat_from: the channels-first shape that was flattened (a permutation is pending
        # for the next Linear), () if the flat vector is already in our order, None if not flat.
        self.layers: list = []
        self.weights: dict[str, Any] = {}
        self.pending: tuple[int, str] | None = None  # (our index, torch name) awaiting a ReLU
        self.nonneg = False  # every current value is >= 0 (a ReLU came last, maybe then pooling)

    @property
    def axes(self) -> int:
        return len(self.torch_shape) - 1

    def our_input_shape(self) -> tuple[int, ...]:
        return self.torch_shape[1:] + self.torch_shape[:1]


def from_torch(module, input_shape: Sequence[int], drop_head: bool = False) -> ImportedNetwork:
    """Turn an ``nn.Sequential`` into a network spec and its weights.

    Supported layers: ``Conv1d/2d/3d``, ``Linear``, ``ReLU``, ``Flatten``,
    ``MaxPool1d/2d/3d``, ``BatchNorm`` right after a conv or linear layer
    (folded in exactly, in eval mode), ``Dropout`` and ``Identity``. Other
    layers, activations other than ReLU and a conv/linear layer without a ReLU
    after it are refused, naming the layer. A module that is not a Sequential
    is traced and accepted when its graph is a plain chain.

    Parameters
    ----------
    module : torch.nn.Module
        The model, in eval mode when it has BatchNorm layers.
    input_shape : sequence of int
        One input in torch order, without the batch axis: ``(C, H, W)``,
        ``(C, L)``, ``(C, D, H, W)``, or ``(features,)`` for an MLP.
    drop_head : bool
        Leave out a final conv/linear layer that has no ReLU after it (it does
        not change the activation regions); the result records it in
        ``dropped``.

    Returns
    -------
    ImportedNetwork
        ``network`` (channels-last input) and ``weights`` as float64 arrays,
        named ``layers.<i>.weight``/``bias``.

    Raises
    ------
    InputError
        ``module`` is not an nn.Module, or has a layer, option or shape the
        spec format cannot express (the message names the layer).

    Examples
    --------
    >>> import pytest; nn = pytest.importorskip("torch.nn")   # torch is an optional extra
    >>> imported = from_torch(nn.Sequential(nn.Linear(2, 3), nn.ReLU()), input_shape=(2,))
    >>> imported.network.layers, imported.weights["layers.0.weight"].shape
    ((DenseLayer(units=3),), (3, 2))
    """
    import torch.nn as nn

    if not isinstance(module, nn.Module):
        raise InputError(f"from_torch takes an nn.Module, got {type(module).__name__}")
    if not isinstance(module, nn.Sequential):
        from ilpregions.services.torch._fx import as_sequential
        module = as_sequential(module)
    modules = flatten_modules(module)
    b = Builder(input_shape)
    start_shape = b.our_input_shape()
    dropped: list[str] = []
    source: list[str] = []
    i = 0
    while i < len(modules):
        m = modules[i]
        where = entry_name(i, m)
        source.append(f"{i}: {m!r}")
        kind = type(m).__name__
        if b.pending is not None and not isinstance(m, (nn.ReLU, nn.BatchNorm1d, nn.BatchNorm2d,
                                                         nn.BatchNorm3d, nn.Dropout, nn.Identity)):
            index, name = b.pending
            if kind in _ACTIVATIONS:
                raise InputError(f"{where}: only ReLU activations can be counted")
            raise InputError(f"{name} is not followed by a ReLU (next: {where}); every conv/linear "
                             f"layer but a dropped head needs one")
        if isinstance(m, nn.ReLU):
            if b.pending is not None:
                b.pending = None
                b.nonneg = True
            elif b.nonneg:
                # after a ReLU (and max pooling or flattening) every value is >= 0 already
                dropped.append(f"{where}: identity (its input is already non-negative)")
            else:
                raise InputError(f"{where}: a ReLU must follow a conv or linear layer (a ReLU on "
                                 f"the input itself is not supported)")
        elif isinstance(m, (nn.Conv1d, nn.Conv2d, nn.Conv3d)):
            _conv(b, m, where)
        elif isinstance(m, nn.Linear):
            _linear(b, m, where)
        elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)):
            _fold_batchnorm(b, m, where)
        elif isinstance(m, nn.Flatten):
            _flatten(b, m, where)
        elif isinstance(m, (nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d)):
            _maxpool(b, m, where)
        elif isinstance(m, (nn.Dropout, nn.Identity)):
            dropped.append(f"{where}: identity at inference")
        elif isinstance(m, (nn.AvgPool1d, nn.AvgPool2d, nn.AvgPool3d, nn.AdaptiveAvgPool1d,
                            nn.AdaptiveAvgPool2d, nn.AdaptiveAvgPool3d)):
            raise InputError(f"{where}: the spec format has no average pooling; {SLICE_HINT}")
        elif kind in _ACTIVATIONS:
            raise InputError(f"{where}: only ReLU activations can be counted")
        else:
            raise InputError(f"{where}: unsupported layer; supported: Conv1d/2d/3d, Linear, ReLU, "
                             f"Flatten, MaxPool1d/2d/3d, BatchNorm after a conv/linear, Dropout, Identity")
        i += 1
    if b.pending is not None:
        index, name = b.pending
        if not drop_head:
            raise ParameterError("drop_head", f"{name} is the last layer and has no ReLU after it; "
                                 f"set drop_head to leave out a linear output head, which does "
                                 f"not change the activation regions")
        b.layers.pop()
        b.weights.pop(f"layers.{index}.weight")
        b.weights.pop(f"layers.{index}.bias")
        dropped.append(f"{name}: output head without ReLU (drop_head)")
    if not any(isinstance(layer, (ConvLayer, DenseLayer)) for layer in b.layers):
        raise InputError("the model has no conv or linear layer followed by a ReLU")
    network = Network(start_shape, tuple(b.layers))
    return ImportedNetwork(network, b.weights, tuple(dropped), tuple(source))


def _conv(b: Builder, m, where: str) -> None:
    np = b.np
    axes = len(m.kernel_size)
    if b.flat_from is not None or b.axes != axes:
        raise InputError(f"{where}: a {axes}-D conv needs a (C, {axes} spatial) input, but the "
                         f"tensor here is {list(b.torch_shape)}")
    if m.groups != 1:
        raise InputError(f"{where}: groups={m.groups}; the spec format has only groups=1 (grouped/"
                         f"depthwise filters see a subset of the channels); {SLICE_HINT}")
    if m.padding_mode != "zeros":
        raise InputError(f"{where}: padding_mode={m.padding_mode!r}; the spec format pads with zeros "
                         f"only; {SLICE_HINT}")
    if getattr(m, "transposed", False):
        raise InputError(f"{where}: transposed convolutions are not supported")
    if m.in_channels != b.torch_shape[0]:
        raise InputError(f"{where}: in_channels={m.in_channels} but the tensor here has "
                         f"{b.torch_shape[0]} channels")
    kernel = _tuple(m.kernel_size, axes)
    stride = _tuple(m.stride, axes)
    dilation = _tuple(m.dilation, axes)
    padding = _conv_padding(where, m, kernel, dilation, stride, axes)
    layer = ConvLayer(filters=m.out_channels, kernel=kernel, stride=stride, padding=padding,
                      dilation=dilation)
    weight = _to_numpy(m.weight)  # (out, in, *kernel) -> ours: (out, *kernel, in)
    _store_affine(b, layer, np.moveaxis(weight, 1, -1), m.bias, m.out_channels, where)


def _store_affine(b: Builder, layer, weight, bias, outputs: int, where: str) -> None:
    """Record a conv/linear layer's weights (bias=False means zeros) and append it;
    it stays pending so that a BatchNorm right after can be folded into it."""
    index = len(b.layers)
    b.weights[f"layers.{index}.weight"] = b.np.ascontiguousarray(weight)
    b.weights[f"layers.{index}.bias"] = _to_numpy(bias) if bias is not None else b.np.zeros(outputs)
    for part in ("weight", "bias"):
        if not b.np.all(b.np.isfinite(b.weights[f"layers.{index}.{part}"])):
            raise InputError(f"{where}: its {part} contains NaN or infinite values")
    _append(b, layer, where)
    b.pending, b.nonneg = (index, where), False


def _linear(b: Builder, m, where: str) -> None:
    np = b.np
    if b.flat_from is None:
        raise InputError(f"{where}: a Linear on a {list(b.torch_shape)} tensor acts on its last axis "
                         f"only; add nn.Flatten() before it")
    size = math.prod(b.torch_shape)
    if m.in_features != size:
        raise InputError(f"{where}: in_features={m.in_features} but the flattened input has {size}")
    weight = _to_numpy(m.weight)  # (out, in), columns in torch's flat order
    if b.flat_from:
        # torch flattened (C, *spatial) channel-major; ours is (*spatial, C) row-major.
        # Column `ours` of our matrix is torch's column perm[ours].
        perm = np.moveaxis(np.arange(size).reshape(b.flat_from), 0, -1).reshape(-1)
        weight = weight[:, perm]
    _store_affine(b, DenseLayer(units=m.out_features), weight, m.bias, m.out_features, where)
    b.flat_from = ()


def _fold_batchnorm(b: Builder, m, where: str) -> None:
    np = b.np
    if b.pending is None:
        raise InputError(f"{where}: BatchNorm can only be folded into the conv/linear layer right "
                         f"before it (none here, or a ReLU came first)")
    if m.training:
        raise InputError(f"{where}: the model is in training mode, where BatchNorm uses batch "
                         f"statistics; call model.eval() so it can be folded exactly")
    if m.running_mean is None or m.running_var is None:
        raise InputError(f"{where}: track_running_stats=False normalises by batch statistics, "
                         f"which no fixed affine map reproduces")
    index, name = b.pending
    channels = b.weights[f"layers.{index}.bias"].shape[0]
    if m.num_features != channels:
        raise InputError(f"{where}: num_features={m.num_features} but {name} has {channels} outputs")
    # y = gamma * (x - mean) / sqrt(var + eps) + beta: an affine map per channel, folded exactly.
    scale = 1.0 / np.sqrt(_to_numpy(m.running_var) + float(m.eps))
    shift = -_to_numpy(m.running_mean) * scale
    if m.affine:
        gamma, beta = _to_numpy(m.weight), _to_numpy(m.bias)
        scale, shift = scale * gamma, shift * gamma + beta
    weight = b.weights[f"layers.{index}.weight"]
    b.weights[f"layers.{index}.weight"] = weight * scale.reshape((-1,) + (1,) * (weight.ndim - 1))
    b.weights[f"layers.{index}.bias"] = b.weights[f"layers.{index}.bias"] * scale + shift


def _flatten(b: Builder, m, where: str) -> None:
    ndim = len(b.torch_shape) + 1  # with the batch axis
    start = m.start_dim % ndim
    end = m.end_dim % ndim
    if start != 1 or end != ndim - 1:
        raise InputError(f"{where}: only Flatten(start_dim=1, end_dim=-1) (everything but the batch) "
                         f"is supported, got start_dim={m.start_dim}, end_dim={m.end_dim}")
    if b.flat_from is None:
        b.flat_from = b.torch_shape
        b.torch_shape = (math.prod(b.torch_shape),)


def _maxpool(b: Builder, m, where: str) -> None:
    axes = {"MaxPool1d": 1, "MaxPool2d": 2, "MaxPool3d": 3}[type(m).__name__]
    if b.flat_from is not None or b.axes != axes:
        raise InputError(f"{where}: needs a (C, {axes} spatial) input, but the tensor here is "
                         f"{list(b.torch_shape)}")
    if m.ceil_mode:
        raise InputError(f"{where}: ceil_mode=True is not supported")
    if any(d != 1 for d in _tuple(m.dilation, axes)):
        raise InputError(f"{where}: dilated pooling is not supported")
    if getattr(m, "return_indices", False):
        raise InputError(f"{where}: return_indices=True is not supported")
    kernel = _tuple(m.kernel_size, axes)
    stride = _tuple(m.stride if m.stride is not None else m.kernel_size, axes)
    padding = _tuple(m.padding, axes)
    _append(b, MaxPoolLayer(kernel=kernel, stride=stride, padding=padding), where)


def _append(b: Builder, layer, where: str) -> None:
    from ilpregions.core.errors import SpecError

    shape = b.our_input_shape()
    try:
        net = Network(shape, (layer,))
    except SpecError as exc:
        raise InputError(f"{where}: {exc.message}") from None
    b.layers.append(net.layers[0])
    out = net.output_shapes()[0]
    b.torch_shape = out if isinstance(layer, DenseLayer) else out[-1:] + out[:-1]

__all__ = ["ImportedNetwork", "from_torch", "architecture", "build_module", "save", "load_file", "FORMAT"]

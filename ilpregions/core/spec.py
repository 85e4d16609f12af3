"""Architecture specs: frozen dataclasses (their TOML format is :mod:`ilpregions.core.spec_toml`).

Layers are built in code or read from TOML; :class:`Network` validates the whole stack
and normalises every per-axis option to a tuple, so two equal architectures
compare equal however they were written.

Examples
--------
>>> net = Network(input_shape=(3, 3, 1), layers=(ConvLayer(filters=2, kernel=2),))
>>> net.layers[0].kernel, net.layers[0].stride
((2, 2), (1, 1))
>>> net.output_shapes()
((2, 2, 2),)
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Union

from ilpregions.core.errors import SpecError

AxisOption = Union[int, tuple[int, ...]]


def is_int(value: Any) -> bool:
    # bool is an int subclass; `filters = true` is a mistake, not 1.
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass(frozen=True)
class ConvLayer:
    """A convolutional layer; ``shared=False`` makes it locally connected.

    ``kernel``, ``stride``, ``padding`` and ``dilation`` accept an int (every
    axis) or one entry per spatial axis; :class:`Network` normalises them.
    """

    filters: int
    kernel: AxisOption
    stride: AxisOption = 1
    padding: AxisOption = 0
    dilation: AxisOption = 1
    shared: bool = True

    @property
    def type(self) -> str:
        return "conv" if self.shared else "local"


def LocalLayer(filters: int, kernel: AxisOption, stride: AxisOption = 1,
               padding: AxisOption = 0, dilation: AxisOption = 1) -> ConvLayer:
    """A locally connected (untied) layer: a :class:`ConvLayer` with ``shared=False``.

    Parameters
    ----------
    filters : int
        Neurons per position (d1).
    kernel, stride, padding, dilation : int or sequence of int
        As for :class:`ConvLayer`: one value for every spatial axis, or one
        per axis.

    Returns
    -------
    ConvLayer
        The layer, with its own weights at every position.

    Raises
    ------
    SpecError
        A value is not a positive integer (padding: not negative) or the
        per-axis lists disagree in length.

    Examples
    --------
    >>> layer = LocalLayer(4, 2)
    >>> layer.shared, layer.type, layer.filters
    (False, 'local', 4)
    """
    return ConvLayer(filters, kernel, stride, padding, dilation, shared=False)


@dataclass(frozen=True)
class DenseLayer:
    """A fully-connected layer on the flattened input."""

    units: int

    @property
    def type(self) -> str:
        return "dense"


@dataclass(frozen=True)
class MaxPoolLayer:
    """Max pooling over each channel; ``stride`` defaults to ``kernel``."""

    kernel: AxisOption
    stride: AxisOption | None = None
    padding: AxisOption = 0

    @property
    def type(self) -> str:
        return "maxpool"


@dataclass(frozen=True)
class AvgPoolLayer:
    """Average pooling over each channel (linear: no ReLU, no parameters); ``stride`` defaults to ``kernel``.

    Padded cells count as zeros in the average (the window always divides by
    its full size), as PyTorch's ``AvgPool`` with ``count_include_pad=True``.
    """

    kernel: AxisOption
    stride: AxisOption | None = None
    padding: AxisOption = 0

    @property
    def type(self) -> str:
        return "avgpool"


Layer = Union[ConvLayer, DenseLayer, MaxPoolLayer, AvgPoolLayer]


def conv_output_size(n: int, kernel: int, stride: int, padding: int, dilation: int) -> int:
    """Output length on one axis (docs/math.md#output-sizes); may be <= 0 when nothing fits.

    >>> conv_output_size(5, 3, 1, 0, 1), conv_output_size(224, 7, 2, 3, 1)
    (3, 112)
    """
    return (n + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


@dataclass(frozen=True)
class Network:
    """An input shape (spatial sizes, then channels) and a stack of layers."""

    input_shape: tuple[int, ...]
    layers: tuple[Layer, ...]
    name: str | None = None

    def __post_init__(self):
        object.__setattr__(self, "input_shape", tuple(self.input_shape))
        object.__setattr__(self, "layers", tuple(self.layers))
        check_positive_list("input", self.input_shape, min_len=1)
        if not self.layers:
            raise SpecError("layers", "at least one layer is required")
        shape = self.input_shape
        normalised = []
        for index, layer in enumerate(self.layers):
            layer = _normalise_layer(layer, shape, f"layers[{index}]")
            normalised.append(layer)
            shape = _layer_output_shape(layer, shape)
        object.__setattr__(self, "layers", tuple(normalised))

    @property
    def spatial_axes(self) -> int:
        return len(self.input_shape) - 1

    def input_shapes(self) -> tuple[tuple[int, ...], ...]:
        """The input shape of every layer (spatial sizes then channels)."""
        return self._shapes[0]

    def output_shapes(self) -> tuple[tuple[int, ...], ...]:
        """The output shape of every layer (spatial sizes then channels)."""
        return self._shapes[1]

    @cached_property
    def _shapes(self) -> tuple[tuple[tuple[int, ...], ...], tuple[tuple[int, ...], ...]]:
        # once per network: a frozen spec's shapes never change, and every command asks for them
        inputs, outputs, shape = [], [], self.input_shape
        for layer in self.layers:
            inputs.append(shape)
            shape = _layer_output_shape(layer, shape)
            outputs.append(shape)
        return tuple(inputs), tuple(outputs)

    def to_dict(self) -> dict:
        """The spec as plain data, in the TOML format's keys."""
        out: dict[str, Any] = {}
        if self.name is not None:
            out["name"] = self.name
        out["input"] = list(self.input_shape)
        out["layers"] = [layer_to_dict(layer) for layer in self.layers]
        return out


def layer_to_dict(layer: Layer) -> dict:
    if isinstance(layer, ConvLayer):
        return {"type": layer.type, "filters": layer.filters, "kernel": list(layer.kernel),
                "stride": list(layer.stride), "padding": list(layer.padding),
                "dilation": list(layer.dilation)}
    if isinstance(layer, DenseLayer):
        return {"type": "dense", "units": layer.units}
    return {"type": layer.type, "kernel": list(layer.kernel), "stride": list(layer.stride),
            "padding": list(layer.padding)}


def check_positive_list(field_name: str, values, min_len: int = 1, allow_zero: bool = False):
    if not isinstance(values, (list, tuple)) or len(values) < min_len:
        raise SpecError(field_name, f"must be a list of at least {min_len} positive integers")
    for i, v in enumerate(values):
        if not is_int(v):
            raise SpecError(f"{field_name}[{i}]", f"must be an integer, got {v!r}")
        if v < 0 or (v == 0 and not allow_zero):
            raise SpecError(f"{field_name}[{i}]", f"must be {'>= 0' if allow_zero else 'positive'}, got {v}")


def _per_axis(where: str, name: str, value, axes: int, allow_zero: bool = False) -> tuple[int, ...]:
    field_name = f"{where}.{name}"
    if is_int(value):
        value = (value,) * axes
    elif isinstance(value, (list, tuple)):
        if len(value) != axes:
            raise SpecError(field_name, f"has {len(value)} entries but the input has {axes} spatial "
                                        f"ax{'is' if axes == 1 else 'es'}")
        value = tuple(value)
    else:
        raise SpecError(field_name, f"must be an integer or a list of {axes} integers, got {value!r}")
    check_positive_list(field_name, value, min_len=axes, allow_zero=allow_zero)
    return value


def _normalise_layer(layer, shape: tuple[int, ...], where: str) -> Layer:
    axes = len(shape) - 1
    if isinstance(layer, ConvLayer):
        if not is_int(layer.filters) or layer.filters <= 0:
            raise SpecError(f"{where}.filters", f"must be a positive integer, got {layer.filters!r}")
        if axes == 0:
            raise SpecError(where, f"a {layer.type} layer needs spatial axes, but its input "
                                   f"{list(shape)} is flat")
        kernel = _per_axis(where, "kernel", layer.kernel, axes)
        stride = _per_axis(where, "stride", layer.stride, axes)
        padding = _per_axis(where, "padding", layer.padding, axes, allow_zero=True)
        dilation = _per_axis(where, "dilation", layer.dilation, axes)
        for i in range(axes):
            if conv_output_size(shape[i], kernel[i], stride[i], padding[i], dilation[i]) <= 0:
                reach = dilation[i] * (kernel[i] - 1) + 1
                raise SpecError(f"{where}.kernel", f"spans {reach} on axis {i} but the padded input "
                                                   f"is only {shape[i] + 2 * padding[i]} (no output position)")
        return dataclasses.replace(layer, kernel=kernel, stride=stride, padding=padding, dilation=dilation)
    if isinstance(layer, DenseLayer):
        if not is_int(layer.units) or layer.units <= 0:
            raise SpecError(f"{where}.units", f"must be a positive integer, got {layer.units!r}")
        return layer
    if isinstance(layer, (MaxPoolLayer, AvgPoolLayer)):
        if axes == 0:
            raise SpecError(where, f"a {layer.type} layer needs spatial axes, but its input {list(shape)} is flat")
        kernel = _per_axis(where, "kernel", layer.kernel, axes)
        stride = _per_axis(where, "stride", kernel if layer.stride is None else layer.stride, axes)
        padding = _per_axis(where, "padding", layer.padding, axes, allow_zero=True)
        for i in range(axes):
            if conv_output_size(shape[i], kernel[i], stride[i], padding[i], 1) <= 0:
                raise SpecError(f"{where}.kernel", f"is {kernel[i]} on axis {i} but the padded input "
                                                   f"is only {shape[i] + 2 * padding[i]} (no output position)")
        return type(layer)(kernel=kernel, stride=stride, padding=padding)
    raise SpecError(where, f"is not a layer: {layer!r}")


def _layer_output_shape(layer: Layer, shape: tuple[int, ...]) -> tuple[int, ...]:
    if isinstance(layer, DenseLayer):
        return (layer.units,)
    spatial = shape[:-1]
    if isinstance(layer, ConvLayer):
        out = tuple(conv_output_size(n, k, s, p, d) for n, k, s, p, d in
                    zip(spatial, layer.kernel, layer.stride, layer.padding, layer.dilation))
        return out + (layer.filters,)
    out = tuple(conv_output_size(n, k, s, p, 1) for n, k, s, p in
                zip(spatial, layer.kernel, layer.stride, layer.padding))
    return out + (shape[-1],)

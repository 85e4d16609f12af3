"""Size arithmetic: what building a layer's set system would cost, before building it.

Every structure the library builds from a spec has a size that follows from
the spec by arithmetic: output positions, pixels per receptive field, and
their product (the entries of all fields together). Commands check these
against the limits here *first* and refuse with one line naming the size
and the limit (:class:`~ilpregions.core.errors.TooLargeError`, exit code 2),
instead of running out of memory or time halfway through.

The limits are generous (every shipped model, the ImageNet stem included, is
far below them) and finite (each keeps a build under a few hundred MB).

Examples
--------
>>> from ilpregions.core.spec import Network, ConvLayer
>>> net = Network((224, 224, 3), (ConvLayer(64, 7, stride=2, padding=3),))
>>> s = layer_sizes(net.input_shape, net.layers[0])
>>> s.positions, s.field_pixels, s.field_entries
(12544, 49, 614656)
>>> check_layer_sizes((100000, 100000, 1000), ConvLayer(2, (2, 2), (1, 1), (0, 0), (1, 1)))
Traceback (most recent call last):
...
ilpregions.core.errors.TooLargeError: layer: 9999800001 output positions, over the limit of 1000000
"""

from __future__ import annotations

from dataclasses import dataclass
from math import prod
from typing import Sequence

from ilpregions.core.errors import TooLargeError

#: Output positions of one layer (one receptive field each).
MAX_POSITIONS = 1_000_000
#: Pixels of one layer's input (a dense layer's field is all of them).
MAX_PIXELS = 50_000_000
#: Σ_p |S_p| in pixels: the ints stored for all receptive fields (≈ 36 bytes each).
MAX_FIELD_ENTRIES = 10_000_000
#: Elements of one array read from a weights file (float64: 8 bytes each).
MAX_ARRAY_ELEMENTS = 50_000_000
#: Bytes of all arrays of one weights file together, once decompressed.
MAX_WEIGHTS_BYTES = 1 << 30
#: 0/1 variables of one block's binary neuron-selection model (scip, cpsat-binary): positions x filters.
MAX_BINARY_VARIABLES = 1_000_000
#: Bytes per such variable with its row entries, solver and Python wrapper together
#: (measured ~2.2 KiB with SCIP, ~1.5 KiB with CP-SAT on a 4-position block; doubled for wider rows).
BYTES_PER_BINARY_VARIABLE = 4096


@dataclass(frozen=True)
class LayerSizes:
    """Sizes of one conv/local/dense layer's set system, from arithmetic only."""

    positions: int
    pixels: int
    channels: int
    field_pixels: int       # largest |S_p| / d0 (pixels of one field)
    field_entries: int      # bound on Σ_p pixels of S_p


def _output_size(n: int, k: int, s: int, p: int, d: int) -> int:
    return (n + 2 * p - d * (k - 1) - 1) // s + 1


def layer_sizes(input_shape: Sequence[int], layer) -> LayerSizes:
    """The sizes of ``layer`` on ``input_shape`` (spatial sizes then channels)."""
    spatial, channels = tuple(input_shape[:-1]), input_shape[-1]
    pixels = prod(spatial)
    if not hasattr(layer, "kernel"):  # dense: one position whose field is every pixel
        return LayerSizes(1, pixels, channels, pixels, pixels)
    out = [_output_size(n, k, s, p, d) for n, k, s, p, d in
           zip(spatial, layer.kernel, layer.stride, layer.padding, layer.dilation)]
    positions = prod(max(0, n) for n in out)
    # taps of one axis that can land inside the input: at most min(kernel, input)
    field = prod(min(k, n) for k, n in zip(layer.kernel, spatial))
    return LayerSizes(positions, pixels, channels, field, positions * field)


def check_layer_sizes(input_shape: Sequence[int], layer, where: str = "layer") -> LayerSizes:
    """:func:`layer_sizes`, refused with :class:`TooLargeError` above the limits."""
    sizes = layer_sizes(input_shape, layer)
    refuse(where, "output positions", sizes.positions, MAX_POSITIONS)
    refuse(where, "input pixels", sizes.pixels, MAX_PIXELS)
    refuse(where, "receptive-field entries (positions x field pixels)", sizes.field_entries,
           MAX_FIELD_ENTRIES)
    return sizes


def check_network_sizes(network) -> None:
    """:func:`check_layer_sizes` on every conv/local/dense layer of a network."""
    for index, (layer, shape) in enumerate(zip(network.layers, network.input_shapes())):
        if hasattr(layer, "filters") or hasattr(layer, "units"):
            check_layer_sizes(shape, layer, f"layers[{index}]")


def check_binary_model(positions: int, filters: int, memory_cap: int | None = None,
                       where: str = "model") -> int:
    """The variables of a binary neuron-selection model of ``positions`` x ``filters`` neurons,
    refused above :data:`MAX_BINARY_VARIABLES` or, estimated in bytes, above ``memory_cap``.

    >>> check_binary_model(4, 3)
    12
    >>> check_binary_model(3, 10 ** 9, where="scip")
    Traceback (most recent call last):
    ...
    ilpregions.core.errors.TooLargeError: scip: 3000000000 binary variables (positions x filters of one block), over the limit of 1000000
    """
    variables = positions * filters
    refuse(where, "binary variables (positions x filters of one block)", variables, MAX_BINARY_VARIABLES)
    if memory_cap is not None:
        refuse(where, f"bytes estimated for the binary model ({BYTES_PER_BINARY_VARIABLE} a variable; "
                      f"the limit is memory_cap)", variables * BYTES_PER_BINARY_VARIABLE, memory_cap)
    return variables


def refuse(where: str, what: str, size: int, limit: int) -> None:
    """Raise :class:`TooLargeError` "WHERE: SIZE WHAT, over the limit of LIMIT" if size > limit."""
    if size > limit:
        raise TooLargeError(f"{where}: {size} {what}, over the limit of {limit}")


def array_bytes(shape: Sequence[int], itemsize: int) -> int:
    """Bytes of a dense array of ``shape``: exact, any size.

    >>> array_bytes((1 << 40, 1 << 40), 8)
    9671406556917033397649408
    """
    return prod(shape) * itemsize


__all__ = ["LayerSizes", "layer_sizes", "check_layer_sizes", "check_network_sizes", "refuse", "array_bytes",
           "check_binary_model", "MAX_BINARY_VARIABLES", "BYTES_PER_BINARY_VARIABLE",
           "MAX_POSITIONS", "MAX_PIXELS", "MAX_FIELD_ENTRIES", "MAX_ARRAY_ELEMENTS", "MAX_WEIGHTS_BYTES"]

"""Receptive-field geometry of one layer (docs/math.md#geometry) and the set system of Theorem 1.

Pure functions and frozen dataclasses only: no solver, no file I/O.

Conventions (public, used by the CLI, JSON and tests):

* output positions are ordered row-major (the last spatial axis fastest);
* a *pixel* is a spatial input location, numbered row-major too;
* an *element* is a (pixel, channel) pair; a receptive field holds every
  channel of each of its pixels, so fields are stored as pixel sets and
  ``|S_p| = d0 * #pixels``.

Examples
--------
>>> from ilpregions.core.spec import Network, ConvLayer
>>> inst = layer_instance(Network((3, 3, 1), (ConvLayer(2, 2),)))
>>> inst.positions, inst.field_sizes, inst.union_size
(4, (4, 4, 4, 4), 9)
>>> inst.fields[0]
(0, 1, 3, 4)
>>> inst.coverage([0, 1]), inst.coverage([0, 3])
(6, 7)
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import Iterable, Sequence

from ilpregions.core.errors import InputError, ParameterError
from ilpregions.core.sizes import check_layer_sizes
from ilpregions.core.spec import ConvLayer, DenseLayer, MaxPoolLayer, Network


@dataclass(frozen=True)
class Theorem1Instance:
    """The set system {S_p} of one layer, with the layer's width d1.

    Attributes
    ----------
    input_spatial : spatial sizes of the input (empty for a flat input)
    channels : d0, the input channels per pixel
    filters : d1, neurons per position
    output_spatial : spatial sizes of the output grid (``(1,)`` for dense)
    fields : per position (row-major), the sorted pixel ids of S_p
    kind : "conv", "local" or "dense"
    """

    input_spatial: tuple[int, ...]
    channels: int
    filters: int
    output_spatial: tuple[int, ...]
    fields: tuple[tuple[int, ...], ...]
    kind: str = "local"

    @property
    def positions(self) -> int:
        return len(self.fields)

    @property
    def pixels(self) -> int:
        n = 1
        for size in self.input_spatial:
            n *= size
        return n

    @cached_property
    def field_sizes(self) -> tuple[int, ...]:
        """|S_p| in elements (pixels times channels)."""
        return tuple(len(f) * self.channels for f in self.fields)

    @cached_property
    def caps(self) -> tuple[int, ...]:
        """Largest useful t_p: min(d1, |S_p|), since C(d1, t) = 0 for t > d1."""
        return tuple(min(self.filters, s) for s in self.field_sizes)

    @cached_property
    def field_sets(self) -> tuple[frozenset[int], ...]:
        return tuple(frozenset(f) for f in self.fields)

    def coords_array(self, positions):
        """Output coordinates of ``positions`` as an int64 array, one row each
        (:meth:`position_coords`, vectorised)."""
        import numpy as np

        index = np.asarray(positions, dtype=np.int64)
        return np.stack(np.unravel_index(index, self.output_spatial), axis=1).astype(np.int64)

    @cached_property
    def union_size(self) -> int:
        """U = |∪_p S_p|, the degree of R_N as a polynomial in d1."""
        return self.coverage(range(self.positions))

    def coverage(self, positions: Iterable[int]) -> int:
        """g(J) = |∪_{p∈J} S_p| in elements; a submodular coverage function."""
        union: set[int] = set()
        for p in positions:
            union.update(self.fields[p])
        return len(union) * self.channels

    def pixel_coords(self, pixel: int) -> tuple[int, ...]:
        """Spatial coordinates of a pixel id (row-major)."""
        coords = []
        for size in reversed(self.input_spatial):
            coords.append(pixel % size)
            pixel //= size
        return tuple(reversed(coords))

    def position_coords(self, position: int) -> tuple[int, ...]:
        coords = []
        for size in reversed(self.output_spatial):
            coords.append(position % size)
            position //= size
        return tuple(reversed(coords))

    def element(self, pixel: int, channel: int) -> tuple[int, ...]:
        """An element as the public ``[spatial..., channel]`` list."""
        return self.pixel_coords(pixel) + (channel,)

    def with_filters(self, filters: int) -> "Theorem1Instance":
        return Theorem1Instance(self.input_spatial, self.channels, filters, self.output_spatial,
                                self.fields, self.kind)

    def restricted(self, positions: Sequence[int]) -> "Theorem1Instance":
        """The sub-system on some positions (their fields unchanged)."""
        return Theorem1Instance(self.input_spatial, self.channels, self.filters, (len(positions),),
                                tuple(self.fields[p] for p in positions), self.kind)


def output_shape(network_input: Sequence[int], layer: ConvLayer) -> tuple[int, ...]:
    """Spatial output sizes of a (normalised) conv/local layer on an input shape."""
    from ilpregions.core.spec import conv_output_size
    return tuple(conv_output_size(n, k, s, p, d) for n, k, s, p, d in
                 zip(network_input[:-1], layer.kernel, layer.stride, layer.padding, layer.dilation))


def receptive_field(input_spatial: Sequence[int], layer: ConvLayer, position: Sequence[int]) -> tuple[int, ...]:
    """Sorted pixel ids of S_p for one output position (padded cells dropped).

    >>> from ilpregions.core.spec import Network, ConvLayer
    >>> layer = Network((5, 1), (ConvLayer(1, 3, padding=1),)).layers[0]
    >>> receptive_field((5,), layer, (0,)), receptive_field((5,), layer, (4,))
    ((0, 1), (3, 4))
    """
    per_axis = []
    for n, p, k, s, pad, d in zip(input_spatial, position, layer.kernel, layer.stride,
                                  layer.padding, layer.dilation):
        per_axis.append([x for x in (p * s - pad + a * d for a in range(k)) if 0 <= x < n])
    strides = []
    acc = 1
    for n in reversed(input_spatial):
        strides.append(acc)
        acc *= n
    strides.reverse()
    pixels = (sum(c * st for c, st in zip(coords, strides)) for coords in itertools.product(*per_axis))
    return tuple(sorted(pixels))


def conv_instance(input_shape: Sequence[int], layer: ConvLayer) -> Theorem1Instance:
    """The Theorem-1 set system of a conv/local layer on ``input_shape``.

    Instances are immutable, and building a large one takes a while (0.4 s
    for an ImageNet stem), so the few most recent are kept: the CLI, the
    bounds and the backends ask for the same layer several times.
    """
    check_layer_sizes(input_shape, layer)  # by arithmetic, before building anything
    return _conv_instance(tuple(input_shape), layer)


@lru_cache(maxsize=8)
def _conv_instance(input_shape: tuple[int, ...], layer: ConvLayer) -> Theorem1Instance:
    spatial = tuple(input_shape[:-1])
    out = output_shape(input_shape, layer)
    return Theorem1Instance(spatial, input_shape[-1], layer.filters, out, _all_fields(spatial, layer, out),
                            layer.type)


#: Grids of at most this many (position, tap) pairs are kept (read-only): the instance and the
#: tied supports of one layer both start from the grid.
SMALL_GRID = 100_000


def field_grid(spatial: Sequence[int], layer: ConvLayer, out: Sequence[int]):
    """Every tap of every position at once (numpy): ``(ids, inside)``, both of
    shape (positions, kernel taps), read-only. ``ids[p, t]`` is the pixel id
    tap t of position p would read, ``inside[p, t]`` whether it is a real
    pixel (not padding). Taps in row-major order give increasing pixel ids
    (every axis's coordinate grows with its tap), so each row's inside ids
    are sorted.

    >>> from ilpregions.core.spec import Network, ConvLayer
    >>> layer = Network((3, 1), (ConvLayer(1, 2, padding=1),)).layers[0]
    >>> ids, inside = field_grid((3,), layer, (4,))
    >>> ids.tolist(), inside.tolist()
    ([[-1, 0], [0, 1], [1, 2], [2, 3]], [[False, True], [True, True], [True, True], [True, False]])
    """
    if math.prod(out) * math.prod(layer.kernel) <= SMALL_GRID:
        return _small_grid(tuple(spatial), layer, tuple(out))
    return _grid(spatial, layer, out)


@lru_cache(maxsize=16)
def _small_grid(spatial: tuple[int, ...], layer: ConvLayer, out: tuple[int, ...]):
    return _grid(spatial, layer, out)


def _grid(spatial, layer, out):
    """The grid axis by axis: (positions so far, taps so far) combined with the
    next axis's (outputs, taps) by one broadcast sum, so a few numpy calls per
    axis whatever the size (about 25 µs on tiny layers)."""
    import numpy as np   # lazily: `import ilpregions` imports no numpy

    ids = np.zeros((1, 1), dtype=np.int64)
    ok = np.ones((1, 1), dtype=bool)
    stride = math.prod(spatial)
    for n, o, k, s, pad, d in zip(spatial, out, layer.kernel, layer.stride, layer.padding, layer.dilation):
        stride //= n
        x = np.arange(0, o * s, s)[:, None] + np.arange(-pad, k * d - pad, d)[None, :]   # (outputs, taps)
        p, t = ids.shape
        ids = (ids[:, None, :, None] + (x * stride)[None, :, None, :]).reshape(p * o, t * k)
        ok = (ok[:, None, :, None] & ((x >= 0) & (x < n))[None, :, None, :]).reshape(p * o, t * k)
    ids.setflags(write=False)
    ok.setflags(write=False)
    return ids, ok


def _all_fields(spatial: tuple[int, ...], layer: ConvLayer, out: tuple[int, ...]) -> tuple[tuple[int, ...], ...]:
    """:func:`receptive_field` of every position at once (numpy; a million positions in seconds)."""
    ids, ok = field_grid(spatial, layer, out)
    full = ok.all(axis=1).tolist()
    rows, masks = ids.tolist(), ok.tolist()
    return tuple(tuple(r) if f else tuple(v for v, keep in zip(r, g) if keep)
                 for r, g, f in zip(rows, masks, full))


def dense_instance(input_shape: Sequence[int], layer: DenseLayer) -> Theorem1Instance:
    """A dense layer is one position whose field is the whole input."""
    check_layer_sizes(input_shape, layer)
    spatial = tuple(input_shape[:-1])
    pixels = 1
    for n in spatial:
        pixels *= n
    return Theorem1Instance(spatial, input_shape[-1], layer.units, (1,), (tuple(range(pixels)),), "dense")


def layer_instance(network: Network, index: int | None = None) -> Theorem1Instance:
    """The Theorem-1 set system of a one-layer network (or of layer ``index``).

    Parameters
    ----------
    network : Network
        The architecture.
    index : int, optional
        The layer whose set system is wanted; without it the network must be
        a single conv, local or dense layer (the exact count is for one layer).

    Returns
    -------
    Theorem1Instance
        The receptive fields S_p (as pixel ids), channels d0, filters d1 and
        the caps of every position.

    Raises
    ------
    InputError
        No index and the network is not one conv/local/dense layer, or the
        indexed layer is a max-pool layer (it has no set system).
    TooLargeError
        The layer's positions or fields are beyond the size limits.

    Examples
    --------
    >>> from ilpregions.core.spec import ConvLayer, MaxPoolLayer, Network
    >>> inst = layer_instance(Network((3, 3, 1), (ConvLayer(2, 2),)))
    >>> inst.positions, inst.fields[0], inst.filters
    (4, (0, 1, 3, 4), 2)
    >>> layer_instance(Network((4, 4, 1), (ConvLayer(2, 2), MaxPoolLayer(2))), index=0).positions
    9
    """
    if index is None:
        if len(network.layers) != 1 or isinstance(network.layers[0], MaxPoolLayer):
            kinds = ", ".join(layer.type for layer in network.layers)
            raise InputError(f"layers: the exact count is for one conv/local/dense layer, this model has "
                             f"{len(network.layers)} ({kinds}); use `bounds()` for deeper networks")
        index = 0
    layer = network.layers[index]
    shape = network.input_shapes()[index]
    if isinstance(layer, (ConvLayer, DenseLayer)):
        check_layer_sizes(shape, layer, f"layers[{index}]")
    if isinstance(layer, ConvLayer):
        return _conv_instance(tuple(shape), layer)   # sizes checked just above
    if isinstance(layer, DenseLayer):
        return dense_instance(shape, layer)
    raise InputError(f"layers[{index}]: a {layer.type} layer has no Theorem-1 set system")


def as_instance(model) -> Theorem1Instance:
    """A Theorem1Instance as is, or the set system of a one-layer Network."""
    if isinstance(model, Theorem1Instance):
        return model
    if isinstance(model, Network):
        return layer_instance(model)
    raise ParameterError("model", f"expected a Network or a Theorem1Instance, got {type(model).__name__}")

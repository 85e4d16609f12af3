"""Our upper bound for any stack of conv/local/dense/max-pool/avg-pool layers (docs/bounds.md).

``ilpregions.cnn.upper`` is the smaller of

(a) R_1 · tail_upper(min(U, N_1), [N_2, …, N_L]) -- layers 2..L see a
    ≤ min(U, N_1)-dimensional affine image on each first-layer region
    (ReLU stacks joined by affine maps only: no max-pooling);
(b) the layer-by-layer product: R_1 for the first ReLU layer, then for each
    later layer, on one region of everything before it, whose image has
    dimension ≤ m:

    * ReLU layer with N_l neurons: min(Σ_{i≤m} C(N_l, i), R^loc_l) pieces,
      R^loc_l the Theorem-1 count of its receptive fields *in the input*;
      then m ← min(m, N_l);
    * max-pooling with W windows of k entries: min(k^W, Σ_{i≤m} C(W·C(k,2), i))
      pieces; m ← min(m, W). When it follows a ReLU layer of N entries and its
      windows are disjoint (stride ≥ kernel, no padding), the two together cut
      a region into at most min(their product, (1 + k·2^{k−1})^W · 2^{N − W·k})
      pieces: the sign-and-choice patterns (:func:`joint_pool_factor`);
    * average pooling: linear, no pieces; m ← min(m, its outputs).
"""

from __future__ import annotations

from itertools import product as iproduct

from ilpregions.core.combinatorics import product
from ilpregions.core.geometry import Theorem1Instance, output_shape, receptive_field
from ilpregions.core.spec import AvgPoolLayer, ConvLayer, DenseLayer, MaxPoolLayer, Network
from ilpregions.services.bounds._sizes import is_relu, layer_neurons
from ilpregions.theory import fc_bounds
from ilpregions.theory.tied_bounds import joint_pool_factor, pool_factor

#: Composite-field instances with more field entries than this are not built
#: (their overlap analysis alone would dominate the run time).
MAX_COMPOSITE_ENTRIES = 20_000


def tail_upper(dimension: int, widths: list[int]) -> int:
    """Regions a ReLU stack of ``widths`` cuts a ``dimension``-dim input into, at most.

    min(Montúfar 2017, Serra 2018) for that input dimension (Serra when its DP
    is affordable); 1 for an empty stack.

    Parameters
    ----------
    dimension : int
        The input dimension the stack sees.
    widths : list of int
        Neurons of each ReLU layer.

    Returns
    -------
    int
        The bound, exactly.

    Examples
    --------
    >>> tail_upper(3, [2, 5]), tail_upper(3, [])
    (29, 1)
    """
    if not widths:
        return 1
    best = fc_bounds.montufar2017_upper(dimension, widths)
    if fc_bounds.serra2018_work(dimension, widths) <= fc_bounds.SERRA_MAX_WORK:
        best = min(best, fc_bounds.serra2018_upper(dimension, widths))
    return best


def _window_layer(layer) -> ConvLayer:
    """A pooling layer's windows, as a one-filter conv (for receptive fields)."""
    return ConvLayer(1, layer.kernel, layer.stride, layer.padding, (1,) * len(layer.kernel))


def composite_instances(network: Network) -> list[Theorem1Instance | None]:
    """Per ReLU layer after the first, its neurons' receptive fields *in the input*, as a set system.

    Position q of layer l reads positions T_q of the layer before, so it
    depends on the input pixels ∪_{p∈T_q} S_p (all channels); pooling passes
    fields on like a one-filter conv; a dense layer reads everything. The
    instance carries d_l filters and kind "local".

    Parameters
    ----------
    network : Network
        The architecture.

    Returns
    -------
    list of Theorem1Instance or None
        One per ReLU layer after the first; None where the instance would have
        more than ``MAX_COMPOSITE_ENTRIES`` field entries.

    Examples
    --------
    >>> from ilpregions.core.spec import Network, ConvLayer
    >>> inst = composite_instances(Network((4, 1), (ConvLayer(2, 2), ConvLayer(3, 2))))[0]
    >>> inst.fields, inst.filters
    (((0, 1, 2), (1, 2, 3)), 3)
    """
    if sum(1 for layer in network.layers if is_relu(layer)) < 2:
        return []
    spatial, d0 = network.input_shape[:-1], network.input_shape[-1]
    shapes = network.input_shapes()
    all_pixels = frozenset(range(product(spatial) if spatial else 1))
    fields = None   # None = the raw input: position p reads pixel p
    out: list[Theorem1Instance | None] = []
    seen_relu = False
    for index, layer in enumerate(network.layers):
        if isinstance(layer, DenseLayer):
            union = all_pixels if fields is None else frozenset().union(*fields)
            fields, grid = [union], (1,)
        else:
            if len(shapes[index]) < 2:
                return out + [None] * sum(1 for l in network.layers[index:] if is_relu(l))
            conv = layer if isinstance(layer, ConvLayer) else _window_layer(layer)
            shape = shapes[index]
            grid = output_shape(shape, conv)
            prev = (lambda p: frozenset([p])) if fields is None else (lambda p, f=fields: f[p])
            fields = [frozenset().union(*(prev(p) for p in receptive_field(shape[:-1], conv, q)))
                      for q in iproduct(*(range(n) for n in grid))]
        if not is_relu(layer):
            continue
        if seen_relu:
            units = layer.units if isinstance(layer, DenseLayer) else layer.filters
            too_big = sum(len(f) for f in fields) > MAX_COMPOSITE_ENTRIES
            out.append(None if too_big else Theorem1Instance(spatial, d0, units, grid,
                                                             tuple(tuple(sorted(f)) for f in fields), "local"))
        seen_relu = True
    return out


def _pool_sizes(network: Network, index: int) -> tuple[int, int]:
    """(windows, entries per window) of a pooling layer."""
    layer, out = network.layers[index], network.output_shapes()[index]
    return product(out), product(layer.kernel)


def _joint(network: Network, index: int) -> int | None:
    """:func:`joint_pool_factor` for the max-pooling layer ``index`` and the ReLU layer just before it, or
    None when there is none or the windows overlap or are padded."""
    layer = network.layers[index]
    if index == 0 or not is_relu(network.layers[index - 1]) or any(layer.padding):
        return None
    if any(s < k for s, k in zip(layer.stride, layer.kernel)):
        return None
    windows, size = _pool_sizes(network, index)
    return joint_pool_factor(product(network.output_shapes()[index - 1]), windows, size)


def layerwise_upper(network: Network, first_layer: int | None, union_size: int,
                    composite_counts: list[int | None] | None) -> int:
    """The layer-by-layer product (b) of the module docstring."""
    m = product(network.input_shape)
    factors, widths, composite = [], iter(layer_neurons(network)), iter(composite_counts or [])
    first = True
    for index, layer in enumerate(network.layers):
        if isinstance(layer, MaxPoolLayer):
            windows, size = _pool_sizes(network, index)
            factor = pool_factor(windows, size, m)
            joint = _joint(network, index)
            if joint is not None and factors and joint < factors[-1] * factor:
                factors[-1], factor = joint, 1    # the ReLU layer and this pooling, counted together
            factors.append(factor)
            m = min(m, windows)
        elif isinstance(layer, AvgPoolLayer):
            m = min(m, product(network.output_shapes()[index]))
        else:
            width = next(widths)
            if first and index == 0 and first_layer is not None:
                factors.append(first_layer)
                m = min(union_size, width)
            else:
                factor = fc_bounds.binomial_sum(width, m)
                local = next(composite, None) if not first else None
                factors.append(factor if local is None else min(factor, local))
                m = min(m, width)
            first = False
    return product(factors)


def cnn_upper(network: Network, first_layer: int | None, union_size: int,
              composite_counts: list[int | None] | None = None) -> int:
    """Our upper bound on a CNN's regions: the smaller of (a) and (b) of the module docstring.

    Parameters
    ----------
    network : Network
        The architecture.
    first_layer : int or None
        A proven upper bound on the first layer's maximum (None: unknown).
    union_size : int
        |∪_p S_p| of the first layer (the dimension its regions live in).
    composite_counts : list of int or None, optional
        Theorem-1 counts of :func:`composite_instances` (None where unknown).

    Returns
    -------
    int
        The bound, exactly.

    Examples
    --------
    >>> from ilpregions.core.spec import Network, ConvLayer
    >>> cnn_upper(Network((4, 1), (ConvLayer(2, 2), ConvLayer(3, 2))), 55, 4, [None])
    3135
    """
    best = layerwise_upper(network, first_layer, union_size, composite_counts)
    pools = any(isinstance(layer, MaxPoolLayer) for layer in network.layers)
    if not pools and first_layer is not None and is_relu(network.layers[0]):
        widths = list(layer_neurons(network))
        best = min(best, first_layer * tail_upper(min(union_size, widths[0]), widths[1:]))
    return best


__all__ = ["tail_upper", "composite_instances", "layerwise_upper", "cnn_upper", "MAX_COMPOSITE_ENTRIES"]

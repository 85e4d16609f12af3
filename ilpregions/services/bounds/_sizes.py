"""Sizes of a network: parameters, ReLU neurons, input scalars, output positions (docs/bounds.md).

>>> from ilpregions.core.spec import Network, ConvLayer, MaxPoolLayer, DenseLayer
>>> net = Network((4, 4, 1), (ConvLayer(2, 2), MaxPoolLayer(3), DenseLayer(3)))
>>> layer_params(net), layer_neurons(net), params(net), neurons(net)
((10, 0, 9), (18, 3), 19, 21)
"""

from __future__ import annotations

import math

from ilpregions.core.spec import AvgPoolLayer, ConvLayer, DenseLayer, MaxPoolLayer, Network

POOLS = (MaxPoolLayer, AvgPoolLayer)


def layer_params(network: Network) -> tuple[int, ...]:
    """Weights plus biases of every layer.

    conv: d1·(Π f_i·d0 + 1); local: that once per output position (untied);
    dense from n to m units: m·(n + 1); pooling: 0.

    Parameters
    ----------
    network : Network
        The architecture.

    Returns
    -------
    tuple of int
        One count per layer.

    Examples
    --------
    >>> from ilpregions.core.spec import Network, ConvLayer, DenseLayer
    >>> layer_params(Network((3, 3, 1), (ConvLayer(2, 2), ConvLayer(2, 2, shared=False), DenseLayer(3))))
    (10, 18, 9)
    """
    out = []
    for layer, shape_in, shape_out in zip(network.layers, network.input_shapes(), network.output_shapes()):
        if isinstance(layer, ConvLayer):
            per_filter = math.prod(layer.kernel) * shape_in[-1] + 1
            copies = 1 if layer.shared else math.prod(shape_out[:-1])
            out.append(copies * layer.filters * per_filter)
        elif isinstance(layer, DenseLayer):
            out.append(layer.units * (math.prod(shape_in) + 1))
        else:
            out.append(0)
    return tuple(out)


def params(network: Network) -> int:
    """Total weights plus biases.

    Parameters
    ----------
    network : Network
        The architecture.

    Returns
    -------
    int
        The sum of :func:`layer_params`.

    Examples
    --------
    >>> from ilpregions.core.spec import Network, ConvLayer
    >>> params(Network((3, 3, 1), (ConvLayer(2, 2),)))
    10
    """
    return sum(layer_params(network))


def is_relu(layer) -> bool:
    """Conv, local and dense layers are followed by a ReLU; pooling layers are not."""
    return not isinstance(layer, POOLS)


def layer_neurons(network: Network) -> tuple[int, ...]:
    """N_l, the ReLU neurons of each conv/local/dense layer (pooling skipped).

    Parameters
    ----------
    network : Network
        The architecture.

    Returns
    -------
    tuple of int
        One count per ReLU layer, in order.

    Examples
    --------
    >>> from ilpregions.core.spec import Network, ConvLayer
    >>> layer_neurons(Network((1, 4, 1), (ConvLayer(2, (1, 2)), ConvLayer(3, (1, 2)))))
    (6, 6)
    """
    return tuple(math.prod(shape) for layer, shape in zip(network.layers, network.output_shapes())
                 if is_relu(layer))


def neurons(network: Network) -> int:
    """Total ReLU neurons.

    Parameters
    ----------
    network : Network
        The architecture.

    Returns
    -------
    int
        The sum of :func:`layer_neurons`.

    Examples
    --------
    >>> from ilpregions.core.spec import Network, ConvLayer, MaxPoolLayer
    >>> neurons(Network((4, 4, 1), (ConvLayer(2, 2), MaxPoolLayer(3))))
    18
    """
    return sum(layer_neurons(network))


def input_dim(network: Network) -> int:
    """n0, the number of input scalars.

    Parameters
    ----------
    network : Network
        The architecture.

    Returns
    -------
    int
        The product of the input shape.

    Examples
    --------
    >>> from ilpregions.core.spec import Network, DenseLayer
    >>> input_dim(Network((4, 4, 3), (DenseLayer(2),)))
    48
    """
    return math.prod(network.input_shape)


def layer_positions(network: Network) -> tuple[int, ...]:
    """Output positions of each layer (1 for dense).

    Parameters
    ----------
    network : Network
        The architecture.

    Returns
    -------
    tuple of int
        One count per layer, pooling layers included.

    Examples
    --------
    >>> from ilpregions.core.spec import Network, ConvLayer, DenseLayer
    >>> layer_positions(Network((4, 4, 1), (ConvLayer(2, 2), DenseLayer(3))))
    (9, 1)
    """
    return tuple(math.prod(shape[:-1]) if len(shape) > 1 else 1 for shape in network.output_shapes())


__all__ = ["layer_params", "params", "layer_neurons", "neurons", "input_dim", "layer_positions", "is_relu",
           "POOLS"]

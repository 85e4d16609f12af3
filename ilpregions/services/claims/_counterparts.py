"""The counterparts a real CNN is compared with in ``claims`` (docs/bounds.md#claims-on-real-models).

Every counterpart reads the model's input and has at most the model's
parameters (weights + biases), the largest width that fits (at least one
unit, so a fully-connected net on a large image may have more):

* :func:`shallow_counterpart`: one layer with the geometry of the model's
  first layer (kernel, stride, padding, dilation, shared or not), as many
  filters D as fit;
* :func:`deep_counterpart` (for a one-layer model, which is itself the
  shallow side): the model's layer followed by ``depth − 1`` layers of the
  same kernel and dilation with stride 1 and "same" padding ⌈dilation·(k − 1)/2⌉,
  d filters each;
* :func:`fc_counterpart`: as many dense layers as the model has ReLU layers
  (conv, local, dense), equal width w.

>>> from ilpregions.core.spec import ConvLayer, DenseLayer, Network
>>> from ilpregions.services.bounds import params
>>> model = Network((8, 8, 3), (ConvLayer(4, 3, padding=1), ConvLayer(4, 3, padding=1), DenseLayer(2)))
>>> params(model), params(shallow_counterpart(model)), shallow_counterpart(model).layers[0].filters
(774, 756, 27)
>>> fc = fc_counterpart(model)
>>> len(fc.layers), fc.layers[0].units, params(fc)
(3, 3, 603)
"""

from __future__ import annotations

from ilpregions.core.errors import ParameterError
from ilpregions.core.spec import ConvLayer, DenseLayer, Network
from ilpregions.services.bounds import params
from ilpregions.services.claims._families import fc_width, widest


def relu_depth(network: Network) -> int:
    """The number of ReLU layers (conv, local, dense; pooling has none).

    Parameters
    ----------
    network : Network
        A stack of layers.

    Returns
    -------
    int

    Examples
    --------
    >>> from ilpregions.core.spec import ConvLayer, DenseLayer, MaxPoolLayer, Network
    >>> relu_depth(Network((4, 4, 1), (ConvLayer(2, 2), MaxPoolLayer(3), DenseLayer(3))))
    2
    """
    return sum(layer.type in ("conv", "local", "dense") for layer in network.layers)


def _first_conv(network: Network) -> ConvLayer:
    layer = network.layers[0]
    if not isinstance(layer, ConvLayer):
        raise ParameterError("network", f"the claims compare CNNs, whose first layer is conv or local; "
                                        f"this one starts with a {layer.type} layer")
    return layer


def _like(layer: ConvLayer, filters: int) -> ConvLayer:
    return ConvLayer(filters, layer.kernel, layer.stride, layer.padding, layer.dilation, layer.shared)


def _same(layer: ConvLayer, filters: int) -> ConvLayer:
    # ⌈dilation·(k − 1)/2⌉ on each side: the grid keeps its size (grows by one for an even kernel)
    padding = tuple(-(-dil * (k - 1) // 2) for k, dil in zip(layer.kernel, layer.dilation))
    return ConvLayer(filters, layer.kernel, 1, padding, layer.dilation, layer.shared)


def _axes(values) -> str:
    return str(values[0]) if len(set(values)) == 1 else "×".join(map(str, values))


def _geometry(layer: ConvLayer) -> str:
    """"3×3, stride 1, padding 1" (dilation only when not 1)."""
    text = f"{'×'.join(map(str, layer.kernel))}, stride {_axes(layer.stride)}, padding {_axes(layer.padding)}"
    return text + ("" if set(layer.dilation) == {1} else f", dilation {_axes(layer.dilation)}")


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def shallow_counterpart(network: Network) -> Network:
    """One layer like the model's first, with the most filters within the model's parameters.

    Parameters
    ----------
    network : Network
        A CNN (its first layer conv or local).

    Returns
    -------
    Network
        Named after its size.

    Raises
    ------
    ParameterError
        When the first layer is not conv or local (``network``).

    Examples
    --------
    >>> from ilpregions.core.spec import ConvLayer, DenseLayer, Network
    >>> shallow_counterpart(Network((4, 4, 1), (ConvLayer(2, 2), DenseLayer(3)))).layers[0].filters
    13
    """
    first = _first_conv(network)
    per_filter = params(Network(network.input_shape, (_like(first, 1),)))   # one layer: linear in the filters
    filters = max(1, params(network) // per_filter)
    layer = Network(network.input_shape, (_like(first, filters),)).layers[0]
    return Network(network.input_shape, (layer,),
                   name=f"1 {layer.type} layer of {_plural(filters, 'filter')} {_geometry(layer)}")


def deep_counterpart(network: Network, depth: int = 2) -> Network:
    """``depth`` layers of d filters each, the largest d within the model's parameters.

    The first is the model's first layer with d filters; the others keep its
    kernel and dilation, with stride 1 and "same" padding (they fit on any grid).

    Parameters
    ----------
    network : Network
        A CNN (its first layer conv or local); for ``claims``, a one-layer model.
    depth : int
        Layers of the counterpart, at least 2.

    Returns
    -------
    Network
        Named after its size.

    Raises
    ------
    ParameterError
        When the first layer is not conv or local (``network``), or ``depth`` < 2.

    Examples
    --------
    >>> from ilpregions.core.spec import ConvLayer, Network
    >>> deep = deep_counterpart(Network((8, 8, 3), (ConvLayer(16, 3, padding=1),)))
    >>> [layer.filters for layer in deep.layers], params(deep)
    ([5, 5], 370)
    """
    if depth < 2:
        raise ParameterError("depth", f"a deep counterpart has at least 2 layers, got {depth}")
    first = _first_conv(network)

    def build(d: int) -> Network:
        return Network(network.input_shape, (_like(first, d),) + tuple(_same(first, d) for _ in range(depth - 1)))

    d = widest(lambda w: params(build(w)), params(network))
    deep = build(d)
    return Network(deep.input_shape, deep.layers,
                   name=f"{depth} {deep.layers[0].type} layers of {_plural(d, 'filter')}: {_geometry(deep.layers[0])}"
                        f", then {_geometry(deep.layers[1])}")


def fc_counterpart(network: Network) -> Network:
    """A fully-connected net on the model's input, one dense layer per ReLU layer of the model, equal widths.

    Parameters
    ----------
    network : Network
        Any model.

    Returns
    -------
    Network
        Named after its size.

    Examples
    --------
    >>> from ilpregions.core.spec import ConvLayer, Network
    >>> fc = fc_counterpart(Network((32, 32, 3), (ConvLayer(16, 3, padding=1),)))
    >>> fc.layers[0].units, params(fc)    # 448 parameters do not pay for one unit on 3,072 inputs
    (1, 3073)
    """
    inputs = 1
    for n in network.input_shape:
        inputs *= n
    depth = relu_depth(network)
    w = fc_width(inputs, depth, params(network))
    return Network(network.input_shape, tuple(DenseLayer(w) for _ in range(depth)),
                   name=f"{_plural(depth, 'dense layer')} of width {w}")


__all__ = ["shallow_counterpart", "deep_counterpart", "fc_counterpart", "relu_depth"]

"""The network families of ``claims``: deep and one-layer CNNs, and fully-connected nets of equal parameters.

>>> [layer.type for layer in deep_cnn(4, 3, 2).layers]
['conv', 'conv', 'conv']
"""

from __future__ import annotations

from ilpregions.core.errors import ParameterError

from ilpregions.core.spec import ConvLayer, DenseLayer, Network
from ilpregions.theory.fc_bounds import fc_params



def spatial_sizes(n0) -> tuple[int, ...]:
    """An int means a 1-D signal of that length; a list gives the spatial sizes."""
    spatial = (n0,) if isinstance(n0, int) else tuple(n0)
    if not spatial or any(n < 2 for n in spatial):
        raise ParameterError("n0", f"input sizes must be >= 2, got {n0!r}")
    return spatial


def family_label(n0) -> str:
    return "×".join(map(str, spatial_sizes(n0))) + "×1"


def deep_cnn(n0, depth: int, d: int, last_stride: int = 2, shared_last: bool = True) -> Network:
    """``depth`` conv layers of d filters on an n0 grid (an int: a 1-D signal), one channel.

    Layers 1..L−1: kernel 3, padding 1 (every layer keeps the input grid); layer
    L: kernel 2 with stride ``last_stride`` (2: disjoint fields; 1: overlapping).

    Parameters
    ----------
    n0 : int or tuple of int
        The input grid.
    depth : int
        The number of conv layers L.
    d : int
        Filters per layer.
    last_stride : int
        Stride of the last layer.
    shared_last : bool
        False makes the last layer locally connected (the formula's view).

    Returns
    -------
    Network
        The deep CNN, named after the family.

    Raises
    ------
    ValueError
        ``depth`` or ``d`` is below 1.

    Examples
    --------
    >>> net = deep_cnn(4, 3, 2)
    >>> [layer.type for layer in net.layers], net.output_shapes()[-1]
    (['conv', 'conv', 'conv'], (2, 2))
    """
    spatial = spatial_sizes(n0)
    if depth < 1 or d < 1:
        raise ParameterError("depth" if depth < 1 else "d", f"must be >= 1 (depth {depth}, d {d})")
    layers = ([ConvLayer(d, 3, padding=1) for _ in range(depth - 1)]
              + [ConvLayer(d, 2, stride=last_stride, shared=shared_last)])
    return Network(spatial + (1,), tuple(layers), name=f"deep CNN {family_label(n0)} L={depth} d={d}")


def shallow_cnn(n0, budget: int) -> Network:
    """One conv layer (kernel 3, padding 1) with the most filters within ``budget`` parameters.

    Parameters
    ----------
    n0 : int or tuple of int
        The input grid (an int: a 1-D signal), one channel.
    budget : int
        The most parameters allowed (at least one filter is used).

    Returns
    -------
    Network
        The one-layer CNN.

    Examples
    --------
    >>> shallow_cnn(4, 32).layers[0].filters
    8
    """
    spatial = spatial_sizes(n0)
    filters = max(1, budget // (3 ** len(spatial) + 1))
    return Network(spatial + (1,), (ConvLayer(filters, 3, padding=1),), name=f"shallow CNN {family_label(n0)} D={filters}")


def fc_width(n0: int, depth: int, budget: int) -> int:
    """The largest equal width w with fc_params(n0, [w]*depth) ≤ budget (at least 1); n0 = input scalars.

    Parameters
    ----------
    n0 : int
        Input scalars.
    depth : int
        Dense layers.
    budget : int
        The most parameters allowed.

    Returns
    -------
    int
        The width, found by bisection (parameters grow with w).

    Examples
    --------
    >>> fc_width(4, 3, 32), fc_params(4, [2, 2, 2]), fc_params(4, [3, 3, 3])
    (2, 22, 39)
    """
    return widest(lambda w: fc_params(n0, [w] * depth), budget)


def widest(cost, budget: int) -> int:
    """The largest width w ≥ 1 with cost(w) ≤ budget (1 when none fits), by bisection; cost grows with w.

    Parameters
    ----------
    cost : callable
        ``cost(w)``, the parameters at width w, non-decreasing in w.
    budget : int
        The most parameters allowed.

    Returns
    -------
    int

    Examples
    --------
    >>> widest(lambda w: 10 * w, 35), widest(lambda w: 10 * w, 5)
    (3, 1)
    """
    lo, hi = 1, max(2, budget)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if cost(mid) <= budget:
            lo = mid
        else:
            hi = mid - 1
    return lo


def fc_net(n0, depth: int, budget: int) -> Network:
    """A fully-connected net on the same input, ``depth`` equal-width layers within ``budget`` parameters.

    Parameters
    ----------
    n0 : int or tuple of int
        The input grid (an int: a 1-D signal), one channel.
    depth : int
        Dense layers.
    budget : int
        The most parameters allowed.

    Returns
    -------
    Network
        The network, its width from :func:`fc_width`.

    Examples
    --------
    >>> [layer.units for layer in fc_net(4, 3, 32).layers]
    [2, 2, 2]
    """
    spatial = spatial_sizes(n0)
    inputs = 1
    for n in spatial:
        inputs *= n
    w = fc_width(inputs, depth, budget)
    return Network(spatial + (1,), tuple(DenseLayer(w) for _ in range(depth)),
                   name=f"FC {family_label(n0)} L={depth} w={w}")


__all__ = ["deep_cnn", "shallow_cnn", "fc_width", "fc_net", "widest"]

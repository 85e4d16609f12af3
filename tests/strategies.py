"""Hypothesis strategies shared by the property tests."""

from __future__ import annotations

from hypothesis import assume
from hypothesis import strategies as st

from ilpregions.core.errors import SpecError
from ilpregions.core.geometry import layer_instance
from ilpregions.core.spec import ConvLayer, Network


@st.composite
def geometries(draw, max_axes: int, max_extra: int, max_d0: int):
    """(sizes, kernels, strides, paddings, dilations, d0) of a random layer: 1..max_axes
    axes, kernel ≤ 3, stride and dilation ≤ 2, padding < kernel, each input at most
    ``max_extra`` longer than the dilated kernel."""
    axes = draw(st.integers(1, max_axes))
    sizes, kernels, strides, pads, dils = [], [], [], [], []
    for _ in range(axes):
        kernels.append(draw(st.integers(1, 3)))
        dils.append(draw(st.integers(1, 2)))
        strides.append(draw(st.integers(1, 2)))
        pads.append(draw(st.integers(0, kernels[-1] - 1)))
        span = dils[-1] * (kernels[-1] - 1) + 1
        sizes.append(draw(st.integers(max(1, span - 2 * pads[-1]), span + max_extra)))
    return sizes, kernels, strides, pads, dils, draw(st.integers(1, max_d0))


@st.composite
def local_layers(draw, max_axes: int, max_extra: int, max_d0: int, d1, max_positions: int,
                 max_union: int | None = None):
    """A random locally connected layer: 1..max_axes axes, kernel ≤ 3, stride
    and dilation ≤ 2, padding < kernel, each input at most ``max_extra``
    longer than the dilated kernel; ``d1`` an int or a strategy."""
    sizes, kernels, strides, pads, dils, d0 = draw(geometries(max_axes, max_extra, max_d0))
    filters = d1 if isinstance(d1, int) else draw(d1)
    try:
        net = Network(tuple(sizes) + (d0,), (ConvLayer(filters, tuple(kernels), tuple(strides), tuple(pads),
                                                       tuple(dils), shared=False),))
        inst = layer_instance(net)
    except SpecError:
        assume(False)
    assume(inst.positions <= max_positions)
    if max_union is not None:
        assume(inst.union_size <= max_union)
    return inst

"""ilpregions: exact counts and bounds for the linear regions of ReLU CNNs.

Importing the package is cheap: solvers are imported only when used.

>>> import ilpregions
>>> net = ilpregions.Network((4, 1), (ilpregions.ConvLayer(filters=2, kernel=2),))
>>> ilpregions.count_regions(net, backend="cpsat").regions
55
"""

from __future__ import annotations

__version__ = "0.1.0"

from .errors import InputError, SpecError  # noqa: E402
from .spec import ConvLayer, DenseLayer, LocalLayer, MaxPoolLayer, Network, load, loads  # noqa: E402

__all__ = ["__version__", "Network", "ConvLayer", "LocalLayer", "DenseLayer", "MaxPoolLayer",
           "load", "loads", "count_regions", "layer_instance", "InputError", "SpecError"]


def __getattr__(name):
    # Lazy: these pull in numpy and the backends' glue only when first used.
    if name == "count_regions":
        from .counting import count_regions
        return count_regions
    if name == "layer_instance":
        from .geometry import layer_instance
        return layer_instance
    raise AttributeError(f"module 'ilpregions' has no attribute {name!r}")

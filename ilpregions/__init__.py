"""ilpregions: exact counts and bounds for the linear regions of ReLU CNNs.

Importing the package is cheap: solvers, numpy glue and torch are imported
only when a function that needs them is first used (PEP 562 lazy exports).

The public API mirrors the command line:

==================  ==========================================  ===================
Python              what it does                                CLI
==================  ==========================================  ===================
``load``/``loads``  read and validate a TOML architecture spec  (every command)
``dumps``           write a :class:`Network` back as TOML
``count_regions``   exact Theorem-1 count of one layer          ``count``
``check``           is a t-vector in K_N? with a certificate    ``check``
``bounds``          named lower/upper bounds, any depth         ``bounds``
``compare``         every counting backend side by side         ``compare``
``regions``         exact regions of one concrete network       ``regions``
``tied_max``        maximal count with shared filters           ``tied-max``
``from_torch``      an ``nn.Sequential`` to a spec + weights    ``import-torch``
``sweep``           a grid of architectures, in parallel        ``sweep``
``slice_network``   exact pieces on a segment or plane          ``slice``
``line_density``    exact pieces along many lines, per length   ``slice --lines``
==================  ==========================================  ===================

Each function lives in a module under :mod:`ilpregions.services` (the layer
picture is in docs/architecture.md); the top level only re-exports it.

Examples
--------
>>> import ilpregions
>>> net = ilpregions.Network((4, 1), (ilpregions.ConvLayer(filters=2, kernel=2),))
>>> ilpregions.count_regions(net, backend="cpsat").regions
55

Specs round-trip through TOML, and equal architectures compare equal however
they were written:

>>> text = ilpregions.dumps(net)
>>> print(text, end="")
input = [
    4,
    1,
]
<BLANKLINE>
[[layers]]
type = "conv"
filters = 2
kernel = [
    2,
]
stride = [
    1,
]
padding = [
    0,
]
dilation = [
    1,
]
>>> ilpregions.loads(text) == ilpregions.Network((4, 1), (ilpregions.ConvLayer(2, [2], stride=1),))
True

Results are frozen dataclasses:

>>> result = ilpregions.count_regions(ilpregions.Network((2, 2, 1), (ilpregions.DenseLayer(3),)))
>>> result.regions, result.exact, result.union_size    # Pascanu et al.: sum_{i<=4} C(3, i)
(8, True, 4)

The paper's 3x3 example, through the rest of the API:

>>> net = ilpregions.Network((3, 3, 1), (ilpregions.ConvLayer(filters=2, kernel=2),))
>>> ilpregions.count_regions(net).regions                 # Theorem 1
256
>>> ilpregions.check(net, [4, 4, 0, 1]).violated          # t_0 + t_1 = 8 > |S_0 u S_1| = 6
Violation(positions=(0, 1), sum=8, union=6)
>>> ilpregions.bounds(net).upper
256
>>> ilpregions.regions(net, seed=1).regions               # a concrete CNN: shared filters
255
>>> ilpregions.tied_max(net).gap                          # the formula is 1 too high here
1
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

from ilpregions.core.errors import InputError, SpecError  # noqa: E402
from ilpregions.core.spec import ConvLayer, DenseLayer, LocalLayer, MaxPoolLayer, Network  # noqa: E402
from ilpregions.core.spec_toml import dumps, load, loads  # noqa: E402

#: Lazily exported names: public name -> (module, attribute in that module).
_LAZY: dict[str, tuple[str, str]] = {
    "count_regions": ("services.count", "count_regions"),
    "layer_instance": ("core.geometry", "layer_instance"),
    "Theorem1Instance": ("core.geometry", "Theorem1Instance"),
    "check": ("services.check", "check"),
    "bounds": ("services.bounds", "compute_bounds"),
    "compare": ("services.count", "compare"),
    "regions": ("services.regions", "count_linear_regions"),
    "tied_max": ("services.tied", "tied_max"),
    "from_torch": ("services.torch", "from_torch"),
    "sweep": ("services.sweep", "run_sweep"),
    "slice_network": ("services.slicing", "slice_network"),
    "slice_lines": ("services.slicing", "slice_lines"),
    "line_density": ("services.slicing", "line_density"),
    "random_lines": ("services.slicing", "random_lines"),
    "load_grid": ("services.sweep", "load_grid"),
    "evaluate_claims": ("services.claims", "evaluate_claims"),
    # result types (frozen dataclasses)
    "CountResult": ("core.results", "CountResult"),
    "Bound": ("core.results", "Bound"),
    "EnumerationOutcome": ("core.results", "EnumerationOutcome"),
    "FeasibilityResult": ("services.check", "FeasibilityResult"),
    "Violation": ("services.check", "Violation"),
    "BoundsReport": ("services.bounds", "BoundsReport"),
    "RegionsResult": ("services.regions", "RegionsResult"),
    "TiedResult": ("services.tied", "TiedResult"),
    "ClaimResult": ("services.claims", "ClaimResult"),
    "ImportedNetwork": ("services.torch", "ImportedNetwork"),
    "Grid": ("services.sweep", "Grid"),
    "SweepSummary": ("services.sweep", "SweepSummary"),
    "LineDensity": ("services.slicing", "LineDensity"),
}


# `from ilpregions import *` exports every public name.
__all__ = ["__version__", "Network", "ConvLayer", "LocalLayer", "DenseLayer", "MaxPoolLayer",
           "load", "loads", "dumps", "InputError", "SpecError", *_LAZY]


def __getattr__(name: str):
    try:
        module_name, attribute = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module 'ilpregions' has no attribute {name!r}") from None
    value = getattr(importlib.import_module(f"{__name__}.{module_name}"), attribute)
    globals()[name] = value  # cache: later lookups skip __getattr__
    return value


def __dir__():
    return sorted(set(globals()) | set(_LAZY))

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
==================  ==========================================  ===================

A name whose module is not part of this build raises an ``AttributeError``
that names the missing module. ``regions`` and ``sweep`` are also the names of
submodules; those submodules are callable, so ``ilpregions.regions(net, seed=1)``
and ``ilpregions.regions.count_linear_regions`` both work.

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
input = [4, 1]
<BLANKLINE>
[[layers]]
type = "conv"
filters = 2
kernel = [2]
stride = [1]
padding = [0]
dilation = [1]
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
import sys
import types
from pathlib import Path

__version__ = "0.1.0"

from .errors import InputError, SpecError  # noqa: E402
from .spec import (ConvLayer, DenseLayer, LocalLayer, MaxPoolLayer, Network,  # noqa: E402
                   dumps, load, loads)

#: Lazily exported names: public name -> (module, attribute in that module).
_LAZY: dict[str, tuple[str, str]] = {
    "count_regions": ("counting", "count_regions"),
    "layer_instance": ("geometry", "layer_instance"),
    "Theorem1Instance": ("geometry", "Theorem1Instance"),
    "check": ("feasibility", "check"),
    "bounds": ("multilayer", "compute_bounds"),
    "compare": ("comparison", "compare"),
    "regions": ("regions", "count_linear_regions"),
    "tied_max": ("tied", "tied_max"),
    "from_torch": ("torch_import", "from_torch"),
    "sweep": ("sweep", "run_sweep"),
    "load_grid": ("sweep", "load_grid"),
    "evaluate_claims": ("claims", "evaluate_claims"),
    # result types (frozen dataclasses)
    "CountResult": ("results", "CountResult"),
    "Bound": ("results", "Bound"),
    "EnumerationOutcome": ("results", "EnumerationOutcome"),
    "FeasibilityResult": ("feasibility", "FeasibilityResult"),
    "Violation": ("feasibility", "Violation"),
    "BoundsReport": ("multilayer", "BoundsReport"),
    "RegionsResult": ("regions", "RegionsResult"),
    "TiedResult": ("tied", "TiedResult"),
    "ClaimResult": ("claims", "ClaimResult"),
    "ImportedNetwork": ("torch_import", "ImportedNetwork"),
    "Grid": ("sweep", "Grid"),
    "SweepSummary": ("sweep", "SweepSummary"),
}


def _present(module: str) -> bool:
    # A file check, not an import: keeps `import ilpregions` cheap.
    here = Path(__file__).parent
    return (here / f"{module}.py").exists() or (here / module / "__init__.py").exists()


# `from ilpregions import *` exports what this build has.
__all__ = ["__version__", "Network", "ConvLayer", "LocalLayer", "DenseLayer", "MaxPoolLayer",
           "load", "loads", "dumps", "InputError", "SpecError",
           *(name for name, (module, _) in _LAZY.items() if _present(module))]


#: Public names that are also submodules of the same name. Python binds a
#: submodule to the package attribute when it is imported, which would hide
#: the function; instead such a submodule is made callable (it calls the
#: function), so ``ilpregions.regions(...)`` and ``ilpregions.regions.x``
#: both work whatever was imported first.
_CALLABLE_MODULES = {"regions": "count_linear_regions", "sweep": "run_sweep"}


class _CallableModule(types.ModuleType):
    """A submodule that is also the public function of the same name."""

    def __call__(self, *args, **kwargs):
        function = _CALLABLE_MODULES[self.__name__.rpartition(".")[2]]
        return getattr(self, function)(*args, **kwargs)


class _Package(types.ModuleType):
    def __setattr__(self, name, value):
        if name in _CALLABLE_MODULES and isinstance(value, types.ModuleType) \
                and value.__name__ == f"{__name__}.{name}":
            value.__class__ = _CallableModule
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package


def __getattr__(name: str):
    if name in _CALLABLE_MODULES:
        # Importing the submodule binds it here (made callable by _Package).
        try:
            return importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"{__name__}.{name}":
                raise
            raise AttributeError(f"ilpregions.{name} needs the module {__name__}.{name}, which is "
                                 f"not part of this build") from None
    try:
        module_name, attribute = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module 'ilpregions' has no attribute {name!r}") from None
    qualified = f"{__name__}.{module_name}"
    try:
        module = importlib.import_module(qualified)
    except ModuleNotFoundError as exc:
        if exc.name != qualified:
            raise  # the module exists but one of its own imports is missing
        raise AttributeError(f"ilpregions.{name} needs the module {qualified}, which is not part "
                             f"of this build") from None
    try:
        value = getattr(module, attribute)
    except AttributeError:
        raise AttributeError(f"ilpregions.{name} needs {qualified}.{attribute}, which this build's "
                             f"{qualified} does not define") from None
    globals()[name] = value  # cache: later lookups skip __getattr__
    return value


def __dir__():
    return sorted(set(globals()) | set(_LAZY))

"""Solver backends behind one small interface (one module per backend).

Each backend module is imported lazily, only when it is used, so that
``import ilpregions`` never pulls in OR-Tools, PuLP, HiGHS or SCIP.

What a backend offers per task is the :class:`typing.Protocol` of that task
in :mod:`ilpregions.backends.protocols` (:class:`CountBackend`,
:class:`CheckBackend`, :class:`LPBackend`, :class:`ExportBackend`,
:class:`EvaluateBackend`, :class:`TiedBackend`, :class:`SliceBackend`,
:class:`CellBackend`); :data:`BACKENDS` says which tasks each backend
serves. Every engine is here: the solvers, the Theorem-1 DP (``dp``), the
subspace DP of the shared-filter maximum (``subspace``) and the exact
slicer (``slicer``). Services reach them only through :func:`load`, never
by importing a backend's module (tests/test_layers.py checks it). A *variant* (``cpsat-rows``, ``cpsat-binary``) is a registered name
for one backend module called through another function and/or with fixed
options; :func:`load` binds them, so callers never import a backend module.

Examples
--------
>>> [name for name in backend_names(COUNT)][:3]
['dp', 'cpsat', 'bruteforce']
>>> resolve("cpsat-binary", COUNT).summary.split(":")[0]
'CP-SAT counting the plain solutions of the binary neuron-selection model'
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from ilpregions.core.errors import BackendUnavailableError, UnknownBackendError

COUNT = "count"
CHECK = "check"
LP = "lp"
EXPORT = "export"
EVALUATE = "evaluate"
TIED = "tied"
SLICE = "slice"
CELLS = "cells"


@dataclass(frozen=True)
class BackendSpec:
    """Static facts about one backend: what it can do and what it needs.

    ``entry`` renames a task's function (task -> function name in the module)
    and ``options`` are keyword arguments fixed for every call: together they
    make a variant of a module's backend.
    """

    name: str
    module: str
    tasks: frozenset[str]
    requires: tuple[str, ...]
    extra: str | None
    exact_count: bool
    summary: str
    entry: tuple[tuple[str, str], ...] = ()
    options: tuple[tuple[str, Any], ...] = ()

    @property
    def is_variant(self) -> bool:
        return bool(self.entry or self.options)

    def is_available(self) -> bool:
        """True when the backend's module and its dependencies can be imported."""
        try:
            if importlib.util.find_spec(self.module) is None:
                return False
        except ModuleNotFoundError:
            return False
        return all(importlib.util.find_spec(req) is not None for req in self.requires)


class _Variant:
    """A backend module seen through a variant's entry points and options."""

    def __init__(self, spec: BackendSpec, module: ModuleType):
        self.name = spec.name
        self._module = module
        self._entry = dict(spec.entry)
        self._options = dict(spec.options)

    def __getattr__(self, attribute: str):
        target = getattr(self._module, self._entry.get(attribute, attribute))
        if callable(target) and self._options and attribute in (COUNT, CHECK, "lp_max"):
            return functools.partial(target, **self._options)
        return target


def _spec(name, module, tasks, requires=(), extra=None, exact_count=False, summary="", entry=(),
          options=()):
    return BackendSpec(name, f"ilpregions.backends.{module}", frozenset(tasks), tuple(requires),
                       extra, exact_count, summary, tuple(entry), tuple(options))


BACKENDS: dict[str, BackendSpec] = {
    spec.name: spec for spec in (
        _spec("dp", "dp.engine", {COUNT, EVALUATE}, ("numpy",), exact_count=True,
              summary="frontier dynamic programming over polymatroid states (fast, exact)"),
        _spec("cpsat", "cpsat", {COUNT, CHECK, EXPORT}, ("ortools",), exact_count=True,
              summary="CP-SAT enumeration of K_N with a projecting solution callback"),
        _spec("bruteforce", "bruteforce", {COUNT}, ("numpy",), exact_count=True,
              summary="vectorised enumeration of the t-box with Hall's condition (tiny cases)"),
        _spec("scip", "scip", {COUNT, CHECK}, ("pyscipopt",), extra="scip", exact_count=True,
              summary="SCIP solution counting of the binary neuron-selection model"),
        _spec("cpsat-rows", "cpsat", {COUNT}, ("ortools",), exact_count=True,
              options=(("project", False),),
              summary="CP-SAT enumerating every feasible t: the union rows, no projection"),
        _spec("cpsat-binary", "cpsat", {COUNT}, ("ortools",), exact_count=True,
              entry=((COUNT, "count_binary"),),
              summary="CP-SAT counting the plain solutions of the binary neuron-selection model: "
                      "each t has Π_p C(d1, t_p) of them (small counts only)"),
        _spec("flow", "flow", {CHECK}, ("networkx",),
              summary="max-flow / Hall's theorem with certificates"),
        _spec("cbc", "cbc", {CHECK, LP, EXPORT}, ("pulp",),
              summary="CBC through PuLP: feasibility and LP only, cannot enumerate"),
        _spec("highs", "highs", {CHECK, LP, CELLS}, ("highspy",),
              summary="HiGHS: feasibility and LP only; the cell LPs of the region tree"),
        _spec("subspace", "subspace", {TIED}, ("numpy", "numba"),
              summary="subspace frontier DP over GF(p): independent subsets of the shifted-filter vectors "
                      "(the shared-filter maximum, a proven lower bound per draw)"),
        _spec("slicer", "slicing", {SLICE}, ("numpy", "numba", "scipy"),
              summary="exact pieces of a concrete network on a segment or a plane: float64 cuts, "
                      "each piece certified by a rigorous error bound or in exact arithmetic"),
    )
}

AUTO = "auto"


def backend_names(task: str) -> list[str]:
    """Every known backend for a task, installed or not (variants included).

    Parameters
    ----------
    task : str
        A task name: ``COUNT``, ``CHECK``, ``LP``, ``EXPORT``, ``EVALUATE``,
        ``TIED``, ``SLICE`` or ``CELLS``.

    Returns
    -------
    list of str
        The registered names serving ``task``, in registry order; empty for
        an unknown task.

    Examples
    --------
    >>> backend_names(TIED), backend_names(CHECK)
    (['subspace'], ['cpsat', 'scip', 'flow', 'cbc', 'highs'])
    """
    return [name for name, spec in BACKENDS.items() if task in spec.tasks]


def available_backends(task: str) -> list[str]:
    """The backends for a task whose dependencies are installed.

    Parameters
    ----------
    task : str
        A task name (see :func:`backend_names`).

    Returns
    -------
    list of str
        The names of :func:`backend_names` whose module and required packages
        can be imported here.

    Examples
    --------
    >>> "dp" in available_backends(COUNT)
    True
    >>> set(available_backends(COUNT)) <= set(backend_names(COUNT))
    True
    """
    return [name for name in backend_names(task) if BACKENDS[name].is_available()]


def resolve(name: str, task: str) -> BackendSpec:
    """Look a backend up by name for a task, without importing it.

    Parameters
    ----------
    name : str
        A registered backend name (``BACKENDS``).
    task : str
        The task it should serve.

    Returns
    -------
    BackendSpec
        The backend's static facts: module, tasks, requirements, extra.

    Raises
    ------
    UnknownBackendError
        ``name`` is unknown or does not serve ``task``; the message lists the
        valid names (and ``auto`` for counting).

    Examples
    --------
    >>> resolve("flow", CHECK).requires
    ('networkx',)
    >>> resolve("flow", COUNT)
    Traceback (most recent call last):
    ...
    ilpregions.core.errors.UnknownBackendError: unknown count backend 'flow'; valid backends: auto, bruteforce, cpsat, cpsat-binary, cpsat-rows, dp, scip
    """
    spec = BACKENDS.get(name)
    if spec is None or task not in spec.tasks:
        valid = backend_names(task) + ([AUTO] if task == COUNT else [])
        raise UnknownBackendError(name, valid, task)
    return spec


def install_hint(spec: BackendSpec) -> str:
    """How to get a backend's dependencies, as a pip command.

    Parameters
    ----------
    spec : BackendSpec
        A registry entry (``BACKENDS[name]``).

    Returns
    -------
    str
        ``pip install "ilpregions[extra]"`` when the backend has an extra,
        else ``pip install`` of its required packages.

    Examples
    --------
    >>> install_hint(BACKENDS["scip"])
    'pip install "ilpregions[scip]"'
    >>> install_hint(BACKENDS["flow"])
    'pip install networkx'
    """
    return f'pip install "ilpregions[{spec.extra}]"' if spec.extra else \
        f"pip install {' '.join(spec.requires)}"


#: Backends already loaded (name -> object): engines are looked up on hot paths.
_LOADED: dict[str, Any] = {}


def load(name: str, task: str):
    """The backend ``name`` for ``task``, imported on first use.

    Parameters
    ----------
    name : str
        A registered backend name (``BACKENDS``), variants included.
    task : str
        The task it is loaded for.

    Returns
    -------
    module or variant
        An object satisfying the task's Protocol in
        :mod:`ilpregions.backends.protocols` (the backend's module, or for a
        variant a view of it with the variant's entry points and options).
        Later calls return the same object.

    Raises
    ------
    UnknownBackendError
        ``name`` is unknown or does not serve ``task``.
    BackendUnavailableError
        Its dependencies are not installed; the message says what to install.

    Examples
    --------
    >>> from ilpregions.core.geometry import layer_instance
    >>> from ilpregions.core.spec import ConvLayer, Network
    >>> inst = layer_instance(Network((3, 3, 1), (ConvLayer(2, 2),)))
    >>> load("dp", COUNT).count(inst).regions
    256
    """
    spec = resolve(name, task)
    loaded = _LOADED.get(name)
    if loaded is not None:
        return loaded
    if not spec.is_available():
        raise BackendUnavailableError(f"backend {name!r} is not installed here ({install_hint(spec)})")
    module = importlib.import_module(spec.module)
    loaded = _LOADED[name] = _Variant(spec, module) if spec.is_variant else module
    return loaded


__all__ = ["BACKENDS", "BackendSpec", "COUNT", "CHECK", "LP", "EXPORT", "EVALUATE", "TIED", "SLICE", "CELLS", "AUTO",
           "backend_names", "available_backends", "resolve", "load", "install_hint"]

"""Solver backends behind one small interface (one module per backend).

Each backend module is imported lazily, only when it is used, so that
``import ilpregions`` never pulls in OR-Tools, PuLP, HiGHS or SCIP.

A backend module offers some of these functions, announced by its
capability flags in :data:`BACKENDS`:

* ``count(instance, *, time_limit, progress) -> EnumerationOutcome``  (task "count")
* ``check(instance, t) -> FeasibilityResult``                         (task "check")
* ``lp_max(instance, weights, *, caps) -> (value, point)``            (task "lp")
"""

from __future__ import annotations

import importlib
import importlib.util
from dataclasses import dataclass
from types import ModuleType

from ilpregions.core.errors import BackendUnavailableError, UnknownBackendError

COUNT = "count"
CHECK = "check"
LP = "lp"


@dataclass(frozen=True)
class BackendSpec:
    """Static facts about one backend: what it can do and what it needs."""

    name: str
    module: str
    tasks: frozenset[str]
    requires: tuple[str, ...]
    extra: str | None
    exact_count: bool
    summary: str

    def is_available(self) -> bool:
        """True when the backend's module and its dependencies can be imported."""
        try:
            if importlib.util.find_spec(self.module) is None:
                return False
        except ModuleNotFoundError:
            return False
        return all(importlib.util.find_spec(req) is not None for req in self.requires)


def _spec(name, module, tasks, requires=(), extra=None, exact_count=False, summary=""):
    return BackendSpec(name, f"ilpregions.backends.{module}", frozenset(tasks), tuple(requires),
                       extra, exact_count, summary)


BACKENDS: dict[str, BackendSpec] = {
    spec.name: spec for spec in (
        _spec("dp", "dp.engine", {COUNT}, ("numpy",), exact_count=True,
              summary="frontier dynamic programming over polymatroid states (fast, exact)"),
        _spec("cpsat", "cpsat", {COUNT, CHECK}, ("ortools",), exact_count=True,
              summary="CP-SAT enumeration of K_N with a projecting solution callback"),
        _spec("bruteforce", "bruteforce", {COUNT}, ("numpy",), exact_count=True,
              summary="vectorised enumeration of the t-box with Hall's condition (tiny cases)"),
        _spec("scip", "scip", {COUNT, CHECK}, ("pyscipopt",), extra="scip", exact_count=True,
              summary="SCIP solution counting of the binary neuron-selection model"),
        _spec("flow", "flow", {CHECK}, ("networkx",),
              summary="max-flow / Hall's theorem with certificates"),
        _spec("cbc", "cbc", {CHECK, LP}, ("pulp",),
              summary="CBC through PuLP: feasibility and LP only, cannot enumerate"),
        _spec("highs", "highs", {CHECK, LP}, ("highspy",),
              summary="HiGHS: feasibility and LP only"),
    )
}

AUTO = "auto"


def backend_names(task: str) -> list[str]:
    """Every known backend for a task, installed or not."""
    return [name for name, spec in BACKENDS.items() if task in spec.tasks]


def available_backends(task: str) -> list[str]:
    """The backends for a task whose dependencies are installed."""
    return [name for name in backend_names(task) if BACKENDS[name].is_available()]


def resolve(name: str, task: str) -> BackendSpec:
    """Look a backend up by name for a task; unknown names list the valid ones."""
    spec = BACKENDS.get(name)
    if spec is None or task not in spec.tasks:
        valid = backend_names(task) + ([AUTO] if task == COUNT else [])
        raise UnknownBackendError(name, valid, task)
    return spec


def load(name: str, task: str) -> ModuleType:
    """Import and return a backend module, with a hint when it is not installed."""
    spec = resolve(name, task)
    if not spec.is_available():
        hint = f'pip install "ilpregions[{spec.extra}]"' if spec.extra else "reinstall ilpregions"
        raise BackendUnavailableError(f"backend {name!r} is not installed here ({hint})")
    return importlib.import_module(spec.module)

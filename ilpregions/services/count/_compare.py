"""Every installed counting path on one model, side by side.

Counting paths: every registered counting backend of
:mod:`ilpregions.backends` (``dp``, ``cpsat``, ``bruteforce``, ``scip``) and
its registered variants ``cpsat-rows`` (CP-SAT without projection) and
``cpsat-binary`` — CP-SAT counting the plain solutions of the binary
neuron-selection model, whose number is R_N (docs/math.md#proof-of-theorem-1). The
feasibility/LP-only backends (``cbc``, ``highs``) are listed as such, with
no count: they cannot enumerate.

Complete paths must agree; :attr:`ComparisonReport.agree` says whether they
do and the CLI exits with code 1 when they do not.

Examples
--------
>>> from ilpregions.core.spec import Network, ConvLayer
>>> report = compare(Network((4, 1), (ConvLayer(2, 2),)), time_limit=10)
>>> report.agree, report.regions
(True, 55)
>>> sorted(r.backend for r in report.rows if r.status == "complete")[:4]
['bruteforce', 'cpsat', 'cpsat-binary', 'cpsat-rows']
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable

from ilpregions.core.bigint import big_int_repr
from ilpregions import backends
from ilpregions.core.combinatorics import decimal_string
from ilpregions.core.errors import BackendUnavailableError, TooLargeError
from ilpregions.core.geometry import as_instance
from ilpregions.core.progress import Progress
from ilpregions.core.results import COMPLETE, ERROR, MEMORY_CAP, TIME_LIMIT, TOO_LARGE, UNAVAILABLE, UNSUPPORTED, EnumerationOutcome


@big_int_repr  # repr at any size (docs/safety.md)
@dataclass(frozen=True)
class ComparisonRow:
    backend: str
    regions: int | None
    exact: bool
    seconds: float | None
    t_vectors: int | None
    solutions: int | None
    status: str
    note: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"backend": self.backend,
                "regions": None if self.regions is None else decimal_string(self.regions),
                "exact": self.exact, "seconds": None if self.seconds is None else round(self.seconds, 4),
                "t_vectors": self.t_vectors, "solutions": self.solutions, "status": self.status,
                "note": self.note}


@big_int_repr  # repr at any size (docs/safety.md)
@dataclass(frozen=True)
class ComparisonReport:
    """Every counting path's row on one model, whether the complete ones agree, and their common value.
    """
    rows: tuple[ComparisonRow, ...]
    agree: bool
    regions: int | None          # the common exact value, when the complete paths agree
    time_limit: float | None
    details: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def complete_paths(self) -> list[str]:
        return [r.backend for r in self.rows if r.status == COMPLETE]

    def to_json(self) -> dict[str, Any]:
        return {"agree": self.agree,
                "regions": None if self.regions is None else decimal_string(self.regions),
                "complete_paths": self.complete_paths, "time_limit": self.time_limit,
                "rows": [r.to_json() for r in self.rows]}


def _backend_path(name: str, memory_cap: int | None = None) -> Callable[..., EnumerationOutcome]:
    def run(inst, time_limit):
        options = {} if memory_cap is None else {"memory_cap": memory_cap}
        return backends.load(name, backends.COUNT).count(inst, time_limit=time_limit, **options)
    return run


def counting_paths(memory_cap: int | None = None) -> dict[str, Callable[..., EnumerationOutcome]]:
    """Every counting path by name (installed or not): the registered counting backends, variants included.

    Parameters
    ----------
    memory_cap : int, optional
        Bytes; passed to every path's ``count``.

    Returns
    -------
    dict of str to callable
        ``name -> (instance, time_limit) -> EnumerationOutcome``.

    Examples
    --------
    >>> sorted(counting_paths())[:3]
    ['bruteforce', 'cpsat', 'cpsat-binary']
    """
    return {name: _backend_path(name, memory_cap) for name in backends.backend_names(backends.COUNT)}


#: Extra paths (name -> callable(inst, time_limit) -> EnumerationOutcome);
#: tests put a deliberately wrong counter here to see the disagreement path.
EXTRA_PATHS: dict[str, Callable[..., EnumerationOutcome]] = {}

NOTES = {"cpsat-binary": "counts solutions of the binary neuron-selection model",
         "cpsat-rows": "every feasible t enumerated by CP-SAT, no projection",
         "scip": "SCIP solution counting, binary neuron-selection model"}


def _run_path(name: str, path, inst, time_limit) -> ComparisonRow:
    """One counting path as a row; a crashing backend is reported, not fatal."""
    spec = backends.BACKENDS.get(name)
    if spec is not None and not spec.is_available():
        return ComparisonRow(name, None, False, None, None, None, UNAVAILABLE, backends.install_hint(spec))
    start = time.perf_counter()
    try:
        outcome = path(inst, time_limit)
    except TooLargeError as exc:
        return ComparisonRow(name, None, False, time.perf_counter() - start, None, None,
                             TOO_LARGE, str(exc).splitlines()[0])
    except BackendUnavailableError as exc:
        return ComparisonRow(name, None, False, None, None, None, UNAVAILABLE, str(exc))
    except Exception as exc:  # noqa: BLE001 - the row says what went wrong
        return ComparisonRow(name, None, False, time.perf_counter() - start, None, None,
                             ERROR, f"{type(exc).__name__}: {exc}")
    seconds = time.perf_counter() - start
    details = getattr(outcome, "details", None) or {}   # extra paths may return a bare outcome
    partial = MEMORY_CAP if details.get("stopped_by") == MEMORY_CAP else TIME_LIMIT
    return ComparisonRow(name, outcome.regions, outcome.complete, seconds, outcome.t_vectors,
                         outcome.solutions, COMPLETE if outcome.complete else partial,
                         NOTES.get(name, "" if outcome.complete else "partial sum: a lower bound"))


def _agreement(rows) -> tuple[bool, int | None]:
    """Whether complete paths agree (and no partial sum exceeds them), and the common value."""
    exact_values = {r.regions for r in rows if r.status == COMPLETE}
    agree = len(exact_values) <= 1
    # A partial (time-limited) count is a lower bound: it must not exceed an exact one.
    if agree and exact_values:
        value = next(iter(exact_values))
        agree = all(r.regions <= value for r in rows
                    if r.status in (TIME_LIMIT, MEMORY_CAP) and r.regions is not None)
    return agree, (next(iter(exact_values)) if agree and exact_values else None)


def _share(deadline: float | None, paths_left: int) -> float | None:
    """This path's seconds: an equal share of what is left of the shared limit
    (a path that finishes early leaves its time to the next ones)."""
    if deadline is None:
        return None
    return (deadline - time.perf_counter()) / max(1, paths_left)


def compare(model, time_limit: float | None = 10.0,
            progress: bool | Callable[[str], None] | None = None, memory_cap: int | None = None) -> ComparisonReport:
    """Run every installed counting path under one shared ``time_limit`` (seconds, all paths together).

    Each path gets an equal share of the time still left when it starts. A
    path whose turn comes after the limit passed is not started: its row says
    so (status ``time_limit``, no value). Backends refuse an instance too
    large for them by arithmetic, before building a model (status
    ``too_large``); a crashing backend is a row (status ``error``), not a
    failure of the comparison.

    Parameters
    ----------
    model : Network or Theorem1Instance
        A one-layer network or its set system.
    time_limit : float, optional
        Seconds for all paths together (default 10); None: no limit.
    progress : bool or callable, optional
        ``progress(name)`` is called after each path; True shows a bar on
        stderr instead (one step per path).
    memory_cap : int, optional
        Bytes, passed to every backend.

    Returns
    -------
    ComparisonReport
        One row per path (value, status, seconds, note), ``agree`` (the
        complete paths agree and no partial sum exceeds them) and the common
        value.

    Raises
    ------
    InputError
        The model is not one conv/local/dense layer.
    KeyboardInterrupt
        Ctrl-C is not a backend failure: it stops the comparison and
        propagates.

    Examples
    --------
    >>> from ilpregions.core.spec import ConvLayer, Network
    >>> report = compare(Network((4, 1), (ConvLayer(2, 2),)), time_limit=None)
    >>> report.agree, report.regions, "dp" in report.complete_paths
    (True, 55, True)
    """
    inst = as_instance(model)
    paths = {**(counting_paths() if memory_cap is None else counting_paths(memory_cap)), **EXTRA_PATHS}
    if progress is True or progress is False:
        with Progress("compare", total=len(paths), enabled=progress, unit="backend") as bar:
            def tick(name: str) -> None:
                bar.set_postfix(done=name)
                bar.update()

            return _compare(inst, paths, time_limit, tick)
    return _compare(inst, paths, time_limit, progress)


def _compare(inst, paths: dict, time_limit: float | None, progress) -> ComparisonReport:
    deadline = None if time_limit is None else time.perf_counter() + time_limit
    rows = []
    for index, (name, path) in enumerate(paths.items()):
        share = _share(deadline, len(paths) - index)
        if share is not None and share <= 0:
            rows.append(ComparisonRow(name, None, False, None, None, None, TIME_LIMIT,
                                      f"not started: the shared time limit of {time_limit:g} s had passed"))
        else:
            rows.append(_run_path(name, path, inst, share))
        if progress is not None:
            progress(name)
    # Feasibility/LP-only backends are listed as such: they cannot enumerate.
    for name in backends.backend_names(backends.LP):
        if name not in paths:
            status = UNSUPPORTED if backends.BACKENDS[name].is_available() else UNAVAILABLE
            rows.append(ComparisonRow(name, None, False, None, None, None, status,
                                      "feasibility/LP only: cannot enumerate, no count"))
    agree, regions = _agreement(rows)
    return ComparisonReport(tuple(rows), agree, regions, time_limit,
                            details={"positions": inst.positions, "union_size": inst.union_size})


def all_refused(report: ComparisonReport) -> bool:
    """True when every installed counting path refused the model as too large (nothing ran).

    Parameters
    ----------
    report : ComparisonReport
        A result of :func:`compare`.

    Returns
    -------
    bool
        Whether at least one path was tried and every one tried refused.

    Examples
    --------
    >>> from ilpregions.core.spec import ConvLayer, Network
    >>> all_refused(compare(Network((4, 1), (ConvLayer(2, 2),)), time_limit=None))
    False
    """
    tried = [r for r in report.rows if r.status not in (UNAVAILABLE, UNSUPPORTED)]
    return bool(tried) and all(r.status == TOO_LARGE for r in tried)


__all__ = ["compare", "all_refused", "ComparisonReport", "ComparisonRow", "counting_paths", "EXTRA_PATHS"]

"""The backend interface: one :class:`typing.Protocol` per task.

:func:`ilpregions.backends.load` returns an object satisfying the protocol of
the task asked for (a backend module, or a registered variant bound to its
options). Every method takes a :class:`~ilpregions.core.geometry.Theorem1Instance`.

Examples
--------
>>> from ilpregions import backends
>>> isinstance(backends.load("bruteforce", backends.COUNT), CountBackend)
True
>>> isinstance(backends.load("flow", backends.CHECK), CheckBackend)
True
"""

from __future__ import annotations

from typing import Any, Callable, Protocol, Sequence, runtime_checkable

from ilpregions.core.results import EnumerationOutcome, FeasibilityResult


@runtime_checkable
class CountBackend(Protocol):
    """Task "count": R_N exactly, or a labelled partial sum."""

    def count(self, inst, *, time_limit: float | None = None, progress=None,
              **options: Any) -> EnumerationOutcome:
        """Sum Π_p C(d1, t_p) over K_N; stop at ``time_limit`` seconds with
        ``complete=False`` and the partial sum (a lower bound); call
        ``progress.update(n)`` now and then when ``progress`` is given."""


@runtime_checkable
class CheckBackend(Protocol):
    """Task "check": is t in K_N, with a verified certificate either way."""

    def check(self, inst, t: Sequence[int]) -> FeasibilityResult:
        """Solve :class:`~ilpregions.core.flow_network.FlowNetwork` of (inst, t)
        and return :func:`ilpregions.core.certificates.timed_certificate`'s result."""


@runtime_checkable
class LPBackend(Protocol):
    """Task "lp": max Σ_p w_p t_p over the LP relaxation of K_N ∩ {t ≤ caps}."""

    def lp_max(self, inst, weights: Sequence[float], *,
               caps: Sequence[int] | None = None) -> tuple[float, list[float]]:
        """Return (optimal value, a maximiser t as floats); caps default to |S_p|."""


@runtime_checkable
class ExportBackend(Protocol):
    """Task "export": write the K_N integer program in a solver's file format."""

    EXPORT_FORMATS: tuple[str, ...]

    def write_model(self, inst, positions: Sequence[int], rows, fmt: str, path: str) -> int:
        """Write max Σ t_p over ``positions`` subject to the union ``rows``
        ((subset, union) pairs) to ``path``; return the number of variables."""


@runtime_checkable
class EvaluateBackend(Protocol):
    """Task "evaluate": the frontier DP summing several weight columns at once
    (the exact polynomial in d1 is read off such sums)."""

    DEFAULT_MEMORY_CAP: int

    def evaluate(self, inst, groups: Callable, sizes: Sequence[int], *, time_limit: float | None,
                 progress, memory_cap: int) -> tuple[list[list[int]], bool, dict]:
        """Per connected block, the sums for each weight column of
        ``groups(block)``; returns (per_block, complete, stats)."""


@runtime_checkable
class TiedBackend(Protocol):
    """Task "tied": independent subsets of shifted-filter vectors over GF(p), block by block.

    ``supports(network)`` gives each neuron's support; ``best_order`` and
    ``make_plan`` a block's scan; ``count_block`` runs the DP on one block
    (raising ``Stopped`` with the partial count at a deadline) and
    ``count_small`` settles small or low-corank blocks without states.
    ``window_frontier(inst)`` is the frontier of a corner window (a quick
    refusal before any plan); ``MAX_FRAME`` the widest frame a state key
    holds; ``PRIME`` the field.
    """

    MAX_FRAME: int
    PRIME: int
    Stopped: type
    Supports: type
    ScanPlan: type

    def supports(self, network) -> Any: ...

    def best_order(self, sup, block: Sequence[int]) -> tuple[int, list[int], tuple[int, ...]]: ...

    def make_plan(self, sup, order: Sequence[int], axes: tuple[int, ...] = ()) -> Any: ...

    def frame_sizes(self, sup, order: Sequence[int]) -> list[int]: ...

    def count_block(self, sup, plan, filters_of: Callable, **options: Any) -> Any: ...

    def count_small(self, sup, positions, filters_of, matrix=None) -> Any: ...

    def closed_form_possible(self, neurons: int, elements: int) -> bool: ...

    def searched_whole(self, neurons: int, elements: int) -> bool: ...

    def window_frontier(self, inst) -> Any: ...


@runtime_checkable
class SliceBackend(Protocol):
    """Task "slice": the pieces of a concrete network on a segment or a plane.

    ``propagate`` splits the slice's polygon through the network's ops (a
    :class:`~ilpregions.core.slicenet.SliceNet`) into pieces with their
    activation codes; ``decision_boundary`` finds the pieces the top-two
    logit tie crosses; ``certify`` re-reads each piece's pattern at its
    centroid with a rigorous error bound or in exact arithmetic.
    """

    REL_TOL: float
    Certificate: type

    def propagate(self, net, polygon, origin, basis, deadline=None, progress=None) -> Any: ...

    def decision_boundary(self, outputs, flat, offs) -> tuple: ...

    def certify(self, net, origin, basis, points, codes) -> Any: ...

    def centroids(self, flat, offs) -> Any: ...

    def pattern_ids(self, codes) -> tuple[str, ...]: ...

    def area(self, polygon) -> float: ...

    def prepare_line(self, net, memory_cap=None) -> Any: ...

    def slice_line(self, net, origin, direction, *, deadline=None, memory_cap=..., progress=None,
                   check=True) -> Any: ...

    def ensure_compiled(self, engine, deadline, notify) -> bool: ...


@runtime_checkable
class CellBackend(Protocol):
    """Task "cells": the LP of the region tree (``CellLP(n)``: rows pushed and
    popped with the tree, ``solve()`` gives (t*, a point), ``duals()`` the row duals of
    that solve (the exact re-decision reads a Gordan certificate from them); ``RETRIES`` the
    settings tried when a solve ends neither optimal nor infeasible)."""

    CellLP: type
    RETRIES: tuple


PROTOCOLS = {"count": CountBackend, "check": CheckBackend, "lp": LPBackend,
             "export": ExportBackend, "evaluate": EvaluateBackend, "tied": TiedBackend,
             "slice": SliceBackend, "cells": CellBackend}

__all__ = ["CountBackend", "CheckBackend", "LPBackend", "ExportBackend", "EvaluateBackend", "TiedBackend",
           "SliceBackend", "CellBackend", "PROTOCOLS"]

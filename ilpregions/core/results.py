"""Frozen result records shared by the library, the backends and the CLI."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ilpregions.core.bigint import big_int_repr
from ilpregions.core.combinatorics import decimal_string

Element = tuple[int, ...]

# Our status vocabulary; backends map their solver's codes onto these.
COMPLETE = "complete"            # the whole space was enumerated / solved
TIME_LIMIT = "time_limit"        # stopped by the time limit: a partial (lower) value
MEMORY_CAP = "memory_cap"        # stopped at the memory cap while running: a partial (lower) value
UNAVAILABLE = "unavailable"      # the backend's optional dependency is missing
UNSUPPORTED = "unsupported"      # the backend cannot do this task (e.g. CBC cannot count)
TOO_LARGE = "too_large"          # refused before starting (memory / size cap)
ERROR = "error"


@big_int_repr
@dataclass(frozen=True)
class CountResult:
    """The outcome of counting R_N for one layer.

    ``regions`` is exact when ``exact`` is true; otherwise it is the partial
    sum reached before the time limit, hence a lower bound.
    """

    regions: int
    exact: bool
    backend: str
    t_vectors: int | None
    union_size: int
    positions: int
    seconds: float
    status: str = COMPLETE
    solutions: int | None = None
    note: str | None = None
    details: dict[str, Any] = field(default_factory=dict, compare=False)

    def to_json(self) -> dict[str, Any]:
        out = {
            "regions": decimal_string(self.regions),
            "exact": self.exact,
            "backend": self.backend,
            "t_vectors": self.t_vectors,
            "union_size": self.union_size,
            "positions": self.positions,
            "seconds": round(self.seconds, 6),
            "status": self.status,
        }
        if self.solutions is not None:
            out["solutions"] = self.solutions
        if self.note:
            out["note"] = self.note
        out.update(self.details)
        return out


@big_int_repr
@dataclass(frozen=True)
class EnumerationOutcome:
    """What a counting backend returns for one connected block of positions."""

    regions: int
    t_vectors: int | None
    complete: bool
    solutions: int | None = None
    details: dict[str, Any] = field(default_factory=dict, compare=False)


@big_int_repr
@dataclass(frozen=True)
class Bound:
    """One named bound on R_N.

    ``kind`` is "lower", "upper" or "exact". A bound whose assumptions fail is
    kept with ``applicable=False``, ``value=None`` and the ``reason``.
    """

    name: str
    kind: str
    value: int | None
    applicable: bool = True
    reason: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind,
                "value": None if self.value is None else decimal_string(self.value),
                "applicable": self.applicable, "reason": self.reason}


@dataclass(frozen=True)
class Violation:
    """A set J of positions with Σ_J t_p = ``sum`` > ``union`` = |∪_J S_p|."""

    positions: tuple[int, ...]
    sum: int
    union: int

    def to_json(self) -> dict[str, Any]:
        return {"positions": list(self.positions), "sum": self.sum, "union": self.union}


@dataclass(frozen=True)
class FeasibilityResult:
    """The answer to "is t in K_N?" with its certificate.

    Attributes
    ----------
    feasible : whether t ∈ K_N
    assignment : when feasible, per position (row-major) its t_p distinct
        elements ``(spatial..., channel)``; no element appears twice
    violated : when infeasible, a small violated set of positions
    backend : the backend that solved the flow problem
    seconds : wall time of the backend
    t : the t-vector checked
    union_size, filters, position_coords : the layer's |∪S|, d1 and each
        position's output coordinates (for reading the answer; not in JSON)
    """

    feasible: bool
    assignment: tuple[tuple[Element, ...], ...] | None
    violated: Violation | None
    backend: str
    seconds: float
    t: tuple[int, ...] = ()
    union_size: int | None = field(default=None, compare=False)
    filters: int | None = field(default=None, compare=False)
    position_coords: tuple[tuple[int, ...], ...] = field(default=(), compare=False, repr=False)

    def to_json(self) -> dict[str, Any]:
        return {
            "feasible": self.feasible,
            "t": list(self.t),
            "assignment": None if self.assignment is None else
            [[list(e) for e in elements] for elements in self.assignment],
            "violated": None if self.violated is None else self.violated.to_json(),
            "backend": self.backend,
            "seconds": round(self.seconds, 6),
        }

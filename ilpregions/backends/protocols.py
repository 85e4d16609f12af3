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


PROTOCOLS = {"count": CountBackend, "check": CheckBackend, "lp": LPBackend,
             "export": ExportBackend, "evaluate": EvaluateBackend}

__all__ = ["CountBackend", "CheckBackend", "LPBackend", "ExportBackend", "EvaluateBackend", "PROTOCOLS"]

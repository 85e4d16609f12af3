"""Limits of ``claims``: the widths checked by arithmetic, an overall deadline, and a memo of exact counts.

Every width evaluation runs exact counts and a ``tied_max`` search on both
sides of a comparison, each within :data:`STEP_SECONDS`; the number of
evaluations follows from the grid by arithmetic (:func:`evaluations_bound`),
so a grid that would run for hours is refused before any work.
"""

from __future__ import annotations

import time
from typing import Sequence

from ilpregions.core.errors import ILPRegionsError, ParameterError

#: The default grid of widths d (also in :mod:`ilpregions.services.claims._evaluate`).
DEFAULT_WIDTHS = (1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128)
#: The largest width accepted (one width takes about 2 s at d = 4096, bounded by STEP_SECONDS per search).
MAX_WIDTH = 4096
#: Width evaluations of one claim: the grid plus the scan of every integer below the first
#: proven grid point. Each takes up to a few STEP_SECONDS (a tied_max search per side).
MAX_EVALUATIONS = 1024
#: Seconds for each exact count and tied_max search inside one width.
STEP_SECONDS = 1.0


def evaluations_bound(widths: Sequence[int]) -> int:
    """The most width evaluations one claim can take on ``widths``.

    The grid, plus the scan of every integer between the first proven grid
    point and the one before it.

    Parameters
    ----------
    widths : sequence of int
        The grid of widths.

    Returns
    -------
    int
        The largest number of evaluations, by arithmetic.

    Examples
    --------
    >>> evaluations_bound(DEFAULT_WIDTHS), evaluations_bound((1000000,))
    (45, 1000000)
    """
    grid = sorted(set(widths))
    gaps = [b - a for a, b in zip([0] + grid, grid)]
    return len(grid) + max(gaps, default=1) - 1


def check_widths(widths: Sequence[int]) -> tuple[int, ...]:
    """``widths`` sorted and de-duplicated, after checking their size by arithmetic (before any work).

    Parameters
    ----------
    widths : sequence of int
        The grid of widths d.

    Returns
    -------
    tuple of int
        The sorted distinct widths.

    Raises
    ------
    ParameterError
        For parameter ``widths``: empty or not positive integers, a width over
        ``MAX_WIDTH``, or more than ``MAX_EVALUATIONS`` evaluations per claim.

    Examples
    --------
    >>> check_widths((3, 1, 3))
    (1, 3)
    >>> check_widths((1000000,))
    Traceback (most recent call last):
    ...
    ilpregions.core.errors.ParameterError: widths: width 1000000 is over the limit of 4096
    """
    if not widths or any(not isinstance(d, int) or isinstance(d, bool) or d < 1 for d in widths):
        raise ParameterError("widths", f"expected positive integers, got {list(widths)[:8]!r}")
    grid = tuple(sorted(set(widths)))
    if grid[-1] > MAX_WIDTH:
        raise ParameterError("widths", f"width {grid[-1]} is over the limit of {MAX_WIDTH}")
    work = evaluations_bound(grid)
    if work > MAX_EVALUATIONS:
        raise ParameterError("widths", f"up to {work} width evaluations per claim (the grid plus every integer "
                                       f"below its first proven width), over the limit of {MAX_EVALUATIONS}; "
                                       f"use a denser grid")
    return grid


class TimeUp(ILPRegionsError):
    """The overall time limit passed (caught inside this module: the answer is partial)."""


class Clock:
    """The overall deadline; each step gets min(STEP_SECONDS, what is left)."""

    def __init__(self, time_limit: float | None):
        self.deadline = None if time_limit is None else time.perf_counter() + time_limit

    def step(self) -> float:
        if self.deadline is None:
            return STEP_SECONDS
        left = self.deadline - time.perf_counter()
        if left <= 0:
            raise TimeUp("time limit")
        return min(STEP_SECONDS, left)


#: Exact Theorem-1 counts already done, by (fields, channels, filters): the same
#: one-layer instances recur across sides, families and widths.
_COUNTS: dict = {}
_COUNTS_MAX = 4096


def memo_counter(inst, time_limit: float | None = None):
    """The default exact counter of the claims, remembering every exact answer (a cut-short one is not kept).

    Parameters
    ----------
    inst : Theorem1Instance
        A layer's set system.
    time_limit : float, optional
        Seconds for a count not yet remembered.

    Returns
    -------
    CountResult
        The count of :func:`ilpregions.services.bounds.engine_counter`, or the
        remembered one for the same fields, channels and filters.

    Raises
    ------
    TooLargeError
        The engine refuses the instance.

    Examples
    --------
    >>> from ilpregions.core.geometry import layer_instance
    >>> from ilpregions.core.spec import ConvLayer, Network
    >>> memo_counter(layer_instance(Network((4, 1), (ConvLayer(2, 2),)))).regions
    55
    """
    from ilpregions.services.bounds import engine_counter

    key = (inst.fields, inst.channels, inst.filters)
    if key in _COUNTS:
        return _COUNTS[key]
    result = engine_counter(inst, time_limit)
    if isinstance(result, int) or result.exact:
        if len(_COUNTS) >= _COUNTS_MAX:
            _COUNTS.clear()
        _COUNTS[key] = result
    return result


__all__ = ["MAX_WIDTH", "MAX_EVALUATIONS", "STEP_SECONDS", "evaluations_bound", "check_widths", "memo_counter"]

"""The block loop shared by the enumerating backends.

Positions in different overlap components never share an element, so K_N is
a product and R_N the product of the blocks' counts (docs/math.md#independent-blocks). A lone
position's K is the interval [0, cap]: it needs no solver.
"""

from __future__ import annotations

import time
from typing import Callable

from ilpregions.core.combinatorics import binomial_prefix_sums
from ilpregions.core.errors import TooLargeError
from ilpregions.core.geometry import MAX_ROW_POSITIONS, components
from ilpregions.core.results import EnumerationOutcome


def refuse_row_model(block: int, where: str) -> None:
    """Refuse a block of ``block`` overlapping positions for a row-based model, by arithmetic.

    Its union rows are exponentially many; listing them (and even the
    projection's overlap graph) would take minutes before the size limit of
    :func:`~ilpregions.core.geometry.essential_unions` is reached.

    >>> refuse_row_model(3, "cpsat")
    >>> refuse_row_model(10 ** 6, "cpsat")
    Traceback (most recent call last):
    ...
    ilpregions.core.errors.TooLargeError: cpsat: a block of 1000000 overlapping positions: far too many union rows for a row-based model, over the limit of 400 (use the dp backend, or `ilpregions bounds`)
    """
    if block > MAX_ROW_POSITIONS:
        raise TooLargeError(f"{where}: a block of {block} overlapping positions: far too many union rows "
                            f"for a row-based model, over the limit of {MAX_ROW_POSITIONS} (use the dp "
                            f"backend, or `ilpregions bounds`)")


def count_by_blocks(inst, count_block: Callable[[list[int], float | None], EnumerationOutcome],
                    time_limit: float | None = None, check_block: Callable[[int], None] | None = None):
    """Multiply ``count_block(block, remaining_seconds)`` over the blocks.

    Returns ``(regions, t_vectors, complete, outcomes)``. The loop stops at
    the first incomplete block (or when time is up); blocks not reached count
    their t = 0 term only (weight 1), so ``regions`` stays a lower bound.
    ``t_vectors`` is None when incomplete or when a block did not report it.
    ``check_block(size)`` is called once with the largest block's size before
    any block is counted: a refusal comes first, not after minutes of work.
    """
    start = time.perf_counter()
    regions, t_vectors, complete = 1, 1, True
    outcomes: list[EnumerationOutcome] = []
    blocks = components(inst)
    if check_block is not None:
        check_block(max((len(comp) for comp in blocks if len(comp) > 1), default=0))
    for comp in blocks:
        if len(comp) == 1:
            cap = inst.caps[comp[0]]
            regions *= binomial_prefix_sums(inst.filters, cap)[cap]
            if t_vectors is not None:
                t_vectors *= cap + 1
            continue
        remaining = None if time_limit is None else time_limit - (time.perf_counter() - start)
        if remaining is not None and remaining <= 0:
            complete = False
            break
        outcome = count_block(comp, remaining)
        outcomes.append(outcome)
        regions *= outcome.regions
        t_vectors = None if t_vectors is None or outcome.t_vectors is None else t_vectors * outcome.t_vectors
        if not outcome.complete:
            complete = False
            break
    return regions, (t_vectors if complete else None), complete, outcomes

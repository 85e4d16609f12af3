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
from ilpregions.core.flow_network import overlap_components
from ilpregions.core.set_system import MAX_ROW_POSITIONS, components
from ilpregions.core.results import EnumerationOutcome
from ilpregions.core.sizes import check_binary_model


#: A layer with more positions is first grouped on a window of its first positions: a block
#: found there lies inside a block of the layer, so a refusal needs no grouping of the rest
#: (0.05 s for 2,000 positions, where a million positions take seconds).
WINDOW_POSITIONS = 2_000


def refuse_row_model(block: int, where: str, at_least: bool = False) -> None:
    """Refuse a block of ``block`` overlapping positions for a row-based model, by arithmetic.

    Its union rows are exponentially many; listing them (and even the
    projection's overlap graph) would take minutes before the size limit of
    :func:`~ilpregions.core.set_system.essential_unions` is reached.

    >>> refuse_row_model(3, "cpsat")
    >>> refuse_row_model(10 ** 6, "cpsat")
    Traceback (most recent call last):
    ...
    ilpregions.core.errors.TooLargeError: cpsat: a block of 1000000 overlapping positions: far too many union rows for a row-based model, over the limit of 400 (use the dp backend, or `bounds()`)
    """
    if block > MAX_ROW_POSITIONS:
        raise TooLargeError(f"{where}: a block of {'at least ' if at_least else ''}{block} overlapping positions: far too many union rows "
                            f"for a row-based model, over the limit of {MAX_ROW_POSITIONS} (use the dp "
                            f"backend, or `bounds()`)")


def binary_block_check(inst, memory_cap: int | None, where: str) -> Callable[[int, bool], None]:
    """``check_block`` of the binary neuron-selection counters (scip, cpsat-binary): the model's
    variables and estimated bytes, then the union rows, all by arithmetic."""
    def check(size: int, at_least: bool) -> None:
        check_binary_model(size, inst.filters, memory_cap, where)
        refuse_row_model(size, where, at_least)
    return check


def checked_blocks(inst, check_block: Callable[[int, bool], None]) -> list[list[int]]:
    """The blocks of ``inst``, after ``check_block(size, at_least)`` saw the largest one.

    A large layer is checked on a window of its first positions before it is grouped
    (``at_least=True``: the window's largest block is a lower bound on the layer's).
    """
    if inst.positions > WINDOW_POSITIONS:
        window = overlap_components(inst, range(WINDOW_POSITIONS))
        check_block(max(map(len, window), default=0), True)
    blocks = components(inst)
    check_block(max((len(comp) for comp in blocks if len(comp) > 1), default=0), False)
    return blocks


def block_instance(inst, comp: list[int]):
    """One block as an instance of its own, ``(instance, positions 0..len-1)``: the overlap
    graph and the row listing then look at the block only, not at the whole layer once per
    block (a second per block on a layer of 200,000 positions)."""
    return inst.restricted(comp), list(range(len(comp)))


def block_shape(inst, comp: list[int]) -> tuple:
    """The block's fields with pixels renumbered by first appearance: blocks of one shape
    (translates, as in a strided layer) have one set system, so one count.

    >>> from ilpregions.core.geometry import Theorem1Instance
    >>> inst = Theorem1Instance((8,), 1, 2, (4,), ((0, 1), (1, 2), (5, 6), (6, 7)))
    >>> block_shape(inst, [0, 1]) == block_shape(inst, [2, 3]), block_shape(inst, [0, 1])
    (True, ((0, 1), (1, 2)))
    """
    labels: dict[int, int] = {}
    return tuple(tuple(labels.setdefault(x, len(labels)) for x in inst.fields[p]) for p in comp)


def count_by_blocks(inst, count_block: Callable[[list[int], float | None], EnumerationOutcome],
                    time_limit: float | None = None, check_block: Callable[[int, bool], None] | None = None):
    """Multiply ``count_block(block, remaining_seconds)`` over the blocks.

    Returns ``(regions, t_vectors, complete, outcomes)``. The loop stops at
    the first incomplete block (or when time is up); blocks not reached count
    their t = 0 term only (weight 1), so ``regions`` stays a lower bound.
    A block of the same shape as one already counted (:func:`block_shape`)
    reuses that complete count. ``t_vectors`` is None when incomplete or when a block did not report it.
    ``check_block(size, at_least)`` sees the largest block's size (see
    :func:`checked_blocks`) before any block is counted: a refusal comes first,
    not after minutes of work.
    """
    start = time.perf_counter()
    regions, t_vectors, complete = 1, 1, True
    outcomes: list[EnumerationOutcome] = []
    blocks = components(inst) if check_block is None else checked_blocks(inst, check_block)
    done: dict[tuple, EnumerationOutcome] = {}   # complete outcomes by block shape
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
        shape = block_shape(inst, comp)
        outcome = done.get(shape) or count_block(comp, remaining)
        if outcome.complete:
            done[shape] = outcome
        outcomes.append(outcome)
        regions *= outcome.regions
        t_vectors = None if t_vectors is None or outcome.t_vectors is None else t_vectors * outcome.t_vectors
        if not outcome.complete:
            complete = False
            break
    return regions, (t_vectors if complete else None), complete, outcomes

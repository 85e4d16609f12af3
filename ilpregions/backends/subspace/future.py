r"""What the future can see: the rows that cut a state down (docs/tied.md §3).

For step i, W = span(the later neurons) ∩ GF(p)^A, A the elements still
active. A later set T meets the chosen span only inside W, so a state V can
be replaced by V ∩ W; this module gives W as the kernel of a few rows C, from
one compiled row reduction of the block's matrix.

>>> from ilpregions.core.spec import Network, ConvLayer
>>> from ilpregions.backends.subspace.plan import supports, best_plan
>>> sup = supports(Network((4, 1), (ConvLayer(1, 2),)))
>>> plan = best_plan(sup, [0, 1, 2])
>>> C, dim = visible_constraints(sup, plan, lambda p: np.array([[3, 5]]), 0)
>>> C.shape[0] + dim == len(plan.frames[0][plan.keep[0] >= 0])
True
"""

from __future__ import annotations

import numpy as np

from ilpregions.backends.subspace import linalg
from ilpregions.backends.subspace.keys import PRIME
from ilpregions.backends.subspace.plan import ScanPlan, Supports


#: Compute what the future can see only while the future is this small (neurons × elements).
MAX_FUTURE_ENTRIES = 250_000


def block_matrix(sup: Supports, positions, filters_of,
                 limit: int | None = None) -> tuple[np.ndarray, np.ndarray] | None:
    """The neurons of ``positions`` (in order, the d1 filters of each together)
    as rows over their elements (residues), and the elements (sorted).

    With ``limit``, None instead of a matrix of more than ``limit`` entries
    (decided before allocating it).
    """
    positions = list(positions)
    d1 = sup.filters
    lengths = [len(sup.elements[q]) for q in positions]
    every = np.concatenate([sup.elements[q] for q in positions]) if positions else np.zeros(0, np.int64)
    elements = np.unique(every)
    if limit is not None and len(positions) * d1 * len(elements) > limit:
        return None
    cols = np.searchsorted(elements, every)
    owner = np.repeat(np.arange(len(positions), dtype=np.int64), lengths)
    G = np.zeros((len(positions) * d1, len(elements)), dtype=np.int64)
    if not positions:
        return G, elements
    taps = np.concatenate([sup.taps[q] for q in positions])
    if sup.shared:
        values = np.asarray(filters_of(positions[0]), dtype=np.int64)[:, taps] % PRIME
    else:   # every position has its own filters
        values = np.concatenate([np.asarray(filters_of(q), dtype=np.int64)[:, sup.taps[q]] for q in positions],
                                axis=1) % PRIME
    G[owner[None, :] * d1 + np.arange(d1)[:, None], cols[None, :]] = values
    return G, elements


def future_elements(sup: Supports, plan: ScanPlan) -> list[int]:
    """For every step i, how many elements later steps touch: the columns of
    the future's matrix (so its size is known by arithmetic before it is built)."""
    steps = len(plan.positions)
    last: dict[int, int] = {}
    for i, p in enumerate(plan.positions):
        for e in sup.elements[p].tolist():
            last[e] = i
    ends = np.bincount(np.fromiter(last.values(), dtype=np.int64, count=len(last)), minlength=steps + 1)
    # elements whose last step is after i
    return (ends[::-1].cumsum()[::-1][1:]).tolist()


def visible_constraints(sup: Supports, plan: ScanPlan, filters_of, i: int,
                        matrix: tuple[np.ndarray, np.ndarray] | None = None,
                        future: list[int] | None = None) -> tuple[np.ndarray, int]:
    """Rows C (in frame i+1's columns) with ``ker C ∩ GF(p)^A = W``, W = span(future) ∩ GF(p)^A, and dim W.

    A later set T is independent of the chosen S iff ``V ∩ span(T) = 0``, and
    ``span(T) ∩ GF(p)^A ⊆ W``; so V may be replaced by ``V ∩ W`` without
    changing any future answer (docs/tied.md). A superset of W is also safe:
    when the future is too large to row-reduce (more than
    ``MAX_FUTURE_ENTRIES`` entries, known by arithmetic before anything is
    built), no rows are returned (W taken as everything). ``matrix`` is the
    whole block's :func:`block_matrix`, if it was small enough to build;
    ``future`` is :func:`future_elements` (computed here when not given).
    """
    steps = len(plan.positions)
    b = len(plan.frames[i + 1]) if i + 1 < steps else 0
    keep = plan.keep[i]
    active = plan.frames[i][keep >= 0]
    none = np.zeros((0, b), dtype=np.int64), len(active)
    if len(active) == 0 or i + 1 >= steps:
        return none if i + 1 < steps else (none[0], 0)
    if matrix is not None:
        G, elements = matrix
        rows = G[(i + 1) * sup.filters:]
    else:
        future = future_elements(sup, plan) if future is None else future
        if (steps - i - 1) * sup.filters * future[i] > MAX_FUTURE_ENTRIES:
            return none
        rows, elements = block_matrix(sup, plan.positions[i + 1:], filters_of)
    if rows.size > MAX_FUTURE_ENTRIES:
        return none
    return linalg.cut_rows(np.ascontiguousarray(rows), elements, plan.frames[i], keep, b)


__all__ = ["block_matrix", "future_elements", "visible_constraints", "MAX_FUTURE_ENTRIES"]

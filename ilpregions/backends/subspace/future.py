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


def block_matrix(sup: Supports, plan: ScanPlan, filters_of) -> tuple[np.ndarray, np.ndarray]:
    """The block's neurons in scan order as rows over its elements (residues), and the elements."""
    elements = np.unique(np.concatenate([sup.elements[q] for q in plan.positions]))
    where = {e: j for j, e in enumerate(elements.tolist())}
    d1 = sup.filters
    G = np.zeros((len(plan.positions) * d1, len(elements)), dtype=np.int64)
    for k, q in enumerate(plan.positions):
        cols = [where[e] for e in sup.elements[q].tolist()]
        G[k * d1:(k + 1) * d1, cols] = np.asarray(filters_of(q), dtype=np.int64)[:, sup.taps[q]] % PRIME
    return G, elements


def visible_constraints(sup: Supports, plan: ScanPlan, filters_of, i: int,
                        matrix: tuple[np.ndarray, np.ndarray] | None = None) -> tuple[np.ndarray, int]:
    """Rows C (in frame i+1's columns) with ``ker C ∩ GF(p)^A = W``, W = span(future) ∩ GF(p)^A, and dim W.

    A later set T is independent of the chosen S iff ``V ∩ span(T) = 0``, and
    ``span(T) ∩ GF(p)^A ⊆ W``; so V may be replaced by ``V ∩ W`` without
    changing any future answer (docs/tied.md), and more states merge. A
    superset of W is also safe: when the future is too large to row-reduce,
    no rows are returned (W taken as everything). ``matrix`` is
    :func:`block_matrix` (computed here when not given).
    """
    b = len(plan.frames[i + 1]) if i + 1 < len(plan.positions) else 0
    keep = plan.keep[i]
    active = plan.frames[i][keep >= 0]
    none = np.zeros((0, b), dtype=np.int64), len(active)
    if len(active) == 0 or i + 1 >= len(plan.positions):
        return none if i + 1 < len(plan.positions) else (none[0], 0)
    G, elements = block_matrix(sup, plan, filters_of) if matrix is None else matrix
    rows = G[(i + 1) * sup.filters:]
    if rows.size > MAX_FUTURE_ENTRIES:
        return none
    act = np.searchsorted(elements, active)
    is_active = np.zeros(len(elements), dtype=bool)
    is_active[act] = True
    rest = np.flatnonzero(~is_active)
    C_active, dim = linalg.visible_rows(np.ascontiguousarray(rows[:, np.concatenate([rest, act])]), len(rest))
    if dim == len(active):
        return none     # W is all of GF(p)^A: nothing to cut
    C = np.zeros((len(C_active), b), dtype=np.int64)
    C[:, keep[keep >= 0]] = C_active
    return C, dim


__all__ = ["block_matrix", "visible_constraints", "MAX_FUTURE_ENTRIES"]

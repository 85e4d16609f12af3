"""The lower bound: the best box in K_N, by the level greedy over the
polymatroid (exact; see :mod:`ilpregions.services.bounds._lp`), and the
textbook baselines."""

from __future__ import annotations

from ilpregions.core.errors import InconsistencyError

from typing import Sequence

import numpy as np

from ilpregions.core.combinatorics import binomial_prefix_sums, power_product
from ilpregions.core.geometry import Theorem1Instance
from ilpregions.services.bounds._lp.network import PixelNetwork

#: The global binomial baseline is computed only when this cheap.
BASELINE_TERMS = 20_000


def best_box(inst: Theorem1Instance, _net=None, _state=None) -> tuple[int, ...]:
    """An exact maximiser c of Π_p F(c_p) over K_N (see :mod:`ilpregions.services.bounds._lp`).

    >>> from ilpregions.core.spec import Network, ConvLayer
    >>> from ilpregions.core.geometry import layer_instance
    >>> best_box(layer_instance(Network((4, 1), (ConvLayer(2, 2),))))
    (1, 1, 2)
    """
    caps = np.array(inst.caps, dtype=np.int64)
    if not caps.any():
        return tuple(int(c) for c in caps)
    net = _net if _net is not None else PixelNetwork(inst)
    lo = _uniform_level(net, caps, inst.union_size)
    c = np.minimum(caps, lo)
    # Phase 2: levels lo, lo+1, ...: raise a maximum subset of the positions at
    # that level in the residual network of a flow that saturates c.
    value, used = net.max_flow(c)
    if value != int(c.sum()):  # pragma: no cover - phase 1 established feasibility
        raise InconsistencyError("best_box: the uniform level is not feasible after all")
    load = np.bincount(net.pix, weights=used, minlength=net.n_pix).astype(np.int64)
    frozen = np.zeros(len(caps), dtype=bool)
    level = lo
    while True:
        active = (~frozen) & (c == level) & (c < caps)
        if not active.any():
            if (c > level).any():
                level += 1
                continue
            break
        if int(c.sum()) >= inst.union_size:
            break
        gained, delta = net.max_flow(active.astype(np.int64), used, load)
        raised = np.bincount(net.pos, weights=delta, minlength=len(caps)).astype(np.int64)
        used = used + delta
        load = np.bincount(net.pix, weights=used, minlength=net.n_pix).astype(np.int64)
        frozen |= active & (raised == 0)
        c = c + raised
        level += 1
    if _state is not None:
        _state.extend([c, used, load])
    return tuple(int(v) for v in c)


def _uniform_level(net: PixelNetwork, caps: np.ndarray, union: int) -> int:
    """Phase 1 of :func:`best_box`: the largest level k such that
    min(caps, k) is in K_N (a binary search; usually one or two flows)."""
    def feasible(level: int) -> bool:
        demand = np.minimum(caps, level)
        if int(demand.sum()) > union:
            return False
        value, _ = net.max_flow(demand)
        return value == int(demand.sum())

    top = int(caps.max())
    guess = min(top, union // max(1, int((caps > 0).sum())))
    lo, hi = (guess, top + 1) if feasible(guess) else (0, guess)   # lo feasible, hi not
    while lo + 1 < hi:
        mid = (lo + hi) // 2
        if feasible(mid):
            lo = mid
        else:
            hi = mid
    return lo


def box_value(inst: Theorem1Instance, box: Sequence[int]) -> int:
    """Π_p Σ_{i≤c_p} C(d1, i), grouped by value (few distinct c's)."""
    prefix = binomial_prefix_sums(inst.filters, max(box, default=0))
    counts: dict[int, int] = {}
    for v in box:
        counts[v] = counts.get(v, 0) + 1
    return power_product([(prefix[v], k) for v, k in counts.items()])


def per_position_bound(inst: Theorem1Instance) -> int:
    """Π_p Σ_{i≤|S_p|} C(d1, i): every row but the singletons dropped."""
    return box_value(inst, inst.caps)


def global_binomial_bound(inst: Theorem1Instance) -> int | None:
    """Σ_{k≤U} C(positions·d1, k), or None when too many big terms."""
    n = inst.positions * inst.filters
    upto = min(inst.union_size, n)
    if upto > BASELINE_TERMS:
        return None
    total, term = 0, 1
    for k in range(upto + 1):
        total += term
        term = term * (n - k) // (k + 1)
    return total


__all__ = ["best_box", "box_value", "per_position_bound", "global_binomial_bound", "BASELINE_TERMS"]

# long module: the code is under 400 lines; the rest are the numpydoc docstrings of its public functions
"""Proven bounds on one layer's maximum with shared filters, at any size (docs/bounds.md).

Lower side (each proven for the network as specified, shared filters and
shared biases included):

* ``ilpregions.tied.max`` -- :func:`ilpregions.services.tied._tied_max.tied_max`, the
  count of independent sets of shifted random filters mod p: every draw's
  count is a proven lower bound, and the maximum with high probability;
* ``ilpregions.tied.fresh_box`` -- the block-triangular box of
  :func:`ilpregions.theory.tied_bounds.fresh_box`, best of a few scan orders;
* ``ilpregions.tied.sublattice`` -- a sub-lattice with disjoint fields (closed form);
* ``ilpregions.tied.blocks`` -- :func:`ilpregions.services.bounds._blocks.block_lower`,
  block-triangular: runs of a few positions (or whole lines) each counted by
  the subspace DP on the elements no earlier block reads;
* ``ilpregions.tied.strips`` -- congruent strips with disjoint fields, each
  counted by ``tied_max``, times the fresh box of the positions between them.

Upper side: Theorem 1 (the locally connected count) and the strip partition
K_N ⊆ Π K_strip, each strip counted by the ``dp`` backend.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

from ilpregions import backends
from ilpregions.core.errors import ILPRegionsError
from ilpregions.core.geometry import Theorem1Instance, conv_instance
from ilpregions.core.spec import ConvLayer, Network
from ilpregions.services.bounds._common import (BLOCKS, BOTH, FRESH_BOX, STRIP_PARTITION, STRIPS, SUBLATTICE, TIED_MAX, na, named,
                                               short_text)
from ilpregions.services.bounds._budget import SAFETY, Budget, box_seconds
from ilpregions.services.bounds._exact import fields_meet
from ilpregions.theory import tied_bounds as T

#: Seconds for the strip searches when the caller gives no time limit.
DEFAULT_SECONDS = 3.0
#: The strip partition is tried only for strips of at most this many positions: the dp
#: backend's own refusal of wider frontiers can take longer than any time limit.
PARTITION_MAX_STRIP = 48


@dataclass(frozen=True)
class RealLower:
    """Proven lower bounds on one layer's real maximum, the best of them, and the DP count if it ran."""

    bounds: tuple
    value: int | None
    name: str | None
    real_max: int | None = None


def _tied(network: Network, seconds: float):
    """``tied_max`` under a time limit: (count, None) or (None, why)."""
    from ilpregions.services.tied import tied_max

    refused = _too_wide(network)
    if refused:
        return None, refused
    if seconds <= 0:
        return None, "no time left"
    try:
        result = tied_max(network, repeats=2, seed=0, time_limit=seconds)
    except TimeoutError:
        return None, f"tied_max did not finish within {seconds:.1f} s"
    except (ILPRegionsError, MemoryError, ValueError) as exc:
        return None, f"tied_max refused: {exc}"
    if not result.complete:
        # a partial count is a proven lower bound, but not the maximum: never shown as the real maximum
        return None, (f"tied_max did not finish within {seconds:.1f} s (partial count "
                      f"{short_text(result.regions)})")
    return result.regions, None


#: Layers up to this many positions are left to tied_max's own (quick) refusal.
SCAN_CHECKED_BY_TIED = 5_000


def _too_wide(network: Network) -> str | None:
    """Why tied_max is skipped on a big layer, found by arithmetic: every scan order holds a
    whole field at once, so a block with a field of more than ``MAX_FRAME`` input elements
    (pixels x channels) cannot be scanned; it is skipped before its (slow) scan plan is built.
    A layer of at most ``SCAN_CHECKED_BY_TIED`` positions goes to tied_max, which counts small
    blocks without a scan (closed forms) and refuses the others quickly itself; fields that
    share no pixel are one-position blocks of that kind. None if nothing rules tied_max out."""
    from ilpregions.core.geometry import layer_instance

    inst = layer_instance(network)
    if inst.positions <= SCAN_CHECKED_BY_TIED:
        return None
    widest = int(T.field_sizes(inst).max(initial=0))   # in elements (pixels x channels)
    max_frame = backends.load("subspace", backends.TIED).MAX_FRAME
    if widest <= max_frame or not fields_meet(inst):
        return None
    return (f"tied_max skipped: one position reads {widest} input elements, and a dp scan of its block "
            f"would hold more than the {max_frame} it can at once (in any scan order)")


def grid_conv(layer, inst: Theorem1Instance) -> bool:
    """Whether the closed forms apply: a conv layer whose positions fill its output grid."""
    return isinstance(layer, ConvLayer) and _grid(inst)


def _grid(inst: Theorem1Instance) -> bool:
    total = 1
    for n in inst.output_spatial:
        total *= n
    return total == inst.positions


def strip_lower(network: Network, inst: Theorem1Instance, seconds: float) -> tuple[int | None, str]:
    """The best strip bound within ``seconds``: (value, description) or (None, why)."""
    layer, shape = network.layers[0], network.input_shape
    deadline = time.perf_counter() + seconds
    best, why = None, "no strip shape fits (fields span the whole input)"
    for axis in range(len(shape) - 1):
        for height in range(1, inst.output_spatial[axis] + 1):
            plan = _strip_plan(shape, layer, axis, height)
            if plan is None:
                break
            strip_net, starts = plan
            count, refused = _tied(strip_net, deadline - time.perf_counter())
            if count is None:
                why = why if best is not None else f"strips of {height} along axis {axis}: {refused}"
                break
            value = count ** len(starts) * _leftover_box(inst, layer, shape, axis, height, starts)
            if best is None or value > best[0]:
                best = (value, f"{len(starts)} strips of {height} output line(s) along axis {axis}, "
                               f"{short_text(count)} each (tied_max), times the fresh box of the rest")
    return (best[0], best[1]) if best else (None, why)


def _strip_plan(shape, layer: ConvLayer, axis: int, height: int):
    """The strip network (no padding on ``axis``) and the first output line of each strip, or None."""
    n, k, s, pad, dil = (shape[axis], layer.kernel[axis], layer.stride[axis], layer.padding[axis],
                         layer.dilation[axis])
    span = dil * (k - 1) + 1
    rows = (height - 1) * s + span
    if rows > n:
        return None
    starts, r = [], -(-pad // s)               # first line whose field starts inside the input
    while r * s - pad + rows <= n:
        starts.append(r)
        r = r + height - 1 + (dil * (k - 1)) // s + 1   # the next field starts past this strip's last row
    if not starts:
        return None
    strip_shape = tuple(rows if i == axis else size for i, size in enumerate(shape))
    padding = tuple(0 if i == axis else p for i, p in enumerate(layer.padding))
    return Network(strip_shape, (replace(layer, padding=padding),)), starts


def _leftover_box(inst, layer, shape, axis, height, starts) -> int:
    """Fresh box of the positions outside the strips, with the strips' pixels already used."""
    import numpy as np

    from ilpregions.core.flow_network import incidence

    line = np.unravel_index(np.arange(inst.positions), inst.output_spatial)[axis]
    inside = np.zeros(inst.positions, dtype=bool)
    for r in starts:
        inside |= (line >= r) & (line < r + height)
    arcs = incidence(inst)
    covered = np.unique(arcs.pixel[inside[arcs.position]])
    rest = np.flatnonzero(~inside)
    return T.box_product(inst.filters, T.fresh_counts(inst, rest, covered))


_REAL_CACHE: dict = {}

#: Seconds per output position to build a layer's supports and scan one block scheme (measured:
#: the ImageNet stem's 12,544 positions, 1.5 s for the supports, ~3 s for tied_max's refusal;
#: a million positions of a 3x3 layer, about a minute): the cost model of the searches below.
SEARCH_SECONDS_PER_POSITION = 2.5e-4


def real_lower(network: Network, inst: Theorem1Instance, exact_value: int | None,
               time_limit: float | None, search: bool = True, budget: Budget | None = None) -> RealLower:
    """Proven lower bounds on one layer's real maximum (shared filters included), memoised.

    The same layer is asked for by several bounds of one ``bounds`` call.

    Parameters
    ----------
    network : Network
        A network whose first layer is the layer (its other layers are
        ignored).
    inst : Theorem1Instance
        The first layer's set system.
    exact_value : int or None
        Its Theorem-1 count, when known (the maximum where fields do not
        overlap).
    time_limit : float, optional
        Seconds for each run of ``tied_max`` and of the strip searches.
    search : bool
        False skips the runs of ``tied_max`` (whole layer and strips), keeping
        the closed forms: for callers that need the value fast.
    budget : Budget, optional
        Carries an overall deadline; a result found under one is not memoised.

    Returns
    -------
    RealLower
        Every candidate bound (applicable or with its reason), the best value
        and its name, and the DP count of the real maximum when it ran.

    Examples
    --------
    >>> from ilpregions.core.spec import ConvLayer, Network
    >>> from ilpregions.core.geometry import layer_instance
    >>> net = Network((3, 3, 1), (ConvLayer(2, 2),))
    >>> best = real_lower(net, layer_instance(net), 256, None, search=False)
    >>> best.value, best.name
    (192, 'ilpregions.tied.fresh_box')
    """
    budget = Budget(time_limit) if budget is None else budget
    # the time limit is not in the key: a value found under another limit is just as proven, and the
    # first layer is asked for again as Theorem 2's N' within the same `bounds` call
    key = (network, exact_value, search)
    if key in _REAL_CACHE:
        return _REAL_CACHE[key]
    found = _real_lower(network, inst, exact_value, budget, search)
    if budget.deadline is None:     # under a deadline the searches may have had less time: not kept
        if len(_REAL_CACHE) > 16:
            _REAL_CACHE.clear()
        _REAL_CACHE[key] = found
    return found


def closed_forms(inst: Theorem1Instance, budget: Budget) -> list:
    """The fresh box and the sub-lattice bound, each only if its cost fits in the time left.

    Kept in ``budget.closed`` (per instance): the caller may ask for them first, before the
    expensive upper bounds, and :func:`real_lower` then reuses them.
    """
    done = budget.closed.get(id(inst))
    if done is not None and done[0] is inst:
        return done[1]
    rows = _closed_forms(inst, budget)
    budget.closed[id(inst)] = (inst, rows)
    return rows


def _closed_forms(inst: Theorem1Instance, budget: Budget) -> list:
    per_order, product = box_seconds(inst)
    orders = T.candidate_orders(inst)
    # as many scan orders as fit (raster first); each order's box is proven on its own
    if budget.deadline is None or per_order <= 0:  # a layer of all-padding fields costs nothing per order
        fit = len(orders)
    else:
        fit = int((budget.room(grace=True) / SAFETY - product) // per_order)
    out = []
    if fit >= 1 or budget.allows(FRESH_BOX, per_order + product, grace=True):
        names = list(orders)[:max(fit, 1)]
        value, order = T.fresh_box(inst, {name: orders[name] for name in names})
        note = "" if len(names) == len(orders) else (f" (the best of {len(names)} of {len(orders)} scan orders: "
                                                      f"time limit)")
        if note:
            budget.mark(FRESH_BOX)
        out.append(named(FRESH_BOX, "lower", value, f"block-triangular box, {order} order{note}", regions=BOTH))
    else:
        out.append(na(FRESH_BOX, "lower", budget.why(per_order + product)))
    cost = 2 * per_order + product
    if budget.allows(SUBLATTICE, cost, grace=True):
        out.append(named(SUBLATTICE, "lower", T.sublattice(inst), "positions with pairwise disjoint fields",
                         regions=BOTH))
    else:
        out.append(na(SUBLATTICE, "lower", budget.why(cost)))
    return out


#: Under an overall deadline, the block and strip searches together take at most this share of the time
#: left, so that the upper bounds and the LP bounds after them still fit.
SEARCH_SHARE = 0.6


def _searches(network: Network, inst: Theorem1Instance, budget: Budget) -> list:
    """The block-triangular search and the strips, one budget for both (each skipped if it cannot fit)."""
    out = []
    cost = SEARCH_SECONDS_PER_POSITION * inst.positions
    started = time.perf_counter()
    seconds = budget.seconds(DEFAULT_SECONDS, SEARCH_SHARE)
    hard = None if budget.deadline is None else started + seconds
    if budget.allows(BLOCKS, cost):
        out.append(block_bound(network, seconds, hard))
        if not out[-1].applicable and hard is not None and time.perf_counter() >= hard:
            budget.mark(BLOCKS)   # the deadline, not the size, stopped it
            out[-1] = na(BLOCKS, "lower", f"not run to the end: time limit (no block scheme finished in its "
                                          f"{seconds:.1f} s)")
    else:
        out.append(na(BLOCKS, "lower", budget.why(cost)))
    left = seconds - (time.perf_counter() - started)   # one budget for both searches
    if left >= 0.5 and budget.allows(STRIPS, cost):
        value, how = strip_lower(network, inst, left)
    elif budget.deadline is not None:
        budget.mark(STRIPS)
        value, how = None, budget.why()
    else:
        value, how = None, "not run: the time limit went to the block-triangular search"
    out.append(named(STRIPS, "lower", value, how, regions=BOTH) if value is not None else na(STRIPS, "lower", how))
    return out


def _real_lower(network: Network, inst: Theorem1Instance, exact_value: int | None,
                budget: Budget, search: bool) -> RealLower:
    """Proven lower bounds on the maximum of a one-layer network (conv, local or dense).

    ``exact_value`` is Theorem 1's count if known: the real maximum itself for
    local and dense layers and for fields that do not overlap. The closed
    forms run first (cheap, by arithmetic), then the searches in the time left.
    """
    from ilpregions.services.bounds._exact import overlapping

    layer = network.layers[0]
    bounds = []
    tied_value = None
    tied = overlapping(layer, inst)
    grid = grid_conv(layer, inst)
    closed = closed_forms(inst, budget) if grid else []
    if tied:
        cost = SEARCH_SECONDS_PER_POSITION * inst.positions
        if not search:
            tied_value, why = None, "not run (search off)"
        elif _too_wide(network):
            tied_value, why = None, _too_wide(network)
        elif budget.allows(TIED_MAX, cost):
            tied_value, why = _tied(network, budget.seconds(DEFAULT_SECONDS))
            if tied_value is None and budget.expired():
                budget.mark(TIED_MAX)
        else:
            tied_value, why = None, budget.why(cost)
        bounds.append(named(TIED_MAX, "lower", tied_value,
                            "count of independent sets of shifted random filters mod p (2 draws): proven "
                            "lower bound, the maximum with high probability", regions=BOTH) if tied_value is not None
                      else na(TIED_MAX, "lower", why))
    elif exact_value is not None:
        tied_value = exact_value   # no weight sharing across overlapping fields: Theorem 1 is the maximum
    bounds.extend(closed)
    if grid and tied and tied_value is None and search:
        bounds.extend(_searches(network, inst, budget))
    candidates = [(b.value, b.name) for b in bounds if b.applicable]
    if tied_value is not None and not tied:
        candidates.append((tied_value, "xiong2020.theorem1"))
    value, name = max(candidates, default=(None, None), key=lambda c: c[0] if c[0] is not None else -1)
    return RealLower(tuple(bounds), value, name, tied_value)


def block_bound(network: Network, seconds: float, hard_deadline: float | None = None):
    """``ilpregions.tied.blocks``: the block-triangular bound (blocks of a few positions, or slabs)."""
    from ilpregions.services.bounds._blocks import block_lower

    if not layer_is_shared_conv(network):
        return na(BLOCKS, "lower", "needs one conv layer with shared filters")
    try:
        found = block_lower(network, seconds=max(seconds, 0.5), hard_deadline=hard_deadline)
    except (ILPRegionsError, MemoryError) as exc:
        return na(BLOCKS, "lower", f"block search failed: {exc}")
    if found is None:
        return na(BLOCKS, "lower", "no block of two or more positions is small enough for the subspace DP "
                                   "(too many flats) within the time limit; single positions are the fresh box")
    return named(BLOCKS, "lower", found.value, found.describe() + " (per-neuron generic biases)", regions=BOTH)


def layer_is_shared_conv(network: Network) -> bool:
    layer = network.layers[0]
    return isinstance(layer, ConvLayer) and layer.shared


def strip_partition_upper(inst: Theorem1Instance, time_limit: float | None,
                          budget: Budget | None = None) -> tuple[int | None, str]:
    """min over strip heights h of Π_strips R(strip), strips of h output lines partitioning the positions.

    K_N ⊆ Π K_strip (dropping the rows that cross strips), so the product of
    the strips' Theorem-1 counts bounds R_N, hence the CNN's maximum. Each
    strip is counted by the ``dp`` backend; identical strips (up to
    translation) are counted once.

    Parameters
    ----------
    inst : Theorem1Instance
        A layer's set system with at least two spatial axes.
    time_limit : float, optional
        Seconds for all strip heights together (a default when None).
    budget : Budget, optional
        The overall deadline of the ``bounds`` call.

    Returns
    -------
    value : int or None
        The best bound found, or None.
    how : str
        Which strip height gave it, or why none finished.

    Examples
    --------
    >>> from ilpregions.core.spec import ConvLayer, Network
    >>> from ilpregions.core.geometry import layer_instance
    >>> strip_partition_upper(layer_instance(Network((4, 4, 1), (ConvLayer(2, 2),))), None)
    (262144, 'strips of 1 output line(s), counted by the dp backend')
    >>> strip_partition_upper(layer_instance(Network((4, 1), (ConvLayer(2, 2),))), None)
    (None, 'needs a grid of at least two spatial axes')
    """
    from ilpregions.services.count import count_regions

    if len(inst.output_spatial) < 2 or not _grid(inst):
        return None, "needs a grid of at least two spatial axes"
    budget = Budget(time_limit) if budget is None else budget
    deadline = time.perf_counter() + budget.seconds(DEFAULT_SECONDS)
    rows, width = inst.output_spatial[0], inst.positions // inst.output_spatial[0]
    best, why = None, "no strip height finished"
    for height in range(1, rows):
        if height * width > PARTITION_MAX_STRIP or time.perf_counter() > deadline:
            break
        memo: dict[tuple, int] = {}
        total = 1
        try:
            for r in range(0, rows, height):
                lines = min(height, rows - r)
                fields = inst.fields[r * width:(r + lines) * width]
                base = min((f[0] for f in fields if f), default=0)
                key = (lines, tuple(tuple(x - base for x in f) for f in fields))
                if key not in memo:
                    strip = Theorem1Instance(inst.input_spatial, inst.channels, inst.filters,
                                             (lines,) + inst.output_spatial[1:], fields, "local")
                    left = deadline - time.perf_counter()
                    result = count_regions(strip, backend="dp", time_limit=max(left, 0.01))
                    if not result.exact:
                        raise TimeoutError
                    memo[key] = result.regions
                total *= memo[key]
        except TimeoutError:
            why = f"strips of {height} lines did not finish in time"
            if budget.expired():
                budget.mark(STRIP_PARTITION)
            break
        except (ILPRegionsError, MemoryError) as exc:
            why = f"strips of {height} lines: {exc}"
            break
        if best is None or total < best[0]:
            best = (total, f"strips of {height} output line(s), counted by the dp backend")
    if best is None and budget.deadline is not None and time.perf_counter() > deadline:
        budget.mark(STRIP_PARTITION)
    return (best[0], best[1]) if best else (None, why)


def strip_partition_bound(inst: Theorem1Instance, time_limit: float | None):
    value, how = strip_partition_upper(inst, time_limit)
    return named(STRIP_PARTITION, "upper", value, how) if value is not None else na(STRIP_PARTITION, "upper", how)


__all__ = ["RealLower", "real_lower", "closed_forms", "grid_conv", "block_bound", "strip_lower", "strip_partition_upper", "strip_partition_bound",
           "conv_instance"]

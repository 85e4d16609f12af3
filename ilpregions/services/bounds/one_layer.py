"""Proven bounds on one layer's maximum with shared filters, at any size (docs/bounds.md).

Lower side (each proven for the network as specified, shared filters and
shared biases included):

* ``ilpregions.tied.max`` -- :func:`ilpregions.services.tied.tied_max`, the
  count of independent sets of shifted random filters mod p: every draw's
  count is a proven lower bound, and the maximum with high probability;
* ``ilpregions.tied.fresh_box`` -- the block-triangular box of
  :func:`ilpregions.theory.tied_bounds.fresh_box`, best of a few scan orders;
* ``ilpregions.tied.sublattice`` -- a sub-lattice with disjoint fields (closed form);
* ``ilpregions.tied.blocks`` -- :func:`ilpregions.services.bounds.blocks.block_lower`,
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

from ilpregions.core.errors import ILPRegionsError
from ilpregions.core.geometry import Theorem1Instance, conv_instance
from ilpregions.core.spec import ConvLayer, Network
from ilpregions.services.bounds.common import (BLOCKS, BOTH, FRESH_BOX, STRIP_PARTITION, STRIPS, SUBLATTICE, TIED_MAX, na, named,
                                               short_text)
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

    coords = np.array([inst.position_coords(p) for p in range(inst.positions)], dtype=np.int64)
    line = coords[:, axis]
    inside = np.zeros(inst.positions, dtype=bool)
    for r in starts:
        inside |= (line >= r) & (line < r + height)
    strip_positions = np.flatnonzero(inside)
    covered = sorted({x for p in strip_positions for x in inst.fields[p]})
    rest = np.flatnonzero(~inside)
    return T.box_product(inst.filters, T.fresh_counts(inst, rest, covered))


_REAL_CACHE: dict = {}


def real_lower(network: Network, inst: Theorem1Instance, exact_value: int | None,
               time_limit: float | None, search: bool = True) -> RealLower:
    """Memoised :func:`_real_lower` (the same layer is asked for by several bounds).

    ``search=False`` skips the runs of ``tied_max`` (whole layer and strips),
    keeping the closed forms: for callers that need the value fast.
    """
    # the time limit is not in the key: a value found under another limit is just as proven, and the
    # first layer is asked for again as Theorem 2's N' within the same `bounds` call
    key = (network, exact_value, search)
    if key not in _REAL_CACHE:
        if len(_REAL_CACHE) > 16:
            _REAL_CACHE.clear()
        _REAL_CACHE[key] = _real_lower(network, inst, exact_value, time_limit, search)
    return _REAL_CACHE[key]


def _real_lower(network: Network, inst: Theorem1Instance, exact_value: int | None,
                time_limit: float | None, search: bool) -> RealLower:
    """Proven lower bounds on the maximum of a one-layer network (conv, local or dense).

    ``exact_value`` is Theorem 1's count if known: the real maximum itself for
    local and dense layers and for fields that do not overlap.
    """
    from ilpregions.services.bounds.exact import overlapping

    layer = network.layers[0]
    seconds = DEFAULT_SECONDS if time_limit is None else time_limit
    bounds = []
    tied_value = None
    if overlapping(layer, inst):
        tied_value, why = _tied(network, seconds) if search else (None, "not run (search off)")
        bounds.append(named(TIED_MAX, "lower", tied_value,
                            "count of independent sets of shifted random filters mod p (2 draws): proven "
                            "lower bound, the maximum with high probability", regions=BOTH) if tied_value is not None
                      else na(TIED_MAX, "lower", why))
    elif exact_value is not None:
        tied_value = exact_value   # no weight sharing across overlapping fields: Theorem 1 is the maximum
    if isinstance(layer, ConvLayer) and _grid(inst):
        value, order = T.fresh_box(inst)
        bounds.append(named(FRESH_BOX, "lower", value, f"block-triangular box, {order} order", regions=BOTH))
        bounds.append(named(SUBLATTICE, "lower", T.sublattice(inst), "positions with pairwise disjoint fields",
                            regions=BOTH))
        if overlapping(layer, inst) and tied_value is None and search:
            started = time.perf_counter()
            bounds.append(block_bound(network, seconds))
            left = seconds - (time.perf_counter() - started)   # one budget for both searches
            if left >= 0.5:
                value, how = strip_lower(network, inst, left)
            else:
                value, how = None, "not run: the time limit went to the block-triangular search"
            bounds.append(named(STRIPS, "lower", value, how, regions=BOTH) if value is not None else na(STRIPS, "lower", how))
    candidates = [(b.value, b.name) for b in bounds if b.applicable]
    if tied_value is not None and not overlapping(layer, inst):
        candidates.append((tied_value, "xiong2020.theorem1"))
    value, name = max(candidates, default=(None, None), key=lambda c: c[0] if c[0] is not None else -1)
    return RealLower(tuple(bounds), value, name, tied_value)


def block_bound(network: Network, seconds: float):
    """``ilpregions.tied.blocks``: the block-triangular bound (blocks of a few positions, or slabs)."""
    from ilpregions.services.bounds.blocks import block_lower

    if not layer_is_shared_conv(network):
        return na(BLOCKS, "lower", "needs one conv layer with shared filters")
    try:
        found = block_lower(network, seconds=max(seconds, 0.5))
    except (ILPRegionsError, MemoryError) as exc:
        return na(BLOCKS, "lower", f"block search failed: {exc}")
    if found is None:
        return na(BLOCKS, "lower", "no block of two or more positions is small enough for the subspace DP "
                                   "(too many flats) within the time limit; single positions are the fresh box")
    return named(BLOCKS, "lower", found.value, found.describe() + " (per-neuron generic biases)", regions=BOTH)


def layer_is_shared_conv(network: Network) -> bool:
    layer = network.layers[0]
    return isinstance(layer, ConvLayer) and layer.shared


def strip_partition_upper(inst: Theorem1Instance, time_limit: float | None) -> tuple[int | None, str]:
    """min over strip heights h of Π_strips R(strip), strips of h output lines partitioning the positions.

    K_N ⊆ Π K_strip (dropping the rows that cross strips), so the product of
    the strips' Theorem-1 counts bounds R_N, hence the CNN's maximum. Each
    strip is counted by the ``dp`` backend; identical strips (up to
    translation) are counted once.
    """
    from ilpregions.services.counting import count_regions

    if len(inst.output_spatial) < 2 or not _grid(inst):
        return None, "needs a grid of at least two spatial axes"
    deadline = time.perf_counter() + (DEFAULT_SECONDS if time_limit is None else time_limit)
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
            break
        except (ILPRegionsError, MemoryError) as exc:
            why = f"strips of {height} lines: {exc}"
            break
        if best is None or total < best[0]:
            best = (total, f"strips of {height} output line(s), counted by the dp backend")
    return (best[0], best[1]) if best else (None, why)


def strip_partition_bound(inst: Theorem1Instance, time_limit: float | None):
    value, how = strip_partition_upper(inst, time_limit)
    return named(STRIP_PARTITION, "upper", value, how) if value is not None else na(STRIP_PARTITION, "upper", how)


__all__ = ["RealLower", "real_lower", "block_bound", "strip_lower", "strip_partition_upper", "strip_partition_bound",
           "conv_instance"]

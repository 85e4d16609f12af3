"""Closed-form lower bounds on a one-layer CNN's maximum with *shared* filters.

Pure arithmetic on the set system {S_p} of one layer (no solver). Each value
is proven for shared filters and shared biases; the arguments are written in
docs/bounds.md ("One layer with shared filters").

* :func:`fresh_box` -- order the positions; fresh_p is the number of elements
  of S_p that no earlier position's field contains. Then
  R ≥ Π_p Σ_{t ≤ min(d1, fresh_p)} C(d1, t) (block-triangular argument).
* :func:`sublattice` -- positions on a sub-lattice whose fields are pairwise
  disjoint contribute Σ_{t ≤ |S_q|} C(d1, t) each (a product arrangement).
* :func:`pool_factor` -- the pieces a max-pooling layer can cut one region into.

Examples
--------
>>> from ilpregions.core.spec import Network, ConvLayer
>>> from ilpregions.core.geometry import layer_instance
>>> inst = layer_instance(Network((3, 3, 1), (ConvLayer(2, 2),)))
>>> fresh_counts(inst, raster_order(inst))
(4, 2, 2, 1)
>>> fresh_box(inst)   # 4·4·4·3 ≤ 255, the real maximum
(192, 'raster')
>>> sublattice(inst)  # one position: Σ_{t≤4} C(2, t)
4
"""

from __future__ import annotations

import math
from itertools import product as iproduct
from typing import Sequence

import numpy as np

from ilpregions.core.combinatorics import binomial_prefix_sums, power_product
from ilpregions.core.flow_network import incidence
from ilpregions.core.geometry import Theorem1Instance


def _incidence(inst: Theorem1Instance) -> tuple[np.ndarray, np.ndarray]:
    """(position, pixel) pairs of every field, as two flat arrays (cached per instance)."""
    arcs = incidence(inst)
    return arcs.position, arcs.pixel


def fresh_counts(inst: Theorem1Instance, order: Sequence[int],
                 covered: Sequence[int] = ()) -> tuple[int, ...]:
    """fresh_p in elements for each position (indexed by position, not by rank).

    ``order`` lists the positions to process (others get 0); ``covered``
    lists pixels already used up (by earlier blocks). A pixel is fresh for the
    first position of ``order`` whose field contains it.

    >>> from ilpregions.core.spec import Network, ConvLayer
    >>> from ilpregions.core.geometry import layer_instance
    >>> fresh_counts(layer_instance(Network((5, 1), (ConvLayer(3, 2),))), [3, 2, 1, 0])
    (1, 1, 1, 2)
    """
    return tuple(_fresh_array(inst, order, covered).tolist())


def _fresh_array(inst: Theorem1Instance, order: Sequence[int], covered: Sequence[int] = ()) -> np.ndarray:
    """:func:`fresh_counts` as an int64 array (no million-element tuple)."""
    pos, pix = _incidence(inst)
    rank = np.full(inst.positions, np.iinfo(np.int64).max, dtype=np.int64)
    rank[np.asarray(order, dtype=np.int64)] = np.arange(len(order), dtype=np.int64)
    size = max(inst.pixels, int(pix.max()) + 1 if len(pix) else 0)
    first = np.full(size, np.iinfo(np.int64).max, dtype=np.int64)
    ranks = rank[pos]
    np.minimum.at(first, pix, ranks)   # the rank of each pixel's first reader
    if len(covered):
        first[np.asarray(covered, dtype=np.int64)] = -1
    mine = (first[pix] == ranks) & (ranks != np.iinfo(np.int64).max)
    return np.bincount(pos[mine], minlength=inst.positions) * inst.channels


def field_sizes(inst: Theorem1Instance) -> np.ndarray:
    """|S_p| in elements for every position, as an array (``inst.field_sizes`` without a Python loop).

    >>> from ilpregions.core.spec import Network, ConvLayer
    >>> from ilpregions.core.geometry import layer_instance
    >>> inst = layer_instance(Network((3, 3, 2), (ConvLayer(2, 2),)))
    >>> field_sizes(inst).tolist() == list(inst.field_sizes)
    True
    """
    return incidence(inst).lengths * inst.channels


def union_size(inst: Theorem1Instance) -> int:
    """U = |∪_p S_p| in elements, from the incidence arrays (``inst.union_size`` without a Python loop).

    >>> from ilpregions.core.spec import Network, ConvLayer
    >>> from ilpregions.core.geometry import layer_instance
    >>> inst = layer_instance(Network((5, 5, 2), (ConvLayer(2, 2, stride=3),)))
    >>> union_size(inst) == inst.union_size
    True
    """
    pixel = incidence(inst).pixel
    if len(pixel) == 0:
        return 0
    return int(np.count_nonzero(np.bincount(pixel))) * inst.channels


def caps(inst: Theorem1Instance) -> tuple[int, ...]:
    """min(d1, |S_p|) per position (``inst.caps`` without a per-position Python loop).

    d1 may be any integer (2**63 and beyond): field sizes fit in int64, so d1 is clipped there first.
    """
    return tuple(np.minimum(field_sizes(inst), min(inst.filters, np.iinfo(np.int64).max)).tolist())


def box_product(d1: int, sizes: Sequence[int]) -> int:
    """Π_p Σ_{t ≤ min(d1, s_p)} C(d1, t), grouped by value.

    >>> box_product(2, [4, 2, 2, 1])
    192
    """
    return grouped_power(_box_factors(d1, sizes))


def _box_factors(d1: int, sizes: Sequence[int]) -> list[tuple[int, int]]:
    """(Σ_{t≤k} C(d1, t), how many positions have min(d1, s_p) = k) pairs."""
    sizes = np.asarray(sizes, dtype=np.int64).reshape(-1)
    top = min(d1, int(sizes.max()) if len(sizes) else 0)
    prefix = binomial_prefix_sums(d1, top)
    counts = np.bincount(np.minimum(sizes, top), minlength=top + 1)   # sizes are small ints >= 0
    return [(prefix[k], int(n)) for k, n in enumerate(counts.tolist()) if n]


def box_log10(d1: int, sizes: Sequence[int]) -> float:
    """log10 of :func:`box_product`, without building it (for choosing and for cost estimates).

    >>> round(box_log10(2, [4, 2, 2, 1]), 6) == round(math.log10(192), 6)
    True
    """
    return sum(n * math.log10(base) for base, n in _box_factors(d1, sizes))


def grouped_power(factors: Sequence[tuple[int, int]]) -> int:
    """Π base**exponent exactly; through python-flint (GMP) when it is installed.

    CPython's own big powers are Karatsuba: 5 s for a result of 2.8 million
    digits, against 0.13 s with GMP; the value is the same exact int.

    >>> grouped_power([(3, 4), (2, 10)])
    82944
    """
    try:
        import flint
    except ImportError:
        return power_product(factors)
    total = flint.fmpz(1)
    for base, exponent in factors:
        total *= flint.fmpz(base) ** int(exponent)
    return int(total)


def _coords(inst: Theorem1Instance) -> np.ndarray:
    """Row-major grid coordinates of every position, one row each (numpy, no Python loop)."""
    grid = inst.output_spatial
    return np.indices(grid, dtype=np.int64).reshape(len(grid), -1).T


def candidate_orders(inst: Theorem1Instance) -> dict[str, np.ndarray]:
    """A few cheap scan orders of the positions: raster, reverse, column-major, its reverse, snake.

    >>> from ilpregions.core.spec import Network, ConvLayer
    >>> from ilpregions.core.geometry import layer_instance
    >>> sorted(candidate_orders(layer_instance(Network((3, 3, 1), (ConvLayer(2, 2),)))))
    ['column-major', 'raster', 'reverse column-major', 'reverse raster', 'snake']
    """
    n = inst.positions
    raster = np.arange(n, dtype=np.int64)
    orders = {"raster": raster, "reverse raster": raster[::-1].copy()}
    if len(inst.output_spatial) >= 2 and n == int(np.prod(inst.output_spatial)):
        coords = _coords(inst)
        column = np.lexsort(tuple(coords[:, a] for a in range(coords.shape[1])))
        orders["column-major"] = column
        orders["reverse column-major"] = column[::-1].copy()
        # Boustrophedon: odd rows (first axis) run backwards.
        last = coords[:, -1]
        flip = np.where(coords[:, 0] % 2 == 1, inst.output_spatial[-1] - 1 - last, last)
        keys = [flip] + [coords[:, a] for a in reversed(range(coords.shape[1] - 1))]
        orders["snake"] = np.lexsort(tuple(keys))
    return orders


def raster_order(inst: Theorem1Instance) -> np.ndarray:
    return np.arange(inst.positions, dtype=np.int64)


def fresh_box(inst: Theorem1Instance, orders: dict[str, np.ndarray] | None = None) -> tuple[int, str]:
    """The best fresh-element box over ``orders`` (default :func:`candidate_orders`).

    Returns ``(value, order name)``. Every order's box is proven; the best
    is taken (their union is not simply their sum, so no sum is claimed).
    Orders are compared by log10 first; only the best (and any within a
    rounding error of it) is built exactly.
    """
    scored = []
    for name, order in (orders or candidate_orders(inst)).items():
        factors = tuple(_box_factors(inst.filters, _fresh_array(inst, order)))
        scored.append((sum(n * math.log10(base) for base, n in factors), name, factors))
    top = max((score for score, _, _ in scored), default=0.0)
    best, built = (0, ""), set()
    for score, name, factors in scored:
        # equal factors give equal values: each distinct near-best one is built once
        if score >= top - 1e-6 * max(1.0, top) and factors not in built:
            built.add(factors)
            value = grouped_power(factors)
            if value > best[0]:
                best = (value, name)
    return best


def fresh_box_log10(inst: Theorem1Instance) -> float:
    """log10 of the raster order's fresh box: the size of :func:`fresh_box`'s value, roughly."""
    return box_log10(inst.filters, _fresh_array(inst, raster_order(inst)))


def sublattice_positions(inst: Theorem1Instance, steps: Sequence[int], offset: Sequence[int]) -> list[int]:
    """Positions p with p_i ≡ offset_i (mod steps_i) on every axis (row-major ids)."""
    coords = _coords(inst)
    keep = np.all((coords - np.asarray(offset)) % np.asarray(steps) == 0, axis=1)
    return np.flatnonzero(keep).tolist()


def _disjoint(inst: Theorem1Instance, positions: Sequence[int]) -> bool:
    """Whether the fields of ``positions`` are pairwise disjoint (no pixel read twice)."""
    pos, pix = _incidence(inst)
    chosen = np.zeros(inst.positions, dtype=bool)
    chosen[np.asarray(positions, dtype=np.int64)] = True
    used = pix[chosen[pos]]
    return len(used) == 0 or int(np.bincount(used).max()) <= 1


def _step(inst: Theorem1Instance, axis: int) -> int:
    """The smallest step along ``axis`` at which no two fields on a line through the centre meet."""
    grid = inst.output_spatial
    centre = [n // 2 for n in grid]

    def field(a: int) -> tuple[int, ...]:
        coords = list(centre)
        coords[axis] = a
        return inst.fields[int(np.ravel_multi_index(tuple(coords), grid))]

    for step in range(1, grid[axis]):
        if all(not set(field(a)).intersection(field(a + step)) for a in range(grid[axis] - step)):
            return step
    return grid[axis]


def sublattice(inst: Theorem1Instance, steps: Sequence[int] | None = None) -> int:
    """Π_{q∈Q} Σ_{t≤|S_q|} C(d1, t) for the best sub-lattice Q with pairwise disjoint fields.

    ``steps`` (per output axis) defaults to the smallest step whose fields
    cannot meet, ⌈span_i / s_i⌉ with span_i = δ_i(f_i − 1) + 1, found here as
    the smallest step that makes the lattice through the origin disjoint;
    every offset is tried.
    """
    grid = inst.output_spatial
    if steps is None:
        steps = [_step(inst, axis) for axis in range(len(grid))]
    coords = _coords(inst)
    sizes = field_sizes(inst)
    scored = []
    for offset in iproduct(*(range(min(s, n)) for s, n in zip(steps, grid))):
        keep = np.all((coords - np.asarray(offset)) % np.asarray(steps) == 0, axis=1)
        chosen = np.flatnonzero(keep)
        if _disjoint(inst, chosen):
            scored.append((box_log10(inst.filters, sizes[chosen]), sizes[chosen]))
    if not scored:
        return 0
    top = max(score for score, _ in scored)
    # only the best offsets (within rounding) are built exactly
    return max(box_product(inst.filters, chosen) for score, chosen in scored
               if score >= top - 1e-6 * max(1.0, top))


def pool_factor(windows: int, size: int, dimension: int) -> int:
    """Pieces one region can be cut into by ``windows`` max-pooling windows of ``size`` entries.

    min(size^windows, Σ_{i≤dimension} C(windows·C(size, 2), i)): each window
    picks one of ``size`` entries, and the choices are the cells of the
    arrangement of the pairwise-difference hyperplanes in a space of
    dimension ≤ ``dimension`` (docs/bounds.md).

    >>> pool_factor(2, 2, 1), pool_factor(2, 2, 5)
    (3, 4)
    """
    from ilpregions.theory.fc_bounds import binomial_sum

    if size <= 1 or windows == 0:
        return 1
    hyperplanes = windows * size * (size - 1) // 2
    if dimension >= hyperplanes:  # 2^H ≥ size^windows: the choice count is the smaller
        return size ** windows
    return min(binomial_sum(hyperplanes, dimension), size ** windows)


def joint_pool_factor(entries: int, windows: int, size: int) -> int:
    """Sign-and-choice patterns of a ReLU layer of ``entries`` neurons and a max-pooling layer on it
    whose ``windows`` windows of ``size`` entries each are disjoint.

    A window's entries are on (some subset A) or off, and its choice is one of A (none when A is
    empty): Σ_j C(k, j)·max(j, 1) = 1 + k·2^{k−1} patterns; an entry in no window has 2. On one
    region of the layers before, each pattern's inputs are a convex set (docs/bounds.md, U4).

    >>> joint_pool_factor(4, 1, 4), joint_pool_factor(6, 1, 4)    # 1 + 4·8 = 33; two free entries
    (33, 132)
    """
    if windows * size > entries:
        raise ValueError("windows: disjoint windows cannot hold more entries than the layer has")
    return (1 + size * 2 ** (size - 1)) ** windows * 2 ** (entries - windows * size)


__all__ = ["joint_pool_factor", "fresh_counts", "fresh_box", "box_product", "candidate_orders", "raster_order", "sublattice",
           "sublattice_positions", "pool_factor", "box_log10", "grouped_power", "fresh_box_log10", "field_sizes",
           "union_size", "caps"]

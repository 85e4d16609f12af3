"""The upper bound per overlap component: the exact-block tree, and when its
top polynomial would be too big, the Chernoff-type tilt with directed
64-bit rounding (a rigorous integer upper bound)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ilpregions.core.combinatorics import log10_int, power_product, product
from ilpregions.core.geometry import Theorem1Instance
from ilpregions.services.bounds._lp.block_tree import BlockTree
from ilpregions.services.bounds._lp.network import PixelNetwork


def _log2_int(value: int) -> float:
    """log2 of a non-negative integer of any size (-inf for 0)."""
    return log10_int(value) / math.log10(2)


#: The tilt x = a / 2^TILT_BITS (a an integer): fine enough that rounding x
#: costs nothing visible, exact because every power of the denominator is a shift.
TILT_BITS = 24


def _tilted(poly: list[int], a: int, bits: int) -> int:
    """b^D P(a/b) = Σ_j c_j a^j b^{D−j} for b = 2^bits, exactly (Horner)."""
    acc = 0
    for i, c in enumerate(reversed(poly)):
        acc = acc * a + (c << (bits * i))
    return acc


# Directed rounding with 64-bit mantissas: (m, e) stands for m·2^e. Products
# of huge integers (Π H_k^{n_k}, a^g) are only needed as an upper bound over
# a lower bound, so they are carried rounded up (numerator) or down
# (denominator) — exact big products of millions of bits would dominate.

def _norm(m: int, e: int, up: bool) -> tuple[int, int]:
    k = max(0, m.bit_length() - 64)
    top = m >> k
    if up and (top << k) != m:
        top += 1
    return top, e + k


def _pow_round(base: tuple[int, int], n: int, up: bool) -> tuple[int, int]:
    result, square = (1, 0), base
    while n:
        if n & 1:
            result = _norm(result[0] * square[0], result[1] + square[1], up)
        n >>= 1
        if n:
            square = _norm(square[0] * square[0], 2 * square[1], up)
    return result


def _ceil_ratio(numerator: tuple[int, int], denominator: tuple[int, int]) -> int:
    """The least integer ≥ (m_n·2^e_n)/(m_d·2^e_d)."""
    (mn, en), (md, ed) = numerator, denominator
    e = en - ed
    if e >= 0:
        return -(-(mn << e) // md)
    return -(-mn // (md << -e))


def _component_upper(tree: BlockTree, comp: list[int], g_comp: int) -> tuple[int, dict]:
    key, poly, tops = tree.node(sorted(comp, key=lambda p: tree.coords[p]))
    if poly is not None:
        return sum(poly[:g_comp + 1]), {"top_blocks": 1, "tilt": None}
    counts: dict[Any, int] = {}
    polys: dict[Any, list[int]] = {}
    for k, p in tops:
        counts[k] = counts.get(k, 0) + 1
        polys[k] = p
    degrees = sum((len(polys[k]) - 1) * n for k, n in counts.items())
    if degrees <= g_comp:   # the component's own row cannot bind: plain product
        return power_product([(sum(polys[k]), n) for k, n in counts.items()]), \
            {"top_blocks": len(tops), "tilt": None}
    # Σ_{k≤g} [z^k] Π_i G_i(z) ≤ x^{-g} Π_i G_i(x) for 0 < x ≤ 1 (Chernoff).
    # Choose x with floats (golden section on log2 x), then evaluate exactly.
    keys = list(counts)
    width = max(len(polys[k]) for k in keys)
    table = np.full((len(keys), width), -np.inf)
    for i, k in enumerate(keys):
        table[i, :len(polys[k])] = [_log2_int(c) for c in polys[k]]
    mult = np.array([counts[k] for k in keys], dtype=float)
    powers = np.arange(width, dtype=float)

    def objective(lx: float) -> float:
        terms = table + powers * lx
        top = terms.max(axis=1)
        per_type = top + np.log2(np.exp2(terms - top[:, None]).sum(axis=1))
        return float(mult @ per_type) - g_comp * lx

    lo, hi = -40.0, 0.0
    ratio = (math.sqrt(5) - 1) / 2
    m1, m2 = hi - ratio * (hi - lo), lo + ratio * (hi - lo)
    f1, f2 = objective(m1), objective(m2)
    for _ in range(60):
        if f1 <= f2:
            hi, m2, f2 = m2, m1, f1
            m1 = hi - ratio * (hi - lo)
            f1 = objective(m1)
        else:
            lo, m1, f1 = m1, m2, f2
            m2 = lo + ratio * (hi - lo)
            f2 = objective(m2)
    lx = (lo + hi) / 2
    a = max(1, min(1 << TILT_BITS, round(2.0 ** lx * (1 << TILT_BITS))))
    if a == 1 << TILT_BITS or objective(0.0) <= objective(math.log2(a) - TILT_BITS):
        return power_product([(sum(polys[k]), n) for k, n in counts.items()]), \
            {"top_blocks": len(tops), "tilt": None}
    # x = a/b, b = 2^TILT_BITS: x^{-g} Π_i G_i(x) = Π_i (b^{D_i} G_i(x)) / (a^g · b^{ΣD_i − g}).
    numerator = (1, 0)
    for k, n in counts.items():
        h = _pow_round(_norm(_tilted(polys[k], a, TILT_BITS), 0, True), n, True)
        numerator = _norm(numerator[0] * h[0], numerator[1] + h[1], True)
    denominator = _pow_round((a, 0), g_comp, False)
    denominator = (denominator[0], denominator[1] + TILT_BITS * (degrees - g_comp))
    value = _ceil_ratio(numerator, denominator)
    return value, {"top_blocks": len(tops), "tilt": f"{a}/2^{TILT_BITS}"}


def block_tree_upper(inst: Theorem1Instance, _net=None) -> tuple[int, bool, dict]:
    """The exact-block tree upper bound; also says whether it is exact."""
    tree = BlockTree(inst)
    net = _net if _net is not None else PixelNetwork(inst)
    values, exact, tops, tilts = [], True, 0, set()
    comp_memo: dict[Any, int] = {}
    for comp in (net.components() if any(inst.fields) else []):
        g = inst.coverage(comp)
        if tree.is_leaf(comp):
            key = tree.leaf_key(comp)
            if key not in comp_memo:
                _, _, poly = tree.leaf(comp)
                comp_memo[key] = sum(poly)
            values.append(comp_memo[key])
            continue
        exact = False
        value, info = _component_upper(tree, comp, g)
        tops += info["top_blocks"]
        if info["tilt"]:
            tilts.add(info["tilt"])
        values.append(value)
    return product(values), exact, {"top_blocks": tops, "tilts": sorted(tilts),
                                    "distinct_blocks": len(tree.memo)}


__all__ = ["block_tree_upper", "TILT_BITS"]

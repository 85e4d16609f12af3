"""LP relaxations and fast one-layer bounds on R_N (issue 4, part 2).

Everything here is exact integer arithmetic except the choice of a tilt
parameter (made with floats, then applied exactly). The only solver used is
scipy's combinatorial max-flow, which solves the LP relaxation of K_N exactly
(see below); LP solvers proper are reached through the ``highs``/``cbc``
backends (``lp_max``) and are used by the tests as an independent check.

The LP relaxation of K_N
------------------------
{t ≥ 0 : t(J) ≤ g(J) ∀J} is a polymatroid. By max-flow/min-cut (the
continuous Hall theorem) it is exactly the projection onto t of the flow
polytope source → p (t_p) → pixel of S_p → sink (capacity d0): so an LP
over it is a max-flow, and with integral capacities the optimum is integral.

* **Exponent.** U = max Σ_p t_p without the d1 cap is the flow value with
  source capacities |S_p|; it must equal |∪S| = g(all) (the rank of the
  polymatroid). We compute the flow and check.
* **Per-position LP maxima.** max t_p over the relaxation with the d1 cap is
  min(d1, |S_p|): the singleton row caps it, and e_p·|S_p| is feasible.

Lower bound: the best box
-------------------------
K_N is down-closed, so for any c ∈ K_N the whole box {t ≤ c} lies in K_N and
R_N ≥ Π_p F(c_p) with F(c) = Σ_{i≤c} C(d1, i). We maximise Σ_p log F(c_p)
over the integer points of K_N ∩ {c ≤ caps}.

*Why the greedy below is optimal.* (1) The binomial row C(d1, ·) is
log-concave, and partial sums of a positive log-concave sequence are
log-concave, so log F is concave: the objective is separable concave, and
non-decreasing (flat beyond d1). (2) K_N ∩ box is the set of integer points
of an integral polymatroid (a polymatroid cut by a box is one). (3) For a
separable concave objective over an integral polymatroid the greedy
algorithm — repeatedly raise by one a coordinate of largest marginal gain
among those whose raise stays feasible — is optimal (Federgruen &
Groenevelt, Oper. Res. 34 (1986); Groenevelt, EJOR 54 (1991)).
All positions share one marginal-gain sequence Δ(k) = log F(k+1) − log F(k),
non-increasing in k, so the greedy works in *levels*: at level k it raises,
one by one, positions with c_p = k. A raise that fails now fails forever
(K_N is down-closed and c only grows), and the raisable subsets at one
level are the independent sets of a matroid (integral polymatroid ∩ unit
box), so "raise a maximal subset" = "raise one at a time"; a maximum flow in
the residual network finds a maximum one. A first phase jumps over the
levels at which every position can be raised (a binary search on the
uniform level; usually one or two flows). Hence the box
we report is an exact maximiser, not a heuristic.

Upper bound: a tree of exact blocks
-----------------------------------
For any family L of position sets, K_N ⊆ K_L := {t : t(B) ≤ g(B) ∀B ∈ L,
t_p ≤ caps_p}, so R_N ≤ Σ_{t∈K_L} Π_p C(d1, t_p). We take L laminar —
overlap components, split recursively into halves of the output grid (a k-d
tree) — with small leaf blocks counted *exactly* (every union row inside the
leaf, by enumerating its t-box). A laminar family counts exactly bottom-up
with generating polynomials in z (z marks Σ t): a node's polynomial is the
product of its children's, truncated at degree g(node). Identical blocks up
to translation are computed once. When a node's polynomial would get too
large (degree × coefficient size), the children below it are kept as "top
blocks" and only the component's own row t(comp) ≤ g(comp) links them,
through the Chernoff-type tilt Σ_{k≤U} [z^k] P(z) ≤ x^{-U} P(x) with
x = a/2^24 chosen numerically. Each block's b^{D}·G(x) is an exact integer;
their product and a^U are then carried with 64-bit mantissas, rounded up in
the numerator and down in the denominator, so the result is a rigorous
integer upper bound at a relative cost below 10^-15 (exact products of
millions of bits, and Python 3.11's quadratic division, would take seconds). On small
components the tree is one exact leaf and the bound *is* R_N.

Examples
--------
>>> from ilpregions.core.spec import Network, ConvLayer
>>> from ilpregions.core.geometry import layer_instance
>>> b = one_layer_bounds(layer_instance(Network((5, 5, 1), (ConvLayer(9, 3),))))
>>> b.exponent, b.lower <= 803596022979526818736 <= b.upper
(25, True)
>>> [(x.name, x.kind) for x in b.bounds][:2]
[('best box in K_N', 'lower'), ('exact-block tree', 'upper')]
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from math import comb
from typing import Any, Sequence

import numpy as np

from ilpregions.core.bigint import big_int_repr
from ilpregions.core.combinatorics import binomial_prefix_sums, decimal_string, power_product, product
from ilpregions.core.geometry import Theorem1Instance, essential_unions
from ilpregions.core.results import Bound

#: A leaf block is counted by enumerating its t-box: at most this many points.
LEAF_BOX = 100_000
LEAF_POSITIONS = 12
#: Largest node polynomial (degree × coefficient bits) the tree keeps exact.
POLY_BITS = 1 << 18
#: The global binomial baseline is computed only when this cheap.
BASELINE_TERMS = 20_000


@big_int_repr  # repr at any size (docs/safety.md)
@dataclass(frozen=True)
class OneLayerBounds:
    """Bounds on R_N for one layer.

    Attributes
    ----------
    bounds : every bound computed, as :class:`~ilpregions.core.results.Bound`
    exponent : U = max Σ t over the LP relaxation without the d1 cap (= |∪S|)
    position_maxima : per position, max t_p over the LP relaxation (d1 cap on)
    lower, upper : the best lower and upper bound
    box : the c of the best box, per position (row-major)
    """

    bounds: tuple[Bound, ...]
    exponent: int
    position_maxima: tuple[int, ...]
    lower: int
    upper: int
    box: tuple[int, ...] = ()
    details: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def exact(self) -> bool:
        return self.lower == self.upper or any(b.kind == "exact" for b in self.bounds)

    def to_json(self) -> dict[str, Any]:
        return {"bounds": [b.to_json() for b in self.bounds],
                "lower": decimal_string(self.lower), "upper": decimal_string(self.upper),
                "exponent": self.exponent, "position_maxima": list(self.position_maxima),
                **self.details}


# ----------------------------------------------------------------------------
# Max-flow on the pixel network (channels collapse: a pixel has capacity d0)
# ----------------------------------------------------------------------------

class _PixelNetwork:
    """Incidence arrays of source → positions → pixels → sink."""

    def __init__(self, inst: Theorem1Instance):
        self.inst = inst
        self.lengths = np.array([len(f) for f in inst.fields], dtype=np.int64)
        total = int(self.lengths.sum())
        self.pos = np.repeat(np.arange(inst.positions, dtype=np.int64), self.lengths)
        self.pix = np.fromiter((x for f in inst.fields for x in f), dtype=np.int64, count=total)
        self.n_pos = inst.positions
        self.n_pix = max(inst.pixels, int(self.pix.max()) + 1 if total else 0)
        self.sink = 1 + self.n_pos + self.n_pix
        self.big = int(inst.channels * max(1, self.n_pix))  # > any flow on p → x

    def components(self) -> list[list[int]]:
        """Overlap components (as geometry.components, without its Python
        adjacency sets: connected components of the position–pixel graph)."""
        from scipy.sparse import csr_matrix
        from scipy.sparse.csgraph import connected_components

        n, m = self.n_pos, self.n_pix
        graph = csr_matrix((np.ones(len(self.pos), dtype=np.int8), (self.pos, n + self.pix)),
                           shape=(n + m, n + m))
        _, labels = connected_components(graph, directed=False)
        nonempty = np.flatnonzero(self.lengths > 0)
        order = nonempty[np.argsort(labels[nonempty], kind="stable")]
        cuts = np.flatnonzero(np.diff(labels[order])) + 1
        return [part.tolist() for part in np.split(order, cuts)] if len(order) else []

    def max_flow(self, source_caps: np.ndarray, used: np.ndarray | None = None,
                 load: np.ndarray | None = None):
        """Max flow with s→p capacities; with ``used``/``load`` (a current
        flow's per-edge units and per-pixel loads) it runs in that flow's
        residual network without edges back into the source, so existing
        source flows are never reduced. Returns (value, per-edge increments)."""
        from scipy.sparse import csr_matrix
        from scipy.sparse.csgraph import maximum_flow

        d0 = self.inst.channels
        n, m = self.n_pos, self.n_pix
        pos_node, pix_node = 1 + self.pos, 1 + n + self.pix
        if load is None:
            load = np.zeros(m, dtype=np.int64)
        rows = [np.zeros(n, dtype=np.int64), pos_node, 1 + n + np.arange(m)]
        cols = [1 + np.arange(n), pix_node, np.full(m, self.sink)]
        caps = [np.asarray(source_caps, dtype=np.int64), np.full(len(self.pos), self.big),
                d0 - load]
        if used is not None and used.any():
            back = used > 0
            rows.append(pix_node[back])
            cols.append(pos_node[back])
            caps.append(used[back])
        graph = csr_matrix((np.concatenate(caps).astype(np.int32),
                            (np.concatenate(rows), np.concatenate(cols))),
                           shape=(self.sink + 1, self.sink + 1))
        graph.eliminate_zeros()
        result = maximum_flow(graph, 0, self.sink, method="dinic")
        if result.flow_value == 0:
            return 0, np.zeros(len(self.pos), dtype=np.int64)
        flow = result.flow.tocsr()
        delta = np.asarray(flow[pos_node, pix_node]).ravel().astype(np.int64)
        return int(result.flow_value), delta


def lp_exponent(inst: Theorem1Instance, _start=None) -> int:
    """max Σ t over the LP relaxation of K_N without the d1 cap (a max-flow).

    >>> from ilpregions.core.spec import Network, ConvLayer
    >>> from ilpregions.core.geometry import layer_instance
    >>> lp_exponent(layer_instance(Network((3, 3, 2), (ConvLayer(5, 2),))))
    18
    """
    if not any(inst.fields):
        return 0
    net, base, used, load = _start if _start is not None else (_PixelNetwork(inst), None, None, None)
    full = net.lengths * inst.channels
    if base is None:
        value, _ = net.max_flow(full)
        return value
    # Continue from a flow that saturates c ≤ |S_p|: augment in its residual.
    extra, _ = net.max_flow(full - base, used, load)
    return int(base.sum()) + extra


def position_lp_maxima(inst: Theorem1Instance) -> tuple[int, ...]:
    """max t_p over the LP relaxation with the d1 cap: min(d1, |S_p|)."""
    return inst.caps


# ----------------------------------------------------------------------------
# Lower bound: the best box, by the level greedy over the polymatroid
# ----------------------------------------------------------------------------

def best_box(inst: Theorem1Instance, _net=None, _state=None) -> tuple[int, ...]:
    """An exact maximiser c of Π_p F(c_p) over K_N (see the module docstring).

    >>> from ilpregions.core.spec import Network, ConvLayer
    >>> from ilpregions.core.geometry import layer_instance
    >>> best_box(layer_instance(Network((4, 1), (ConvLayer(2, 2),))))
    (1, 1, 2)
    """
    caps = np.array(inst.caps, dtype=np.int64)
    if not caps.any():
        return tuple(int(c) for c in caps)
    net = _net if _net is not None else _PixelNetwork(inst)
    union = inst.union_size

    def uniform(level: int) -> np.ndarray:
        return np.minimum(caps, level)

    def feasible(level: int) -> bool:
        demand = uniform(level)
        if int(demand.sum()) > union:
            return False
        value, _ = net.max_flow(demand)
        return value == int(demand.sum())

    # Phase 1: the largest level at which every position can be raised.
    top = int(caps.max())
    guess = min(top, union // max(1, int((caps > 0).sum())))
    lo, hi = (guess, top + 1) if feasible(guess) else (0, guess)   # lo feasible, hi not
    while lo + 1 < hi:
        mid = (lo + hi) // 2
        if feasible(mid):
            lo = mid
        else:
            hi = mid
    c = uniform(lo)
    # Phase 2: levels lo, lo+1, ...: raise a maximum subset of the positions at
    # that level in the residual network of a flow that saturates c.
    value, used = net.max_flow(c)
    if value != int(c.sum()):  # pragma: no cover - phase 1 established feasibility
        raise RuntimeError("best_box: the uniform level is not feasible after all")
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
        if int(c.sum()) >= union:
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


def box_value(inst: Theorem1Instance, box: Sequence[int]) -> int:
    """Π_p Σ_{i≤c_p} C(d1, i), grouped by value (few distinct c's)."""
    prefix = binomial_prefix_sums(inst.filters, max(box, default=0))
    counts: dict[int, int] = {}
    for v in box:
        counts[v] = counts.get(v, 0) + 1
    return power_product([(prefix[v], k) for v, k in counts.items()])


# ----------------------------------------------------------------------------
# Upper bound: laminar tree of exact blocks
# ----------------------------------------------------------------------------

def _poly_mul(a: list[int], b: list[int], degree: int) -> list[int]:
    """Product of two polynomials with non-negative integer coefficients,
    truncated at ``degree``, by Kronecker substitution (one big product)."""
    a, b = a[:degree + 1], b[:degree + 1]
    if len(a) * len(b) <= 64:
        out = [0] * min(len(a) + len(b) - 1, degree + 1)
        for i, x in enumerate(a):
            if x:
                for j, y in enumerate(b[:len(out) - i]):
                    out[i + j] += x * y
        return out
    bits = max(a).bit_length() + max(b).bit_length() + min(len(a), len(b)).bit_length() + 1
    width = (bits + 7) // 8
    pack_a = int.from_bytes(b"".join(x.to_bytes(width, "little") for x in a), "little")
    pack_b = int.from_bytes(b"".join(x.to_bytes(width, "little") for x in b), "little")
    n = min(len(a) + len(b) - 1, degree + 1)
    raw = (pack_a * pack_b).to_bytes((len(a) + len(b)) * width, "little")
    return [int.from_bytes(raw[i * width:(i + 1) * width], "little") for i in range(n)]


def _poly_bits(poly: list[int]) -> int:
    return len(poly) * max(1, max(poly).bit_length())


class _BlockTree:
    """Bottom-up counting over a laminar family, memoised up to translation."""

    def __init__(self, inst: Theorem1Instance):
        self.inst = inst
        # Only t ≤ max cap ever occurs; C(d1, i) past that would cost seconds for large d1.
        self.binom = [comb(inst.filters, i) for i in range(max(inst.caps, default=0) + 1)]
        self.coords = [inst.position_coords(p) for p in range(inst.positions)]
        self.grid = np.array(self.coords, dtype=np.int64).reshape(inst.positions, -1)
        self.first = [f[0] if f else 0 for f in inst.fields]
        self.caps = inst.caps  # a property computed over all positions: read it once
        self.memo: dict[Any, tuple[int, list[int]]] = {}
        self.leaves = 0
        self.exact_leaves = 0

    # Keys: identical keys mean isomorphic set systems (pixel ids shifted by a
    # constant), hence the same g and the same polynomial.
    def leaf_key(self, block: Sequence[int]):
        low = self.low(block)
        return ("leaf", tuple(tuple(x - low for x in self.inst.fields[p]) for p in block))

    def low(self, block: Sequence[int]) -> int:
        first = self.first
        return min(first[p] for p in block)

    def box(self, block: Sequence[int]) -> int:
        size = 1
        for p in block:
            size *= self.caps[p] + 1
        return size

    def leaf(self, block: Sequence[int]) -> tuple[Any, int, list[int]]:
        key = self.leaf_key(block)
        hit = self.memo.get(key)
        if hit is None:
            hit = self._leaf_polynomial(block)
            self.memo[key] = hit
        self.leaves += 1
        return key, hit[0], hit[1]

    def _leaf_polynomial(self, block: Sequence[int]) -> tuple[int, list[int]]:
        """G_B(z) = Σ_{t∈K_B} Π C(d1, t_p) z^{Σt}, every row of the block."""
        inst = self.inst
        caps = [self.caps[p] for p in block]
        # Rows of the block alone (its own overlap graph, not the whole layer's).
        subsets = [(list(subset), union)
                   for subset, union in essential_unions(inst.restricted(block))
                   if len(subset) >= 2 and union < sum(caps[i] for i in subset)]
        grids = np.meshgrid(*[np.arange(c + 1) for c in caps], indexing="ij")
        t = np.stack([g.ravel() for g in grids], axis=1)
        ok = np.ones(len(t), dtype=bool)
        for members, union in subsets:
            ok &= t[:, members].sum(axis=1) <= union
        t = np.sort(t[ok], axis=1)
        rows, counts = np.unique(t, axis=0, return_counts=True)
        degree = sum(caps)
        poly = [0] * (degree + 1)
        for row, k in zip(rows.tolist(), counts.tolist()):
            w = k
            for v in row:
                w *= self.binom[v]
            poly[sum(row)] += w
        g = inst.coverage(block)
        while len(poly) > 1 and poly[-1] == 0:
            poly.pop()
        return g, poly

    def split(self, block: list[int]) -> tuple[list[int], list[int]]:
        """Halve a block along its longest output axis (k-d tree)."""
        ids = np.asarray(block, dtype=np.int64)
        coords = self.grid[ids]
        axis = int(np.argmax(coords.max(axis=0) - coords.min(axis=0)))
        keys = [coords[:, a] for a in reversed(range(coords.shape[1]))] + [coords[:, axis]]
        ordered = ids[np.lexsort(keys)].tolist()
        half = len(ordered) // 2
        return ordered[:half], ordered[half:]

    def node(self, block: list[int]):
        """(key, g, polynomial or None, top blocks) for a block.

        The polynomial is None when it would be too big; the block is then
        represented by its maximal exact sub-blocks ("top blocks")."""
        if len(block) <= LEAF_POSITIONS and self.box(block) <= LEAF_BOX:
            key, g, poly = self.leaf(block)
            return key, poly, [(key, poly)]
        if len(block) == 1:  # a single huge cap: still a closed form
            p = block[0]
            poly = [self.binom[i] for i in range(self.caps[p] + 1)]
            key = ("one", self.caps[p])
            return key, poly, [(key, poly)]
        left, right = self.split(block)
        key_l, poly_l, top_l = self.node(left)
        key_r, poly_r, top_r = self.node(right)
        key = ("node", key_l, key_r, self.low(right) - self.low(left))
        if poly_l is None or poly_r is None:
            return key, None, top_l + top_r
        hit = self.memo.get(key)
        if hit is None:
            if _poly_bits(poly_l) + _poly_bits(poly_r) > POLY_BITS:
                return key, None, top_l + top_r
            g = self.inst.coverage(block)
            poly = _poly_mul(poly_l, poly_r, g)
            hit = (g, poly)
            self.memo[key] = hit
        return key, hit[1], [(key, hit[1])]


def _log2_int(value: int) -> float:
    if value <= 0:
        return float("-inf")
    shift = max(0, value.bit_length() - 60)
    return math.log2(value >> shift) + shift


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


def _component_upper(tree: _BlockTree, comp: list[int], g_comp: int) -> tuple[int, dict]:
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
    tree = _BlockTree(inst)
    net = _net if _net is not None else _PixelNetwork(inst)
    values, exact, tops, tilts = [], True, 0, set()
    comp_memo: dict[Any, int] = {}
    for comp in (net.components() if any(inst.fields) else []):
        g = inst.coverage(comp)
        if len(comp) <= LEAF_POSITIONS and tree.box(comp) <= LEAF_BOX:
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


# ----------------------------------------------------------------------------
# Baselines (for comparison only)
# ----------------------------------------------------------------------------

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


# ----------------------------------------------------------------------------
# Public entry point
# ----------------------------------------------------------------------------

def one_layer_bounds(inst: Theorem1Instance, baselines: bool = True) -> OneLayerBounds:
    """Lower and upper bounds on R_N of one layer, with the LP exponent.

    Parameters
    ----------
    inst : Theorem1Instance
    baselines : also report the two textbook upper bounds for comparison

    Raises
    ------
    RuntimeError
        if the LP exponent differs from |∪S| (it cannot, by the rank of the
        polymatroid; a failure means a bug in the flow network).
    """
    timings = {}
    start = time.perf_counter()
    net = _PixelNetwork(inst) if any(inst.fields) else None
    state: list = []
    box = best_box(inst, net, state)
    lower = box_value(inst, box)
    timings["lower"] = time.perf_counter() - start

    start = time.perf_counter()
    exponent = lp_exponent(inst, (net, *state) if state else None)
    if exponent != inst.union_size:
        raise RuntimeError(f"LP exponent {exponent} differs from |∪S| = {inst.union_size}")
    timings["exponent"] = time.perf_counter() - start

    start = time.perf_counter()
    upper, exact, info = block_tree_upper(inst, net)
    timings["upper"] = time.perf_counter() - start

    bounds = [Bound("best box in K_N", "lower", lower),
              Bound("exact-block tree", "exact" if exact else "upper", upper)]
    if baselines:
        bounds.append(Bound("per-position product Π_p Σ_{i≤|S_p|} C(d1,i)", "upper",
                            per_position_bound(inst)))
        glob = global_binomial_bound(inst)
        if glob is None:
            bounds.append(Bound("global binomial Σ_{k≤U} C(positions·d1,k)", "upper", None,
                                applicable=False,
                                reason=f"not computed: more than {BASELINE_TERMS} huge terms"))
        else:
            bounds.append(Bound("global binomial Σ_{k≤U} C(positions·d1,k)", "upper", glob))
    uppers = [b.value for b in bounds if b.kind in ("upper", "exact") and b.value is not None]
    lowers = [b.value for b in bounds if b.kind in ("lower", "exact") and b.value is not None]
    details = {"box_levels": sorted(set(box)), "block_tree": info,
               "seconds": {k: round(v, 4) for k, v in timings.items()}}
    return OneLayerBounds(bounds=tuple(bounds), exponent=exponent,
                          position_maxima=position_lp_maxima(inst),
                          lower=max(lowers), upper=min(uppers), box=box, details=details)


__all__ = ["OneLayerBounds", "one_layer_bounds", "lp_exponent", "position_lp_maxima", "best_box",
           "box_value", "block_tree_upper", "per_position_bound", "global_binomial_bound"]

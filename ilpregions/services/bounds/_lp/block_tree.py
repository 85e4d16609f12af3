"""The upper bound's laminar family: exact leaf blocks, combined bottom-up
with generating polynomials in z (z marks Σ t), memoised up to translation."""

from __future__ import annotations

from ilpregions.core.combinatorics import binomial_row
from typing import Any, Sequence

import numpy as np

from ilpregions.core.geometry import Theorem1Instance
from ilpregions.core.set_system import essential_unions

#: A leaf block is counted by enumerating its t-box: at most this many points.
LEAF_BOX = 100_000
LEAF_POSITIONS = 12
#: Largest node polynomial (degree × coefficient bits) the tree keeps exact.
POLY_BITS = 1 << 18


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


class BlockTree:
    """Bottom-up counting over a laminar family, memoised up to translation."""

    def __init__(self, inst: Theorem1Instance):
        self.inst = inst
        # Only t ≤ max cap ever occurs; C(d1, i) past that would cost seconds for large d1.
        self.binom = binomial_row(inst.filters, max(inst.caps, default=0))  # iterative: fast for any d1
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

    def is_leaf(self, block: Sequence[int]) -> bool:
        """Small enough to count exactly by enumerating its t-box."""
        return len(block) <= LEAF_POSITIONS and self.box(block) <= LEAF_BOX

    def node(self, block: list[int]):
        """(key, g, polynomial or None, top blocks) for a block.

        The polynomial is None when it would be too big; the block is then
        represented by its maximal exact sub-blocks ("top blocks")."""
        if self.is_leaf(block):
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


__all__ = ["BlockTree", "LEAF_BOX", "LEAF_POSITIONS", "POLY_BITS"]

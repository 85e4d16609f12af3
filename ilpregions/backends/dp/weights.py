"""Exact weights of the frontier DP: residues modulo primes, or Python ints.

Every DP state carries one weight per *group*: per evaluation point d1 = x
(the weight of a demand t is C(x, t)), the unit weight (1, which counts
t-vectors), or a generating-function weight ``("kron", (d1, B), bound)``:
C(d1, t)·2^{B·t}, whose total is the block's polynomial
Σ_t Π_p C(d1, t_p)·y^{Σt} at y = 2^B, read back coefficient by coefficient
(docs/math.md#capped-strip-product). A weight is kept either as residues modulo primes below 2^31
(enough primes that their product exceeds an a-priori bound on the group's
total; the exact integer comes back by the Chinese remainder theorem) or as
one Python integer per group. Every operation is exact.

>>> cols = Columns([("binom", 5, 10 ** 30), ("unit", 0, 100)], top_t=2)
>>> cols.mode, len(cols.groups)
('residues', 2)
>>> w = cols.scale(cols.ones(3), 2)          # three states, each weight C(5, 2) / 1
>>> cols.totals(w)
[30, 3]
"""

from __future__ import annotations

from math import comb

import numpy as np

from ilpregions.core.combinatorics import binomial_prefix_sums, product

PRIME_BITS = 31
_PRIMES: list[int] = []


def _is_prime(n: int) -> bool:
    if n < 2:
        return False
    for p in (2, 3, 5, 7, 11, 13):
        if n % p == 0:
            return n == p
    d, s = n - 1, 0
    while d % 2 == 0:
        d //= 2
        s += 1
    for a in (2, 3, 5, 7, 11):  # deterministic below 2.1e12
        x = pow(a, d, n)
        if x in (1, n - 1):
            continue
        for _ in range(s - 1):
            x = x * x % n
            if x == n - 1:
                break
        else:
            return False
    return True


def primes(k: int) -> list[int]:
    """The k largest primes below 2^31 (a product of two fits an int64).

    >>> primes(2)
    [2147483647, 2147483629]
    """
    candidate = _PRIMES[-1] - 2 if _PRIMES else (1 << PRIME_BITS) - 1
    while len(_PRIMES) < k:
        if _is_prime(candidate):
            _PRIMES.append(candidate)
        candidate -= 2
    return _PRIMES[:k]


def primes_for(bound: int) -> list[int]:
    """Enough primes that their product exceeds ``bound`` (≥ 0).

    >>> len(primes_for(2 ** 100))
    4
    """
    k = max(1, (bound.bit_length() + 1) // (PRIME_BITS - 1) + 1)
    ps = primes(k)
    while product(ps) <= bound:
        k += 1
        ps = primes(k)
    return ps


def crt(residues: list[int], moduli: list[int]) -> int:
    """The integer in [0, Π moduli) with the given residues (Garner's scheme).

    >>> crt([2, 3], [3, 5])
    8
    """
    x, m = 0, 1
    for r, p in zip(residues, moduli):
        # x + m * k ≡ r (mod p)
        k = ((r - x) % p) * pow(m % p, -1, p) % p
        x += m * k
        m *= p
    return x


def group_weight(kind: str, x, t: int) -> int:
    """The weight of demand ``t`` in a group: C(x, t) ("binom"), 1 ("unit") or C(d1, t)·2^{B·t} ("kron", x = (d1, B)).

    >>> group_weight("binom", 5, 2), group_weight("unit", 0, 2), group_weight("kron", (5, 3), 2)
    (10, 1, 640)
    """
    if kind == "binom":
        return comb(x, t)
    if kind == "kron":
        d1, shift = x
        return comb(d1, t) << (shift * t)
    return 1


def single_total(kind: str, x, cap: int) -> int:
    """A lone position's total in a group: Σ_{t≤cap} of :func:`group_weight`.

    >>> single_total("binom", 3, 2), single_total("unit", 0, 2), single_total("kron", (2, 1), 2)
    (7, 3, 9)
    """
    if kind == "binom":
        return binomial_prefix_sums(x, cap)[cap]
    return sum(group_weight(kind, x, t) for t in range(cap + 1))


def block_bounds(d1_values, caps: list[int], coverage: int) -> dict:
    """Bounds on a block's totals, used to size the residue columns.

    For evaluation point x: R ≤ min(Π_p Σ_{k ≤ cap_p} C(x, k), Σ_{i ≤ U} C(P·x, i)):
    the box bound, and the number of sets of at most U = |∪S| of the P·x
    neurons (every counted set is independent in a rank-U matroid). The
    t-vectors: at most the box, and at most the vectors with Σ t ≤ U.

    >>> block_bounds([2], [1, 1], 2)["unit"]
    4
    """
    n = len(caps)
    out = {"unit": min(product(c + 1 for c in caps), comb(coverage + n, n))}
    for x in d1_values:
        prefix = binomial_prefix_sums(x, max(caps, default=0))   # one row, not a comb() per term
        box = product(prefix[c] for c in caps)
        if coverage <= 1024:  # the sum costs O(U) big multiplications
            term, total = 1, 1
            for i in range(1, coverage + 1):
                term = term * (n * x - i + 1) // i
                total += term
            box = min(box, total)
        out[x] = box
    return out


class Columns:
    """Weight columns, one group per evaluation point d1 = x (weight C(x, t))
    or for the unit weight (weight 1, which counts t-vectors).

    Two exact representations, picked by cost:

    * residues: one int64 column per prime of the group's bound (values
      below 2^31); numpy or the compiled kernels do the arithmetic, CRT
      recovers the integer (fast while the bound is a few thousand bits);
    * objects: one column of Python ints per group (``dtype=object``); wins
      when the numbers are huge and the states few (long 1-D layers).
    """

    #: Above this many residue columns the Python-int columns are cheaper.
    MAX_RESIDUE_COLUMNS = 96

    def __init__(self, groups: list[tuple[str, int, int]], top_t: int, mode: str = "auto"):
        # groups: (kind, x, bound) with kind "binom", "unit" or "kron".
        weight = group_weight
        self.spec = (list(groups), top_t)
        if mode == "auto":
            need = sum(bound.bit_length() // (PRIME_BITS - 1) + 1 for _, _, bound in groups)
            mode = "residues" if need <= self.MAX_RESIDUE_COLUMNS else "objects"
        self.mode = mode
        self.groups = []
        if mode == "objects":
            self.mods = None
            self.width = len(groups)
            self.groups = [(kind, x, k, k + 1) for k, (kind, x, _) in enumerate(groups)]
            self.mult = []
            for t in range(top_t + 1):
                row = np.empty(len(groups), dtype=object)
                row[:] = [weight(kind, x, t) for kind, x, _ in groups]
                self.mult.append(row)
            return
        mods, mults = [], [[] for _ in range(top_t + 1)]
        for kind, x, bound in groups:
            ps = primes_for(bound)
            lo = len(mods)
            mods.extend(ps)
            self.groups.append((kind, x, lo, len(mods)))
            for t in range(top_t + 1):
                value = weight(kind, x, t)
                mults[t].extend(value % p for p in ps)
        self.mods = np.array(mods, dtype=np.int64)
        self.mult = [np.array(row, dtype=np.int64) for row in mults]
        self.width = len(mods)

    def as_residues(self) -> "Columns":
        """The same groups as residue columns (what the compiled kernels need)."""
        return self if self.mods is not None else Columns(self.spec[0], self.spec[1], "residues")

    def ones(self, n: int) -> np.ndarray:
        if self.mods is None:
            out = np.empty((n, self.width), dtype=object)
            out[:] = 1
            return out
        return np.ones((n, self.width), dtype=np.int64)

    def scale(self, weights: np.ndarray, t: int) -> np.ndarray:
        """weights × C(x, t) per column (reduced when residues)."""
        if self.mods is None:
            return weights * self.mult[t]
        return weights * self.mult[t] % self.mods

    def reduce(self, weights: np.ndarray) -> np.ndarray:
        if self.mods is None:
            return weights
        weights %= self.mods
        return weights

    def totals(self, weights: np.ndarray) -> list[int]:
        """Exact integers, one per group, from all states' weights."""
        if self.mods is not None:
            # Residues are below 2^31: an int64 sum of fewer than 2^32 rows is exact.
            weights = weights.astype(np.int64, copy=False)
        summed = self.reduce(np.add.reduce(weights, axis=0))
        if self.mods is None:
            return [int(v) for v in summed]
        return self.recombine([int(v) for v in summed])

    def recombine(self, residues: list[int]) -> list[int]:
        """One exact integer per group from one row of residues."""
        mods = self.mods.tolist()
        return [crt(residues[lo:hi], mods[lo:hi]) for _, _, lo, hi in self.groups]

    @property
    def bytes_per_weight(self) -> int:
        """Bytes of one weight column of one state as the numpy path holds it."""
        return 8 if self.mods is not None else 64

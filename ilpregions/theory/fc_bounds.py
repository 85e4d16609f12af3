"""Region bounds for fully-connected ReLU networks (docs/math.md#fully-connected-networks), as exact integers.

A fully-connected network has ``n0`` inputs and hidden widths ``n_1, …, n_L``.
Every function here is pure integer arithmetic; counts are never floats.

* :func:`pascanu2013_exact` — one layer, exact: Σ_{i≤n0} C(n1, i).
* :func:`montufar2014_lower` — (Π_{l<L} ⌊n_l/n0⌋^{n0}) · Σ_{i≤n0} C(n_L, i).
* :func:`montufar2017_upper` — Π_l Σ_{i≤m_l} C(n_l, i), m_l = min(n0, n_1, …, n_{l−1}).
* :func:`serra2018_upper` — Σ_{j∈J} Π_l C(n_l, j_l) with
  J = {0 ≤ j_l ≤ min(n0, n_1 − j_1, …, n_{l−1} − j_{l−1}, n_l)}, summed by a
  dynamic programme over layers (never by listing the tuples of J).

The upper bounds hold for *any* ReLU network with those neuron counts per
layer (a CNN is a fully-connected net with some weights tied or zero), which
is how :mod:`ilpregions.services.bounds` uses them.

Examples
--------
>>> pascanu2013_exact(2, 4)            # 4 lines in the plane
11
>>> montufar2014_lower(2, [4, 3])      # ⌊4/2⌋² · (1 + 3 + 3)
28
>>> montufar2017_upper(3, [2, 5]), serra2018_upper(3, [2, 5])
(64, 29)
"""

from __future__ import annotations

from ilpregions.core.errors import ParameterError, TooLargeError

import math
from functools import lru_cache
from math import comb
from typing import Sequence

from ilpregions.core.combinatorics import product

#: Above this many terms, :func:`binomial_sum` switches from the plain loop to
#: 2-adic binary splitting (the loop costs m multiplications of huge numbers).
_FAST_SUM_TERMS = 3000

#: Serra's DP does about Σ_l (#states × #choices) big-integer products; beyond
#: this many it is refused (the caller reports the bound as not applicable).
SERRA_MAX_WORK = 400_000


@lru_cache(maxsize=64)
def binomial_sum(n: int, m: int) -> int:
    """Σ_{i=0}^{m} C(n, i), exactly, also for m in the hundreds of thousands.

    >>> binomial_sum(5, 2), binomial_sum(5, 9), binomial_sum(4, -1)
    (16, 32, 0)
    >>> binomial_sum(6001, 3000) == 2 ** 6000     # odd n: half of 2^n, by symmetry
    True
    """
    if n < 0:
        raise ParameterError("n", f"must be >= 0, got {n}")
    if m < 0:
        return 0
    if m >= n:
        return 1 << n
    if 2 * m >= n:
        # The complement has fewer terms: Σ_{i≤m} = 2^n − Σ_{i≤n−m−1}.
        return (1 << n) - binomial_sum(n, n - m - 1)
    if m < _FAST_SUM_TERMS:
        total, term = 0, 1
        for i in range(m + 1):
            total += term
            term = term * (n - i) // (i + 1)
        return total
    return _binomial_sum_2adic(n, m)


def _binomial_sum_2adic(n: int, m: int) -> int:
    """Σ_{i≤m} C(n, i) for m < n/2 via binary splitting modulo a power of two.

    Σ_k C(n, k) = (Q + T) / m! where, over j < m with a_j = n − j and
    b_j = j + 1, Q = Π b_j = m! and T/Q = Σ_{k=1}^{m} Π_{j<k} a_j/b_j. The
    plain product tree makes Q, T about m·log2(n) bits and the final division
    quadratic in Python; but the answer is below 2^K for a K we know from
    log-gamma, so it suffices to work modulo 2^(K+e), e = v2(m!): divide the
    exact power 2^e out by a shift and the odd part by a Newton inverse mod 2^K.
    """
    log2_term = (math.lgamma(n + 1) - math.lgamma(m + 1) - math.lgamma(n - m + 1)) / math.log(2)
    bits = int(log2_term + math.log2(m + 1)) + 64  # Σ ≤ (m+1)·C(n, m), with margin
    e = m - bin(m).count("1")                        # Legendre: v2(m!)
    mask = (1 << (bits + e)) - 1

    def split(lo: int, hi: int) -> tuple[int, int, int]:
        # (P, Q, T) over j in [lo, hi): P = Π a_j, Q = Π b_j,
        # T/Q = Σ_{k=lo}^{hi−1} Π_{j=lo}^{k} a_j / b_j; all kept mod 2^(bits+e).
        if hi - lo == 1:
            return n - lo, lo + 1, n - lo
        mid = (lo + hi) // 2
        p1, q1, t1 = split(lo, mid)
        p2, q2, t2 = split(mid, hi)
        return (p1 * p2) & mask, (q1 * q2) & mask, (t1 * q2 + p1 * t2) & mask

    _, q, t = split(0, m)
    numerator = ((q + t) & mask) >> e
    odd = (q >> e) & ((1 << bits) - 1)
    result = (numerator * _inverse_mod_power_of_two(odd, bits)) & ((1 << bits) - 1)
    return result


def _inverse_mod_power_of_two(a: int, bits: int) -> int:
    """a⁻¹ mod 2^bits for odd a, by Newton's iteration x ← x(2 − a·x).

    >>> (_inverse_mod_power_of_two(12345, 100) * 12345) % (1 << 100)
    1
    """
    x, precision = a & 7, 3  # a·a ≡ 1 (mod 8) for every odd a
    while precision < bits:
        precision = min(2 * precision, bits)
        modulus = (1 << precision) - 1
        x = (x * (2 - a * x)) & modulus
    return x & ((1 << bits) - 1)


def _check_widths(n0: int, widths: Sequence[int]) -> list[int]:
    widths = list(widths)
    if n0 < 1 or not widths or any(w < 1 for w in widths):
        raise ParameterError("widths", "n0 and every width must be positive, with at least one layer")
    return widths


def pascanu2013_exact(n0: int, n1: int) -> int:
    """Pascanu et al. (2013): one hidden layer of n1 units on n0 inputs, exact.

    >>> pascanu2013_exact(4, 6)
    57
    """
    _check_widths(n0, [n1])
    return binomial_sum(n1, n0)


def montufar2014_lower(n0: int, widths: Sequence[int]) -> int:
    """Montúfar, Pascanu, Cho & Bengio (2014), lower bound.

    (Π_{l=1}^{L−1} ⌊n_l/n0⌋^{n0}) · Σ_{i≤n0} C(n_L, i). Their construction
    needs n_l ≥ n0 in the folding layers l < L; the caller checks it.

    >>> montufar2014_lower(1, [3, 3, 2])   # 3 · 3 · (1 + 2)
    27
    """
    widths = _check_widths(n0, widths)
    factors = [pow(w // n0, n0) for w in widths[:-1]]
    return product(factors + [binomial_sum(widths[-1], n0)])


def teeth(units: int) -> int:
    """Linear pieces of (0, 1), each mapped onto (0, 1), that ``units`` ReLUs of one scalar can make.

    ``units`` for 1 and 2 (the folding of Montúfar et al. 2014), ``units + 1``
    from 3 on, by pointing the last one or two units to the left (Serra,
    Tjandraatmadja & Ramalingam 2018; construction: :func:`sawtooth`,
    docs/math.md#teeth-of-a-sawtooth).

    >>> [teeth(m) for m in range(6)]
    [0, 1, 2, 4, 5, 6]
    """
    return units + 1 if units >= 3 else units


def sawtooth(units: int):
    """The folding map of :func:`teeth`: (breakpoints, directions, coefficients, constant), exact Fractions.

    g(z) = constant + Σ_i coefficient_i · ReLU(direction_i · (z − breakpoint_i)) is continuous
    on (0, 1) with ``teeth(units)`` pieces between the breakpoints, each mapped affinely onto
    (0, 1), and the active units differ from piece to piece.

    >>> points, directions, _, _ = sawtooth(3)
    >>> [str(b) for b in points], directions
    (['1/7', '3/7', '5/7'], [1, 1, -1])
    """
    from fractions import Fraction

    if units < 3:   # Montúfar et al.: unit j at j/m pointing right, the first one on the left end
        m = max(units, 1)
        slopes = [Fraction(m * (-1) ** i) for i in range(m)]
        lengths = [Fraction(1, m)] * m
        points = [Fraction(j, m) for j in range(m)]
        directions = [1] * m
        left: set[int] = set()
    else:
        rate = Fraction(2 * units + 1, 2)             # a = m + 1/2: every piece but one has length 1/a
        rates = [rate] * (units + 1)
        doubled = 0 if units % 2 else units - 2       # odd m: a_1 = a_m + a_{m+1}; even m: a_{m-1} = a_1 + a_{m+1}
        rates[doubled] = 2 * rate
        slopes = [r * (-1) ** i for i, r in enumerate(rates)]
        lengths = [1 / r for r in rates]
        points = [sum(lengths[:i + 1]) for i in range(units)]
        left = {units - 1} if units % 2 else {units - 2, units - 1}
        directions = [-1 if i in left else 1 for i in range(units)]
    jumps = [slopes[i + 1] - slopes[i] for i in range(len(slopes) - 1)]
    if units < 3:
        coefficients = [slopes[0]] + jumps       # the unit on the left end carries the first slope
    else:
        coefficients = jumps
    constant = -sum(c * b for c, b, d in zip(coefficients, points, directions) if d < 0)   # g(0) = 0
    return points, directions, coefficients, constant


def serra2018_lower(n0: int, widths: Sequence[int]) -> int:
    """Serra, Tjandraatmadja & Ramalingam (2018), lower bound: Montúfar et al.'s with :func:`teeth`.

    (Π_{l<L} teeth(⌊n_l/n0⌋)^{n0}) · Σ_{i≤n0} C(n_L, i); needs n_l ≥ n0 for l < L (the caller checks).

    >>> serra2018_lower(1, [3, 3, 2]), montufar2014_lower(1, [3, 3, 2])   # 4 · 4 · 3 against 3 · 3 · 3
    (48, 27)
    """
    widths = _check_widths(n0, widths)
    factors = [pow(teeth(w // n0), n0) for w in widths[:-1]]
    return product(factors + [binomial_sum(widths[-1], n0)])


def montufar2017_upper(n0: int, widths: Sequence[int]) -> int:
    """Montúfar (2017), upper bound: Π_l Σ_{i≤m_l} C(n_l, i), m_l = min(n0, n_1..n_{l−1}).

    >>> montufar2017_upper(2, [4, 3])      # (1 + 4 + 6) · (1 + 3 + 3)
    77
    """
    widths = _check_widths(n0, widths)
    factors, dim = [], n0
    for w in widths:
        factors.append(binomial_sum(w, dim))
        dim = min(dim, w)
    return product(factors)


def serra2018_work(n0: int, widths: Sequence[int]) -> int:
    """Roughly how many big-integer products :func:`serra2018_upper` needs."""
    widths = _check_widths(n0, widths)
    work, dim = 0, n0
    for w in widths[:-1]:
        work += (min(dim, w) + 1) ** 2
        dim = min(dim, w)
    return work


def serra2018_upper(n0: int, widths: Sequence[int]) -> int:
    """Serra, Tjandraatmadja & Ramalingam (2018), upper bound, by a DP over layers.

    The DP state after layer l is the cap c_l = min(n0, n_1 − j_1, …, n_l − j_l)
    that bounds j_{l+1}; many tuples share a state, so we carry, per state, the
    sum of Π C(n_i, j_i) over the prefixes reaching it. The last layer needs
    no new state: its choices add up to a binomial prefix sum.

    >>> serra2018_upper(3, [2, 5])         # j1=0: 16, j1=1: 2·6, j1=2: 1·1
    29
    >>> serra2018_upper(2, [4, 3]) == montufar2017_upper(2, [4, 3])
    True

    Raises :class:`~ilpregions.core.errors.TooLargeError` beyond :data:`SERRA_MAX_WORK` products.
    """
    widths = _check_widths(n0, widths)
    if serra2018_work(n0, widths) > SERRA_MAX_WORK:
        raise TooLargeError(f"Serra's sum needs about {serra2018_work(n0, widths)} big-integer products "
                         f"(more than {SERRA_MAX_WORK})")
    states = {n0: 1}  # cap -> Σ of Π C over prefixes with that cap
    for w in widths[:-1]:
        row = [comb(w, j) for j in range(min(max(states), w) + 1)]
        new: dict[int, int] = {}
        for cap, weight in states.items():
            for j in range(min(cap, w) + 1):
                nxt = min(cap, w - j)
                new[nxt] = new.get(nxt, 0) + weight * row[j]
        states = new
    last = widths[-1]
    return sum(weight * binomial_sum(last, min(cap, last)) for cap, weight in states.items())


def serra2018_bruteforce(n0: int, widths: Sequence[int]) -> int:
    """Serra's sum by listing every tuple of J; for tests on tiny nets only.

    >>> serra2018_bruteforce(3, [2, 5])
    29
    """
    widths = _check_widths(n0, widths)

    def rec(layer: int, cap: int) -> int:
        if layer == len(widths):
            return 1
        w = widths[layer]
        return sum(comb(w, j) * rec(layer + 1, min(cap, w - j)) for j in range(min(cap, w) + 1))

    return rec(0, n0)


def fc_params(n0: int, widths: Sequence[int]) -> int:
    """Weights plus biases of a fully-connected net: Σ_l n_l·(n_{l−1} + 1).

    >>> fc_params(4, [6])
    30
    """
    widths = _check_widths(n0, widths)
    total, previous = 0, n0
    for w in widths:
        total += w * (previous + 1)
        previous = w
    return total


__all__ = ["binomial_sum", "pascanu2013_exact", "montufar2014_lower", "teeth", "sawtooth", "serra2018_lower", "montufar2017_upper",
           "serra2018_upper", "serra2018_work", "serra2018_bruteforce", "fc_params"]

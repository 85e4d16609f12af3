"""R_N as one exact polynomial in the width d1 (docs/math.md#polynomial-form-and-asymptotics).

For a fixed geometry, R_N(x) = Σ_{t∈K_N} Π_p C(x, t_p) with t_p ≤ |S_p|,
where C(x, t) = x(x−1)…(x−t+1)/t! is a polynomial in x of degree t. So
R_N(x) is a polynomial of degree U = |∪_p S_p| (the largest Σ t over K_N).

Why evaluating the ordinary count at x = 0, 1, …, U and interpolating is
exact, whatever the caps. For an integer x ≥ 0, C(x, t) = 0 whenever
t > x: the falling factorial x(x−1)…(x−t+1) has the factor x − x = 0. The
count at width d1 = x caps t_p by min(x, |S_p|), i.e. it drops exactly the
terms with some t_p > x, and those terms are 0 at x. Hence the capped count
at d1 = x equals the polynomial R_N(x) at every integer x ≥ 0, in particular
for x < max t_p, where binomials vanish. U + 1 values of a polynomial of
degree ≤ U determine it. (Evaluating with caps |S_p| gives the same values
by the same argument; we use caps |S_p| so that all evaluation points share
one set of DP transitions.)

We run the DP once per connected block with one weight column per
evaluation point, take Newton forward differences (integers, since the values
are integers at consecutive integers): R_b(x) = Σ_k Δ^k R_b(0)·C(x, k),
convert to the monomial basis with exact fractions, and multiply the blocks.

The leading constant c in R_N ~ c·d1^U is the coefficient of x^U; it equals
Σ_{t∈K_N, Σt=U} Π_p 1/t_p! (only those t reach degree U).

Examples
--------
>>> from ilpregions.core.spec import Network, ConvLayer
>>> from ilpregions.core.geometry import layer_instance
>>> poly = region_polynomial(layer_instance(Network((3, 1), (ConvLayer(1, 2, shared=False),))))
>>> poly.degree, poly.leading, [str(c) for c in poly.coefficients]
(3, Fraction(1, 1), ['1', '1', '1', '1'])
>>> poly(1), poly(2)
(4, 15)
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from math import comb, factorial

from ilpregions.core.combinatorics import product
from ilpregions.core.errors import ILPRegionsError


class PolynomialTimeLimit(ILPRegionsError):
    """The DP behind the polynomial did not finish in time (no partial polynomial exists)."""


@dataclass(frozen=True)
class RegionPolynomial:
    """R_N(d1) = Σ_k coefficients[k]·d1^k, exactly, for every d1 ≥ 0."""

    coefficients: tuple[Fraction, ...]
    degree: int
    leading: Fraction
    details: dict

    def __call__(self, d1: int) -> int:
        value = Fraction(0)
        for c in reversed(self.coefficients):
            value = value * d1 + c
        if value.denominator != 1:
            raise ArithmeticError(f"R_N({d1}) = {value} is not an integer")
        return value.numerator

    def to_json(self) -> dict:
        return {"polynomial": [fraction_string(c) for c in self.coefficients],
                "degree": self.degree, "leading": fraction_string(self.leading)}

    def text(self, variable: str = "d1") -> str:
        """The polynomial as text, highest degree first."""
        terms = []
        for k in range(self.degree, -1, -1):
            c = self.coefficients[k]
            if c == 0:
                continue
            power = "" if k == 0 else (f"·{variable}" if k == 1 else f"·{variable}^{k}")
            terms.append(f"({fraction_string(c)}){power}")
        return " + ".join(terms) if terms else "0"


def fraction_string(value: Fraction) -> str:
    """``"p/q"``, or ``"n"`` for an integer (exact decimal digits at any size).

    Parameters
    ----------
    value : Fraction
        The number.

    Returns
    -------
    str
        Its text.

    Examples
    --------
    >>> fraction_string(Fraction(6, 4)), fraction_string(Fraction(3))
    ('3/2', '3')
    """
    from ilpregions.core.combinatorics import decimal_string

    if value.denominator == 1:
        return decimal_string(value.numerator)
    return f"{decimal_string(value.numerator)}/{decimal_string(value.denominator)}"


def newton_coefficients(values: list[int]) -> list[int]:
    """Forward differences Δ^k v(0): P(x) = Σ_k a_k·C(x, k) through the points.

    >>> newton_coefficients([1, 3, 7, 13])   # x^2 + x + 1
    [1, 2, 2, 0]
    """
    row, out = list(values), []
    while row:
        out.append(row[0])
        row = [b - a for a, b in zip(row, row[1:])]
    return out


def binomial_to_monomial(newton: list[int]) -> list[Fraction]:
    """Monomial coefficients of Σ_k a_k·C(x, k).

    >>> [str(c) for c in binomial_to_monomial([1, 2, 2])]
    ['1', '1', '1']
    """
    out = [Fraction(0)] * max(1, len(newton))
    falling = [1]  # coefficients of x(x−1)…(x−k+1), starting with k = 0
    for k, a in enumerate(newton):
        if a:
            scale = Fraction(a, factorial(k))
            for i, c in enumerate(falling):
                if c:
                    out[i] += scale * c
        # falling *= (x − k)
        nxt = [0] * (len(falling) + 1)
        for i, c in enumerate(falling):
            nxt[i + 1] += c
            nxt[i] -= k * c
        falling = nxt
    return out


def _multiply(a: list[Fraction], b: list[Fraction]) -> list[Fraction]:
    out = [Fraction(0)] * (len(a) + len(b) - 1)
    for i, x in enumerate(a):
        if x:
            for j, y in enumerate(b):
                if y:
                    out[i + j] += x * y
    return out


def region_polynomial(inst, *, time_limit: float | None = None, progress=None,
                      memory_cap: int | None = None) -> RegionPolynomial:
    """R_N(d1) of a layer's set system as an exact polynomial (any d1 ≥ 0).

    The instance's own ``filters`` value is ignored: the DP evaluates every
    block at d1 = 0, 1, ..., deg and interpolates exactly.

    Parameters
    ----------
    inst : Theorem1Instance
        The layer's set system.
    time_limit : float, optional
        Seconds for the DP.
    progress : optional
        A progress bar for the DP's steps.
    memory_cap : int, optional
        Bytes the DP may hold; default the dp backend's cap.

    Returns
    -------
    RegionPolynomial
        The coefficients (Fractions, constant term first), the degree
        (|∪S|) and the leading coefficient.

    Raises
    ------
    PolynomialTimeLimit
        The DP did not finish within ``time_limit`` (a partial polynomial
        means nothing).
    TooLargeError
        The DP's estimated memory exceeds ``memory_cap``.

    Examples
    --------
    >>> from ilpregions.core.geometry import layer_instance
    >>> from ilpregions.core.spec import ConvLayer, Network
    >>> p = region_polynomial(layer_instance(Network((4, 1), (ConvLayer(2, 2),))))
    >>> p.text()
    '(7/4)·d1^4 + (2)·d1^3 + (7/4)·d1^2 + (3/2)·d1 + (1)'
    >>> sum(c * 2 ** k for k, c in enumerate(p.coefficients))    # d1 = 2: the Theorem-1 count
    Fraction(55, 1)
    """
    from ilpregions import backends
    from ilpregions.core.set_system import components

    dp = backends.load("dp", backends.EVALUATE)
    sizes = list(inst.field_sizes)
    degrees = {}
    for comp in components(inst):
        degrees[tuple(comp)] = inst.coverage(comp)

    def groups(comp):
        top = degrees[tuple(comp)]
        return [("binom", x, product(sum(comb(x, k) for k in range(sizes[p] + 1)) for p in comp))
                for x in range(top + 1)]

    cap = dp.DEFAULT_MEMORY_CAP if memory_cap is None else memory_cap
    per_block, complete, stats = dp.evaluate(inst, groups, sizes, time_limit=time_limit,
                                             progress=progress, memory_cap=cap)
    if not complete:
        raise PolynomialTimeLimit(f"polynomial: the DP did not finish within {time_limit} s "
                                  f"({stats['steps']} steps done); a partial polynomial means nothing")
    poly = [Fraction(1)]
    for values in per_block:
        poly = _multiply(poly, binomial_to_monomial(newton_coefficients(values)))
    while len(poly) > 1 and poly[-1] == 0:
        poly.pop()
    degree = len(poly) - 1
    details = {"peak_states": stats["peak_states"], "peak_memory_bytes": stats["peak_memory_bytes"]}
    return RegionPolynomial(tuple(poly), degree, poly[-1], details)

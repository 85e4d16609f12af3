"""Exact integer helpers: binomial rows, prefix sums and balanced products.

Pure Python integers throughout; counts are never floats.
"""

from __future__ import annotations

from math import comb
from typing import Iterable, Sequence


def binomial_row(n: int, upto: int) -> list[int]:
    """[C(n, 0), ..., C(n, upto)] (zeros past n).

    >>> binomial_row(4, 5)
    [1, 4, 6, 4, 1, 0]
    """
    return [comb(n, i) for i in range(upto + 1)]


def binomial_prefix_sums(n: int, upto: int) -> list[int]:
    """[Σ_{i≤k} C(n, i) for k = 0..upto].

    >>> binomial_prefix_sums(3, 4)
    [1, 4, 7, 8, 8]
    """
    out, acc = [], 0
    for i in range(upto + 1):
        acc += comb(n, i)
        out.append(acc)
    return out


def product(values: Iterable[int]) -> int:
    """Exact product by a balanced product tree.

    Multiplying huge integers left to right costs quadratic time in the total
    size; pairing them up keeps the operands balanced.

    >>> product([2, 3, 4, 5])
    120
    >>> product([])
    1
    """
    items: list[int] = list(values)
    if not items:
        return 1
    while len(items) > 1:
        paired = [items[i] * items[i + 1] for i in range(0, len(items) - 1, 2)]
        if len(items) % 2:
            paired.append(items[-1])
        items = paired
    return items[0]


def power_product(factors: Sequence[tuple[int, int]]) -> int:
    """Π base**exponent for (base, exponent) pairs, exactly."""
    return product(pow(base, exponent) for base, exponent in factors)


def decimal_string(value: int) -> str:
    """``str(value)`` for integers of any size.

    Python caps int-to-str conversion at 4300 digits by default (a guard for
    untrusted input); our counts are ours and can be far longer.
    """
    import sys

    if sys.get_int_max_str_digits() and abs(value).bit_length() > 14_000:
        sys.set_int_max_str_digits(0)
    return str(value)

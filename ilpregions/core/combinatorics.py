"""Exact integer helpers: binomial rows, prefix sums, balanced products,
log10 of big integers, and grouping items that share keys.

Pure Python integers throughout; counts are never floats.
"""

from __future__ import annotations

from ilpregions.core.errors import ParameterError

import math
from typing import Iterable, Sequence


def binomial_row(n: int, upto: int) -> list[int]:
    """[C(n, 0), ..., C(n, upto)] (zeros past n).

    >>> binomial_row(4, 5)
    [1, 4, 6, 4, 1, 0]
    """
    out, term = [], 1
    for i in range(upto + 1):
        # C(n, i) from C(n, i-1) (exact: C(n, i-1)·(n-i+1) is divisible by i); fresh comb() calls
        # cost O(i) big multiplications each: 20,000 of them on n = 20,000 took minutes
        out.append(term)
        term = term * (n - i) // (i + 1) if i < n else 0
    return out


def binomial_prefix_sums(n: int, upto: int) -> list[int]:
    """[Σ_{i≤k} C(n, i) for k = 0..upto].

    >>> binomial_prefix_sums(3, 4)
    [1, 4, 7, 8, 8]
    """
    out, acc = [], 0
    for term in binomial_row(n, upto):
        acc += term
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
    """``str(value)`` for integers of any size, in O(M(n) log n) time.

    Python 3.11 caps int → str at 4300 digits (a guard for untrusted input)
    and its conversion is quadratic (1.7 s for 240,000 digits). Big values
    use the divide-and-conquer conversion of CPython 3.12's ``_pylong``:
    split the binary digits in halves and recombine in :mod:`decimal`, whose
    big multiplications are fast (0.12 s for the same number).

    >>> [decimal_string(v) for v in (0, -7, 2 ** 130)] == [str(v) for v in (0, -7, 2 ** 130)]
    True
    >>> text = decimal_string(3 ** 20000)  # 9543 digits: plain str() refuses
    >>> len(text), text[:5], int(text[:600]) == 3 ** 20000 // 10 ** 8943
    (9543, '26613', True)
    """
    import decimal

    if abs(value).bit_length() <= 4096:  # < 1234 digits: under Python's 4300-digit guard
        return str(value)
    # No global side effect: the guard stays as it is; only 128-bit pieces
    # ever go through int -> str (inside Decimal).
    D = decimal.Decimal
    powers: dict[int, decimal.Decimal] = {}

    def pow2(w: int):
        result = powers.get(w)
        if result is None:
            if w <= 128:
                result = D(2) ** w
            elif w - 1 in powers:
                result = powers[w - 1] + powers[w - 1]
            else:
                result = pow2(w >> 1) * pow2(w - (w >> 1))
            powers[w] = result
        return result

    def inner(n: int, w: int):
        if w <= 128:
            return D(n)
        half = w >> 1
        hi = n >> half
        lo = n - (hi << half)
        return inner(lo, half) + inner(hi, w - half) * pow2(half)

    with decimal.localcontext() as ctx:
        ctx.prec = decimal.MAX_PREC
        ctx.Emax = decimal.MAX_EMAX
        ctx.Emin = decimal.MIN_EMIN
        ctx.traps[decimal.Inexact] = 1
        text = str(inner(abs(value), abs(value).bit_length()))
    return "-" + text if value < 0 else text


def short_int(value: int, digits: int = 3) -> str:
    """An exact integer for a table: itself when short, else ``1.23e4567``.

    Computed from the decimal digits, never through a float, so it cannot
    overflow.

    >>> short_int(123456), short_int(10 ** 5000 * 123, digits=3)
    ('123456', '1.23e5002')
    """
    sign = "-" if value < 0 else ""
    text = decimal_string(abs(value))
    if len(text) <= 15:
        return sign + text
    return f"{sign}{text[0]}.{text[1:digits]}e{len(text) - 1}"


def log10_int(value: int | None) -> float | None:
    """log10 of a non-negative integer of any size (None for None, -inf for 0).

    Through the top 60 bits, so it never overflows a float.

    >>> log10_int(1000), round(log10_int(10 ** 5000 * 3), 6), log10_int(0)
    (3.0, 5000.477121, -inf)
    """
    if value is None:
        return None
    if value < 0:
        raise ParameterError("value", f"log10_int: {value} is negative")
    if value == 0:
        return -math.inf
    shift = max(0, value.bit_length() - 60)
    return math.log10(value >> shift) + shift * math.log10(2)


#: Above this many (item, key) pairs, grouping goes through scipy.sparse.csgraph.
SCIPY_GROUPING = 20_000
#: ... or above this many once scipy.sparse.csgraph is imported anyway (below it the union-find
#: in Python is faster than building the sparse graph: 15 µs against 45 µs on 81 pairs).
SCIPY_LOADED_GROUPING = 1_000


def connected_groups(members: Sequence[Iterable[int]]) -> list[list[int]]:
    """Items connected through shared keys: the connected components of the
    bipartite item–key graph, each sorted, ordered by their smallest item. An
    item with no key is a group of its own.

    Large inputs (or, once scipy is loaded, medium ones) use
    ``scipy.sparse.csgraph.connected_components``; small ones a union-find in
    pure Python, because importing scipy.sparse costs a CLI process about
    0.4 s of CPU, more than the whole of a small ``count``, and building the
    sparse graph costs more than the union-find on a few hundred pairs. Both give the
    same groups (tests/test_layers.py checks it).

    >>> connected_groups([[0], [1], [0, 1], [2], []])
    [[0, 1, 2], [3], [4]]
    """
    import sys

    lists = [list(keys) for keys in members]
    pairs = sum(len(keys) for keys in lists)
    if pairs > SCIPY_GROUPING or (pairs > SCIPY_LOADED_GROUPING and "scipy.sparse.csgraph" in sys.modules):
        return _groups_scipy(lists)
    return _groups_union_find(lists)


def _groups_union_find(lists: list[list[int]]) -> list[list[int]]:
    parent = list(range(len(lists)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    owner: dict[int, int] = {}
    for item, keys in enumerate(lists):
        root = find(item)
        for key in keys:
            first = owner.setdefault(key, item)
            if first != item:            # a key seen before: join its owner's group
                other = find(first)
                if other != root:
                    low, high = min(other, root), max(other, root)
                    parent[high] = low           # roots stay the smallest item
                    root = low
    groups: dict[int, list[int]] = {}
    for item in range(len(lists)):
        groups.setdefault(find(item), []).append(item)
    return [groups[root] for root in sorted(groups)]


def _groups_scipy(lists: list[list[int]]) -> list[list[int]]:
    import numpy as np

    lengths = np.array([len(k) for k in lists], dtype=np.int64)
    keys = np.fromiter((k for ks in lists for k in ks), dtype=np.int64, count=int(lengths.sum()))
    return groups_of_flat(lengths, keys)


def groups_of_flat(lengths, keys, key_count: int | None = None, names=None) -> list[list[int]]:
    """:func:`connected_groups` of items given flat: item i holds the next
    ``lengths[i]`` entries of ``keys`` (numpy arrays; no Python object per key).
    ``key_count``: the keys are known to lie in ``range(key_count)`` (no
    renumbering needed). ``names`` (an array): the groups list ``names[i]``
    instead of the item numbers i.

    >>> import numpy as np
    >>> groups_of_flat(np.array([1, 1, 2, 1, 0]), np.array([0, 1, 0, 1, 2]))
    [[0, 1, 2], [3], [4]]
    """
    import numpy as np
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    n = len(lengths)
    if n == 0:
        return []
    items = np.repeat(np.arange(n, dtype=np.int64), lengths)
    if key_count is None:
        _, key_ids = np.unique(keys, return_inverse=True)
        key_count = int(key_ids.max()) + 1 if len(keys) else 0
    else:
        key_ids = keys
    size = n + key_count
    graph = coo_matrix((np.ones(len(items), dtype=np.int8), (items, n + key_ids)), shape=(size, size))
    _, labels = connected_components(graph, directed=False)
    order = np.argsort(labels[:n], kind="stable")
    cuts = [0, *(np.flatnonzero(np.diff(labels[:n][order])) + 1).tolist(), n]
    # one conversion, then list slices: a million one-item groups in a fraction of a second
    flat = (order if names is None else np.asarray(names)[order]).tolist()
    return [flat[a:b] for a, b in zip(cuts, cuts[1:])]

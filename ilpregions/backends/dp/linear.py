"""Exact M^r·w for a small integer matrix and a huge r (Cayley–Hamilton).

Used by the DP when a run of identical scan steps maps a fixed set of states
to itself (the interior of a long 1-D layer, say): the weights then evolve
by one fixed integer matrix M, and r steps are M^r. Instead of r
matrix–vector products on ever larger integers, we use χ(M) = 0 for the
characteristic polynomial χ (monic, integer): M^r = p(M) with
p = x^r mod χ, found by squaring in O(n² log r) big multiplications.

>>> m = [[1, 1], [1, 0]]               # Fibonacci
>>> power_apply(m, [1, 0], 10)
[89, 55]
"""

from __future__ import annotations

from ilpregions.core.errors import InconsistencyError


def matvec(m: list[list[int]], v: list[int]) -> list[int]:
    return [sum(a * b for a, b in zip(row, v) if a) for row in m]


def charpoly(m: list[list[int]]) -> list[int]:
    """Coefficients c_0..c_n (c_n = 1) of det(xI − M), by Faddeev–LeVerrier.

    Every division is exact over the integers.

    >>> charpoly([[2, 1], [1, 2]])
    [3, -4, 1]
    """
    n = len(m)
    coeffs = [0] * (n + 1)
    coeffs[n] = 1
    mk = [[0] * n for _ in range(n)]  # M_0 = 0
    for k in range(1, n + 1):
        # M_k = M·M_{k-1} + c_{n-k+1}·I
        prod = [[sum(m[i][l] * mk[l][j] for l in range(n) if m[i][l]) for j in range(n)] for i in range(n)]
        for i in range(n):
            prod[i][i] += coeffs[n - k + 1]
        mk = prod
        trace = sum(sum(m[i][l] * mk[l][i] for l in range(n) if m[i][l]) for i in range(n))
        q, rem = divmod(-trace, k)
        if rem:   # Faddeev-LeVerrier: every trace divides exactly over the integers
            raise InconsistencyError(f"charpoly: trace {-trace} not divisible by {k}")
        coeffs[n - k] = q
    return coeffs


def _mulmod(a: list[int], b: list[int], chi: list[int]) -> list[int]:
    n = len(chi) - 1
    out = [0] * (2 * n - 1)
    for i, x in enumerate(a):
        if x:
            for j, y in enumerate(b):
                if y:
                    out[i + j] += x * y
    for d in range(len(out) - 1, n - 1, -1):  # x^d = x^{d-n}·(x^n − χ(x))
        c = out[d]
        if c:
            for i in range(n):
                if chi[i]:
                    out[d - n + i] -= c * chi[i]
        out[d] = 0
    return out[:n]


def power_apply(m: list[list[int]], v: list[int], r: int) -> list[int]:
    """M^r · v exactly (r ≥ 0)."""
    n = len(m)
    if r < 2 * n:
        for _ in range(r):
            v = matvec(m, v)
        return v
    chi = charpoly(m)
    result = [1] + [0] * (n - 1)          # x^0
    base = ([0, 1] + [0] * (n - 2)) if n >= 2 else [-chi[0]]
    e = r
    while e:
        if e & 1:
            result = _mulmod(result, base, chi)
        e >>= 1
        if e:
            base = _mulmod(base, base, chi)
    krylov, out = v, [0] * n
    for k in range(n):
        c = result[k]
        if c:
            out = [o + c * x for o, x in zip(out, krylov)]
        if k + 1 < n:
            krylov = matvec(m, krylov)
    return out

"""Exact re-decision of LP-tree cells (docs/ground_truth.md, "Method").

A float LP can prove a cell non-empty with a margin far above its rounding,
but it can never prove one empty: a slab 1e-17 wide has an optimum below any
tolerance. So every cell the LP does not clearly find non-empty is decided
again here, in the exact rationals the float64 weights are:

1. **The LP's own point**, and the Euclidean second opinion's, checked
   against the exact rows: all strictly positive proves the cell non-empty.
2. **A Gordan certificate** from the LP's duals: non-negative multipliers,
   not all zero, with Σ λ_i a_i = 0 exactly over the rows they support
   (computed as the exact null space of those rows) prove that no z has
   a_i . z > 0 for every i (Gordan's theorem), so the cell is empty.
3. **An exact simplex** (sympy, rational arithmetic) of the cell LP when
   neither settles it.

Rows are rebuilt exactly from the decisions on the path (ReLU masks and
pooling choices), never from the rounded products the tree works with.
"""

from __future__ import annotations

import time
from fractions import Fraction

import numpy as np

#: Cells with more rows or inputs than this are not handed to the exact simplex (then: undecided).
MAX_SIMPLEX_ROWS = 400
MAX_SIMPLEX_INPUTS = 64


def _fractions(vector) -> dict[int, Fraction]:
    return {i: Fraction(float(v)) for i, v in enumerate(vector) if v != 0}


class ExactRows:
    """Exact (rational) pre-activation rows of the current path's cells."""

    def __init__(self, stage_list, n: int):
        self.stages = stage_list
        self.n = n
        self._A: dict[int, list] = {}
        self._b: dict[int, list] = {}
        self._memo: dict = {}

    def _matrix(self, s: int):
        if s not in self._A:
            st = self.stages[s]
            if st.pooled is None:
                rows = [_fractions(r) for r in st.A]
            else:  # A_layer @ (counts / k), exactly
                raw, counts, k = st.pooled
                rows = []
                for r in raw:
                    acc: dict[int, Fraction] = {}
                    for i, v in _fractions(r).items():
                        for j in np.flatnonzero(counts[i]):
                            acc[int(j)] = acc.get(int(j), 0) + v * int(counts[i, j]) / k
                    rows.append({j: v for j, v in acc.items() if v})
            self._A[s] = rows
            self._b[s] = [Fraction(float(v)) for v in st.b]
        return self._A[s], self._b[s]

    def row(self, key) -> list[Fraction]:
        """The exact row ``(w, b)`` (w . x + b > 0 on the cell) for a key made by the tree.

        Keys: ``("neuron", stage, j, sign, path)`` or ``("argmax", stage, k, other, path)``,
        ``path`` the decisions of the earlier stages (``("relu", mask bytes)`` or ``("pool", choices)``).
        """
        found = self._memo.get(key)
        if found is not None:
            return found
        kind, s, first, second, path = key
        if kind == "neuron":
            A, b = self._matrix(s)
            r, c = dict(A[first]), b[first]
            if second < 0:
                r, c = {i: -v for i, v in r.items()}, -c
        else:
            r, c = {first: Fraction(1), second: Fraction(-1)}, Fraction(0)
        for k in range(s - 1, -1, -1):
            kind_k, data = path[k]
            if kind_k == "relu":
                mask = np.frombuffer(data, dtype=bool)
                A, b = self._matrix(k)
                r = {i: v for i, v in r.items() if mask[i]}
                c += sum((v * b[i] for i, v in r.items()), Fraction(0))
                acc: dict[int, Fraction] = {}
                for i, v in r.items():
                    for j, a in A[i].items():
                        acc[j] = acc.get(j, 0) + v * a
                r = acc
            else:
                acc = {}
                for w, v in r.items():
                    if data[w] >= 0:
                        acc[data[w]] = acc.get(data[w], 0) + v
                r = acc
        out = [Fraction(0)] * self.n + [c]
        for j, v in r.items():
            out[j] = v
        if len(self._memo) > 200_000:
            self._memo.clear()
        self._memo[key] = out
        return out


def _dot(row, z) -> Fraction:
    return sum((a * b for a, b in zip(row, z) if a and b), Fraction(0))


def point_inside(rows: list[list[Fraction]], point) -> bool:
    """True when the float point (y, y0), read exactly, has y0 > 0 and every row strictly positive.

    >>> point_inside([[Fraction(1), Fraction(0)]], np.array([1e-300, 1.0]))
    True
    """
    if point is None:
        return False
    z = [Fraction(float(v)) for v in point]
    return z[-1] > 0 and all(_dot(r, z) > 0 for r in rows)


def _null_space(columns: list[list[Fraction]]) -> list[list[Fraction]]:
    """A basis of {λ : Σ λ_i columns[i] = 0}, by exact Gaussian elimination."""
    k = len(columns)
    if k == 0:
        return []
    m = len(columns[0])
    M = [[columns[i][r] for i in range(k)] for r in range(m)]
    pivots, row = [], 0
    for c in range(k):
        p = next((i for i in range(row, m) if M[i][c]), None)
        if p is None:
            continue
        M[row], M[p] = M[p], M[row]
        inv = 1 / M[row][c]
        M[row] = [v * inv for v in M[row]]
        for i in range(m):
            if i != row and M[i][c]:
                f = M[i][c]
                M[i] = [a - f * b for a, b in zip(M[i], M[row])]
        pivots.append(c)
        row += 1
        if row == m:
            break
    free = [c for c in range(k) if c not in pivots]
    basis = []
    for f in free:
        v = [Fraction(0)] * k
        v[f] = Fraction(1)
        for r, c in enumerate(pivots):
            v[c] = -M[r][f]
        basis.append(v)
    return basis


def gordan_empty(rows: list[list[Fraction]], duals) -> bool:
    """True when the duals' support carries an exact certificate that {z : rows . z > 0, y0 > 0} is empty.

    >>> one = Fraction(1)
    >>> gordan_empty([[one, -one], [-one, Fraction(1, 2)]], np.array([1.0, 1.0, 1.0]))  # x > 1 and x < 1/2
    True
    """
    if duals is None:
        return False
    n1 = len(rows[0]) if rows else 0
    y0 = [Fraction(0)] * (n1 - 1) + [Fraction(1)]
    every = [y0] + list(rows)
    weights = np.abs(np.asarray(duals, dtype=float))[:len(every)]
    if not weights.size or weights.max() <= 0:
        return False
    live = [int(i) for i in np.flatnonzero(weights > 1e-12 * weights.max())]
    supports = [live] if 0 in live else [live, [0] + live]  # y0 > 0 may carry a tiny multiplier
    return any(_certifies([every[i] for i in support], [weights[i] for i in support]) for support in supports)


def _certifies(vectors: list[list[Fraction]], duals) -> bool:
    """True when an exact non-negative, non-zero combination of ``vectors`` near ``duals`` is zero."""
    basis = _null_space(vectors)
    if not basis:
        return False
    # The basis is in reduced form (vector k is 1 at its free index and 0 at the others), so the
    # duals' own values at the free indices pick the exact multiplier nearest to them.
    free = [next(j for j, x in enumerate(v) if x == 1 and all(w[j] == 0 for w in basis if w is not v))
            for v in basis]
    if len(basis) == 1:
        lam = basis[0] if basis[0][free[0]] > 0 else [-x for x in basis[0]]
    else:
        guide = [Fraction(float(d)) for d in duals]
        lam = [sum((guide[f] * v[j] for f, v in zip(free, basis)), Fraction(0)) for j in range(len(vectors))]
    return any(lam) and all(x >= 0 for x in lam)


def simplex_nonempty(rows: list[list[Fraction]], deadline: float | None = None) -> bool | None:
    """The cell LP solved exactly (sympy's rational simplex): t* > 0. None when over the size limits.

    >>> one = Fraction(1)
    >>> simplex_nonempty([[one, Fraction(0)], [-one, Fraction(1, 10 ** 17)]])  # 0 < x < 1e-17
    True
    """
    if not rows:
        return True
    n = len(rows[0]) - 1
    if len(rows) > MAX_SIMPLEX_ROWS or n > MAX_SIMPLEX_INPUTS:
        return None
    if deadline is not None and time.perf_counter() > deadline:
        return None
    from sympy import Matrix, Rational
    from sympy.solvers.simplex import linprog

    def q(v: Fraction):
        return Rational(v.numerator, v.denominator)

    # Non-negative variables (u = y + 1 in [0, 2], y0 in [0, 1], t in [0, 1]; t = 0 is always
    # feasible): max t  s.t.  t - a_y.u - a_0.y0 <= -sum(a_y)  for every row a = (a_y, a_0), t <= y0.
    # (sympy's linprog mishandles negative lower bounds, so the shift is done here.)
    A, rhs = [], []
    for r in rows:
        A.append([-q(a) for a in r] + [1])
        rhs.append(-sum((q(a) for a in r[:-1]), Rational(0)))
    A.append([0] * n + [-1, 1])
    rhs.append(0)
    for j in range(n + 2):
        A.append([1 if i == j else 0 for i in range(n + 2)])
        rhs.append(2 if j < n else 1)
    cost = [0] * (n + 1) + [-1]
    value, _ = linprog(Matrix([cost]), Matrix(A), Matrix(rhs))
    return bool(-value > 0)


__all__ = ["ExactRows", "point_inside", "gordan_empty", "simplex_nonempty"]

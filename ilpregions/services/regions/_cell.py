"""One cell of the region tree: its constraint rows and the tests deciding
whether a child cell is non-empty (docs: :mod:`ilpregions.services.regions`).

Rows are unit-scaled homogeneous vectors a = (w, b) / |(w, b)|: a point q =
(y, y0) with y0 > 0 is in the cell when a . q > 0 for every row. The tests,
cheapest first, are the tree's business (:mod:`.tree`); this module keeps
the row stack, the orthonormal basis of the row normals (rank tests), the
LP (the ``cells`` task of the ``highs`` backend: ``CellLP``) in step with the stack, and the witness checks.
"""

from __future__ import annotations

import math

import numpy as np

from ilpregions.services.regions._exact import gordan_empty, point_inside, simplex_nonempty
from ilpregions import backends

#: Relative size below which a residual counts as zero (rank decisions).
RANK_TOL = 1e-9
#: An LP optimum t* above this proves a non-empty cell; every other verdict is re-decided exactly.
LP_FEASIBLE = 1e-9
#: A witness point must clear every row by this much (rows and points unit-scaled).
WITNESS_TOL = 1e-11
#: A row whose rounding bound (relative to the unit row) is above this may be misread at WITNESS_TOL:
#: float decisions on a cell with such a row are confirmed in exact arithmetic.
FRAGILE = 1e-13


def homogeneous(X: np.ndarray) -> np.ndarray:
    """Points x as unit-scaled homogeneous vectors (x, 1) / max(1, |x|_inf)."""
    X = np.atleast_2d(X)
    V = np.concatenate([X, np.ones((len(X), 1))], axis=1)
    return V / np.maximum(1.0, np.abs(V).max(axis=1))[:, None]


class Cell:
    """The current cell: a stack of rows, with its LP and statistics."""

    def __init__(self, n: int, stats: dict, exact=None, deadline: float | None = None):
        self.n = n
        self.stats = stats
        self.exact = exact                      # an ExactRows: the rows in exact arithmetic, by key
        self.deadline = deadline
        self.lp = backends.load("highs", backends.CELLS).CellLP(n)
        self.keys: list = []                    # each row's key for `exact`
        self.noise: list[float] = []            # each row's rounding bound, relative to its unit row
        self.rows = np.zeros((0, n + 1))        # the cell's constraint rows (stack)
        self.Q = np.zeros((0, n))               # orthonormal basis of their normals
        self.min_margin = math.inf

    def residual(self, w: np.ndarray) -> np.ndarray:
        """w minus its projection on the span of the rows' normals."""
        return w - self.Q.T @ (self.Q @ w) if self.Q.size else w.copy()

    def valid(self, point: np.ndarray, new_rows: np.ndarray) -> bool:
        """True when ``point`` clears the cell's rows and the new rows."""
        if point is None or point[-1] <= 0:
            return False
        if new_rows.size and (new_rows @ point).min() <= WITNESS_TOL:
            return False
        return not self.rows.size or (self.rows @ point).min() > WITNESS_TOL

    def push(self, new_rows: np.ndarray, keys=(), noise=()):
        saved = (self.rows, self.Q, len(self.keys))
        self.keys.extend(keys)
        self.noise.extend(noise)
        self.rows = np.vstack([self.rows, new_rows])
        Q = self.Q
        for a in new_rows:
            w = a[:-1]
            r = w - Q.T @ (Q @ w) if Q.size else w.copy()  # Gram-Schmidt step
            norm = np.linalg.norm(r)
            if norm > RANK_TOL * max(np.linalg.norm(w), 1e-300):
                Q = np.vstack([Q, r / norm])
        self.Q = Q
        self.lp.push(new_rows)
        return saved

    def pop(self, saved, count: int):
        self.rows, self.Q, kept = saved
        del self.keys[kept:]
        del self.noise[kept:]
        self.lp.pop(count)

    def ray_witness(self, point: np.ndarray, rho: np.ndarray, tries: int = 3):
        """A point of the cell with ``rho . q > 0``, by walking from ``point``.

        Walk along rho's normal; when another row blocks the way first,
        project its normal out of the direction and try again. A heuristic:
        a miss proves nothing (then an LP decides); a hit is verified.
        """
        if point is None or not self.rows.size:
            return None
        rows = self.rows
        d = rho[:-1].copy()
        blockers = []
        for _ in range(tries):
            rate = d @ rho[:-1]
            if rate <= 0:
                return None
            tau_h = -(rho @ point) / rate
            if tau_h <= 0:
                return None
            rates = rows[:, :-1] @ d
            values = rows @ point
            falling = rates < 0
            taus = np.where(falling, values / np.where(falling, -rates, 1.0), np.inf)
            first = int(np.argmin(taus)) if len(taus) else -1
            limit = taus[first] if first >= 0 else np.inf
            if tau_h < limit:
                tau = 2 * tau_h if not np.isfinite(limit) else 0.5 * (tau_h + limit)
                q = point.copy()
                q[:-1] += tau * d
                q /= max(1.0, np.abs(q).max())
                return q if self.valid(q, rho[None, :]) else None
            b = rows[first, :-1]
            for u in blockers:
                b = b - (b @ u) * u
            norm = math.sqrt(b @ b)
            if norm <= RANK_TOL:
                return None
            blockers.append(b / norm)
            d = rho[:-1].copy()
            for u in blockers:  # rho_w minus its projection on the blockers' normals
                d -= (d @ u) * u
            if math.sqrt(d @ d) <= RANK_TOL * math.sqrt(rho[:-1] @ rho[:-1]):
                return None
        return None

    def _second_opinion(self):
        """A candidate point of a cell whose homogeneous margin fell in the tolerance band.

        The inhomogeneous Chebyshev LP (rows scaled by |w|, x free): a thin
        but far-away cell has a tiny homogeneous margin and a normal inradius.
        Returns (None, the homogeneous point) or (None, None); the caller checks
        the point exactly.
        """
        from scipy.optimize import linprog

        rows = self.rows
        wn = np.linalg.norm(rows[:, :-1], axis=1)
        keep = wn > 0
        if not np.all(rows[~keep, -1] > 0) or not keep.any():
            return None, None
        R = rows[keep] / wn[keep, None]
        n = self.n
        # max t  s.t.  -(w.x) + t <= b,  t <= 1
        A = np.concatenate([-R[:, :-1], np.ones((len(R), 1))], axis=1)
        res = linprog(np.r_[np.zeros(n), -1.0], A_ub=A, b_ub=R[:, -1],
                      bounds=[(None, None)] * n + [(None, 1.0)], method="highs")
        if res.status != 0 or not np.all(np.isfinite(res.x)):
            return None, None
        return None, homogeneous(res.x[:n])[0]

    def fragile(self) -> bool:
        """True when some row's float form may be off by more than the witness margin allows."""
        return bool(self.noise) and max(self.noise) > FRAGILE

    def confirm(self, point) -> bool:
        """A float-accepted point, checked against the exact rows (only needed when :meth:`fragile`)."""
        if self.exact is None or len(self.keys) != len(self.rows):
            return False
        self.stats["exact_confirmed"] += 1
        return point_inside([self.exact.row(key) for key in self.keys], point)

    def lp_child(self, new_rows: np.ndarray, keys=(), noise=()):
        """Decide a child by LP; returns (feasible, point, saved). Leaves rows pushed if feasible.

        Only a clear LP optimum (t* > LP_FEASIBLE) is trusted; every other
        verdict is re-decided in exact arithmetic (:mod:`._exact`), and a cell
        that stays undecided is counted as ambiguous (the count is then not exact).
        """
        saved = self.push(new_rows, keys, noise)
        t, point = self.lp.solve()
        if t > LP_FEASIBLE and point[-1] > 0 and (not self.fragile() or self.confirm(point)):
            self.stats["lp_feasible"] += 1
            self.min_margin = min(self.min_margin, t)
            return True, point, saved
        verdict, point = self._decide_exactly(point)
        if verdict:
            return True, point, saved
        self.stats["lp_empty" if verdict is False else "lp_ambiguous"] += 1
        self.pop(saved, len(new_rows))
        return False, None, None

    def _decide_exactly(self, point):
        """(True, a point or None) / (False, None) / (None, None) for the current rows, exactly."""
        if self.exact is None or len(self.keys) != len(self.rows):
            return None, None
        rows = [self.exact.row(key) for key in self.keys]
        if point_inside(rows, point):
            self.stats["exact_point"] += 1
            return True, point
        _, other = self._second_opinion()
        if point_inside(rows, other):
            self.stats["exact_point"] += 1
            return True, other
        if gordan_empty(rows, self.lp.duals()):
            self.stats["exact_empty"] += 1
            return False, None
        verdict = simplex_nonempty(rows, self.deadline)
        if verdict is not None:
            self.stats["exact_simplex"] += 1
        return verdict, None


__all__ = ["Cell", "homogeneous"]

"""Exact linear-region counts of one concrete network, over all of R^n.

A *region* is a non-empty open set of inputs on which every ReLU's sign and
every max-pooling argmax is constant (for pooling after a ReLU, the argmax is
taken among the window's active entries; a window whose entries are all
inactive outputs 0 and makes no choice). On each region the network is one
affine map.

``method="exact"`` enumerates the regions as the leaves of a tree: the
decisions (neurons layer by layer, then pooling windows) are taken one at a
time, and a child is kept when its cell is non-empty. Non-emptiness is
decided, cheapest first, by

1. **rank tests**: if the new neuron's normal is not in the span of the
   normals already constraining the cell, the hyperplane cuts the cell, so
   both children exist and a point of each is written down directly;
2. **witness points**: a point strictly inside the cell lies on one side, and
   inputs sampled beforehand whose pattern shares the child's prefix are
   points of that child (each is re-checked against the cell's rows);
3. **an LP** (HiGHS) otherwise, in homogeneous coordinates so that it is
   scale-free and sees unbounded cells: with x = y / y0, maximise t subject
   to ``a_i . (y, y0) >= t`` for every unit-normalised row a_i, ``y0 >= t``,
   ``-1 <= y <= 1``, ``0 <= y0 <= 1``, ``t <= 1``. The cell is non-empty iff
   t* > 0; a cell reaching out to infinity keeps a positive t* however far
   away it lies, so nothing is lost to a bounding box.

For a single conv/local/dense layer with generic biases, the regions are the
independent subsets of the neurons' normals (Zaslavsky; MATH.md §2), counted
by a search that prunes every superset of a dependent set and checks, for
every dependent set it meets, that the biases keep it non-central. When
that check fails, the LP enumeration runs instead.

``method="sample"`` is the authors' baseline (Xiong et al. 2020): count the
distinct patterns of Gaussian inputs. It is a lower bound.

Examples
--------
>>> from ilpregions.core.spec import Network, ConvLayer
>>> net = Network((4, 1), (ConvLayer(filters=2, kernel=2, shared=False),))
>>> count_linear_regions(net, seed=0).regions
55
>>> count_linear_regions(net, seed=0, method="lp").regions
55
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np

from ilpregions.core.bigint import big_int_repr
from ilpregions.core.errors import InputError
from ilpregions.core.forward import Stage, check_weights, decisions, he_normal_weights, stages
from ilpregions.core.spec import ConvLayer, DenseLayer, Network

#: Relative size below which a residual counts as zero (rank decisions).
RANK_TOL = 1e-9
#: An LP optimum t* above this proves a non-empty cell; below LP_EMPTY, empty.
LP_FEASIBLE = 1e-9
LP_EMPTY = 1e-11
#: A witness point must clear every row by this much (rows and points unit-scaled).
WITNESS_TOL = 1e-11
#: In the LP's tolerance band, its point still certifies a cell if it clears every row by
#: this much: far above the ~n * 1e-16 rounding of a unit row times a unit-scaled point.
AMBIGUOUS_WITNESS_TOL = 1e-13
#: Samples whose pattern is read with a smaller relative margin are dropped.
SAMPLE_MARGIN = 1e-7
#: The Gaussian scales of the sampler (the authors used N(0, v^2) with v up to 13).
SAMPLE_SCALES = (1.0, 2.0, 4.0, 8.0, 13.0)


@big_int_repr  # repr at any size (docs/safety.md)
@dataclass(frozen=True)
class RegionsResult:
    """Regions of one concrete network.

    ``regions`` is exact when ``exact`` is true; otherwise it is a lower bound
    (regions found before the time limit, or distinct sampled patterns).
    """

    regions: int
    exact: bool
    lps_solved: int
    seconds: float
    method: str
    details: dict[str, Any] = field(default_factory=dict, compare=False)

    def to_json(self) -> dict[str, Any]:
        out = {"regions": self.regions, "exact": self.exact, "lps_solved": self.lps_solved,
               "seconds": round(self.seconds, 6), "method": self.method}
        out.update(self.details)
        return out


class _TimeUp(Exception):
    pass


# ----------------------------------------------------------------------------
# The LP oracle (HiGHS through highspy; rows are pushed and popped with the tree)
# ----------------------------------------------------------------------------

def _quiet_highs(highspy):
    """A Highs object without the banner its constructor prints on fd 1 (it would spoil --json)."""
    import os
    import sys

    sys.stdout.flush()
    try:
        saved = os.dup(1)
    except OSError:
        return highspy.Highs()
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 1)
            h = highspy.Highs()
            h.setOptionValue("output_flag", False)
    finally:
        os.dup2(saved, 1)
        os.close(saved)
    return h


class _LP:
    """max t s.t. rows . (y, y0) >= t, y0 >= t, box; rows form a stack."""

    def __init__(self, n: int):
        import highspy

        self.n = n
        self.h = h = _quiet_highs(highspy)
        h.setOptionValue("output_flag", False)
        h.setOptionValue("presolve", "off")
        # No "threads" option: HiGHS has one scheduler per process, and a Highs
        # object asking for a thread count other than the first one's refuses
        # to run (kError), which would read as an empty cell.
        h.setOptionValue("primal_feasibility_tolerance", 1e-10)
        h.setOptionValue("dual_feasibility_tolerance", 1e-10)
        inf = highspy.kHighsInf
        self.inf = inf
        lp = highspy.HighsLp()
        lp.num_col_ = n + 2
        lp.num_row_ = 1
        lp.col_cost_ = np.r_[np.zeros(n + 1), 1.0]
        lp.col_lower_ = np.r_[-np.ones(n), 0.0, 0.0]
        lp.col_upper_ = np.ones(n + 2)
        lp.row_lower_ = np.zeros(1)
        lp.row_upper_ = np.full(1, inf)
        lp.a_matrix_.format_ = highspy.MatrixFormat.kRowwise
        lp.a_matrix_.start_ = np.array([0, 2], dtype=np.int32)
        lp.a_matrix_.index_ = np.array([n, n + 1], dtype=np.int32)
        lp.a_matrix_.value_ = np.array([1.0, -1.0])
        lp.sense_ = highspy.ObjSense.kMaximize
        h.passModel(lp)
        self.idx = np.arange(n + 2, dtype=np.int32)
        self.rows = 1
        self.solved = 0

    def push(self, rows: np.ndarray) -> None:
        values = np.empty(self.n + 2)
        values[-1] = -1.0
        for a in rows:
            values[:-1] = a
            self.h.addRow(0.0, self.inf, self.n + 2, self.idx, values)
        self.rows += len(rows)

    def pop(self, count: int) -> None:
        if count:
            self.h.deleteRows(count, np.arange(self.rows - count, self.rows, dtype=np.int32))
            self.rows -= count

    def solve(self) -> tuple[float, np.ndarray]:
        import highspy

        self.h.run()
        self.solved += 1
        status = self.h.getModelStatus()
        # The slack LP is always feasible and bounded: anything but optimal is
        # a solver failure, never evidence that a cell is empty.
        if status != highspy.HighsModelStatus.kOptimal:
            raise RuntimeError(f"regions: HiGHS returned {self.h.modelStatusToString(status)}")
        t = self.h.getInfo().objective_function_value
        sol = np.asarray(self.h.getSolution().col_value)
        return t, sol[: self.n + 1]


# ----------------------------------------------------------------------------
# Exact enumeration
# ----------------------------------------------------------------------------

def _homogeneous(X: np.ndarray) -> np.ndarray:
    """Points x as unit-scaled homogeneous vectors (x, 1) / max(1, |x|_inf)."""
    X = np.atleast_2d(X)
    V = np.concatenate([X, np.ones((len(X), 1))], axis=1)
    return V / np.maximum(1.0, np.abs(V).max(axis=1))[:, None]


class _Enumerator:
    def __init__(self, n: int, stage_list: list[Stage], samples: np.ndarray | None,
                 deadline: float | None, rank_tests: bool = True):
        self.n = n
        self.stages = stage_list
        self.deadline = deadline
        self.rank_tests = rank_tests
        self.lp = _LP(n)
        self.count = 0
        self.stats = {"rank_free": 0, "witness_free": 0, "sample_free": 0, "ray_free": 0, "lp_feasible": 0,
                      "lp_empty": 0, "lp_ambiguous": 0, "constant": 0, "nodes": 0}
        self.rows = np.zeros((0, n + 1))        # the cell's constraint rows (stack)
        self.Q = np.zeros((0, n))               # orthonormal basis of their normals
        self.min_margin = math.inf
        if samples is not None and len(samples):
            codes, margin = decisions(stage_list, samples)
            keep = margin > SAMPLE_MARGIN
            self.sample_points = _homogeneous(samples[keep]).reshape(-1, n + 1)
            self.codes = codes[keep]
        else:
            self.sample_points = np.zeros((0, n + 1))
            self.codes = np.zeros((0, sum(st.decisions for st in stage_list)), dtype=np.int16)
        # Column offset of each stage's decisions in `codes`.
        self.offsets = np.cumsum([0] + [st.decisions for st in stage_list]).tolist()

    # -- bookkeeping ---------------------------------------------------------

    def _check_time(self):
        if self.deadline is not None and time.perf_counter() > self.deadline:
            raise _TimeUp

    def _valid(self, point: np.ndarray, new_rows: np.ndarray) -> bool:
        """True when ``point`` clears the cell's rows and the new rows."""
        if point is None or point[-1] <= 0:
            return False
        if new_rows.size and (new_rows @ point).min() <= WITNESS_TOL:
            return False
        return not self.rows.size or (self.rows @ point).min() > WITNESS_TOL

    def _push(self, new_rows: np.ndarray):
        saved = (self.rows, self.Q)
        self.rows = np.vstack([self.rows, new_rows])
        Q = self.Q
        for a in new_rows:
            w = a[:-1]
            r = w - Q.T @ (Q @ w) if Q.size else w.copy()
            norm = np.linalg.norm(r)
            if norm > RANK_TOL * max(np.linalg.norm(w), 1e-300):
                Q = np.vstack([Q, r / norm])
        self.Q = Q
        self.lp.push(new_rows)
        return saved

    def _pop(self, saved, count: int):
        self.rows, self.Q = saved
        self.lp.pop(count)

    def _ray_witness(self, point: np.ndarray, rho: np.ndarray, tries: int = 3):
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
                return q if self._valid(q, rho[None, :]) else None
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
        """Re-decide a cell whose homogeneous margin fell in the tolerance band.

        Solve the inhomogeneous Chebyshev LP (rows scaled by |w|, x free):
        a thin but far-away cell has a tiny homogeneous margin and a normal
        inradius. Returns (True, point), (False, None) or (None, None).
        """
        from scipy.optimize import linprog

        rows = self.rows
        wn = np.linalg.norm(rows[:, :-1], axis=1)
        keep = wn > 0
        if not np.all(rows[~keep, -1] > 0):
            return False, None
        R = rows[keep] / wn[keep, None]
        n = self.n
        # max t  s.t.  -(w.x) + t <= b,  t <= 1
        A = np.concatenate([-R[:, :-1], np.ones((len(R), 1))], axis=1)
        res = linprog(np.r_[np.zeros(n), -1.0], A_ub=A, b_ub=R[:, -1],
                      bounds=[(None, None)] * n + [(None, 1.0)], method="highs")
        if res.status != 0:
            return None, None
        t = -res.fun
        if t > LP_FEASIBLE:
            x = res.x[:n]
            values = R[:, :-1] @ x + R[:, -1]
            # Certify in x-space: the rounding of a unit row at x is about n * eps * |x|.
            slack = 64 * (n + 1) * np.finfo(float).eps * (1.0 + np.abs(x).max())
            if values.min() > LP_FEASIBLE + slack:
                return True, _homogeneous(x)[0]
            return None, None
        if t < LP_EMPTY:
            return False, None
        return None, None

    def _lp_child(self, new_rows: np.ndarray):
        """Decide a child by LP; returns (feasible, point). Leaves rows pushed if feasible."""
        saved = self._push(new_rows)
        t, point = self.lp.solve()
        if t > LP_FEASIBLE and point[-1] > 0:
            self.stats["lp_feasible"] += 1
            self.min_margin = min(self.min_margin, t)
            return True, point, saved
        if t > LP_EMPTY:
            # Inside the tolerance band: trust the LP's point only if it clears every row.
            if point[-1] > 0 and (self.rows @ point).min() > AMBIGUOUS_WITNESS_TOL:
                self.stats["lp_feasible"] += 1
                self.min_margin = min(self.min_margin, t)
                return True, point, saved
            verdict, point = self._second_opinion()
            if verdict is True:
                self.stats["lp_feasible"] += 1
                return True, point, saved
            if verdict is None:
                self.stats["lp_ambiguous"] += 1
            else:
                self.stats["lp_empty"] += 1
        else:
            self.stats["lp_empty"] += 1
        self._pop(saved, len(new_rows))
        return False, None, None

    # -- the tree ------------------------------------------------------------

    def run(self) -> None:
        M = np.eye(self.n)
        c = np.zeros(self.n)
        point = _homogeneous(np.zeros(self.n))[0]  # any point is inside R^n
        self._stage(0, M, c, point, np.arange(len(self.codes)))

    def _stage(self, s: int, M, c, point, idx):
        if s == len(self.stages):
            self.count += 1
            return
        st = self.stages[s]
        if st.kind == "relu":
            ZM = st.A @ M
            Zc = st.A @ c + st.b
            self._neuron(s, 0, ZM, Zc, np.zeros(len(Zc), dtype=bool), point, idx)
        else:
            self._window(s, 0, M, c, [], point, idx)

    def _children_done_relu(self, s, ZM, Zc, active, point, idx):
        mask = active.astype(float)
        self._stage(s + 1, ZM * mask[:, None], Zc * mask, point, idx)

    def _neuron(self, s: int, j: int, ZM, Zc, active, point, idx):
        if j == len(Zc):
            self._children_done_relu(s, ZM, Zc, active, point, idx)
            return
        self.stats["nodes"] += 1
        if self.stats["nodes"] % 256 == 0:
            self._check_time()
        w, beta = ZM[j], Zc[j]
        row = np.append(w, beta)
        wnorm = math.sqrt(w @ w)
        scale = math.sqrt(wnorm * wnorm + beta * beta)
        if wnorm <= RANK_TOL * max(scale, 1e-300):
            # Constant on the cell (e.g. all its inputs inactive): no split.
            self.stats["constant"] += 1
            active[j] = beta > 0
            self._neuron(s, j + 1, ZM, Zc, active, point, idx)
            active[j] = False
            return
        a = row / scale
        column = self.codes[idx, self.offsets[s] + j] if idx.size else idx
        # Try to get a witness for each side without an LP.
        witnesses = {1: None, 0: None}
        r = None
        if self.rank_tests:
            r = w - self.Q.T @ (self.Q @ w) if self.Q.size else w.copy()
            if np.linalg.norm(r) <= RANK_TOL * wnorm:
                r = None
        for side in (1, 0):
            sign = 1.0 if side else -1.0
            rows = (sign * a)[None, :]
            if point is not None and self._valid(point, rows):
                witnesses[side] = (point, "witness_free")
                continue
            if idx.size:
                members = idx[column == side]
                for k in members[:4]:
                    cand = self.sample_points[k]
                    if self._valid(cand, rows):
                        witnesses[side] = (cand, "sample_free")
                        break
                if witnesses[side] is not None:
                    continue
            if r is not None and point is not None:
                # Move along r (orthogonal to every constraint normal): only this value changes.
                value = a[:-1] @ point[:-1] + a[-1] * point[-1]
                target = sign * max(abs(value), 1e-3 * point[-1])
                tau = (target - value) / (r @ (a[:-1]))
                moved = point.copy()
                moved[:-1] += tau * r
                moved /= max(1.0, np.abs(moved).max())
                if self._valid(moved, rows):
                    witnesses[side] = (moved, "rank_free")
                    continue
            if point is not None:
                ray = self._ray_witness(point, sign * a)
                if ray is not None:
                    witnesses[side] = (ray, "ray_free")
        for side in (1, 0):
            sign = 1.0 if side else -1.0
            rows = (sign * a)[None, :]
            if witnesses[side] is not None:
                child_point, how = witnesses[side]
                self.stats[how] += 1
                saved = self._push(rows)
            else:
                ok, child_point, saved = self._lp_child(rows)
                if not ok:
                    continue
            active[j] = bool(side)
            child_idx = idx[column == side] if idx.size else idx
            try:
                self._neuron(s, j + 1, ZM, Zc, active, child_point, child_idx)
            finally:
                self._pop(saved, 1)
            active[j] = False

    def _window(self, s: int, j: int, M, c, chosen: list, point, idx):
        st = self.stages[s]
        if j == len(st.windows):
            rows_M = np.array([M[k] if k >= 0 else np.zeros(self.n) for k in chosen]).reshape(-1, self.n)
            rows_c = np.array([c[k] if k >= 0 else 0.0 for k in chosen])
            self._stage(s + 1, rows_M, rows_c, point, idx)
            return
        self.stats["nodes"] += 1
        if self.stats["nodes"] % 256 == 0:
            self._check_time()
        win = st.windows[j]
        entries = [(local, int(k)) for local, k in enumerate(win)]
        if st.nonneg:
            # Inactive entries are identically zero on the cell and never the argmax.
            entries = [(local, k) for local, k in entries if np.any(M[k] != 0) or c[k] != 0]
        if not entries:
            self._window(s, j + 1, M, c, chosen + [-1], point, idx)
            return
        if len(entries) == 1:
            self._window(s, j + 1, M, c, chosen + [entries[0][1]], point, idx)
            return
        column = self.codes[idx, self.offsets[s] + j] if idx.size else idx
        for local, k in entries:
            diffs = []
            empty = False
            for _, other in entries:
                if other == k:
                    continue
                row = np.append(M[k] - M[other], c[k] - c[other])
                scale = np.linalg.norm(row)
                if np.linalg.norm(row[:-1]) <= RANK_TOL * max(scale, 1e-300):
                    if row[-1] <= 0:
                        empty = True  # never strictly larger on this cell
                        break
                    continue
                diffs.append(row / scale)
            if empty:
                continue
            rows = np.array(diffs).reshape(-1, self.n + 1)
            child_point = None
            if point is not None and self._valid(point, rows):
                child_point = point
                self.stats["witness_free"] += 1
            elif idx.size:
                for cand in idx[column == local][:4]:
                    if self._valid(self.sample_points[cand], rows):
                        child_point = self.sample_points[cand]
                        self.stats["sample_free"] += 1
                        break
            if child_point is not None:
                saved = self._push(rows)
            else:
                ok, child_point, saved = self._lp_child(rows)
                if not ok:
                    continue
            child_idx = idx[column == local] if idx.size else idx
            try:
                self._window(s, j + 1, M, c, chosen + [k], child_point, child_idx)
            finally:
                self._pop(saved, len(rows))


# ----------------------------------------------------------------------------
# One layer, generic biases: independent subsets (rank tests only)
# ----------------------------------------------------------------------------

def count_independent_subsets(rows: np.ndarray, deadline: float | None = None) -> tuple[int, bool, bool]:
    """Regions of one layer with generic biases: independent subsets of its normals.

    ``rows`` holds each neuron's ``[w, b]``. Ranks are exact: the floats are
    turned into integers (up to a power of two per row) and eliminated over
    GF(p) for two primes near 2^31. A rank over GF(p) is never above the
    rank over the rationals, so each prime's count is a lower bound and the
    larger one is kept; they agree unless p divides some minor (a chance of
    about 1e-9 per test). Floating-point ranks are not used: on conv layers,
    residuals of 1e-9 occur both for dependent and for independent sets.

    Returns ``(count, complete, generic)``; ``generic`` is False when some
    dependent set's hyperplanes meet (then the count is not the number of
    regions and the caller must enumerate cells instead).

    >>> count_independent_subsets(np.array([[1.0, 0, 1], [0, 1.0, 1], [1.0, 1.0, 0.5]]))
    (7, True, True)
    >>> count_independent_subsets(np.array([[1.0, 0, 0], [0, 1.0, 0], [1.0, 1.0, 0]]))[2]
    False
    """
    from ilpregions.services.tied import PRIME, PRIME2, CentralDependency, count_independent_mod_p, to_residues

    rows = np.asarray(rows, dtype=np.float64)
    total, complete = 1, True
    # Neurons whose normals share no input form blocks; their counts multiply.
    for block in _support_blocks(rows[:, :-1] != 0):
        sub = rows[block]
        best = 0
        for p in (PRIME, PRIME2):
            residues = to_residues(sub, p)
            try:
                count, done = count_independent_mod_p(residues[:, :-1], p, deadline, bias=residues[:, -1],
                                                       strict_deadline=False)
            except CentralDependency:
                return 0, True, False
            best = max(best, count)
            complete = complete and done
            if not done:
                break
        total *= best
        if not complete:
            break
    return total, complete, True


def _support_blocks(support: np.ndarray) -> list[np.ndarray]:
    """Groups of rows connected through shared nonzero columns (union-find).

    >>> [b.tolist() for b in _support_blocks(np.array([[1, 0, 0], [0, 1, 0], [1, 1, 0], [0, 0, 1]], bool))]
    [[0, 1, 2], [3]]
    """
    m = len(support)
    parent = list(range(m))

    def find(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for col in support.T:
        members = np.flatnonzero(col)
        for j in members[1:]:
            a, b = find(int(members[0])), find(int(j))
            if a != b:
                parent[b] = a
    groups: dict[int, list[int]] = {}
    for i in range(m):
        groups.setdefault(find(i), []).append(i)
    return [np.array(g) for g in sorted(groups.values())]


# ----------------------------------------------------------------------------
# The sampler (the authors' baseline)
# ----------------------------------------------------------------------------

def sample_patterns(network: Network, weights: Mapping[str, np.ndarray], samples: int, seed: int | None = 0,
                    deadline: float | None = None, batch: int = 65536) -> tuple[int, int]:
    """Distinct activation patterns over Gaussian inputs; returns (patterns, inputs drawn).

    Inputs are N(0, v^2 I) with v cycling over :data:`SAMPLE_SCALES` batch by
    batch. A lower bound on the number of regions.
    """
    stage_list = stages(network, weights)
    n = int(np.prod(network.input_shape))
    rng = np.random.default_rng(None if seed is None else seed + 7919)
    seen: set[bytes] = set()
    drawn, k = 0, 0
    while drawn < samples:
        if deadline is not None and time.perf_counter() > deadline:
            break
        size = min(batch, samples - drawn)
        X = rng.normal(0.0, SAMPLE_SCALES[k % len(SAMPLE_SCALES)], size=(size, n))
        k += 1
        codes, _ = decisions(stage_list, X)
        codes = np.ascontiguousarray(codes.astype(np.int16))
        view = codes.view(np.dtype((np.void, codes.shape[1] * codes.itemsize))).ravel()
        seen.update(v.tobytes() for v in np.unique(view))
        drawn += size
    return len(seen), drawn


# ----------------------------------------------------------------------------
# The public entry point
# ----------------------------------------------------------------------------

def _one_affine_layer(network: Network) -> bool:
    return len(network.layers) == 1 and isinstance(network.layers[0], (ConvLayer, DenseLayer))


def count_linear_regions(network: Network, weights: Mapping[str, np.ndarray] | None = None,
                         seed: int | None = None, time_limit: float | None = None,
                         method: str = "exact", samples: int | None = None,
                         seed_samples: int | None = None) -> RegionsResult:
    """Count the linear regions of one concrete network.

    Parameters
    ----------
    network : Network
        1–3 conv/local/dense layers (each followed by ReLU) and maxpool layers.
    weights : mapping, optional
        Arrays named as in :mod:`ilpregions.core.forward`; default He-normal from ``seed``.
    seed : int, optional
        Seed of :func:`~ilpregions.core.forward.he_normal_weights` (and of the sampler).
    time_limit : float, optional
        Seconds; when reached, ``exact=False`` and ``regions`` is a lower bound.
    method : {"exact", "lp", "sample"}
        ``"exact"`` uses the rank count for one layer with generic biases and
        the LP tree otherwise; ``"lp"`` forces the LP tree; ``"sample"`` is the
        authors' Gaussian sampler (a lower bound).
    samples : int, optional
        Inputs drawn by ``"sample"`` (default 100,000).
    seed_samples : int, optional
        Gaussian inputs drawn before the LP tree to give free witness points
        (default 20,000; 0 disables).

    Returns
    -------
    RegionsResult

    Examples
    --------
    >>> from ilpregions.core.spec import Network, ConvLayer
    >>> net = Network((3, 3, 1), (ConvLayer(filters=2, kernel=2),))
    >>> r = count_linear_regions(net, seed=1)
    >>> r.regions, r.exact, r.method
    (255, True, 'rank')
    """
    if method not in ("exact", "lp", "sample"):
        raise InputError(f"method: unknown method {method!r}; one of exact, lp, sample")
    n_layers = sum(1 for layer in network.layers if not layer.type == "maxpool")
    if not 1 <= len(network.layers) <= 6 or n_layers > 3 or n_layers < 1:
        raise InputError(f"layers: regions counts networks with 1 to 3 conv/local/dense layers "
                         f"(plus maxpool), this one has {n_layers}")
    sizes = [int(np.prod(s)) for s in network.input_shapes()] + [int(np.prod(network.output_shapes()[-1]))]
    if max(a * b for a, b in zip(sizes[:-1], sizes[1:])) > 20_000_000:
        from ilpregions.core.errors import TooLargeError
        raise TooLargeError(f"layers: {sizes[0]} inputs and layer sizes {sizes[1:]} are far beyond exact "
                            f"region counting (it is #P-hard; this tool is for small networks)")
    if weights is None:
        weights = he_normal_weights(network, 0 if seed is None else seed)
    weights = check_weights(network, weights)
    start = time.perf_counter()
    deadline = None if time_limit is None else start + time_limit
    n = int(np.prod(network.input_shape))
    if method == "sample":
        total = 100_000 if samples is None else int(samples)
        found, drawn = sample_patterns(network, weights, total, seed=seed, deadline=deadline)
        return RegionsResult(found, False, 0, time.perf_counter() - start, "sample",
                             {"samples": drawn})
    stage_list = stages(network, weights)
    if method == "exact" and _one_affine_layer(network):
        st = stage_list[0]
        rows = np.c_[st.A, st.b]
        count, done, generic = count_independent_subsets(rows, deadline)
        if generic:
            return RegionsResult(count, done, 0, time.perf_counter() - start, "rank",
                                 {"neurons": len(rows), "inputs": n})
        # non-generic biases: fall through to the LP tree
    if seed_samples is None:
        seed_samples = 20_000
    rng = np.random.default_rng(12345 if seed is None else seed + 104729)
    X = None
    if seed_samples:
        scales = np.resize(np.array(SAMPLE_SCALES), seed_samples)[:, None]
        X = rng.normal(size=(seed_samples, n)) * scales
    enum = _Enumerator(n, stage_list, X, deadline)
    done = True
    try:
        enum.run()
    except _TimeUp:
        done = False
    stats = dict(enum.stats)
    exact = done and stats["lp_ambiguous"] == 0
    details = {"tests": stats, "neurons": sum(st.decisions for st in stage_list if st.kind == "relu"),
               "inputs": n, "seed_samples": int(seed_samples),
               "min_lp_margin": None if enum.min_margin == math.inf else enum.min_margin}
    if stats["lp_ambiguous"]:
        details["note"] = "some LPs ended within the numerical tolerance band; the count may be off"
    return RegionsResult(enum.count, exact, enum.lp.solved, time.perf_counter() - start, "lp", details)


__all__ = ["RegionsResult", "count_linear_regions", "count_independent_subsets", "sample_patterns"]

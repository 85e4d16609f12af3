"""The region tree: decisions taken one at a time, a child kept when its cell
is non-empty (see :mod:`ilpregions.services.regions` for the tests, cheapest
first: rank tests, witness points, rays, and an LP).

Names used below: ``linear``/``offset`` give the current stage's inputs as an
affine map x -> linear @ x + offset on the cell; ``pre_linear``/``pre_offset``
give a ReLU stage's pre-activations the same way; ``members`` are the indices
of the pre-sampled inputs whose decisions so far match the cell's (their
points are candidate witnesses); ``point`` is a known point of the cell.
"""

from __future__ import annotations

import math
import time
from typing import Callable

import numpy as np

from ilpregions.core.errors import ILPRegionsError
from ilpregions.core.forward import Stage, decisions
from ilpregions.services.regions._exact import ExactRows
from ilpregions.services.regions._cell import RANK_TOL, Cell, homogeneous

#: Samples whose pattern is read with a smaller relative margin are dropped.
SAMPLE_MARGIN = 1e-7
#: Pre-sampled points tried as witnesses per child.
SAMPLE_TRIES = 4


class TimeUp(ILPRegionsError):
    """The deadline passed during the enumeration."""


def _stats() -> dict[str, int]:
    return {"rank_free": 0, "witness_free": 0, "sample_free": 0, "ray_free": 0, "lp_feasible": 0,
            "lp_empty": 0, "lp_ambiguous": 0, "constant": 0, "nodes": 0, "exact_point": 0, "exact_empty": 0,
            "exact_simplex": 0, "exact_constant": 0, "exact_confirmed": 0}


class Enumerator:
    """Counts the leaves of the region tree of ``stage_list`` over R^n."""

    def __init__(self, n: int, stage_list: list[Stage], samples: np.ndarray | None,
                 deadline: float | None, rank_tests: bool = True, bar=None):
        self.n = n
        self.bar = bar      # a core.progress.Progress or None
        self.stages = stage_list
        self.deadline = deadline
        self.rank_tests = rank_tests
        self.stats = _stats()
        self.exact = ExactRows(stage_list, n)
        self.path: list = []    # the decisions of the stages already passed: ("relu", mask) / ("pool", choices)
        # Magnitudes |A|·|linear| along the path bound the rounding of each float row: a row's error is at
        # most _gamma times its magnitude (products of at most this many terms, per stage).
        self._mag: dict[int, tuple] = {}
        self._pre_mag: dict[int, tuple] = {}
        terms = n + 2 + sum(st.decisions for st in stage_list if st.kind == "relu")
        self._gamma = 4.0 * len(stage_list) * terms * np.finfo(float).eps
        self.cell = Cell(n, self.stats, self.exact, deadline)
        self.lp = self.cell.lp
        self.count = 0
        if samples is not None and len(samples):
            codes, margin = decisions(stage_list, samples)
            keep = margin > SAMPLE_MARGIN
            self.sample_points = homogeneous(samples[keep]).reshape(-1, n + 1)
            self.codes = codes[keep]
        else:
            self.sample_points = np.zeros((0, n + 1))
            self.codes = np.zeros((0, sum(st.decisions for st in stage_list)), dtype=np.int16)
        # Column offset of each stage's decisions in `codes`.
        self.offsets = np.cumsum([0] + [st.decisions for st in stage_list]).tolist()

    @property
    def min_margin(self) -> float:
        return self.cell.min_margin

    def _tick(self) -> None:
        """Count a node; check the clock now and then."""
        self.stats["nodes"] += 1
        if self.stats["nodes"] % 256:
            return
        if self.bar is not None:
            self.bar.update(256)
            self.bar.set_postfix(regions=self.count)
        if self.deadline is not None and time.perf_counter() > self.deadline:
            raise TimeUp

    def _column(self, stage: int, index: int, members: np.ndarray) -> np.ndarray:
        """The pre-sampled inputs' decisions at one node."""
        return self.codes[members, self.offsets[stage] + index] if members.size else members

    def _sample_witness(self, rows: np.ndarray, candidates: np.ndarray):
        for k in candidates[:SAMPLE_TRIES]:
            if self.cell.valid(self.sample_points[k], rows):
                return self.sample_points[k]
        return None

    def _descend(self, rows: np.ndarray, keys, witness, recurse: Callable[[np.ndarray], None], noise=()) -> None:
        """Enter the child cut out by ``rows`` (exact forms: ``keys``) when it is non-empty (by the
        witness ``(point, statistic)`` or else an LP), run ``recurse(point)``, leave."""
        if witness is not None:
            child_point, how = witness
            saved = self.cell.push(rows, keys, noise)
            if self.cell.fragile() and not self.cell.confirm(child_point):
                self.cell.pop(saved, len(rows))  # the floats may be wrong here: let the LP and exact checks decide
                witness = None
            else:
                self.stats[how] += 1
        if witness is None:
            ok, child_point, saved = self.cell.lp_child(rows, keys, noise)
            if not ok:
                return
        try:
            recurse(child_point)
        finally:
            self.cell.pop(saved, len(rows))

    # -- the tree ------------------------------------------------------------

    def run(self) -> None:
        point = homogeneous(np.zeros(self.n))[0]  # any point is inside R^n
        self._mag[0] = (np.eye(self.n), np.zeros(self.n))
        self._stage(0, np.eye(self.n), np.zeros(self.n), point, np.arange(len(self.codes)))

    def _stage(self, stage: int, linear, offset, point, members):
        if stage == len(self.stages):
            self.count += 1
            return
        st = self.stages[stage]
        if st.kind == "relu":
            pre_linear = st.A @ linear
            pre_offset = st.A @ offset + st.b
            mag, mag_off = self._mag[stage]   # bounds on |linear|, |offset|: the rounding of the products
            absA = np.abs(st.A)
            self._pre_mag[stage] = (absA @ mag, absA @ mag_off + np.abs(st.b))
            active = np.zeros(len(pre_offset), dtype=bool)
            self._neuron(stage, 0, pre_linear, pre_offset, active, point, members)
        else:
            self._window(stage, 0, linear, offset, [], point, members)

    def _neuron(self, stage: int, neuron: int, pre_linear, pre_offset, active, point, members):
        """Split the cell on neuron ``neuron`` of a ReLU stage, then go on."""
        if neuron == len(pre_offset):
            mask = active.astype(float)
            self.path.append(("relu", active.astype(bool).tobytes()))
            pre_mag, pre_mag_off = self._pre_mag[stage]
            self._mag[stage + 1] = (pre_mag * mask[:, None], pre_mag_off * mask)
            try:
                self._stage(stage + 1, pre_linear * mask[:, None], pre_offset * mask, point, members)
            finally:
                self.path.pop()
            return
        self._tick()
        w, beta = pre_linear[neuron], pre_offset[neuron]
        wnorm = math.sqrt(w @ w)
        scale = math.sqrt(wnorm * wnorm + beta * beta)
        path = tuple(self.path)
        if wnorm <= RANK_TOL * max(scale, 1e-300):
            exact = self.exact.row(("neuron", stage, neuron, 1, path))
            if not any(exact[:-1]):
                # Constant on the cell (e.g. all its inputs inactive): no split.
                self.stats["constant"] += 1
                active[neuron] = exact[-1] > 0
                self._neuron(stage, neuron + 1, pre_linear, pre_offset, active, point, members)
                active[neuron] = False
                return
            self.stats["exact_constant"] += 1  # tiny but not zero: a real cut, decided exactly below
            if scale == 0:
                w = np.array([float(v) for v in exact[:-1]])
                wnorm = math.sqrt(w @ w) or 1e-300
                scale = math.sqrt(wnorm * wnorm + beta * beta)
        a = np.append(w, beta) / scale
        pre_mag, pre_mag_off = self._pre_mag[stage]
        noise = self._gamma * (pre_mag[neuron].sum() + pre_mag_off[neuron]) / scale
        column = self._column(stage, neuron, members)
        free = self._free_direction(w, wnorm)
        # Witnesses for both sides first, from the parent cell's point.
        witnesses = {side: self._side_witness(a, side, point, members, column, free) for side in (1, 0)}
        for side in (1, 0):
            def recurse(child_point, side=side):
                active[neuron] = bool(side)
                child_members = members[column == side] if members.size else members
                self._neuron(stage, neuron + 1, pre_linear, pre_offset, active, child_point, child_members)
            sign = 1 if side else -1
            self._descend((sign * a)[None, :], [("neuron", stage, neuron, sign, path)], witnesses[side], recurse,
                          [noise])
            active[neuron] = False

    def _free_direction(self, w: np.ndarray, wnorm: float):
        """w's component orthogonal to every row normal of the cell, or None
        when w is (numerically) in their span or rank tests are off."""
        if not self.rank_tests:
            return None
        r = self.cell.residual(w)
        return None if np.linalg.norm(r) <= RANK_TOL * wnorm else r

    def _side_witness(self, a, side: int, point, members, column, free):
        """A point of the child on ``side`` of the unit row ``a`` without an LP, or None."""
        sign = 1.0 if side else -1.0
        rows = (sign * a)[None, :]
        if point is not None and self.cell.valid(point, rows):
            return point, "witness_free"
        if members.size:
            found = self._sample_witness(rows, members[column == side])
            if found is not None:
                return found, "sample_free"
        if free is not None and point is not None:
            # Move along the free direction (orthogonal to every constraint normal): only a's value changes.
            value = a[:-1] @ point[:-1] + a[-1] * point[-1]
            target = sign * max(abs(value), 1e-3 * point[-1])
            moved = point.copy()
            moved[:-1] += (target - value) / (free @ a[:-1]) * free
            moved /= max(1.0, np.abs(moved).max())
            if self.cell.valid(moved, rows):
                return moved, "rank_free"
        if point is not None:
            ray = self.cell.ray_witness(point, sign * a)
            if ray is not None:
                return ray, "ray_free"
        return None

    def _window(self, stage: int, window: int, linear, offset, chosen: list, point, members):
        """Choose the argmax of pooling window ``window`` of a pooling stage, then go on."""
        st = self.stages[stage]
        if window == len(st.windows):
            rows_linear = np.array([linear[k] if k >= 0 else np.zeros(self.n) for k in chosen]).reshape(-1, self.n)
            rows_offset = np.array([offset[k] if k >= 0 else 0.0 for k in chosen])
            self.path.append(("pool", tuple(int(k) for k in chosen)))
            mag, mag_off = self._mag[stage]
            self._mag[stage + 1] = (np.array([mag[k] if k >= 0 else np.zeros(self.n) for k in chosen]).reshape(-1, self.n),
                                    np.array([mag_off[k] if k >= 0 else 0.0 for k in chosen]))
            try:
                self._stage(stage + 1, rows_linear, rows_offset, point, members)
            finally:
                self.path.pop()
            return
        self._tick()
        entries = [(local, int(k)) for local, k in enumerate(st.windows[window])]
        if st.nonneg:
            # Inactive entries are identically zero on the cell and never the argmax.
            entries = [(local, k) for local, k in entries if np.any(linear[k] != 0) or offset[k] != 0]
        if len(entries) <= 1:
            choice = entries[0][1] if entries else -1
            self._window(stage, window + 1, linear, offset, chosen + [choice], point, members)
            return
        column = self._column(stage, window, members)
        path = tuple(self.path)
        for local, k in entries:
            found = self._argmax_rows(stage, path, linear, offset, k, [other for _, other in entries if other != k])
            if found is None:
                continue
            rows, keys, noise = found
            witness = None
            if point is not None and self.cell.valid(point, rows):
                witness = (point, "witness_free")
            elif members.size:
                found = self._sample_witness(rows, members[column == local])
                witness = None if found is None else (found, "sample_free")

            def recurse(child_point, local=local, k=k):
                child_members = members[column == local] if members.size else members
                self._window(stage, window + 1, linear, offset, chosen + [k], child_point, child_members)
            self._descend(rows, keys, witness, recurse, noise)

    def _argmax_rows(self, stage: int, path, linear, offset, k: int, others: list[int]):
        """(unit rows, their exact keys) for "entry k beats every other entry", or None when it never does."""
        diffs, keys, noise = [], [], []
        mag, mag_off = self._mag[stage]
        for other in others:
            row = np.append(linear[k] - linear[other], offset[k] - offset[other])
            scale = np.linalg.norm(row)
            key = ("argmax", stage, k, other, path)
            if np.linalg.norm(row[:-1]) <= RANK_TOL * max(scale, 1e-300):
                exact = self.exact.row(key)
                if not any(exact[:-1]):
                    if exact[-1] <= 0:
                        return None  # never strictly larger on this cell
                    continue
                self.stats["exact_constant"] += 1
                if scale == 0:
                    row = np.array([float(v) for v in exact])
                    scale = np.linalg.norm(row)
            diffs.append(row / scale)
            keys.append(key)
            noise.append(self._gamma * (mag[k].sum() + mag[other].sum() + mag_off[k] + mag_off[other]) / scale)
        return np.array(diffs).reshape(-1, self.n + 1), keys, noise


__all__ = ["Enumerator", "TimeUp"]

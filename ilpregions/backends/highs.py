"""HiGHS backend (highspy): feasibility and LP only, it does not count.

Models are passed whole, as column-wise (CSC) arrays, through
``Highs.passModel``: building them row by row from Python is the slow part.

* ``check``: :class:`~ilpregions.core.flow_network.FlowNetwork` as an LP: one variable
  y_{p,x} ∈ [0, d0] per (position, pixel of S_p), rows Σ_x y_{p,x} ≤ t_p and
  Σ_p y_{p,x} ≤ d0, maximise Σ y. Its matrix is a network matrix (totally
  unimodular), so the simplex vertex is integral: the LP *is* the flow.
* ``lp_max``: max Σ_p w_p t_p over the LP relaxation of K_N ∩ {t ≤ caps},
  in the same flow form (t_p = Σ_x y_{p,x}); this equals the union-row LP
  by max-flow/min-cut, with polynomially many rows instead of 2^positions.
* ``CellLP``: the cell LP of the region tree of ``regions`` (task "cells"):
  max t s.t. ``a_i . (y, y0) >= t`` for every row, ``y0 >= t``,
  ``-1 <= y <= 1``, ``0 <= y0 <= 1``, ``t <= 1``, rows pushed and popped
  with the tree. It is always feasible (t = 0 at y = 0, y0 = 0) and bounded,
  so a status other than optimal is a solver failure, never evidence that a
  cell is empty: such a solve is retried under :data:`RETRIES`, and when none
  gives an optimum :class:`~ilpregions.core.errors.SolverError` names the status.
"""

from __future__ import annotations

import numpy as np

from ilpregions.core.certificates import timed_certificate
from ilpregions.core.errors import SolverError
from ilpregions.core.flow_network import FlowNetwork
from ilpregions.core.results import FeasibilityResult


_BANNER_SHOWN = False


def new_highs():
    """A silent ``Highs`` object.

    highspy 1.16 prints its banner on stdout when the first ``Highs`` of a
    process is constructed, before any option can be set (HiGHS issues
    #1702, #2749); that would corrupt ``--json`` output, so the first
    construction runs with file descriptor 1 pointed at /dev/null.
    """
    import os
    import sys

    import highspy

    global _BANNER_SHOWN
    if _BANNER_SHOWN:
        h = highspy.Highs()
    else:
        sys.stdout.flush()
        saved = os.dup(1)
        try:
            with open(os.devnull, "w") as null:
                os.dup2(null.fileno(), 1)
                h = highspy.Highs()
        finally:
            os.dup2(saved, 1)
            os.close(saved)
        _BANNER_SHOWN = True
    h.setOptionValue("output_flag", False)
    return h


def _flow_lp(network: FlowNetwork, weights, *, integral=False):
    """Solve max Σ_p w_p Σ_x y_{p,x} over the flow polytope; return (value, y)."""
    import highspy

    arcs = network.arcs
    if not arcs:
        return 0.0, np.zeros(0)
    pixels = sorted(network.by_pixel)
    pixel_row = {x: network.positions + i for i, x in enumerate(pixels)}
    n = len(arcs)
    # Each column y_{p,x} has two entries: its position row and its pixel row.
    index = np.empty(2 * n, dtype=np.int32)
    index[0::2] = [p for p, _ in arcs]
    index[1::2] = [pixel_row[x] for _, x in arcs]
    lp = highspy.HighsLp()
    lp.num_col_ = n
    lp.num_row_ = network.positions + len(pixels)
    lp.col_cost_ = np.array([-float(weights[p]) for p, _ in arcs])   # HiGHS minimises
    lp.col_lower_ = np.zeros(n)
    lp.col_upper_ = np.full(n, float(network.channels))
    lp.row_lower_ = np.full(lp.num_row_, -highspy.kHighsInf)
    lp.row_upper_ = np.concatenate([np.asarray(network.demand, dtype=float),
                                    np.full(len(pixels), float(network.channels))])
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = np.arange(0, 2 * n + 1, 2, dtype=np.int32)
    lp.a_matrix_.index_ = index
    lp.a_matrix_.value_ = np.ones(2 * n)
    if integral:
        lp.integrality_ = [highspy.HighsVarType.kInteger] * n
    h = new_highs()
    h.passModel(lp)
    h.run()
    status = h.getModelStatus()
    if status != highspy.HighsModelStatus.kOptimal:
        raise SolverError(f"highs: unexpected model status {h.modelStatusToString(status)}")
    return -h.getInfo().objective_function_value, np.array(h.getSolution().col_value)


def max_flow(network: FlowNetwork) -> dict[tuple[int, int], int]:
    """An integral maximum flow: the LP's vertex (a network matrix's polytope)."""
    _, y = _flow_lp(network, [1] * network.positions)
    return network.units(y, "highs")


def check(inst, t) -> FeasibilityResult:
    return timed_certificate(inst, t, "highs", max_flow)


def lp_max(inst, weights, *, caps=None):
    """max Σ w_p t_p over the LP relaxation of K_N (with t ≤ caps, default
    |S_p|, i.e. no d1 cap). Returns (value, t) with t a list of floats."""
    caps = list(inst.field_sizes if caps is None else caps)
    network = FlowNetwork.build(inst, caps)
    value, y = _flow_lp(network, weights)
    t = [0.0] * inst.positions
    for (p, _), u in zip(network.arcs, y):
        t[p] += float(u)
    return value, t


#: Settings tried in turn, from a fresh start, when a solve ends neither
#: optimal nor infeasible (HiGHS 1.x can return "Unknown" on the warm-started
#: dual simplex of a degenerate cell LP).
RETRIES: tuple[dict, ...] = (
    {"simplex_strategy": 4},                    # primal simplex
    {"presolve": "on"},
    {"solver": "ipm", "run_crossover": "on"},   # interior point, then a vertex
)


def _option(h, key: str):
    """An option's value (highspy returns (status, value); some versions the value)."""
    value = h.getOptionValue(key)
    return value[1] if isinstance(value, tuple) else value


class CellLP:
    """max t s.t. rows . (y, y0) >= t, y0 >= t, box; rows form a stack."""

    def __init__(self, n: int):
        import highspy

        self.n = n
        self.h = h = new_highs()
        h.setOptionValue("presolve", "off")
        # No "threads" option: HiGHS has one scheduler per process, and a Highs
        # object asking for a thread count other than the first one's refuses
        # to run (kError), which would read as an empty cell.
        h.setOptionValue("primal_feasibility_tolerance", 1e-10)
        h.setOptionValue("dual_feasibility_tolerance", 1e-10)
        self.inf = highspy.kHighsInf
        h.passModel(self._initial_model(highspy, n))
        self.idx = np.arange(n + 2, dtype=np.int32)
        self.rows = 1
        self.solved = 0
        self.retried = 0

    @staticmethod
    def _initial_model(highspy, n: int):
        """Columns y (n), y0, t; one row y0 - t >= 0; maximise t."""
        lp = highspy.HighsLp()
        lp.num_col_ = n + 2
        lp.num_row_ = 1
        lp.col_cost_ = np.r_[np.zeros(n + 1), 1.0]
        lp.col_lower_ = np.r_[-np.ones(n), 0.0, 0.0]
        lp.col_upper_ = np.ones(n + 2)
        lp.row_lower_ = np.zeros(1)
        lp.row_upper_ = np.full(1, highspy.kHighsInf)
        lp.a_matrix_.format_ = highspy.MatrixFormat.kRowwise
        lp.a_matrix_.start_ = np.array([0, 2], dtype=np.int32)
        lp.a_matrix_.index_ = np.array([n, n + 1], dtype=np.int32)
        lp.a_matrix_.value_ = np.array([1.0, -1.0])
        lp.sense_ = highspy.ObjSense.kMaximize
        return lp

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

    def _run(self):
        self.h.run()
        return self.h.getModelStatus()

    def _retry(self, highspy, first_status):
        """Re-solve from scratch under each of :data:`RETRIES`; restore the options."""
        tried = [self.h.modelStatusToString(first_status)]
        for settings in RETRIES:
            saved = {key: _option(self.h, key) for key in settings}
            self.h.clearSolver()
            for key, value in settings.items():
                self.h.setOptionValue(key, value)
            try:
                status = self._run()
            finally:
                for key, value in saved.items():
                    self.h.setOptionValue(key, value)
            if status == highspy.HighsModelStatus.kOptimal:
                self.retried += 1
                return
            tried.append(f"{self.h.modelStatusToString(status)} with {settings}")
        raise SolverError(f"regions: HiGHS could not solve a cell LP ({len(self.idx) - 2} inputs, "
                          f"{self.rows} rows): status {'; '.join(tried)}")

    def duals(self) -> np.ndarray:
        """The row duals of the last solve (row 0: y0 - t >= 0, then the cell's rows)."""
        return np.asarray(self.h.getSolution().row_dual, dtype=float)

    def solve(self) -> tuple[float, np.ndarray]:
        """(t*, the point (y, y0)) of the current stack of rows."""
        import highspy

        status = self._run()
        self.solved += 1
        if status != highspy.HighsModelStatus.kOptimal:
            self._retry(highspy, status)
        t = self.h.getInfo().objective_function_value
        sol = np.asarray(self.h.getSolution().col_value)
        return t, sol[: self.n + 1]



"""The LP oracle of the region tree: HiGHS through highspy, rows pushed and
popped with the tree.

The LP is max t s.t. ``a_i . (y, y0) >= t`` for every row, ``y0 >= t``,
``-1 <= y <= 1``, ``0 <= y0 <= 1``, ``t <= 1``. It is always feasible (t = 0
at y = 0, y0 = 0) and bounded, so a status other than optimal is a solver
failure, never evidence that a cell is empty. Such a solve is retried with
other settings (:data:`RETRIES`); when none gives an optimum,
:class:`~ilpregions.core.errors.SolverError` names the status.
"""

from __future__ import annotations

import numpy as np

from ilpregions.core.errors import SolverError

#: Settings tried in turn, from a fresh start, when a solve ends neither
#: optimal nor infeasible (HiGHS 1.x can return "Unknown" on the warm-started
#: dual simplex of a degenerate cell LP).
RETRIES: tuple[dict, ...] = (
    {"simplex_strategy": 4},                    # primal simplex
    {"presolve": "on"},
    {"solver": "ipm", "run_crossover": "on"},   # interior point, then a vertex
)


def quiet_highs(highspy):
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


def _option(h, key: str):
    """An option's value (highspy returns (status, value); some versions the value)."""
    value = h.getOptionValue(key)
    return value[1] if isinstance(value, tuple) else value


class CellLP:
    """max t s.t. rows . (y, y0) >= t, y0 >= t, box; rows form a stack."""

    def __init__(self, n: int):
        import highspy

        self.n = n
        self.h = h = quiet_highs(highspy)
        h.setOptionValue("output_flag", False)
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


__all__ = ["CellLP", "RETRIES", "quiet_highs"]

"""The plain design-card CP-SAT route, kept as the in-run baseline.

Every non-redundant union row, ``enumerate_all_solutions``, default solver
parameters otherwise, and a Python callback that reads every t_p through
``value()`` and multiplies the binomials. Nothing here is used by the library.
"""

from __future__ import annotations

import time
from math import comb

from ortools.sat.python import cp_model

from ilpregions.core.set_system import essential_unions


def plain_count(inst, time_limit: float | None = None) -> dict:
    """Return {'regions', 't_vectors', 'seconds', 'complete'} for the plain model."""
    start = time.perf_counter()
    positions = [p for p in range(inst.positions) if inst.fields[p]]
    model = cp_model.CpModel()
    t = {p: model.new_int_var(0, inst.caps[p], f"t_{p}") for p in positions}
    for subset, union in essential_unions(inst, positions):
        model.add(sum(t[p] for p in subset) <= union)
    ordered = [t[p] for p in positions]
    d1 = inst.filters

    class Callback(cp_model.CpSolverSolutionCallback):
        def __init__(self):
            super().__init__()
            self.total = 0
            self.count = 0

        def on_solution_callback(self):
            weight = 1
            for var in ordered:
                weight *= comb(d1, self.value(var))
            self.total += weight
            self.count += 1

    solver = cp_model.CpSolver()
    solver.parameters.enumerate_all_solutions = True
    if time_limit is not None:
        solver.parameters.max_time_in_seconds = time_limit
    callback = Callback()
    status = solver.solve(model, callback)
    return {"regions": callback.total, "t_vectors": callback.count,
            "seconds": time.perf_counter() - start, "complete": status == cp_model.OPTIMAL}

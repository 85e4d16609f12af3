"""CBC backend through PuLP: feasibility and LP only.

CBC cannot enumerate solutions, so this backend does not count R_N (the
comparison table says so rather than faking a count). PuLP 3.x bundles a
CBC binary (``PULP_CBC_CMD``); PuLP 4 dropped it, hence ``pulp<4``.

* ``check``: the max-flow of :mod:`ilpregions.services.feasibility` as an integer
  program (integer y_{p,x}, rows Σ_x y_{p,x} ≤ t_p, Σ_p y_{p,x} ≤ d0).
* ``lp_max``: max Σ w_p t_p over the LP relaxation of K_N ∩ {t ≤ caps}, in
  flow form (see :mod:`ilpregions.backends.highs`).

Expressions are built in bulk (``LpAffineExpression`` from pairs), which is
what keeps PuLP model building linear.
"""

from __future__ import annotations

import warnings

from ilpregions.services.feasibility import FeasibilityResult, timed_certificate
from ilpregions.core.geometry import flow_arcs


def solver(time_limit=None):
    """PuLP's bundled CBC. PuLP 3.3 flags ``PULP_CBC_CMD`` as deprecated (it
    is gone in PuLP 4, which we exclude); the warning is not actionable for
    our users, so it is silenced here."""
    import pulp

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return pulp.PULP_CBC_CMD(msg=False, timeLimit=time_limit)


def variable(problem, name, low, up, category):
    """A variable attached to ``problem`` (PuLP ≥ 3.3 API, older fallback)."""
    import pulp

    add = getattr(problem, "add_variable", None)
    if add is not None:
        return add(name, low, up, cat=category)
    return pulp.LpVariable(name, low, up, category)


def flow_problem(inst, row_caps, weights, *, integral, name="flow"):
    """The flow-form problem in PuLP: returns (problem, {(p, x): variable})."""
    import pulp

    category = pulp.LpInteger if integral else pulp.LpContinuous
    problem = pulp.LpProblem(name, pulp.LpMaximize)
    arcs, by_position, by_pixel = flow_arcs(inst, row_caps)
    y = {(p, x): variable(problem, f"y_{p}_{x}", 0, inst.channels, category) for p, x in arcs}
    problem += pulp.LpAffineExpression([(v, float(weights[p])) for (p, _), v in y.items()]), "objective"
    for p, idx in by_position.items():
        problem += pulp.LpAffineExpression([(y[arcs[i]], 1) for i in idx]) <= row_caps[p], f"position_{p}"
    for x, idx in by_pixel.items():
        problem += pulp.LpAffineExpression([(y[arcs[i]], 1) for i in idx]) <= inst.channels, f"pixel_{x}"
    return problem, y


def _solve(problem):
    import pulp

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        problem.solve(solver())
    if pulp.LpStatus[problem.status] != "Optimal":
        raise RuntimeError(f"cbc: unexpected status {pulp.LpStatus[problem.status]}")


def max_flow(inst, t) -> dict[tuple[int, int], int]:
    problem, y = flow_problem(inst, t, [1] * inst.positions, integral=True)
    if not y:
        return {}
    _solve(problem)
    return {e: int(round(v.value())) for e, v in y.items() if round(v.value() or 0) > 0}


def check(inst, t) -> FeasibilityResult:
    return timed_certificate(inst, t, "cbc", max_flow)


def lp_max(inst, weights, *, caps=None):
    """max Σ w_p t_p over the LP relaxation of K_N (t ≤ caps, default |S_p|)."""
    caps = list(inst.field_sizes if caps is None else caps)
    problem, y = flow_problem(inst, caps, weights, integral=False, name="lp")
    if not y:
        return 0.0, [0.0] * inst.positions
    _solve(problem)
    t = [0.0] * inst.positions
    for (p, _), v in y.items():
        t[p] += float(v.value() or 0)
    return float(problem.objective.value()), t

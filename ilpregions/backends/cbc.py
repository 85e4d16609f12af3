"""CBC backend through PuLP: feasibility and LP only.

CBC cannot enumerate solutions, so this backend does not count R_N (the
comparison table says so rather than faking a count). PuLP 3.x bundles a
CBC binary (``PULP_CBC_CMD``); PuLP 4 dropped it, hence ``pulp<4``.

* ``check``: :class:`~ilpregions.core.flow_network.FlowNetwork` as an integer
  program (integer y_{p,x}, rows Σ_x y_{p,x} ≤ t_p, Σ_p y_{p,x} ≤ d0).
* ``lp_max``: max Σ w_p t_p over the LP relaxation of K_N ∩ {t ≤ caps}, in
  flow form (see :mod:`ilpregions.backends.highs`).
* ``write_model``: the K_N integer program as an LP or MPS file (task "export").

Expressions are built in bulk (``LpAffineExpression`` from pairs), which is
what keeps PuLP model building linear.
"""

from __future__ import annotations

from ilpregions.core.errors import SolverError

import warnings

from ilpregions.core.certificates import timed_certificate
from ilpregions.core.flow_network import FlowNetwork
from ilpregions.core.results import FeasibilityResult

#: Model formats :func:`write_model` writes (task "export").
EXPORT_FORMATS = ("lp", "mps")


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


def flow_problem(network: FlowNetwork, weights, *, integral, name="flow"):
    """The flow network as a PuLP problem: returns (problem, [variable per arc])."""
    import pulp

    category = pulp.LpInteger if integral else pulp.LpContinuous
    problem = pulp.LpProblem(name, pulp.LpMaximize)
    y = [variable(problem, f"y_{p}_{x}", 0, network.channels, category) for p, x in network.arcs]
    problem += pulp.LpAffineExpression([(v, float(weights[p])) for (p, _), v in zip(network.arcs, y)]), \
        "objective"
    for p, idx in network.by_position.items():
        problem += pulp.LpAffineExpression([(y[i], 1) for i in idx]) <= network.demand[p], f"position_{p}"
    for x, idx in network.by_pixel.items():
        problem += pulp.LpAffineExpression([(y[i], 1) for i in idx]) <= network.channels, f"pixel_{x}"
    return problem, y


def _solve(problem):
    import pulp

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        problem.solve(solver())
    if pulp.LpStatus[problem.status] != "Optimal":
        raise SolverError(f"cbc: unexpected status {pulp.LpStatus[problem.status]}")


def max_flow(network: FlowNetwork) -> dict[tuple[int, int], int]:
    """An integral maximum flow, solved as an integer program by CBC."""
    problem, y = flow_problem(network, [1] * network.positions, integral=True)
    if not y:
        return {}
    _solve(problem)
    return network.units([v.value() for v in y], "cbc")


def check(inst, t) -> FeasibilityResult:
    return timed_certificate(inst, t, "cbc", max_flow)


def lp_max(inst, weights, *, caps=None):
    """max Σ w_p t_p over the LP relaxation of K_N (t ≤ caps, default |S_p|)."""
    caps = list(inst.field_sizes if caps is None else caps)
    network = FlowNetwork.build(inst, caps)
    problem, y = flow_problem(network, weights, integral=False, name="lp")
    if not y:
        return 0.0, [0.0] * inst.positions
    _solve(problem)
    t = [0.0] * inst.positions
    for (p, _), v in zip(network.arcs, y):
        t[p] += float(v.value() or 0)
    return float(problem.objective.value()), t


def write_model(inst, positions, rows, fmt: str, path: str) -> int:
    """Write the K_N integer program (one t_p ∈ [0, caps[p]] per position, one
    row per union J in ``rows``, objective max Σ t_p) as LP or MPS; returns
    the number of variables."""
    import pulp

    caps = inst.caps
    problem = pulp.LpProblem("K_N", pulp.LpMaximize)
    t = {p: variable(problem, f"t_{p}", 0, caps[p], pulp.LpInteger) for p in positions}
    problem += pulp.LpAffineExpression([(t[p], 1) for p in positions]), "sum_t"
    for subset, union in rows:
        problem += pulp.LpAffineExpression([(t[p], 1) for p in subset]) <= union, \
            "union_" + "_".join(map(str, subset))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        if fmt == "lp":
            problem.writeLP(path)
        else:
            # OBJSENSE MAX: MPS minimises unless told otherwise.
            problem.writeMPS(path, with_objsense=True)
    return len(positions)

"""Write the K_N model we solve, for any other solver (issue 4, part 4).

* ``cp``: the CP-SAT model of :func:`ilpregions.backends.cpsat.build_model`
  (one integer t_p ∈ [0, min(d1, |S_p|)] per position, one row per essential
  union J with |J| ≥ 2 that can bind), as a text protocol buffer
  (``CpModelProto``), with the objective max Σ t_p.
* ``lp`` / ``mps``: the same integer program written by PuLP.

The objective's optimum is the largest Σ t over K_N with the d1 cap, which
is |∪S| once d1 ≥ every |S_p| (the rank of the polymatroid).

Examples
--------
>>> import tempfile, os
>>> from ilpregions.core.spec import Network, ConvLayer
>>> path = os.path.join(tempfile.mkdtemp(), "k.lp")
>>> summary = export_model(Network((4, 1), (ConvLayer(2, 2),)), "lp", path)
>>> summary.variables, summary.rows
(3, 3)
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

from ilpregions.core.errors import InputError
from ilpregions.core.safe_io import atomic_open, atomic_path, output_lock, output_target
from ilpregions.core.geometry import Theorem1Instance, as_instance, essential_unions

FORMATS = ("cp", "lp", "mps")


@dataclass(frozen=True)
class ExportSummary:
    format: str
    path: str
    variables: int
    rows: int


def _instance(model) -> Theorem1Instance:
    return as_instance(model)


def binding_rows(inst: Theorem1Instance):
    """Positions with a field, and the essential rows with |J| ≥ 2 that can bind."""
    positions = [p for p in range(inst.positions) if inst.fields[p]]
    caps = inst.caps
    rows = [(subset, union) for subset, union in essential_unions(inst, positions)
            if len(subset) >= 2 and union < sum(caps[p] for p in subset)]
    return positions, rows


def export_model(model, fmt: str, path: str) -> ExportSummary:
    """Write the K_N integer program of a one-layer model to ``path``."""
    if fmt not in FORMATS:
        raise InputError(f"--format: {fmt!r} is not one of {', '.join(FORMATS)}")
    output_target(path)  # refuse a device, FIFO or directory before any work
    inst = _instance(model)
    positions, rows = binding_rows(inst)
    if fmt == "cp":
        from ilpregions.backends.cpsat import build_model

        cp, variables = build_model(inst, positions, essential_unions(inst, positions))
        cp.maximize(sum(variables[p] for p in positions))
        with output_lock(path), atomic_open(path) as handle:
            handle.write(str(cp.proto))
        return ExportSummary(fmt, path, len(positions), len(rows))
    import pulp

    from ilpregions.backends.cbc import variable

    caps = inst.caps
    problem = pulp.LpProblem("K_N", pulp.LpMaximize)
    t = {p: variable(problem, f"t_{p}", 0, caps[p], pulp.LpInteger) for p in positions}
    problem += pulp.LpAffineExpression([(t[p], 1) for p in positions]), "sum_t"
    for subset, union in rows:
        problem += pulp.LpAffineExpression([(t[p], 1) for p in subset]) <= union, \
            "union_" + "_".join(map(str, subset))
    with warnings.catch_warnings(), output_lock(path), atomic_path(path) as tmp:
        warnings.simplefilter("ignore", DeprecationWarning)
        if fmt == "lp":
            problem.writeLP(tmp)
        else:
            # OBJSENSE MAX: MPS minimises unless told otherwise.
            problem.writeMPS(tmp, with_objsense=True)
    return ExportSummary(fmt, path, len(positions), len(rows))


__all__ = ["export_model", "ExportSummary", "FORMATS", "binding_rows"]

"""Write the K_N model we solve, for any other solver.

Each format is written by a backend of the registry (task "export"):

* ``cp``: the CP-SAT model of :func:`ilpregions.backends.cpsat.build_model`
  (one integer t_p ∈ [0, min(d1, |S_p|)] per position, one row per essential
  union J with |J| ≥ 2 that can bind), as a text protocol buffer
  (``CpModelProto``), with the objective max Σ t_p.
* ``lp`` / ``mps``: the same integer program written by PuLP (the ``cbc`` backend).

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

import time

from dataclasses import dataclass

from ilpregions import backends
from ilpregions.core.errors import ParameterError
from ilpregions.core.safe_io import atomic_path, output_lock, output_target
from ilpregions.core.geometry import Theorem1Instance, as_instance
from ilpregions.core.set_system import essential_unions

FORMATS = ("cp", "lp", "mps")
#: The backend writing each format (task "export" of the registry).
WRITERS = {"cp": "cpsat", "lp": "cbc", "mps": "cbc"}


@dataclass(frozen=True)
class ExportSummary:
    format: str
    path: str
    variables: int
    rows: int
    union_size: int = 0


def binding_rows(inst: Theorem1Instance, deadline: float | None = None, essential=None):
    """Positions with a field, and the essential rows with |J| ≥ 2 that can bind.

    ``deadline`` (perf_counter seconds): :class:`~ilpregions.core.set_system.RowsTimeUp` past it.
    """
    positions = [p for p in range(inst.positions) if inst.fields[p]]
    caps = inst.caps
    if essential is None:
        essential = essential_unions(inst, positions, deadline=deadline)
    rows = [(subset, union) for subset, union in essential
            if len(subset) >= 2 and union < sum(caps[p] for p in subset)]
    return positions, rows


def export_model(model, fmt: str, path: str, time_limit: float | None = None) -> ExportSummary:
    """Write the K_N integer program of a one-layer model to ``path``.

    Listing the union rows can take minutes on a few dozen overlapping
    positions; past ``time_limit`` seconds
    :class:`~ilpregions.core.set_system.RowsTimeUp` is raised and nothing is written.
    """
    if fmt not in FORMATS:
        raise ParameterError("format", f"{fmt!r} is not one of {', '.join(FORMATS)}")
    output_target(path)  # refuse a device, FIFO or directory before any work
    deadline = None if time_limit is None else time.perf_counter() + time_limit
    inst = as_instance(model)
    positions = [p for p in range(inst.positions) if inst.fields[p]]
    essential = essential_unions(inst, positions, deadline=deadline)
    positions, rows = binding_rows(inst, essential=essential)
    writer = backends.load(WRITERS[fmt], backends.EXPORT)
    # The CP model takes every essential row (its singleton rows become bounds).
    model_rows = essential if fmt == "cp" else rows
    with output_lock(path), atomic_path(path) as tmp:
        writer.write_model(inst, positions, model_rows, fmt, tmp)
    return ExportSummary(fmt, path, len(positions), len(rows), inst.union_size)


__all__ = ["export_model", "ExportSummary", "FORMATS", "binding_rows"]

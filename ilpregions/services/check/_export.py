"""Write the K_N model we solve, for any other solver.

Each format is written by a backend of the registry (task "export"):

* ``cp``: the CP-SAT model of :func:`ilpregions.backends.cpsat.build_model`
  (one integer t_p ∈ [0, min(d1, |S_p|)] per position, one row per essential
  union J with |J| ≥ 2 that can bind), as a text protocol buffer
  (``CpModelProto``), with the objective max Σ t_p.
* ``lp`` / ``mps``: the same integer program written by PuLP (the ``cbc`` backend).

The objective's optimum is the largest Σ t over K_N with the d1 cap, which
is |∪S| once d1 ≥ every |S_p| (the rank of the polymatroid).
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
    """What :func:`export_model` wrote: the format, the file, and the model's size.
    """
    format: str
    path: str
    variables: int
    rows: int
    union_size: int = 0


def binding_rows(inst: Theorem1Instance, deadline: float | None = None, essential=None):
    """Positions with a field, and the essential rows with |J| ≥ 2 that can bind.

    A row Σ_{p∈J} t_p ≤ |∪_J S_p| binds only when the union is below the sum
    of the caps of J; the others hold for every t in the box.

    Parameters
    ----------
    inst : Theorem1Instance
        A layer's set system.
    deadline : float, optional
        A ``time.perf_counter()`` value; listing the rows stops past it.
    essential : list, optional
        The essential unions, when already listed (then ``deadline`` is not
        used).

    Returns
    -------
    positions : list of int
        The positions whose field is not empty.
    rows : list of (tuple of int, int)
        The binding rows, as (positions J, union size).

    Raises
    ------
    RowsTimeUp
        The deadline passed while listing the rows.

    Examples
    --------
    >>> from ilpregions.core.geometry import layer_instance
    >>> from ilpregions.core.spec import ConvLayer, Network
    >>> binding_rows(layer_instance(Network((4, 1), (ConvLayer(2, 2),))))
    ([0, 1, 2], [((0, 1), 3), ((0, 1, 2), 4), ((1, 2), 3)])
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
    positions; past ``time_limit`` seconds nothing is written.

    Parameters
    ----------
    model : Network or Theorem1Instance
        A one-layer network (conv, local or dense) or its set system.
    fmt : {"cp", "lp", "mps"}
        The format: CP-SAT's text protocol buffer, or an LP/MPS file written
        by PuLP.
    path : str
        The output file, written atomically under a lock (a regular file
        only).
    time_limit : float, optional
        Seconds for listing the union rows.

    Returns
    -------
    ExportSummary
        The format, the path, the number of variables and of binding rows.

    Raises
    ------
    ParameterError
        ``fmt`` is not one of ``FORMATS``.
    OutputError
        ``path`` is a device, FIFO or directory, or cannot be written.
    RowsTimeUp
        Listing the rows took longer than ``time_limit``.
    InputError
        ``model`` is not a one-layer network.

    Examples
    --------
    >>> import tempfile, os
    >>> from ilpregions.core.spec import Network, ConvLayer
    >>> path = os.path.join(tempfile.mkdtemp(), "k.lp")
    >>> summary = export_model(Network((4, 1), (ConvLayer(2, 2),)), "lp", path)
    >>> summary.variables, summary.rows
    (3, 3)
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

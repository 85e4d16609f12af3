"""Is a t-vector in K_N? Decided with a certificate either way (docs/math.md#max-flow-and-min-cut-certificates).

By Hall's theorem for b-matchings, t ∈ K_N iff every position p can be given
t_p distinct elements of S_p with no element given twice. Every ``check``
backend solves the same max-flow, :class:`ilpregions.core.flow_network.FlowNetwork`
(``flow`` with networkx, ``cbc``/``scip``/``cpsat`` as an integer program,
``highs`` as an LP whose vertices are integral), and
:mod:`ilpregions.core.certificates` turns its flow into a verified
certificate the same way for all backends. This module validates the input
and dispatches through the backend registry.

Examples
--------
>>> from ilpregions.core.spec import Network, ConvLayer
>>> net = Network((3, 3, 1), (ConvLayer(2, 2),))
>>> result = check(net, [4, 4, 0, 1])
>>> result.feasible, result.violated
(False, Violation(positions=(0, 1), sum=8, union=6))
>>> ok = check(net, [2, 2, 2, 2])
>>> ok.feasible, [len(a) for a in ok.assignment]
(True, [2, 2, 2, 2])
>>> len(set(sum(ok.assignment, ())))      # 8 distinct elements [row, col, channel]
8
"""

from __future__ import annotations

import numbers
from dataclasses import replace
from typing import Iterable

from ilpregions import backends
from ilpregions.core.combinatorics import short_int
from ilpregions.core.certificates import certificate_from_flow, shrink_violation, timed_certificate, verify
from ilpregions.core.errors import ParameterError
from ilpregions.core.geometry import Theorem1Instance, as_instance
from ilpregions.core.results import FeasibilityResult, Violation


# ----------------------------------------------------------------------------
# Input
# ----------------------------------------------------------------------------

def parse_t(text: str) -> list[int]:
    """Parse a t-vector written as ``2,2,0,1`` (commas and/or spaces).

    Parameters
    ----------
    text : str
        The entries, separated by commas and/or white space.

    Returns
    -------
    list of int
        The entries (not yet checked against a layer: see :func:`validate_t`).

    Raises
    ------
    ParameterError
        For parameter ``t``: the text is empty or an entry is not a
        non-negative integer (or has too many digits).

    Examples
    --------
    >>> parse_t("2, 2,0 1")
    [2, 2, 0, 1]
    >>> parse_t("1,x")
    Traceback (most recent call last):
    ...
    ilpregions.core.errors.ParameterError: t: entry 2 is 'x', not a non-negative integer
    """
    parts = [p for p in text.replace(",", " ").split()]
    if not parts:
        raise ParameterError("t", "empty t-vector; give one non-negative integer per output position")
    values = []
    for i, part in enumerate(parts, 1):
        if len(part) > 40 and part.isdigit():   # before int(): Python refuses > 4300 digits with a ValueError
            raise ParameterError("t", f"entry {i} has {len(part)} digits, over the limit of {MAX_T_ENTRY}")
        try:
            values.append(int(part))
        except ValueError:
            raise ParameterError("t", f"entry {i} is {part[:40]!r}, not a non-negative integer") from None
    return values


#: The largest t-vector entry accepted: solvers take 64-bit integers, and t_p ≤ |S_p| in K_N anyway.
MAX_T_ENTRY = 2 ** 63 - 1


def validate_t(inst: Theorem1Instance, t: Iterable) -> tuple[int, ...]:
    """Check a t-vector's length, integrality, sign and size against a layer.

    Parameters
    ----------
    inst : Theorem1Instance
        The layer's set system.
    t : iterable of int
        One entry per output position, row-major; integral floats are
        accepted as ints.

    Returns
    -------
    tuple of int
        The entries as Python ints.

    Raises
    ------
    ParameterError
        For parameter ``t``: wrong length, an entry that is not a non-negative
        integer, or one over ``MAX_T_ENTRY`` (2^63 - 1).

    Examples
    --------
    >>> from ilpregions.core.spec import Network, DenseLayer
    >>> inst = as_instance(Network((2, 1), (DenseLayer(2),)))
    >>> validate_t(inst, [2.0])
    (2,)
    >>> validate_t(inst, [2 ** 63])
    Traceback (most recent call last):
    ...
    ilpregions.core.errors.ParameterError: t: entry 1 is 9223372036854775808, over the limit of 9223372036854775807 (64-bit solvers; t_p <= |S_p| in K_N anyway)
    """
    values = list(t)
    if len(values) != inst.positions:
        raise ParameterError("t", f"{len(values)} entries given, but the layer has {inst.positions} output "
                             f"positions (row-major, output grid {'x'.join(map(str, inst.output_spatial))})")
    out = []
    for i, v in enumerate(values, 1):
        if isinstance(v, bool) or not isinstance(v, numbers.Integral):
            if isinstance(v, numbers.Real) and float(v).is_integer() and not isinstance(v, bool):
                v = int(v)
            else:
                raise ParameterError("t", f"entry {i} is {v!r}, not a non-negative integer")
        if v < 0:
            raise ParameterError("t", f"entry {i} is {v}, but t-vector entries must be non-negative")
        if v > MAX_T_ENTRY:
            raise ParameterError("t", f"entry {i} is {v if v.bit_length() < 128 else short_int(v)}, over the limit of {MAX_T_ENTRY} (64-bit solvers; "
                                      f"t_p <= |S_p| in K_N anyway)")
        out.append(int(v))
    return tuple(out)


# ----------------------------------------------------------------------------
# Public entry point
# ----------------------------------------------------------------------------

def check(model, t: Iterable, backend: str = "flow") -> FeasibilityResult:
    """Decide whether t ∈ K_N, with a certificate.

    Parameters
    ----------
    model : Network or Theorem1Instance
        A one-layer network (conv, local or dense) or its set system.
    t : sequence of int
        One entry per output position, row-major.
    backend : str
        "flow" (default, networkx max-flow), "cpsat", "cbc", "highs" or "scip".

    Returns
    -------
    FeasibilityResult
        ``feasible``, and its certificate: an assignment of t_p distinct
        elements of S_p to every position, or a violated set J with
        Σ_J t_p > |∪_J S_p|. :func:`verify` checks either from the
        definitions.

    Raises
    ------
    InputError
        The model is not one conv/local/dense layer, or the backend is
        unknown (:class:`~ilpregions.core.errors.UnknownBackendError`).
    ParameterError
        For parameter ``t``: wrong length, negative or non-integer entries,
        or a flow network over ``MAX_FLOW_ARCS`` arcs.
    BackendUnavailableError
        The backend's solver is not installed.

    Examples
    --------
    >>> from ilpregions.core.spec import ConvLayer, Network
    >>> net = Network((3, 3, 1), (ConvLayer(2, 2),))
    >>> check(net, [4, 4, 0, 1]).violated
    Violation(positions=(0, 1), sum=8, union=6)
    >>> result = check(net, [1, 1, 1, 1])
    >>> result.feasible, len(result.assignment)
    (True, 4)
    """
    backends.resolve(backend, backends.CHECK)   # an unknown name fails before any work
    inst = as_instance(model)
    values = validate_t(inst, t)
    # the flow network has an arc per (position with t_p > 0, pixel of its field): size it first
    arcs = sum(len(inst.fields[p]) for p, v in enumerate(values) if v)
    if arcs > MAX_FLOW_ARCS:
        raise ParameterError("t", f"{arcs} arcs in the flow network of this t (one per pixel of each field "
                                  f"with t_p > 0), over the limit of {MAX_FLOW_ARCS}")
    result = backends.load(backend, backends.CHECK).check(inst, values)
    coords = tuple(tuple(inst.position_coords(p)) for p in range(inst.positions)) if result.feasible else ()
    return replace(result, union_size=inst.union_size, filters=inst.filters, position_coords=coords)


#: Arcs of one feasibility flow network (a few hundred bytes each in the solvers' Python models).
MAX_FLOW_ARCS = 2_000_000


__all__ = ["FeasibilityResult", "Violation", "check", "parse_t", "validate_t", "verify",
           "certificate_from_flow", "shrink_violation", "timed_certificate"]

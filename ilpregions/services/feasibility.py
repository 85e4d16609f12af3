"""Is a t-vector in K_N? Decided with a certificate either way (MATH.md §2).

By Hall's theorem for b-matchings, t ∈ K_N iff every position p can be given
t_p distinct elements of S_p with no element given twice. Every ``check``
backend solves the same max-flow

    source → p (capacity t_p) → pixel x ∈ S_p (unbounded) → sink (capacity d0)

(channels collapse: a pixel stands for its d0 elements) — ``flow`` with
networkx, ``cbc``/``scip``/``cpsat`` as an integer program, ``highs`` as an
LP (whose vertices are integral: the constraint matrix is a network matrix).
Each returns an integral maximum flow, and this module turns it into the
certificate, the same way for all backends:

* value = Σ t: the flow *is* an assignment; the units a position sends to a
  pixel become distinct channels of that pixel;
* value < Σ t: the positions reachable from the source in the residual
  network form a violated set J (the source side of a minimum cut: the
  pixels reachable are exactly ∪_J S_p and all are saturated, so
  Σ_J t_p > flow into J's pixels = |∪_J S_p|). J is then shrunk: to one
  violated overlap component, then by dropping positions while it stays
  violated, until no single position can be dropped (inclusion-minimal).

Every certificate is verified by :func:`verify` before it is returned.

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
import time
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Sequence

from ilpregions.core.errors import InputError
from ilpregions.core.geometry import Theorem1Instance, as_instance

Element = tuple[int, ...]


@dataclass(frozen=True)
class Violation:
    """A set J of positions with Σ_J t_p = ``sum`` > ``union`` = |∪_J S_p|."""

    positions: tuple[int, ...]
    sum: int
    union: int

    def to_json(self) -> dict[str, Any]:
        return {"positions": list(self.positions), "sum": self.sum, "union": self.union}


@dataclass(frozen=True)
class FeasibilityResult:
    """The answer to "is t in K_N?" with its certificate.

    Attributes
    ----------
    feasible : whether t ∈ K_N
    assignment : when feasible, per position (row-major) its t_p distinct
        elements ``(spatial..., channel)``; no element appears twice
    violated : when infeasible, a small violated set of positions
    backend : the backend that solved the flow problem
    seconds : wall time of the backend
    t : the t-vector checked
    """

    feasible: bool
    assignment: tuple[tuple[Element, ...], ...] | None
    violated: Violation | None
    backend: str
    seconds: float
    t: tuple[int, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "feasible": self.feasible,
            "t": list(self.t),
            "assignment": None if self.assignment is None else
            [[list(e) for e in elements] for elements in self.assignment],
            "violated": None if self.violated is None else self.violated.to_json(),
            "backend": self.backend,
            "seconds": round(self.seconds, 6),
        }


# ----------------------------------------------------------------------------
# Input
# ----------------------------------------------------------------------------

def parse_t(text: str) -> list[int]:
    """Parse ``--t 2,2,0,1`` (commas and/or spaces).

    >>> parse_t("2, 2,0 1")
    [2, 2, 0, 1]
    >>> parse_t("1,x")
    Traceback (most recent call last):
    ...
    ilpregions.core.errors.InputError: --t: entry 2 is 'x', not a non-negative integer
    """
    parts = [p for p in text.replace(",", " ").split()]
    if not parts:
        raise InputError("--t: empty t-vector; give one non-negative integer per output position")
    values = []
    for i, part in enumerate(parts, 1):
        try:
            values.append(int(part))
        except ValueError:
            raise InputError(f"--t: entry {i} is {part!r}, not a non-negative integer") from None
    return values


def validate_t(inst: Theorem1Instance, t: Iterable) -> tuple[int, ...]:
    """Check length, integrality and sign; return t as a tuple of ints."""
    values = list(t)
    if len(values) != inst.positions:
        raise InputError(f"--t: {len(values)} entries given, but the layer has {inst.positions} output "
                         f"positions (row-major, output grid {'x'.join(map(str, inst.output_spatial))})")
    out = []
    for i, v in enumerate(values, 1):
        if isinstance(v, bool) or not isinstance(v, numbers.Integral):
            if isinstance(v, numbers.Real) and float(v).is_integer() and not isinstance(v, bool):
                v = int(v)
            else:
                raise InputError(f"--t: entry {i} is {v!r}, not a non-negative integer")
        if v < 0:
            raise InputError(f"--t: entry {i} is {v}, but t-vector entries must be non-negative")
        out.append(int(v))
    return tuple(out)


def _instance(model) -> Theorem1Instance:
    return as_instance(model)


# ----------------------------------------------------------------------------
# From a maximum flow to a certificate (shared by every backend)
# ----------------------------------------------------------------------------

def certificate_from_flow(inst: Theorem1Instance, t: Sequence[int], units: Mapping[tuple[int, int], int],
                          backend: str, seconds: float = 0.0) -> FeasibilityResult:
    """Turn an integral maximum flow into a verified certificate.

    ``units[(p, x)]`` is the flow from position p to pixel x (≥ 0, integral).
    """
    sent = [0] * inst.positions
    load: dict[int, int] = {}
    for (p, x), u in units.items():
        if u < 0 or u != int(u):
            raise RuntimeError(f"{backend}: non-integral or negative flow {u} on ({p}, {x})")
        sent[p] += int(u)
        load[x] = load.get(x, 0) + int(u)
    if any(s > d for s, d in zip(sent, t)) or any(v > inst.channels for v in load.values()):
        raise RuntimeError(f"{backend}: the flow exceeds a capacity")
    if sum(sent) == sum(t):
        result = FeasibilityResult(True, _assignment(inst, units), None, backend, seconds, tuple(t))
    else:
        reach = _residual_reach(inst, t, units, sent, load, backend)
        violated = shrink_violation(inst, t, reach)
        result = FeasibilityResult(False, None, violated, backend, seconds, tuple(t))
    problems = verify(inst, t, result)
    if problems:
        raise RuntimeError(f"{backend}: invalid certificate: {problems[0]}")
    return result


def _assignment(inst: Theorem1Instance, units) -> tuple[tuple[Element, ...], ...]:
    next_channel: dict[int, int] = {}
    per_position: list[list[Element]] = [[] for _ in range(inst.positions)]
    for (p, x) in sorted(units):
        u = int(units[(p, x)])
        start = next_channel.get(x, 0)
        for c in range(start, start + u):
            per_position[p].append(inst.element(x, c))
        next_channel[x] = start + u
    return tuple(tuple(sorted(elements)) for elements in per_position)


def _residual_reach(inst, t, units, sent, load, backend) -> list[int]:
    """Positions reachable from the source in the residual network."""
    users: dict[int, list[int]] = {}
    for (p, x), u in units.items():
        if u > 0:
            users.setdefault(x, []).append(p)
    stack = [p for p in range(inst.positions) if sent[p] < t[p]]
    seen_p, seen_x = set(stack), set()
    while stack:
        p = stack.pop()
        for x in inst.fields[p]:          # p → x has unbounded capacity
            if x in seen_x:
                continue
            seen_x.add(x)
            if load.get(x, 0) < inst.channels:
                raise RuntimeError(f"{backend}: the flow is not maximum (an augmenting path exists)")
            for q in users.get(x, ()):    # x → q along a used edge, backwards
                if q not in seen_p:
                    seen_p.add(q)
                    stack.append(q)
    return sorted(seen_p)


def shrink_violation(inst: Theorem1Instance, t: Sequence[int], positions: Iterable[int]) -> Violation:
    """Make a violated set small: one violated overlap component, then drop
    positions while the set stays violated, until none can be dropped.

    >>> from ilpregions.core.spec import Network, ConvLayer
    >>> from ilpregions.core.geometry import layer_instance
    >>> inst = layer_instance(Network((4, 1), (ConvLayer(2, 2),)))
    >>> shrink_violation(inst, [2, 2, 2], [0, 1, 2])
    Violation(positions=(1, 2), sum=4, union=3)
    """
    d0 = inst.channels
    current = sorted(set(positions))

    def slack(js) -> int:
        return sum(t[p] for p in js) - inst.coverage(js)

    if slack(current) <= 0:
        raise ValueError("shrink_violation: the given set is not violated")
    while True:
        before = list(current)
        # 1. the smallest violated connected piece (pieces have disjoint unions,
        #    so the slacks add up and at least one piece is violated).
        pieces = _pieces(inst, current)
        violated = [piece for piece in pieces if slack(piece) > 0]
        current = min(violated, key=lambda piece: (len(piece), -slack(piece), piece))
        # 2. drop positions while still violated (pixel multiplicities make
        #    each test O(|S_p|)); low demands first.
        count: dict[int, int] = {}
        for p in current:
            for x in inst.fields[p]:
                count[x] = count.get(x, 0) + 1
        s = slack(current)
        members = set(current)
        changed = True
        while changed:
            changed = False
            for p in sorted(members, key=lambda q: (t[q], -len(inst.fields[q]), q)):
                unique = sum(1 for x in inst.fields[p] if count[x] == 1) * d0
                if len(members) > 1 and s - t[p] + unique > 0:
                    members.discard(p)
                    for x in inst.fields[p]:
                        count[x] -= 1
                    s = s - t[p] + unique
                    changed = True
        current = sorted(members)
        if current == before:
            break
    return Violation(tuple(current), sum(t[p] for p in current), inst.coverage(current))


def _pieces(inst: Theorem1Instance, positions: Sequence[int]) -> list[list[int]]:
    by_pixel: dict[int, list[int]] = {}
    for p in positions:
        for x in inst.fields[p]:
            by_pixel.setdefault(x, []).append(p)
    parent = {p: p for p in positions}

    def find(p):
        while parent[p] != p:
            parent[p] = parent[parent[p]]
            p = parent[p]
        return p

    for owners in by_pixel.values():
        root = find(owners[0])
        for q in owners[1:]:
            other = find(q)
            if other != root:
                parent[other] = root
    groups: dict[int, list[int]] = {}
    for p in positions:
        groups.setdefault(find(p), []).append(p)
    return [sorted(g) for g in groups.values()]


# ----------------------------------------------------------------------------
# Independent verification
# ----------------------------------------------------------------------------

def verify(inst: Theorem1Instance, t: Sequence[int], result: FeasibilityResult) -> list[str]:
    """Every problem with a result's certificate (empty when it is valid).

    Checks from the definitions only: an assignment gives each position t_p
    distinct elements of its own field and no element twice; a violated set
    has the stated sum and union, and sum > union.
    """
    problems = []
    spatial = len(inst.input_spatial)
    if result.feasible:
        if result.assignment is None or len(result.assignment) != inst.positions:
            return ["a feasible result needs one element list per position"]
        used: set[Element] = set()
        for p, elements in enumerate(result.assignment):
            field = set(inst.pixel_coords(x) for x in inst.fields[p])
            if len(elements) != t[p]:
                problems.append(f"position {p} gets {len(elements)} elements, t_p = {t[p]}")
            if len(set(elements)) != len(elements):
                problems.append(f"position {p} gets an element twice")
            for e in elements:
                if len(e) != spatial + 1 or tuple(e[:-1]) not in field or not 0 <= e[-1] < inst.channels:
                    problems.append(f"position {p} gets {list(e)}, which is not in S_p")
                if tuple(e) in used:
                    problems.append(f"element {list(e)} is given twice")
                used.add(tuple(e))
    else:
        v = result.violated
        if v is None or not v.positions:
            return ["an infeasible result needs a non-empty violated set"]
        if len(set(v.positions)) != len(v.positions) or not all(0 <= p < inst.positions for p in v.positions):
            problems.append("violated positions must be distinct positions")
            return problems
        total = sum(t[p] for p in v.positions)
        union = len(set().union(*(inst.field_sets[p] for p in v.positions))) * inst.channels
        if total != v.sum:
            problems.append(f"violated sum is {total}, reported {v.sum}")
        if union != v.union:
            problems.append(f"violated union is {union}, reported {v.union}")
        if not total > union:
            problems.append(f"Σ_J t_p = {total} does not exceed |∪_J S_p| = {union}")
    return problems


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

    Raises
    ------
    InputError
        for a t of the wrong length, or with negative or non-integer entries
        (the message names ``--t``), or an unknown backend.
    """
    from ilpregions import backends

    inst = _instance(model)
    values = validate_t(inst, t)
    module = backends.load(backend, backends.CHECK)
    return module.check(inst, values)


def flow_edges(inst: Theorem1Instance, t: Sequence[int]) -> list[tuple[int, int]]:
    """The (position, pixel) edges of the flow network, positions with t_p > 0."""
    return [(p, x) for p in range(inst.positions) if t[p] > 0 for x in inst.fields[p]]


def timed_certificate(inst, t, backend: str, solve) -> FeasibilityResult:
    """Run ``solve(inst, t) -> units`` and build the certificate, timing the solve."""
    start = time.perf_counter()
    units = solve(inst, t)
    seconds = time.perf_counter() - start
    return certificate_from_flow(inst, t, units, backend, seconds)


__all__ = ["FeasibilityResult", "Violation", "check", "parse_t", "validate_t", "verify",
           "certificate_from_flow", "shrink_violation", "flow_edges", "timed_certificate"]

"""From a maximum flow of :class:`~ilpregions.core.flow_network.FlowNetwork` to a
certificate, the same way for every ``check`` backend (docs/math.md#theorem-1).

* value = Σ t: the flow *is* an assignment; the units a position sends to a
  pixel become distinct channels of that pixel;
* value < Σ t: the positions reachable from the source in the residual
  network form a violated set J (the source side of a minimum cut: the
  pixels reachable are exactly ∪_J S_p and all are saturated, so
  Σ_J t_p > flow into J's pixels = |∪_J S_p|). J is then shrunk: to one
  violated overlap component, then by dropping positions while it stays
  violated, until no single position can be dropped (inclusion-minimal).

Every certificate is verified by :func:`verify`, from the definitions only,
before it is returned. Pure: no solver, no I/O.
"""

from __future__ import annotations

from ilpregions.core.errors import InconsistencyError, ParameterError

import time
from typing import Iterable, Mapping, Sequence

from ilpregions.core.geometry import Theorem1Instance
from ilpregions.core.flow_network import FlowNetwork, overlap_components
from ilpregions.core.results import Element, FeasibilityResult, Violation


def certificate_from_flow(inst: Theorem1Instance, t: Sequence[int], units: Mapping[tuple[int, int], int],
                          backend: str, seconds: float = 0.0) -> FeasibilityResult:
    """Turn an integral maximum flow into a verified certificate.

    ``units[(p, x)]`` is the flow from position p to pixel x (≥ 0, integral).
    """
    sent = [0] * inst.positions
    load: dict[int, int] = {}
    for (p, x), u in units.items():
        if u < 0 or u != int(u):
            raise InconsistencyError(f"{backend}: non-integral or negative flow {u} on ({p}, {x})")
        sent[p] += int(u)
        load[x] = load.get(x, 0) + int(u)
    if any(s > d for s, d in zip(sent, t)) or any(v > inst.channels for v in load.values()):
        raise InconsistencyError(f"{backend}: the flow exceeds a capacity")
    if sum(sent) == sum(t):
        result = FeasibilityResult(True, _assignment(inst, units), None, backend, seconds, tuple(t))
    else:
        reach = _residual_reach(inst, t, units, sent, load, backend)
        violated = shrink_violation(inst, t, reach)
        result = FeasibilityResult(False, None, violated, backend, seconds, tuple(t))
    problems = verify(inst, t, result)
    if problems:
        raise InconsistencyError(f"{backend}: invalid certificate: {problems[0]}")
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
                raise InconsistencyError(f"{backend}: the flow is not maximum (an augmenting path exists)")
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
        raise ParameterError("positions", "shrink_violation: the given set is not violated")
    while True:
        before = list(current)
        # 1. the smallest violated connected piece (pieces have disjoint unions,
        #    so the slacks add up and at least one piece is violated).
        # (a position whose field is all padding is a piece of its own: union 0)
        pieces = overlap_components(inst, current) + [[p] for p in current if not inst.fields[p]]
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


# ----------------------------------------------------------------------------
# Independent verification
# ----------------------------------------------------------------------------

def verify(inst: Theorem1Instance, t: Sequence[int], result: FeasibilityResult) -> list[str]:
    """Every problem with a result's certificate (empty when it is valid).

    Checks from the definitions only, independently of the solver that made
    the certificate: an assignment gives each position t_p distinct elements
    of its own field and no element twice; a violated set has the stated sum
    and union, and sum > union.

    Parameters
    ----------
    inst : Theorem1Instance
        The set system the result is about.
    t : sequence of int
        The demand vector that was checked, one entry per position.
    result : FeasibilityResult
        A result of :func:`ilpregions.check` (or of a backend's ``check``).

    Returns
    -------
    list of str
        One line per problem found; empty when the certificate proves the
        answer.

    Examples
    --------
    >>> from ilpregions import ConvLayer, Network, check, layer_instance
    >>> net = Network((3, 3, 1), (ConvLayer(2, 2),))
    >>> t = [4, 4, 0, 1]
    >>> verify(layer_instance(net), t, check(net, t))
    []
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



def timed_certificate(inst, t, backend: str, solve) -> FeasibilityResult:
    """Build the flow network of ``inst`` with demands ``t``, run
    ``solve(network) -> units`` and turn its flow into a certificate, timing the solve."""
    start = time.perf_counter()
    units = solve(FlowNetwork.build(inst, t))
    seconds = time.perf_counter() - start
    return certificate_from_flow(inst, t, units, backend, seconds)


__all__ = ["certificate_from_flow", "shrink_violation", "verify", "timed_certificate"]

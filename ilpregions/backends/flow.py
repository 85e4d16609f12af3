"""Max-flow backend (networkx): Hall's theorem decides t ∈ K_N (MATH.md §2).

The network is source → p (capacity t_p) → pixel x ∈ S_p (no capacity) →
sink (capacity d0): a pixel stands for its d0 elements, which keeps the
graph d0 times smaller than the element graph. The certificate (assignment
or violated set from the minimum cut) is built by
:func:`ilpregions.services.feasibility.certificate_from_flow`.
"""

from __future__ import annotations

from ilpregions.services.feasibility import FeasibilityResult, timed_certificate


def max_flow(inst, t) -> dict[tuple[int, int], int]:
    """An integral maximum flow as {(position, pixel): units}."""
    import networkx as nx

    graph = nx.DiGraph()
    graph.add_node("s")
    graph.add_node("t")
    for p, demand in enumerate(t):
        if demand > 0 and inst.fields[p]:
            graph.add_edge("s", ("p", p), capacity=int(demand))
            for x in inst.fields[p]:
                graph.add_edge(("p", p), ("x", x))          # unbounded
    for node in list(graph.nodes):
        if isinstance(node, tuple) and node[0] == "x":
            graph.add_edge(node, "t", capacity=inst.channels)
    if graph.number_of_edges() == 0:
        return {}
    _, flow = nx.maximum_flow(graph, "s", "t")
    units = {}
    for node, out in flow.items():
        if isinstance(node, tuple) and node[0] == "p":
            for target, u in out.items():
                if u:
                    units[(node[1], target[1])] = int(u)
    return units


def check(inst, t) -> FeasibilityResult:
    return timed_certificate(inst, t, "flow", max_flow)

"""Max-flow backend (networkx): Hall's theorem decides t ∈ K_N (docs/math.md#halls-theorem-for-b-matchings).

It solves :class:`~ilpregions.core.flow_network.FlowNetwork` as a graph;
:func:`ilpregions.core.certificates.timed_certificate` turns the maximum
flow into the certificate (assignment, or violated set from the minimum cut).
"""

from __future__ import annotations

from ilpregions.core.certificates import timed_certificate
from ilpregions.core.flow_network import FlowNetwork
from ilpregions.core.results import FeasibilityResult


def max_flow(network: FlowNetwork) -> dict[tuple[int, int], int]:
    """An integral maximum flow as {(position, pixel): units}."""
    import networkx as nx

    if not network.arcs:
        return {}
    graph = nx.DiGraph()
    graph.add_node("s")
    graph.add_node("t")
    for p, arcs in network.by_position.items():
        graph.add_edge("s", ("p", p), capacity=int(network.demand[p]))
        for i in arcs:
            graph.add_edge(("p", p), ("x", network.arcs[i][1]))          # unbounded
    for x in network.by_pixel:
        graph.add_edge(("x", x), "t", capacity=network.channels)
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

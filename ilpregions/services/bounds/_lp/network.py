"""The LP relaxation of K_N as a max-flow on the pixel network, solved by
scipy's combinatorial max-flow (channels collapse: a pixel has capacity d0).

The network is :mod:`ilpregions.core.flow_network`'s description (its
position–pixel incidence arrays); here it is solved with residual restarts,
which the lower bound's level greedy needs.
"""

from __future__ import annotations

import numpy as np

from ilpregions.core.flow_network import incidence, overlap_components
from ilpregions.core.geometry import Theorem1Instance


class PixelNetwork:
    """Incidence arrays of source → positions → pixels → sink."""

    def __init__(self, inst: Theorem1Instance):
        arcs = incidence(inst)   # the flow network's description, shared with the check backends
        self.inst = inst
        self.lengths = arcs.lengths
        self.pos = arcs.position
        self.pix = arcs.pixel
        self.n_pos = inst.positions
        self.n_pix = arcs.pixels
        self.sink = 1 + self.n_pos + self.n_pix
        self.big = int(inst.channels * max(1, self.n_pix))  # > any flow on p → x

    def components(self) -> list[list[int]]:
        """Overlap components (connected components of the position–pixel graph)."""
        return overlap_components(self.inst)

    def max_flow(self, source_caps: np.ndarray, used: np.ndarray | None = None,
                 load: np.ndarray | None = None):
        """Max flow with s→p capacities; with ``used``/``load`` (a current
        flow's per-edge units and per-pixel loads) it runs in that flow's
        residual network without edges back into the source, so existing
        source flows are never reduced. Returns (value, per-edge increments)."""
        from scipy.sparse import csr_matrix
        from scipy.sparse.csgraph import maximum_flow

        d0 = self.inst.channels
        n, m = self.n_pos, self.n_pix
        pos_node, pix_node = 1 + self.pos, 1 + n + self.pix
        if load is None:
            load = np.zeros(m, dtype=np.int64)
        rows = [np.zeros(n, dtype=np.int64), pos_node, 1 + n + np.arange(m)]
        cols = [1 + np.arange(n), pix_node, np.full(m, self.sink)]
        caps = [np.asarray(source_caps, dtype=np.int64), np.full(len(self.pos), self.big),
                d0 - load]
        if used is not None and used.any():
            back = used > 0
            rows.append(pix_node[back])
            cols.append(pos_node[back])
            caps.append(used[back])
        graph = csr_matrix((np.concatenate(caps).astype(np.int32),
                            (np.concatenate(rows), np.concatenate(cols))),
                           shape=(self.sink + 1, self.sink + 1))
        graph.eliminate_zeros()
        result = maximum_flow(graph, 0, self.sink, method="dinic")
        if result.flow_value == 0:
            return 0, np.zeros(len(self.pos), dtype=np.int64)
        flow = result.flow.tocsr()
        delta = np.asarray(flow[pos_node, pix_node]).ravel().astype(np.int64)
        return int(result.flow_value), delta


def lp_exponent(inst: Theorem1Instance, _start=None) -> int:
    """max Σ t over the LP relaxation of K_N without the d1 cap (a max-flow).

    >>> from ilpregions.core.spec import Network, ConvLayer
    >>> from ilpregions.core.geometry import layer_instance
    >>> lp_exponent(layer_instance(Network((3, 3, 2), (ConvLayer(5, 2),))))
    18
    """
    if not any(inst.fields):
        return 0
    net, base, used, load = _start if _start is not None else (PixelNetwork(inst), None, None, None)
    full = net.lengths * inst.channels
    if base is None:
        value, _ = net.max_flow(full)
        return value
    # Continue from a flow that saturates c ≤ |S_p|: augment in its residual.
    extra, _ = net.max_flow(full - base, used, load)
    return int(base.sum()) + extra


def position_lp_maxima(inst: Theorem1Instance) -> tuple[int, ...]:
    """max t_p over the LP relaxation with the d1 cap: min(d1, |S_p|)."""
    return inst.caps


__all__ = ["PixelNetwork", "lp_exponent", "position_lp_maxima"]

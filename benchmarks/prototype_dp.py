"""The plain numpy prototype of the frontier DP (docs/math.md#frontier-dp), kept as the
in-run baseline of ``bench_dp.py``.

Exactly the prototype that docs/math.md#the-plain-prototype describes: a dict of states keyed by
the whole rank table; each table is a numpy array over *all* 2^|frontier|
subsets of the frontier pixels; loops in Python; channels collapsed; no
merging on what the future can see, no clipping. Positions are scanned
row-major. Weights are Python ints.

    python benchmarks/prototype_dp.py 6 6 1 3 9     # H W d0 kernel d1
"""

from __future__ import annotations

import sys
import time
from math import comb

import numpy as np


def prototype_count(inst) -> tuple[int, int]:
    """(R_N, peak number of states) for a Theorem1Instance."""
    d0, d1 = inst.channels, inst.filters
    fields = [f for f in inst.fields if f]
    caps = [min(d1, d0 * len(f)) for f in fields]
    last = {}
    for i, f in enumerate(fields):
        for x in f:
            last[x] = i
    frontier: list[int] = []                      # pixel ids; bit k of a subset = frontier[k]
    # Tables hold values <= d0 * |frontier|; int8 when that fits (the dict
    # keeps only each table's bytes, as the prototype did, to fit in memory).
    dtype = np.int8 if d0 * (len(set().union(*fields)) if fields else 0) < 120 else np.int16
    states: dict[bytes, int] = {np.zeros(1, dtype=dtype).tobytes(): 1}
    binom = [comb(d1, t) for t in range(max(caps, default=0) + 1)]
    peak = 1

    def table(key: bytes) -> np.ndarray:
        return np.frombuffer(key, dtype=dtype)

    for i, f in enumerate(fields):
        # New pixels enter free: f(A ∪ {x}) = f(A) + d0.
        for x in f:
            if x not in frontier:
                frontier.append(x)
                grown: dict[bytes, int] = {}
                for key, w in states.items():
                    t0 = table(key)
                    grown[np.concatenate([t0, t0 + d0]).tobytes()] = w
                states = grown
        size = 1 << len(frontier)
        index = np.arange(size)
        window = sum(1 << frontier.index(x) for x in f)
        union_idx = index | window
        nxt: dict[bytes, int] = {}
        for key, weight in states.items():
            tab = table(key)
            top = int(tab[window])
            joined = tab[union_idx]
            for t in range(min(caps[i], top) + 1):
                new = np.minimum(tab, joined - t).tobytes()
                nxt[new] = nxt.get(new, 0) + weight * binom[t]
        states = nxt
        # Pixels no later window contains leave: restrict f to the rest.
        for x in [x for x in frontier if last[x] == i]:
            bit = frontier.index(x)
            keep = index[(index >> bit) & 1 == 0]
            frontier.pop(bit)
            size >>= 1
            index = np.arange(size)
            restricted: dict[bytes, int] = {}
            for key, weight in states.items():
                small = table(key)[keep].tobytes()
                restricted[small] = restricted.get(small, 0) + weight
            states = restricted
        peak = max(peak, len(states))
    return sum(states.values()), peak


def main(argv: list[str]) -> None:
    from ilpregions.core.geometry import layer_instance
    from ilpregions.core.spec import ConvLayer, Network

    h, w, d0, k, d1 = map(int, argv)
    inst = layer_instance(Network((h, w, d0), (ConvLayer(d1, k, shared=False),)))
    start = time.perf_counter()
    regions, peak = prototype_count(inst)
    print(f"R_N = {regions}  (peak {peak} states, {time.perf_counter() - start:.2f} s)")


if __name__ == "__main__":
    main(sys.argv[1:])

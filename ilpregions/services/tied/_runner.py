"""Counting the draws of tied_max block by block: random filters mod p, the subspace DP or the
enumeration per block, with progress, the time limit and the memory cap.

Each draw's count is a proven lower bound on the shared-filter maximum
(docs/tied.md): a set independent mod p is independent over the rationals.
"""

from __future__ import annotations

import numpy as np

from ilpregions.core.errors import ILPRegionsError
from ilpregions.core.progress import Progress, null_progress
from ilpregions.services.tied._plans import subspace
from ilpregions.theory.gfp import PRIME, count_independent_mod_p


class Draw:
    """One random choice of filters: the same residues for the dp and the enumeration."""

    def __init__(self, sup, rng: np.random.Generator):
        if sup.shared:
            self.shared = rng.integers(1, PRIME, size=(sup.filters, sup.taps_per_filter), dtype=np.int64)
        else:  # untied: every position has its own filters
            self.local = rng.integers(1, PRIME, size=(len(sup.elements), sup.filters, sup.taps_per_filter),
                                      dtype=np.int64)
        self.sup = sup

    def filters(self, p: int) -> np.ndarray:
        return self.shared if self.sup.shared else self.local[p]

    def matrix(self, block: list[int], n_elements: int) -> np.ndarray:
        """The block's neuron vectors as dense rows (position-major, then filter)."""
        rows = []
        for p in block:
            F = self.filters(p)
            R = np.zeros((self.sup.filters, n_elements), dtype=np.int64)
            R[:, self.sup.elements[p]] = F[:, self.sup.taps[p]]
            rows.append(R)
        return np.concatenate(rows)


def block_signature(sup, block: list[int]) -> tuple | None:
    """Blocks with equal signatures are translates: for a shared draw their
    matrices are equal up to a shift of the columns (same count)."""
    if not sup.shared:
        return None
    base = min(int(sup.elements[p][0]) for p in block)
    return tuple((sup.taps[p].tobytes(), (sup.elements[p] - base).tobytes()) for p in block)


class DrawStopped(ILPRegionsError):
    """A draw stopped by the time limit (internal: always turned into a partial result)."""

    def __init__(self, count: int, step: int, steps: int):
        super().__init__("time limit")
        self.count, self.step, self.steps = count, step, steps


class Runner:
    """Counts draws block by block, with progress, time limit and memory cap.

    The dp engine (numba) is imported on first use: importing this module
    (as the region enumerators do for the GF(p) helpers) stays cheap.
    """

    def __init__(self, sup, blocks, plans, n_elements, deadline, memory_cap, progress):
        self.sup, self.blocks, self.plans = sup, blocks, plans
        self.n_elements, self.deadline, self.memory_cap = n_elements, deadline, memory_cap
        self.progress = progress
        self.peak_states, self.peak_bytes, self.distinct = 0, 0, 0
        self.bound = None
        self.partial_note = ""

    def run(self, rng, repeats, method, formula, max_sets) -> tuple[list[int], int | None]:
        """The finished draws' counts, and a proven partial count if the time ran out."""
        steps = sum(len(b) for b in self.blocks) * repeats
        bar = Progress(f"tied-max {method}", total=steps, unit="pos") if self.progress else null_progress()
        done: list[int] = []
        with bar:
            for d in range(repeats):
                draw = Draw(self.sup, rng)
                total, cache = 1, {}
                for bi, block in enumerate(self.blocks):
                    try:
                        total *= self._block(draw, bi, block, method, cache, bar, d)
                    except DrawStopped as stop:
                        self.partial_note = (f"time limit in draw {d + 1} of {repeats}, block {bi + 1} of "
                                             f"{len(self.blocks)}, step {stop.step + 1} of {stop.steps}: the "
                                             f"count of the neurons processed so far")
                        return done, total * stop.count
                self.distinct = max(self.distinct, len(cache))
                done.append(total)
        return done, None

    def _block(self, draw, bi, block, method, cache, bar, d) -> int:
        if method == "enumerate":
            sub = draw.matrix(block, self.n_elements)
            sub = sub[:, sub.any(axis=0)]
            count, complete = count_independent_mod_p(sub, PRIME, self.deadline, strict_deadline=False)
            bar.update(len(block))
            if not complete:
                raise DrawStopped(count, 0, 1)
            return count
        engine = subspace()
        key = block_signature(self.sup, block) if len(self.blocks) > 1 else None
        if key is not None and key in cache:
            bar.update(len(block))
            return cache[key]
        small = None if self.plans.surely_scanned[bi] else engine.count_small(self.sup, block, draw.filters)
        if small is not None:   # no states: no plan, no steps
            bar.update(len(block))
            self.peak_states = max(self.peak_states, small.peak_states)
            self.peak_bytes = max(self.peak_bytes, small.peak_bytes)
            if key is not None:
                cache[key] = small.count
            return small.count
        plan = self.plans.plan(bi)

        def on_step(i, states):
            bar.update(1)
            bar.set_postfix(draw=d + 1, step=f"{i + 1}/{len(plan.positions)}", states=states)

        try:
            out = engine.count_block(self.sup, plan, draw.filters, deadline=self.deadline,
                              memory_cap=self.memory_cap, on_step=on_step, bound=self.bound)
        except engine.Stopped as stop:
            self.peak_states = max(self.peak_states, stop.peak_states)
            raise DrawStopped(stop.count, stop.step, stop.steps) from None
        self.peak_states = max(self.peak_states, out.peak_states)
        self.peak_bytes = max(self.peak_bytes, out.peak_bytes)
        if key is not None:
            cache[key] = out.count
        return out.count

"""Estimating a block's peak states and memory before the run (a pilot).

The number of DP states at a stage depends on the shape of the frontier,
which spans the scan's fast axes; along the slow axis the state count is
nearly stationary after a few rows (on 10×10×1 with 2×2 kernels, the blocks
of w output columns have the same peak with 7 or 9 output rows). So we run
the real DP on *narrow* sub-blocks: the positions whose coordinate along
the fastest axis of the chosen scan has rank < w, for w = 1, 2, ..., with
at most :data:`SLOW_ROWS` output rows, until a pilot's peak passes
:data:`PILOT_STATES` or :data:`PILOT_SECONDS` are spent. The log of the peak
grows about quadratically in w (the ratio between consecutive widths grows
steadily: 3.0, 3.2, 4.2, 4.5, 5.2, 5.9 on 2×2 kernels), so the last three
pilots give a log-quadratic extrapolation to the full width (two pilots: a
geometric one). Measured against the full runs in results/dp_benchmark.md.

The estimate is a guide, not a bound: the engine still checks every step
against the memory cap by arithmetic before allocating.

>>> fit_peak([(4, 123), (5, 558), (6, 2894)], 7)   # 2x2 kernels; measured: 17105
17159
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from ilpregions.backends.dp.hashstep import row_bytes
from ilpregions.backends.dp.npstep import size_text
from ilpregions.core.errors import TooLargeError

#: A pilot series stops once a pilot's peak passes this many states ...
PILOT_STATES = 20_000
#: ... or once the pilots have taken this many seconds together.
PILOT_SECONDS = 10.0
#: Pilots keep at most this many output rows along the slow axis.
SLOW_ROWS = 12
#: The estimate runs only on plans at least this wide (family columns, times
#: the bits of a value): narrower blocks finish in seconds and the pilots
#: would cost a noticeable share of the run.
ESTIMATE_AT = 200


@dataclass(frozen=True)
class Estimate:
    """A block's estimated peak: states, bytes of the widest step, and the
    pilots it came from (``(width, measured peak)``, widths along the fast axis)."""

    states: int
    memory_bytes: int
    extent: int
    points: tuple[tuple[int, int], ...]
    pilot_seconds: float

    def workers(self, memory_cap: int) -> int:
        """Dask workers of ``memory_cap`` bytes each that would hold the peak."""
        return max(1, -(-self.memory_bytes // max(1, memory_cap)))

    def text(self) -> str:
        pilots = ", ".join(f"{w}: {s}" for w, s in self.points)
        return (f"estimate: about {self.states:,} states at the peak, about {size_text(self.memory_bytes)} "
                f"(pilots on the first columns of the scan, peak states by width {{{pilots}}}, "
                f"extrapolated to width {self.extent})")


def worth_estimating(plan, d0: int) -> bool:
    """Only wide plans get a pilot (see :data:`ESTIMATE_AT`)."""
    return max(plan.widths) * max(1, (d0 + 1).bit_length() - 1) >= ESTIMATE_AT


def fit_peak(points: list[tuple[int, int]], extent: int) -> int:
    """Extrapolate peak states to width ``extent`` from ``(width, peak)`` points
    at consecutive widths: log-quadratic on the last three (the growth of the
    log ratio clamped at ≥ 0), geometric on two.

    >>> fit_peak([(1, 10), (2, 100)], 4)
    10000
    """
    w, last = points[-1]
    if extent <= w:
        return last
    logs = [math.log(max(1, s)) for _, s in points[-3:]]
    step = logs[-1] - logs[-2] if len(logs) >= 2 else math.log(4.0)
    growth = max(0.0, step - (logs[-2] - logs[-3])) if len(logs) == 3 else 0.0
    value = logs[-1]
    for _ in range(extent - w):
        step += growth
        value += step
    return int(round(math.exp(min(value, 700.0))))


def peak_bytes(states: int, plan, cols) -> int:
    """Memory of the widest step with ``states`` states on both sides: the held
    rows and weights, and per new row the kernel's bytes (``hashstep.row_bytes``)."""
    width = max(len(s.a_idx) for s in plan.steps) * plan.initial.dtype.itemsize
    k = cols.width
    return states * (width + 4 * k) + states * row_bytes(width, k)


def _sub_blocks(inst, comp: list[int], axes: tuple[int, ...]):
    """``(w, positions)`` for w = 1, 2, ... below the full width, and the full width."""
    coords = {p: inst.position_coords(p) for p in comp}
    dims = len(next(iter(coords.values())))
    fast = axes[-1] if axes else dims - 1
    slow = axes[0] if len(axes) > 1 else None
    rank_fast = {v: r for r, v in enumerate(sorted({c[fast] for c in coords.values()}))}
    rank_slow = ({v: r for r, v in enumerate(sorted({c[slow] for c in coords.values()}))}
                 if slow is not None else None)
    extent = len(rank_fast)
    subs = []
    for w in range(1, extent):
        subs.append((w, [p for p in comp if rank_fast[coords[p][fast]] < w
                         and (rank_slow is None or rank_slow[coords[p][slow]] < SLOW_ROWS)]))
    return subs, extent


def estimate_block(inst, comp: list[int], plan, cols, plan_sub, run_sub, *,
                   deadline: float | None = None, memory_cap: int) -> Estimate | None:
    """Pilot the DP on narrow sub-blocks and extrapolate (module docstring).

    ``plan_sub(positions, deadline)`` plans a sub-block in the block's scan
    order; ``run_sub(plan, deadline, memory_cap)`` runs it and returns its peak
    states. None when fewer than two pilots finished (no trend to extrapolate).
    """
    start = time.perf_counter()
    # The run keeps most of a time limit; the first pilot (a single column)
    # mostly loads the compiled kernels, which the run needs anyway, so the
    # pilots' own budget starts after it.
    limit = None if deadline is None else start + max(0.0, deadline - start) / 4
    stop = limit
    subs, extent = _sub_blocks(inst, comp, plan.axes)
    points: list[tuple[int, int]] = []
    for w, sub in subs:
        if (stop is not None and time.perf_counter() > stop) or len(sub) < 2:
            break
        try:
            peak = run_sub(plan_sub(sub, stop), stop, memory_cap)
        except (TooLargeError, TimeoutError):
            break
        if peak is None:   # the pilot ran out of time
            break
        points.append((w, peak))
        if len(points) == 1:
            stop = time.perf_counter() + PILOT_SECONDS if limit is None else min(limit, time.perf_counter()
                                                                                + PILOT_SECONDS)
        if peak > PILOT_STATES:
            break
    if len(points) < 2:
        return None
    states = fit_peak(points, extent)
    return Estimate(states, peak_bytes(states, plan, cols), extent, tuple(points),
                    time.perf_counter() - start)

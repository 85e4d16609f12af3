"""Counting backend ``dp``: frontier dynamic programming (docs/dp.md).

The positions of each connected block are scanned in an order chosen before
the run by a cheap estimate of the state width
(:mod:`ilpregions.backends.dp.order`). The state after a prefix of positions
is the rank function f of the "can stay unused" polymatroid on the frontier
pixels, stored only on the sets the future can see and clipped where its
value can no longer bind (:mod:`ilpregions.backends.dp.plan`); channels
collapse into pixels (a new pixel enters with ``f += d0``). The step for
demand t is ``f'(A) = min(f(A), f(A ∪ W) − t)``, feasible iff ``t ≤ f(W)``.

Modules: ``plan`` (geometry of the scan), ``order`` (which scan), ``weights``
(exact residues / Python ints, CRT), ``npstep`` (a step in numpy),
``kernels`` + ``hashstep`` (a step compiled, into a hash table), ``run``
(the stages of one block), ``distributed`` (the same on Dask workers), and
this module (blocks, the public :func:`count`).

Time limit. Each state at stage i is a demand vector on the processed
positions, extended by t = 0 on the rest (K_N is down-closed, and the weight
of a zero demand is 1). So the total weight at the stage where we stop is
*exactly* R of the sub-problem on the processed positions, which is ≤ R_N: an
honest lower bound. Blocks not reached contribute their t = 0 term (≥ 1).

Examples
--------
>>> from ilpregions.core.spec import Network, ConvLayer
>>> from ilpregions.core.geometry import layer_instance
>>> inst = layer_instance(Network((3, 3, 1), (ConvLayer(4, 2, shared=False),)))
>>> out = count(inst)
>>> out.regions, out.t_vectors, out.complete
(48957, 357, True)
"""

from __future__ import annotations

import time

from ilpregions.backends.dp import estimate as pilot
from ilpregions.backends.dp import frontier, hashstep
from ilpregions.backends.dp import order as scan_order
from ilpregions.backends.dp.plan import Plan, PlanningTimeout, make_plan
from ilpregions.backends.dp.run import DEFAULT_MEMORY_CAP, GIB, Stopped, run_plan, tune_malloc  # noqa: F401 (the CLI tunes its own process)
from ilpregions.backends.dp.weights import Columns, block_bounds, single_total
from ilpregions.core.combinatorics import binomial_prefix_sums, power_product
from ilpregions.core.errors import ParameterError, TooLargeError
from ilpregions.core.set_system import components, is_trivial
from ilpregions.core.results import EnumerationOutcome

__all__ = ["count", "evaluate", "plan_block", "run_plan", "Columns", "DEFAULT_MEMORY_CAP", "GIB"]


def plan_block(inst, comp: list[int], caps: list[int], order: str | tuple[int, ...] = "auto",
               deadline: float | None = None) -> Plan:
    """The scan plan of a block: the cheapest by the width estimate, or a
    given axis order (a tuple of axes, slowest first) or order name."""
    coords = [inst.position_coords(p) for p in comp]
    fields = [inst.fields[p] for p in comp]
    if order == "auto":
        ranked = scan_order.choose(coords, fields, [caps[p] for p in comp])
        candidates = [(name, idx) for _, name, idx in ranked[:1]] or scan_order.candidate_orders(coords)[:1]
    else:
        wanted = order if isinstance(order, str) else "rows " + "".join(map(str, order))
        candidates = [(name, idx) for name, idx in scan_order.candidate_orders(coords, unique=False)
                      if name == wanted]
        if not candidates:
            raise ParameterError("order", f"scan order {order!r} is not a permutation of the {len(coords[0])} axes "
                             f"or a known order name")
    name, idx = candidates[0]
    axes = tuple(int(c) for c in name.split()[-1]) if name.split()[-1].isdigit() else ()
    return make_plan([fields[j] for j in idx], [comp[j] for j in idx], [caps[comp[j]] for j in idx],
                     inst.channels, axes, deadline=deadline, name=name)


def _block_key(inst, comp: list[int], caps: list[int]) -> tuple:
    """Blocks equal up to renaming pixels (e.g. translates) have equal counts."""
    local: dict[int, int] = {}
    fields = tuple(tuple(local.setdefault(x, len(local)) for x in inst.fields[p]) for p in comp)
    coords = tuple(tuple(a - b for a, b in zip(inst.position_coords(p), inst.position_coords(comp[0])))
                   for p in comp)
    return fields, coords, tuple(caps[p] for p in comp)


def evaluate(inst, groups_for_block, caps: list[int], *, time_limit: float | None = None,
             progress=None, memory_cap: int = DEFAULT_MEMORY_CAP, order="auto", runner=None,
             estimate: str = "auto"):
    """Run the DP on every block of ``inst``; per block, the exact group totals.

    ``groups_for_block(comp)`` returns the column groups (see :class:`Columns`)
    for a block; ``runner`` runs one block's plan (default :func:`run_plan`,
    in this process). ``estimate``: "auto" pilots wide blocks before the run
    and refuses one whose estimated peak passes ``memory_cap``
    (:mod:`ilpregions.backends.dp.estimate`), "always" pilots every block,
    "never" skips it. Returns ``(per_block_totals, complete, stats)``; on a time
    limit the last entry is the partial (lower-bound) totals of the block
    being scanned and later blocks are missing.
    """
    start = time.perf_counter()
    deadline = None if time_limit is None else start + time_limit
    runner = runner or run_plan
    stats: dict = {"peak_states": 1, "peak_memory_bytes": 0, "steps": 0, "blocks": 0,
                   "max_family": 1, "max_frontier_pixels": 0, "scan_axes": []}
    frontier.check_window(inst)   # before splitting a big layer into blocks
    comps = components(inst)
    multi = [c for c in comps if len(c) > 1]
    for comp in multi:   # before any per-block work that grows with the block (its key, its bounds)
        frontier.check_block(inst, comp, memory_cap)
    if progress is not None:
        progress.set_total(sum(len(c) for c in multi))
    results, cache, singles = [], {}, {}
    for comp in comps:
        if len(comp) == 1:
            # a lone position's totals depend only on its cap and field size: a million of them
            # (disjoint fields) cost one computation per distinct pair, not one each
            cap = caps[comp[0]]
            single = (cap, len(inst.fields[comp[0]]))
            if single not in singles:
                singles[single] = [single_total(kind, x, cap) for kind, x, _ in groups_for_block(comp)]
            results.append(singles[single])
            continue
        groups = groups_for_block(comp)
        key = _block_key(inst, comp, caps)
        if key in cache:
            results.append(cache[key])
            if progress is not None:
                progress.update(len(comp))
            continue
        try:
            plan = plan_block(inst, comp, caps, order, deadline=deadline)
        except PlanningTimeout:
            # Only t = 0 is known feasible on this block: each total is 1.
            results.append([1] * len(groups))
            return results, False, stats
        stats["blocks"] += 1
        stats["max_family"] = max(stats["max_family"], plan.max_width)
        stats["max_frontier_pixels"] = max(stats["max_frontier_pixels"], plan.frontier)
        if plan.name not in stats["scan_axes"]:
            stats["scan_axes"].append(plan.name)
        cols = Columns(groups, max(caps[p] for p in comp))
        _check_estimate(inst, comp, caps, plan, cols, stats, deadline=deadline, memory_cap=memory_cap,
                        mode=estimate, refuse=runner is run_plan and deadline is None)
        try:
            totals = runner(plan, cols, deadline=deadline, progress=progress, memory_cap=memory_cap,
                            stats=stats)
        except Stopped as stop:
            results.append(stop.totals)
            return results, False, stats
        results.append(totals)
        cache[key] = totals
    return results, True, stats


def _check_estimate(inst, comp, caps, plan, cols, stats, *, deadline, memory_cap, mode, refuse) -> None:
    """Pilot a wide block (``mode`` "auto") or any block ("always"); record the
    estimate in ``stats`` and, in a single-process run, refuse a block whose
    estimated peak memory passes the cap, before the run. (Under a time limit
    it only reports: the run then stops with an honest partial answer, or at
    the step that would pass the cap.)"""
    wide = pilot.worth_estimating(plan, inst.channels)
    if mode == "never" or (mode == "auto" and not wide):
        return
    # The main run of a wide block compiles its steps anyway; its pilots then
    # pay no extra loading and run several times faster compiled.
    kernel = "compiled" if wide and hashstep.available() else "numpy"
    top = max(caps[p] for p in comp)

    def run_sub(sub_plan, stop, cap):
        sub_stats: dict = {}
        try:
            run_plan(sub_plan, Columns([("unit", 0, 2)], top), deadline=stop, memory_cap=cap, stats=sub_stats,
                     kernel=kernel)
        except Stopped:
            return None
        return sub_stats["peak_states"]

    def plan_sub(sub, stop):
        try:
            return plan_block(inst, sub, caps, plan.name, deadline=stop)
        except PlanningTimeout as error:
            raise TimeoutError from error

    found = pilot.estimate_block(inst, comp, plan, cols, plan_sub, run_sub, deadline=deadline,
                                 memory_cap=memory_cap)
    if found is None:
        return
    stats["estimated_peak_states"] = max(stats.get("estimated_peak_states", 0), found.states)
    stats["estimated_peak_memory_bytes"] = max(stats.get("estimated_peak_memory_bytes", 0), found.memory_bytes)
    stats["estimate_seconds"] = stats.get("estimate_seconds", 0.0) + found.pilot_seconds
    if refuse and found.memory_bytes > memory_cap:
        raise TooLargeError(f"dp: a block of {len(comp)} positions is too large for the memory cap of "
                            f"{pilot.size_text(memory_cap)}; {found.text()}. Raise the memory cap, spread it over "
                            f"about {found.workers(memory_cap)} Dask workers of this cap, or use `bounds()`")


def estimate(inst, *, order="auto", memory_cap: int = DEFAULT_MEMORY_CAP) -> dict:
    """The pilot estimate of every multi-position block, without the run:
    ``{"estimated_peak_states", "estimated_peak_memory_bytes", "estimate_seconds"}``
    (the largest over blocks; empty when no block had a trend to extrapolate)."""
    caps, stats, seen = list(inst.caps), {}, set()
    for comp in components(inst):
        key = _block_key(inst, comp, caps) if len(comp) > 1 else None
        if key is None or key in seen:
            continue
        seen.add(key)
        plan = plan_block(inst, comp, caps, order)
        bounds = block_bounds([inst.filters], [caps[p] for p in comp], inst.coverage(comp))
        cols = Columns([("binom", inst.filters, bounds[inst.filters]), ("unit", 0, bounds["unit"])],
                       max(caps[p] for p in comp))
        _check_estimate(inst, comp, caps, plan, cols, stats, deadline=None, memory_cap=memory_cap,
                        mode="always", refuse=False)
    return stats


def _disjoint_count(caps: list[int], d1: int, start: float) -> EnumerationOutcome:
    """No two fields overlap: K_N is the box Π [0, cap_p], R_N = Π_p Σ_{t ≤ cap_p} C(d1, t),
    grouped by cap (a million positions: one power per distinct cap, no blocks, no states)."""
    from collections import Counter

    by_cap = Counter(caps)
    regions = power_product([(binomial_prefix_sums(d1, c)[c], k) for c, k in by_cap.items()])
    t_vectors = power_product([(c + 1, k) for c, k in by_cap.items()])
    details = {"peak_states": 1, "peak_memory_bytes": 0, "dp_steps": 0, "dp_blocks": 0, "max_family": 1,
               "max_frontier_pixels": 0, "scan_axes": [], "compiled_steps": 0,
               "dp_seconds": round(time.perf_counter() - start, 6)}
    return EnumerationOutcome(regions=regions, t_vectors=t_vectors, complete=True, details=details)


def _product_of_repeats(values) -> int:
    """Π values, each distinct value raised to its multiplicity (many blocks share a count)."""
    from collections import Counter

    return power_product(Counter(values).items())


def count(inst, *, time_limit: float | None = None, progress=None,
          memory_cap: int = DEFAULT_MEMORY_CAP, order="auto", workers: int | None = None,
          scheduler: str | None = None, estimate: str = "auto") -> EnumerationOutcome:
    """Count R_N exactly by the frontier DP.

    Parameters
    ----------
    inst : Theorem1Instance
    time_limit : float, optional
        Seconds; on expiry ``complete=False`` and ``regions`` is the exact
        count of the processed sub-problem (a lower bound, module docstring).
    memory_cap : int
        Bytes; a step whose arrays would exceed it raises
        :class:`~ilpregions.core.errors.TooLargeError` before allocating.
    order : "auto", a tuple of axes or an order name
        Scan priority (slowest axis first), or a name such as "diagonal+ 01";
        "auto" picks the narrowest by the estimate of
        :mod:`ilpregions.backends.dp.order`.
    estimate : "auto", "always" or "never"
        Before the run, estimate the peak states of wide blocks by pilots on
        narrow sub-blocks and refuse (``TooLargeError``, with the estimate and
        the Dask workers of this cap it would need) when the estimated peak
        memory passes ``memory_cap`` (:mod:`ilpregions.backends.dp.estimate`).
    workers, scheduler : optional
        Run the stages on Dask: ``workers`` local worker processes, or the
        cluster at ``scheduler`` ("tcp://host:port"). States are partitioned
        by a hash of their key, each partition held under ``memory_cap``
        (:mod:`ilpregions.backends.dp.distributed`). Default: this process.
    """
    start = time.perf_counter()
    caps = list(inst.caps)
    d1 = inst.filters
    if is_trivial(inst):
        return _disjoint_count(caps, d1, start)

    def groups(comp):
        bounds = block_bounds([d1], [caps[p] for p in comp], inst.coverage(comp))
        return [("binom", d1, bounds[d1]), ("unit", 0, bounds["unit"])]

    runner, cluster = None, None
    if workers is not None or scheduler is not None:
        from ilpregions.backends.dp import distributed

        began = time.perf_counter()
        cluster = distributed.connect(workers=workers, scheduler=scheduler, timeout=time_limit)
        runner = cluster.runner
        if time_limit is not None:  # the wait for the cluster counts against the limit
            time_limit = max(0.0, time_limit - (time.perf_counter() - began))
    try:
        per_block, complete, stats = evaluate(inst, groups, caps, time_limit=time_limit, progress=progress,
                                              memory_cap=memory_cap, order=order, runner=runner,
                                              estimate=estimate)
    finally:
        if cluster is not None:
            cluster.close()
    regions = _product_of_repeats(v[0] for v in per_block)
    t_vectors = _product_of_repeats(v[1] for v in per_block) if complete else None
    details = {"peak_states": stats["peak_states"], "peak_memory_bytes": stats["peak_memory_bytes"],
               "dp_steps": stats["steps"], "dp_blocks": stats["blocks"],
               "max_family": stats["max_family"], "max_frontier_pixels": stats["max_frontier_pixels"],
               "scan_axes": stats["scan_axes"], "compiled_steps": stats.get("compiled_steps", 0),
               "dp_seconds": round(time.perf_counter() - start, 6)}
    for key in ("estimated_peak_states", "estimated_peak_memory_bytes", "estimate_seconds"):
        if key in stats:
            details[key] = round(stats[key], 3) if key == "estimate_seconds" else stats[key]
    if cluster is not None:
        details.update(cluster.details(stats))
    if not complete:
        details["lower_bound"] = ("exact count of the positions processed before the time limit "
                                  "(t = 0 elsewhere); K_N is down-closed, so it is <= R_N")
    return EnumerationOutcome(regions=regions, t_vectors=t_vectors, complete=complete, details=details)

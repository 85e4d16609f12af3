"""CP-SAT backend: the union constraints of K_N as a CP-SAT model, every
solution enumerated, Π_p C(d1, t_p) summed exactly in a solution callback.

Why the model is smaller than "one variable per position"
----------------------------------------------------------
CP-SAT enumerates about 20–25k solutions a second whatever the callback does
(docs/peers.md#cp-sat-enumeration), so speed has to come from enumerating fewer solutions. We
*project out* a set P of positions whose fields are pairwise disjoint:

* K_N is down-closed, so the projection of K_N onto the other positions R
  is {t_R : (t_R, 0) ∈ K_N}, i.e. exactly the union rows over subsets of R.
  CP-SAT enumerates that model.
* For each enumerated t_R, the feasible t_P form the set cut out by the
  residual rows Σ_{J∩P} t_p ≤ g(J) − t(J∩R). The callback sums
  Π_{p∈P} C(d1, t_p) over it with one vectorised test of the (small,
  precomputed) t_P-box, memoised on the residual vector, which repeats a lot.

Every t ∈ K_N is counted once: t_R once per solution (duplicates, which
CP-SAT can return with several workers or with presolve, are detected and
skipped), and t_P once within the box. Components of the overlap graph are
independent and are solved as separate models whose counts multiply.
"""

from __future__ import annotations


import numpy as np

from ilpregions.backends._cpsat_stop import Stop, enumeration_parameters, solve_enumeration
from ilpregions.backends._blocks import binary_block_check, block_instance, count_by_blocks, refuse_row_model
from ilpregions.core.certificates import timed_certificate
from ilpregions.core.combinatorics import binomial_row
from ilpregions.core.errors import ParameterError, SolverError
from ilpregions.core.flow_network import FlowNetwork
from ilpregions.core.set_system import RowsTimeUp, disjoint_positions, essential_unions
from ilpregions.core.results import EnumerationOutcome, FeasibilityResult
from ilpregions.core.sizes import check_binary_model

#: Model formats :func:`write_model` writes (task "export").
EXPORT_FORMATS = ("cp",)

#: The t_P box is enumerated explicitly; keep it (and box × rows) small.
MAX_PROJECTED_BOX = 20_000
MAX_PROJECTED_WORK = 4_000_000


def build_model(inst, positions, rows):
    """The CP-SAT model of the union rows over ``positions``.

    Returns ``(model, variables)`` with ``variables[p]`` the t_p variable,
    bounded by min(d1, |S_p|). Singleton rows are those bounds.
    """
    from ortools.sat.python import cp_model

    model = cp_model.CpModel()
    variables = {p: model.new_int_var(0, inst.caps[p], f"t_{p}") for p in positions}
    for subset, union in rows:
        if len(subset) >= 2 and union < sum(inst.caps[p] for p in subset):
            model.add(sum(variables[p] for p in subset) <= union)
    return model, variables


class _ProjectedSum:
    """Σ over feasible t_P of Π_{p∈P} C(d1, t_p), given t_R, memoised."""

    def __init__(self, inst, projected, kept, rows):
        self.projected = projected
        caps = [inst.caps[p] for p in projected]
        grids = np.meshgrid(*[np.arange(c + 1) for c in caps], indexing="ij")
        box = np.stack([g.ravel() for g in grids], axis=1) if projected else np.zeros((1, 0), dtype=np.int64)
        binom = binomial_row(inst.filters, max(caps, default=0))
        weights = [1] * len(box)
        for j in range(len(projected)):
            column = box[:, j].tolist()
            weights = [w * binom[v] for w, v in zip(weights, column)]
        index_p = {p: j for j, p in enumerate(projected)}
        index_r = {q: j for j, q in enumerate(kept)}
        coupling = [(s, u) for s, u in rows if len(s) >= 2 and any(p in index_p for p in s)]
        m_p = np.zeros((len(coupling), len(projected)), dtype=np.int64)
        self.a_r = np.zeros((len(coupling), len(kept)), dtype=np.int64)
        self.g = np.array([u for _, u in coupling], dtype=np.int64)
        for i, (subset, _) in enumerate(coupling):
            for p in subset:
                if p in index_p:
                    m_p[i, index_p[p]] = 1
                else:
                    self.a_r[i, index_r[p]] = 1
        self.load = box @ m_p.T                      # box points × coupling rows
        self.ceiling = self.load.max(axis=0) if len(coupling) else np.zeros(0, dtype=np.int64)
        # Exact sums: int64 when the grand total cannot overflow, Python ints otherwise.
        total = sum(weights)
        self.weights = np.array(weights, dtype=np.int64 if total < 2 ** 62 else object)
        self.cache: dict[bytes, tuple[int, int]] = {}

    def __call__(self, t_kept: np.ndarray) -> tuple[int, int]:
        residual = np.minimum(self.g - self.a_r @ t_kept, self.ceiling)
        key = residual.tobytes()
        hit = self.cache.get(key)
        if hit is None:
            feasible = (self.load <= residual).all(axis=1)
            hit = (int(self.weights[feasible].sum()), int(feasible.sum()))
            self.cache[key] = hit
        return hit


class Accumulator:
    """Adds up Π C(d1, t_q) × (projected sum) once per distinct solution.

    CP-SAT may hand the same solution over twice (several workers, or presolve
    in some versions), so solutions are deduplicated here, not trusted.
    """

    def __init__(self, binom, inner, progress=None, memory_cap: int | None = None, entry_bytes: int = 0):
        self.binom = binom
        self.inner = inner
        self.progress = progress
        # the remembered solutions (and the projected sums' memo) are what grows with the run
        self.memory_cap, self.entry_bytes = memory_cap, entry_bytes
        self.total = 0
        self.t_vectors = 0
        self.solutions = 0
        self.duplicates = 0
        self.seen: set[tuple[int, ...]] = set()

    def add(self, values: tuple[int, ...]) -> bool:
        """Account for one solution; False (and nothing added) for a repeat."""
        if values in self.seen:
            self.duplicates += 1
            return False
        self.seen.add(values)
        self.solutions += 1
        weight = 1
        for v in values:
            weight *= self.binom[v]
        inner_sum, inner_count = self.inner(np.array(values, dtype=np.int64))
        self.total += weight * inner_sum
        self.t_vectors += inner_count
        if self.progress is not None and self.solutions % 512 == 0:
            self.progress.update(512)
        return True

    @property
    def full(self) -> bool:
        """Whether the remembered solutions reached the memory cap (estimated per entry)."""
        return self.memory_cap is not None and self.solutions * self.entry_bytes >= self.memory_cap


#: Bytes per remembered solution besides 8 per kept position and 8 per coupling row of the memo key:
#: a set slot, tuple and bytes headers, the memo's value tuple and dict slot. Measured with tracemalloc
#: on 5x4x1, 2x2, d1 = 3 (8 kept positions, 686 coupling rows): 4,470 bytes per solution, where this
#: estimate gives 5,952.
SOLUTION_BYTES = 400


def _choose_projection(inst, comp, project: bool) -> list[int]:
    if not project:
        return []
    chosen, box = [], 1
    for p in disjoint_positions(inst, comp):
        if box * (inst.caps[p] + 1) > MAX_PROJECTED_BOX:
            continue
        chosen.append(p)
        box *= inst.caps[p] + 1
    if len(chosen) == len(comp):  # keep at least one variable for CP-SAT
        chosen = chosen[:-1]
    return chosen


def _rows_and_projection(inst, comp, project: bool, deadline):
    """The projected positions, the kept ones, the kept union rows and the projected sum."""
    projected = _choose_projection(inst, comp, project)
    kept = [p for p in comp if p not in set(projected)]
    rows_all = essential_unions(inst, comp, deadline=deadline) if projected else None
    rows_kept = essential_unions(inst, kept, deadline=deadline)
    inner = _ProjectedSum(inst, projected, kept, rows_all or [])
    if len(inner.load) * max(1, len(inner.g)) > MAX_PROJECTED_WORK:
        projected, kept = [], list(comp)
        rows_kept = essential_unions(inst, kept, deadline=deadline)
        inner = _ProjectedSum(inst, [], kept, [])
    return projected, kept, rows_kept, inner


def count_component(inst, comp, *, time_limit=None, progress=None, workers=1,
                    presolve=False, project=True, memory_cap: int | None = None) -> EnumerationOutcome:
    """Count one connected block of positions with CP-SAT.

    ``time_limit`` counts from the call: the import and the model building
    (the essential unions) use it up too, and the solve gets what is left.
    ``memory_cap`` (bytes): the search stops, with the partial sum so far (a
    lower bound), once the solutions it remembers would pass it.
    """
    refuse_row_model(len(comp), "cpsat" if project else "cpsat-rows")   # before the overlap graph
    stop = Stop(time_limit)
    from ortools.sat.python import cp_model

    try:
        projected, kept, rows_kept, inner = _rows_and_projection(inst, comp, project, stop.deadline)
    except RowsTimeUp:   # t = 0 (weight 1) is all that is known
        return EnumerationOutcome(regions=1, t_vectors=None, complete=False, solutions=0,
                                  details={"duplicates_skipped": 0, "projected_positions": 0, "model_rows": 0})
    model, variables = build_model(inst, kept, rows_kept)
    ordered = [variables[p] for p in kept]
    binom = binomial_row(inst.filters, max(inst.caps[p] for p in kept))

    # per solution: its tuple (8 bytes a kept position) and, at worst, one memo key (8 a coupling row)
    accumulator = Accumulator(binom, inner, progress, memory_cap, SOLUTION_BYTES + 8 * (len(kept) + len(inner.g)))

    class Aggregate(cp_model.CpSolverSolutionCallback):
        def on_solution_callback(self):
            stop.check(self)
            if not stop.stopped:
                accumulator.add(tuple(self.value(v) for v in ordered))
                if accumulator.full:
                    stop.stopped = True
                    self.stop_search()

    callback = Aggregate()
    callback.solver = cp_model.CpSolver()
    enumeration_parameters(callback.solver, stop.left(), workers, presolve)
    complete = stop.left() != 0 and solve_enumeration(model, callback, stop)
    # t = 0 is always in K_N (weight 1): a stopped block keeps at least that.
    return EnumerationOutcome(
        regions=accumulator.total if complete else max(accumulator.total, 1),
        t_vectors=accumulator.t_vectors, complete=complete,
        solutions=accumulator.solutions,
        details={"duplicates_skipped": accumulator.duplicates, "projected_positions": len(projected),
                 "model_rows": sum(1 for s, u in rows_kept if len(s) >= 2),
                 **({"stopped_by": "memory_cap"} if accumulator.full and not complete else {})})


def count(inst, *, time_limit: float | None = None, progress=None, workers: int = 1,
          presolve: bool = False, project: bool = True, memory_cap: int | None = None) -> EnumerationOutcome:
    """Count R_N with CP-SAT, one model per connected block of positions.

    ``memory_cap`` (bytes) bounds the solutions remembered to drop repeats:
    past it the count stops with a partial sum (``details["stopped_by"]``).

    ``workers`` must stay 1: with 2 workers, OR-Tools 9.15 enumerated 680 of
    the 1,291 solutions of a 3×3×2 instance, repeated one, and still reported
    the enumeration complete (OPTIMAL). A wrong count is worse than a slow one.
    """
    if workers != 1:
        raise ParameterError("workers", f"{workers}: cpsat's solution enumeration is only complete with "
                             f"one worker (several workers lose and repeat solutions)")
    def block(comp, remaining):
        sub, comp = block_instance(inst, comp)
        return count_component(sub, comp, time_limit=remaining, progress=progress,
                               workers=workers, presolve=presolve, project=project, memory_cap=memory_cap)

    where = "cpsat" if project else "cpsat-rows"
    regions, t_vectors, complete, outcomes = count_by_blocks(
        inst, block, time_limit, check_block=lambda size, at_least: refuse_row_model(size, where, at_least))
    return EnumerationOutcome(
        regions=regions, t_vectors=t_vectors, complete=complete,
        solutions=sum(o.solutions or 0 for o in outcomes),
        details={"duplicates_skipped": sum(o.details["duplicates_skipped"] for o in outcomes),
                 "model_rows": sum(o.details["model_rows"] for o in outcomes),
                 **({"stopped_by": "memory_cap"} if any(o.details.get("stopped_by") for o in outcomes) else {})})


# ----------------------------------------------------------------------------
# Feasibility, export, and the binary neuron-selection count
# ----------------------------------------------------------------------------

def max_flow(network: FlowNetwork) -> dict[tuple[int, int], int]:
    """An integral maximum flow of the feasibility network, solved by CP-SAT."""
    from ortools.sat.python import cp_model

    if not network.arcs:
        return {}
    model = cp_model.CpModel()
    y = [model.new_int_var(0, network.channels, f"y_{p}_{x}") for p, x in network.arcs]
    for p, idx in network.by_position.items():
        model.add(sum(y[i] for i in idx) <= network.demand[p])
    for x, idx in network.by_pixel.items():
        model.add(sum(y[i] for i in idx) <= network.channels)
    model.maximize(sum(y))
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = 1
    status = solver.solve(model)
    if status != cp_model.OPTIMAL:
        raise SolverError(f"cpsat: unexpected status {solver.status_name(status)}")
    return network.units([solver.value(v) for v in y], "cpsat")


def check(inst, t) -> FeasibilityResult:
    """Is t ∈ K_N? :class:`~ilpregions.core.flow_network.FlowNetwork` as a CP-SAT
    optimisation; the certificate is built from its optimal flow."""
    return timed_certificate(inst, t, "cpsat", max_flow)


def write_model(inst, positions, rows, fmt: str, path: str) -> int:
    """Write :func:`build_model` over ``positions`` and ``rows`` with the
    objective max Σ t_p as a text ``CpModelProto`` (task "export", format
    "cp"); returns the number of variables."""
    model, variables = build_model(inst, positions, rows)
    model.maximize(sum(variables[p] for p in positions))
    with open(path, "w") as handle:
        handle.write(str(model.proto))
    return len(positions)


def count_binary(inst, *, time_limit: float | None = None, progress=None,
                 memory_cap: int | None = None) -> EnumerationOutcome:
    """R_N as the plain number of solutions of the binary neuron-selection
    model (x_{p,k} ∈ {0,1}, Σ_{p∈J} Σ_k x_{p,k} ≤ g(J) on essential rows):
    each t ∈ K_N has Π_p C(d1, t_p) neuron sets. A pure counter, no weights;
    it enumerates R_N solutions, so it suits small counts only. Each block's
    size is checked by arithmetic before it is built (``memory_cap``: bytes)."""
    def block(comp, remaining):
        check_binary_model(len(comp), inst.filters, memory_cap, "cpsat-binary")
        stop = Stop(remaining)
        sub, comp = block_instance(inst, comp)
        from ortools.sat.python import cp_model   # its import (seconds under load) counts against the limit
        try:
            rows = essential_unions(sub, comp, deadline=stop.deadline)
        except RowsTimeUp:   # the empty neuron set is all that is known
            return EnumerationOutcome(regions=1, t_vectors=None, solutions=0, complete=False)
        model = cp_model.CpModel()
        x = {(p, k): model.new_bool_var(f"x_{p}_{k}") for p in comp for k in range(inst.filters)}
        for subset, union in rows:
            if union < len(subset) * inst.filters:
                model.add(sum(x[(p, k)] for p in subset for k in range(inst.filters)) <= union)

        class Counter(cp_model.CpSolverSolutionCallback):
            def __init__(self):
                super().__init__()
                self.n = 0

            def on_solution_callback(self):
                stop.check(self)
                if stop.stopped:
                    return
                self.n += 1
                if progress is not None and self.n % 4096 == 0:
                    progress.update(4096)

        callback = Counter()
        callback.solver = cp_model.CpSolver()
        enumeration_parameters(callback.solver, stop.left(), 1, False)
        complete = stop.left() != 0 and solve_enumeration(model, callback, stop)
        return EnumerationOutcome(regions=callback.n, t_vectors=None, solutions=callback.n, complete=complete)

    regions, _, complete, outcomes = count_by_blocks(inst, block, time_limit,
                                                     check_block=binary_block_check(inst, memory_cap, "cpsat-binary"))
    counted = sum(o.solutions for o in outcomes)
    return EnumerationOutcome(regions=regions, t_vectors=None, complete=complete, solutions=counted,
                              details={"model": "binary neuron selection"})

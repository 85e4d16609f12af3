# The dp engine as landed before issue 15 (main at 97c5c3e), kept verbatim as the
# in-run baseline of bench_dp.py (only its plan import points at the copy beside it).
"""Counting backend ``dp``: frontier dynamic programming (docs/math.md#frontier-dp).

The positions of each connected block are scanned in an axis order chosen to
keep the visible family small (:mod:`ilpregions.backends.dp.plan`). The state after a
prefix of positions is the rank function f of the "can stay unused"
polymatroid on the frontier pixels, stored only on the sets the future can
see and clipped where its value can no longer bind; channels collapse into
pixels (a new pixel enters with ``f += d0``). The step for demand t is
``f'(A) = min(f(A), f(A ∪ W) − t)``, feasible iff ``t ≤ f(W)``.

Vectorisation. All states of a stage are one integer array (states × family
columns); a step is a few gathers per value of t, and equal rows merge by
packing each row into 64-bit keys and sorting. Weights are kept as residues
modulo primes below 2^31 (one int64 column per prime and per evaluation
point), enough primes that their product exceeds an a-priori bound
(Π_p Σ_{k≤cap_p} C(d1, k)); the exact integer comes back by the Chinese
remainder theorem. Every operation is exact.

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
from math import comb

import numpy as np

from ilpregions.core.combinatorics import product
from baseline_dp_plan import Plan, PlanningTimeout, make_plan, scan_orders
from ilpregions.core.errors import TooLargeError
from ilpregions.core.set_system import components
from ilpregions.core.results import EnumerationOutcome

GIB = 2 ** 30
DEFAULT_MEMORY_CAP = 8 * GIB
_PRIME_BITS = 31


class _Stopped(Exception):
    """Raised inside a block when the deadline passes; carries the partial weights."""

    def __init__(self, totals: list[int]):
        super().__init__("time limit")
        self.totals = totals


# ----------------------------------------------------------------------------
# Exact arithmetic: primes and the Chinese remainder theorem
# ----------------------------------------------------------------------------

_PRIMES: list[int] = []


def _is_prime(n: int) -> bool:
    if n < 2:
        return False
    for p in (2, 3, 5, 7, 11, 13):
        if n % p == 0:
            return n == p
    d, s = n - 1, 0
    while d % 2 == 0:
        d //= 2
        s += 1
    for a in (2, 3, 5, 7, 11):  # deterministic below 2.1e12
        x = pow(a, d, n)
        if x in (1, n - 1):
            continue
        for _ in range(s - 1):
            x = x * x % n
            if x == n - 1:
                break
        else:
            return False
    return True


def primes(k: int) -> list[int]:
    """The k largest primes below 2^31 (their products fit int64 exactly).

    >>> primes(2)
    [2147483647, 2147483629]
    """
    candidate = _PRIMES[-1] - 2 if _PRIMES else (1 << _PRIME_BITS) - 1
    while len(_PRIMES) < k:
        if _is_prime(candidate):
            _PRIMES.append(candidate)
        candidate -= 2
    return _PRIMES[:k]


def primes_for(bound: int) -> list[int]:
    """Enough primes that their product exceeds ``bound`` (≥ 0)."""
    k = max(1, (bound.bit_length() + 1) // (_PRIME_BITS - 1) + 1)
    ps = primes(k)
    while product(ps) <= bound:
        k += 1
        ps = primes(k)
    return ps


def crt(residues: list[int], moduli: list[int]) -> int:
    """The integer in [0, Π moduli) with the given residues (Garner's scheme).

    >>> crt([2, 3], [3, 5])
    8
    """
    x, m = 0, 1
    for r, p in zip(residues, moduli):
        # x + m * k ≡ r (mod p)
        k = ((r - x) % p) * pow(m % p, -1, p) % p
        x += m * k
        m *= p
    return x


# ----------------------------------------------------------------------------
# Weight columns
# ----------------------------------------------------------------------------

class _Columns:
    """Weight columns, one group per evaluation point d1 = x (weight C(x, t))
    or for the unit weight (weight 1, which counts t-vectors).

    Two exact representations, picked by cost:

    * residues: one int64 column per prime of the group's bound; numpy does
      the arithmetic, CRT recovers the integer (fast while the bound is a few
      thousand bits);
    * objects: one column of Python ints per group (``dtype=object``); wins
      when the numbers are huge and the states few (long 1-D layers).
    """

    #: Above this many residue columns the Python-int columns are cheaper.
    MAX_RESIDUE_COLUMNS = 96

    def __init__(self, groups: list[tuple[str, int, int]], top_t: int, mode: str = "auto"):
        # groups: (kind, x, bound) with kind "binom" or "unit".
        def weight(kind, x, t):
            return comb(x, t) if kind == "binom" else 1

        if mode == "auto":
            need = sum(bound.bit_length() // (_PRIME_BITS - 1) + 1 for _, _, bound in groups)
            mode = "residues" if need <= self.MAX_RESIDUE_COLUMNS else "objects"
        self.mode = mode
        self.groups = []
        if mode == "objects":
            self.mods = None
            self.width = len(groups)
            self.groups = [(kind, x, k, k + 1) for k, (kind, x, _) in enumerate(groups)]
            self.mult = []
            for t in range(top_t + 1):
                row = np.empty(len(groups), dtype=object)
                row[:] = [weight(kind, x, t) for kind, x, _ in groups]
                self.mult.append(row)
            return
        mods, mults = [], [[] for _ in range(top_t + 1)]
        for kind, x, bound in groups:
            ps = primes_for(bound)
            lo = len(mods)
            mods.extend(ps)
            self.groups.append((kind, x, lo, len(mods)))
            for t in range(top_t + 1):
                value = weight(kind, x, t)
                mults[t].extend(value % p for p in ps)
        self.mods = np.array(mods, dtype=np.int64)
        self.mult = [np.array(row, dtype=np.int64) for row in mults]
        self.width = len(mods)

    def ones(self, n: int) -> np.ndarray:
        if self.mods is None:
            out = np.empty((n, self.width), dtype=object)
            out[:] = 1
            return out
        return np.ones((n, self.width), dtype=np.int64)

    def scale(self, weights: np.ndarray, t: int) -> np.ndarray:
        """weights × C(x, t) per column (reduced when residues)."""
        if self.mods is None:
            return weights * self.mult[t]
        return weights * self.mult[t] % self.mods

    def reduce(self, weights: np.ndarray) -> np.ndarray:
        if self.mods is None:
            return weights
        weights %= self.mods
        return weights

    def totals(self, weights: np.ndarray) -> list[int]:
        """Exact integers, one per group, from all states' weights."""
        summed = self.reduce(np.add.reduce(weights, axis=0))
        if self.mods is None:
            return [int(v) for v in summed]
        out = []
        residues = [int(v) for v in summed]
        mods = self.mods.tolist()
        for _, _, lo, hi in self.groups:
            out.append(crt(residues[lo:hi], mods[lo:hi]))
        return out

    @property
    def bytes_per_weight(self) -> int:
        return 8 if self.mods is not None else 64


# ----------------------------------------------------------------------------
# The DP over one block
# ----------------------------------------------------------------------------

def _pack_keys(rows: np.ndarray) -> np.ndarray:
    """Exact sort keys for rows of small non-negative ints: a 1-D array
    (int64 or a void view of several int64 words)."""
    n, m = rows.shape
    if m == 0:
        return np.zeros(n, dtype=np.int64)
    top = int(rows.max()) if n else 0
    bits = max(1, top.bit_length())
    per_word = max(1, 63 // bits)
    words = []
    for lo in range(0, m, per_word):
        chunk = rows[:, lo:lo + per_word].astype(np.int64)
        shifts = np.arange(chunk.shape[1], dtype=np.int64) * bits
        words.append((chunk << shifts).sum(axis=1))
    if len(words) == 1:
        return words[0]
    stacked = np.ascontiguousarray(np.stack(words, axis=1))
    return stacked.view(np.dtype((np.void, stacked.dtype.itemsize * stacked.shape[1]))).ravel()


_HASH_MULTIPLIERS = np.random.default_rng(20200712).integers(1, 2 ** 63, size=4096, dtype=np.uint64) | np.uint64(1)


def _row_hash(words: np.ndarray) -> np.ndarray:
    """A 64-bit hash of each row of 64-bit words (collisions are checked)."""
    n, w = words.shape
    with np.errstate(over="ignore"):
        h = words @ _HASH_MULTIPLIERS[:w] if w <= len(_HASH_MULTIPLIERS) else words.sum(axis=1)
        h ^= h >> np.uint64(31)
        h *= np.uint64(0xBF58476D1CE4E5B9)
        h ^= h >> np.uint64(29)
    return h


def _runs_equal(ordered: np.ndarray, same: np.ndarray, chunk: int = 1 << 16) -> bool:
    """True when every row equals its predecessor wherever ``same`` says the
    hashes are equal (chunked, to avoid copying the whole array)."""
    for lo in range(0, len(same), chunk):
        hi = min(len(same), lo + chunk)
        flags = same[lo:hi]
        if flags.any():
            equal = (ordered[lo + 1:hi + 1] == ordered[lo:hi]).all(axis=1)
            if not equal[flags].all():
                return False
    return True


def _merge(rows: np.ndarray, weights: np.ndarray, cols: "_Columns") -> tuple[np.ndarray, np.ndarray]:
    """Merge equal rows, adding their weights (mod each column's prime).

    Rows are grouped by a 64-bit hash of their bytes, then every row is
    compared with its group's first row; only if some group mixes different
    rows (a hash collision) do we fall back to an exact sort of the bytes.
    """
    n = len(rows)
    if n <= 1:
        return rows, weights
    if rows.shape[1] == 0:
        return rows[:1], cols.reduce(np.add.reduce(weights, axis=0)[None, :])
    words = rows.view(np.uint64)
    h = _row_hash(words)
    perm = np.argsort(h)
    hs = h[perm]
    same = hs[1:] == hs[:-1]
    starts = np.concatenate(([0], np.flatnonzero(~same) + 1))
    ordered = words[perm]
    # Equal hashes must mean equal rows: compare each row with its
    # predecessor inside every run of equal hashes.
    if same.any() and not _runs_equal(ordered, same):
        void = np.ascontiguousarray(words).view(np.dtype((np.void, words.shape[1] * 8))).ravel()
        perm = np.argsort(void, kind="stable")
        vs = void[perm]
        starts = np.concatenate(([0], np.flatnonzero(vs[1:] != vs[:-1]) + 1))
        ordered = words[perm]
    merged_w = cols.reduce(np.add.reduceat(weights[perm], starts, axis=0))
    return ordered[starts].view(rows.dtype), merged_w


def _estimate_bytes(candidates: int, width: int, itemsize: int, weight_bytes: int) -> int:
    # candidate rows + their weights, then the merge: hashes, permutation,
    # group ids, two permuted copies of the row words, the permuted weights.
    return candidates * (3 * width * itemsize + 2 * weight_bytes + 32)


def _expand(states: np.ndarray, weights: np.ndarray, step, cols: "_Columns", memory_cap: int,
            stats: dict, label: str, track: bool = False):
    """All successors of all states for t = 0..cap.

    Returns ``(rows, weights, sources, ts)`` (the last two only with
    ``track``). ``min(min(f(A), f(A∪W) − t) + add, clip)`` is computed as
    ``min(K, J − t)`` with ``K = min(f(A) + add, clip)`` and ``J = f(A∪W) + add``
    taken once per state.
    """
    fw = states[:, step.window]
    perm = np.argsort(-fw.astype(np.int64), kind="stable")
    states, weights, fw = states[perm], weights[perm], fw[perm]
    neg = -fw.astype(np.int64)  # ascending
    counts = [int(np.searchsorted(neg, -t, side="right")) for t in range(step.cap + 1)]
    total = sum(counts)
    width = len(step.a_idx)  # padded by the plan: rows are whole 64-bit words
    dtype = states.dtype
    weight_bytes = cols.width * cols.bytes_per_weight
    held = states.nbytes + len(weights) * weight_bytes
    need = (_estimate_bytes(total, width, dtype.itemsize, weight_bytes)
            + len(states) * 2 * width * dtype.itemsize)
    if held + need > memory_cap:
        raise TooLargeError(
            f"dp: {label}: {total} candidate states × {width} frontier sets would need about "
            f"{_size(held + need)}, over the memory cap of {_size(memory_cap)} "
            f"(raise --memory-cap, or try the cpsat backend)")
    stats["peak_memory_bytes"] = max(stats.get("peak_memory_bytes", 0), held + need)
    keep = np.take(states, step.a_idx, axis=1)
    keep += step.add
    np.minimum(keep, step.clip, out=keep)
    joined = np.take(states, step.u_idx, axis=1)
    joined += step.add
    rows = np.empty((total, width), dtype=dtype)
    out_w = np.empty((total, cols.width), dtype=weights.dtype)
    sources = np.empty(total, dtype=np.intp) if track else None
    ts = np.empty(total, dtype=np.int64) if track else None
    at = 0
    for t, c in enumerate(counts):
        if c == 0:
            break
        block = rows[at:at + c]
        np.subtract(joined[:c], dtype.type(t), out=block)
        np.minimum(block, keep[:c], out=block)
        out_w[at:at + c] = weights[:c] if t == 0 else cols.scale(weights[:c], t)
        if track:
            sources[at:at + c] = perm[:c]
            ts[at:at + c] = t
        at += c
    return rows, out_w, sources, ts


def _size(nbytes: int) -> str:
    """A byte count for messages: GiB when large, else MiB/KiB/bytes."""
    for unit, scale in (("GiB", GIB), ("MiB", 2 ** 20), ("KiB", 2 ** 10)):
        if nbytes >= scale:
            return f"{nbytes / scale:.2f} {unit}"
    return f"{nbytes} bytes"


def _same_step(a, b) -> bool:
    return (a.window == b.window and a.cap == b.cap and np.array_equal(a.a_idx, b.a_idx)
            and np.array_equal(a.u_idx, b.u_idx) and np.array_equal(a.add, b.add)
            and np.array_equal(a.clip, b.clip))


#: A run of identical steps on a fixed state set is jumped over by
#: Cayley–Hamilton (module :mod:`ilpregions.backends.dp.linear`) when it has at least
#: this many steps and at most MAX_LINEAR_STATES states.
MIN_LINEAR_RUN = 64
MAX_LINEAR_STATES = 48


def _jump(states, weights, step, cols: "_Columns", r: int, stats: dict, memory_cap: int):
    """Apply the same step r times to a state set that the step maps onto
    itself: one integer matrix per weight group, raised to the r-th power."""
    from ilpregions.backends.dp.linear import power_apply

    rows, _, src, ts = _expand(states, cols.ones(len(states)), step, cols, memory_cap, stats, "jump",
                               track=True)
    both = _pack_keys(np.concatenate([states, rows]))
    position = {k: i for i, k in enumerate(both[:len(states)].tolist())}
    dst = [position[k] for k in both[len(states):].tolist()]
    out = np.empty_like(weights)
    n = len(states)
    for kind, x, lo, hi in cols.groups:
        matrix = [[0] * n for _ in range(n)]
        for d, s_, t in zip(dst, src.tolist(), ts.tolist()):
            matrix[d][s_] += comb(x, t) if kind == "binom" else 1
        if cols.mods is None:
            out[:, lo] = power_apply(matrix, [int(v) for v in weights[:, lo]], r)
            continue
        # Residues: every state's weight is below the group's bound, hence
        # below the product of its primes, so CRT recovers it exactly.
        mods = cols.mods[lo:hi].tolist()
        vector = [crt([int(v) for v in row], mods) for row in weights[:, lo:hi]]
        result = power_apply(matrix, vector, r)
        for col, p in enumerate(mods, start=lo):
            out[:, col] = [v % p for v in result]
    return out


def run_plan(plan: Plan, cols: _Columns, *, deadline: float | None = None, progress=None,
             memory_cap: int = DEFAULT_MEMORY_CAP, stats: dict | None = None,
             jump: bool = True) -> list[int]:
    """Run the DP along a plan; the exact per-group totals.

    Raises :class:`_Stopped` (with the totals at the stopping stage) when the
    deadline passes, and :class:`TooLargeError` before a step whose arrays
    would exceed ``memory_cap`` bytes. With ``jump``, long runs of identical
    steps on a self-mapped state set are applied as one matrix power.
    """
    stats = stats if stats is not None else {}
    states = plan.initial[None, :].copy()
    weights = cols.ones(1)
    steps = plan.steps
    number = 0
    while number < len(steps):
        step = steps[number]
        if deadline is not None and time.perf_counter() > deadline:
            raise _Stopped(cols.totals(weights))
        rows, cand_w, _, _ = _expand(states, weights, step, cols, memory_cap, stats,
                                     f"step {number + 1} of {len(steps)}")
        new_states, new_weights = _merge(rows, cand_w, cols)
        fixed = (jump and len(new_states) <= MAX_LINEAR_STATES and new_states.shape == states.shape
                 and np.array_equal(new_states, _merge(states, cols.ones(len(states)), cols)[0]))
        states, weights = new_states, new_weights
        stats["peak_states"] = max(stats.get("peak_states", 0), len(states))
        stats["steps"] = stats.get("steps", 0) + 1
        number += 1
        if progress is not None:
            progress.update(1)
        if fixed and number < len(steps) and _same_step(steps[number - 1], steps[number]):
            # The previous step mapped this state set onto itself; so does
            # every later step identical to it.
            run = 0
            while number + run < len(steps) and _same_step(step, steps[number + run]):
                run += 1
            if run >= MIN_LINEAR_RUN:
                weights = _jump(states, weights, step, cols, run, stats, memory_cap)
                stats["steps"] += run
                stats["jumped_steps"] = stats.get("jumped_steps", 0) + run
                number += run
                if progress is not None:
                    progress.update(run)
    return cols.totals(weights)


def plan_block(inst, comp: list[int], caps: list[int], order: str | tuple[int, ...] = "auto",
               deadline: float | None = None) -> Plan:
    """The cheapest scan plan of a block over all axis orders (or a given one)."""
    coords = [inst.position_coords(p) for p in comp]
    best = None
    for axes, idx in scan_orders(coords):
        if order != "auto" and tuple(order) != axes:
            continue
        plan = make_plan([inst.fields[comp[j]] for j in idx], [comp[j] for j in idx],
                         [caps[comp[j]] for j in idx], inst.channels, axes, deadline=deadline)
        if best is None or plan.cost < best.cost:
            best = plan
    if best is None:
        raise ValueError(f"scan order {order!r} is not a permutation of the {len(coords[0])} axes")
    return best


def _block_key(inst, comp: list[int], caps: list[int]) -> tuple:
    """Blocks equal up to renaming pixels (e.g. translates) have equal counts."""
    local: dict[int, int] = {}
    fields = tuple(tuple(local.setdefault(x, len(local)) for x in inst.fields[p]) for p in comp)
    coords = tuple(tuple(a - b for a, b in zip(inst.position_coords(p), inst.position_coords(comp[0])))
                   for p in comp)
    return fields, coords, tuple(caps[p] for p in comp)


def evaluate(inst, groups_for_block, caps: list[int], *, time_limit: float | None = None,
             progress=None, memory_cap: int = DEFAULT_MEMORY_CAP, order="auto"):
    """Run the DP on every block of ``inst``; per block, the exact group totals.

    ``groups_for_block(comp)`` returns the column groups (see :class:`_Columns`)
    for a block. Returns ``(per_block_totals, complete, stats)``; on a time
    limit the last entry is the partial (lower-bound) totals of the block
    being scanned and later blocks are missing.
    """
    start = time.perf_counter()
    deadline = None if time_limit is None else start + time_limit
    stats: dict = {"peak_states": 1, "peak_memory_bytes": 0, "steps": 0, "blocks": 0,
                   "max_family": 1, "max_frontier_pixels": 0, "scan_axes": []}
    comps = components(inst)
    multi = [c for c in comps if len(c) > 1]
    if progress is not None:
        progress.set_total(sum(len(c) for c in multi))
    results, cache = [], {}
    for comp in comps:
        groups = groups_for_block(comp)
        key = _block_key(inst, comp, caps) if len(comp) > 1 else None
        if key is not None and key in cache:
            results.append(cache[key])
            if progress is not None:
                progress.update(len(comp))
            continue
        if len(comp) == 1:
            cap = caps[comp[0]]
            results.append([sum(comb(x, k) for k in range(cap + 1)) if kind == "binom" else cap + 1
                            for kind, x, _ in groups])
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
        if "".join(map(str, plan.axes)) not in stats["scan_axes"]:
            stats["scan_axes"].append("".join(map(str, plan.axes)))
        cols = _Columns(groups, max(caps[p] for p in comp))
        try:
            totals = run_plan(plan, cols, deadline=deadline, progress=progress, memory_cap=memory_cap,
                              stats=stats)
        except _Stopped as stop:
            results.append(stop.totals)
            return results, False, stats
        results.append(totals)
        cache[key] = totals
    return results, True, stats


def count(inst, *, time_limit: float | None = None, progress=None,
          memory_cap: int = DEFAULT_MEMORY_CAP, order="auto") -> EnumerationOutcome:
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
    order : "auto" or a tuple of axes
        Scan priority (slowest axis first); "auto" picks the narrowest.
    """
    start = time.perf_counter()
    caps = list(inst.caps)
    d1 = inst.filters

    def groups(comp):
        bound = product(sum(comb(d1, k) for k in range(caps[p] + 1)) for p in comp)
        box = product(caps[p] + 1 for p in comp)
        return [("binom", d1, bound), ("unit", 0, box)]

    per_block, complete, stats = evaluate(inst, groups, caps, time_limit=time_limit,
                                          progress=progress, memory_cap=memory_cap, order=order)
    regions = product(v[0] for v in per_block)
    t_vectors = product(v[1] for v in per_block) if complete else None
    details = {"peak_states": stats["peak_states"], "peak_memory_bytes": stats["peak_memory_bytes"],
               "dp_steps": stats["steps"], "dp_blocks": stats["blocks"],
               "max_family": stats["max_family"], "max_frontier_pixels": stats["max_frontier_pixels"],
               "scan_axes": stats["scan_axes"], "dp_seconds": round(time.perf_counter() - start, 6)}
    if not complete:
        details["lower_bound"] = ("exact count of the positions processed before the time limit "
                                  "(t = 0 elsewhere); K_N is down-closed, so it is <= R_N")
    return EnumerationOutcome(regions=regions, t_vectors=t_vectors, complete=complete, details=details)

"""The frontier DP on a Dask cluster: the states of a stage, partitioned by key.

A large stage is held as P partitions on the workers; a state lives in
partition ``hash(row) mod P`` (the compiled kernel's row hash, the same in
every process). One step is a map and a shuffle:

* each partition expands its states with the compiled kernel (merging equal
  successors inside the partition) and cuts the successors into P buckets
  by the hash of the *new* row;
* partition i of the next stage merges bucket i of every expansion (equal
  keys meet there, so every key ends in exactly one partition).

Weights stay exact: they are residues modulo primes below 2^31 in every
partition, added modulo each prime when keys merge; at the end each
partition sends its residue sums, and the client adds them and recombines
the integers by the Chinese remainder theorem.

Memory: every task checks its arrays against ``memory_cap`` by arithmetic
before allocating (:mod:`ilpregions.backends.dp.hashstep`). P is chosen so
that a partition's expected successors take at most a quarter of the cap,
and P doubles (splitting every partition in two, locally: ``h mod 2P`` is
``j`` or ``j + P`` when ``h mod P = j``) when a task still does not fit.
Small stages run in the client process exactly as without Dask.
"""

from __future__ import annotations

import math
import operator
import time

import numpy as np

from ilpregions.backends.dp import hashstep, run
from ilpregions.backends.dp.npstep import size_text
from ilpregions.core.errors import InputError, TooLargeError

#: Stages with fewer candidate successors than this stay in the client.
DISTRIBUTE_AT = 200_000
#: Distinct successors per state assumed when sizing partitions (a task
#: that overflows anyway is retried with twice the partitions).
GROWTH = 4
#: Give up (refuse) rather than split a stage into more partitions than this.
MAX_PARTITIONS = 1 << 12


class SchedulerError(InputError):
    """The Dask scheduler could not be reached or started (``--scheduler``/``--workers``)."""


def _split(rows: np.ndarray, weights: np.ndarray, hashes: np.ndarray, parts: int) -> list:
    """Rows cut into ``parts`` buckets by ``(hash >> 32) mod parts``."""
    key = (hashes >> np.uint64(32)) % np.uint64(parts)
    order = np.argsort(key, kind="stable")
    bounds = np.searchsorted(key[order], np.arange(parts + 1, dtype=np.uint64))
    out = []
    for i in range(parts):
        sel = order[bounds[i]:bounds[i + 1]]
        out.append((rows[sel], weights[sel], hashes[sel]))
    return out


def _row_hashes(rows: np.ndarray) -> np.ndarray:
    from ilpregions.backends.dp import kernels

    return kernels.hash_rows(rows.view(np.uint64), kernels.MULTIPLIERS)


def expand_task(part, step, cols, parts: int, memory_cap: int) -> list:
    """Map: the merged successors of one partition, in ``parts`` buckets."""
    rows, weights = part
    if len(rows) == 0:
        empty = (np.zeros((0, len(step.a_idx)), np.int8), np.zeros((0, cols.width), np.uint32),
                 np.zeros(0, np.uint64))
        return [empty] * parts
    new_rows, new_weights, hashes = hashstep.table_step(rows, weights, step, cols, memory_cap, {}, "partition")
    return _split(new_rows, new_weights, hashes, parts)


def merge_task(mods: np.ndarray, memory_cap: int, *buckets) -> tuple:
    """Reduce: one partition of the next stage from its bucket of every expansion."""
    from ilpregions.backends.dp import kernels

    buckets = [b for b in buckets if len(b[0])]
    if not buckets:
        return np.zeros((0, 8), np.int8), np.zeros((0, len(mods)), np.uint32)
    rows = np.concatenate([b[0] for b in buckets])
    weights = np.concatenate([b[1] for b in buckets])
    hashes = np.concatenate([b[2] for b in buckets])
    width, k = rows.shape[1], len(mods)
    need = rows.nbytes + weights.nbytes + hashes.nbytes + len(rows) * hashstep.row_bytes(width, k)
    if need > memory_cap:
        raise TooLargeError(f"dp: a partition of {len(rows)} successor rows would need about "
                            f"{size_text(need)}, over the memory cap of {size_text(memory_cap)}")
    out_rows = np.empty((len(rows), width // 8), np.uint64)
    out_hashes = np.empty(len(rows), np.uint64)
    acc = np.zeros((len(rows), k), np.uint64)
    table = hashstep.table_for(len(rows))
    m = kernels.insert_rows(rows.view(np.uint64), hashes, weights, mods, out_rows, out_hashes, acc, table, 0)
    return out_rows[:m].view(np.int8).copy(), kernels.reduce_weights(acc, m, mods)


def split_task(part, parts: int, which: int) -> tuple:
    """One half of a partition when P doubles: rows with ``h mod parts == which``."""
    rows, weights = part
    if len(rows) == 0:
        return part
    keep = (_row_hashes(rows) >> np.uint64(32)) % np.uint64(parts) == np.uint64(which)
    return rows[keep], weights[keep]


def residue_sums(part, mods: np.ndarray) -> np.ndarray:
    return part[1].astype(np.int64).sum(axis=0) % mods


def part_size(part) -> int:
    return len(part[0])


class DaskRunner:
    """Runs the stages of a plan on a Dask client (see the module docstring)."""

    def __init__(self, client, cluster=None, distribute_at: int = 0, own_client: bool = False):
        self.client, self.cluster, self.distribute_at = client, cluster, distribute_at
        self.own_client = own_client or cluster is not None
        self.info = {"dask_workers": len(client.scheduler_info().get("workers", {})),
                     "dask_max_partitions": 0, "dask_steps": 0}

    def close(self) -> None:
        """Close what we opened (a client to an address, a local cluster)."""
        if self.own_client:
            self.client.close()
        if self.cluster is not None:
            self.cluster.close()

    def details(self, stats: dict) -> dict:
        return dict(self.info)

    def runner(self, plan, cols, *, deadline=None, progress=None, memory_cap: int = run.DEFAULT_MEMORY_CAP,
               stats: dict | None = None) -> list[int]:
        """Like :func:`ilpregions.backends.dp.run.run_plan`, partitioned on Dask."""
        stats = stats if stats is not None else {}
        cols = cols.as_residues()
        local = (plan.initial[None, :].copy(), cols.ones(1))
        parts, sizes = None, None          # futures and their sizes when distributed
        for number, step in enumerate(plan.steps):
            if deadline is not None and time.perf_counter() > deadline:
                raise run.Stopped(self._totals(local, parts, cols))
            label = f"step {number + 1} of {len(plan.steps)}"
            if parts is None and hashstep.candidates(local[0], step) < self.distribute_at:
                local = run.one_step(local[0], local[1], step, cols, memory_cap, stats, label)
                size = len(local[0])
            else:
                if parts is None:
                    parts, sizes = self._scatter(local, step, cols, memory_cap)
                parts, sizes = self._distributed_step(parts, sizes, step, cols, memory_cap, label)
                size = sum(sizes)
                if size < self.distribute_at // 8:   # small again: back to the client
                    gathered = self.client.gather(parts)
                    local = (np.concatenate([p[0] for p in gathered]), np.concatenate([p[1] for p in gathered]))
                    parts = None
            stats["peak_states"] = max(stats.get("peak_states", 0), size)
            stats["steps"] = stats.get("steps", 0) + 1
            if progress is not None:
                progress.update(1)
        return self._totals(local, parts, cols)

    def _totals(self, local, parts, cols) -> list[int]:
        if parts is None:
            return cols.totals(local[1])
        mods = cols.mods
        sums = self.client.gather([self.client.submit(residue_sums, p, mods, pure=False) for p in parts])
        total = np.sum(sums, axis=0) % mods
        return cols.recombine([int(v) for v in total])

    def _scatter(self, local, step, cols, memory_cap):
        count = self._partitions_for(len(local[0]), step, cols, memory_cap)
        pieces = _split(local[0], local[1], _row_hashes(local[0]), count)
        return self.client.scatter([(r, w) for r, w, _ in pieces]), [len(r) for r, _, _ in pieces]

    def _distributed_step(self, parts, sizes, step, cols, memory_cap, label):
        """One step on the cluster: expand every partition, shuffle, merge.

        Partitions are split first while one would be expected to overflow
        the cap when expanded (``GROWTH`` successors per state), and again
        if a task refuses anyway.
        """
        client = self.client
        while len(parts) < self._partitions_for(max(sizes) * len(parts), step, cols, memory_cap):
            parts, sizes = self._double(parts, label, memory_cap), [(s + 1) // 2 for s in sizes] * 2
        while True:
            target = max(len(parts), self._partitions_for(sum(sizes), step, cols, memory_cap))
            try:
                expanded = [client.submit(expand_task, p, step, cols, target, memory_cap, pure=False)
                            for p in parts]
                merged = [client.submit(merge_task, cols.mods, memory_cap,
                                        *[client.submit(operator.getitem, e, i, pure=False) for e in expanded],
                                        pure=False) for i in range(target)]
                new_sizes = client.gather([client.submit(part_size, p, pure=False) for p in merged])
            except TooLargeError:
                parts, sizes = self._double(parts, label, memory_cap), [(s + 1) // 2 for s in sizes] * 2
                continue
            self.info["dask_max_partitions"] = max(self.info["dask_max_partitions"], target)
            self.info["dask_steps"] += 1
            return merged, new_sizes

    def _partitions_for(self, states: int, step, cols, memory_cap: int) -> int:
        """P such that the successors of a 1/P share of ``states`` (``GROWTH``
        per state) fit in half the cap, with at least one partition per worker."""
        per_row = hashstep.row_bytes(len(step.a_idx), cols.width) + len(step.a_idx) + 4 * cols.width
        count = max(self.info["dask_workers"], 1, math.ceil(2 * GROWTH * states * per_row / memory_cap))
        if count > MAX_PARTITIONS:
            raise TooLargeError(f"dp: about {states} states of {len(step.a_idx)} bytes need more than "
                                f"{MAX_PARTITIONS} partitions of {size_text(memory_cap)} (raise the memory cap)")
        return count

    def _double(self, parts, label, memory_cap):
        count = 2 * len(parts)
        if count > MAX_PARTITIONS:
            raise TooLargeError(f"dp: {label}: a partition still exceeds the memory cap of "
                                f"{size_text(memory_cap)} with {len(parts)} partitions (raise the memory cap)")
        halves = [self.client.submit(split_task, p, count, j + half * len(parts), pure=False)
                  for half in (0, 1) for j, p in enumerate(parts)]
        return halves


#: Local worker processes one count may start (each is a Python process of ~100 MB).
MAX_LOCAL_WORKERS = 256
#: Seconds to wait for a scheduler when no time limit is shorter.
CONNECT_SECONDS = 10.0


def connect(workers: int | None = None, scheduler=None, distribute_at: int | None = None,
            timeout: float | None = None) -> DaskRunner:
    """A runner on an existing scheduler (address or ``Client``) or on
    ``workers`` local worker processes (127.0.0.1, no dashboard).

    The wait for a scheduler is at most ``timeout`` seconds (the time
    limit left), and never more than :data:`CONNECT_SECONDS`; more than
    :data:`MAX_LOCAL_WORKERS` local workers are refused before any starts.
    """
    distribute_at = DISTRIBUTE_AT if distribute_at is None else distribute_at
    if scheduler is None and workers is not None and workers > MAX_LOCAL_WORKERS:
        raise SchedulerError(f"workers: {workers} local worker processes, over the limit of {MAX_LOCAL_WORKERS}")
    wait = CONNECT_SECONDS if timeout is None else max(0.1, min(CONNECT_SECONDS, timeout))
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError as error:  # pragma: no cover - dask is a test dependency
        raise SchedulerError(f"workers/scheduler: Dask counts need dask[distributed] ({error})")
    if scheduler is not None and not isinstance(scheduler, str):
        return DaskRunner(scheduler, None, distribute_at)
    try:
        if scheduler is not None:
            return DaskRunner(Client(scheduler, timeout=f"{wait:.3f}s"), None, distribute_at, own_client=True)
        if workers is None or workers < 1:
            raise SchedulerError(f"workers: must be a positive integer, got {workers!r}")
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, host="127.0.0.1",
                               dashboard_address=None, processes=True)
        return DaskRunner(Client(cluster), cluster, distribute_at)
    except (OSError, TimeoutError, ValueError) as error:  # ValueError: an unknown address scheme
        raise SchedulerError(f"scheduler: cannot connect to {scheduler!r} ({str(error).splitlines()[0]})") from None

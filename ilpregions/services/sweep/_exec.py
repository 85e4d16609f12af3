"""Sweep executors: serial, a local process pool, or Dask.

Each takes an iterator of chunks (lists of jobs) and yields lists of rows in
completion order, holding a bounded number of chunks in flight, so a huge
grid is never listed in memory.

Pool workers die with their parent (:mod:`ilpregions.core.processes`), so
``kill -9`` of a sweep leaves no orphan computing on.
"""

from __future__ import annotations

import time

import itertools
import os
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from typing import Iterable, Iterator

from ilpregions.core.errors import InputError, ParameterError
from ilpregions.core.processes import die_with_parent, stop_pool
from ilpregions.services.sweep._tasks import one_line, run_point, run_points


def chunks(jobs: Iterable[dict], size: int) -> Iterator[list[dict]]:
    """Consecutive lists of ``size`` jobs, drawn lazily."""
    jobs = iter(jobs)
    while chunk := list(itertools.islice(jobs, size)):
        yield chunk


def serial(parts: Iterator[list[dict]]) -> Iterator[list[dict]]:
    for chunk in parts:
        for job in chunk:
            yield [run_point(job)]


def pool(parts: Iterator[list[dict]], workers: int) -> Iterator[list[dict]]:
    if workers > MAX_WORKERS:
        raise ParameterError("workers", f"{workers} worker processes, over the limit of {MAX_WORKERS}")
    window = 4 * workers  # bounded in-flight futures: a million-point grid stays small in memory
    executor = ProcessPoolExecutor(max_workers=workers, initializer=die_with_parent,
                                   initargs=(os.getpid(),))
    finished = False
    try:
        pending = {executor.submit(run_points, chunk) for chunk in itertools.islice(parts, window)}
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                yield future.result()
            pending |= {executor.submit(run_points, chunk) for chunk in itertools.islice(parts, len(done))}
        finished = True
    finally:
        if finished:
            executor.shutdown(wait=True)
        else:
            stop_pool(executor)


#: Seconds a sweep waits for its scheduler.
CONNECT_SECONDS = 10.0
#: Pool worker processes a sweep may start.
MAX_WORKERS = 256


def dask(parts: Iterator[list[dict]], scheduler, deadline: float | None = None) -> Iterator[list[dict]]:
    """Run the parts on a Dask cluster; the connection waits at most CONNECT_SECONDS, and never
    past ``deadline`` (a ``time.perf_counter()`` time: the sweep's time limit)."""
    try:
        from distributed import Client, as_completed
    except ImportError:
        raise ParameterError("scheduler", "needs Dask: pip install 'ilpregions[dask]'") from None
    own_client = not isinstance(scheduler, Client)
    if own_client:
        try:
            wait = CONNECT_SECONDS if deadline is None else \
                min(CONNECT_SECONDS, max(0.1, deadline - time.perf_counter()))
            client = Client(scheduler, timeout=f"{wait:.3f}s")  # not Dask's default 30 s
        except (OSError, TimeoutError, ValueError) as exc:
            raise InputError(f"cannot reach the Dask scheduler at {scheduler!r}: {one_line(exc)}") from None
    else:
        client = scheduler
    try:
        # Submit in batches (one round trip each), refilled at half: bounded
        # memory on huge grids, and the cluster never runs dry.
        batch = max(64, 8 * sum(client.nthreads().values()))
        queue = as_completed(client.map(run_points, list(itertools.islice(parts, 2 * batch)), pure=False))
        outstanding = queue.count()
        for future in queue:
            yield future.result()
            future.release()
            outstanding -= 1
            if outstanding < batch:
                more = list(itertools.islice(parts, batch))
                if more:
                    queue.update(client.map(run_points, more, pure=False))
                    outstanding += len(more)
    finally:
        if own_client:
            client.close()

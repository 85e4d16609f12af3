"""Sweep executors: serial, a local process pool, or Dask.

Each takes an iterator of chunks (lists of jobs) and yields lists of rows in
completion order, holding a bounded number of chunks in flight, so a huge
grid is never listed in memory.

Pool workers die with their parent: on Linux each asks the kernel for
SIGKILL when the parent dies (``prctl(PR_SET_PDEATHSIG)``), so ``kill -9``
of a sweep leaves no orphan computing on.
"""

from __future__ import annotations

import itertools
import os
import signal
import sys
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from typing import Iterable, Iterator

from ilpregions.core.errors import InputError, ParameterError
from ilpregions.services.sweep._tasks import one_line, run_point, run_points

_PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>


def chunks(jobs: Iterable[dict], size: int) -> Iterator[list[dict]]:
    """Consecutive lists of ``size`` jobs, drawn lazily."""
    jobs = iter(jobs)
    while chunk := list(itertools.islice(jobs, size)):
        yield chunk


def serial(parts: Iterator[list[dict]]) -> Iterator[list[dict]]:
    for chunk in parts:
        for job in chunk:
            yield [run_point(job)]


def die_with_parent(parent: int) -> None:
    """Pool initializer: be killed when the parent process dies (Linux; elsewhere a no-op).

    The check of ``getppid`` after ``prctl`` closes the race where the parent
    died before the request was made.
    """
    if sys.platform.startswith("linux"):
        import ctypes

        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent:
        os._exit(1)


def _stop(pool: ProcessPoolExecutor) -> None:
    """Cancel queued chunks and end the workers now (on Ctrl-C or an error)."""
    processes = list(getattr(pool, "_processes", {}).values())  # no public handle on them
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        if process.is_alive():
            process.terminate()


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
            _stop(executor)


#: Seconds a sweep waits for its scheduler.
CONNECT_SECONDS = 10.0
#: Pool worker processes a sweep may start.
MAX_WORKERS = 256


def dask(parts: Iterator[list[dict]], scheduler) -> Iterator[list[dict]]:
    try:
        from distributed import Client, as_completed
    except ImportError:
        raise ParameterError("scheduler", "needs Dask: pip install 'ilpregions[dask]'") from None
    own_client = not isinstance(scheduler, Client)
    if own_client:
        try:
            client = Client(scheduler, timeout=f"{CONNECT_SECONDS:.0f}s")  # not Dask's default 30 s
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

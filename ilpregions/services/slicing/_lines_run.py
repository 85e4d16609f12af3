"""Running many segment slices: in this process, on a local process pool, or on Dask.

Each line is one call of :func:`slice_network` on its segment, so a faster
engine behind it speeds every executor up unchanged. The network is sent
to each worker once (the pool's initializer, Dask's ``scatter``); a line
travels as its index and two end points. A bounded window of lines is in
flight, so a million lines are never held at once.

The deadline is wall-clock time (``time.time()``, comparable across the
processes of one machine): a line started before it gets the time left as
its own time limit and comes back ``partial``; a line not started by then
is not run. Workers that overrun the deadline by more than a grace period
(half the time limit, and at least a second) are ended, and their lines
are not reported.

Pool workers are started the platform's default way (as the sweeps' are:
fork on Linux, so a script needs no ``if __name__ == "__main__"`` guard;
spawn elsewhere) and die with their parent (:mod:`ilpregions.core.processes`).

Examples
--------
>>> from ilpregions.core.spec import Network, DenseLayer
>>> from ilpregions.services.slicing import as_slicenet
>>> net = as_slicenet(Network((2,), (DenseLayer(3), DenseLayer(2))), seed=0)
>>> run_line(net, 7, np.array([-2.0, -2.0]), np.array([2.0, 2.0]), None).pieces
5
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Any, Iterator

import numpy as np

from ilpregions.core.errors import InputError, ParameterError
from ilpregions.core.processes import die_with_parent, stop_pool
from ilpregions.services.slicing._slice import slice_network

#: Lines in flight per worker (a bounded window: memory stays small for any number of lines).
WINDOW_PER_WORKER = 2


@dataclass(frozen=True)
class LineResult:
    """The exact pieces along one segment A→B.

    ``status`` is ``exact`` (finished, every piece's pattern certified),
    ``partial`` (stopped by the time limit: ``pieces`` is a lower bound) or
    ``uncertified`` (a piece's pattern could not be certified).
    ``breakpoints`` are the interior breakpoints t in (0, 1) of A + t (B - A).
    """

    index: int
    pieces: int
    length: float
    status: str
    seconds: float
    breakpoints: tuple = ()

    @property
    def exact(self) -> bool:
        return self.status == "exact"

    @property
    def density(self) -> float:
        """Pieces per unit length (input-space distance)."""
        return self.pieces / self.length

    @property
    def breakpoint_density(self) -> float:
        """Breakpoints per unit length: (pieces - 1) / length."""
        return (self.pieces - 1) / self.length

    def to_json(self) -> dict[str, Any]:
        return {"index": self.index, "status": self.status, "pieces": self.pieces, "length": self.length,
                "density": self.density, "seconds": round(self.seconds, 6)}


def run_line(net, index: int, a: np.ndarray, b: np.ndarray, deadline: float | None) -> LineResult | None:
    """Slice one segment (``None`` when the deadline passed before it started)."""
    left = None
    if deadline is not None:
        left = deadline - time.time()
        if left <= 0:
            return None
    result = slice_network(net, [a, b], time_limit=left)
    certified = result.certificate is not None and result.certificate.ok
    status = "partial" if not result.complete else "exact" if certified else "uncertified"
    breakpoints = tuple(result.breakpoints()) if result.complete else ()
    return LineResult(index, result.pieces, float(np.linalg.norm(b - a)), status, result.seconds, breakpoints)


_NET = None  # the network of a pool worker, set once by _start_worker


def _start_worker(net, parent: int) -> None:
    global _NET
    die_with_parent(parent)
    _NET = net


def _pool_line(index, a, b, deadline):
    return run_line(_NET, index, a, b, deadline)


def _grace(deadline: float | None, start: float) -> float | None:
    return None if deadline is None else deadline + max(1.0, 0.5 * (deadline - start))


def _windowed(lines: Iterator, submit, wait, window: int, deadline, stop_at, pending: set) -> Iterator[LineResult]:
    """Keep ``window`` lines in flight (in ``pending``); yield each result as it comes; stop drawing at the
    deadline, and waiting at ``stop_at``."""

    def fill():
        while len(pending) < window and (deadline is None or time.time() < deadline):
            item = next(lines, None)
            if item is None:
                return
            pending.add(submit(*item))

    fill()
    while pending:
        timeout = None if stop_at is None else max(0.0, stop_at - time.time())
        done, still = wait(pending, timeout=timeout, return_when="FIRST_COMPLETED")
        if not done:
            return  # past the grace period: the caller ends what is still running
        pending.difference_update(done)
        for future in done:
            result = future.result()
            if result is not None:
                yield result
        fill()


def _serial(net, lines, deadline) -> Iterator[LineResult]:
    for index, a, b in lines:
        result = run_line(net, index, a, b, deadline)
        if result is None:
            return
        yield result


def _pool(net, lines, workers: int, deadline, start) -> Iterator[LineResult]:
    from concurrent.futures import ProcessPoolExecutor, wait

    executor = ProcessPoolExecutor(max_workers=workers, initializer=_start_worker, initargs=(net, os.getpid()))
    finished = False
    try:
        yield from _windowed(lines, lambda i, a, b: executor.submit(_pool_line, i, a, b, deadline), wait,
                             WINDOW_PER_WORKER * workers, deadline, _grace(deadline, start), set())
        finished = True
    finally:
        if finished:
            executor.shutdown(wait=True)
        else:
            stop_pool(executor)  # Ctrl-C, an error, or lines still running past the grace period


def _client(scheduler):
    try:
        from distributed import Client
    except ImportError:
        raise ParameterError("scheduler", "needs Dask: pip install 'ilpregions[dask]'") from None
    if isinstance(scheduler, Client):
        return scheduler, False
    try:
        return Client(scheduler), True
    except (OSError, TimeoutError, ValueError) as exc:
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(f"scheduler: cannot reach the Dask scheduler at {scheduler!r}: {text}") from None


def _dask(net, lines, scheduler, deadline, start) -> Iterator[LineResult]:
    import distributed

    def wait(futures, timeout, return_when):
        try:
            return distributed.wait(futures, timeout=timeout, return_when=return_when)
        except TimeoutError:  # concurrent.futures.wait returns instead
            return set(), futures

    client, own = _client(scheduler)
    pending: set = set()
    try:
        shared = client.scatter(net, broadcast=True)
        window = WINDOW_PER_WORKER * max(1, sum(client.nthreads().values()))
        yield from _windowed(lines, lambda i, a, b: client.submit(run_line, shared, i, a, b, deadline, pure=False),
                             wait, window, deadline, _grace(deadline, start), pending)
    finally:
        client.cancel(list(pending))
        if own:
            client.close()


def run_lines(net, lines: Iterator, workers: int, scheduler, deadline: float | None) -> Iterator[LineResult]:
    """Each line's :class:`LineResult` in the order they finish (serial, pool or Dask)."""
    start = time.time()
    lines = iter(lines)
    if scheduler is not None:
        return _dask(net, lines, scheduler, deadline, start)
    if workers > 1:
        return _pool(net, lines, workers, deadline, start)
    return _serial(net, lines, deadline)


__all__ = ["LineResult", "run_line", "run_lines", "WINDOW_PER_WORKER"]

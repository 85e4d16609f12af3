"""Stopping a CP-SAT enumeration on time and on Ctrl-C, and the parameters that enumerate fastest.

Shared by the CP-SAT counting backends (``cpsat``, ``cpsat-rows``, ``cpsat-binary``).
"""

from __future__ import annotations

import signal
import threading
import time
from contextlib import contextmanager


def enumeration_parameters(solver, time_limit, workers, presolve):
    params = solver.parameters
    params.enumerate_all_solutions = True
    params.num_workers = workers
    # One worker and a fixed search enumerate fastest and never repeat a
    # solution; presolve can drop solutions unless told to keep them.
    params.cp_model_presolve = presolve
    if presolve:
        params.keep_all_feasible_solutions_in_presolve = True
    params.search_branching = params.FIXED_SEARCH
    params.linearization_level = 0
    params.cp_model_probing_level = 0
    if time_limit is not None:
        params.max_time_in_seconds = max(0.001, float(time_limit))


class Stop:
    """When a solve must stop: past ``deadline`` (perf_counter seconds) or after Ctrl-C.

    CP-SAT checks its own time limit only between search steps, and a slow
    callback or a loaded machine overruns it; so the solution callback also
    checks the deadline and calls ``stop_search``. The status CP-SAT reports
    after ``stop_search`` can still read OPTIMAL (google/or-tools#4430), so
    completeness is decided by ``stopped`` here, never by the status alone.
    """

    def __init__(self, time_limit: float | None):
        self.deadline = None if time_limit is None else time.perf_counter() + max(0.001, float(time_limit))
        self.stopped = False
        self.interrupted = False
        self.callback = None

    def left(self) -> float | None:
        """Seconds left (0 when past the deadline), None without one."""
        return None if self.deadline is None else max(0.0, self.deadline - time.perf_counter())

    def check(self, callback) -> None:
        """Call from ``on_solution_callback``: stop the search when time is up or Ctrl-C came."""
        if self.interrupted or (self.deadline is not None and time.perf_counter() > self.deadline):
            self.stopped = True
            callback.stop_search()

    def interrupt(self, signum=None, frame=None) -> None:
        self.interrupted = True
        if self.callback is not None:
            self.stopped = True
            self.callback.stop_search()


@contextmanager
def stoppable(solver, stop: Stop, callback):
    """Solve under ``stop``: Ctrl-C stops the search (CP-SAT's own SIGINT catching is off, so
    the next solve does not start), and is raised as KeyboardInterrupt once the solver returned."""
    stop.callback = callback
    previous = None
    if threading.current_thread() is threading.main_thread():
        solver.parameters.catch_sigint_signal = False
        if signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:   # nohup: Ctrl-C stays ignored
            previous = signal.signal(signal.SIGINT, stop.interrupt)
    try:
        yield
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)
        stop.callback = None
    if stop.interrupted:
        raise KeyboardInterrupt


def solve_enumeration(model, callback, stop: Stop) -> bool:
    """Run an enumeration (parameters already set); True when every solution was seen."""
    from ortools.sat.python import cp_model

    solver = callback.solver
    with stoppable(solver, stop, callback):
        status = solver.solve(model, callback)
    return status in (cp_model.OPTIMAL, cp_model.INFEASIBLE) and not stop.stopped

"""One sweep point: plain data in, plain strings out (runs in a worker process).

A point that cannot be done is a row, not an error of the sweep; its status
says why (see :mod:`ilpregions.services.sweep._run`). One status is never written:
``interrupted``, for a point stopped by Ctrl-C. CP-SAT catches SIGINT itself
and reports an ordinary time-limit stop, so a ``time_limit`` result that came
before its time limit (or without one) is an interruption too.
"""

from __future__ import annotations

import math
import time
from typing import Any, Callable, Mapping, Sequence

from ilpregions.core.combinatorics import log10_int
from ilpregions.core.combinatorics import decimal_string
from ilpregions.core.errors import BackendUnavailableError, InputError, TooLargeError
from ilpregions.core.results import TIME_LIMIT, TOO_LARGE, UNAVAILABLE

INVALID = "invalid"
ERROR = "error"
#: A point stopped by Ctrl-C: reported to the parent, never stored as a result.
INTERRUPTED = "interrupted"

#: A time-limit stop earlier than this fraction of the limit was not the limit.
_EARLY = 0.9


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return decimal_string(value)
    return str(value)


def _task_count(network, job) -> tuple[str, dict]:
    from ilpregions.services.count import count_regions

    result = count_regions(network, backend=job["backend"], time_limit=job["time_limit"],
                           **job["options"])
    return result.status, {"regions": result.regions, "exact": result.exact,
                           "t_vectors": result.t_vectors, "union_size": result.union_size,
                           "positions": result.positions, "backend": result.backend}


def _bounds_summary(network, job) -> dict:
    from ilpregions.services.bounds import compute_bounds

    report = compute_bounds(network, time_limit=job["time_limit"], **job["options"])
    return {"lower": report.lower, "upper": report.upper, "lower_name": report.lower_name,
            "upper_name": report.upper_name, "params": report.params, "neurons": report.neurons}


def _task_bounds(network, job) -> tuple[str, dict]:
    from ilpregions.core.results import COMPLETE

    return COMPLETE, _bounds_summary(network, job)


def _log10_ratio(value, params) -> str | None:
    if not value or not params:
        return None
    return f"{log10_int(value) - math.log10(params):.6f}"


def _task_claims(network, job) -> tuple[str, dict]:
    """Regions per parameter, the quantity the paper's claims compare (docs/math.md)."""
    from ilpregions.core.results import COMPLETE

    summary = _bounds_summary(network, job)
    params = summary["params"]
    return COMPLETE, {"lower": summary["lower"], "upper": summary["upper"], "params": params,
                      "log10_lower_per_param": _log10_ratio(summary["lower"], params),
                      "log10_upper_per_param": _log10_ratio(summary["upper"], params)}


_TASKS: dict[str, Callable] = {"count": _task_count, "bounds": _task_bounds, "claims": _task_claims}


def run_point(job: Mapping[str, Any]) -> dict[str, str]:
    """Run one grid point; never raises (failures become ``status``/``error``).

    Parameters
    ----------
    job : mapping
        ``id``, ``spec`` (plain spec data), ``task`` (count, bounds or
        claims), ``backend``, ``time_limit`` and ``options``, as
        ``Grid.job(index)`` makes them.

    Returns
    -------
    dict of str to str
        The row: the id, the task's result columns, ``status`` (complete,
        time_limit, invalid, too_large, unavailable, error or interrupted),
        ``error`` where it failed, and the seconds.

    Examples
    --------
    >>> row = run_point({"id": 0, "spec": {"input": [4, 1], "layers": [{"type": "conv", "filters": 2,
    ...     "kernel": 2}]}, "task": "count", "backend": "cpsat", "time_limit": None, "options": {}})
    >>> row["status"], row["regions"], row["exact"]
    ('complete', '55', 'true')
    >>> bad = {"input": [1, 1], "layers": [{"type": "conv", "filters": 1, "kernel": 3}]}
    >>> row = run_point({"id": 1, "spec": bad, "task": "count", "backend": "auto", "time_limit": None,
    ...                  "options": {}})
    >>> row["status"], row["error"]
    ('invalid', 'layers[0].kernel: spans 3 on axis 0 but the padded input is only 1 (no output position)')
    """
    start = time.perf_counter()
    row: dict[str, Any] = {"id": job["id"]}
    try:
        row.update(_run_task(job))
    except KeyboardInterrupt:
        row["status"] = INTERRUPTED
    except TooLargeError as exc:
        row["status"], row["error"] = TOO_LARGE, one_line(exc)
    except BackendUnavailableError as exc:
        row["status"], row["error"] = UNAVAILABLE, one_line(exc)
    except InputError as exc:
        row["status"], row["error"] = INVALID, one_line(exc)
    except Exception as exc:  # noqa: BLE001 - a crashed point must not sink the sweep
        row["status"], row["error"] = ERROR, f"{exc.__class__.__name__}: {one_line(exc)}"
    elapsed = time.perf_counter() - start
    if row["status"] == TIME_LIMIT and _stopped_early(elapsed, job.get("time_limit")):
        row["status"] = INTERRUPTED
    row["seconds"] = f"{elapsed:.6f}"
    return {key: _text(value) for key, value in row.items()}


def _run_task(job: Mapping[str, Any]) -> dict[str, Any]:
    from ilpregions.core.spec_toml import network_from_dict

    network = network_from_dict(job["spec"])
    status, values = _TASKS[job["task"]](network, job)
    return {**values, "status": status}


def _stopped_early(elapsed: float, time_limit: float | None) -> bool:
    """A time-limit stop with no limit set, or well before it, came from a signal."""
    return time_limit is None or elapsed < _EARLY * time_limit


def one_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else exc.__class__.__name__


def run_points(jobs: Sequence[Mapping[str, Any]]) -> list[dict[str, str]]:
    """:func:`run_point` on a chunk of points (one task on a worker).

    Parameters
    ----------
    jobs : sequence of mapping
        Points as :func:`run_point` takes them.

    Returns
    -------
    list of dict of str to str
        One row per job, in order.

    Examples
    --------
    >>> spec = {"input": [4, 1], "layers": [{"type": "conv", "filters": 1, "kernel": 2}]}
    >>> rows = run_points([{"id": i, "spec": spec, "task": "count", "backend": "auto", "time_limit": None,
    ...                     "options": {}} for i in range(2)])
    >>> [(row["id"], row["regions"]) for row in rows]
    [('0', '8'), ('1', '8')]
    """
    return [run_point(job) for job in jobs]

"""Sweeps: one task over a grid of architectures, serially, on a process pool or on Dask.

A grid file is TOML: a base architecture (the ``models/*.toml`` format) and,
under ``[grid]``, lists of values for some of its fields. The sweep runs the
task on every point of the Cartesian product of those lists::

    task = "count"              # "count" (default) | "bounds" | "claims"
    backend = "auto"            # count only: any counting backend
    time_limit = 10.0           # optional, seconds per point

    [base]                      # inline spec; or: base = "models/paper_3x3.toml"
    input = [3, 3, 1]           #   (a path relative to the grid file)
    [[base.layers]]
    type = "conv"
    filters = 2
    kernel = 2

    [grid]                      # field path = list of values
    "input" = [[3, 3, 1], [4, 4, 1]]
    "layers[0].type" = ["conv", "local"]
    "layers[0].filters" = [1, 2, 3]

A field path is ``name``, ``input``, ``input[i]``, ``layers[i].<key>`` (any
layer key: type, filters, kernel, stride, padding, dilation, units) or a
whole ``layers`` list. Points are numbered from 0 in product order, the last
grid key varying fastest; that number is the row's ``id`` and the resume key.

A point that cannot be done is not an error of the sweep; its row says why
in ``status`` and ``error``: ``invalid`` (a kernel larger than its input, a
multi-layer net for ``count``), ``too_large`` (refused by the method before
starting), ``unavailable`` (a backend's optional dependency is missing),
``time_limit`` (stopped by ``time_limit``: a partial, lower value) or
``error`` (an unexpected exception). The others are ``complete``.

Output columns are fixed per task: ``id``, one column per grid key (named by
its path; lists as compact JSON), ``status``, the task's columns, ``error``
and ``seconds`` (wall time; the only column that differs between runs).
Exact integers are written in full, never as floats.

Examples
--------
>>> grid = grid_from_dict({
...     "base": {"input": [3, 1], "layers": [{"type": "conv", "filters": 1, "kernel": 2}]},
...     "grid": {"layers[0].filters": [1, 2], "layers[0].kernel": [2, 3]}})
>>> len(grid), grid.columns[:6]
(4, ('id', 'layers[0].filters', 'layers[0].kernel', 'status', 'regions', 'exact'))
>>> grid.point(3)
{'layers[0].filters': 2, 'layers[0].kernel': 3}
>>> summary = run_sweep(grid, workers=1)
>>> [(row["layers[0].filters"], row["layers[0].kernel"], row["regions"]) for row in summary.rows]
[('1', '2', '4'), ('1', '3', '2'), ('2', '2', '15'), ('2', '3', '4')]
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Mapping

from ilpregions.core.errors import InputError, ParameterError
from ilpregions.core.safe_io import output_lock, output_target
from ilpregions.services.sweep import _exec as sweep_exec
from ilpregions.services.sweep._grid import (MAX_GRID_POINTS, TASK_COLUMNS, TASKS, Grid, format_cell,
                                            grid_from_dict, load_grid)
from ilpregions.services.sweep._output import (check_fingerprint, csv_line, header_line, read_parquet_rows,
                                              read_rows, require_pyarrow, write_csv, write_fingerprint,
                                              write_parquet)
from ilpregions.services.sweep._tasks import ERROR, INTERRUPTED, INVALID, run_point, run_points


@dataclass(frozen=True)
class SweepSummary:
    """What a sweep did. ``rows`` are every row of the output, sorted by ``id``."""

    points: int
    ran: int
    skipped: int
    statuses: Mapping[str, int]
    output: str | None
    rows: tuple[Mapping[str, str], ...] = field(repr=False, default=())
    seconds: float = 0.0
    #: False when the sweep's own time limit stopped it before every point ran (``--resume`` runs the rest).
    complete: bool = True


def _check_options(workers, chunk, resume: bool, overwrite: bool, output) -> None:
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
        raise InputError(f"workers must be a positive integer, got {workers!r}")
    if isinstance(chunk, bool) or not isinstance(chunk, int) or chunk < 1:
        raise InputError(f"chunk must be a positive integer, got {chunk!r}")
    if resume and overwrite:
        raise ParameterError("resume", "resume and overwrite contradict each other")
    if resume and output is None:
        raise ParameterError("resume", "needs an output file: the results of the interrupted run")


def _csv_path(final: Path) -> Path:
    """Where rows stream: the output itself, or ``NAME.partial.csv`` beside a Parquet file."""
    if final.suffix == ".parquet":
        require_pyarrow()  # fail before any work
        return final.with_name(final.name + ".partial.csv")
    return final


def _prepare_output(grid: Grid, final: Path, resume: bool, overwrite: bool) -> dict[int, dict]:
    """Check the output, load the rows to keep (``resume``), write a clean start file."""
    csv_path = _csv_path(final)
    output_target(csv_path)  # a partial CSV beside Parquet must be a regular file too
    exists_hint = "pass `resume=True` to continue it or `overwrite=True` to replace it"
    done: dict[int, dict] = {}
    if csv_path.exists():
        if not (resume or overwrite):
            raise InputError(f"{csv_path} exists; {exists_hint}")
        if resume:
            check_fingerprint(final, grid)
            done = {int(r["id"]): r for r in read_rows(csv_path, grid)}
    elif final.exists():
        if not (resume or overwrite):
            raise InputError(f"{final} exists; {exists_hint}")
        if resume:  # a finished Parquet file: its rows are done
            check_fingerprint(final, grid)
            done = {int(r["id"]): r for r in read_parquet_rows(final, grid)}
    write_fingerprint(final, grid)
    # A clean file with only complete rows, so appends start on a fresh line.
    write_csv([done[i] for i in sorted(done)], grid.columns, csv_path)
    return done


def _results(grid: Grid, done: Mapping[int, Any], workers, scheduler, chunk: int,
             deadline: float | None = None) -> Iterator[dict]:
    """Rows of the points not in ``done``, in completion order; ids are drawn lazily."""
    todo = (i for i in range(len(grid)) if i not in done)
    parts = sweep_exec.chunks((grid.job(i) for i in todo), chunk)
    if scheduler is not None:
        results = sweep_exec.dask(parts, scheduler, deadline)
    elif workers == 1 or len(grid) - len(done) <= 1:
        results = sweep_exec.serial(parts)
    else:
        results = sweep_exec.pool(parts, workers or os.cpu_count() or 1)
    return (row for rows in results for row in rows)


class _Sink:
    """Where finished rows go: the streamed CSV (flushed per row, fsynced every
    second) and/or a text stream in id order."""

    def __init__(self, columns, csv_path: Path | None, stream, done: dict[int, dict]):
        self.columns, self.stream, self.done = columns, stream, done
        self.handle = open(csv_path, "a", encoding="utf-8", newline="") if csv_path is not None else None
        self.last_sync = time.monotonic()
        self.next_id = 0  # for `stream`: the next id to emit in order
        if stream is not None:
            stream.write(header_line(columns))

    def add(self, index: int, row: dict) -> None:
        self.done[index] = row
        if self.handle is not None:
            self.handle.write(csv_line(self.columns, row))
            self.handle.flush()  # in the OS now: survives a kill of this process
            if time.monotonic() - self.last_sync > 1.0:
                os.fsync(self.handle.fileno())  # and on disk at least every second
                self.last_sync = time.monotonic()
        if self.stream is not None:
            while self.next_id in self.done:
                self.stream.write(csv_line(self.columns, self.done[self.next_id]))
                self.next_id += 1
            self.stream.flush()

    def close(self) -> None:
        if self.handle is not None:
            self.handle.flush()
            os.fsync(self.handle.fileno())
            self.handle.close()
            self.handle = None


def _consume(grid: Grid, rows: Iterator[dict], sink: _Sink, bar, deadline: float | None = None) -> None:
    columns = grid.columns
    for row in rows:
        if deadline is not None and time.perf_counter() > deadline:
            close = getattr(rows, "close", None)
            if close is not None:
                close()  # cancels what is queued; no further point starts
            return
        if row["status"] == INTERRUPTED:
            raise KeyboardInterrupt  # an interrupted point is never stored as a result
        index = int(row["id"])
        row = {**grid.param_cells(index), **row}
        sink.add(index, {c: row.get(c, "") for c in columns})  # every column, in order
        bar.update(1)


def _execute(grid: Grid, done: dict[int, dict], csv_path: Path | None, options: dict) -> None:
    from ilpregions.core.progress import Progress

    bar = Progress("sweep", total=len(grid) - len(done), enabled=options["progress"], unit="pt")
    sink = _Sink(grid.columns, csv_path, options["stream"], done)
    try:
        _consume(grid, _results(grid, dict(done), options["workers"], options["scheduler"],
                                options["chunk"], options.get("deadline")), sink, bar, options.get("deadline"))
    finally:
        bar.close()
        sink.close()


def _summary(grid: Grid, done: dict[int, dict], skipped: int, final: Path | None, start: float) -> SweepSummary:
    rows = tuple(done[i] for i in sorted(done))
    statuses: dict[str, int] = {}
    for row in rows:
        statuses[row["status"]] = statuses.get(row["status"], 0) + 1
    return SweepSummary(points=len(grid), ran=len(rows) - skipped, skipped=skipped,
                        statuses=dict(sorted(statuses.items())),
                        output=None if final is None else str(final), rows=rows,
                        seconds=time.perf_counter() - start, complete=len(rows) == len(grid))


def run_sweep(grid: Grid | str | Path, *, workers: int | None = None, scheduler=None,
              output: str | Path | None = None, resume: bool = False, overwrite: bool = False,
              progress: bool = False, stream: Any = None, chunk: int = 1,
              time_limit: float | None = None) -> SweepSummary:
    """Run a grid's task on every point and collect the rows.

    Parameters
    ----------
    grid : Grid or str or Path
        A grid, or the path of a grid TOML file (:func:`load_grid`).
    workers : int, optional
        1 runs in this process; N > 1 uses a local process pool of N;
        default ``os.cpu_count()``. Ignored when ``scheduler`` is given.
    scheduler : str or distributed.Client, optional
        A Dask scheduler address (``tcp://host:port``) or a connected client.
    output : path, optional
        ``.csv`` (streamed, one complete line per finished point, flushed at
        once; fsynced at least every second and at the end; finally rewritten
        in id order by write-temp-then-rename) or ``.parquet`` (needs pyarrow;
        streamed to a ``.partial.csv`` beside it, converted at the end). Only
        a regular file is written, under an exclusive lock; its grid
        fingerprint goes to ``NAME.sweep.json`` beside it.
    resume : bool
        Keep the rows already in ``output`` and run only the missing points;
        refused unless the stored fingerprint matches this grid.
    overwrite : bool
        Replace an existing ``output`` (without it, an existing file is an error
        unless ``resume``).
    progress : bool
        A progress bar on stderr.
    stream : text file, optional
        Without ``output``: write CSV here in id order as points finish.
    chunk : int
        Points per task sent to a pool or Dask worker. Raise it when points
        take milliseconds: it amortises the per-task overhead (a few ms on
        Dask), at the price of coarser load balancing and streaming.
    time_limit : float, optional
        Seconds for the whole sweep: no point starts after it (the summary's
        ``complete`` is then False; ``resume`` runs the rest).

    Returns
    -------
    SweepSummary
        Points, points run and skipped (resumed), the count of each status,
        the output path, the rows in id order, and ``complete``.

    Raises
    ------
    InputError
        Bad ``workers`` or ``chunk``, or ``output`` exists (without
        ``resume``/``overwrite``); a grid file that is not valid
        (:class:`~ilpregions.core.errors.SpecError`).
    ParameterError
        For parameter ``resume``: contradicting ``overwrite``, without an
        output, or an output written by another grid.
    OutputError
        ``output`` is not a regular file, or another process is writing it.
    KeyboardInterrupt
        On Ctrl-C; finished rows are on disk, the interrupted points are not.

    Examples
    --------
    >>> grid = grid_from_dict({"base": {"input": [4, 1], "layers": [{"type": "conv", "filters": 1, "kernel": 2}]},
    ...                        "grid": {"layers[0].filters": [1, 2]}})
    >>> summary = run_sweep(grid, workers=1)
    >>> summary.points, summary.statuses, [row["regions"] for row in summary.rows]
    (2, {'complete': 2}, ['8', '55'])
    """
    start = time.perf_counter()
    if not isinstance(grid, Grid):
        grid = load_grid(grid)
    _check_options(workers, chunk, resume, overwrite, output)
    options = {"workers": workers, "scheduler": scheduler, "progress": progress, "stream": stream,
               "chunk": chunk, "deadline": None if time_limit is None else start + time_limit}
    if output is None:
        done: dict[int, dict] = {}
        _execute(grid, done, None, options)
        return _summary(grid, done, 0, None, start)
    final = Path(output)
    with output_lock(final, make_parents=True):
        done = _prepare_output(grid, final, resume, overwrite)
        skipped = len(done)
        csv_path = _csv_path(final)
        _execute(grid, done, csv_path, options)
        rows = [done[i] for i in sorted(done)]
        if final.suffix == ".parquet":
            write_parquet(rows, grid.columns, final)
            csv_path.unlink()
        else:
            write_csv(rows, grid.columns, final)
    return _summary(grid, done, skipped, final, start)


__all__ = ["Grid", "SweepSummary", "TASKS", "TASK_COLUMNS", "MAX_GRID_POINTS", "INVALID", "ERROR",
           "INTERRUPTED", "grid_from_dict", "load_grid", "run_point", "run_points", "run_sweep",
           "read_rows", "format_cell"]

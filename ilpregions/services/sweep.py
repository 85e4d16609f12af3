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

import copy
import csv
import io
import itertools
import json
import math
import os
import re
import time
import tomllib
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence

from ilpregions.core.combinatorics import decimal_string
from ilpregions.core.errors import BackendUnavailableError, InputError, SpecError, TooLargeError, did_you_mean, reject_unknown_keys
from ilpregions.core.results import TOO_LARGE, UNAVAILABLE

TASKS = ("count", "bounds", "claims")
INVALID = "invalid"
ERROR = "error"

_TOP_KEYS = ("name", "task", "backend", "time_limit", "options", "base", "grid")
_SPEC_TOP = ("name", "input", "layers")
_LAYER_KEYS = ("type", "filters", "kernel", "stride", "padding", "dilation", "units")

#: Result columns of each task, between ``status`` and ``error``.
TASK_COLUMNS: dict[str, tuple[str, ...]] = {
    "count": ("regions", "exact", "t_vectors", "union_size", "positions", "backend"),
    "bounds": ("lower", "upper", "lower_name", "upper_name", "params", "neurons"),
    "claims": ("lower", "upper", "params", "log10_lower_per_param", "log10_upper_per_param"),
}

_SEGMENT = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)((?:\[\d+\])*)$")


# ----------------------------------------------------------------------------
# The grid
# ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Grid:
    """A validated sweep definition: base spec, grid axes, task and options."""

    base: Mapping[str, Any]
    axes: tuple[tuple[str, tuple[Any, ...]], ...]
    task: str = "count"
    backend: str = "auto"
    time_limit: float | None = None
    options: Mapping[str, Any] = field(default_factory=dict)
    name: str | None = None

    def __len__(self) -> int:
        return math.prod(len(values) for _, values in self.axes)

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(key for key, _ in self.axes)

    @property
    def columns(self) -> tuple[str, ...]:
        """The output columns, in order."""
        return ("id", *self.keys, "status", *TASK_COLUMNS[self.task], "error", "seconds")

    def point(self, index: int) -> dict[str, Any]:
        """The grid values of point ``index`` (product order, last key fastest)."""
        if not 0 <= index < len(self):
            raise IndexError(f"point {index} is outside the grid of {len(self)} points")
        values = {}
        for key, options in reversed(self.axes):
            index, rest = divmod(index, len(options))
            values[key] = options[rest]
        return {key: values[key] for key in self.keys}

    def spec(self, index: int) -> dict[str, Any]:
        """The architecture of point ``index`` as plain data (not yet validated)."""
        data = copy.deepcopy(dict(self.base))
        for key, value in self.point(index).items():
            _assign(data, key, copy.deepcopy(value))
        return data

    def job(self, index: int) -> dict[str, Any]:
        """Everything a worker needs for one point: plain, picklable data."""
        return {"id": index, "spec": self.spec(index), "task": self.task, "backend": self.backend,
                "time_limit": self.time_limit, "options": dict(self.options)}

    def param_cells(self, index: int) -> dict[str, str]:
        return {key: format_cell(value) for key, value in self.point(index).items()}


def format_cell(value: Any) -> str:
    """A CSV cell: strings as they are, everything else as compact JSON.

    >>> format_cell("conv"), format_cell(3), format_cell([3, 3, 1]), format_cell(True)
    ('conv', '3', '[3,3,1]', 'true')
    """
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"))


def _parse_path(key: str) -> list[str | int]:
    """``layers[0].kernel`` -> ``['layers', 0, 'kernel']``; errors name the key."""
    where = f'grid."{key}"'
    parts: list[str | int] = []
    for segment in key.split("."):
        match = _SEGMENT.match(segment)
        if not match:
            raise SpecError(where, "is not a field path (expected e.g. input, input[0] or layers[0].filters)")
        parts.append(match.group(1))
        parts.extend(int(i) for i in re.findall(r"\[(\d+)\]", match.group(2)))
    head = parts[0]
    if head not in _SPEC_TOP:
        raise SpecError(where, f"unknown field {head!r}{did_you_mean(str(head), _SPEC_TOP)}; "
                               f"a path starts with {', '.join(_SPEC_TOP)}")
    if head == "layers" and len(parts) >= 3:
        if not isinstance(parts[1], int):
            raise SpecError(where, "a layer is addressed as layers[i]")
        if isinstance(parts[2], str) and parts[2] not in _LAYER_KEYS:
            raise SpecError(where, f"unknown layer key {parts[2]!r}{did_you_mean(parts[2], _LAYER_KEYS)}; "
                                   f"valid keys: {', '.join(_LAYER_KEYS)}")
    return parts


def _assign(data: dict, key: str, value: Any) -> None:
    parts = _parse_path(key)
    target: Any = data
    for depth, part in enumerate(parts[:-1]):
        nxt = parts[depth + 1]
        if isinstance(part, int):
            if not isinstance(target, list) or part >= len(target):
                size = len(target) if isinstance(target, list) else 0
                raise SpecError(f'grid."{key}"', f"index {part} is out of range: the base has {size} "
                                                 f"entr{'y' if size == 1 else 'ies'} there")
            if not isinstance(target[part], (dict, list)):
                # e.g. "kernel[1]" when the base kernel is a scalar: expand is ambiguous
                raise SpecError(f'grid."{key}"', f"cannot index into {target[part]!r}")
            target = target[part]
        else:
            if not isinstance(target, dict):
                raise SpecError(f'grid."{key}"', f"cannot take field {part!r} of {target!r}")
            if part not in target:
                target[part] = [] if isinstance(nxt, int) else {}
            target = target[part]
    last = parts[-1]
    if isinstance(last, int):
        if not isinstance(target, list) or last >= len(target):
            size = len(target) if isinstance(target, list) else 0
            raise SpecError(f'grid."{key}"', f"index {last} is out of range: the base has {size} "
                                             f"entr{'y' if size == 1 else 'ies'} there")
        target[last] = value
    else:
        if not isinstance(target, dict):
            raise SpecError(f'grid."{key}"', f"cannot set field {last!r} of {target!r}")
        target[last] = value


def grid_from_dict(data: Mapping[str, Any], source: str | None = None,
                   base_dir: Path | None = None) -> Grid:
    """Validate plain data (as read from a grid TOML file) into a :class:`Grid`.

    Errors are :class:`~ilpregions.core.errors.SpecError` naming the field.

    >>> grid_from_dict({"base": {"input": [3, 1], "layers": []}, "grid": {"layers[0].filter": [1]}})
    Traceback (most recent call last):
    ...
    ilpregions.core.errors.SpecError: grid."layers[0].filter": unknown layer key 'filter' (did you mean 'filters'?); valid keys: type, filters, kernel, stride, padding, dilation, units
    >>> grid_from_dict({"tasks": "count"})
    Traceback (most recent call last):
    ...
    ilpregions.core.errors.SpecError: unknown key 'tasks' (did you mean 'task'?); valid keys: name, task, backend, time_limit, options, base, grid
    """
    try:
        return _grid_from_dict(data, base_dir)
    except SpecError as exc:
        raise (exc.with_source(source) if source else exc) from None


def _grid_from_dict(data: Mapping[str, Any], base_dir: Path | None) -> Grid:
    if not isinstance(data, Mapping):
        raise SpecError("", "a grid must be a table")
    reject_unknown_keys(data, _TOP_KEYS)
    task = data.get("task", "count")
    if task not in TASKS:
        raise SpecError("task", f"unknown task {task!r}{did_you_mean(str(task), TASKS)}; one of {', '.join(TASKS)}")
    backend = data.get("backend", "auto")
    if not isinstance(backend, str):
        raise SpecError("backend", f"must be a backend name, got {backend!r}")
    if "backend" in data and task != "count":
        raise SpecError("backend", f"applies to task 'count' only, not {task!r}")
    if backend != "auto":
        from ilpregions import backends
        backends.resolve(backend, backends.COUNT)  # unknown names: error listing the valid ones
    time_limit = data.get("time_limit")
    if time_limit is not None:
        if isinstance(time_limit, bool) or not isinstance(time_limit, (int, float)) \
                or not time_limit > 0 or math.isinf(time_limit):
            raise SpecError("time_limit", f"must be a positive number of seconds, got {time_limit!r}")
        time_limit = float(time_limit)
    options = data.get("options", {})
    if not isinstance(options, Mapping):
        raise SpecError("options", "must be a table of keyword arguments for the task")
    name = data.get("name")
    if name is not None and not isinstance(name, str):
        raise SpecError("name", f"must be a string, got {name!r}")

    if "base" not in data:
        raise SpecError("base", "is missing: a [base] table (an architecture spec) or a path to a spec file")
    base = data["base"]
    if isinstance(base, str):
        path = Path(base) if base_dir is None or Path(base).is_absolute() else base_dir / base
        try:
            base = tomllib.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise SpecError("base", f"cannot read {str(path)!r} ({exc.__class__.__name__})") from None
        except tomllib.TOMLDecodeError as exc:
            raise SpecError("base", f"{str(path)!r}: TOML syntax error: {exc}") from None
    if not isinstance(base, Mapping):
        raise SpecError("base", "must be a table (an architecture spec) or a path to a spec file")
    reject_unknown_keys(base, _SPEC_TOP, "base")

    raw_grid = data.get("grid", {})
    if not isinstance(raw_grid, Mapping):
        raise SpecError("grid", 'must be a table of field path = list of values, e.g. "layers[0].filters" = [1, 2]')
    axes = []
    for key, values in raw_grid.items():
        _parse_path(key)
        if not isinstance(values, list) or not values:
            raise SpecError(f'grid."{key}"', f"must be a non-empty list of values, got {values!r}")
        axes.append((key, tuple(values)))
    grid = Grid(base=dict(base), axes=tuple(axes), task=task, backend=backend,
                time_limit=time_limit, options=dict(options), name=name)
    if len(grid):
        grid.spec(0)  # a path that cannot be applied at all fails here, naming the key
    return grid


def load_grid(path: str | Path) -> Grid:
    """Read and validate a grid TOML file (see the module docstring for the format)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SpecError("", "no such file", str(path)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError("", f"cannot read the file ({exc.__class__.__name__}: {exc})", str(path)) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SpecError("", f"TOML syntax error: {exc}", str(path)) from None
    return grid_from_dict(data, source=str(path), base_dir=path.parent)


# ----------------------------------------------------------------------------
# One point (runs in a worker: plain data in, plain strings out)
# ----------------------------------------------------------------------------

def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return decimal_string(value)
    return str(value)


def _task_count(network, job) -> tuple[str, dict]:
    from ilpregions.services.counting import count_regions

    result = count_regions(network, backend=job["backend"], time_limit=job["time_limit"],
                           **job["options"])
    return result.status, {"regions": result.regions, "exact": result.exact,
                           "t_vectors": result.t_vectors, "union_size": result.union_size,
                           "positions": result.positions, "backend": result.backend}


def _bounds_summary(network, job) -> dict:
    from ilpregions.services.multilayer import compute_bounds

    report = compute_bounds(network, time_limit=job["time_limit"], **job["options"])
    return {"lower": report.lower, "upper": report.upper, "lower_name": report.lower_name,
            "upper_name": report.upper_name, "params": report.params, "neurons": report.neurons}


def _task_bounds(network, job) -> tuple[str, dict]:
    from ilpregions.core.results import COMPLETE

    return COMPLETE, _bounds_summary(network, job)


def _log10_ratio(value, params) -> str | None:
    if not value or not params:
        return None
    text = decimal_string(value)
    head = int(text[:17])
    # log10 of an exact integer of any size, through its decimal string (no float overflow)
    return f"{math.log10(head) + len(text) - len(str(head)) - math.log10(params):.6f}"


def _task_claims(network, job) -> tuple[str, dict]:
    """Regions per parameter, the quantity the paper's claims compare (MATH.md §6)."""
    from ilpregions.core.results import COMPLETE

    summary = _bounds_summary(network, job)
    params = summary["params"]
    return COMPLETE, {"lower": summary["lower"], "upper": summary["upper"], "params": params,
                      "log10_lower_per_param": _log10_ratio(summary["lower"], params),
                      "log10_upper_per_param": _log10_ratio(summary["upper"], params)}


_TASKS: dict[str, Callable] = {"count": _task_count, "bounds": _task_bounds, "claims": _task_claims}


def run_point(job: Mapping[str, Any]) -> dict[str, str]:
    """Run one grid point; never raises (failures become ``status``/``error``).

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
    from ilpregions.core.spec import network_from_dict

    start = time.perf_counter()
    task = job["task"]
    row: dict[str, Any] = {"id": job["id"]}
    try:
        network = network_from_dict(job["spec"])
        status, values = _TASKS[task](network, job)
        row.update(values)
        row["status"] = status
    except TooLargeError as exc:
        row["status"], row["error"] = TOO_LARGE, _one_line(exc)
    except BackendUnavailableError as exc:
        row["status"], row["error"] = UNAVAILABLE, _one_line(exc)
    except InputError as exc:
        row["status"], row["error"] = INVALID, _one_line(exc)
    except Exception as exc:  # noqa: BLE001 - a crashed point must not sink the sweep
        row["status"], row["error"] = ERROR, f"{exc.__class__.__name__}: {_one_line(exc)}"
    row["seconds"] = f"{time.perf_counter() - start:.6f}"
    return {key: _text(value) for key, value in row.items()}


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else exc.__class__.__name__


# ----------------------------------------------------------------------------
# Executors: each yields result rows in completion order
# ----------------------------------------------------------------------------

def run_points(jobs: Sequence[Mapping[str, Any]]) -> list[dict[str, str]]:
    """:func:`run_point` on a chunk of points (one task on a worker)."""
    return [run_point(job) for job in jobs]


def _chunks(jobs: Iterable[dict], size: int) -> Iterator[list[dict]]:
    jobs = iter(jobs)
    while chunk := list(itertools.islice(jobs, size)):
        yield chunk


# Executors take chunks of jobs and yield lists of rows, in completion order.

def _serial(chunks: Iterator[list[dict]]) -> Iterator[list[dict]]:
    for chunk in chunks:
        for job in chunk:
            yield [run_point(job)]


def _pool(chunks: Iterator[list[dict]], workers: int) -> Iterator[list[dict]]:
    window = 4 * workers  # bounded in-flight futures: a million-point grid stays small in memory
    with ProcessPoolExecutor(max_workers=workers) as pool:
        pending = {pool.submit(run_points, chunk) for chunk in itertools.islice(chunks, window)}
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                yield future.result()
            pending |= {pool.submit(run_points, chunk) for chunk in itertools.islice(chunks, len(done))}


def _dask(chunks: Iterator[list[dict]], scheduler) -> Iterator[list[dict]]:
    try:
        from distributed import Client, as_completed
    except ImportError:
        raise InputError("--scheduler needs Dask: pip install 'ilpregions[dask]'") from None
    own_client = not isinstance(scheduler, Client)
    if own_client:
        try:
            # Connect timeout: Dask's config (distributed.comm.timeouts.connect, 30 s by default).
            client = Client(scheduler)
        except (OSError, TimeoutError) as exc:
            raise InputError(f"cannot reach the Dask scheduler at {scheduler!r}: {_one_line(exc)}") from None
    else:
        client = scheduler
    try:
        # Submit in batches (one round trip each), refilled at half: bounded
        # memory on huge grids, and the cluster never runs dry.
        batch = max(64, 8 * sum(client.nthreads().values()))
        queue = as_completed(client.map(run_points, list(itertools.islice(chunks, 2 * batch)), pure=False))
        outstanding = queue.count()
        for future in queue:
            yield future.result()
            future.release()
            outstanding -= 1
            if outstanding < batch:
                more = list(itertools.islice(chunks, batch))
                if more:
                    queue.update(client.map(run_points, more, pure=False))
                    outstanding += len(more)
    finally:
        if own_client:
            client.close()


# ----------------------------------------------------------------------------
# Output: streaming, atomic CSV (optionally converted to Parquet at the end)
# ----------------------------------------------------------------------------

def _csv_line(columns: Sequence[str], row: Mapping[str, str]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow([row.get(c, "") for c in columns])
    return buffer.getvalue()


def _atomic_write(path: Path, text: str) -> None:
    """Write-temp-then-rename, fsynced: readers see the old or the new file, never half."""
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    with open(tmp, "w", encoding="utf-8", newline="") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def read_rows(path: str | Path, grid: Grid | None = None) -> list[dict[str, str]]:
    """The complete rows of a (possibly interrupted) sweep CSV.

    A torn last line (no newline: the process died mid-write) and repeated ids
    are dropped. With ``grid``, the header and every row's grid values must
    match it, else an :class:`~ilpregions.core.errors.InputError` says what differs.
    """
    path = Path(path)
    text = path.read_text(encoding="utf-8")
    if text and not text.endswith("\n"):
        text = text[: text.rfind("\n") + 1]  # drop the torn line
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if header is None:
        return []
    if grid is not None and tuple(header) != grid.columns:
        raise InputError(f"{path}: its columns {header} are not this grid's {list(grid.columns)}; "
                         f"it was written by another grid or task (use a new -o, or --overwrite)")
    rows, seen = [], set()
    for record in reader:
        if len(record) != len(header):
            continue
        row = dict(zip(header, record))
        try:
            index = int(row["id"])
        except (KeyError, ValueError):
            continue
        if index in seen:
            continue
        if grid is not None:
            if not 0 <= index < len(grid):
                raise InputError(f"{path}: row id {index} is outside this grid of {len(grid)} points; "
                                 f"the grid changed (use a new -o, or --overwrite)")
            expected = grid.param_cells(index)
            for key, cell in expected.items():
                if row[key] != cell:
                    raise InputError(f"{path}: row id {index} has {key} = {row[key]} but the grid says "
                                     f"{cell}; the grid changed (use a new -o, or --overwrite)")
        seen.add(index)
        rows.append(row)
    return rows


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


def _parquet(rows: Sequence[Mapping[str, str]], columns: Sequence[str], path: Path) -> None:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise InputError("Parquet output needs pyarrow (pip install pyarrow); or write .csv") from None
    # Exact integers can exceed int64, so every column but id stays text.
    table = pa.table({c: ([int(r[c]) for r in rows] if c == "id" else [r[c] for r in rows])
                      for c in columns})
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    pq.write_table(table, tmp)
    os.replace(tmp, path)
    _fsync_dir(path.parent)


def run_sweep(grid: Grid | str | Path, *, workers: int | None = None, scheduler=None,
              output: str | Path | None = None, resume: bool = False, overwrite: bool = False,
              progress: bool = False, stream: Any = None, chunk: int = 1) -> SweepSummary:
    """Run a grid's task on every point and collect the rows.

    Parameters
    ----------
    grid : Grid or path to a grid TOML file
    workers : int, optional
        1 runs in this process; N > 1 uses a local process pool of N;
        default ``os.cpu_count()``. Ignored when ``scheduler`` is given.
    scheduler : str or distributed.Client, optional
        A Dask scheduler address (``tcp://host:port``) or a connected client.
    output : path, optional
        ``.csv`` (streamed, one complete line per finished point, flushed at
        once; fsynced at least every second and at the end; finally rewritten
        in id order by write-temp-then-rename) or ``.parquet`` (needs pyarrow;
        streamed to a ``.partial.csv`` beside it, converted at the end).
    resume : bool
        Keep the rows already in ``output`` and run only the missing points.
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

    Returns
    -------
    SweepSummary
    """
    from ilpregions.core.progress import Progress

    start = time.perf_counter()
    if not isinstance(grid, Grid):
        grid = load_grid(grid)
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
        raise InputError(f"workers must be a positive integer, got {workers!r}")
    if isinstance(chunk, bool) or not isinstance(chunk, int) or chunk < 1:
        raise InputError(f"chunk must be a positive integer, got {chunk!r}")
    if resume and overwrite:
        raise InputError("--resume and --overwrite contradict each other")
    if resume and output is None:
        raise InputError("--resume needs -o FILE: the results of the interrupted run")
    columns = grid.columns
    total = len(grid)

    final_path = Path(output) if output is not None else None
    csv_path = None
    if final_path is not None:
        csv_path = final_path.with_name(final_path.name + ".partial.csv") \
            if final_path.suffix == ".parquet" else final_path
        if final_path.suffix == ".parquet":
            try:
                import pyarrow  # noqa: F401  - fail before any work
            except ImportError:
                raise InputError("Parquet output needs pyarrow (pip install pyarrow); or write .csv") from None
        csv_path.parent.mkdir(parents=True, exist_ok=True)

    done_rows: dict[int, dict[str, str]] = {}
    if csv_path is not None and csv_path.exists():
        if resume:
            for row in read_rows(csv_path, grid):
                done_rows[int(row["id"])] = row
        elif not overwrite:
            raise InputError(f"{csv_path} exists; pass --resume to continue it or --overwrite to replace it")
    elif final_path is not None and final_path.exists():
        if not (resume or overwrite):
            raise InputError(f"{final_path} exists; pass --resume to continue it or --overwrite to replace it")
        if resume:  # a finished Parquet file: its rows are done
            import pyarrow.parquet as pq

            for row in pq.read_table(final_path).to_pylist():
                row = {k: str(v) for k, v in row.items()}
                if tuple(row) != grid.columns or not 0 <= int(row["id"]) < len(grid) \
                        or row != {**row, **grid.param_cells(int(row["id"]))}:
                    raise InputError(f"{final_path} was written by another grid (use a new -o, or --overwrite)")
                done_rows[int(row["id"])] = row
    if csv_path is not None:
        # A clean file with only complete rows, so appends start on a fresh line.
        _atomic_write(csv_path, _csv_line(columns, dict(zip(columns, columns)))
                      + "".join(_csv_line(columns, done_rows[i]) for i in sorted(done_rows)))

    todo = [i for i in range(total) if i not in done_rows]
    chunks = _chunks((grid.job(i) for i in todo), chunk)
    if scheduler is not None:
        results = _dask(chunks, scheduler)
    elif workers == 1 or len(todo) <= 1:
        results = _serial(chunks)
    else:
        results = _pool(chunks, workers or os.cpu_count() or 1)
    rows_done = (row for rows in results for row in rows)

    bar = Progress("sweep", total=len(todo), enabled=progress, unit="pt")
    ordered_next = 0  # for `stream`: the next id to emit in order
    if stream is not None:
        stream.write(_csv_line(columns, dict(zip(columns, columns))))
    handle = open(csv_path, "a", encoding="utf-8", newline="") if csv_path is not None else None
    last_sync = time.monotonic()
    counts: dict[str, int] = {}
    try:
        for row in rows_done:
            index = int(row["id"])
            row = {**grid.param_cells(index), **row}
            row = {c: row.get(c, "") for c in columns}  # every column, in order
            done_rows[index] = row
            if handle is not None:
                handle.write(_csv_line(columns, row))
                handle.flush()  # in the OS now: survives a kill of this process
                if time.monotonic() - last_sync > 1.0:
                    os.fsync(handle.fileno())  # and on disk at least every second
                    last_sync = time.monotonic()
            if stream is not None:
                while ordered_next in done_rows:
                    stream.write(_csv_line(columns, done_rows[ordered_next]))
                    ordered_next += 1
                stream.flush()
            counts[row["status"]] = counts.get(row["status"], 0) + 1
            bar.update(1)
    finally:
        bar.close()
        if handle is not None:
            handle.flush()
            os.fsync(handle.fileno())
            handle.close()

    rows = tuple(done_rows[i] for i in sorted(done_rows))
    if csv_path is not None:
        if final_path.suffix == ".parquet":
            _parquet(rows, columns, final_path)
            csv_path.unlink()
        else:
            _atomic_write(csv_path, "".join(_csv_line(columns, r) for r in
                                            [dict(zip(columns, columns)), *rows]))
    statuses: dict[str, int] = {}
    for row in rows:
        statuses[row["status"]] = statuses.get(row["status"], 0) + 1
    return SweepSummary(points=total, ran=len(todo), skipped=total - len(todo),
                        statuses=dict(sorted(statuses.items())),
                        output=None if final_path is None else str(final_path), rows=rows,
                        seconds=time.perf_counter() - start)


__all__ = ["Grid", "SweepSummary", "TASKS", "TASK_COLUMNS", "grid_from_dict", "load_grid",
           "run_point", "run_points", "run_sweep", "read_rows", "format_cell"]

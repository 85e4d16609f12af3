"""The sweep grid: its TOML schema, validation, lazy points and fingerprint.

The format is documented in :mod:`ilpregions.services.sweep._run`. Points are
computed from their id on demand (mixed-radix digits of the id), so a grid
never lists its points up front; :data:`MAX_GRID_POINTS` bounds the size a
sweep accepts, because finished rows are kept for the final ordered file.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from ilpregions.core.errors import SpecError, TooLargeError, did_you_mean, reject_unknown_keys

TASKS = ("count", "bounds", "claims")

#: Largest grid a sweep runs: its rows (a few hundred bytes each) are kept
#: in memory to write the final file in id order.
MAX_GRID_POINTS = 10_000_000

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

    Parameters
    ----------
    value : object
        A grid value (str, number, bool, list).

    Returns
    -------
    str
        The cell's text.

    Examples
    --------
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

    Parameters
    ----------
    data : mapping
        The grid's tables: ``name``, ``task``, ``backend``, ``time_limit``,
        ``options``, ``base`` (a spec table or a path) and ``grid`` (field
        path -> list of values).
    source : str, optional
        Where the data came from, prefixed to error messages.
    base_dir : Path, optional
        The directory a ``base = "path"`` is relative to.

    Returns
    -------
    Grid
        The validated grid; its points are computed on demand.

    Raises
    ------
    SpecError
        A key is unknown or a value invalid; the message names the field.
    UnknownBackendError
        ``backend`` is not a counting backend.
    TooLargeError
        More than ``MAX_GRID_POINTS`` points.

    Examples
    --------
    >>> grid = grid_from_dict({"base": {"input": [4, 1], "layers": [{"type": "conv", "filters": 1, "kernel": 2}]},
    ...                        "grid": {"layers[0].filters": [1, 2]}})
    >>> len(grid), grid.keys
    (2, ('layers[0].filters',))
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
        base = _read_base(base, base_dir)
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
    if len(grid) > MAX_GRID_POINTS:
        raise TooLargeError(f"grid: {len(grid)} points, over the limit of {MAX_GRID_POINTS} points "
                            f"per sweep; split it into several sweeps")
    if len(grid):
        grid.spec(0)  # a path that cannot be applied at all fails here, naming the key
    return grid


def _read_base(base: str, base_dir: Path | None) -> Any:
    """The spec file a grid's ``base = "path"`` names, read bounded, as plain data."""
    from ilpregions.core.safe_io import read_text_bounded
    from ilpregions.core.spec_toml import parse_toml

    path = Path(base) if base_dir is None or Path(base).is_absolute() else base_dir / base
    try:
        return parse_toml(read_text_bounded(path, what="a spec file"), str(path))
    except SpecError as exc:
        raise SpecError("base", f"{str(path)!r}: {exc.message}") from None


def load_grid(path: str | Path) -> Grid:
    r"""Read and validate a grid TOML file (its format: docs/guide.md#sweeps-over-many-architectures).

    Parameters
    ----------
    path : str or Path
        A regular UTF-8 TOML file of at most a few MB.

    Returns
    -------
    Grid
        The validated grid (:func:`grid_from_dict`); a relative ``base`` path
        is read from the file's directory.

    Raises
    ------
    SpecError
        The file cannot be read or is not a valid grid; the message names the
        file and the field.

    Examples
    --------
    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "grid.toml")
    >>> with open(path, "w") as fh:
    ...     _ = fh.write('[base]\ninput = [4, 1]\nlayers = [{type = "conv", filters = 1, kernel = 2}]\n'
    ...                  '[grid]\n"layers[0].filters" = [1, 2, 3]\n')
    >>> len(load_grid(path))
    3
    """
    from ilpregions.core.safe_io import read_text_bounded
    from ilpregions.core.spec_toml import parse_toml

    path = Path(path)
    data = parse_toml(read_text_bounded(path, what="a grid file"), str(path))
    return grid_from_dict(data, source=str(path), base_dir=path.parent)


def fingerprint_parts(grid: Grid) -> dict[str, str]:
    """Digests of what decides a sweep's rows: base, axes, task settings, version.

    ``--resume`` compares them with the ones stored beside the output, so
    rows of another base spec, backend, options or release are never mixed
    into one file. The grid's ``name`` is left out (it changes no row).

    >>> g = grid_from_dict({"base": {"input": [3, 1], "layers": []}, "grid": {}})
    >>> sorted(fingerprint_parts(g))
    ['axes', 'base', 'settings', 'version']
    """
    from ilpregions import __version__

    def digest(value) -> str:
        text = json.dumps(value, sort_keys=True, separators=(",", ":"), default=repr)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]

    return {"base": digest(grid.base), "axes": digest([[k, list(v)] for k, v in grid.axes]),
            "settings": digest({"task": grid.task, "backend": grid.backend,
                                "time_limit": grid.time_limit, "options": grid.options}),
            "version": __version__}

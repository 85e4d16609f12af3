"""Sweep output: streamed CSV, the fingerprint sidecar, resume, Parquet.

The output file is written only through :mod:`ilpregions.core.safe_io`:
regular files only (a device or FIFO is refused, never replaced), under an
exclusive lock for the whole sweep, rewritten atomically at start and end.

Beside it, ``NAME.sweep.json`` stores the grid's fingerprint (digests of the
base spec, the axes, the task settings and the package version);
``--resume`` refuses a file whose fingerprint is missing or differs, naming
what changed, so rows of two different sweeps are never mixed.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Mapping, Sequence

from ilpregions.core.errors import InputError, ParameterError
from ilpregions.core.safe_io import atomic_path, atomic_write, read_text_bounded
from ilpregions.services.sweep._grid import Grid, fingerprint_parts

#: The fingerprint sidecar is tiny; anything bigger is not ours.
_SIDECAR_LIMIT = 64 * 1024


def csv_line(columns: Sequence[str], row: Mapping[str, str]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow([row.get(c, "") for c in columns])
    return buffer.getvalue()


def header_line(columns: Sequence[str]) -> str:
    return csv_line(columns, dict(zip(columns, columns)))


def sidecar_path(output: Path) -> Path:
    """``NAME.sweep.json`` beside the output: the grid fingerprint."""
    return output.with_name(output.name + ".sweep.json")


def write_fingerprint(output: Path, grid: Grid) -> None:
    record = {"format": "ilpregions-sweep-1", "points": len(grid), "task": grid.task,
              "fingerprint": fingerprint_parts(grid)}
    atomic_write(sidecar_path(output), json.dumps(record, indent=2) + "\n")


_WHAT = {"base": "the base spec", "axes": "the grid axes",
         "settings": "the task, backend, time limit or options", "version": "the ilpregions version"}


def check_fingerprint(output: Path, grid: Grid) -> None:
    """Refuse to resume ``output`` unless its sidecar fingerprint matches ``grid``."""
    sidecar = sidecar_path(output)
    hint = "(use a new `output`, or `overwrite=True`)"
    if not sidecar.exists():
        raise InputError(f"{output}: no fingerprint file {sidecar.name} beside it, so it cannot be "
                         f"checked to come from this grid {hint}")
    try:
        stored = json.loads(read_text_bounded(sidecar, _SIDECAR_LIMIT, "a sweep fingerprint"))["fingerprint"]
    except (ValueError, KeyError, TypeError):
        raise InputError(f"{sidecar}: not a sweep fingerprint file {hint}") from None
    if not isinstance(stored, dict):
        raise InputError(f"{sidecar}: not a sweep fingerprint file {hint}")
    current = fingerprint_parts(grid)
    changed = [_WHAT[k] for k in current if stored.get(k) != current[k]]
    if changed:
        raise InputError(f"{output}: was written by another sweep: {', '.join(changed)} changed "
                         f"(stored {stored.get('version', '?')}) {hint}")


def _row_matches(grid: Grid, path: Path, index: int, row: Mapping[str, str]) -> None:
    if not 0 <= index < len(grid):
        raise ParameterError("resume", f"{path}: row id {index} is outside this grid of {len(grid)} "
                             f"points; the grid changed (write to a new output, or overwrite it)")
    for key, cell in grid.param_cells(index).items():
        if row[key] != cell:
            raise ParameterError("resume", f"{path}: row id {index} has {key} = {row[key]} but the "
                                 f"grid says {cell}; the grid changed (write to a new output, or overwrite it)")


def read_rows(path: str | Path, grid: Grid | None = None) -> list[dict[str, str]]:
    """The complete rows of a (possibly interrupted) sweep CSV.

    A torn last line (no newline: the process died mid-write) and repeated ids
    are dropped, and so are rows of an ``interrupted`` point (never a result).

    Parameters
    ----------
    path : str or Path
        The sweep's CSV file.
    grid : Grid, optional
        When given, the header and every row's grid values must match it.

    Returns
    -------
    list of dict of str to str
        The rows, cells as text.

    Raises
    ------
    InputError
        The file cannot be read or is not UTF-8.
    ParameterError
        For parameter ``resume``: with ``grid``, the file's columns or grid
        values are not this grid's (the message says what differs).

    Examples
    --------
    >>> import os, tempfile
    >>> from ilpregions.services.sweep import grid_from_dict, run_sweep
    >>> grid = grid_from_dict({"base": {"input": [4, 1], "layers": [{"type": "conv", "filters": 1, "kernel": 2}]},
    ...                        "grid": {"layers[0].filters": [1, 2]}})
    >>> path = os.path.join(tempfile.mkdtemp(), "sweep.csv")
    >>> _ = run_sweep(grid, workers=1, output=path)
    >>> [row["regions"] for row in read_rows(path, grid)]
    ['8', '55']
    """
    from ilpregions.core.safe_io import open_input

    path = Path(path)
    try:  # a regular file only, never a blocking open; 1 GiB at most
        with open_input(path, 1 << 30, "a sweep CSV") as handle:
            text = handle.read().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not a sweep CSV (not UTF-8 at byte {exc.start})") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if text and not text.endswith("\n"):
        text = text[: text.rfind("\n") + 1]  # drop the torn line
    reader = csv.reader(io.StringIO(text))
    try:
        header = next(reader, None)
        if header is None:
            return []
        if grid is not None and tuple(header) != grid.columns:
            raise ParameterError("resume", f"{path}: its columns {header} are not this grid's "
                                 f"{list(grid.columns)}; it was written by another grid or task "
                                 f"(write to a new output, or overwrite it)")
        return _records(reader, header, grid, path)
    except csv.Error as exc:
        raise InputError(f"{path}: not a sweep CSV ({exc})") from None


#: The statuses a finished point is stored with (anything else in the column is re-run on resume).
_STORED = frozenset({"complete", "time_limit", "memory_cap", "unavailable", "unsupported", "too_large",
                     "error", "invalid"})


def _records(reader, header, grid: Grid | None, path: Path) -> list[dict[str, str]]:
    rows, seen = [], set()
    for record in reader:
        if len(record) != len(header):
            continue
        row = dict(zip(header, record))
        try:
            index = int(row["id"])
        except (KeyError, ValueError):
            continue
        if index in seen or row.get("status") not in _STORED:
            continue  # interrupted, or a status cell that is not one we write (corrupted): run it again
        if grid is not None:
            _row_matches(grid, path, index, row)
        seen.add(index)
        rows.append(row)
    return rows


def read_parquet_rows(path: Path, grid: Grid) -> list[dict[str, str]]:
    """The rows of a finished Parquet sweep, checked against ``grid``."""
    import pyarrow.parquet as pq

    rows = []
    for row in pq.read_table(path).to_pylist():
        row = {k: str(v) for k, v in row.items()}
        if tuple(row) != grid.columns:
            raise ParameterError("resume", f"{path} was written by another grid "
                                 f"(write to a new output, or overwrite it)")
        _row_matches(grid, path, int(row["id"]), row)
        rows.append(row)
    return rows


def require_pyarrow() -> None:
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        raise InputError("Parquet output needs pyarrow (pip install pyarrow); or write .csv") from None


def write_parquet(rows: Sequence[Mapping[str, str]], columns: Sequence[str], path: Path) -> None:
    require_pyarrow()
    import pyarrow as pa
    import pyarrow.parquet as pq

    # Exact integers can exceed int64, so every column but id stays text.
    table = pa.table({c: ([int(r[c]) for r in rows] if c == "id" else [r[c] for r in rows])
                      for c in columns})
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp)


def write_csv(rows: Sequence[Mapping[str, str]], columns: Sequence[str], path: Path) -> None:
    atomic_write(path, header_line(columns) + "".join(csv_line(columns, r) for r in rows))

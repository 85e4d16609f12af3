"""``ilpregions sweep GRID.toml``: one task over a grid of architectures, in parallel.

The grid format is documented in :mod:`ilpregions.services.sweep._run`. Rows stream to the
output as points finish; ``--resume`` continues a killed run.
"""

from __future__ import annotations

import argparse
import sys

from ilpregions.core.errors import EXIT_OK, EXIT_BAD_INPUT, EXIT_PARTIAL
from ilpregions.cli.commands._common import add_json_argument, add_time_limit_argument, json_record, print_json


def _workers(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text!r}")
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text!r}")
    return value


def register(sub) -> None:
    parser = sub.add_parser(
        "sweep", help="run count, bounds or claims over a grid of architectures",
        description="Run a task (count, bounds or claims) on every point of a grid: a base spec and "
                    "lists of values for some of its fields, in TOML (format: docs/guide.md, "
                    "'Sweeps', or help(ilpregions.services.sweep._run)). Rows stream to the output as they finish; "
                    "a killed sweep loses no finished row, and --resume runs only the missing points. "
                    "Exit code 3 if a point timed out or failed.")
    parser.add_argument("grid", metavar="GRID", help="grid definition (TOML)")
    parser.add_argument("--workers", type=_workers, default=None, metavar="N",
                        help="local processes (default: all cores; 1 = run in this process)")
    parser.add_argument("--scheduler", default=None, metavar="ADDRESS",
                        help="run on a Dask distributed cluster, e.g. tcp://10.0.0.5:8786")
    parser.add_argument("-o", "--output", default=None, metavar="FILE",
                        help="results file, .csv (or .parquet with pyarrow); default: CSV on stdout. "
                             "Only a regular file is written, under a lock; its grid fingerprint goes "
                             "to FILE.sweep.json")
    parser.add_argument("--chunk", type=_workers, default=1, metavar="K",
                        help="points per worker task (default 1); raise it for millisecond points, "
                             "to amortise Dask's per-task overhead")
    parser.add_argument("--resume", action="store_true",
                        help="keep the rows already in FILE and run only the missing points (refused "
                             "unless FILE was written by this same grid, base, task, options and version)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing FILE")
    parser.add_argument("--quiet", action="store_true", help="no progress bar or summary on stderr")
    add_time_limit_argument(parser, "for the whole sweep: no result is taken after it (a running point ends "
                                    "within the grid's per-point limit); exit 3, and --resume runs the rest")
    add_json_argument(parser)
    parser.set_defaults(func=run)


def run(args) -> int:
    from ilpregions.services.sweep import load_grid, run_sweep

    grid = load_grid(args.grid)
    stream = sys.stdout if args.output is None and not args.json else None
    summary = run_sweep(grid, workers=args.workers, scheduler=args.scheduler, output=args.output,
                        resume=args.resume, overwrite=args.overwrite, progress=not args.quiet,
                        stream=stream, chunk=args.chunk, time_limit=args.time_limit)
    partial = sum(n for s, n in summary.statuses.items() if s not in ("complete", "invalid"))
    partial += summary.points - len(summary.rows)  # not run: the sweep's own time limit
    if args.json:
        fields = {"points": summary.points, "ran": summary.ran, "skipped": summary.skipped,
                  "statuses": dict(summary.statuses), "output": summary.output}
        if summary.output is None:
            fields["rows"] = [dict(row) for row in summary.rows]  # exact integers stay strings
        status = "time_limit" if not summary.complete else ("partial" if partial else "complete")
        print_json(json_record(None, status, summary.seconds,
                               grid=args.grid, **fields))
    elif not args.quiet:
        where = f" -> {summary.output}" if summary.output else ""
        statuses = ", ".join(f"{n} {s}" for s, n in summary.statuses.items())
        resumed = f" ({summary.skipped} already done)" if summary.skipped else ""
        stopped = "" if summary.complete else (f"; time limit: {summary.points - len(summary.rows)} points "
                                               f"not run (--resume runs them)")
        sys.stderr.write(f"sweep: {summary.points} points{resumed}: {statuses}{where}{stopped} "
                         f"[{summary.seconds:.1f} s]\n")
    if summary.points and summary.statuses.get("invalid", 0) == summary.points:
        sys.stderr.write(f"ilpregions sweep: error: all {summary.points} points of the grid are invalid "
                         f"(their errors are in the output)\n")
        return EXIT_BAD_INPUT
    return EXIT_PARTIAL if partial else EXIT_OK

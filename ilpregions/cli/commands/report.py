"""``ilpregions report``: regenerate the bounds/claims tables and plots under ``<out>/report/``."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from ilpregions.core.errors import EXIT_OK, EXIT_PARTIAL
from ilpregions.cli.commands._common import add_json_argument, add_time_limit_argument, json_record, print_json

DEFAULT_SWEEPS_FILE = Path("results") / "report" / "sweeps.toml"


def register(sub) -> None:
    parser = sub.add_parser("report", help="regenerate tables (CSV, Markdown) and plots (PNG) of bounds and claims",
                            description="Rebuilds <out>/report/ from models/*.toml and the sweep definitions.")
    parser.add_argument("--out", default="results", metavar="DIR", help="output root (default results); "
                                                                       "files go to DIR/report/")
    parser.add_argument("--sweeps", default=None, metavar="FILE",
                        help=f"sweep definitions (default {DEFAULT_SWEEPS_FILE} when it exists, else built-in)")
    parser.add_argument("--no-plots", action="store_true", help="tables only")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    add_time_limit_argument(parser, "no section starts after S seconds; the ones left keep their earlier "
                                    "files and are listed (exit code 3)")
    add_json_argument(parser)
    parser.set_defaults(func=run)


def run(args) -> int:
    from ilpregions.core.safe_io import output_directory, read_text_bounded
    from ilpregions.services.report import build_report, load_sweeps

    start = time.perf_counter()
    # Before any work: refuse a --out that is not a directory or that holds a
    # device or FIFO where a table would land, and a sweeps file that is not a
    # small regular UTF-8 file.
    output_directory(args.out)
    output_directory(Path(args.out) / "report")
    sweeps_path = args.sweeps
    if sweeps_path is None and DEFAULT_SWEEPS_FILE.exists():
        sweeps_path = DEFAULT_SWEEPS_FILE
    if sweeps_path is not None and os.path.lexists(sweeps_path):  # a missing one: load_sweeps says so
        read_text_bounded(sweeps_path, what="a sweeps file")
    sweeps = load_sweeps(sweeps_path)
    result = build_report(args.out, sweeps, plots=not args.no_plots, progress=not args.quiet,
                          time_limit=None if args.time_limit is None
                          else max(0.0, args.time_limit - (time.perf_counter() - start)))
    code = EXIT_PARTIAL if result["skipped"] else EXIT_OK
    if args.json:
        print_json(json_record(None, "time_limit" if result["skipped"] else "complete", time.perf_counter() - start,
                               directory=result["directory"], files=list(result["files"]),
                               plots=bool(result.get("plots")), skipped=list(result["skipped"]),
                               stages={k: round(v, 6) for k, v in result["seconds"].items()}))
        return code
    print(f"wrote {len(result['files'])} files to {result['directory']}/: {', '.join(result['files'])}")
    for stage, seconds in result["seconds"].items():
        print(f"  {stage}: {seconds:.1f} s", file=sys.stderr)
    if result["skipped"]:
        print(f"time limit: not rebuilt: {', '.join(result['skipped'])}", file=sys.stderr)
    return code

"""``ilpregions report``: regenerate the bounds/claims tables and plots under ``<out>/report/``."""

from __future__ import annotations

import sys
from pathlib import Path

from ilpregions.core.errors import EXIT_OK

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
    parser.set_defaults(func=run)


def run(args) -> int:
    from ilpregions.core.safe_io import output_directory
    from ilpregions.services.report import build_report, load_sweeps

    # Refuse a --out that is not a directory, or holds a device/FIFO where a
    # table would land, before any work (the writes themselves are atomic).
    output_directory(args.out)
    output_directory(Path(args.out) / "report")
    sweeps_path = args.sweeps
    if sweeps_path is None and DEFAULT_SWEEPS_FILE.exists():
        sweeps_path = DEFAULT_SWEEPS_FILE
    sweeps = load_sweeps(sweeps_path)
    result = build_report(args.out, sweeps, plots=not args.no_plots, progress=not args.quiet)
    print(f"wrote {len(result['files'])} files to {result['directory']}/: {', '.join(result['files'])}")
    for stage, seconds in result["seconds"].items():
        print(f"  {stage}: {seconds:.1f} s", file=sys.stderr)
    return EXIT_OK

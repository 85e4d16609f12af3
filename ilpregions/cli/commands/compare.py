"""``ilpregions compare MODEL``: every counting backend side by side."""

from __future__ import annotations

import sys
import time

from ilpregions import backends
from ilpregions.core.combinatorics import decimal_string
from ilpregions.core.errors import EXIT_BAD_INPUT, EXIT_DISAGREE, EXIT_OK, EXIT_PARTIAL
from ilpregions.cli.commands._common import (add_json_argument, add_model_argument, add_time_limit_argument, json_record,
                                             load_model, print_json, short_int)


def register(sub) -> None:
    paths = ", ".join(backends.backend_names(backends.COUNT))
    parser = sub.add_parser(
        "compare", help="run every installed counting backend and check that they agree",
        description=f"Count R_N with every installed counting path ({paths}) under one time limit "
                    f"shared by all of them (default 10 s; each path gets an equal share of what is "
                    f"left). Exit code 1 when complete backends disagree, 2 when every backend refused "
                    f"the model as too large, 3 when none completed.")
    add_model_argument(parser)
    add_time_limit_argument(parser)
    add_json_argument(parser)
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    from ilpregions.cli.commands.count import positive_gib
    parser.add_argument("--memory-cap", type=positive_gib, metavar="GIB", default=None,
                        help="passed to every backend, as `count --memory-cap` does")
    parser.set_defaults(func=run)


def format_table(report) -> list[str]:
    header = ("backend", "regions", "exact?", "seconds", "t-vectors / solutions", "status")
    lines = []
    for r in report.rows:
        if r.t_vectors is not None:
            work = f"{decimal_string(r.t_vectors)} t-vectors"
        elif r.solutions is not None:
            work = f"{r.solutions} solutions"
        else:
            work = "-"
        lines.append((r.backend, "-" if r.regions is None else short_int(r.regions),
                      "yes" if r.exact else "no", "-" if r.seconds is None else f"{r.seconds:.3f}",
                      work, r.status + (f" ({r.note})" if r.note else "")))
    widths = [max(len(row[i]) for row in [header] + lines) for i in range(len(header) - 1)]
    out = []
    for row in [header] + lines:
        out.append("  ".join(c.ljust(w) for c, w in zip(row, widths)) + "  " + row[-1])
    return out


def run(args) -> int:
    from ilpregions.services.count import all_refused, compare

    start = time.perf_counter()
    network = load_model(args.model)
    limit = 10.0 if args.time_limit is None else args.time_limit
    cap = None if args.memory_cap is None else int(args.memory_cap * 2 ** 30)
    report = compare(network, time_limit=limit, progress=not args.quiet, memory_cap=cap)
    if args.json:
        status = ("disagree" if not report.agree else "complete" if report.regions is not None
                  else "too_large" if all_refused(report) else "time_limit")
        print_json(json_record(args.model, status, time.perf_counter() - start, **report.to_json()))
    else:
        print(f"model: {args.model}" + (f" ({network.name})" if network.name else "") +
              f", {report.details['positions']} positions, |∪S| = {report.details['union_size']}, time limit {limit:g} s shared by all backends")
        for line in format_table(report):
            print(line)
        if report.agree and report.regions is not None:
            print(f"agree: yes — {len(report.complete_paths)} complete paths give R_N = {report.regions}")
        elif report.agree and all_refused(report):
            print("agree: no path ran (every backend refused the model as too large); nothing to compare")
        elif report.agree:
            print("agree: no complete path (time limits); nothing to compare")
        else:
            values = sorted({(r.regions, r.backend) for r in report.rows if r.status == "complete"})
            print("DISAGREEMENT: " + "; ".join(f"{b} = {v}" for v, b in values))
    if not report.agree:
        return EXIT_DISAGREE
    if all_refused(report):   # the table says why, per backend; stderr gets one line
        print("ilpregions compare: error: every counting backend refused this model as too large "
              "(reasons in the table)", file=sys.stderr)
        return EXIT_BAD_INPUT
    return EXIT_OK if report.regions is not None else EXIT_PARTIAL

"""``ilpregions export MODEL --format cp|lp|mps -o FILE``: write our K_N model."""

from __future__ import annotations

import time

from ilpregions.core.errors import EXIT_OK, EXIT_PARTIAL
from ilpregions.cli.commands._common import (add_json_argument, add_model_argument, add_time_limit_argument,
                                             decimal_string,
                                             json_record, load_model, print_json)


def register(sub) -> None:
    from ilpregions.services.check import FORMATS

    parser = sub.add_parser(
        "export", help="write the K_N integer program (CP-SAT text proto, LP or MPS)",
        description="Write exactly the model we solve: integer t_p ∈ [0, min(d1, |S_p|)], one row "
                    "Σ_{p∈J} t_p ≤ |∪_J S_p| per essential union J, objective max Σ t.")
    add_model_argument(parser)
    parser.add_argument("--format", required=True, choices=FORMATS,
                        help="cp (CP-SAT CpModelProto, text), lp or mps (through PuLP)")
    parser.add_argument("-o", "--output", required=True, metavar="FILE",
                        help="file to write (a regular file, replaced atomically; devices and FIFOs are refused)")
    add_time_limit_argument(parser)
    add_json_argument(parser)
    parser.set_defaults(func=run)


def run(args) -> int:
    from ilpregions.core.set_system import RowsTimeUp
    from ilpregions.services.check import export_model

    start = time.perf_counter()
    network = load_model(args.model)
    try:
        summary = export_model(network, args.format, args.output, time_limit=args.time_limit)
    except RowsTimeUp as exc:
        if args.json:
            print_json(json_record(args.model, "time_limit", time.perf_counter() - start, format=args.format,
                                   output=None, written=False))
        else:
            print(f"not written: {exc} (--time-limit {args.time_limit:g} s); nothing was written to {args.output}")
        return EXIT_PARTIAL
    if args.json:
        print_json(json_record(args.model, "complete", time.perf_counter() - start, format=summary.format,
                               output=args.output, variables=summary.variables, rows=summary.rows,
                               union_size=decimal_string(summary.union_size)))
        return EXIT_OK
    print(f"wrote {args.output}: {summary.format} model, {summary.variables} variables t_p, "
          f"{summary.rows} union rows, objective max Σ t (optimum |∪S| = {summary.union_size} "
          f"when d1 ≥ every |S_p|)")
    return EXIT_OK

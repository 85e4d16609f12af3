"""``ilpregions count MODEL``: the exact Theorem-1 count of a one-layer model."""

from __future__ import annotations

from ilpregions import backends
from ilpregions.core.bigint import short_text
from ilpregions.core.combinatorics import decimal_string, log10_int
from ilpregions.cli.flags import cli_text
from ilpregions.services.count import fraction_string
from ilpregions.core.results import MEMORY_CAP, TIME_LIMIT
from ilpregions.core.errors import EXIT_OK, EXIT_PARTIAL
from ilpregions.cli.commands._common import (add_json_argument, add_model_argument, add_time_limit_argument,
                      load_model, json_record, print_json, short_int)


def register(sub) -> None:
    names = backends.backend_names(backends.COUNT)
    parser = sub.add_parser("count", help="exact number of linear regions of one layer (Theorem 1)",
                            description="Exact R_N of a one-layer model: Σ_{t∈K_N} Π_p C(d1, t_p).")
    add_model_argument(parser)
    parser.add_argument("--backend", default="auto", metavar="NAME",
                        help=f"counting backend: auto (default), {', '.join(names)}")
    add_time_limit_argument(parser)
    add_json_argument(parser)
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument("--polynomial", action="store_true",
                        help="also give R_N(d1) as an exact polynomial in d1 (valid for every d1 >= 0), "
                             "its degree U and the leading constant c in R_N ~ c*d1^U (computed by the dp engine)")
    parser.add_argument("--memory-cap", type=positive_gib, metavar="GIB", default=None,
                        help="dp backend: refuse (before allocating) a step needing more than GIB GiB "
                             "(default 8); with --workers/--scheduler, per Dask task; scip, cpsat-binary, bruteforce: "
                             "refuse a model estimated above GIB GiB; cpsat, cpsat-rows: stop, with the partial sum "
                             "(exit 3, status memory_cap), once the solutions remembered would pass GIB GiB")
    parser.add_argument("--workers", type=positive_int, metavar="N", default=None,
                        help="dp backend: run the large DP stages on N local Dask worker processes, "
                             "states partitioned by key")
    parser.add_argument("--scheduler", metavar="ADDRESS", default=None,
                        help="dp backend: run the large DP stages on the Dask cluster at ADDRESS "
                             "(e.g. tcp://10.0.0.5:8786)")
    parser.set_defaults(func=run)


def positive_int(text: str) -> int:
    import argparse

    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--workers must be a positive integer, got {text!r}")
    if value < 1:
        raise argparse.ArgumentTypeError(f"--workers must be a positive integer, got {text!r}")
    return value


def positive_gib(text: str) -> float:
    import argparse

    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--memory-cap must be a number of GiB, got {text!r}")
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"--memory-cap must be a positive number of GiB, got {text!r}")
    if value > 2 ** 20:  # 1 PiB: beyond any machine, and its byte count stays a plain integer
        raise argparse.ArgumentTypeError(f"--memory-cap must be at most {2 ** 20} GiB, got {text!r}")
    return value


def run(args) -> int:
    from ilpregions.services.count import count_model

    network = load_model(args.model)
    cap = None if args.memory_cap is None else int(args.memory_cap * 2 ** 30)
    # tune_process: the CLI owns its process, so the dp engine may tune its allocator.
    out = count_model(network, backend=args.backend, time_limit=args.time_limit, progress=not args.quiet,
                      memory_cap=cap, dask_workers=args.workers, scheduler=args.scheduler,
                      polynomial=args.polynomial, tune_process=True, bounds_if_too_large=True)
    if out.count is None:    # too large for an exact count: the proven bounds instead (exit 3)
        _print_bounds(args, network, out)
        return EXIT_PARTIAL
    if args.json:
        _print_json(args, out)
    else:
        _print_text(args, network, out)
    return EXIT_OK if out.complete else EXIT_PARTIAL


def _print_json(args, out) -> None:
    record = out.count.to_json()
    record.pop("model", None)   # a backend's own "model" detail yields to the spec's path
    if out.polynomial_asked:
        if out.polynomial is None:
            record.update({"polynomial": None, "degree": out.count.union_size, "leading": None,
                           "polynomial_status": TIME_LIMIT})
        else:
            record.update(out.polynomial.to_json())
    print_json(json_record(args.model, record.pop("status"), record.pop("seconds"), **record))


def _print_bounds(args, network, out) -> None:
    from ilpregions.services.count import BOUNDS_ONLY

    report = out.bounds
    if args.json:
        print_json(json_record(args.model, BOUNDS_ONLY, out.seconds, regions=None, exact=False,
                               refused=out.refused, quantity="theorem1", bounds=report.to_json()))
        return
    label = f" ({network.name})" if network.name else ""
    print(f"model: {args.model}{label}")
    print(f"regions: not counted exactly ({cli_text(out.refused)})")
    print("proven bounds on R_N, the Theorem-1 value (the locally connected layer's maximum):")
    for kind, value, name in (("lower", report.lower, report.lower_name), ("upper", report.upper, report.upper_name)):
        print(f"  {kind}: {'none applies' if value is None else short_text(value)}"
              + (f"  ({name})" if name else ""))
    if report.lower and report.upper:
        print(f"  log10(upper) / log10(lower) = {log10_int(report.upper) / log10_int(report.lower):.4f}")
    if report.cut:
        print(f"  time limit: not run or cut short: {', '.join(report.cut)}")
    print("note: exact values, each proven; R_N bounds the shared-filter CNN from above, and "
          "`ilpregions bounds` gives the network's own bounds, each with its reason")


def _print_text(args, network, out) -> None:
    result = out.count
    label = f" ({network.name})" if network.name else ""
    print(f"model: {args.model}{label}")
    value = decimal_string(result.regions)
    if result.exact:
        print(f"regions: {value}")
    else:
        why = "memory cap reached" if result.status == MEMORY_CAP else "time limit reached"
        print(f"regions: at least {value} ({why}; partial sum, a lower bound)")
    if len(value) > 15:
        print(f"         ≈ {short_int(result.regions)}")
    t_info = (f"{decimal_string(result.t_vectors)} feasible t-vectors" if result.t_vectors is not None
              else "t-vectors: not all visited")
    print(f"backend: {result.backend}, {result.positions} positions, |∪S| = {result.union_size}, "
          f"{t_info}, {result.seconds:.3f} s")
    if "peak_states" in result.details:
        nbytes = result.details["peak_memory_bytes"]
        size = f"{nbytes / 2 ** 20:.1f} MiB" if nbytes >= 2 ** 20 else f"{nbytes / 2 ** 10:.1f} KiB"
        print(f"dp: peak {result.details['peak_states']} states, about {size}")
    if "dask_workers" in result.details:
        d = result.details
        print(f"dask: {d['dask_workers']} workers, up to {d['dask_max_partitions']} partitions, "
              f"{d['dask_steps']} distributed steps")
    if result.note:
        print(f"note: {cli_text(result.note)}")
    if out.polynomial_asked:
        poly = out.polynomial
        if poly is None:
            print("polynomial: not finished within the time limit")
        else:
            print(f"polynomial: R_N(d1) = {poly.text()}")
            print(f"degree: {poly.degree} (= |∪S|); leading constant: {fraction_string(poly.leading)} "
                  f"(R_N ~ {fraction_string(poly.leading)}·d1^{poly.degree})")

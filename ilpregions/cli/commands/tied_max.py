"""``ilpregions tied-max MODEL``: the real maximum of a one-layer CNN with shared filters."""

from __future__ import annotations

from ilpregions.core.errors import EXIT_OK, EXIT_PARTIAL
from ilpregions.cli.commands._common import (add_json_argument, add_model_argument, add_time_limit_argument, nonnegative_int,
                                             load_model, print_json, short_int)


def register(sub) -> None:
    from ilpregions.cli.commands.count import positive_gib

    parser = sub.add_parser(
        "tied-max", help="real maximal regions of a one-layer CNN with shared filters, vs Theorem 1",
        description="Count the subsets of the shifted-filter vectors of random integer filters that are "
                    "independent over GF(2^31-1). Each draw's count is a proven lower bound on the maximum "
                    "of the real CNN (filters shared); the Theorem-1 formula (the untied, locally connected "
                    "maximum) is a proven upper bound; agreeing draws make the count exact with high "
                    "probability (Schwartz-Zippel). See docs/tied.md.")
    add_model_argument(parser)
    parser.add_argument("--method", choices=("auto", "dp", "enumerate"), default="auto",
                        help="dp: the subspace frontier DP (default); enumerate: visit every independent set "
                             "(small layers only, an independent check)")
    parser.add_argument("--repeats", "--draws", dest="repeats", type=_positive_int, default=3, metavar="K",
                        help="independent random draws; errors only lower a draw, the maximum is kept (default 3)")
    parser.add_argument("--seed", type=nonnegative_int, default=0, help="seed of the random filters (default 0)")
    add_time_limit_argument(parser)
    parser.add_argument("--memory-cap", type=positive_gib, metavar="GIB", default=None,
                        help="dp: refuse (before allocating) to grow past GIB GiB, and refuse early when a projection "
                             "of the states clearly exceeds it (default 8)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    add_json_argument(parser)
    parser.set_defaults(func=run)


def _positive_int(text: str) -> int:
    import argparse

    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--repeats must be a positive integer, got {text!r}")
    if value < 1:
        raise argparse.ArgumentTypeError(f"--repeats must be a positive integer, got {text!r}")
    return value


def run(args) -> int:
    from ilpregions.services.tied import tied_max

    network = load_model(args.model)
    cap = None if args.memory_cap is None else int(args.memory_cap * 2 ** 30)
    result = tied_max(network, repeats=args.repeats, seed=args.seed, time_limit=args.time_limit,
                      method=args.method, memory_cap=cap, progress=not args.quiet)
    if args.json:
        out = result.to_json()
        out["model"] = args.model
        print_json(out)
    else:
        _print_text(args, network, result)
    return EXIT_OK if result.complete else EXIT_PARTIAL


def _size(nbytes: int) -> str:
    return f"{nbytes / 2 ** 20:.1f} MiB" if nbytes >= 2 ** 20 else f"{nbytes / 2 ** 10:.1f} KiB"


def _print_text(args, network, result) -> None:
    d = result.details
    label = f" ({network.name})" if network.name else ""
    print(f"model: {args.model}{label}")
    if result.method == "formula":
        print(f"regions: {short_int(result.regions)} (no weight sharing: Theorem 1 is the exact maximum)")
        return
    if result.complete:
        print(f"tied maximum (shared filters): {short_int(result.regions)}")
    else:
        print(f"tied maximum (shared filters): at least {short_int(result.regions)} (time limit reached; "
              f"proven lower bound only: {d.get('partial_note', '')})")
    upper = "not finished in time" if result.formula is None else short_int(result.formula)
    print(f"Theorem-1 formula (untied):    {upper}")
    if result.gap is not None and result.complete:
        print(f"gap: {short_int(result.gap)}" + (" (the formula overcounts this CNN)" if result.gap else ""))
    elif result.gap is not None:
        print(f"gap: at most {short_int(result.gap)} (formula minus the proven lower bound)")
    if result.complete:
        print(f"proven: the tied maximum is at least {short_int(result.regions)} (every draw's count is a "
              f"lower bound) and at most the formula; it equals {short_int(result.regions)} unless all "
              f"{d['draws']} draws failed")
    print(f"draws: {d['draws']} over GF(2^31-1), {d['agreeing_draws']} agree on the maximum; "
          f"P(all fail) <= {d['failure_probability']:.3g} (degree {d['degree_bound']})")
    line = f"method: {result.method}, {result.seconds:.3f} s"
    if d.get("peak_states") is not None:
        line += f", peak {d['peak_states']} states (about {_size(d['peak_memory_bytes'])}), "
        line += (f"at most {d['max_active']} active elements" if d.get("max_active") is not None else
                 "no scan needed (closed form or one search per block)")
    print(line)

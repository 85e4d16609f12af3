"""``ilpregions regions MODEL``: exact linear regions of one concrete network."""

from __future__ import annotations

import argparse

from ilpregions.core.errors import EXIT_OK, EXIT_PARTIAL
from ilpregions.core.combinatorics import decimal_string
from ilpregions.cli.commands._common import (nonnegative_int, add_json_argument, add_model_argument, add_time_limit_argument,
                      json_record, load_model, print_json)


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def register(sub) -> None:
    parser = sub.add_parser(
        "regions", help="exact number of linear regions of one concrete network (all of R^n)",
        description="Count the activation regions of a network with given weights: the non-empty "
                    "open sets of inputs with one ReLU sign pattern (and one argmax per max-pool "
                    "window), over all of R^n. Exact by LPs and rank tests; --method sample is the "
                    "authors' Gaussian sampler (a lower bound).")
    add_model_argument(parser)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--seed", type=nonnegative_int, metavar="N",
                        help="He-normal weights and uniform(-1/sqrt(fan_in), 1/sqrt(fan_in)) biases from seed N")
    source.add_argument("--weights", metavar="FILE.npz",
                        help="arrays layers.<i>.weight (filters, *kernel, d_in) and layers.<i>.bias")
    parser.add_argument("--method", choices=("exact", "lp", "sample"), default="exact",
                        help="exact (default: rank count for one layer with generic biases, else the LP "
                             "tree), lp (always the LP tree) or sample (distinct patterns of Gaussian inputs)")
    parser.add_argument("--samples", type=_positive_int, default=None, metavar="N",
                        help="inputs drawn by --method sample (default 100000)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    add_time_limit_argument(parser)
    add_json_argument(parser)
    parser.set_defaults(func=run)


def load_weights(path: str) -> dict:
    """Read an .npz of named arrays (never pickles; sizes checked before reading; one-line errors)."""
    from ilpregions.core.safe_io import read_npz_bounded

    return read_npz_bounded(path)


def run(args) -> int:
    from ilpregions.services.regions import count_linear_regions

    network = load_model(args.model)
    weights = load_weights(args.weights) if args.weights else None
    result = count_linear_regions(network, weights=weights, seed=args.seed, time_limit=args.time_limit,
                                  method=args.method, samples=args.samples, progress=not args.quiet)
    if args.json:
        # "sample" is a lower bound by design; otherwise exact or cut short by the time limit.
        status = "sample" if result.method == "sample" else ("complete" if result.exact else "time_limit")
        out = json_record(args.model, status, result.seconds, regions=decimal_string(result.regions),
                          exact=result.exact, lps_solved=result.lps_solved, method=result.method)
        out.update({k: v for k, v in result.details.items() if k not in out})
        print_json(out)
    else:
        label = f" ({network.name})" if network.name else ""
        print(f"model: {args.model}{label}")
        source = f"weights {args.weights}" if args.weights else f"seed {args.seed}"
        if result.method == "sample":
            print(f"regions: at least {result.regions} (distinct patterns of "
                  f"{result.details.get('samples')} Gaussian inputs; a lower bound)")
        elif result.exact:
            print(f"regions: {result.regions} (exact, over all of R^{result.details.get('inputs')})")
        else:
            print(f"regions: at least {result.regions} (not exact: "
                  f"{result.details.get('note', 'time limit reached')})")
        print(f"method: {result.method}, {source}, {result.lps_solved} LPs, {result.seconds:.3f} s")
    return EXIT_OK if (result.exact or result.method == "sample") else EXIT_PARTIAL

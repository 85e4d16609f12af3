"""``ilpregions tied-max MODEL``: the maximal count of a one-layer CNN with shared filters."""

from __future__ import annotations

from ilpregions.core.errors import EXIT_OK
from ilpregions.cli.commands._common import add_json_argument, add_model_argument, load_model, print_json, short_int


def register(sub) -> None:
    parser = sub.add_parser(
        "tied-max", help="maximal regions of a one-layer CNN with shared filters, vs Theorem 1",
        description="Count the independent sets of the shifted-filter vectors of random filters over "
                    "GF(2^31-1) (the maximum over weights of a real CNN, whose filters are shared), "
                    "beside the Theorem-1 formula, which is the untied (locally connected) maximum.")
    add_model_argument(parser)
    parser.add_argument("--repeats", type=int, default=3, metavar="K",
                        help="independent random draws; errors only lower a draw, the maximum is kept (default 3)")
    add_json_argument(parser)
    parser.set_defaults(func=run)


def run(args) -> int:
    from ilpregions.services.tied import tied_max

    network = load_model(args.model)
    result = tied_max(network, repeats=max(1, args.repeats))
    if args.json:
        out = result.to_json()
        out["model"] = args.model
        print_json(out)
    else:
        label = f" ({network.name})" if network.name else ""
        print(f"model: {args.model}{label}")
        print(f"tied maximum (shared filters): {short_int(result.regions)}")
        print(f"Theorem-1 formula (untied):    {short_int(result.formula)}")
        print(f"gap: {short_int(result.gap)}" + (" (the formula overcounts this CNN)" if result.gap else ""))
        print(f"{result.details.get('repeats')} draws over GF(2^31-1), agree: "
              f"{result.details.get('draws_agree', True)}; {result.seconds:.3f} s")
    return EXIT_OK

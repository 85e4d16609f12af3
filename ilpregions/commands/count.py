"""``ilpregions count MODEL``: the exact Theorem-1 count of a one-layer model."""

from __future__ import annotations

from .. import backends
from ..combinatorics import decimal_string
from ..errors import EXIT_OK, EXIT_PARTIAL
from ._common import (add_json_argument, add_model_argument, add_time_limit_argument,
                      load_model, print_json, short_int)


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
    parser.set_defaults(func=run)


def run(args) -> int:
    from ..counting import count_regions
    from ..geometry import layer_instance

    network = load_model(args.model)
    if args.backend != backends.AUTO:
        backends.resolve(args.backend, backends.COUNT)  # reject unknown names before any work
    layer_instance(network)  # one-layer check first: a clear error before any solver starts
    result = count_regions(network, backend=args.backend, time_limit=args.time_limit,
                           progress=not args.quiet)
    if args.json:
        out = result.to_json()
        out["model"] = args.model
        print_json(out)
    else:
        label = f" ({network.name})" if network.name else ""
        print(f"model: {args.model}{label}")
        value = decimal_string(result.regions)
        if result.exact:
            print(f"regions: {value}")
        else:
            print(f"regions: at least {value} (time limit reached; partial sum, a lower bound)")
        if len(value) > 15:
            print(f"         ≈ {short_int(result.regions)}")
        t_info = f"{result.t_vectors} feasible t-vectors" if result.t_vectors is not None else "t-vectors: not all visited"
        print(f"backend: {result.backend}, {result.positions} positions, |∪S| = {result.union_size}, "
              f"{t_info}, {result.seconds:.3f} s")
        if result.note:
            print(f"note: {result.note}")
    return EXIT_OK if result.exact else EXIT_PARTIAL

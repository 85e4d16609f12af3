"""``ilpregions check MODEL --t 2,2,0,1``: is a t-vector in K_N, and why (not)?"""

from __future__ import annotations

from ilpregions import backends
from ilpregions.core.errors import EXIT_OK
from ilpregions.cli.commands._common import add_json_argument, add_model_argument, json_record, load_model, print_json


def register(sub) -> None:
    names = backends.backend_names(backends.CHECK)
    parser = sub.add_parser(
        "check", help="is a t-vector in K_N? with an assignment or a violated set",
        description="Decide whether t satisfies every union constraint Σ_{p∈J} t_p ≤ |∪_{p∈J} S_p| "
                    "(Hall's theorem, by a max-flow). A feasible t gets an assignment of t_p "
                    "distinct input elements to each position; an infeasible one a small violated "
                    "set J from a minimum cut. Exit code 0 either way.")
    add_model_argument(parser)
    parser.add_argument("--t", required=True, metavar="T",
                        help="one non-negative integer per output position, row-major, e.g. 2,2,0,1")
    parser.add_argument("--backend", default="flow", metavar="NAME",
                        help=f"solver: {', '.join(names)} (default flow)")
    add_json_argument(parser)
    parser.set_defaults(func=run)


def run(args) -> int:
    from ilpregions.services.check import check, parse_t

    network = load_model(args.model)
    result = check(network, parse_t(args.t), backend=args.backend)
    if args.json:
        out = result.to_json()
        print_json(json_record(args.model, "complete", out.pop("seconds", 0.0), **out))
        return EXIT_OK
    print(f"model: {args.model}" + (f" ({network.name})" if network.name else ""))
    print(f"t = {list(result.t)}  (Σt = {sum(result.t)}, |∪S| = {result.union_size})")
    if result.feasible:
        print("feasible: yes — t is in K_N. Each position gets t_p distinct input elements "
              "[spatial..., channel], none shared:")
        for p, elements in enumerate(result.assignment):
            where = ",".join(map(str, result.position_coords[p]))
            shown = " ".join("[" + ",".join(map(str, e)) + "]" for e in elements) or "-"
            print(f"  position {p} ({where}): {shown}")
        over = [p for p, v in enumerate(result.t) if v > result.filters]
        if over:
            print(f"note: t_p > d1 = {result.filters} at positions {over}: such t is in K_N but "
                  f"contributes C(d1, t_p) = 0 to R_N")
    else:
        v = result.violated
        print(f"feasible: no — the positions {list(v.positions)} demand Σ t_p = {v.sum} elements, "
              f"but their receptive fields hold only |∪ S_p| = {v.union}")
    print(f"backend: {result.backend}, {result.seconds:.3f} s")
    return EXIT_OK

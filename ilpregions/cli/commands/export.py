"""``ilpregions export MODEL --format cp|lp|mps -o FILE``: write our K_N model."""

from __future__ import annotations

from ilpregions.core.errors import EXIT_OK
from ilpregions.cli.commands._common import add_model_argument, load_model


def register(sub) -> None:
    from ilpregions.services.export import FORMATS

    parser = sub.add_parser(
        "export", help="write the K_N integer program (CP-SAT text proto, LP or MPS)",
        description="Write exactly the model we solve: integer t_p ∈ [0, min(d1, |S_p|)], one row "
                    "Σ_{p∈J} t_p ≤ |∪_J S_p| per essential union J, objective max Σ t.")
    add_model_argument(parser)
    parser.add_argument("--format", required=True, choices=FORMATS,
                        help="cp (CP-SAT CpModelProto, text), lp or mps (through PuLP)")
    parser.add_argument("-o", "--output", required=True, metavar="FILE", help="file to write")
    parser.set_defaults(func=run)


def run(args) -> int:
    from ilpregions.services.export import export_model
    from ilpregions.core.geometry import layer_instance

    inst = layer_instance(load_model(args.model))
    summary = export_model(inst, args.format, args.output)
    print(f"wrote {args.output}: {summary.format} model, {summary.variables} variables t_p, "
          f"{summary.rows} union rows, objective max Σ t (optimum |∪S| = {inst.union_size} "
          f"when d1 ≥ every |S_p|)")
    return EXIT_OK

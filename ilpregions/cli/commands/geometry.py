"""``ilpregions geometry MODEL``: output sizes, receptive fields, unions, g(J)."""

from __future__ import annotations

import time

from ilpregions.core.errors import InputError
from ilpregions.cli.commands._common import (add_json_argument, add_model_argument, json_record, load_model,
                                             print_json)


def register(sub) -> None:
    parser = sub.add_parser("geometry", help="output sizes, receptive fields and union sizes of each layer",
                            description="Receptive-field geometry (docs/math.md#geometry) of every conv/local/dense layer.")
    add_model_argument(parser)
    parser.add_argument("--coverage", metavar="J", action="append", default=[],
                        help="evaluate g(J) = |∪_{p∈J} S_p| for comma-separated positions of the first layer "
                             "(row-major); may be repeated")
    parser.add_argument("--fields", type=int, default=8, metavar="N",
                        help="receptive fields shown per layer in text output (default 8; JSON has all)")
    add_json_argument(parser)
    parser.set_defaults(func=run)


def _parse_positions(text: str, positions: int) -> list[int]:
    try:
        values = [int(v) for v in text.split(",") if v.strip() != ""]
    except ValueError:
        raise InputError(f"--coverage: positions must be comma-separated integers, got {text!r}") from None
    for v in values:
        if not 0 <= v < positions:
            raise InputError(f"--coverage: position {v} is out of range 0..{positions - 1}")
    return values


#: JSON lists every receptive field pixel by pixel; above this many (positions x field pixels,
#: by arithmetic) the output would be hundreds of MB and take minutes: refused, text output is not.
MAX_JSON_FIELD_ENTRIES = 1_000_000


def _check_json_size(network) -> None:
    from ilpregions.core.errors import TooLargeError
    from ilpregions.core.sizes import layer_sizes

    for index, (layer, shape) in enumerate(zip(network.layers, network.input_shapes())):
        if layer.type in ("conv", "local", "dense"):
            entries = layer_sizes(shape, layer).field_entries
            if entries > MAX_JSON_FIELD_ENTRIES:
                raise TooLargeError(f"layers[{index}]: {entries} receptive-field entries (positions x field "
                                    f"pixels) to list in --json, over the limit of {MAX_JSON_FIELD_ENTRIES}; "
                                    f"the text output shows --fields N of them")


def layer_report(network, index: int, shown: int | None = None) -> dict:
    """One layer's geometry; only the first ``shown`` receptive fields are listed (None: all)."""
    from ilpregions.core.geometry import layer_instance

    inst = layer_instance(network, index)
    layer = network.layers[index]
    listed = inst.fields if shown is None else inst.fields[:max(0, shown)]
    fields = [[list(inst.element(x, 0)[:-1]) for x in field] for field in listed]
    return {
        "layer": index,
        "type": layer.type,
        "input_shape": list(network.input_shapes()[index]),
        "output_shape": list(network.output_shapes()[index]),
        "positions": inst.positions,
        "field_sizes": list(inst.field_sizes),
        "union_size": inst.union_size,
        "receptive_fields": fields,
        "_instance": inst,
    }


def run(args) -> int:
    start = time.perf_counter()
    network = load_model(args.model)
    if args.json:
        _check_json_size(network)   # by arithmetic, before any layer is built
    shown = None if args.json else args.fields
    reports = [layer_report(network, i, shown) for i, layer in enumerate(network.layers)
               if layer.type in ("conv", "local", "dense")]
    if not reports:
        raise InputError("layers: no conv/local/dense layer to describe")
    first = reports[0]["_instance"]
    coverage = []
    for text in args.coverage:
        positions = _parse_positions(text, first.positions)
        coverage.append({"positions": positions, "union": first.coverage(positions)})
    if args.json:
        for r in reports:
            r.pop("_instance")
        print_json(json_record(args.model, "complete", time.perf_counter() - start,
                               input_shape=list(network.input_shape), layers=reports, coverage=coverage))
        return 0
    print(f"model: {args.model}" + (f" ({network.name})" if network.name else ""))
    print(f"input: {list(network.input_shape)} (spatial sizes, then channels)")
    for r in reports:
        inst = r.pop("_instance")
        print(f"layer {r['layer']} ({r['type']}): input {r['input_shape']} -> output {r['output_shape']}, "
              f"{r['positions']} positions, |∪S| = {r['union_size']} elements")
        shown = min(args.fields, inst.positions)
        for p in range(shown):
            pixels = " ".join("(" + ",".join(map(str, xy)) + ")" for xy in r["receptive_fields"][p])
            print(f"  S_{p} at {inst.position_coords(p)}: {inst.field_sizes[p]} elements = "
                  f"{inst.channels} channel(s) x pixels {pixels or '(none: fully padded)'}")
        if shown < inst.positions:
            print(f"  ... {inst.positions - shown} more (use --json for all)")
    for c in coverage:
        print(f"g({','.join(map(str, c['positions']))}) = {c['union']}")
    return 0

"""``ilpregions slice MODEL --through A,B[,C]``: exact pieces on a segment or plane through points;
``--lines N``: N segments at once and their pieces per unit length."""

from __future__ import annotations

import sys
from pathlib import Path

from ilpregions.core.errors import EXIT_OK, EXIT_PARTIAL, InputError
from ilpregions.cli.commands._common import (add_json_argument, add_time_limit_argument, nonnegative_int, print_json,
                                             torch_input_shape)
from ilpregions.cli.commands.count import positive_gib
from ilpregions.cli.commands.import_torch import add_torch_module_arguments, torch_model


def register(sub) -> None:
    parser = sub.add_parser(
        "slice", help="exact pieces of a trained network on a line or plane through data points",
        description="Split the segment A->B, or the triangle/parallelogram spanned by A, B, C, into the "
                    "pieces where the network's activation pattern is constant, exactly, and count the "
                    "pieces the decision boundary crosses. Points are .npy files, indices into --data, "
                    "or 'random'.")
    parser.add_argument("model", metavar="MODEL", nargs="?", default=None,
                        help="architecture spec (TOML); not needed with --torch")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--seed", type=nonnegative_int, metavar="N", help="He-normal weights from seed N (spec models)")
    source.add_argument("--weights", metavar="W.npz", help="weights of a spec model (layers.<i>.weight/bias)")
    source.add_argument("--torch", metavar="FILE.pt",
                        help="a model saved by ilpregions.services.torch.save, or a state_dict with "
                             "--arch or --torch-module (always read with torch.load(weights_only=True))")
    parser.add_argument("--input", type=torch_input_shape, metavar="C,H,W",
                        help="with --torch: one input's shape in torch order")
    parser.add_argument("--arch", metavar="ARCH.toml", help="with --torch and a bare state_dict: the layer list")
    add_torch_module_arguments(parser)
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--through", metavar="A,B[,C]",
                       help="2 or 3 points: FILE.npy, an index into --data, or 'random'")
    where.add_argument("--lines", type=int, metavar="N",
                       help="N segments, each sliced exactly: between two random rows of --data (or two "
                            "standard-normal points), or along random directions (--directions); prints the "
                            "pieces per unit length with their spread")
    parser.add_argument("--data", metavar="X.npy", help="an array of inputs (N, ...) that indices and lines refer to")
    parser.add_argument("--point-seed", type=nonnegative_int, default=0, metavar="N",
                        help="seed of 'random' points and of lines")
    parser.add_argument("--directions", action="store_true",
                        help="with --lines: segments centred at random data points along random directions")
    parser.add_argument("--line-length", type=float, metavar="L",
                        help="with --directions: each segment's length (default: the RMS distance of two "
                             "data points)")
    parser.add_argument("--workers", type=int, metavar="W", help="with --lines: run them on W local processes")
    parser.add_argument("--scheduler", metavar="ADDRESS", help="with --lines: run them on this Dask scheduler")
    parser.add_argument("--region", choices=("triangle", "parallelogram"), default="triangle",
                        help="with 3 points: the triangle ABC or the parallelogram A, B, B+C-A, C")
    parser.add_argument("--plot", metavar="OUT.png", help="draw the pieces (.png, .pdf or .svg)")
    parser.add_argument("--no-check", action="store_true", help="skip certifying each piece's pattern")
    parser.add_argument("--memory-cap", type=positive_gib, metavar="GIB", default=None,
                        help="memory of the line engine (default 4 GiB), checked before its arrays are made; "
                             "past it the walk stops with a lower bound (exit 3)")
    parser.add_argument("--engine", choices=("auto", "line", "polygon"), default="auto",
                        help="line: a segment walked with changes of slope only (no max-pooling); polygon: "
                             "pieces cut with all their maps (planes, max-pooling); auto: line when it can")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    add_time_limit_argument(parser)
    add_json_argument(parser)
    parser.set_defaults(func=run)


def _load_npy(path: str, what: str):
    from ilpregions.core.errors import SpecError
    from ilpregions.core.safe_io import read_npy_bounded

    try:  # regular files only, never a blocking open; header checked before the data
        return read_npy_bounded(path, what="a .npy array")
    except SpecError as exc:
        raise InputError(f"{what}: {exc}") from None


def resolve_points(text: str, size: int, data_path: str | None, seed: int) -> list:
    """The points named by ``--through`` (each a flat float64 vector of ``size`` values)."""
    import numpy as np

    tokens = [t.strip() for t in text.split(",")]
    if len(tokens) not in (2, 3) or not all(tokens):
        raise InputError(f"--through: expected A,B or A,B,C, got {text!r}")
    rng = np.random.default_rng(seed)
    data = None
    points = []
    for name, token in zip("ABC", tokens):
        if token == "random":
            points.append(rng.normal(size=size))
            continue
        if token.lstrip("-").isdigit():
            if data_path is None:
                raise InputError(f"--through: point {name} is an index ({token}); give --data X.npy")
            data = _load_npy(data_path, "--data") if data is None else data
            index = int(token)
            if data.ndim < 1 or not -len(data) <= index < len(data):
                raise InputError(f"--through: index {index} is outside --data (it has {len(data)} rows)")
            point = np.asarray(data[index])
        else:
            point = _load_npy(token, f"--through point {name}")
        if point.dtype.kind not in "fiu" or point.size != size:
            raise InputError(f"--through: point {name} has {point.size} values of type {point.dtype}; the "
                             f"network's input has {size} numbers")
        points.append(point.astype(np.float64).reshape(-1))
    return points


def _model(args):
    if args.torch:
        if args.input is None:
            raise InputError("--torch needs --input C,H,W (one input's shape in torch order)")
        from ilpregions.services.torch import to_slicenet

        return to_slicenet(torch_model(args.torch, args), args.input), Path(args.torch).name
    if args.torch_module or args.torch_kwargs:
        raise InputError("--torch-module and --torch-kwargs go with --torch FILE.pt (the state_dict)")
    if args.model is None:
        raise InputError("MODEL (a TOML spec) is required with --seed or --weights")
    from ilpregions.cli.commands._common import load_model
    from ilpregions.core.forward import he_normal_weights
    from ilpregions.core.slicenet import from_spec

    network = load_model(args.model)
    if args.weights:
        from ilpregions.cli.commands.regions import load_weights
        weights = load_weights(args.weights)
    else:
        weights = he_normal_weights(network, args.seed)
    return from_spec(network, weights), args.model


def run(args) -> int:
    from ilpregions.services.slicing import slice_network

    if args.plot:
        from ilpregions.services.slicing import check_output_path
        check_output_path(args.plot)  # refuse a bad path before the work
    if args.lines is not None:
        return _run_lines(args)
    for given, what in ((args.directions, "--directions"), (args.line_length is not None, "--line-length"),
                        (args.workers is not None, "--workers"), (args.scheduler, "--scheduler")):
        if given:
            raise InputError(f"{what} goes with --lines N")
    net, name = _model(args)
    points = resolve_points(args.through, net.input_size, args.data, args.point_seed)
    cap = None if args.memory_cap is None else int(args.memory_cap * 2 ** 30)
    result = slice_network(net, points, region=args.region, time_limit=args.time_limit,
                           progress=not (args.quiet or args.json), check=not args.no_check, memory_cap=cap,
                           engine=args.engine)
    if args.plot:
        from ilpregions.services.slicing import plot_slice
        plot_slice(result, args.plot)
    if args.json:
        print_json(result.to_json(model=name))
    else:
        _print_human(result, name, args)
    return EXIT_OK if result.complete else EXIT_PARTIAL


def _print_human(result, name, args) -> None:
    what = "segment A->B" if result.dims == 1 else f"{result.plane.region} A, B, C"
    print(f"model: {name}")
    why = "memory cap" if result.stopped == "memory_cap" else "time limit"
    if result.exact or (result.complete and result.certificate is None):
        print(f"pieces: {result.pieces} (exact, on the {what})")
    elif result.complete:
        print(f"pieces: {result.pieces} found on the {what}, not all certified (see patterns)")
    elif result.engine == "line":
        walked = 1.0 - sum(float(v[1, 0] - v[0, 0]) for v in result.pending)
        print(f"pieces: at least {result.pieces} ({why} reached after {walked:.1%} of the segment: "
              f"a lower bound, every piece counted is certified)")
    else:
        print(f"pieces: at least {result.pieces} ({why} reached: a lower bound; "
              f"{len(result.pending)} pieces not yet split)")
    at_least = "" if result.complete else "at least "
    print(f"decision boundary crosses: {at_least}{result.boundary_pieces} pieces")
    if result.certificate is not None:
        c = result.certificate
        state = "all certified" if c.ok else f"{len(c.mismatches)} mismatches, {c.unchecked} unchecked"
        print(f"patterns: {state} ({c.by_bounds} by float64 error bounds, {c.exact} by exact re-checks "
              f"in integer arithmetic)")
    parts = ", ".join(f"{k} {v:.2f} s" for k, v in sorted(result.seconds_by_op.items(), key=lambda kv: -kv[1]))
    print(f"time: {result.seconds:.2f} s ({parts})")
    if args.plot:
        print(f"wrote {args.plot}", file=sys.stderr)


def _run_lines(args) -> int:
    from ilpregions.services.slicing import line_density, load_points, random_lines

    if args.plot or args.no_check:
        raise InputError(f"{'--plot' if args.plot else '--no-check'} does not go with --lines (each line's count "
                         f"is certified; --json lists every line)")
    net, name = _model(args)
    data = load_points(args.data, "data") if args.data else None
    lines = random_lines(args.lines, data, size=net.input_size, directions=args.directions,
                         length=args.line_length, seed=args.point_seed)
    result = line_density(net, lines, time_limit=args.time_limit, workers=args.workers, scheduler=args.scheduler,
                          progress=not (args.quiet or args.json))
    if args.json:
        print_json(result.to_json(model=name))
    else:
        _print_lines(result, name, args)
    return EXIT_OK if result.complete else EXIT_PARTIAL


def _spread(s, digits: int = 4) -> str:
    if not s.n:
        return "none (no line finished)"
    q = s.quantiles
    return (f"mean {s.mean:.{digits}g}, std {s.std:.{digits}g}, median {q['q50']:.{digits}g}, "
            f"5-95% {q['q05']:.{digits}g}-{q['q95']:.{digits}g}, min {s.min:.{digits}g}, max {s.max:.{digits}g}")


def _print_lines(result, name, args) -> None:
    source = result.source
    points = f"rows of {args.data}" if source["points"] == "data" else "standard-normal points"
    kind = (f"segments of length {source['line_length']:.4g} along random directions through {points}"
            if source["line_kind"] == "directions" else f"segments between two random {points}")
    print(f"model: {name}")
    print(f"lines: {len(result.lines) if result.requested is None else result.requested} {kind} "
          f"(seed {source['point_seed']})")
    exact = len(result.exact_lines)
    if result.complete:
        print(f"exact: all {exact} lines, each piece's pattern certified")
    else:
        partial = sum(line.status == "partial" for line in result.lines)
        other = sum(line.status == "uncertified" for line in result.lines)
        notes = [f"{partial} stopped by the time limit (their counts lower bounds)" if partial else "",
                 f"{'some' if result.not_run is None else result.not_run} not run (time limit)"
                 if result.not_run != 0 else "",
                 f"{other} not certified" if other else ""]
        print(f"exact: {exact} lines ({'; '.join(n for n in notes if n)}; statistics over the exact lines only)")
    print(f"pieces per line: {_spread(result.pieces)}")
    print(f"pieces per unit length: {_spread(result.density)}")
    print(f"breakpoints per unit length: {_spread(result.breakpoint_density)}")
    where = f"Dask at {args.scheduler}" if args.scheduler else f"{result.workers} process" + (
        "es" if result.workers > 1 else "")
    print(f"time: {result.seconds:.2f} s ({where})")

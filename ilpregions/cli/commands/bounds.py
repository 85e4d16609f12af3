"""``ilpregions bounds MODEL``: every named lower/upper bound on the number of regions.

Works for any stack of conv/local/dense/maxpool/avgpool layers (Theorems 1–2
of Xiong et al. 2020, the fully-connected bounds of Pascanu 2013, Montúfar
2014/2017 and Serra 2018, our bounds for shared filters and pooling, and for
one-layer models the LP bounds). Inapplicable bounds are listed with the
reason. The headline pair is proven for the network as specified (shared
filters included); see docs/bounds.md.
"""

from __future__ import annotations

import time

from ilpregions.core.errors import EXIT_OK, EXIT_PARTIAL
from ilpregions.core.bigint import short_text
from ilpregions.cli.commands._common import (add_json_argument, add_model_argument, json_record, load_model,
                                             positive_seconds, print_json)



def register(sub) -> None:
    parser = sub.add_parser("bounds", help="lower and upper bounds on the number of regions (any depth)",
                            description="Every applicable named bound as an exact integer; inapplicable "
                                        "bounds are listed with the reason.")
    add_model_argument(parser)
    parser.add_argument("--time-limit", type=positive_seconds, metavar="S", default=None,
                        help=f"stop after about S seconds in all: bounds that cannot finish in the time left are "
                             f"listed as 'not run: time limit' and the exit code is 3 (default: no overall limit, "
                             "a few seconds per exact count, tied_max run and strip search)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    add_json_argument(parser)
    parser.set_defaults(func=run)


def report_json(report, model: str, seconds: float = 0.0) -> dict:
    """The ``--json`` object: model, status, seconds (as every command), then the report."""
    out = json_record(model, report.status, seconds)
    out.update(report.to_json())
    return out


def format_report(report, header: str) -> str:
    """The text table: big values as 1.23e4567, reasons in the last column."""
    rows = []
    for b in report.bounds:
        value = short_text(b.value) if b.applicable else "n/a"
        scope = "network" if getattr(b, "proven_for", "network") == "network" else "local only"
        rows.append((b.name, b.kind, value, scope, b.reason or ""))
    titles = ("bound", "kind", "value", "proven for", "")
    widths = [max(len(r[i]) for r in rows + [titles]) for i in range(4)]
    lines = [header, ""]
    lines.append(f"{'bound':<{widths[0]}}  {'kind':<{widths[1]}}  {'value':>{widths[2]}}  "
                 f"{'proven for':<{widths[3]}}  note / why not applicable")
    lines.append("  ".join("-" * w for w in widths) + "  " + "-" * 26)
    for name, kind, value, scope, reason in rows:
        lines.append(f"{name:<{widths[0]}}  {kind:<{widths[1]}}  {value:>{widths[2]}}  "
                     f"{scope:<{widths[3]}}  {reason}".rstrip())
    lines.append("")
    low = "none applies" if report.lower is None else f"{short_text(report.lower)}  ({report.lower_name})"
    up = "none applies" if report.upper is None else f"{short_text(report.upper)}  ({report.upper_name})"
    if report.cut:
        lines.append(f"status: time limit: not run or cut short: {', '.join(report.cut)} (exit code 3)")
    lines.append(f"best lower: {low}   [proven for the network as specified]")
    lines.append(f"best upper: {up}   [proven for the network as specified]")
    t_low, t_up, t_low_name, t_up_name = report.theorem1
    if t_low is not None or t_up is not None:
        lines.append(f"Theorem 1's value (the locally connected layer): lower {_pair_text(t_low, t_low_name)}, "
                     f"upper {_pair_text(t_up, t_up_name)}")
    if report.real_max is not None:
        lines.append(f"real maximum (DP count, proven lower bound): {short_text(report.real_max)}")
    lines.append(f"parameters: {report.params}   neurons: {report.neurons}")
    if report.exponent is not None:
        maxima = list(report.position_maxima or ())
        shown = ", ".join(str(v) for v in maxima[:16]) + (", …" if len(maxima) > 16 else "")
        lines.append(f"exponent U (degree of R_N in d1): {report.exponent}")
        lines.append(f"per-position LP maxima: [{shown}]")
    for note in report.notes:
        lines.append(f"note: {note}")
    return "\n".join(lines)


def _pair_text(value, name) -> str:
    return "none applies" if value is None else f"{short_text(value)} ({name})"


def run(args) -> int:
    from ilpregions.services.bounds import DEFAULT_STEP_SECONDS, compute_bounds

    started = time.perf_counter()
    network = load_model(args.model)
    start = time.perf_counter()
    if args.time_limit is None:
        report = compute_bounds(network, time_limit=DEFAULT_STEP_SECONDS, progress=not args.quiet)
    else:   # one deadline for the whole call, from the start of the command
        report = compute_bounds(network, time_limit=args.time_limit, progress=not args.quiet,
                                total_seconds=max(args.time_limit - (time.perf_counter() - started), 0.01))
    seconds = time.perf_counter() - start
    if args.json:
        print_json(report_json(report, args.model, seconds))
    else:
        label = f" ({network.name})" if network.name else ""
        print(format_report(report, f"model: {args.model}{label}"))
    return EXIT_PARTIAL if report.cut else EXIT_OK


__all__ = ["register", "run", "format_report", "report_json"]

"""``ilpregions claims [MODEL ...]``: the paper's two conclusions, graded PROVEN, REFUTED or open by proven bounds.

Without MODEL: concrete 1-D and 2-D families over a grid of widths. With
MODEL files: each real model against its counterparts (docs/bounds.md).
"""

from __future__ import annotations

from ilpregions.core.errors import EXIT_OK, EXIT_PARTIAL, InputError
from ilpregions.cli.commands._common import (add_json_argument, json_record, load_model, positive_seconds,
                                             print_json, short_int)


def register(sub) -> None:
    parser = sub.add_parser("claims", help="deep vs shallow CNN and CNN vs FC, regions per parameter: PROVEN, "
                                           "REFUTED or open by proven bounds",
                            description="Evaluates Xiong et al.'s conclusions (Theorem 3 and the CNN-vs-FC "
                                        "comparison) with bounds proven for each network as specified (shared "
                                        "filters included): without MODEL on concrete 1-D and 2-D families over a "
                                        "grid of widths d; with MODEL files on each model against a one-layer (or "
                                        "two-layer) CNN and a fully-connected net with at most its parameters.")
    parser.add_argument("models", metavar="MODEL", nargs="*",
                        help="architecture specs (TOML) of CNNs, e.g. models/cifar_small.toml")
    parser.add_argument("--widths", metavar="D,D,...", default=None,
                        help="families only: comma-separated widths d (default 1,2,3,4,6,8,12,...,128)")
    parser.add_argument("--rows", action="store_true", help="families only: print every width, not only the summary")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument("--time-limit", type=positive_seconds, metavar="S", default=None,
                        help="stop after about S seconds with an honest partial answer (exit code 3); with MODEL "
                             "one limit for all models (default 30 s per model), without MODEL none by default")
    add_json_argument(parser)
    parser.set_defaults(func=run)


def parse_widths(text: str | None):
    from ilpregions.services.claims import DEFAULT_WIDTHS

    if text is None:
        return DEFAULT_WIDTHS
    if len(text) > 10_000:
        raise InputError(f"--widths: {len(text)} characters, over the limit of 10000")
    try:
        values = tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise InputError(f"--widths: expected comma-separated positive integers, got {text!r}") from None
    if not values or any(v < 1 for v in values):
        raise InputError(f"--widths: expected comma-separated positive integers, got {text!r}")
    return tuple(sorted(set(values)))


def _pp(value) -> str:
    return "—" if value is None else f"10^{value:.2f}"


def _limits(direction) -> str:
    if direction.both_must_move:
        return "both must move (neither alone can close it)"
    if len(direction.limited_by) == 2:
        return "either bound may close it alone"
    return f"limited by {direction.limited_by[0]} (the other bound alone cannot close it)"


def format_gap(gap, indent: str = "    ") -> list[str]:
    """The two ways an open verdict could be decided, with the bounds compared and what limits each."""
    lines = []
    for head, d, verb in (("to prove: ", gap.prove, "pass"), ("to refute:", gap.refute, "reach")):
        if d.log10_shortfall is None:
            missing = [f"{side}'s {kind} bound" for side, kind, value in
                       ((d.lower_side, "lower", d.lower_per_param), (d.upper_side, "upper", d.upper_per_param))
                       if value is None]
            lines.append(f"{indent}{head} {d.lower_side}'s lower bound per parameter must {verb} {d.upper_side}'s "
                         f"upper bound per parameter, but no {' and no '.join(missing)} is available (not "
                         f"applicable, or not run in the time)")
            continue
        short = f"{d.log10_shortfall:.2f}"
        lines.append(f"{indent}{head} {d.lower_side}'s lower {_pp(d.lower_per_param)}/param ({d.lower_name}) must "
                     f"{verb} {d.upper_side}'s upper {_pp(d.upper_per_param)}/param ({d.upper_name}): {short} "
                     f"orders of magnitude short; {_limits(d)}")
    return lines


def _per_param(value, params) -> str:
    from ilpregions.services.claims import per_param

    v = per_param(value, params)
    return "—" if v is None else f"{v:.2f}"


def format_claim(result, rows: bool) -> list[str]:
    lines = [f"[{result.claim}] {result.title}", f"  family: {result.family}"]
    if rows:
        head = (f"  {'d':>4}  {'params A':>8}  {'params B':>8}  {'log10 A.lower/p':>15}  "
                f"{'log10 B.upper/p':>15}  {'margin':>7}  verdict  (with Theorem 1 for N')")
        lines.append(head)
        for r in result.rows:
            margin = "—" if r.margin is None else f"{r.margin:+.2f}"
            lines.append(f"  {r.d:>4}  {r.larger.params:>8}  {r.other.params:>8}  "
                         f"{_per_param(r.larger.lower, r.larger.params):>15}  "
                         f"{_per_param(r.other.upper, r.other.params):>15}  {margin:>7}  {r.verdict}"
                         + (f"  (was {r.formula_verdict})" if r.changed else ""))
    elif not result.rows:
        lines.append("  no width finished")
    else:
        verdicts = " ".join(f"{r.d}:{r.verdict[0]}" for r in result.rows)
        lines.append(f"  by d (P=PROVEN, O=open, R=REFUTED): {verdicts}")
        last = result.rows[-1]
        lines.append(f"  at d={last.d}: A ≥ {short_int(last.larger.lower) if last.larger.lower else '—'} "
                     f"({last.larger.lower_name}) with {last.larger.params} params; B ≤ "
                     f"{short_int(last.other.upper) if last.other.upper else '—'} ({last.other.upper_name}) "
                     f"with {last.other.params} params")
        if last.gap is not None:
            lines.extend(format_gap(last.gap))
    changed = ", ".join(f"{r.d}: {r.formula_verdict} → {r.verdict}" for r in result.rows if r.changed)
    lines.append(f"  changed vs Theorem 1 plugged in for N': {changed or 'none'}")
    lines.append(f"  verdict: {result.summary}")
    return lines


def _side_line(tag: str, side) -> list[str]:
    from ilpregions.core.bigint import short_text

    def text(value) -> str:
        return "—" if value is None else short_text(value)

    cut = "" if side.complete else "  [time limit cut some bounds]"
    return [f"  {tag} = {side.label}: {side.network.name or ''}".rstrip(),
            f"      {side.params} params;  {text(side.lower)} ≤ regions ≤ {text(side.upper)}  "
            f"({side.lower_name or 'no lower bound'}; {side.upper_name or 'no upper bound'}){cut}"]


def format_model_claim(claim) -> list[str]:
    from ilpregions.services.claims import OPEN, PROVEN, per_param

    a, b = claim.larger, claim.other
    lines = [f"[{claim.claim}] {claim.model}: {claim.title}"] + _side_line("A", a) + _side_line("B", b)
    if claim.verdict == PROVEN:
        x, y = per_param(a.lower, a.params), per_param(b.upper, b.params)
        lines.append(f"  verdict: PROVEN: A's lower {_pp(x)}/param > B's upper {_pp(y)}/param "
                     f"(by {x - y:.2f} orders of magnitude; exact integers)")
    elif claim.verdict == OPEN:
        lines.append("  verdict: open" + ("" if claim.complete else " (the time limit cut some bounds: more time "
                                                                     "may decide it)"))
        lines.extend(format_gap(claim.gap))
    else:
        x, y = per_param(b.lower, b.params), per_param(a.upper, a.params)
        lines.append(f"  verdict: REFUTED: B's lower {_pp(x)}/param ≥ A's upper {_pp(y)}/param "
                     f"(by {x - y:.2f} orders of magnitude; exact integers)")
    return lines


def _run_models(args) -> int:
    from ilpregions.core.progress import Progress
    from ilpregions.services.claims import run_model_claims

    if args.widths is not None or args.rows:
        raise InputError(f"{'--widths' if args.widths is not None else '--rows'}: applies to the families only "
                         f"(without MODEL), not to model files")
    models = [(path, load_model(path)) for path in args.models]
    with Progress("claims", total=3 * len(models), enabled=not args.quiet, unit="network") as bar:
        run = run_model_claims(models, time_limit=args.time_limit, progress=bar.update)
    code = EXIT_OK if run.complete else EXIT_PARTIAL
    if args.json:
        print_json(json_record(None, run.status, run.seconds, time_limit=run.time_limit, models=list(run.models),
                               cases=run.asked, finished=len(run.results), claims=[c.to_json() for c in run.results]))
        return code
    print("Regions per parameter, with bounds proven for each network as specified (shared filters included).")
    print("PROVEN: A's lower/params > B's upper/params.  REFUTED: B's lower/params ≥ A's upper/params.  "
          "open: neither (the gap says how far each is).")
    for claim in run.results:
        print()
        print("\n".join(format_model_claim(claim)))
    if not run.complete:
        print()
        print(f"PARTIAL (time limit {run.time_limit:g} s): {len(run.results)} of {run.asked} claims evaluated; "
              f"an open verdict with bounds cut by the time limit may be decided with more time.")
    return code


def run(args) -> int:
    from ilpregions.core.progress import Progress
    from ilpregions.services.claims import DEFAULT_CASES, check_widths, run_claims

    if args.models:
        return _run_models(args)
    widths = check_widths(parse_widths(args.widths))   # refused by arithmetic before any work
    with Progress("claims", total=len(DEFAULT_CASES) * len(widths), enabled=not args.quiet,
                  unit="width") as bar:
        run = run_claims(widths=widths, progress=bar.update, time_limit=args.time_limit)
    code = EXIT_OK if run.complete else EXIT_PARTIAL
    if args.json:
        print_json(json_record(None, run.status, run.seconds, widths=list(widths), cases=run.cases,
                               finished=sum(r.complete for r in run.results),
                               claims=[r.to_json() for r in run.results]))
        return code
    print("Regions per parameter: A = the claimed-larger side (best proven lower bound), "
          "B = the other side (best proven upper bound).")
    print("PROVEN: A.lower/params_A > B.upper/params_B.  REFUTED: B.lower/params_B ≥ A.upper/params_A.  "
          "open: neither.  margin = log10 of the PROVEN ratio.")
    for result in run.results:
        print()
        print("\n".join(format_claim(result, args.rows)))
    if not run.complete:
        print()
        print(f"PARTIAL: the time limit ({args.time_limit:g} s) passed after {sum(r.complete for r in run.results)} "
              f"of {run.cases} claims; the rest were not evaluated.")
    return code

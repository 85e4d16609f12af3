"""``ilpregions claims``: the paper's two conclusions, graded by exact bounds on concrete families."""

from __future__ import annotations

from ilpregions.core.errors import EXIT_OK, EXIT_PARTIAL, InputError
from ilpregions.cli.commands._common import (add_json_argument, add_time_limit_argument, json_record, print_json,
                                             short_int)


def register(sub) -> None:
    parser = sub.add_parser("claims", help="deep vs shallow CNN and CNN vs FC, regions per parameter, "
                                           "PROVEN or only SUGGESTED by the bounds",
                            description="Evaluates Xiong et al.'s conclusions (Theorem 3 and the CNN-vs-FC "
                                        "comparison) on concrete 1-D and 2-D families over a grid of widths d, "
                                        "with lower bounds proven for shared filters.")
    parser.add_argument("--widths", metavar="D,D,...", default=None,
                        help="comma-separated widths d (default 1,2,3,4,6,8,12,...,128)")
    parser.add_argument("--rows", action="store_true", help="print every width, not only the summary")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    add_time_limit_argument(parser)
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


def _per_param(value, params) -> str:
    if value is None:
        return "—"
    from ilpregions.cli.commands._common import log10_int
    import math

    return f"{log10_int(value) - math.log10(params):.2f}" if value > 0 else "-inf"


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
        lines.append(f"  by d (P=PROVEN, S=SUGGESTED, O=OPEN, R=REFUTED): {verdicts}")
        last = result.rows[-1]
        lines.append(f"  at d={last.d}: A ≥ {short_int(last.larger.lower) if last.larger.lower else '—'} "
                     f"({last.larger.lower_name}) with {last.larger.params} params; B ≤ "
                     f"{short_int(last.other.upper) if last.other.upper else '—'} ({last.other.upper_name}) "
                     f"with {last.other.params} params")
    changed = ", ".join(f"{r.d}: {r.formula_verdict} → {r.verdict}" for r in result.rows if r.changed)
    lines.append(f"  changed vs Theorem 1 plugged in for N': {changed or 'none'}")
    lines.append(f"  verdict: {result.summary}")
    return lines


def run(args) -> int:
    from ilpregions.core.progress import Progress
    from ilpregions.services.claims import DEFAULT_CASES, check_widths, run_claims

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
    print("Regions per parameter: A = the claimed-larger side (best rigorous lower bound), "
          "B = the other side (best upper bound).")
    print("PROVEN: A.lower/params_A > B.upper/params_B.  SUGGESTED: bounds overlap, like-for-like "
          "values agree.  margin = log10 of the PROVEN ratio.")
    for result in run.results:
        print()
        print("\n".join(format_claim(result, args.rows)))
    if not run.complete:
        print()
        print(f"PARTIAL: the time limit ({args.time_limit:g} s) passed after {sum(r.complete for r in run.results)} "
              f"of {run.cases} claims; the rest were not evaluated.")
    return code

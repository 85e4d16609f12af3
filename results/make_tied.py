"""The weight-sharing results: real CNN maximum against Theorem 1, computed by `tied_max`.

    python results/make_tied.py            # the table, the plot and the strip growth rates
    python results/make_tied.py --quick    # small sizes only (a smoke run)

Writes, under results/tied/:

* weight_sharing.csv / .md: every size the dp reaches within its cap, d1 = 2..4,
  kernels 2x2 and 3x3 (stride 1): formula, real maximum (largest of 2 draws,
  a proven lower bound; exact with high probability), their ratio;
* ratio.png: real/formula against the number of output positions, per kernel;
* strip_rates.csv / .md: strips of width w positions and length L, the fitted
  growth rate per row of log R_tied(L) and of log R_formula(L), their
  difference (the per-row loss of weight sharing) and the fit's residuals.

Every value is computed here; a line that does not finish within its cap is
recorded as such, never filled in.
"""

from __future__ import annotations

import argparse
import csv
import math
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "results" / "tied"


def _count(shape, kernel, d1, time_limit, memory_cap=2 ** 31):
    from ilpregions.core.errors import TooLargeError
    from ilpregions.core.spec import ConvLayer, Network
    from ilpregions.services.tied._tied_max import tied_max

    net = Network(shape, (ConvLayer(d1, kernel),))
    start = time.perf_counter()
    try:
        r = tied_max(net, repeats=2, time_limit=time_limit, memory_cap=memory_cap)
    except TooLargeError as exc:
        return {"status": "refused", "reason": str(exc), "seconds": time.perf_counter() - start}
    return {"status": "exact w.h.p." if r.complete else "time limit", "tied": r.regions, "formula": r.formula,
            "agreeing": r.details["agreeing_draws"], "peak_states": r.details["peak_states"],
            "seconds": time.perf_counter() - start}


def table(quick: bool, cap: float) -> list[dict]:
    sizes = [(3, 3), (4, 3), (4, 4)] if quick else [(3, 3), (4, 3), (4, 4), (5, 4), (5, 5), (6, 5), (6, 6)]
    rows = []
    for k in (2, 3):
        for (h, w) in sizes:
            if h < k or w < k:
                continue
            for d1 in (2, 3, 4):
                rec = _count((h, w, 1), k, d1, cap)
                rec.update(input=f"{h}x{w}x1", kernel=f"{k}x{k}", d1=d1, positions=(h - k + 1) * (w - k + 1))
                if rec.get("formula") and rec["status"] != "time limit":
                    rec["ratio"] = rec["tied"] / rec["formula"]
                rows.append(rec)
                print(f"[make_tied] {rec['input']} {rec['kernel']} d1={d1}: {rec['status']} "
                      f"{rec.get('tied', '')} / {rec.get('formula', '')} ({rec['seconds']:.1f} s)",
                      file=sys.stderr, flush=True)
                if rec["status"] != "exact w.h.p.":
                    break    # a larger d1 on the same input is harder still
    return rows


def strips(quick: bool, cap: float) -> list[dict]:
    """log R(L) for strips w positions wide, kernel 2x2 (input (L+1) x (w+1)), d1 = 2."""
    rows = []
    for w in (2, 3):
        longest = 5 if quick else (16 if w == 2 else 9)   # width 2 stays at 15 states; width 3 grows
        for L in range(1, longest + 1):
            rec = _count((L + 1, w + 1, 1), 2, 2, cap)
            rec.update(width=w, length=L)
            rows.append(rec)
            if rec["status"] != "exact w.h.p.":
                break
    return rows


def fit_rates(rows: list[dict]) -> list[dict]:
    """Least-squares slope of log R against L (L ≥ 2, where the interior pattern starts)."""
    out = []
    for w in sorted({r["width"] for r in rows}):
        pts = [r for r in rows if r["width"] == w and r["status"] == "exact w.h.p." and r["length"] >= 2]
        if len(pts) < 3:
            continue
        rec = {"width": w, "lengths": f"{pts[0]['length']}..{pts[-1]['length']}"}
        for key in ("tied", "formula"):
            xs = [r["length"] for r in pts]
            ys = [math.log(r[key]) for r in pts]
            mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
            slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)
            resid = [y - (my + slope * (x - mx)) for x, y in zip(xs, ys)]
            rec[f"rate_{key}"] = slope
            rec[f"max_residual_{key}"] = max(abs(e) for e in resid)
        rec["loss_per_row"] = rec["rate_formula"] - rec["rate_tied"]
        out.append(rec)
    return out


def _write_csv(path: Path, rows: list[dict]) -> None:
    keys = list(dict.fromkeys(k for r in rows for k in r))
    with open(path, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=keys)
        w.writeheader()
        w.writerows(rows)


def _plot(rows: list[dict]) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for k in sorted({r["kernel"] for r in rows}):
        for d1 in (2, 3, 4):
            pts = [r for r in rows if r["kernel"] == k and r["d1"] == d1 and "ratio" in r]
            if pts:
                ax.plot([r["positions"] for r in pts], [r["ratio"] for r in pts], "o-", label=f"{k}, d1={d1}")
    ax.set_xlabel("output positions")
    ax.set_ylabel("real maximum / Theorem 1")
    ax.set_title("Weight sharing: real CNN maximum over the formula (stride 1)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(OUT / "ratio.png", dpi=120)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--only", choices=("table", "strips"), default=None, help="run one part only")
    parser.add_argument("--cap", type=float, default=None, help="seconds per entry (default 60, quick 10)")
    args = parser.parse_args()
    sys.set_int_max_str_digits(0)
    cap = args.cap or (10.0 if args.quick else 60.0)
    OUT.mkdir(parents=True, exist_ok=True)
    if args.only != "strips":
        _table_outputs(table(args.quick, cap))
    if args.only != "table":
        _strip_outputs(strips(args.quick, cap))
    return 0


def _table_outputs(rows: list[dict]) -> None:
    _write_csv(OUT / "weight_sharing.csv", rows)
    lines = ["# Real CNN maximum (shared filters) against Theorem 1", "",
             "Largest of 2 draws over GF(2^31-1): a proven lower bound, exact with high probability "
             "(docs/tied.md). Stride 1, no padding. A row marked `time limit` shows the proven lower bound reached "
             "in its cap (the count of the neurons processed so far), not the maximum; larger d1 on that "
             "input were not tried.", "",
             "| input | kernel | d1 | positions | Theorem 1 | real maximum | real/formula | status | seconds |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        ratio = f"{r['ratio']:.4f}" if "ratio" in r else ""
        lines.append(f"| {r['input']} | {r['kernel']} | {r['d1']} | {r['positions']} | {r.get('formula', '')} | "
                     f"{r.get('tied', '')} | {ratio} | {r['status']} | {r['seconds']:.1f} |")
    (OUT / "weight_sharing.md").write_text("\n".join(lines) + "\n")
    _plot(rows)


def _strip_outputs(srows: list[dict]) -> None:
    _write_csv(OUT / "strips.csv", srows)
    rates = fit_rates(srows)
    _write_csv(OUT / "strip_rates.csv", rates)
    lines = ["# Per-row loss of weight sharing on strips (2x2 filters, d1 = 2)", "",
             "Strips w output positions wide and L long; slope of log R against L by least squares "
             "(natural log, L ≥ 2), with the largest residual of each fit.", "",
             "| width w | lengths | rate tied | rate formula | loss per row | max residual tied | "
             "max residual formula |", "|---|---|---|---|---|---|---|"]
    for r in rates:
        lines.append(f"| {r['width']} | {r['lengths']} | {r['rate_tied']:.5f} | {r['rate_formula']:.5f} | "
                     f"{r['loss_per_row']:.5f} | {r['max_residual_tied']:.2e} | {r['max_residual_formula']:.2e} |")
    (OUT / "strip_rates.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    sys.exit(main())

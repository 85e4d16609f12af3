"""Exact region counts vs the authors' sampler, with the same time budget.

Run: ``python benchmarks/bench_regions.py [--quick]``. Writes
``results/ground_truth/regions_benchmark.md`` and ``.csv``.

For each net: our exact count (rank route for one layer, and the LP tree
forced with ``method="lp"``), then the sampler (distinct sign patterns of
Gaussian inputs, the authors' LRCount-CNN method) given the same wall-clock
budget as the exact run. The relucent figure (807 s for the 52,920-region
net, 2 workers, Gurobi) is quoted from docs/peers.md#relucent, not re-run here: it
needs torch and gurobipy.
"""

from __future__ import annotations

import argparse
import csv
import os
import platform
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ilpregions.core.forward import he_normal_weights  # noqa: E402
from ilpregions.services.regions import count_linear_regions  # noqa: E402
from ilpregions.core.spec import ConvLayer, MaxPoolLayer, Network  # noqa: E402

OUT = ROOT / "results" / "ground_truth"


def commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                              text=True).stdout.strip() or "unknown"
    except OSError:
        return "unknown"


def nets(quick: bool):
    yield ("1-D local, 10 inputs, window 3, 2/position (relucent: 52,920 in 807 s)",
           Network((10, 1), (ConvLayer(filters=2, kernel=3, shared=False),)), ("exact", "lp"))
    yield ("2-D conv 3x3x1, 2x2, d1=4 (tied)", Network((3, 3, 1), (ConvLayer(4, 2),)), ("exact", "lp"))
    yield ("1-D conv 6x1 k2 d2 -> conv k2 d2 (2 layers)",
           Network((6, 1), (ConvLayer(2, 2), ConvLayer(2, 2))), ("exact",))
    yield ("1-D conv 8x1 k3 d2 -> maxpool 2", Network((8, 1), (ConvLayer(2, 3), MaxPoolLayer(2))), ("exact",))
    if not quick:
        yield ("1-D conv 8x1 k3 d2 -> conv k2 d2 (2 layers, may hit the limit)",
               Network((8, 1), (ConvLayer(2, 3), ConvLayer(2, 2))), ("exact",))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--time-limit", type=float, default=120.0)
    args = parser.parse_args(argv)
    rows = []
    for name, net, methods in nets(args.quick):
        w = he_normal_weights(net, seed=0)
        for method in methods:
            r = count_linear_regions(net, weights=w, method=method, time_limit=args.time_limit)
            s = count_linear_regions(net, weights=w, method="sample", samples=10 ** 12,
                                     time_limit=max(r.seconds, 0.05), seed=0)
            tests = r.details.get("tests", {})
            free = sum(tests.get(k, 0) for k in ("rank_free", "sample_free", "ray_free"))
            decided = free + r.lps_solved
            row = {
                "net": name, "method": r.method, "regions": r.regions, "exact": r.exact,
                "seconds": round(r.seconds, 3), "lps": r.lps_solved,
                "lps_per_s": round(r.lps_solved / r.seconds, 1) if r.lps_solved else "",
                "lp_avoided_share": round(free / decided, 3) if decided else "",
                "sampler_patterns": s.regions, "sampler_inputs": s.details["samples"],
                "sampler_seconds": round(s.seconds, 3),
                "sampler_missed": r.regions - s.regions if r.exact else "",
            }
            rows.append(row)
            print(row, flush=True)
    OUT.mkdir(parents=True, exist_ok=True)
    with open(OUT / "regions_benchmark.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    machine = f"{platform.platform()}, {os.cpu_count()} CPUs (shared), Python {platform.python_version()}"
    lines = [
        "# Exact region counts vs the sampler (same time budget)", "",
        f"Machine: {machine}. Commit: {commit()}. Weights: He-normal, seed 0.", "",
        "`rank` = independent subsets of the normals (one layer, generic biases; exact over GF(p));",
        "`lp` = the LP tree (HiGHS), all of R^n. `lp_avoided_share` = child cells settled by a rank",
        "test, a sampled witness or a ray walk instead of an LP (the side holding the parent's point",
        "is always free and not counted). The sampler draws N(0, v^2) inputs, v in {1,2,4,8,13}, for",
        "as long as the exact run took.", "",
        "| net | method | regions | exact | s | LPs | LPs/s | LPs avoided | sampler found | inputs | missed |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(f"| {r['net']} | {r['method']} | {r['regions']} | {r['exact']} | {r['seconds']} | {r['lps']} | "
                     f"{r['lps_per_s']} | {r['lp_avoided_share']} | {r['sampler_patterns']} | {r['sampler_inputs']} | "
                     f"{r['sampler_missed']} |")
    first = [r for r in rows if r["net"].startswith("1-D local, 10")]
    if first:
        lines += ["", "Ratio to relucent 1.0.0 (807 s for the same architecture, docs/peers.md#relucent): " +
                  ", ".join(f"{r['method']} {807 / max(r['seconds'], 1e-9):.0f}x faster" for r in first)]
    (OUT / "regions_benchmark.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

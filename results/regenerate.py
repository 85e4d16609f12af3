"""Regenerate everything in results/ from the shipped models and sweep definitions.

    python results/regenerate.py                 # tables and plots (minutes)
    python results/regenerate.py --benchmarks    # also the speed measurements (slow, needs ~12 GB RAM)
    python results/regenerate.py --quick         # smoke run of every generator

Each step is a separate script so it can also be run on its own.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def steps(quick: bool, benchmarks: bool) -> list[list[str]]:
    py = sys.executable
    q = ["--quick"] if quick else []
    out = [
        [py, "-m", "ilpregions", "report", "--out", "results"],
        [py, "results/make_backends.py"] + (["--time-limit", "1"] if quick else []),
        [py, "results/make_bounds_gap.py"],
        [py, "results/make_ground_truth.py"] + q,
        [py, "results/make_tied.py"] + q,
        [py, "results/make_line_density.py"] + q,   # CIFAR-shaped nets at initialisation (torch extra)
    ]
    if not quick:
        # Trains a small CNN on scikit-learn's bundled digits (the `examples` extra); ~10 min.
        out.append([py, "examples/digits/train_and_slice.py"])
    if benchmarks:
        out += [
            [py, "benchmarks/bench_cpsat.py"] + (["--repeat", "1"] if quick else []),
            [py, "benchmarks/bench_dp.py"] + q,
            [py, "benchmarks/bench_regions.py"] + q,
            [py, "benchmarks/bench_tied.py"] + q,
            [py, "benchmarks/bench_slice.py"],
        ]
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small grids: a smoke run")
    parser.add_argument("--benchmarks", action="store_true", help="also rerun benchmarks/ (slow)")
    args = parser.parse_args()
    failed = []
    for cmd in steps(args.quick, args.benchmarks):
        start = time.perf_counter()
        print(f"[regenerate] {' '.join(cmd[1:])}", file=sys.stderr, flush=True)
        code = subprocess.call(cmd, cwd=ROOT)
        print(f"[regenerate]   exit {code} in {time.perf_counter() - start:.1f} s", file=sys.stderr, flush=True)
        if code != 0:
            failed.append(" ".join(cmd[1:]))
    if failed:
        print("[regenerate] failed: " + "; ".join(failed), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Benchmark of the ``dp`` backend against its named baselines, side by side.

Every measurement runs in a fresh child process of this one run (so each
gets its own peak RSS), ours and the baseline on the same instance, and the
two counts are compared. Baselines:

* ``plain CP-SAT``: the design-card CP-SAT enumeration (benchmarks/plain_cpsat.py);
* ``prototype``: the plain numpy prototype of docs/math.md#the-plain-prototype (benchmarks/prototype_dp.py).

    python benchmarks/bench_dp.py            # the issue's lines (several minutes)
    python benchmarks/bench_dp.py --quick    # small stand-ins, well under a minute

Writes results/dp_benchmark.md and results/dp_benchmark.csv.
"""

from __future__ import annotations

import argparse
import csv
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

# name, (input shape, kernel, d1, stride), baseline, goal, quick stand-in for the baseline
LINES = [
    ("4x4x1, 2x2, d1=4", ((4, 4, 1), 2, 4, 1), "plain CP-SAT", "dp >= 1000x faster",
     ((3, 3, 1), 2, 4, 1)),
    ("6x6x1, 3x3, d1=9", ((6, 6, 1), 3, 9, 1), "prototype", "<= 2 s, >= 40x",
     ((5, 5, 1), 3, 9, 1)),
    ("8x8x1, 2x2, d1=4", ((8, 8, 1), 2, 4, 1), "prototype", "<= 2 s (prototype: 42 s)",
     ((5, 5, 1), 2, 4, 1)),
    ("8x8x1, 3x3, d1=16", ((8, 8, 1), 3, 16, 1), None, "<= 60 s, <= 8 GiB", None),
    ("6x6x3, 3x3, d1=16", ((6, 6, 3), 3, 16, 1), None, "<= 60 s", None),
    ("1-D 10000x3, k=5, d1=64", ((10000, 3), 5, 64, 1), None, "<= 10 s", None),
    ("16x16x1, 2x2 stride 2, d1=8", ((16, 16, 1), 2, 8, 2), None, "instant", None),
]


def _instance(geometry):
    from ilpregions.core.geometry import layer_instance
    from ilpregions.core.spec import ConvLayer, Network

    shape, kernel, d1, stride = geometry
    return layer_instance(Network(tuple(shape), (ConvLayer(d1, kernel, stride=stride, shared=False),)))


def worker(kind: str, geometry, time_limit: float | None) -> dict:
    """Run one side in this (child) process and return a JSON-able record."""
    sys.set_int_max_str_digits(0)
    inst = _instance(geometry)
    # Imports happen before the clock starts: we time the counting only.
    if kind == "dp":
        from ilpregions.backends.dp import engine as dp
    elif kind == "prototype":
        from prototype_dp import prototype_count
    else:
        from plain_cpsat import plain_count
    start, cpu_start = time.perf_counter(), time.process_time()
    if kind == "dp":
        out = dp.count(inst, time_limit=time_limit)
        record = {"regions": str(out.regions), "complete": out.complete,
                  "t_vectors": None if out.t_vectors is None else str(out.t_vectors),
                  "peak_states": out.details["peak_states"],
                  "peak_memory_bytes": out.details["peak_memory_bytes"],
                  "steps": out.details["dp_steps"], "positions": inst.positions}
    elif kind == "prototype":
        regions, peak = prototype_count(inst)
        record = {"regions": str(regions), "complete": True, "peak_states": peak}
    elif kind == "plain CP-SAT":
        out = plain_count(inst, time_limit=time_limit)
        record = {"regions": str(out["regions"]), "complete": out["complete"],
                  "t_vectors": str(out["t_vectors"])}
    else:
        raise ValueError(kind)
    record["seconds"] = time.perf_counter() - start
    # CPU time of this process: the machine is shared, so wall time overstates.
    record["cpu_seconds"] = time.process_time() - cpu_start
    record["max_rss_bytes"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return record


def run_child(kind: str, geometry, time_limit: float | None) -> dict:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", kind, json.dumps(geometry),
           "--time-limit", str(time_limit or 0)]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or [""])[-1]
        return {"error": last or f"exit status {proc.returncode} (killed: out of memory?)"}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _fmt_seconds(s: float | None) -> str:
    return "—" if s is None else (f"{s:.3f} s" if s < 10 else f"{s:.1f} s")


def _cpu(s: float | None) -> str:
    return "" if s is None else f" ({_fmt_seconds(s)} CPU)"


def _digits(regions: str | None) -> str:
    if regions is None:
        return "—"
    return regions if len(regions) <= 12 else f"{regions[0]}.{regions[1:3]}e{len(regions) - 1}"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small stand-ins for the slow baselines; "
                        "skips the 8x8x1 3x3 line")
    parser.add_argument("--dp-time-limit", type=float, default=600.0,
                        help="seconds per dp line before it reports how far it got (default 600)")
    parser.add_argument("--baseline-time-limit", type=float, default=900.0)
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("geometry", nargs="?", help=argparse.SUPPRESS)
    parser.add_argument("--time-limit", type=float, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--only", help="run only lines whose name contains this text")
    args = parser.parse_args(argv)
    sys.set_int_max_str_digits(0)  # counts can have many thousands of digits
    if args.worker:
        geometry = json.loads(args.geometry)
        print(json.dumps(worker(args.worker, geometry, args.time_limit or None)))
        return 0

    from _machine import machine_stamp

    stamp = machine_stamp()
    rows = []
    for name, geometry, baseline, goal, quick_geometry in LINES:
        if args.only and args.only not in name:
            continue
        if args.quick and name.startswith("8x8x1, 3x3"):
            continue
        geo = quick_geometry if (args.quick and quick_geometry) else geometry
        label = name if geo == geometry else f"{name} [quick: {geo[0]}, k={geo[1]}, d1={geo[2]}]"
        print(f"== {label}", flush=True)
        ours = run_child("dp", geo, args.dp_time_limit)
        print(f"   dp: {ours}", flush=True)
        theirs = run_child(baseline, geo, args.baseline_time_limit) if baseline else None
        if theirs is not None:
            print(f"   {baseline}: {theirs}", flush=True)
        agree = None
        ratio = None
        if theirs and "error" not in theirs and "error" not in ours:
            if ours["complete"] and theirs["complete"]:
                agree = ours["regions"] == theirs["regions"]
            ratio = theirs["seconds"] / max(ours["seconds"], 1e-9)
        rows.append({
            "line": label, "goal": goal, "baseline": baseline or "",
            "dp_seconds": ours.get("seconds"), "dp_cpu_seconds": ours.get("cpu_seconds"),
            "dp_complete": ours.get("complete"),
            "dp_peak_states": ours.get("peak_states"), "dp_peak_memory_bytes": ours.get("peak_memory_bytes"),
            "dp_max_rss_bytes": ours.get("max_rss_bytes"), "dp_steps": ours.get("steps"),
            "positions": ours.get("positions"), "dp_error": ours.get("error"),
            "baseline_seconds": theirs.get("seconds") if theirs else None,
            "baseline_cpu_seconds": theirs.get("cpu_seconds") if theirs else None,
            "baseline_peak_states": theirs.get("peak_states") if theirs else None,
            "baseline_complete": theirs.get("complete") if theirs else None,
            "speedup": ratio, "counts_agree": agree, "regions": ours.get("regions"),
        })

    out_dir = ROOT / "results"
    out_dir.mkdir(exist_ok=True)
    suffix = "_quick" if args.quick else ""
    with open(out_dir / f"dp_benchmark{suffix}.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0].keys()) if rows else ["line"])
        writer.writeheader()
        writer.writerows(rows)
    lines = [f"# dp backend benchmark{' (quick)' if args.quick else ''}", "",
             f"Machine: {stamp['platform']}, {stamp['cpu']}, {stamp['cores']} cores "
             f"(shared), Python {stamp['python']}; commit {stamp['commit']}.", "",
             "Times are wall clock (CPU time of the process in brackets: other jobs share the "
             "2 cores). Speed-up = baseline wall time / dp wall time.", "",
             "| line | goal | dp time | dp peak states | dp peak RSS | baseline | baseline time | "
             "baseline peak states | speed-up | counts agree | R_N |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        speedup = "—" if r["speedup"] is None else f"{r['speedup']:.0f}x"
        if r["dp_error"]:
            dp_time = f"refused/failed: {r['dp_error']}"
        elif r["dp_complete"]:
            dp_time = _fmt_seconds(r["dp_seconds"]) + _cpu(r["dp_cpu_seconds"])
        else:
            dp_time = (f"stopped at {_fmt_seconds(r['dp_seconds'])} after {r['dp_steps']} of "
                       f"{r['positions']} steps")
        rss = "—" if not r["dp_max_rss_bytes"] else f"{r['dp_max_rss_bytes'] / 2 ** 20:.0f} MiB"
        lines.append(
            f"| {r['line']} | {r['goal']} | {dp_time} | {r['dp_peak_states'] or '—'} | {rss} | "
            f"{r['baseline'] or '—'} | {_fmt_seconds(r['baseline_seconds'])}{_cpu(r['baseline_cpu_seconds'])} | "
            f"{r['baseline_peak_states'] or '—'} | "
            f"{speedup} | "
            f"{'—' if r['counts_agree'] is None else ('yes' if r['counts_agree'] else 'NO')} | "
            f"{_digits(r['regions'])} |")
    text = "\n".join(lines) + "\n"
    (out_dir / f"dp_benchmark{suffix}.md").write_text(text)
    print()
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())

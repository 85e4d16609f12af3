"""Benchmark of the ``dp`` backend against an older revision of it, side by side.

Every measurement runs in a fresh child process of this one run (so each
gets its own peak RSS and pays its own loading of compiled code): this
tree's engine and the baseline revision's engine on the same geometry, and
the two counts are compared. The baseline is checked out from git into a
temporary worktree for the run (benchmarks/_history.py); by default it is
97c5c3e, the dp engine as landed before the compiled kernels (issue 15).
The plain CP-SAT baseline (a method, not an older engine of ours) is run by
benchmarks/bench_cpsat.py; the plain numpy prototype of the DP is
benchmarks/prototype_dp.py.

    python benchmarks/bench_dp.py            # every line, then the Dask table (about 15 min)
    python benchmarks/bench_dp.py --quick    # small lines only
    python benchmarks/bench_dp.py --baseline main --quick   # a branch against main

Writes results/dp_benchmark.md and results/dp_benchmark.csv.
"""

from __future__ import annotations

import argparse
import csv
import os
import resource
import sys
import time
from pathlib import Path

from _machine import peak_rss_bytes   # benchmarks/ is on sys.path: run as a script or through _history's child

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

#: The default baseline: the dp engine as landed before the compiled kernels (issue 15).
BASELINE = "97c5c3e"

# name, (input shape, kernel, d1, stride), run the old engine too, goal
LINES = [
    ("4x4x1, 2x2, d1=4", ((4, 4, 1), 2, 4, 1), True, "no slower"),
    ("6x6x1, 3x3, d1=9", ((6, 6, 1), 3, 9, 1), True, "no slower"),
    ("8x8x1, 2x2, d1=4", ((8, 8, 1), 2, 4, 1), True, "no slower"),
    ("8x8x1, 3x3, d1=16", ((8, 8, 1), 3, 16, 1), True, ">= 5x faster, <= 1 GiB RSS"),
    ("6x6x3, 3x3, d1=16", ((6, 6, 3), 3, 16, 1), True, "no slower"),
    ("1-D 10000x3, k=5, d1=64", ((10000, 3), 5, 64, 1), True, "no slower"),
    ("16x16x1, 2x2 stride 2, d1=8", ((16, 16, 1), 2, 8, 2), True, "no slower"),
    ("10x10x1, 2x2, d1=4", ((10, 10, 1), 2, 4, 1), False, "exact, or refused up front"),
    ("9x9x1, 3x3, d1=9", ((9, 9, 1), 3, 9, 1), False, "exact, or refused up front"),
]
QUICK = {"4x4x1, 2x2, d1=4", "6x6x1, 3x3, d1=9", "8x8x1, 2x2, d1=4", "16x16x1, 2x2 stride 2, d1=8"}


def _instance(geometry):
    from ilpregions.core.geometry import layer_instance
    from ilpregions.core.spec import ConvLayer, Network

    shape, kernel, d1, stride = geometry
    return layer_instance(Network(tuple(shape), (ConvLayer(d1, kernel, stride=stride, shared=False),)))


def worker(kind: str, geometry, time_limit: float | None, memory_cap: int | None = None,
           workers: int = 0) -> dict:
    """One measurement in this (child) process, with the ``ilpregions`` of the child's tree.

    ``kind``: "count" (a timed count), "estimate" (the pilot alone) or "dask"
    (every stage on a LocalCluster). Module paths are those of both 97c5c3e
    and this tree (core.geometry, core.spec, backends.dp.engine); the rest is
    optional glue, named where it is used.
    """
    sys.set_int_max_str_digits(0)
    inst = _instance(geometry)
    options = {} if memory_cap is None else {"memory_cap": memory_cap}
    # Imports (and the Dask cluster) come before the clock: we time the counting.
    from ilpregions.backends.dp import engine
    try:
        from ilpregions.backends.dp.run import tune_malloc   # since issue 15; `count` calls it for dp
    except ImportError:  # 97c5c3e and older: no malloc tuning existed
        tune_malloc = None
    if tune_malloc is not None:
        tune_malloc()
    if kind == "estimate":   # the pilot alone, on every line (the run pilots wide blocks only)
        start, cpu_start = time.perf_counter(), time.process_time()
        found = engine.estimate(inst)
        return {"estimated_peak_states": found.get("estimated_peak_states"),
                "estimated_peak_memory_bytes": found.get("estimated_peak_memory_bytes"),
                "seconds": time.perf_counter() - start, "cpu_seconds": time.process_time() - cpu_start}
    runner = None
    if kind == "dask":
        from ilpregions.backends.dp import distributed

        distributed.DISTRIBUTE_AT = 0  # every stage on the cluster (the point of this table)
        runner = distributed.connect(workers=workers)
        options["scheduler"] = runner.client
    start, cpu_start = time.perf_counter(), time.process_time()
    try:
        out = engine.count(inst, time_limit=time_limit, **options)
    except Exception as error:  # a refusal (TooLargeError) is a result here
        return {"error": f"{type(error).__name__}: {error}", "seconds": time.perf_counter() - start,
                "max_rss_bytes": peak_rss_bytes()}
    record = {"regions": str(out.regions), "complete": out.complete,
              "t_vectors": None if out.t_vectors is None else str(out.t_vectors),
              "peak_states": out.details["peak_states"], "steps": out.details["dp_steps"],
              "positions": inst.positions, "scan": out.details.get("scan_axes"),
              "compiled_steps": out.details.get("compiled_steps"),
              "estimated_peak_states": out.details.get("estimated_peak_states"),
              "estimate_seconds": out.details.get("estimate_seconds"),
              "peak_memory_bytes": out.details.get("peak_memory_bytes")}
    record["engine_file"] = engine.__file__
    record["seconds"] = time.perf_counter() - start
    # CPU time of this process: the machine is shared, so wall time overstates.
    record["cpu_seconds"] = time.process_time() - cpu_start
    record["max_rss_bytes"] = peak_rss_bytes()
    if runner is not None:
        rss = runner.client.run(lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
        record.update({k: v for k, v in out.details.items() if k.startswith("dask_")})
        record["worker_rss_bytes"] = max(rss.values())
        runner.client.close()
        runner.cluster.close()
    return record


def run_child(tree, kind: str, geometry, time_limit: float | None, memory_cap: int | None = None,
              workers: int = 0, kill_after: float | None = None) -> dict:
    """:func:`worker` in a fresh child whose ``ilpregions`` is ``tree``'s (benchmarks/_history.py)."""
    record = tree.run("bench_dp.py:worker", {"kind": kind, "geometry": geometry, "time_limit": time_limit,
                                            "memory_cap": memory_cap, "workers": workers}, timeout=kill_after)
    if record.get("error", "").startswith("killed after"):
        record["error"] += " (no time limit given to the engine)"
    return record


def _fmt_seconds(s: float | None) -> str:
    return "—" if s is None else (f"{s:.3f} s" if s < 10 else f"{s:.1f} s")


def _time(r: dict | None) -> str:
    if r is None:
        return "—"
    if r.get("error"):
        return f"refused after {_fmt_seconds(r.get('seconds'))}: {r['error']}"
    if not r.get("complete"):
        return f"stopped at {_fmt_seconds(r['seconds'])} after {r['steps']} of {r['positions']} steps"
    return f"{_fmt_seconds(r['seconds'])} ({_fmt_seconds(r['cpu_seconds'])} CPU)"


def _mib(nbytes) -> str:
    if not nbytes:
        return "—"
    return f"{nbytes / 2 ** 20:.0f} MiB" if nbytes >= 2 ** 20 else f"{nbytes / 2 ** 10:.0f} KiB"


def _digits(regions: str | None) -> str:
    if regions is None:
        return "—"
    return regions if len(regions) <= 12 else f"{regions[0]}.{regions[1:3]}e{len(regions) - 1}"


#: Dask lines: (name, geometry, workers, memory cap per task in bytes).
DASK_LINES = [
    ("6x6x1, 3x3, d1=9", ((6, 6, 1), 3, 9, 1), 2, 4 * 2 ** 20),
    ("8x8x1, 2x2, d1=4", ((8, 8, 1), 2, 4, 1), 2, 16 * 2 ** 20),
]


def main(argv=None) -> int:
    from _history import add_baseline_argument, baseline_tree, stamp_lines, this_tree

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small lines only, no Dask table")
    add_baseline_argument(parser, BASELINE, "the dp engine landed before the compiled kernels")
    parser.add_argument("--dp-time-limit", type=float, default=600.0,
                        help="seconds per line and engine before it reports how far it got (default 600)")
    parser.add_argument("--wall-time-limit", type=float, default=900.0,
                        help="the lines beyond the old engine run without a time limit (they finish or "
                             "are refused up front); their child is killed after this many seconds (default 900)")
    parser.add_argument("--only", help="run only lines whose name contains this text")
    parser.add_argument("--repeat", type=int, default=1,
                        help="run old and new alternately this many times on the lines under "
                             "10 s and keep each side's fastest CPU time (default 1)")
    parser.add_argument("--no-dask", action="store_true", help="skip the Dask table")
    parser.add_argument("--reuse-log", metavar="LOG",
                        help="take the single-process records from the printed log of an earlier run "
                             "(its '== line' / 'new:' / 'old:' lines) instead of running them again")
    args = parser.parse_args(argv)
    sys.set_int_max_str_digits(0)  # counts can have many thousands of digits
    new_tree = this_tree()
    with baseline_tree(args) as old_tree:
        stamp = stamp_lines(new_tree, old_tree)
        started = time.perf_counter()
        reused = _read_log(args.reuse_log) if args.reuse_log else None
        rows = [_line(name, geometry, goal, new_tree, old_tree if with_old else None, with_old, args,
                      reused[name] if reused else None)
                for name, geometry, with_old, goal in LINES
                if not ((args.only and args.only not in name) or (args.quick and name not in QUICK))]
        dask_rows = []
        if not (args.quick or args.no_dask):
            for name, geometry, workers, cap in DASK_LINES:
                print(f"== dask {name}", flush=True)
                r = run_child(new_tree, "dask", geometry, args.dp_time_limit, cap, workers)
                print(f"   dask: {r}", flush=True)
                single = next((row["regions"] for row in rows if row["line"] == name), None)
                dask_rows.append((name, workers, cap, r, single))
    _write(rows, dask_rows, stamp, args.quick, time.perf_counter() - started)
    return 0


def _line(name, geometry, goal, new_tree, old_tree, with_old: bool, args, reused) -> dict:
    """Measure one line: this tree's engine, the baseline's (``old_tree``, or None), the pilot."""
    print(f"== {name}", flush=True)
    # Lines beyond the old engine run as a user would (no time limit: they
    # finish or are refused up front); the child is killed after
    # --wall-time-limit seconds.
    limit = args.dp_time_limit if with_old else None
    kill = None if with_old else args.wall_time_limit
    new = reused["new"] if reused else run_child(new_tree, "count", geometry, limit, kill_after=kill)
    print(f"   new: {new}", flush=True)
    old = (reused.get("old") if reused else
           run_child(old_tree, "count", geometry, args.dp_time_limit) if old_tree is not None else None)
    if old is not None:
        print(f"   old: {old}", flush=True)
    if args.repeat > 1 and old and not reused and max(new.get("seconds", 99), old.get("seconds", 99)) < 10:
        new, old = _best_of(new_tree, old_tree, geometry, limit, args.dp_time_limit, args.repeat, new, old)
        print(f"   best of {args.repeat}: new {new.get('cpu_seconds')} s CPU, old {old.get('cpu_seconds')} s CPU",
              flush=True)
    estimate = (reused.get("est") if reused else run_child(new_tree, "estimate", geometry, None)) or {}
    print(f"   est: {estimate}", flush=True)
    both = old and not old.get("error") and not new.get("error")
    return {
        "line": name, "goal": goal,
        "new_seconds": new.get("seconds"), "new_cpu_seconds": new.get("cpu_seconds"),
        "new_complete": new.get("complete"), "new_error": new.get("error"),
        "new_peak_states": new.get("peak_states"), "new_max_rss_bytes": new.get("max_rss_bytes"),
        "new_scan": " ".join(new.get("scan") or []), "new_compiled_steps": new.get("compiled_steps"),
        "old_seconds": old.get("seconds") if old else None,
        "old_cpu_seconds": old.get("cpu_seconds") if old else None,
        "old_peak_states": old.get("peak_states") if old else None,
        "old_max_rss_bytes": old.get("max_rss_bytes") if old else None,
        "ratio_wall": old["seconds"] / max(new["seconds"], 1e-9) if both else None,
        "ratio_cpu": old["cpu_seconds"] / max(new["cpu_seconds"], 1e-9) if both else None,
        "counts_agree": (old["regions"] == new["regions"]) if both and old["complete"] and new["complete"] else None,
        "regions": new.get("regions"), "_new": new, "_old": old, "repeats": new.get("repeats", 1),
        "estimated_peak_states": estimate.get("estimated_peak_states"),
        "estimate_seconds": estimate.get("seconds"),
        "estimated_peak_memory_bytes": estimate.get("estimated_peak_memory_bytes"),
        "new_peak_memory_bytes": new.get("peak_memory_bytes"),
    }


def _best_of(new_tree, old_tree, geometry, limit, old_limit, repeat, new, old):
    """Alternate old and new ``repeat`` times in all; each side's run with the least CPU."""
    news, olds = [new], [old]
    for _ in range(repeat - 1):
        news.append(run_child(new_tree, "count", geometry, limit))
        olds.append(run_child(old_tree, "count", geometry, old_limit))
    pick = [min((r for r in rs if not r.get("error")), key=lambda r: r["cpu_seconds"]) for rs in (news, olds)]
    for r in pick:
        r["repeats"] = repeat
    return pick


def _read_log(path: str) -> dict:
    """{line name: {"new": record, "old": record}} from a printed run log."""
    import ast

    out, name = {}, None
    for text in Path(path).read_text().splitlines():
        text = text.strip()
        if text.startswith("== ") and not text.startswith("== dask"):
            name = text[3:]
            out[name] = {}
        elif name and text.startswith(("new: ", "old: ", "est: ")):
            out[name][text[:3]] = ast.literal_eval(text[5:])  # a literal dict, no code
    return out


def _estimate(r) -> str:
    if not r.get("estimated_peak_states"):
        return "—"
    return f"{r['estimated_peak_states']} ({_fmt_seconds(r['estimate_seconds'])})"


def _estimate_table(rows) -> list[str]:
    """Estimated (pilot, before the run) against measured peak states and memory."""
    out = ["", "## Estimate before the run against the measured peak", "",
           "The pilot (ilpregions.backends.dp.estimate) runs the DP on narrow sub-blocks and extrapolates; "
           "here it ran alone in its own process on every line (a count pilots only wide blocks). "
           "Memory: the estimate's arithmetic against the engine's own byte count of its widest step.", "",
           "| line | estimated peak states | measured peak states | estimate / measured | estimated memory | "
           "measured step memory | pilot seconds |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        est, got = r.get("estimated_peak_states"), r.get("new_peak_states") if r.get("new_complete") else None
        ratio = f"{est / got:.2f}" if est and got else "—"
        measured = got or (f"≥ {r['new_peak_states']} (not finished)" if r.get("new_peak_states") else "—")
        out.append(f"| {r['line']} | {est or '— (no trend: under 2 pilots)'} | {measured} | {ratio} | "
                   f"{_mib(r.get('estimated_peak_memory_bytes'))} | {_mib(r.get('new_peak_memory_bytes'))} | "
                   f"{_fmt_seconds(r.get('estimate_seconds'))} |")
    return out


def _write(rows, dask_rows, stamp, quick, seconds) -> None:
    out_dir = ROOT / "results"
    out_dir.mkdir(exist_ok=True)
    suffix = "_quick" if quick else ""
    fields = [k for k in (rows[0].keys() if rows else ["line"]) if not k.startswith("_")]
    with open(out_dir / f"dp_benchmark{suffix}.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=fields, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    try:
        load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        load = "unknown"
    lines = [f"# dp backend benchmark{' (quick)' if quick else ''}", "", *stamp,
             f"Load average at the end: {load}; on 2 shared cores a load above 2 inflates wall times, so the "
             f"CPU time of each process is given beside it. Whole run: {seconds / 60:.1f} min.", "",
             "Old engine: the dp engine of the baseline commit, run from its own source tree. "
             "Each cell is one fresh child process (its own peak RSS; the new engine pays its one-off "
             "loading of compiled code inside the timed part). Ratio = old / new, wall (CPU).", "",
             "| line | goal | old engine | new engine | ratio | peak states old / new | estimate (pilot) | "
             "peak RSS old / new | counts agree | R_N |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        ratio = "—" if r["ratio_wall"] is None else f"{r['ratio_wall']:.1f}x ({r['ratio_cpu']:.1f}x)"
        agree = "—" if r["counts_agree"] is None else ("yes" if r["counts_agree"] else "NO")
        lines.append(f"| {r['line']} | {r['goal']} | {_time(r['_old'])} | {_time(r['_new'])} | {ratio} | "
                     f"{r['old_peak_states'] or '—'} / {r['new_peak_states'] or '—'} | {_estimate(r)} | "
                     f"{_mib(r['old_max_rss_bytes'])} / {_mib(r['new_max_rss_bytes'])} | {agree} | "
                     f"{_digits(r['regions'])} |")
    lines += _estimate_table(rows)
    if dask_rows:
        lines += ["", "## Dask (LocalCluster on this machine, worker processes, every stage distributed)", "",
                  "| line | workers | memory cap per task | max partitions | distributed steps | seconds | "
                  "peak RSS per worker | equals single process |", "|---|---|---|---|---|---|---|---|"]
        for name, workers, cap, r, single in dask_rows:
            if r.get("error"):
                lines.append(f"| {name} | {workers} | {_mib(cap)} | — | — | {r['error']} | — | — |")
                continue
            same = "—" if single is None else ("yes" if single == r["regions"] else "NO")
            lines.append(f"| {name} | {workers} | {_mib(cap)} | {r.get('dask_max_partitions')} | "
                         f"{r.get('dask_steps')} | {_time(r)} | {_mib(r.get('worker_rss_bytes'))} | {same} |")
    text = "\n".join(lines) + "\n"
    (out_dir / f"dp_benchmark{suffix}.md").write_text(text)
    print()
    print(text)


if __name__ == "__main__":
    sys.exit(main())

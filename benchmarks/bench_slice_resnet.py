"""Exact segments through ResNets (issue 22): the line engine and the polygon engine side by side.

Models (examples/resnet/resnet.py, random init, eval mode): the small ResNet of the issue at widths 4, 8
and 16, and ResNet-18 (CIFAR variant, 11.2M parameters). The segment runs between two standard-normal
inputs (seed 0). Every run is a fresh process (``python bench_slice_resnet.py --child ...``), so its peak
resident memory is its own and its first call is a first call: the wall time is that of
``slice_network`` from the torch module (tracing, the engine's arrays, loading the cached compiled
kernels, the walk, the certificate); the process time with imports is shown too. The line engine's rows
are the fastest of three processes; the polygon engine (the slicer as it was before this engine, run at
this commit with ``engine="polygon"`` and its memory cap lifted, as it had none) runs once, under the
time limit the issue used, and is killed past 12 GB or 15 minutes.

Run: ``python benchmarks/bench_slice_resnet.py`` (writes results/slices/resnet_benchmark.md; about half an
hour, most of it the polygon engine's runs).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from _machine import peak_rss_bytes   # benchmarks/ is on sys.path: run as a script or through _history's child

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT / "examples" / "resnet"))

KILL_RSS = 12 << 30
KILL_SECONDS = 900


def child(name: str, engine: str, time_limit: float | None, points: int) -> None:
    """One run, printed as one JSON line."""
    start = time.perf_counter()
    import numpy as np
    from resnet import build, random_segment

    from ilpregions import slice_network

    model = build(name)
    a, b = random_segment()
    through = [a, b] if points == 2 else [a, b, np.random.default_rng(1).normal(size=a.shape)]
    mark, cpu = time.perf_counter(), time.process_time()
    out = {"name": name, "engine": engine, "points": points, "time_limit": time_limit}
    try:
        # the polygon engine as it was: no memory cap of its own (the watchdog stops it)
        cap = 64 << 30 if engine == "polygon" else None
        r = slice_network(model, through, input_shape=(3, 32, 32), time_limit=time_limit, engine=engine,
                          memory_cap=cap)
    except Exception as exc:  # noqa: BLE001 - a refusal is a result of the benchmark
        out.update(error=f"{type(exc).__name__}: {exc}", seconds=time.perf_counter() - mark)
    else:
        c = r.certificate
        out.update(pieces=r.pieces, complete=r.complete, exact=r.exact, stopped=r.stopped,
                   seconds=time.perf_counter() - mark, cpu=time.process_time() - cpu,
                   certified=None if c is None else c.by_bounds + c.exact, unchecked=None if c is None else c.unchecked,
                   mismatches=None if c is None else len(c.mismatches), found=len(r.vertices),
                   by_op={k: round(v, 3) for k, v in r.seconds_by_op.items()},
                   switches=[list(s) for s in r.switches])
    out["process_seconds"] = time.perf_counter() - start
    out["rss"] = peak_rss_bytes()
    print(json.dumps(out), flush=True)


def reach(name: str) -> None:
    """How far the float64 error bounds reach: per ReLU layer, the median of (error bound / |value|) of its
    inputs at the segment's midpoint (the anchor's bounds); above 1, a sign cannot be certified."""
    import numpy as np
    from resnet import build, random_segment

    from ilpregions.backends.slicing.linenet import dense_pass, prepare
    from ilpregions.services.torch import to_slicenet

    net = prepare(to_slicenet(build(name), (3, 32, 32)))
    a, b = (v.reshape(-1) for v in random_segment())
    p = dense_pass(net, a, b - a, np.array([0.5]))
    ratios = []
    for op in net.ops:
        if op.kind == "relu":
            t = op.inputs[0]
            ratios.append(float(np.median(p.err_values[t][:, 0] / np.maximum(np.abs(p.values[t][:, 0]), 1e-300))))
    print(json.dumps({"name": name, "reach": ratios}), flush=True)


def run(name, engine, time_limit=None, points=2) -> dict:
    """A fresh process; killed past KILL_RSS or KILL_SECONDS (then reported so)."""
    import psutil

    args = [sys.executable, __file__, "--child", name, engine, str(time_limit), str(points)]
    load = os.getloadavg()[0]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    watch, peak, start = psutil.Process(proc.pid), 0, time.perf_counter()
    while proc.poll() is None:
        try:
            peak = max(peak, watch.memory_info().rss)
        except psutil.Error:
            pass
        if peak > KILL_RSS or time.perf_counter() - start > KILL_SECONDS:
            proc.kill()
            proc.wait()
            return {"name": name, "engine": engine, "points": points, "killed": True, "rss": peak,
                    "seconds": time.perf_counter() - start, "load": load}
        time.sleep(0.2)
    out, err = proc.communicate()
    lines = [line for line in out.splitlines() if line.startswith("{")]
    if proc.returncode not in (0,) or not lines:
        return {"name": name, "engine": engine, "points": points, "error": err.strip().splitlines()[-1:],
                "load": load}
    data = json.loads(lines[-1])
    data["load"] = load
    return data


def best_of(n, *args, **kw) -> dict:
    runs = [run(*args, **kw) for _ in range(n)]
    ok = [r for r in runs if "seconds" in r and not r.get("killed")]
    return min(ok, key=lambda r: r["seconds"]) if ok else runs[-1]


def _cell(r: dict) -> str:
    if r.get("killed"):
        return f"killed after {r['seconds']:.0f} s at {r['rss'] / 2 ** 30:.1f} GiB"
    if "error" in r:
        return f"refused: {r['error']}"
    state = "exact" if r["exact"] else ("partial, " + (r.get("stopped") or "")) if not r["complete"] else "uncertified"
    return f"{r['pieces']:,} ({state})"


def write(rows: list[dict], reaches: dict, load_before, load_after) -> None:
    from _machine import machine_stamp

    stamp = machine_stamp()
    lines = ["# Segments through ResNets: the line engine and the polygon engine", "",
             f"Machine: {stamp['cpu']}, {stamp['cores']} cores, shared with other jobs while measured (1-minute "
             f"load average {load_before:.1f} before, {load_after:.1f} after; each row's load at its start is "
             f"shown), Python {stamp['python']}, commit {stamp['commit']}.", "",
             __doc__.split("\n\n")[1].replace("\n", " "), "",
             "| network | parameters | engine | pieces | seconds (call) | process s | CPU s | peak RSS | "
             "pieces/s | certified | load |", "|---|---:|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    params = {"4": "1,962", "8": "7,370", "16": "28,554", "resnet18": "11,173,962"}
    for r in rows:
        what = f"{'ResNet-18' if r['name'] == 'resnet18' else 'width ' + r['name']}" + (
            " (plane)" if r["points"] == 3 else "")
        sec = r.get("seconds", 0.0)
        rate = f"{r['found'] / sec:,.0f}" if r.get("found") and sec else ""
        cert = "" if r.get("certified") is None else f"{r['certified']:,}"
        lines.append(f"| {what} | {params[r['name']]} | {r['engine']} | {_cell(r)} | {sec:.2f} | "
                     f"{r.get('process_seconds', 0.0):.2f} | {r.get('cpu', 0.0):.2f} | "
                     f"{r.get('rss', 0) / 2 ** 20:,.0f} MiB | {rate} | {cert} | {r['load']:.1f} |")
    lines += ["", "Reach of the float64 error bounds (median of error bound / |value| over each ReLU layer's "
              "inputs, at the segment's midpoint; a piece is certified only where every sign clears its bound, "
              "so a layer whose median passes 1 cannot be certified):", ""]
    for name, ratios in reaches.items():
        lines.append(f"* {'ResNet-18' if name == 'resnet18' else 'width ' + name}: "
                     + ", ".join(f"{r:.0e}" for r in ratios))
    lines += ["", "Switches per ReLU layer along the segment (the line engine's exact runs: entries, switches "
              "found, entries that switch at least once):", ""]
    for r in rows:
        if r.get("switches") and r.get("complete"):
            lines.append(f"* width {r['name']}: " + "; ".join(f"{w} {n:,}/{k:,}/{m:,}" for w, n, k, m in r["switches"]))
    out = ROOT / "results" / "slices" / "resnet_benchmark.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines) + "\n")
    print(f"wrote {out}")


def main() -> None:
    load_before = os.getloadavg()[0]
    run("4", "line")                         # the kernels compiled and cached before anything is timed
    rows = []
    for name in ("4", "8", "16"):
        rows.append(best_of(3, name, "line"))
        print(rows[-1], flush=True)
    rows.append(run("resnet18", "line", time_limit=60.0))
    print(rows[-1], flush=True)
    rows.append(run("resnet18", "auto", time_limit=60.0, points=3))
    print(rows[-1], flush=True)
    for name, limit in (("4", None), ("8", 200.0), ("16", 200.0), ("resnet18", 60.0)):
        rows.append(run(name, "polygon", time_limit=limit))
        print(rows[-1], flush=True)
    reaches = {}
    for name in ("16", "resnet18"):
        out = subprocess.run([sys.executable, __file__, "--reach", name], capture_output=True, text=True)
        reaches[name] = json.loads(out.stdout.strip().splitlines()[-1])["reach"]
    write(rows, reaches, load_before, os.getloadavg()[0])


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--reach":
        reach(sys.argv[2])
    elif len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(sys.argv[2], sys.argv[3], None if sys.argv[4] == "None" else float(sys.argv[4]), int(sys.argv[5]))
    else:
        main()

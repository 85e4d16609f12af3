"""Speed of ``slice``: exact pieces per second against an older slicer, and a grid sampler.

Two networks, planes (triangles) through three test digits of different classes:

* the digits CNN of examples/digits (the trained weights in results/slices/digits_cnn.pt if
  present, and its initialisation), input 1x8x8;
* a 5-layer MLP of width 64 on the 64 digit pixels, He-normal weights (seed 0).

For each slice: pieces, wall and CPU seconds, pieces per second, the same for the baseline
slicer (by default 0174001, the slicer as first landed, before the speed work of issue 14;
``--baseline REV`` picks another revision, e.g. ``main`` to measure a branch against it), the
seconds per stage (affine maps, ReLU splits, max-pool splits, decision boundary,
certification), and the number of distinct activation patterns that a uniform grid over the
same triangle finds when given the same time as the exact slicer (a lower bound on the
pieces; the gap is what sampling misses).

Both slicers run in child processes of this one run (benchmarks/_history.py: the baseline
from a temporary git worktree), on the same networks and points, alternately, the fastest of
``--repeat`` runs kept per slice; each child first slices once untimed (numba's compiled code
loads, or compiles in the baseline's fresh tree).

Run: ``python benchmarks/bench_slice.py`` (writes results/slices/benchmark.md).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

#: The default baseline: the slicer as first landed, before the speed work (issue 14).
BASELINE = "0174001"
TRIPLES = [(0, 1, 2), (3, 4, 5), (6, 7, 8)]
CHECKPOINT = ROOT / "results" / "slices" / "digits_cnn.pt"


# -- inputs: what both sides slice, built the same way from torch, numpy and the public API --

def digits() -> np.ndarray:
    """The test digits (flat, 64 values each) of results/slices, or scikit-learn's first 360."""
    test = ROOT / "results" / "slices" / "digits_test.npy"
    if test.exists():
        return np.load(test).reshape(-1, 64).astype(np.float64)
    from sklearn.datasets import load_digits
    return load_digits().data[:360] / 16.0


def recipes(tmp: Path) -> list[dict]:
    """The networks, as recipes both sides build (:func:`build`); the MLP's weights are drawn
    once here (this tree's He-normal draw) and saved for both."""
    from ilpregions.core.forward import he_normal_weights
    from ilpregions.core.spec import DenseLayer, Network

    out = []
    try:
        import torch  # noqa: F401 - the CNN needs the torch extra
        if CHECKPOINT.exists():
            out.append({"name": "digits CNN (trained)", "kind": "torch", "state": str(CHECKPOINT)})
        out.append({"name": "digits CNN (init)", "kind": "torch", "state": None})
    except ImportError:
        pass
    mlp = Network((64,), tuple(DenseLayer(64) for _ in range(5)))
    weights = tmp / "mlp.npz"
    np.savez(weights, **he_normal_weights(mlp, seed=0))
    out.append({"name": "MLP 5x64 (He init)", "kind": "mlp", "width": 64, "depth": 5, "weights": str(weights)})
    return out


def build(recipe: dict):
    """``(model, keyword arguments of as_slicenet)`` for a recipe, in the calling process."""
    if recipe["kind"] == "torch":
        import torch

        sys.path.insert(0, str(ROOT / "examples" / "digits"))
        from train_and_slice import build_model

        torch.manual_seed(0)
        model = build_model()
        if recipe["state"]:
            model.load_state_dict(torch.load(recipe["state"], map_location="cpu", weights_only=True)["state_dict"])
        return model.eval(), {"input_shape": (1, 8, 8)}
    from ilpregions import DenseLayer, Network

    net = Network((recipe["width"],), tuple(DenseLayer(recipe["width"]) for _ in range(recipe["depth"])))
    with np.load(recipe["weights"]) as data:  # allow_pickle is off
        return net, {"weights": {k: data[k] for k in data.files}}


# -- one side: runs in a child process whose ilpregions is that side's tree --

def _slicer_api():
    """``(as_slicenet, slice_network)`` by the module paths of the tree on sys.path."""
    try:  # from the layout commit (bd0af14) on, the front exports both
        from ilpregions.services.slicing import as_slicenet, slice_network
    except ImportError:  # before it (e.g. 0174001): as_slicenet lived in services/slicing/api.py
        from ilpregions.services.slicing.api import as_slicenet, slice_network
    return as_slicenet, slice_network


def side(recipes: list[dict], points: list) -> list[dict]:
    """Slice every network on every plane; one record per (network, plane), in order."""
    from threadpoolctl import threadpool_limits

    as_slicenet, slice_network = _slicer_api()
    out = []
    # one BLAS thread, as the current slicer sets itself: the comparison is of the code, not of thread settings
    with threadpool_limits(limits=1, user_api="blas"):
        for recipe in recipes:
            model, kwargs = build(recipe)
            net = as_slicenet(model, **kwargs)
            slice_network(net, [np.asarray(p) for p in points[0]])   # warm-up: compiled code loads
            for triple in points:
                wall, cpu = time.perf_counter(), time.process_time()
                r = slice_network(net, [np.asarray(p) for p in triple])
                wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
                out.append({"name": recipe["name"], "pieces": r.pieces, "wall": wall, "cpu": cpu,
                            "by_op": dict(r.seconds_by_op), "boundary_pieces": r.boundary_pieces,
                            "certified": r.certificate is not None and r.certificate.ok})
    return out


# -- this process: both sides, the grid sampler, the report --

def grid_at_equal_time(net, plane, seconds: float, n: int = 2000) -> tuple[int, int, float]:
    """Distinct patterns of an n x n grid over the triangle, visited in random order, until
    ``seconds`` have passed (equal time by construction; a lower bound on the pieces)."""
    from ilpregions.backends.slicing.engine import pattern_id
    from ilpregions.services.slicing import evaluate

    a, b, c = plane.polygon
    idx = np.random.default_rng(0).permutation(n * n)
    s, u = (idx % n + 0.5) / n, (idx // n + 0.5) / n
    keep = s + u < 1
    C = a + s[keep, None] * (b - a) + u[keep, None] * (c - a)
    seen, done = set(), 0
    start = time.perf_counter()
    while done < len(C) and time.perf_counter() - start < seconds:
        codes, _ = evaluate(net, plane.origin + C[done:done + 5000] @ plane.basis.T)
        seen.update(pattern_id(row) for row in codes)
        done += len(codes)
    return len(seen), done, time.perf_counter() - start


def _best(runs: list[list[dict]]) -> list[dict]:
    """Per slice, the run with the least wall time (the records of one side's runs, in order)."""
    return [min(column, key=lambda r: r["wall"]) for column in zip(*runs)]


def main(argv=None) -> int:
    from _history import add_baseline_argument, baseline_tree, stamp_lines, this_tree

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_baseline_argument(parser, BASELINE, "the slicer as first landed")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each side, alternately (default 3)")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))  # this process slices with this tree (the grid sampler)
    from ilpregions.services.slicing import as_slicenet, make_plane

    X = digits()
    points = [[X[i].tolist() for i in triple] for triple in TRIPLES]
    new_tree = this_tree()
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="bench-slice-") as tmp:
        nets = recipes(Path(tmp))
        request = {"recipes": nets, "points": points}
        with baseline_tree(args) as old_tree:
            stamp = stamp_lines(new_tree, old_tree)
            old_commit = old_tree.commit if old_tree else None
            new_runs, old_runs = [], []
            for _ in range(args.repeat):
                new_runs.append(_checked(new_tree.run("bench_slice.py:side", request), "this tree"))
                if old_tree is not None:
                    old_runs.append(_checked(old_tree.run("bench_slice.py:side", request), "baseline"))
        new = _best(new_runs)
        old = _best(old_runs) if old_runs else [None] * len(new)
        rows = []
        for k, (r, o) in enumerate(zip(new, old)):
            recipe = nets[k // len(TRIPLES)]
            triple = TRIPLES[k % len(TRIPLES)]
            if o is not None and o["pieces"] != r["pieces"]:
                raise SystemExit(f"{r['name']} {triple}: baseline {o['pieces']} pieces, this tree {r['pieces']}")
            model, kwargs = build(recipe)
            plane = make_plane([X[i] for i in triple])
            grid, done, gsec = grid_at_equal_time(as_slicenet(model, **kwargs), plane, r["wall"])
            rows.append(dict(name=r["name"], triple=triple, r=r, old=o, grid=grid, points=done, gsec=gsec))
            print(f"{r['name']} {triple}: {r['pieces']} pieces in {r['wall']:.2f} s ({r['cpu']:.2f} s CPU); "
                  f"baseline {o['wall'] if o else float('nan'):.2f} s; grid {grid} in {gsec:.2f} s", flush=True)
    write(rows, stamp, load_before, os.getloadavg(), args.repeat, old_commit)
    return 0


def _checked(records, what: str) -> list[dict]:
    if isinstance(records, dict):  # the child failed: {"error": ...}
        raise SystemExit(f"{what}: {records.get('error')}")
    bad = [f"{r['name']}" for r in records if not r["certified"]]
    if bad:
        raise SystemExit(f"{what}: a piece's pattern was not certified on {', '.join(bad)}")
    return records


def _stage_table(rows) -> list[str]:
    lines = ["| network | slicer | affine maps | ReLU splits | max-pool splits | add | decision boundary | "
             "certification | total |", "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for name in dict.fromkeys(row["name"] for row in rows):
        for label, key in (("this", "r"), ("baseline", "old")):
            sel = [row[key] for row in rows if row["name"] == name and row[key] is not None]
            if not sel:
                continue
            agg: dict[str, float] = {}
            for record in sel:
                for k, v in record["by_op"].items():
                    agg[k] = agg.get(k, 0.0) + v
            cells = [f"{agg.get(k, 0.0):.2f}" for k in ("affine", "relu", "maxpool", "add", "boundary", "certify")]
            lines.append(f"| {name} | {label} | " + " | ".join(cells) + f" | {sum(r['wall'] for r in sel):.2f} |")
    return lines


def _ratio(old, new) -> str:
    return f"{old / new:.1f}x" if old and new else "—"


def write(rows, stamp, load_before, load_after, repeat: int, baseline_commit: str | None) -> None:  # long: the report
    lines = ["# slice benchmark", "", *stamp,
             f"1-minute load average {load_before[0]:.1f} before the runs, {load_after[0]:.1f} after (2 cores: "
             f"above 2, wall times are inflated; CPU time much less).", "",
             "Planes: triangles through three test digits. `this` = the slicer of this side's commit; `baseline` = "
             "the slicer of the baseline commit, run from its own source tree on the same networks and planes "
             "(same pieces: checked), both in child processes of this run with one BLAS thread, alternately, "
             f"the fastest of {repeat} runs kept per slice. Seconds are wall-clock of the whole call "
             "(propagation, decision boundary, certification of every piece); CPU = process CPU seconds. "
             "`grid` = distinct patterns of a uniform grid over the same triangle (a 2000 x 2000 grid visited in "
             "random order) given the same wall time as `this` (float64, no certification); a lower bound on the "
             "pieces.", "",
             "| network | digits | pieces (exact) | seconds | pieces/s | CPU s | pieces per CPU s | baseline s | "
             "baseline pieces/s | speed-up | grid patterns | grid points | boundary pieces |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for row in rows:
        r, o = row["r"], row["old"]
        old_s = f"{o['wall']:.2f}" if o else "—"
        old_rate = f"{r['pieces'] / o['wall']:.0f}" if o else "—"
        lines.append(f"| {row['name']} | {row['triple']} | {r['pieces']} | {r['wall']:.2f} | "
                     f"{r['pieces'] / r['wall']:.0f} | {r['cpu']:.2f} | {r['pieces'] / r['cpu']:.0f} | "
                     f"{old_s} | {old_rate} | {_ratio(o and o['wall'], r['wall'])} | {row['grid']} | "
                     f"{row['points']} | {r['boundary_pieces']} |")
    lines += ["", "Totals per network (all three planes):", "",
              "| network | pieces | seconds | pieces/s | CPU s | pieces per CPU s | baseline pieces/s | speed-up |",
              "|---|---:|---:|---:|---:|---:|---:|---:|"]
    totals = {}
    for name in dict.fromkeys(row["name"] for row in rows):
        sel = [row for row in rows if row["name"] == name]
        pieces = sum(row["r"]["pieces"] for row in sel)
        wall, cpu = sum(row["r"]["wall"] for row in sel), sum(row["r"]["cpu"] for row in sel)
        old = sum(row["old"]["wall"] for row in sel) if all(row["old"] for row in sel) else None
        totals[name] = pieces / wall
        lines.append(f"| {name} | {pieces} | {wall:.2f} | {pieces / wall:.0f} | {cpu:.2f} | {pieces / cpu:.0f} | "
                     f"{f'{pieces / old:.0f}' if old else '—'} | {_ratio(old, wall)} |")
    met = [name for name, rate in totals.items() if rate >= 10_000]
    lines += ["", "Goal >= 10,000 pieces/s (wall clock, whole call, all three planes) on this shared 2-core machine: "
              + (f"met for {', '.join(met)}; " if met else "") +
              (f"not met for {', '.join(n for n in totals if n not in met)}." if len(met) < len(totals)
               else "met for all."),
              "", "Where the time goes (wall seconds, summed over the three planes):", ""]
    lines += _stage_table(rows)
    if baseline_commit and baseline_commit.startswith(BASELINE):
        lines += _what_changed()
    out = ROOT / "results" / "slices" / "benchmark.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines) + "\n")
    print(f"wrote {out}")



def _what_changed() -> list[str]:
    """The speed work of issue 14, measured against the default baseline."""
    return ["", f"What a profile (cProfile, and timing of each stage) of the slicer at {BASELINE} (the default "
            "baseline, the slicer as first landed) showed, and what changed since:", "",
            "* max-pool and ReLU splits: a Python loop over the pieces that needed cutting (one numba call, "
            "list and view per piece), and padded `(pieces, neurons, vertices)` numpy tensors for the "
            "sign tests. Now one compiled call per batch decides and cuts all pieces (vertices are one array "
            "with offsets) and the map gathers are compiled loops; two batches are split at once in threads "
            "(the compiled code releases the GIL; the order of the pieces does not depend on the threads).",
            "* decision boundary: a Python loop over candidate pieces and their cells' edges; now one compiled "
            "call.",
            "* certification: several numpy passes per layer (value, propagated error, rounding term); now a "
            "fused compiled loop for sparse layers, two BLAS products for dense ones, points split over two "
            "threads.",
            "* BLAS threads: on a loaded 2-core machine, OpenBLAS's threads made the many small products "
            "several times slower; the slicer now runs them on one BLAS thread (threadpoolctl). The baseline "
            "slicer above is given the same setting, so the speed-up shown is from the code alone.",
            "* pattern ids hash one byte string instead of converting each row."]


if __name__ == "__main__":
    sys.exit(main())

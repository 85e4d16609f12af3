"""Speed of ``slice``: exact pieces per second, and what a grid sampler finds in the same time.

Two networks, planes (triangles) through three test digits of different classes:

* the digits CNN of examples/digits (the trained weights in results/slices/digits_cnn.pt if
  present, else its initialisation), input 1x8x8;
* a 5-layer MLP of width 64 on the 64 digit pixels, He-normal weights (seed 0).

For each slice: pieces, seconds, pieces per second, the seconds per stage (affine maps,
ReLU splits, max-pool splits, decision boundary, certification), and the number of
distinct activation patterns that a uniform grid over the same triangle finds when given
the same time as the exact slicer (a lower bound on the pieces; the gap is what sampling misses).

Run: ``python benchmarks/bench_slice.py`` (writes results/slices/benchmark.md).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from _machine import machine_stamp  # noqa: E402

from ilpregions.core.forward import he_normal_weights  # noqa: E402
from ilpregions.core.spec import DenseLayer, Network  # noqa: E402
from ilpregions.services.slicing import evaluate, from_spec, slice_network  # noqa: E402
from ilpregions.services.slicing.engine import pattern_id  # noqa: E402


def grid_at_equal_time(net, plane, seconds: float, n: int = 2000) -> tuple[int, int, float]:
    """Distinct patterns of an n x n grid over the triangle, visited in random order, until
    ``seconds`` have passed (equal time by construction; a lower bound on the pieces)."""
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


def models():
    test = ROOT / "results" / "slices" / "digits_test.npy"
    if test.exists():
        X = np.load(test).reshape(-1, 64).astype(np.float64)
    else:
        from sklearn.datasets import load_digits
        X = load_digits().data[:360] / 16.0
    out = []
    try:
        import torch  # noqa: F401

        sys.path.insert(0, str(ROOT / "examples" / "digits"))
        from train_and_slice import build_model

        from ilpregions.services.torch_fx import to_slicenet
        from ilpregions.services.torch_import import load_file

        ckpt = ROOT / "results" / "slices" / "digits_cnn.pt"
        if ckpt.exists():
            out.append(("digits CNN (trained)", to_slicenet(load_file(ckpt), (1, 8, 8))))
        torch.manual_seed(0)
        out.append(("digits CNN (init)", to_slicenet(build_model().eval(), (1, 8, 8))))
    except ImportError:
        pass
    mlp = Network((64,), tuple(DenseLayer(64) for _ in range(5)))
    out.append(("MLP 5x64 (He init)", from_spec(mlp, he_normal_weights(mlp, seed=0))))
    return X, out


def main() -> None:
    X, nets = models()
    triples = [(0, 1, 2), (3, 4, 5), (6, 7, 8)]
    slice_network(nets[-1][1], [X[0], X[1], X[2]])  # warm up (numba's compiled code loads once)
    rows = []
    for name, net in nets:
        for triple in triples:
            r = slice_network(net, [X[i] for i in triple])
            grid, points, gsec = grid_at_equal_time(net, r.plane, r.seconds)
            rows.append((name, triple, r, grid, points, gsec))
            print(f"{name} {triple}: {r.pieces} pieces in {r.seconds:.2f} s; grid {grid} in {gsec:.2f} s",
                  flush=True)
    write(rows)


def write(rows) -> None:
    stamp = machine_stamp()
    lines = ["# slice benchmark", "",
             f"Machine: {stamp['cpu']}, {stamp['cores']} cores (shared with other jobs while measured), "
             f"Python {stamp['python']}, commit {stamp['commit']}.", "",
             "Planes: triangles through three test digits. `grid` = distinct patterns of a uniform grid over "
             "the same triangle (a 2000 x 2000 grid visited in random order) given the same time as the exact slice (float64, no certification); a lower bound on the pieces.", "",
             "| network | digits | pieces (exact) | seconds | pieces/s | grid patterns | grid points | grid s | "
             "boundary pieces |", "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for name, triple, r, grid, points, gsec in rows:
        lines.append(f"| {name} | {triple} | {r.pieces} | {r.seconds:.2f} | {r.pieces / r.seconds:.0f} | {grid} | "
                     f"{points} | {gsec:.2f} | {r.boundary_pieces} |")
    best = max(r.pieces / r.seconds for _, _, r, *_ in rows)
    lines += ["", f"Goal >= 10,000 pieces/s on 2 cores: {'met' if best >= 10000 else 'NOT met'} "
              f"(best slice here: {best:.0f} pieces/s; one thread; numba's compiled code loaded before timing).",
              "", "Where the time goes (seconds, summed over the three planes):", "",
              "| network | affine maps | ReLU splits | max-pool splits | add | decision boundary | certification | "
              "total |", "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for name in dict.fromkeys(row[0] for row in rows):
        agg: dict[str, float] = {}
        total = 0.0
        for row in rows:
            if row[0] == name:
                total += row[2].seconds
                for k, v in row[2].seconds_by_op.items():
                    agg[k] = agg.get(k, 0.0) + v
        cells = [f"{agg.get(k, 0.0):.2f}" for k in ("affine", "relu", "maxpool", "add", "boundary", "certify")]
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {total:.2f} |")
    out = ROOT / "results" / "slices" / "benchmark.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()

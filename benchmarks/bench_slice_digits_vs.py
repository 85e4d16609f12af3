"""The digits planes of results/slices/benchmark.md, this checkout against another revision, in one run.

For each of the nine planes (three networks x three triples of test digits, as in bench_slice.py), the
fastest of three calls of ``slice_network`` (after a warm-up call), in a fresh process per revision; the
two revisions alternate three times and each plane keeps its fastest. The other revision is unpacked with
``git archive`` into a temporary folder (nothing in this checkout changes).

Run: ``python benchmarks/bench_slice_digits_vs.py [REV]`` (default REV: main; writes
results/slices/digits_vs_base.md).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def models():
    """bench_slice.py's networks and test digits, through the packages' public fronts (both trees)."""
    import numpy as np
    import torch

    from ilpregions.core.forward import he_normal_weights
    from ilpregions.core.spec import DenseLayer, Network
    from ilpregions.services.slicing import from_spec
    from ilpregions.services.torch import load_file, to_slicenet

    sys.path.insert(0, str(ROOT / "examples" / "digits"))
    from train_and_slice import build_model

    X = np.load(ROOT / "results" / "slices" / "digits_test.npy").reshape(-1, 64).astype(np.float64)
    nets = [("digits CNN (trained)", to_slicenet(load_file(ROOT / "results" / "slices" / "digits_cnn.pt"), (1, 8, 8)))]
    torch.manual_seed(0)
    nets.append(("digits CNN (init)", to_slicenet(build_model().eval(), (1, 8, 8))))
    mlp = Network((64,), tuple(DenseLayer(64) for _ in range(5)))
    nets.append(("MLP 5x64 (He init)", from_spec(mlp, he_normal_weights(mlp, seed=0))))
    return X, nets


def child(root: str) -> None:
    sys.path.insert(0, root)
    from ilpregions.services.slicing import slice_network

    X, nets = models()
    out = []
    for name, net in nets:
        for triple in ((0, 1, 2), (3, 4, 5), (6, 7, 8)):
            points = [X[i] for i in triple]
            r = slice_network(net, points)
            best = 1e9
            for _ in range(3):
                mark = time.perf_counter()
                slice_network(net, points)
                best = min(best, time.perf_counter() - mark)
            out.append({"name": name, "triple": triple, "pieces": r.pieces, "seconds": best})
    print(json.dumps(out))


def unpack(rev: str) -> str:
    folder = tempfile.mkdtemp(prefix="ilpregions-base-")
    data = subprocess.run(["git", "archive", rev], cwd=ROOT, capture_output=True, check=True).stdout
    path = Path(folder) / "src.tar"
    path.write_bytes(data)
    with tarfile.open(path) as tar:
        tar.extractall(folder, filter="data")
    return folder


def main(rev: str = "main") -> None:
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from _machine import machine_stamp

    base = unpack(rev)
    best: dict = {}
    load_before = os.getloadavg()[0]
    for _ in range(3):
        for label, root in (("this", str(ROOT)), (rev, base)):
            proc = subprocess.run([sys.executable, __file__, "--child", root], capture_output=True, text=True,
                                  env=dict(os.environ, PYTHONPATH=root))
            if proc.returncode:
                raise SystemExit(proc.stderr)
            for row in json.loads(proc.stdout.strip().splitlines()[-1]):
                key = (row["name"], tuple(row["triple"]), label)
                best[key] = min(best.get(key, (1e9, 0)), (row["seconds"], row["pieces"]))
    stamp = machine_stamp()
    lines = [f"# Digits planes: this checkout against {rev}", "",
             f"Machine: {stamp['cpu']}, {stamp['cores']} cores, shared (1-minute load average "
             f"{load_before:.1f} before, {os.getloadavg()[0]:.1f} after), Python {stamp['python']}, commit "
             f"{stamp['commit']}.", "", __doc__.split("\n\n")[1].replace("\n", " "), "",
             f"| network | digits | pieces | this s | {rev} s | ratio |", "|---|---|---:|---:|---:|---:|"]
    totals = {"this": 0.0, rev: 0.0}
    for (name, triple, label), (sec, pieces) in best.items():
        if label != "this":
            continue
        other, other_pieces = best[(name, triple, rev)]
        assert other_pieces == pieces, (name, triple, pieces, other_pieces)
        totals["this"] += sec
        totals[rev] += other
        lines.append(f"| {name} | {triple} | {pieces} | {sec:.3f} | {other:.3f} | {sec / other:.2f} |")
    lines += ["", f"All nine planes: {totals['this']:.2f} s here, {totals[rev]:.2f} s at {rev} "
              f"(ratio {totals['this'] / totals[rev]:.2f}; below 1 is faster)."]
    out = ROOT / "results" / "slices" / "digits_vs_base.md"
    out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--child":
        child(sys.argv[2])
    else:
        main(*sys.argv[1:2])

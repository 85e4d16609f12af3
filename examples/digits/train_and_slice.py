"""Train a small CNN on scikit-learn's bundled 8x8 digits and slice it exactly during training.

Offline: the digits ship inside scikit-learn (``load_digits``), nothing is
downloaded. CPU only, fixed seeds, about two minutes for training and all
slices on a laptop core.

For each of 20 fixed planes, each through three test digits of three
different classes, the exact pieces of the network on the triangle they span
are counted at several checkpoints (``epoch 0`` is the initialisation). This
measures how the regions change as θ becomes θ + Δθ during training.

Writes to ``results/slices/`` (or ``--out``):

* ``digits_plane0_epoch{E}.png``: the regions of plane 0 at 3 checkpoints;
* ``digits_pieces_over_training.png``: pieces per plane, mean and spread;
* ``digits_pieces.csv`` and ``digits.md``: the numbers;
* ``digits_cnn.pt`` (final weights, the safe format) and ``digits_test.npy``
  (test digits, torch order) for the command line.

Run: ``python examples/digits/train_and_slice.py`` (needs the ``examples``
and ``torch`` extras).
"""

from __future__ import annotations

import argparse
import csv
import time
from pathlib import Path

import numpy as np

CHECKPOINTS = (0, 1, 3, 10, 30)
PICTURES = (0, 3, 30)
PLANES = 20
SEED = 0


def build_model():
    """Two convs and a dense head: 8x8x1 -> 4 maps 8x8 -> pool -> 8 maps 4x4 -> pool -> 10 logits."""
    import torch.nn as nn

    return nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(4, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(8 * 2 * 2, 10))


def load_data():
    from sklearn.datasets import load_digits

    digits = load_digits()
    X = (digits.data / 16.0).astype(np.float32).reshape(-1, 1, 8, 8)   # k/16: exact in float32
    y = digits.target.astype(np.int64)
    order = np.random.default_rng(SEED).permutation(len(y))
    test, train = order[:360], order[360:]
    return X[train], y[train], X[test], y[test]


def choose_planes(y_test, count=PLANES):
    """Triples of test indices with three different classes (fixed seed)."""
    rng = np.random.default_rng(SEED + 1)
    triples = []
    while len(triples) < count:
        classes = rng.choice(10, size=3, replace=False)
        triples.append([int(rng.choice(np.flatnonzero(y_test == c))) for c in classes])
    return triples


def train_epoch(model, opt, X, y, rng):
    import torch
    import torch.nn.functional as F

    model.train()
    order = rng.permutation(len(y))
    for lo in range(0, len(y), 64):
        idx = order[lo:lo + 64]
        opt.zero_grad()
        loss = F.cross_entropy(model(torch.from_numpy(X[idx])), torch.from_numpy(y[idx]))
        loss.backward()
        opt.step()
    model.eval()


def accuracy(model, X, y) -> float:
    import torch

    with torch.no_grad():
        return float((model(torch.from_numpy(X)).argmax(1).numpy() == y).mean())


def slice_all(model, X_test, triples, time_limit):
    from ilpregions.services.slicing import slice_network
    from ilpregions.services.torch._fx import to_slicenet

    net = to_slicenet(model, (1, 8, 8))
    results = []
    for triple in triples:
        points = [X_test[i].reshape(-1).astype(np.float64) for i in triple]
        results.append(slice_network(net, points, time_limit=time_limit))
    return results


def plot_over_training(rows, accuracies, path):
    from ilpregions.services.slicing._plot import save_figure
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = sorted({r["epoch"] for r in rows})
    pieces = np.array([[r["pieces"] for r in rows if r["epoch"] == e] for e in epochs], dtype=float)
    crossed = np.array([[r["boundary_pieces"] for r in rows if r["epoch"] == e] for e in epochs], dtype=float)
    x = np.array(epochs, dtype=float)
    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=130)
    for data, colour, label in ((pieces, "tab:blue", "pieces"), (crossed, "tab:red", "pieces crossed by the decision boundary")):
        mean, std = data.mean(1), data.std(1)
        ax.plot(x, mean, "o-", color=colour, label=f"{label} (mean)")
        ax.fill_between(x, mean - std, mean + std, color=colour, alpha=0.2, label="± 1 std")
        ax.plot(x, data.min(1), ":", color=colour, lw=0.8)
        ax.plot(x, data.max(1), ":", color=colour, lw=0.8)
    ax.set_xscale("symlog", linthresh=1)
    ax.set_xlabel("epoch (0 = initialisation)")
    ax.set_ylabel(f"exact pieces per plane ({pieces.shape[1]} planes; dotted: min/max)")
    ax2 = ax.twinx()
    ax2.plot(x, [accuracies[e] for e in epochs], "s--", color="0.3", label="test accuracy")
    ax2.set_ylim(0, 1.05)
    ax2.set_ylabel("test accuracy")
    lines, labels = ax.get_legend_handles_labels()
    l2, lab2 = ax2.get_legend_handles_labels()
    ax.set_ylim(0, None)
    ax.legend(lines + l2, labels + lab2, fontsize=7, loc="upper left", framealpha=0.9)
    ax.set_title("Digits CNN: pieces of planes through 3 test digits, during training", fontsize=10)
    fig.tight_layout()
    save_figure(fig, Path(path))
    plt.close(fig)


def write_summary(rows, accuracies, out: Path, seconds: float):
    with open(out / "digits_pieces.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    lines = ["# Digits CNN: exact pieces of planes through test digits, over training", "",
             "Model: Conv2d(1,4,3,pad 1), ReLU, MaxPool 2, Conv2d(4,8,3,pad 1), ReLU, MaxPool 2, Linear(32,10);",
             f"scikit-learn's 8x8 digits (1437 train / 360 test), Adam, batch 64, seed {SEED}.",
             f"{PLANES} fixed triangles, each through 3 test digits of different classes. "
             f"Written by examples/digits/train_and_slice.py in {seconds:.0f} s.", "",
             "| epoch | test accuracy | pieces mean | std | min | max | boundary pieces mean | all exact |",
             "|---:|---:|---:|---:|---:|---:|---:|:---|"]
    for e in sorted(accuracies):
        sel = [r for r in rows if r["epoch"] == e]
        p = np.array([r["pieces"] for r in sel])
        b = np.array([r["boundary_pieces"] for r in sel])
        lines.append(f"| {e} | {accuracies[e]:.3f} | {p.mean():.0f} | {p.std():.0f} | {p.min()} | {p.max()} | "
                     f"{b.mean():.1f} | {'yes' if all(r['complete'] and r['certified'] for r in sel) else 'NO'} |")
    (out / "digits.md").write_text("\n".join(lines) + "\n")


def main(argv=None):
    import torch

    from ilpregions.services.slicing._plot import plot_slice
    from ilpregions.services.torch._convert import save

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(Path(__file__).resolve().parents[2] / "results" / "slices"))
    parser.add_argument("--time-limit", type=float, default=60.0, help="seconds per slice")
    parser.add_argument("--replot", action="store_true", help="only redraw the plot from digits_pieces.csv")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if args.replot:
        with open(out / "digits_pieces.csv", newline="") as fh:
            rows = [{k: (int(v) if k in ("epoch", "pieces", "boundary_pieces") else v) for k, v in r.items()}
                    for r in csv.DictReader(fh)]
        accuracies = {r["epoch"]: float(r["test_accuracy"]) for r in rows}
        plot_over_training(rows, accuracies, out / "digits_pieces_over_training.png")
        return
    start = time.time()
    torch.manual_seed(SEED)
    torch.set_num_threads(1)
    X_train, y_train, X_test, y_test = load_data()
    triples = choose_planes(y_test)
    model = build_model().eval()
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    rng = np.random.default_rng(SEED)
    rows, accuracies = [], {}
    for epoch in range(max(CHECKPOINTS) + 1):
        if epoch:
            train_epoch(model, opt, X_train, y_train, rng)
        if epoch not in CHECKPOINTS:
            continue
        accuracies[epoch] = accuracy(model, X_test, y_test)
        results = slice_all(model, X_test, triples, args.time_limit)
        for k, r in enumerate(results):
            rows.append({"epoch": epoch, "test_accuracy": round(accuracies[epoch], 4), "plane": k, "digits": "-".join(str(y_test[i]) for i in triples[k]),
                         "pieces": r.pieces, "boundary_pieces": r.boundary_pieces, "complete": r.complete,
                         "certified": bool(r.certificate and r.certificate.ok), "seconds": round(r.seconds, 3)})
        if epoch in PICTURES:
            labels = [f"{c} (test #{i})" for c, i in zip((y_test[i] for i in triples[0]), triples[0])]
            plot_slice(results[0], out / f"digits_plane0_epoch{epoch}.png", labels=labels,
                       title=f"epoch {epoch} (test accuracy {accuracies[epoch]:.2f}): {results[0].pieces} pieces, "
                             f"decision boundary crosses {results[0].boundary_pieces}")
        mean = np.mean([r.pieces for r in results])
        print(f"epoch {epoch:2d}: accuracy {accuracies[epoch]:.3f}, pieces per plane {mean:.0f}, "
              f"{time.time() - start:.0f} s", flush=True)
    save(model, out / "digits_cnn.pt")
    np.save(out / "digits_test.npy", X_test)
    plot_over_training(rows, accuracies, out / "digits_pieces_over_training.png")
    write_summary(rows, accuracies, out, time.time() - start)


if __name__ == "__main__":
    main()

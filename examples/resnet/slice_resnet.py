"""Build a small ResNet, save it the way the command line reads it, and slice it exactly.

Run from the repository (CPU, no download, fixed seeds; needs the ``torch`` extra)::

    python examples/resnet/slice_resnet.py            # width 4, 8 lines: well under a minute
    python examples/resnet/slice_resnet.py --width 8 --lines 32

What it does:

1. builds ``ResNet(width)`` from ``examples/resnet/resnet.py`` (a 3x3 stem, two
   residual blocks with BatchNorm, a stride-2 convolution, global average
   pooling, a linear head; 32x32x3 inputs), at its random initialisation, in
   eval mode;
2. saves its weights (``torch.save(model.state_dict())``, read back only with
   ``torch.load(weights_only=True)``) and a few standard-normal inputs to
   ``--out`` (default ``examples/resnet/out/``), and reads the model back from
   the file exactly as ``ilpregions slice --torch ... --torch-module ...`` does;
3. slices the segment from an input to a noisy copy of it (every piece exact and
   certified), then ``--lines`` segments along random directions through the
   inputs, and prints the pieces per unit length with their spread;
4. prints the two ``ilpregions slice`` commands that give the same numbers from
   the saved files.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
SEED = 0
INPUT = (3, 32, 32)


def build(width: int):
    import torch

    from resnet import ResNet  # examples/resnet/resnet.py, beside this script

    torch.manual_seed(SEED)
    return ResNet(width).eval()


def save(model, out: Path, width: int, noise: float) -> tuple[Path, Path]:
    """The state_dict and the inputs (row 1 is row 0 plus Gaussian noise of per-value std ``noise``)."""
    import torch

    from ilpregions.core.safe_io import atomic_path

    out.mkdir(parents=True, exist_ok=True)
    weights, inputs = out / f"resnet_w{width}.pt", out / "inputs.npy"
    rng = np.random.default_rng(SEED)
    points = rng.normal(size=(16, *INPUT))
    points[1] = points[0] + noise * rng.normal(size=INPUT)
    with atomic_path(weights) as tmp:
        torch.save(model.state_dict(), tmp)
    with atomic_path(inputs) as tmp:
        with open(tmp, "wb") as handle:
            np.save(handle, points)
    return weights, inputs


def _shown(path: Path) -> str:
    """A path as the user would type it: relative to the current directory when below it."""
    relative = os.path.relpath(path)
    return path.as_posix() if relative.startswith("..") else relative


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--width", type=int, default=4, help="channels of the first block (default 4)")
    parser.add_argument("--lines", type=int, default=8, help="random-direction lines to slice (default 8)")
    parser.add_argument("--line-length", type=float, default=2.0, help="length of each line (default 2)")
    parser.add_argument("--noise", type=float, default=0.1, help="per-value std of the noisy copy (default 0.1)")
    parser.add_argument("--out", type=Path, default=HERE / "out", help="where the model and inputs go")
    args = parser.parse_args()

    from ilpregions import line_density, random_lines, slice_network
    from ilpregions.services.slicing import load_points
    from ilpregions.services.torch import load_user_module, to_slicenet

    model = build(args.width)
    print(f"ResNet(width={args.width}): {sum(p.numel() for p in model.parameters()):,} parameters, "
          f"input {'x'.join(map(str, INPUT))}")
    weights, inputs = save(model, args.out, args.width, args.noise)
    code = f"{_shown(HERE / 'resnet.py')}:ResNet"
    model = load_user_module(code, weights, {"width": args.width})   # what --torch-module does
    points = load_points(inputs)
    weights, inputs = _shown(weights), _shown(inputs)
    print(f"saved {weights} (state_dict) and {inputs} ({len(points)} inputs)")

    start = time.perf_counter()
    net = to_slicenet(model, INPUT)   # traced once (torch.fx), then sliced many times
    print(f"traced: {len(net.ops)} ops, {sum(net.decision_sizes()):,} ReLUs, in {time.perf_counter() - start:.1f} s")

    a, b = points[0], points[1]
    start = time.perf_counter()
    segment = slice_network(net, [a, b])
    state = "exact, all certified" if segment.complete and segment.certificate.ok else "NOT exact"
    print(f"segment input 0 -> its noisy copy (length {np.linalg.norm(b - a):.3f}): {segment.pieces} pieces "
          f"({state}) in {time.perf_counter() - start:.1f} s")

    lines = random_lines(args.lines, points, directions=True, length=args.line_length, seed=SEED)
    summary = line_density(net, lines)
    d, p = summary.density, summary.pieces
    print(f"{len(summary.exact_lines)} lines of length {args.line_length:g} along random directions through the "
          f"inputs ({summary.status}): {p.mean:.1f} pieces per line (std {p.std:.1f}, {p.min:.0f}-{p.max:.0f}), "
          f"{d.mean:.1f} +- {d.std:.1f} pieces per unit length, in {summary.seconds:.1f} s")

    torch_args = f"--torch {weights} --torch-module {code} --torch-kwargs '{{\"width\": {args.width}}}' --input 3,32,32"
    print("\nthe same from the command line:")
    print(f"  ilpregions slice {torch_args} --through 0,1 --data {inputs}")
    print(f"  ilpregions slice {torch_args} --lines {args.lines} --directions --line-length {args.line_length:g} "
          f"--data {inputs}")
    return 0


if __name__ == "__main__":
    import sys

    sys.path.insert(0, str(HERE))
    raise SystemExit(main())

"""The exact pieces of the segment between two random inputs of the issue's ResNet, or of ResNet-18.

Run from the repository (CPU, nothing to download; needs the ``torch`` extra)::

    python examples/resnet/segment.py --width 16
    python examples/resnet/segment.py --resnet18 --time-limit 60

It prints the pieces, whether every piece's pattern is certified, and how long
the whole call took (tracing, the engine's arrays, the walk, the certificate).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--width", type=int, default=16)
    parser.add_argument("--resnet18", action="store_true")
    parser.add_argument("--time-limit", type=float, default=None)
    args = parser.parse_args(argv)
    sys.path.insert(0, str(HERE.parents[1]))
    sys.path.insert(0, str(HERE))
    from resnet import build, random_segment

    from ilpregions import slice_network

    model = build("resnet18" if args.resnet18 else str(args.width))
    a, b = random_segment()
    start = time.perf_counter()
    r = slice_network(model, [a, b], input_shape=(3, 32, 32), time_limit=args.time_limit, progress=True)
    state = "exact" if r.exact else "at least (a proven lower bound)" if not r.complete else "not all certified"
    print(f"{sum(p.numel() for p in model.parameters()):,} parameters: {r.pieces:,} pieces, {state}, "
          f"in {time.perf_counter() - start:.1f} s")
    return 0 if r.complete else 3


if __name__ == "__main__":
    raise SystemExit(main())

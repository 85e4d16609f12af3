"""Regenerate results/bounds_gap.md and results/bounds_gap.csv (and results/bounds_real.csv).

For every reference case (tests/data/theorem1.json) and the ImageNet stem:
log10 of upper/lower from ``ilpregions.services.bounds._lp.one_layer_bounds``, how far
each bound is from the exact value, and the seconds taken. Then the real-size rows: the shipped
CIFAR/ImageNet models (and the same one-layer models with ``type = "local"``) through the whole
``bounds`` pipeline under one 60 s deadline, as ``ilpregions bounds MODEL --time-limit 60`` runs it:
the best proven pair for the network and, for one layer, for Theorem 1's value.
Usage: ``python results/make_bounds_gap.py [--real-only]``.
"""

from __future__ import annotations

import csv
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT / "tests"))

from _machine import machine_stamp  # noqa: E402
from helpers import case_id, case_network  # noqa: E402

from ilpregions.cli.commands._common import log10_int  # noqa: E402
from ilpregions.core.geometry import layer_instance  # noqa: E402
from ilpregions.services.bounds._lp import one_layer_bounds  # noqa: E402
from ilpregions.core.spec_toml import load  # noqa: E402
from ilpregions.services.bounds import compute_bounds  # noqa: E402

#: The real-size models, and the deadline of each ``bounds`` call (the issue's goal is set at 60 s).
REAL_MODELS = ("cifar_conv", "imagenet_stem", "cifar_small", "vgg11_cifar")
REAL_SECONDS = 60.0


def row(label, inst, exact):
    start = time.perf_counter()
    b = one_layer_bounds(inst)
    seconds = time.perf_counter() - start
    by_name = {x.name: x.value for x in b.bounds}
    per_pos = next(v for k, v in by_name.items() if k.startswith("per-position"))
    glob = next(v for k, v in by_name.items() if k.startswith("global"))
    ref = exact if exact is not None else None

    def rel(v):
        if v is None:
            return ""
        return f"{log10_int(v) - log10_int(ref):.3f}" if ref else f"{log10_int(v):.1f}"

    assert exact is None or b.lower <= exact <= b.upper
    return {"case": label, "exact": "" if exact is None else str(exact),
            "log10_upper_over_lower": f"{log10_int(b.upper) - log10_int(b.lower):.3f}",
            "lower_vs_exact": rel(b.lower), "best_box_vs_exact": rel(by_name["best box in K_N"]), "upper_vs_exact": rel(b.upper),
            "per_position_vs_exact": rel(per_pos), "global_binomial_vs_exact": rel(glob),
            "upper_is_exact": b.exact, "seconds": f"{seconds:.3f}"}


def _untied(network):
    from dataclasses import replace

    from ilpregions.core.spec import Network

    return Network(network.input_shape, (replace(network.layers[0], shared=False),), network.name)


def _pair_row(label, quantity, low, up, low_name, up_name, seconds, status):
    ratio = "" if not (low and up) else f"{log10_int(up) / log10_int(low):.4f}"
    return {"model": label, "quantity": quantity,
            "lower_log10": "" if not low else f"{log10_int(low):.1f}", "lower_name": low_name or "",
            "upper_log10": "" if not up else f"{log10_int(up):.1f}", "upper_name": up_name or "",
            "log10_ratio": ratio, "seconds": f"{seconds:.1f}", "status": status}


def real_rows() -> list[dict]:
    """``bounds --time-limit 60`` on each real-size model: one row per quantity bounded."""
    rows = []
    for name in REAL_MODELS:
        network = load(ROOT / "models" / f"{name}.toml")
        variants = [(name, network)] + ([(f"{name} as type = local", _untied(network))]
                                        if len(network.layers) == 1 else [])
        for label, net in variants:
            start = time.perf_counter()
            report = compute_bounds(net, time_limit=REAL_SECONDS, total_seconds=REAL_SECONDS)
            seconds = time.perf_counter() - start
            quantity = "network (shared filters)" if net.layers[0].type == "conv" else "network"
            rows.append(_pair_row(label, quantity, report.lower, report.upper, report.lower_name,
                                  report.upper_name, seconds, report.status))
            if net.layers[0].type == "conv" and len(net.layers) == 1:
                low, up, low_name, up_name = report.theorem1
                rows.append(_pair_row(label, "Theorem 1's value", low, up, low_name, up_name, seconds,
                                      report.status))
            print(rows[-1], flush=True)
    return rows


def real_lines(rows: list[dict]) -> list[str]:
    import os

    lines = ["", "## Real size: the whole `bounds` pipeline under one 60 s deadline", "",
             f"Each row is `ilpregions bounds MODEL --time-limit 60` (the same call through the API); load "
             f"average at the start {os.getloadavg()[0]:.1f} on the 2 cores. The ratio is "
             f"log10(best proven upper) / log10(best proven lower); \"Theorem 1's value\" is the locally "
             f"connected layer's maximum, which bounds the shared-filter maximum from above.", "",
             "| model | quantity | best proven lower | by | best proven upper | by | log10 ratio | seconds | status |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['model']} | {r['quantity']} | 10^{r['lower_log10']} | {r['lower_name']} | "
                     f"10^{r['upper_log10']} | {r['upper_name']} | {r['log10_ratio']} | {r['seconds']} | "
                     f"{r['status']} |")
    return lines


def main() -> None:
    if "--real-only" in sys.argv:
        rows = real_rows()
        text = (ROOT / "results" / "bounds_gap.md").read_text().split("\n## Real size")[0].rstrip("\n")
        (ROOT / "results" / "bounds_gap.md").write_text(text + "\n" + "\n".join(real_lines(rows)) + "\n")
        _write_csv(ROOT / "results" / "bounds_real.csv", rows)
        return
    cases = json.loads((ROOT / "tests" / "data" / "theorem1.json").read_text())["cases"]
    rows = [row(case_id(c), layer_instance(case_network(c)), int(c["regions"])) for c in cases]
    rows.append(row("imagenet_stem (no exact value)",
                    layer_instance(load(ROOT / "models" / "imagenet_stem.toml")), None))
    with open(ROOT / "results" / "bounds_gap.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    stamp = machine_stamp()
    lines = ["# One-layer bounds: gap on the reference cases", "",
             "Generated by `python results/make_bounds_gap.py`. Columns `*_vs_exact` are "
             "log10(bound / R_N) (0 = exact); for the ImageNet stem, which has no exact value, "
             "they are log10(bound) itself.", "",
             f"Machine: {stamp['platform']}, Python {stamp['python']}, {stamp['cores']} cores; "
             f"commit {stamp['commit']}.", "",
             "| case | R_N | log10(upper/lower) | best box (lower) | upper (block tree) | per-position product "
             "| global binomial | upper exact? | seconds |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['case']} | {r['exact'] or '-'} | {r['log10_upper_over_lower']} | "
                     f"{r['best_box_vs_exact']} | {r['upper_vs_exact']} | {r['per_position_vs_exact']} | "
                     f"{r['global_binomial_vs_exact'] or 'not computed'} | "
                     f"{'yes' if r['upper_is_exact'] else 'no'} | {r['seconds']} |")
    real = real_rows()
    _write_csv(ROOT / "results" / "bounds_real.csv", real)
    lines += real_lines(real)
    (ROOT / "results" / "bounds_gap.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def _write_csv(path: Path, rows: list[dict]) -> None:
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


if __name__ == "__main__":
    main()

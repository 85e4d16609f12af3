"""Regenerate the bounds/claims tables (CSV + Markdown) and plots (PNG) under ``<out>/report/``.

Inputs: the shipped models (``models/*.toml``) and the sweep definitions in
``results/report/sweeps.toml`` (:data:`DEFAULT_SWEEPS` mirrors that file and
is used when it is absent). Plots need matplotlib (the ``plot`` extra); it is
imported only when plotting, and without it the tables are still written.

Outputs (in ``<out>/report/``):

* ``models.csv``/``models.md`` — best lower/upper bound of every shipped model;
  ``bounds.csv`` — every named bound of every model (applicable or not);
* ``claims.csv``/``claims.md`` — :mod:`ilpregions.services.claims` verdicts per width;
* ``depth.csv``/``depth.png`` — log10 regions vs depth, CNN band vs FC band at equal parameters;
* ``width.csv``/``width.png`` — log10 regions per parameter vs width d;
* ``one_layer.csv``/``one_layer.png`` — the exact one-layer count vs d1 and c·d1^U;
* ``report.md`` — all tables, with the plots.

Values are shown as ``1.23e4567`` strings and log10 floats; exact integers
are what ``ilpregions bounds --json`` prints.
"""

from __future__ import annotations

import copy
import csv
import glob
import math
import sys
import time
import tomllib
from fractions import Fraction
from itertools import product as iproduct
from pathlib import Path
from typing import Any

from ilpregions.core.combinatorics import log10_int
from ilpregions.core.errors import InputError
from ilpregions.core.safe_io import atomic_open, atomic_write, output_directory

DEFAULT_SWEEPS: dict[str, Any] = {
    "depth": {"n0": 4, "d": 8, "depths": [1, 2, 3, 4, 5, 6, 7, 8]},
    "width": {"n0": 4, "depth": 3,
              "widths": [1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256]},
    "one_layer": {"input": [3, 3, 1], "type": "local", "kernel": [2, 2],
                  "d1": [1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512, 768, 1024]},
    "claims": {"cases": [["deep-vs-shallow", 4, 2], ["deep-vs-shallow", 4, 3], ["deep-vs-shallow", 6, 4],
                         ["deep-vs-shallow", [4, 4], 2], ["deep-vs-shallow", [4, 4], 3],
                         ["cnn-vs-fc", 4, 2], ["cnn-vs-fc", 4, 3], ["cnn-vs-fc", 6, 4],
                         ["cnn-vs-fc", [4, 4], 2], ["cnn-vs-fc", [4, 4], 3],
                         ["deep-vs-shallow", [4, 4], 2, 1], ["deep-vs-shallow", [4, 4], 3, 1],
                         ["cnn-vs-fc", [4, 4], 2, 1], ["cnn-vs-fc", [4, 4], 3, 1]],
               "widths": [1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128]},
    "models": {"glob": "models/*.toml", "time_limit": 4.0},
}


# ----------------------------------------------------------------------------
# Helpers
# ----------------------------------------------------------------------------

def short(value: int | None) -> str:
    from ilpregions.services.bounds.common import short_text

    return "" if value is None else short_text(value)


def _round(x: float | None, digits: int = 4):
    return "" if x is None else round(x, digits)


def load_sweeps(path: str | Path | None) -> dict[str, Any]:
    """The sweep definitions: ``path`` merged over :data:`DEFAULT_SWEEPS`."""
    sweeps = copy.deepcopy(DEFAULT_SWEEPS)
    if path is None:
        return sweeps
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"{path}: no such sweeps file") from None
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{path}: TOML syntax error: {exc}") from None
    for section, values in data.items():
        if section not in sweeps:
            raise InputError(f"{path}: unknown section [{section}]; valid: {', '.join(sweeps)}")
        if not isinstance(values, dict):
            raise InputError(f"{path}: [{section}] must be a table")
        for key in values:
            if key not in sweeps[section]:
                raise InputError(f"{path}: [{section}] unknown key {key!r}; valid: {', '.join(sweeps[section])}")
        sweeps[section].update(values)
    return sweeps


def write_csv(path: Path, rows: list[dict]) -> None:
    """Rows as CSV, written atomically to a regular file (docs/safety.md); no rows: an empty file."""
    with atomic_open(path, "w", newline="") as fh:
        if not rows:
            return
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def markdown_table(rows: list[dict], columns: list[str] | None = None) -> str:
    if not rows:
        return "(empty)\n"
    columns = columns or list(rows[0])
    lines = ["| " + " | ".join(columns) + " |", "|" + "|".join("---" for _ in columns) + "|"]
    for row in rows:
        lines.append("| " + " | ".join(str(row.get(c, "")).replace("|", "\\|") for c in columns) + " |")
    return "\n".join(lines) + "\n"


# ----------------------------------------------------------------------------
# The computations (no plotting, no files)
# ----------------------------------------------------------------------------

def _ratio(upper: int | None, lower: int | None):
    """log10(upper) / log10(lower), or "" when either is missing or lower ≤ 1."""
    if not upper or not lower or lower <= 1:
        return ""
    return _round(log10_int(upper) / log10_int(lower))


def models_rows(paths: list[str], time_limit: float | None, tick=None) -> tuple[list[dict], list[dict]]:
    """(the headline row of each model, one row per model × named bound).

    Headline: Theorem 1 for the untied layer (one-layer models), the proven
    lower bound, the real maximum where the DP reaches it, the proven upper
    bound and log10(upper)/log10(lower).
    """
    from ilpregions.services.bounds import compute_bounds
    from ilpregions.core.spec import load

    summary, detail = [], []
    for path in paths:
        network = load(path)
        start = time.perf_counter()
        report = compute_bounds(network, time_limit=time_limit)
        seconds = time.perf_counter() - start
        name = Path(path).stem
        theorem1 = next((b.value for b in report.bounds if b.name == "xiong2020.theorem1" and b.applicable), None)
        summary.append({
            "model": name, "layers": "+".join(layer.type for layer in network.layers),
            "params": report.params, "theorem1_untied": short(theorem1),
            "proven_lower": short(report.lower), "lower_bound": report.lower_name or "",
            "real_max": short(report.real_max),
            "upper": short(report.upper), "upper_bound": report.upper_name or "",
            "log10_upper_over_log10_lower": _ratio(report.upper, report.lower),
            "seconds": round(seconds, 2),
        })
        for b in report.bounds:
            detail.append({"model": name, "bound": b.name, "kind": b.kind, "applicable": b.applicable,
                           "proven_for": getattr(b, "proven_for", "network"),
                           "value": short(b.value) if b.applicable else "",
                           "log10": _round(log10_int(b.value)) if b.applicable else "",
                           "reason": b.reason or ""})
        if tick:
            tick()
    return summary, detail


def depth_rows(cfg: dict, tick=None) -> list[dict]:
    """CNN vs FC at equal parameters, for each depth L."""
    from ilpregions.services.claims import deep_cnn, fc_net, side

    rows = []
    for depth in cfg["depths"]:
        cnn = side("CNN", deep_cnn(cfg["n0"], depth, cfg["d"]))
        fc = side("FC", fc_net(cfg["n0"], depth, cnn.params))
        rows.append({
            "depth": depth, "cnn_params": cnn.params, "fc_params": fc.params,
            "fc_width": fc.network.layers[0].units,
            "cnn_lower": short(cnn.lower), "cnn_upper": short(cnn.upper),
            "fc_lower": short(fc.lower), "fc_upper": short(fc.upper),
            "log10_cnn_lower": _round(log10_int(cnn.lower)), "log10_cnn_upper": _round(log10_int(cnn.upper)),
            "log10_fc_lower": _round(log10_int(fc.lower)), "log10_fc_upper": _round(log10_int(fc.upper)),
            "cnn_lower_bound": cnn.lower_name or "", "cnn_upper_bound": cnn.upper_name or "",
            "fc_lower_bound": fc.lower_name or "", "fc_upper_bound": fc.upper_name or "",
        })
        if tick:
            tick()
    return rows


def width_rows(cfg: dict, tick=None) -> list[dict]:
    """log10 regions per parameter vs d: deep CNN, one-layer CNN and FC at equal parameters."""
    from ilpregions.services.claims import deep_cnn, fc_net, shallow_cnn, side

    def per(value, params):
        return None if value is None else log10_int(value) - math.log10(params)

    rows = []
    for d in cfg["widths"]:
        deep = side("deep", deep_cnn(cfg["n0"], cfg["depth"], d))
        shallow = side("shallow", shallow_cnn(cfg["n0"], deep.params))
        fc = side("FC", fc_net(cfg["n0"], cfg["depth"], deep.params))
        rows.append({
            "d": d, "deep_params": deep.params, "shallow_params": shallow.params, "fc_params": fc.params,
            "deep_lower_pp": _round(per(deep.lower, deep.params)),
            "deep_upper_pp": _round(per(deep.upper, deep.params)),
            "shallow_upper_pp": _round(per(shallow.upper, shallow.params)),
            "fc_lower_pp": _round(per(fc.lower, fc.params)),
            "fc_upper_pp": _round(per(fc.upper, fc.params)),
        })
        if tick:
            tick()
    return rows


def leading_constant_bruteforce(inst) -> tuple[Fraction, int]:
    """(c, U) with c = Σ_{t∈K_N, Σt=U} Π_p 1/t_p!, by enumerating t (tiny instances only).

    Membership in K_N is checked against every union row g(J), so this is
    independent of the counting engines.

    >>> from ilpregions.core.spec import Network, ConvLayer
    >>> from ilpregions.core.geometry import layer_instance
    >>> leading_constant_bruteforce(layer_instance(Network((3, 1), (ConvLayer(1, 2, shared=False),))))
    (Fraction(1, 1), 3)
    """
    from itertools import combinations
    from math import factorial

    positions = inst.positions
    if positions > 12:
        raise InputError("leading_constant_bruteforce: more than 12 positions")
    total = inst.union_size
    sizes = inst.field_sizes
    rows = [(J, inst.coverage(J)) for r in range(2, positions + 1) for J in combinations(range(positions), r)]
    c = Fraction(0)
    for t in iproduct(*(range(s + 1) for s in sizes)):
        if sum(t) != total:
            continue
        if all(sum(t[p] for p in J) <= g for J, g in rows):
            c += Fraction(1, math.prod(factorial(x) for x in t))
    return c, total


def one_layer_rows(cfg: dict, tick=None) -> tuple[list[dict], dict]:
    """R_N(d1) by the exact engine, with the asymptote c·d1^U and the polynomial cross-check."""
    from ilpregions.services.counting import count_regions
    from ilpregions.core.geometry import layer_instance
    from ilpregions.core.spec import ConvLayer, Network

    shared = cfg["type"] == "conv"
    base = Network(tuple(cfg["input"]), (ConvLayer(1, tuple(cfg["kernel"]), shared=shared),))
    inst = layer_instance(base)
    poly = None
    try:
        from ilpregions.services.polynomial import region_polynomial
        poly = region_polynomial(inst)
        c, degree, source = poly.leading, poly.degree, "ilpregions.services.polynomial"
    except ImportError:
        c, degree = leading_constant_bruteforce(inst)
        source = "enumeration of t with Σt = U"
    rows = []
    for d1 in cfg["d1"]:
        result = count_regions(inst.with_filters(d1), backend="auto")
        asym = math.log10(c.numerator) - math.log10(c.denominator) + degree * math.log10(d1)
        log_r = log10_int(result.regions)
        rows.append({
            "d1": d1, "regions": short(result.regions), "exact": result.exact, "backend": result.backend,
            "log10_regions": _round(log_r, 6), "log10_asymptote": _round(asym, 6),
            "ratio_to_asymptote": _round(10 ** (log_r - asym), 6),
            "polynomial_agrees": "" if poly is None else poly(d1) == result.regions,
        })
        if tick:
            tick()
    meta = {"U": degree, "c": f"{c.numerator}/{c.denominator}" if c.denominator != 1 else str(c.numerator),
            "c_float": float(c), "c_source": source, "union_size": inst.union_size,
            "geometry": f"input {cfg['input']}, {cfg['type']} kernel {cfg['kernel']}"}
    return rows, meta


def _input_label(n0) -> str:
    return "×".join(map(str, [n0] if isinstance(n0, int) else n0)) + "×1"


def claims_rows(cfg: dict, tick=None) -> tuple[list[dict], list[dict]]:
    """(one row per claim × family × width, one summary row per claim × family)."""
    from ilpregions.services.claims import cnn_vs_fc, deep_vs_shallow

    functions = {"deep-vs-shallow": deep_vs_shallow, "cnn-vs-fc": cnn_vs_fc}
    rows, summary = [], []
    for case in cfg["cases"]:
        claim, n0, depth = case[:3]
        stride = case[3] if len(case) > 3 else 2
        if claim not in functions:
            raise InputError(f"sweeps [claims]: unknown claim {claim!r}; valid: {', '.join(functions)}")
        result = functions[claim](n0, depth, cfg["widths"], last_stride=stride)
        for r in result.rows:
            rows.append({"claim": claim, "input": _input_label(n0), "depth": depth, "last_stride": stride,
                         "d": r.d, "verdict": r.verdict, "formula_verdict": r.formula_verdict or "",
                         "changed": r.changed,
                         "log10_margin": _round(r.margin), "params_A": r.larger.params, "params_B": r.other.params,
                         "A_lower": short(r.larger.lower), "A_lower_bound": r.larger.lower_name or "",
                         "B_upper": short(r.other.upper), "B_upper_bound": r.other.upper_name or ""})
        summary.append({"claim": claim, "input": _input_label(n0), "depth": depth, "last_stride": stride,
                        "family": result.family,
                        "proven_from_d": result.threshold if result.threshold is not None else "",
                        "changed_at_d": " ".join(map(str, result.changed)), "verdict": result.summary})
        if tick:
            tick()
    return rows, summary


from ilpregions.services.report_plots import _pyplot, plot_depth, plot_one_layer, plot_width  # noqa: E402


_TITLES = {
    "models": ["## Proven bounds of the shipped models", "",
               "Lower and upper are proven for each network as specified (shared filters included); "
               "`theorem1_untied` is Theorem 1's count, exact for the locally connected layer; `real_max` is "
               "the DP count of the shared-filter layer where it ran (a proven lower bound, the maximum with "
               "high probability); the last column is log10(upper)/log10(lower).", ""],
    "claims": ["## The paper's claims (regions per parameter)", "",
               "PROVEN: the claimed-larger side's proven lower bound per parameter beats the other side's upper "
               "bound per parameter. SUGGESTED: the bounds overlap but like-for-like values agree. `changed_at_d`: "
               "widths whose verdict differs from the one obtained by plugging Theorem 1 in for N'.", ""],
    "depth": ["## Regions vs depth, CNN vs fully connected at equal parameters", ""],
    "width": ["## Regions per parameter vs width d", "",
              "The fully-connected lower bound (Montúfar 2014) needs widths ≥ n0, so it starts once the matched "
              "FC width reaches the input size. The one-layer CNN's proven lower bound is not drawn: only its "
              "upper bound (Theorem 1) enters the claims.", ""],
    "one_layer": ["## One layer: exact count vs d1 and its asymptote", ""],
}


def _section_models(ctx) -> tuple[list[str], list[str]]:
    summary, detail = models_rows(ctx["models"], ctx["sweeps"]["models"]["time_limit"], tick=ctx["tick"])
    write_csv(ctx["target"] / "models.csv", summary)
    write_csv(ctx["target"] / "bounds.csv", detail)
    atomic_write(ctx["target"] / "models.md", markdown_table(summary))
    return ["models.csv", "bounds.csv", "models.md"], [markdown_table(summary)]


def _section_claims(ctx):
    rows, summary = claims_rows(ctx["sweeps"]["claims"], tick=ctx["tick"])
    write_csv(ctx["target"] / "claims.csv", rows)
    atomic_write(ctx["target"] / "claims.md", markdown_table(summary) + "\n" + markdown_table(rows))
    return ["claims.csv", "claims.md"], [markdown_table(summary)]


def _section_depth(ctx):
    rows = depth_rows(ctx["sweeps"]["depth"], tick=ctx["tick"])
    return _table_and_plot(ctx, "depth", rows, plot_depth, ["depth", "cnn_params", "fc_params", "fc_width",
                                                            "cnn_lower", "cnn_upper", "fc_lower", "fc_upper"])


def _section_width(ctx):
    return _table_and_plot(ctx, "width", width_rows(ctx["sweeps"]["width"], tick=ctx["tick"]), plot_width)


def _section_one_layer(ctx):
    rows, meta = one_layer_rows(ctx["sweeps"]["one_layer"], tick=ctx["tick"])
    head = [f"{meta['geometry']}: U = {meta['U']}, c = {meta['c']} ≈ {meta['c_float']:.6g} "
            f"(from {meta['c_source']}).", ""]
    files, md = _table_and_plot(ctx, "one_layer", rows, lambda r, cfg, path: plot_one_layer(r, meta, path))
    return files, head + md


def _table_and_plot(ctx, name, rows, plot, columns=None):
    write_csv(ctx["target"] / f"{name}.csv", rows)
    files, md = [f"{name}.csv"], []
    if ctx["can_plot"]:
        plot(rows, ctx["sweeps"].get(name, {}), ctx["target"] / f"{name}.png")
        files.append(f"{name}.png")
        md += [f"![{name}]({name}.png)", ""]
    return files, md + [markdown_table(rows, columns)]


_SECTIONS = {"models": _section_models, "claims": _section_claims, "depth": _section_depth,
             "width": _section_width, "one_layer": _section_one_layer}
_SIZES = {"claims": lambda sw: len(sw["claims"]["cases"]), "depth": lambda sw: len(sw["depth"]["depths"]),
          "width": lambda sw: len(sw["width"]["widths"]), "one_layer": lambda sw: len(sw["one_layer"]["d1"])}


def _can_plot(plots: bool) -> bool:
    if not plots:
        return False
    try:
        _pyplot()
    except ImportError:
        print("report: matplotlib is not installed (pip install 'ilpregions[plot]'); writing tables only",
              file=sys.stderr)
        return False
    return True


def build_report(out: str | Path = "results", sweeps: dict | None = None, root: str | Path = ".",
                 plots: bool = True, progress: bool = True, sections=None) -> dict[str, Any]:
    """Write every table and plot under ``<out>/report``; return what was written.

    ``sections`` restricts the work (subset of models, claims, depth, width, one_layer).
    """
    from ilpregions.core.progress import Progress

    sweeps = sweeps or copy.deepcopy(DEFAULT_SWEEPS)
    chosen = [name for name in _SECTIONS if name in set(sections or _SECTIONS)]
    target = Path(out) / "report"
    output_directory(target)
    models = sorted(glob.glob(str(Path(root) / sweeps["models"]["glob"])))
    total = sum(len(models) if name == "models" else _SIZES[name](sweeps) for name in chosen)
    bar = Progress("report", total=total, enabled=progress, unit="step", delay=0.0)
    ctx = {"target": target, "sweeps": sweeps, "models": models, "tick": bar.update, "can_plot": _can_plot(plots)}
    written: list[str] = []
    md: list[str] = ["# Bounds, claims and sweeps", "",
                     "Regenerated by `ilpregions report` from `models/*.toml` and `results/report/sweeps.toml`. "
                     "Big values are shown as `1.23e4567`; `ilpregions bounds MODEL --json` prints them exactly.", ""]
    timings: dict[str, float] = {}
    try:
        for name in chosen:
            bar.set_postfix(stage=name)
            start = time.perf_counter()
            files, lines = _SECTIONS[name](ctx)
            written += files
            md += _TITLES[name] + lines
            timings[name] = time.perf_counter() - start
    finally:
        bar.close()
    md += ["## Timings", "", markdown_table([{"stage": k, "seconds": round(v, 2)} for k, v in timings.items()])]
    atomic_write(target / "report.md", "\n".join(md))
    written.append("report.md")
    return {"directory": str(target), "files": written, "seconds": timings, "plots": ctx["can_plot"]}


__all__ = ["build_report", "load_sweeps", "DEFAULT_SWEEPS", "models_rows", "depth_rows", "width_rows",
           "one_layer_rows", "claims_rows", "leading_constant_bruteforce", "markdown_table", "log10_int"]

"""The rows of the report's tables: bounds of the shipped models, claims, depth and width sweeps, and
the one-layer count against its asymptote. Computations only: no plotting, no files.

Values are shown as ``1.23e4567`` strings and log10 floats; exact integers
are what the bounds' JSON carries.
"""

from __future__ import annotations

import math
import time
from fractions import Fraction
from itertools import product as iproduct
from pathlib import Path

from ilpregions.core.combinatorics import log10_int
from ilpregions.core.errors import InputError


def short(value: int | None) -> str:
    from ilpregions.core.bigint import short_text

    return "" if value is None else short_text(value)


def _round(x: float | None, digits: int = 4):
    return "" if x is None else round(x, digits)


def _ratio(upper: int | None, lower: int | None):
    """log10(upper) / log10(lower), or "" when either is missing or lower ≤ 1."""
    if not upper or not lower or lower <= 1:
        return ""
    return _round(log10_int(upper) / log10_int(lower))


def models_rows(paths: list[str], time_limit: float | None, tick=None,
                deadline: float | None = None) -> tuple[list[dict], list[dict]]:
    """(the headline row of each model, one row per model × named bound).

    Headline: Theorem 1 for the untied layer (one-layer models), the proven
    lower bound, the real maximum where the DP reaches it, the proven upper
    bound and log10(upper)/log10(lower).
    """
    from ilpregions.services.bounds import compute_bounds
    from ilpregions.core.spec_toml import load

    summary, detail = [], []
    for path in paths:
        network = load(path)
        start = time.perf_counter()
        if deadline is None:
            report = compute_bounds(network, time_limit=time_limit)
        else:  # the report's own limit: one deadline for the whole call
            left = max(0.01, deadline - time.perf_counter())
            report = compute_bounds(network, time_limit=min(time_limit or left, left), total_seconds=left)
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
    from ilpregions.services.count import count_regions
    from ilpregions.core.geometry import layer_instance
    from ilpregions.core.spec import ConvLayer, Network

    shared = cfg["type"] == "conv"
    base = Network(tuple(cfg["input"]), (ConvLayer(1, tuple(cfg["kernel"]), shared=shared),))
    inst = layer_instance(base)
    poly = None
    try:
        from ilpregions.services.count import region_polynomial
        poly = region_polynomial(inst)
        c, degree, source = poly.leading, poly.degree, "ilpregions.services.count._polynomial"
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


def _direction_cells(prefix: str, direction) -> dict:
    if direction is None:
        return {f"{prefix}_shortfall_log10": "", f"{prefix}_limited_by": ""}
    return {f"{prefix}_shortfall_log10": _round(direction.log10_shortfall, 2),
            f"{prefix}_limited_by": " and ".join(n or "none" for n in direction.limited_by)
            + (" (both must move)" if direction.both_must_move else "")}


def model_claims_rows(cfg: dict, root: str | Path = ".", tick=None) -> list[dict]:
    """One row per real model × claim (:func:`ilpregions.services.claims.run_model_claims`), with the
    gap of an open verdict; ``cfg``: ``models`` (paths under ``root``) and ``seconds_per_model``;
    ``tick`` is called once per network (three per model)."""
    from ilpregions.core.spec_toml import load
    from ilpregions.services.claims import per_param, run_model_claims

    paths, seconds = cfg["models"], cfg["seconds_per_model"]
    if not isinstance(paths, list) or not all(isinstance(p, str) for p in paths):
        raise InputError(f"sweeps [model_claims]: models must be a list of paths, got {paths!r}")
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not seconds > 0:
        raise InputError(f"sweeps [model_claims]: seconds_per_model must be a positive number, got {seconds!r}")
    models = [(path, load(Path(root) / path)) for path in paths]
    if not models:
        return []
    run = run_model_claims(models, time_limit=seconds * len(models), progress=tick)
    rows = []
    for c in run.results:
        a, b = c.larger, c.other
        gap = c.gap
        rows.append({"model": Path(c.model).stem, "claim": c.claim, "A": f"{a.label}: {a.network.name or ''}",
                     "B": f"{b.label}: {b.network.name or ''}", "params_A": a.params, "params_B": b.params,
                     "A_lower_pp": _round(per_param(a.lower, a.params), 2), "A_lower_bound": a.lower_name or "",
                     "A_upper_pp": _round(per_param(a.upper, a.params), 2), "A_upper_bound": a.upper_name or "",
                     "B_lower_pp": _round(per_param(b.lower, b.params), 2), "B_lower_bound": b.lower_name or "",
                     "B_upper_pp": _round(per_param(b.upper, b.params), 2), "B_upper_bound": b.upper_name or "",
                     "verdict": c.verdict, "complete": c.complete,
                     **_direction_cells("prove", None if gap is None else gap.prove),
                     **_direction_cells("refute", None if gap is None else gap.refute)})
    return rows


__all__ = ["models_rows", "model_claims_rows", "depth_rows", "width_rows", "one_layer_rows", "claims_rows", "leading_constant_bruteforce",
           "short"]

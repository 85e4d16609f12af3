"""Regenerate the bounds/claims tables (CSV + Markdown) and plots (PNG) under ``<out>/report/``.

Inputs: the shipped models (``models/*.toml``) and the sweep definitions in
``results/report/sweeps.toml`` (:data:`DEFAULT_SWEEPS` mirrors that file and
is used when it is absent). Plots need matplotlib (the ``plot`` extra); it is
imported only when plotting, and without it the tables are still written.

Outputs (in ``<out>/report/``):

* ``models.csv``/``models.md`` — best lower/upper bound of every shipped model;
  ``bounds.csv`` — every named bound of every model (applicable or not);
* ``claims.csv``/``claims.md`` — the claims' verdicts on the families, per width;
* ``model_claims.csv`` — the claims on real models against their counterparts, with the gap of an open verdict;
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
import sys
import time
import tomllib
from pathlib import Path
from typing import Any

from ilpregions.core.errors import ILPRegionsError, InputError
from ilpregions.core.safe_io import atomic_open, atomic_write, output_directory
from ilpregions.services.report._plots import pyplot, plot_depth, plot_one_layer, plot_width
from ilpregions.services.report._rows import (claims_rows, depth_rows, leading_constant_bruteforce,  # noqa: F401
                                              model_claims_rows, models_rows, one_layer_rows, width_rows)

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
    # real models (paths under the root) for the claims against their counterparts
    "model_claims": {"models": ["models/cifar_conv.toml", "models/cifar_small.toml", "models/vgg11_cifar.toml",
                                "models/imagenet_stem.toml"], "seconds_per_model": 30.0},
}


# ----------------------------------------------------------------------------
# Helpers
# ----------------------------------------------------------------------------

def load_sweeps(path: str | Path | None) -> dict[str, Any]:
    """The sweep definitions of the report: ``path`` merged over :data:`DEFAULT_SWEEPS`.

    Parameters
    ----------
    path : str or Path or None
        A TOML file with any of the sections of ``DEFAULT_SWEEPS`` (models,
        claims, depth, width, one_layer) and their keys; None: the defaults.

    Returns
    -------
    dict
        Section -> settings, a fresh copy (changing it leaves the defaults
        alone).

    Raises
    ------
    InputError
        The file is not TOML, or has an unknown section or key; the message
        names the file and lists the valid names.
    SpecError
        The file cannot be read (missing, not a regular file, too large, not
        UTF-8).

    Examples
    --------
    >>> sweeps = load_sweeps(None)
    >>> sorted(sweeps), sweeps["models"]["glob"]
    (['claims', 'depth', 'model_claims', 'models', 'one_layer', 'width'], 'models/*.toml')
    """
    sweeps = copy.deepcopy(DEFAULT_SWEEPS)
    if path is None:
        return sweeps
    from ilpregions.core.safe_io import read_text_bounded

    path = Path(path)
    try:  # regular files only, bounded, never a blocking open
        data = tomllib.loads(read_text_bounded(path, what="a sweeps file"))
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


_TITLES = {
    "models": ["## Proven bounds of the shipped models", "",
               "Lower and upper are proven for each network as specified (shared filters included); "
               "`theorem1_untied` is Theorem 1's count, exact for the locally connected layer; `real_max` is "
               "the DP count of the shared-filter layer where it ran (a proven lower bound, the maximum with "
               "high probability); the last column is log10(upper)/log10(lower).", ""],
    "claims": ["## The paper's claims (regions per parameter)", "",
               "PROVEN: the claimed-larger side's proven lower bound per parameter beats the other side's upper "
               "bound per parameter. REFUTED: the other side's lower bound per parameter reaches the claimed-larger "
               "side's upper bound per parameter. Open: neither. `changed_at_d`: widths whose verdict differs from "
               "the one obtained by plugging Theorem 1 in for N'.", ""],
    "model_claims": ["## The claims on real models", "",
                     "Each model against its counterparts with at most its parameters (docs/bounds.md, \"Claims on "
                     "real models\"): A is the claimed-larger side. Columns `*_pp` are log10(bound / parameters); an "
                     "open verdict gives, for each way it could be decided, how many orders of magnitude are missing "
                     "and the bound(s) that limit it. `complete` is False when the time limit cut a bound of an open "
                     "verdict.", ""],
    "depth": ["## Regions vs depth, CNN vs fully connected at equal parameters", ""],
    "width": ["## Regions per parameter vs width d", "",
              "The fully-connected lower bound (Montúfar 2014) needs widths ≥ n0, so it starts once the matched "
              "FC width reaches the input size. The one-layer CNN's proven lower bound is not drawn: the claims use "
              "it only for a REFUTED verdict (see the claims table).", ""],
    "one_layer": ["## One layer: exact count vs d1 and its asymptote", ""],
}


def _section_models(ctx) -> tuple[list[str], list[str]]:
    # with the report's time limit, a model's bounds never outlast what is left of it
    summary, detail = models_rows(ctx["models"], ctx["sweeps"]["models"]["time_limit"], tick=ctx["tick"],
                                  deadline=ctx["deadline"])
    write_csv(ctx["target"] / "models.csv", summary)
    write_csv(ctx["target"] / "bounds.csv", detail)
    atomic_write(ctx["target"] / "models.md", markdown_table(summary))
    return ["models.csv", "bounds.csv", "models.md"], [markdown_table(summary)]


def _section_claims(ctx):
    rows, summary = claims_rows(ctx["sweeps"]["claims"], tick=ctx["tick"])
    write_csv(ctx["target"] / "claims.csv", rows)
    atomic_write(ctx["target"] / "claims.md", markdown_table(summary) + "\n" + markdown_table(rows))
    return ["claims.csv", "claims.md"], [markdown_table(summary)]


def _section_model_claims(ctx):
    rows = model_claims_rows(ctx["sweeps"]["model_claims"], ctx["root"], tick=ctx["tick"])
    write_csv(ctx["target"] / "model_claims.csv", rows)
    return ["model_claims.csv"], [markdown_table(rows)]


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


_SECTIONS = {"models": _section_models, "claims": _section_claims, "model_claims": _section_model_claims,
             "depth": _section_depth,
             "width": _section_width, "one_layer": _section_one_layer}
_SIZES = {"claims": lambda sw: len(sw["claims"]["cases"]),
          "model_claims": lambda sw: 3 * len(sw["model_claims"]["models"]), "depth": lambda sw: len(sw["depth"]["depths"]),
          "width": lambda sw: len(sw["width"]["widths"]), "one_layer": lambda sw: len(sw["one_layer"]["d1"])}


def _can_plot(plots: bool) -> bool:
    if not plots:
        return False
    try:
        pyplot()
    except ImportError:
        print("report: matplotlib is not installed (pip install 'ilpregions[plot]'); writing tables only",
              file=sys.stderr)
        return False
    return True


class _TimeUp(ILPRegionsError):
    """The report's time limit passed between two steps of a section."""


def build_report(out: str | Path = "results", sweeps: dict | None = None, root: str | Path = ".",
                 plots: bool = True, progress: bool = True, sections=None,
                 time_limit: float | None = None) -> dict[str, Any]:
    r"""Write every table and plot under ``<out>/report``; return what was written.

    Parameters
    ----------
    out : str or Path
        The parent directory of ``report/`` (created if missing).
    sweeps : dict, optional
        The sweep definitions (:func:`load_sweeps`); default ``DEFAULT_SWEEPS``.
    root : str or Path
        The directory the models' glob is relative to.
    plots : bool
        Draw the plots (needs the ``plot`` extra; skipped without it).
    progress : bool
        A bar on stderr, one step per model or sweep point.
    sections : iterable of str, optional
        Restrict the work to some of models, claims, model_claims, depth, width,
        one_layer.
    time_limit : float, optional
        Seconds: no section starts after it, and a section stopped between
        two steps is not written (its files keep their earlier contents).

    Returns
    -------
    dict
        ``directory``, the ``files`` written (CSV, Markdown, PNG), the
        ``seconds`` of each section, whether ``plots`` were drawn, and the
        sections ``skipped`` by the time limit.

    Raises
    ------
    OutputError
        ``<out>/report`` is not a directory that can be written, or holds a
        device or FIFO.

    Examples
    --------
    >>> import os, tempfile
    >>> root = tempfile.mkdtemp()
    >>> os.mkdir(os.path.join(root, "models"))
    >>> with open(os.path.join(root, "models", "tiny.toml"), "w") as fh:
    ...     _ = fh.write('input = [4, 1]\n[[layers]]\ntype = "conv"\nfilters = 2\nkernel = 2\n')
    >>> done = build_report(os.path.join(root, "out"), root=root, plots=False, progress=False, sections=["models"])
    >>> done["files"], done["skipped"]
    (['models.csv', 'bounds.csv', 'models.md', 'report.md'], [])
    """
    from ilpregions.core.progress import Progress

    sweeps = sweeps or copy.deepcopy(DEFAULT_SWEEPS)
    chosen = [name for name in _SECTIONS if name in set(sections or _SECTIONS)]
    target = Path(out) / "report"
    output_directory(target)
    models = sorted(glob.glob(str(Path(root) / sweeps["models"]["glob"])))
    total = sum(len(models) if name == "models" else _SIZES[name](sweeps) for name in chosen)
    bar = Progress("report", total=total, enabled=progress, unit="step", delay=0.0)
    deadline = None if time_limit is None else time.perf_counter() + time_limit

    def tick(steps=1):
        bar.update(steps)
        if deadline is not None and time.perf_counter() > deadline:
            raise _TimeUp  # between two steps: a section is written whole or not at all

    ctx = {"target": target, "sweeps": sweeps, "models": models, "tick": tick, "can_plot": _can_plot(plots),
           "deadline": deadline, "root": root}
    written: list[str] = []
    md: list[str] = ["# Bounds, claims and sweeps", "",
                     "Regenerated by the report builder of ilpregions from `models/*.toml` and `results/report/sweeps.toml`. "
                     "Big values are shown as `1.23e4567`; the bounds' JSON output prints them exactly.", ""]
    timings: dict[str, float] = {}
    skipped: list[str] = []
    try:
        for name in chosen:
            if skipped or (deadline is not None and time.perf_counter() > deadline):
                skipped.append(name)
                continue
            bar.set_postfix(stage=name)
            start = time.perf_counter()
            try:
                files, lines = _SECTIONS[name](ctx)
            except _TimeUp:
                skipped.append(name)
                continue
            written += files
            md += _TITLES[name] + lines
            timings[name] = time.perf_counter() - start
    finally:
        bar.close()
    md += ["## Timings", "", markdown_table([{"stage": k, "seconds": round(v, 2)} for k, v in timings.items()])]
    if skipped:
        md += ["", f"Stopped by the time limit before: {', '.join(skipped)}."]
    atomic_write(target / "report.md", "\n".join(md))
    written.append("report.md")
    return {"directory": str(target), "files": written, "seconds": timings, "plots": ctx["can_plot"],
            "skipped": skipped}


__all__ = ["build_report", "load_sweeps", "DEFAULT_SWEEPS", "markdown_table", "write_csv"]

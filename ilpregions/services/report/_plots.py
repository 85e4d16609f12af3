"""The report's plots (matplotlib, imported only when plotting): regions vs depth, per parameter vs width,
and the one-layer count against its asymptote."""

from __future__ import annotations

from pathlib import Path

from ilpregions.core.safe_io import atomic_path


def pyplot():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def _floats(rows, key):
    return [float("nan") if r[key] == "" else float(r[key]) for r in rows]


def plot_depth(rows: list[dict], cfg: dict, path: Path) -> None:
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=120)
    x = [r["depth"] for r in rows]
    for prefix, label, colour in (("cnn", "CNN", "tab:blue"), ("fc", "fully connected", "tab:orange")):
        lo, hi = _floats(rows, f"log10_{prefix}_lower"), _floats(rows, f"log10_{prefix}_upper")
        ax.fill_between(x, lo, hi, color=colour, alpha=0.25)
        ax.plot(x, hi, color=colour, lw=1.5, ls="--", label=f"{label}: best upper bound")
        ax.plot(x, lo, color=colour, lw=2, marker="o", ms=4, label=f"{label}: best lower bound")
    ax.set_xlabel("depth L (number of ReLU layers)")
    ax.set_ylabel("log10 (number of linear regions)")
    ax.set_title(f"CNN vs fully connected at equal parameters\n1-D input of {cfg['n0']}, CNN width d = {cfg['d']}, "
                 f"FC width matched to the CNN's parameters", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    with atomic_path(path) as tmp:   # a regular file, replaced atomically (docs/safety.md)
        fig.savefig(tmp)
    plt.close(fig)


def plot_width(rows: list[dict], cfg: dict, path: Path) -> None:
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=120)
    x = [r["d"] for r in rows]
    lo, hi = _floats(rows, "deep_lower_pp"), _floats(rows, "deep_upper_pp")
    ax.fill_between(x, lo, hi, color="tab:blue", alpha=0.2)
    ax.plot(x, lo, color="tab:blue", lw=2, marker="o", ms=3, label=f"deep CNN (L={cfg['depth']}): lower bound")
    ax.plot(x, hi, color="tab:blue", lw=1.2, ls="--", label="deep CNN: upper bound")
    ax.plot(x, _floats(rows, "shallow_upper_pp"), color="tab:green", lw=2, marker="s", ms=3,
            label="one-layer CNN: upper bound (Theorem 1)")
    flo, fhi = _floats(rows, "fc_lower_pp"), _floats(rows, "fc_upper_pp")
    ax.fill_between(x, flo, fhi, color="tab:orange", alpha=0.2)
    ax.plot(x, fhi, color="tab:orange", lw=1.5, ls="--", label=f"fully connected (L={cfg['depth']}): upper bound")
    ax.plot(x, flo, color="tab:orange", lw=1.2, marker="^", ms=3, label="fully connected: lower bound")
    ax.set_xscale("log", base=2)
    ax.set_xlabel("width d (filters per conv layer)")
    ax.set_ylabel("log10 (regions / parameters)")
    ax.set_title(f"Regions per parameter at equal parameter counts (1-D input of {cfg['n0']})", fontsize=10)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    with atomic_path(path) as tmp:   # a regular file, replaced atomically (docs/safety.md)
        fig.savefig(tmp)
    plt.close(fig)


def plot_one_layer(rows: list[dict], meta: dict, path: Path) -> None:
    plt = pyplot()
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(10, 4.2), dpi=120)
    x = [r["d1"] for r in rows]
    ax.plot(x, _floats(rows, "log10_regions"), "o", color="tab:blue", ms=5, label="exact R_N (Theorem 1)")
    ax.plot(x, _floats(rows, "log10_asymptote"), "-", color="tab:red", lw=1.5,
            label=f"c·d1^U, U = {meta['U']}, c = {meta['c']}")
    ax.set_xscale("log", base=2)
    ax.set_xlabel("d1 (filters)")
    ax.set_ylabel("log10 R_N")
    ax.set_title(f"One layer: {meta['geometry']}", fontsize=10)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    ax2.plot(x, _floats(rows, "ratio_to_asymptote"), "o-", color="tab:purple", ms=4)
    ax2.axhline(1.0, color="grey", lw=1, ls=":")
    ax2.set_xscale("log", base=2)
    ax2.set_yscale("log")
    ax2.set_xlabel("d1 (filters)")
    ax2.set_ylabel("R_N / (c·d1^U)")
    ax2.set_title("ratio to the asymptote (→ 1)", fontsize=10)
    ax2.grid(alpha=0.3, which="both")
    fig.tight_layout()
    with atomic_path(path) as tmp:   # a regular file, replaced atomically (docs/safety.md)
        fig.savefig(tmp)
    plt.close(fig)


# ----------------------------------------------------------------------------
# Driver
# ----------------------------------------------------------------------------

__all__ = ["plot_depth", "plot_width", "plot_one_layer"]

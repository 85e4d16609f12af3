"""The paper's two conclusions, checked on concrete families with exact bounds.

Xiong et al. (2020) conclude, from Theorems 2–3, that

* **deep-vs-shallow**: a deep CNN has more linear regions per parameter than a
  one-layer CNN with the same number of parameters;
* **cnn-vs-fc**: a CNN has more regions per parameter than a fully-connected
  network with the same number of parameters, input size and depth.

Both are asymptotic (d → ∞). Here each is evaluated for a concrete family and
a grid of widths d, as *regions per parameter*, and graded:

``PROVEN``
    a lower bound (or exact value) of the claimed-larger side, per parameter,
    exceeds an upper bound of the other side, per parameter;
``REFUTED``
    the bounds prove the opposite ordering at that d;
``SUGGESTED``
    the bounds overlap, but like-for-like values (lower vs lower when both
    exist, else upper vs upper) order the sides as claimed;
``OPEN``
    neither.

The families (1-D as the authors' own checks, and 4×4 images; d0 = 1) are built so that
Theorem 2's lower bound is rigorous for shared filters: the last layer's
fields do not overlap (kernel 2, stride 2), so its Theorem-1 count *is* the
CNN's maximum (a product arrangement), and the earlier layers use "same"
padding (kernel 3, padding 1) so that every layer keeps n0 positions.

Examples
--------
>>> net = deep_cnn(4, 3, 2)
>>> [layer.type for layer in net.layers], [s[0] for s in net.output_shapes()]
(['conv', 'conv', 'conv'], [4, 4, 2])
>>> from ilpregions.services.multilayer import params
>>> params(net), params(shallow_cnn(4, params(net))), params(fc_net(4, 3, params(net)))
(32, 32, 22)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Sequence

from ilpregions.core.bigint import big_int_repr
from ilpregions.core.combinatorics import decimal_string
from ilpregions.theory.fc_bounds import fc_params
from ilpregions.core.spec import ConvLayer, DenseLayer, Network

PROVEN, REFUTED, SUGGESTED, OPEN = "PROVEN", "REFUTED", "SUGGESTED", "OPEN"

#: The default grid of widths d.
DEFAULT_WIDTHS = (1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128)


# ----------------------------------------------------------------------------
# Families
# ----------------------------------------------------------------------------

def _spatial(n0) -> tuple[int, ...]:
    """An int means a 1-D signal of that length; a list gives the spatial sizes."""
    spatial = (n0,) if isinstance(n0, int) else tuple(n0)
    if not spatial or any(n < 2 for n in spatial):
        raise ValueError(f"input sizes must be >= 2, got {n0!r}")
    return spatial


def _label(n0) -> str:
    return "×".join(map(str, _spatial(n0))) + "×1"


def deep_cnn(n0, depth: int, d: int) -> Network:
    """``depth`` conv layers of d filters on an n0 grid (an int: a 1-D signal), one channel.

    Layers 1..L−1: kernel 3, padding 1 (every layer keeps the input grid); layer
    L: kernel 2, stride 2 (disjoint fields).
    """
    spatial = _spatial(n0)
    if depth < 1 or d < 1:
        raise ValueError("need depth >= 1 and d >= 1")
    layers = [ConvLayer(d, 3, padding=1) for _ in range(depth - 1)] + [ConvLayer(d, 2, stride=2)]
    return Network(spatial + (1,), tuple(layers), name=f"deep CNN {_label(n0)} L={depth} d={d}")


def shallow_cnn(n0, budget: int) -> Network:
    """One conv layer (kernel 3, padding 1) with the most filters within ``budget`` parameters."""
    spatial = _spatial(n0)
    filters = max(1, budget // (3 ** len(spatial) + 1))
    return Network(spatial + (1,), (ConvLayer(filters, 3, padding=1),), name=f"shallow CNN {_label(n0)} D={filters}")


def fc_width(n0: int, depth: int, budget: int) -> int:
    """The largest equal width w with fc_params(n0, [w]*depth) ≤ budget (at least 1); n0 = input scalars.

    >>> fc_width(4, 3, 32), fc_params(4, [2, 2, 2]), fc_params(4, [3, 3, 3])
    (2, 22, 39)
    """
    lo, hi = 1, max(2, budget)
    while lo < hi:  # largest w with params ≤ budget, by bisection (params grow with w)
        mid = (lo + hi + 1) // 2
        if fc_params(n0, [mid] * depth) <= budget:
            lo = mid
        else:
            hi = mid - 1
    return lo


def fc_net(n0, depth: int, budget: int) -> Network:
    """A fully-connected net on the same input, ``depth`` equal-width layers within ``budget`` parameters."""
    spatial = _spatial(n0)
    inputs = 1
    for n in spatial:
        inputs *= n
    w = fc_width(inputs, depth, budget)
    return Network(spatial + (1,), tuple(DenseLayer(w) for _ in range(depth)),
                   name=f"FC {_label(n0)} L={depth} w={w}")


# ----------------------------------------------------------------------------
# Comparisons
# ----------------------------------------------------------------------------

@big_int_repr  # repr at any size (docs/safety.md)
@dataclass(frozen=True)
class Side:
    """One network's size and its best bounds (exact integers)."""

    label: str
    network: Network
    params: int
    lower: int | None
    upper: int | None
    lower_name: str | None
    upper_name: str | None

    def to_json(self) -> dict:
        return {"label": self.label, "params": self.params,
                "lower": None if self.lower is None else decimal_string(self.lower),
                "upper": None if self.upper is None else decimal_string(self.upper),
                "lower_name": self.lower_name, "upper_name": self.upper_name,
                "layers": [layer.type for layer in self.network.layers]}


@dataclass(frozen=True)
class Comparison:
    """The claimed-larger side A against side B at one width d."""

    d: int
    larger: Side
    other: Side
    verdict: str
    margin: float | None  # log10[(A.lower/A.params) / (B.upper/B.params)]; > 0 ⇔ PROVEN

    def to_json(self) -> dict:
        return {"d": self.d, "verdict": self.verdict,
                "log10_margin": None if self.margin is None else round(self.margin, 4),
                "larger": self.larger.to_json(), "other": self.other.to_json()}


def _log10(value: int) -> float:
    text = decimal_string(value)
    head = int(text[:17])
    return math.log10(head) + len(text) - len(str(head))


def per_param_greater(a: int, pa: int, b: int, pb: int) -> bool:
    """a/pa > b/pb, exactly (cross-multiplied integers)."""
    return a * pb > b * pa


def verdict(a: Side, b: Side) -> tuple[str, float | None]:
    """Grade "A has more regions per parameter than B" from the two sides' bounds.

    >>> from ilpregions.core.spec import Network, DenseLayer
    >>> net = Network((2, 1), (DenseLayer(2),))
    >>> verdict(Side("A", net, 10, 100, 200, "", ""), Side("B", net, 10, 5, 50, "", ""))
    ('PROVEN', 0.30103)
    >>> verdict(Side("A", net, 10, 6, 60, "", ""), Side("B", net, 10, 5, 50, "", ""))[0]
    'SUGGESTED'
    >>> verdict(Side("A", net, 10, 1, 20, "", ""), Side("B", net, 10, 5, 50, "", ""))[0]
    'OPEN'
    >>> verdict(Side("A", net, 10, 1, 4, "", ""), Side("B", net, 10, 5, 50, "", ""))[0]
    'REFUTED'
    """
    margin = None
    if a.lower is not None and b.upper is not None and a.lower > 0 and b.upper > 0:
        margin = round(_log10(a.lower) - math.log10(a.params) - _log10(b.upper) + math.log10(b.params), 6)
        if per_param_greater(a.lower, a.params, b.upper, b.params):
            return PROVEN, margin
    if a.upper is not None and b.lower is not None and per_param_greater(b.lower, b.params, a.upper, a.params):
        return REFUTED, margin
    if a.lower is not None and b.lower is not None:
        like = per_param_greater(a.lower, a.params, b.lower, b.params)
    elif a.upper is not None and b.upper is not None:
        like = per_param_greater(a.upper, a.params, b.upper, b.params)
    else:
        like = False
    return (SUGGESTED if like else OPEN), margin


def side(label: str, network: Network, exact_counter=None, time_limit: float | None = 20.0) -> Side:
    """The best bounds of one network (via :func:`ilpregions.services.multilayer.compute_bounds`)."""
    from ilpregions.services.multilayer import compute_bounds

    # No LP bounds: the exact engine answers these small one-layer nets.
    report = compute_bounds(network, exact_counter=exact_counter, time_limit=time_limit, lp=False)
    # Only rigorous lower bounds: a bound carrying a caveat (a reason) rests
    # on the unproven tied = untied equality of MATH.md §4.
    lows = [b for b in report.bounds if b.applicable and b.kind in ("lower", "exact") and not b.reason]
    low = max(lows, key=lambda b: b.value, default=None)
    return Side(label, network, report.params, None if low is None else low.value, report.upper,
                None if low is None else low.name, report.upper_name)


@dataclass(frozen=True)
class ClaimResult:
    """One claim on one family over a grid of widths."""

    claim: str
    title: str
    family: str
    rows: tuple[Comparison, ...]
    #: The smallest integer d from which the claim is PROVEN: every integer
    #: between it and the first proven grid point was checked, and every grid
    #: point above (None when the largest grid point is not proven).
    threshold: int | None = None

    @property
    def proven_from(self) -> int | None:
        """The smallest d of the grid from which every larger d is PROVEN too (None if the last is not)."""
        start = None
        for row in self.rows:
            if row.verdict == PROVEN:
                start = row.d if start is None else start
            else:
                start = None
        return start

    @property
    def first_proven(self) -> int | None:
        return next((row.d for row in self.rows if row.verdict == PROVEN), None)

    @property
    def summary(self) -> str:
        if self.proven_from is not None:
            t = self.threshold if self.threshold is not None else self.proven_from
            fails = "" if t == 1 else f"fails at d = {t - 1}; "
            return (f"PROVEN by the bounds from d = {t} on ({fails}holds at every width checked "
                    f"from {t} to {self.rows[-1].d})")
        verdicts = {row.verdict for row in self.rows}
        if PROVEN in verdicts:
            return f"PROVEN at some widths (first d = {self.first_proven}) but not at the largest"
        if SUGGESTED in verdicts:
            return "only SUGGESTED: the bounds overlap at every width in the grid"
        return "not supported by the bounds in this grid"

    def to_json(self) -> dict:
        return {"claim": self.claim, "title": self.title, "family": self.family,
                "proven_from_d": self.proven_from, "first_proven_d": self.first_proven,
                "threshold_d": self.threshold,
                "summary": self.summary, "rows": [r.to_json() for r in self.rows]}


def _deep_vs_shallow_at(n0, depth: int, d: int, exact_counter=None) -> Comparison:
    a = side("deep CNN", deep_cnn(n0, depth, d), exact_counter)
    b = side("shallow CNN", shallow_cnn(n0, a.params), exact_counter)
    return Comparison(d, a, b, *verdict(a, b))


def _cnn_vs_fc_at(n0, depth: int, d: int, exact_counter=None) -> Comparison:
    a = side("CNN", deep_cnn(n0, depth, d), exact_counter)
    b = side("FC", fc_net(n0, depth, a.params), exact_counter)
    return Comparison(d, a, b, *verdict(a, b))


def _evaluate(at, claim, title, family, n0, depth, widths, exact_counter, progress) -> ClaimResult:
    rows = []
    for d in widths:
        rows.append(at(n0, depth, d, exact_counter))
        if progress:
            progress()
    result = ClaimResult(claim, title, family, tuple(rows))
    start = result.proven_from
    if start is None:
        return result
    # Between grid points, scan every integer d below the first proven one.
    previous = max((r.d for r in rows if r.d < start), default=0)
    threshold = start
    for d in range(start - 1, previous, -1):
        if at(n0, depth, d, exact_counter).verdict != PROVEN:
            break
        threshold = d
    return ClaimResult(claim, title, family, tuple(rows), threshold)


def deep_vs_shallow(n0, depth: int, widths: Sequence[int] = DEFAULT_WIDTHS,
                    exact_counter=None, progress: Callable[[], None] | None = None) -> ClaimResult:
    """Deep CNN (lower bound) vs a one-layer CNN with ≤ the same parameters (upper bound)."""
    per_filter = 3 ** len(_spatial(n0)) + 1
    family = (f"input {_label(n0)}; deep: {depth - 1}× conv(d, k3, pad1) + conv(d, k2, s2); "
              f"shallow: conv(D, k3, pad1), D = ⌊params/{per_filter}⌋")
    return _evaluate(_deep_vs_shallow_at, "deep-vs-shallow",
                     "deep CNN > one-layer CNN per parameter (equal parameters)", family,
                     n0, depth, widths, exact_counter, progress)


def cnn_vs_fc(n0, depth: int, widths: Sequence[int] = DEFAULT_WIDTHS,
              exact_counter=None, progress: Callable[[], None] | None = None) -> ClaimResult:
    """Deep CNN (lower bound) vs an FC net of the same depth and input, ≤ the same parameters (upper bound)."""
    family = (f"input {_label(n0)}, depth {depth}; CNN as deep-vs-shallow; FC: {depth} dense layers of "
              f"equal width w, the largest with params ≤ the CNN's")
    return _evaluate(_cnn_vs_fc_at, "cnn-vs-fc",
                     "CNN > fully-connected per parameter (equal parameters, input, depth)", family,
                     n0, depth, widths, exact_counter, progress)


#: (claim function, n0, depth) evaluated by ``ilpregions claims``.
DEFAULT_CASES = (
    (deep_vs_shallow, 4, 2),
    (deep_vs_shallow, 4, 3),
    (deep_vs_shallow, 6, 4),
    (deep_vs_shallow, (4, 4), 2),
    (deep_vs_shallow, (4, 4), 3),
    (cnn_vs_fc, 4, 2),
    (cnn_vs_fc, 4, 3),
    (cnn_vs_fc, 6, 4),
    (cnn_vs_fc, (4, 4), 2),
    (cnn_vs_fc, (4, 4), 3),
)


def evaluate_claims(cases=DEFAULT_CASES, widths: Sequence[int] = DEFAULT_WIDTHS,
                    exact_counter=None, progress: Callable[[], None] | None = None) -> list[ClaimResult]:
    """Every (claim, family) of ``cases`` over ``widths``."""
    return [fn(n0, depth, widths, exact_counter=exact_counter, progress=progress) for fn, n0, depth in cases]


__all__ = ["deep_cnn", "shallow_cnn", "fc_net", "fc_width", "Side", "Comparison", "ClaimResult", "verdict",
           "deep_vs_shallow", "cnn_vs_fc", "evaluate_claims", "DEFAULT_CASES", "DEFAULT_WIDTHS",
           "PROVEN", "REFUTED", "SUGGESTED", "OPEN"]

# long module: the code is under 400 lines; the rest are the numpydoc docstrings of its public functions
"""The paper's two conclusions, checked on concrete families with exact bounds.

Xiong et al. (2020) conclude, from Theorems 2–3, that

* **deep-vs-shallow**: a deep CNN has more linear regions per parameter than a
  one-layer CNN with the same number of parameters;
* **cnn-vs-fc**: a CNN has more regions per parameter than a fully-connected
  network with the same number of parameters, input size and depth.

Both are asymptotic (d → ∞). Here each is evaluated for a concrete family and
a grid of widths d, as *regions per parameter*, and graded PROVEN, REFUTED or
OPEN by :func:`ilpregions.services.claims._verdict.verdict` (an open row
carries its gap). The shipped real models are in
:mod:`ilpregions.services.claims._models`.

The families (1-D as the authors' own checks, and 4×4 images; d0 = 1) use
"same" padding (kernel 3, padding 1) in the earlier layers, so that every
layer keeps n0 positions, and a last layer of kernel 2 with stride 2 (disjoint
fields: Theorem 1 is N''s maximum) or stride 1 (2-D: shared, overlapping
filters, where Theorem 1 overcounts). Every lower bound used is proven for
shared filters (docs/bounds.md): Theorem 2 (i) takes a proven lower bound on
N''s real maximum. Each comparison also records the verdict one would get by
plugging Theorem 1's count in for N' (the paper's formula); ``changed`` marks
where the two verdicts differ.

Examples
--------
>>> net = deep_cnn(4, 3, 2)
>>> [layer.type for layer in net.layers], [s[0] for s in net.output_shapes()]
(['conv', 'conv', 'conv'], [4, 4, 2])
>>> from ilpregions.services.bounds import params
>>> params(net), params(shallow_cnn(4, params(net))), params(fc_net(4, 3, params(net)))
(32, 32, 22)
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, Sequence

from ilpregions.services.claims._warm import warm_engines
from ilpregions.services.claims._limits import (DEFAULT_WIDTHS, MAX_EVALUATIONS, MAX_WIDTH, STEP_SECONDS, Clock, TimeUp,
                                               check_widths, evaluations_bound, memo_counter)
from ilpregions.core.spec import Network
from ilpregions.services.claims._families import family_label, spatial_sizes, deep_cnn, fc_net, fc_width, shallow_cnn  # noqa: F401

from ilpregions.services.claims._verdict import OPEN, PROVEN, REFUTED, Gap, Side, gap, verdict  # noqa: F401

# ----------------------------------------------------------------------------
# Comparisons
# ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Comparison:
    """The claimed-larger side A against side B at one width d."""

    d: int
    larger: Side
    other: Side
    verdict: str
    margin: float | None  # log10[(A.lower/A.params) / (B.upper/B.params)]; > 0 ⇔ PROVEN
    #: The verdict with the formula's lower bound for A (Theorem 1 for N'), for comparison.
    formula_verdict: str | None = None

    @property
    def changed(self) -> bool:
        return self.formula_verdict is not None and self.formula_verdict != self.verdict

    @property
    def gap(self) -> Gap | None:
        """What keeps an OPEN verdict open (None for PROVEN and REFUTED)."""
        return gap(self.larger, self.other) if self.verdict == OPEN else None

    def to_json(self) -> dict:
        return {"d": self.d, "verdict": self.verdict, "formula_verdict": self.formula_verdict,
                "changed": self.changed,
                "log10_margin": None if self.margin is None else round(self.margin, 4),
                "gap": None if self.gap is None else self.gap.to_json(),
                "larger": self.larger.to_json(), "other": self.other.to_json()}


def side(label: str, network: Network, exact_counter=None, time_limit: float | None = 1.0,
         formula_network: Network | None = None) -> Side:
    """The best proven bounds of one network (:func:`ilpregions.services.bounds.compute_bounds`).

    No LP bounds and no first-layer search: Theorem 2 (i) and the upper
    bounds decide.

    Parameters
    ----------
    label : str
        The side's name in reports ("deep CNN", "FC", ...).
    network : Network
        The network.
    exact_counter : callable, optional
        ``(instance, time_limit) -> CountResult`` for one-layer counts; default
        the exact engine.
    time_limit : float, optional
        Seconds for each exact count.
    formula_network : Network, optional
        The same network with its last layer untied: gives ``formula_lower``,
        the lower bound the paper's formula would give.

    Returns
    -------
    Side
        The network's parameters and its proven lower and upper bounds, with
        their names.

    Examples
    --------
    >>> s = side("A", deep_cnn(4, 2, 2))
    >>> s.params, s.lower, s.upper, s.lower_name
    (18, 256, 2576, 'xiong2020.theorem2.lower')
    """
    from ilpregions.services.bounds import compute_bounds

    # No LP bounds and no first-layer search: Theorem 2 (i) and the upper bounds decide here.
    report = compute_bounds(network, exact_counter=exact_counter, time_limit=time_limit, lp=False, search=False)
    formula = None
    if formula_network is not None:
        formula = compute_bounds(formula_network, exact_counter=exact_counter, time_limit=time_limit, lp=False,
                                 search=False).lower
    return Side(label, network, report.params, report.lower, report.upper, report.lower_name,
                report.upper_name, formula)


def _compare(d: int, a: Side, b: Side) -> Comparison:
    verdict_now, margin = verdict(a, b)
    formula = None
    if a.formula_lower is not None:
        formula = verdict(Side(a.label, a.network, a.params, a.formula_lower, a.upper, None, None), b)[0]
    return Comparison(d, a, b, verdict_now, margin, formula)


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
    #: False when the time limit cut the grid or the threshold scan short.
    complete: bool = True

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
    def changed(self) -> tuple[int, ...]:
        """The widths whose verdict differs from the formula-based one."""
        return tuple(row.d for row in self.rows if row.changed)

    @property
    def first_proven(self) -> int | None:
        return next((row.d for row in self.rows if row.verdict == PROVEN), None)

    @property
    def summary(self) -> str:
        if not self.complete:
            done = ", ".join(str(r.d) for r in self.rows) or "none"
            return f"partial (time limit): finished widths {done}; no verdict over the grid"
        if self.proven_from is not None:
            t = self.threshold if self.threshold is not None else self.proven_from
            fails = "" if t == 1 else f"fails at d = {t - 1}; "
            return (f"PROVEN by the bounds from d = {t} on ({fails}holds at every width checked "
                    f"from {t} to {self.rows[-1].d})")
        verdicts = {row.verdict for row in self.rows}
        if PROVEN in verdicts:
            return f"PROVEN at some widths (first d = {self.first_proven}) but not at the largest"
        if verdicts == {REFUTED}:
            return "REFUTED by the bounds at every width in the grid"
        refuted = [row.d for row in self.rows if row.verdict == REFUTED]
        last = self.rows[-1]
        short = last.gap.prove.log10_shortfall if last.gap is not None else None
        return ("open: not PROVEN at any width in the grid"
                + (f" (REFUTED at d = {', '.join(map(str, refuted))})" if refuted else "")
                + ("" if short is None else f"; at d = {last.d} the proof is {short:.2f} orders of magnitude short"))

    def to_json(self) -> dict:
        return {"claim": self.claim, "title": self.title, "family": self.family,
                "proven_from_d": self.proven_from, "first_proven_d": self.first_proven,
                "threshold_d": self.threshold, "complete": self.complete, "changed_at_d": list(self.changed),
                "summary": self.summary, "rows": [r.to_json() for r in self.rows]}


def _deep_side(label, n0, depth, d, last_stride, exact_counter, seconds) -> Side:
    return side(label, deep_cnn(n0, depth, d, last_stride), exact_counter, seconds,
                formula_network=deep_cnn(n0, depth, d, last_stride, shared_last=False))


def _deep_vs_shallow_at(n0, depth: int, d: int, exact_counter=None, last_stride: int = 2,
                        seconds: float = STEP_SECONDS) -> Comparison:
    a = _deep_side("deep CNN", n0, depth, d, last_stride, exact_counter, seconds)
    b = side("shallow CNN", shallow_cnn(n0, a.params), exact_counter, seconds)
    return _compare(d, a, b)


def _cnn_vs_fc_at(n0, depth: int, d: int, exact_counter=None, last_stride: int = 2,
                  seconds: float = STEP_SECONDS) -> Comparison:
    a = _deep_side("CNN", n0, depth, d, last_stride, exact_counter, seconds)
    b = side("FC", fc_net(n0, depth, a.params), exact_counter, seconds)
    return _compare(d, a, b)


def _evaluate(at, claim, title, family, n0, depth, widths, exact_counter, progress,
              last_stride: int = 2, clock: "Clock | None" = None) -> ClaimResult:
    """The grid, then the scan below the first proven width; cut short (``complete=False``)
    when ``clock`` runs out: the rows and the threshold found so far are kept."""
    clock = clock or Clock(None)
    counter = exact_counter or memo_counter
    rows = []
    try:
        for d in widths:
            rows.append(at(n0, depth, d, counter, last_stride, clock.step()))
            if progress:
                progress()
    except TimeUp:
        return ClaimResult(claim, title, family, tuple(rows), None, complete=False)
    result = ClaimResult(claim, title, family, tuple(rows))
    start = result.proven_from
    if start is None:
        return result
    # Between grid points, scan every integer d below the first proven one.
    previous = max((r.d for r in rows if r.d < start), default=0)
    threshold = start
    try:
        for d in range(start - 1, previous, -1):
            if at(n0, depth, d, counter, last_stride, clock.step()).verdict != PROVEN:
                break
            threshold = d
    except TimeUp:
        return ClaimResult(claim, title, family, tuple(rows), threshold, complete=False)
    return ClaimResult(claim, title, family, tuple(rows), threshold)


def deep_vs_shallow(n0, depth: int, widths: Sequence[int] = DEFAULT_WIDTHS,
                    exact_counter=None, progress: Callable[[], None] | None = None,
                    last_stride: int = 2, time_limit: float | None = None,
                    clock: "Clock | None" = None) -> ClaimResult:
    """Deep CNN (lower bound) vs a one-layer CNN with ≤ the same parameters (upper bound).

    Parameters
    ----------
    n0 : int or tuple of int
        The input grid (an int: a 1-D signal), one channel.
    depth : int
        Conv layers of the deep side.
    widths : sequence of int
        The filters d per layer to evaluate (checked by :func:`check_widths`).
    exact_counter : callable, optional
        ``(instance, time_limit) -> CountResult``; default a memoised exact
        counter.
    progress : callable, optional
        Called once per width evaluated.
    last_stride : int
        Stride of the deep side's last layer (2: disjoint fields; 1:
        overlapping).
    time_limit : float, optional
        Seconds for the whole claim: the result then may have
        ``complete=False``.
    clock : Clock, optional
        A shared deadline (used by :func:`run_claims`; overrides
        ``time_limit``).

    Returns
    -------
    ClaimResult
        One comparison per width, and the smallest width from which the
        claim is PROVEN (every integer below the first proven grid point
        scanned).

    Raises
    ------
    ParameterError
        For parameter ``widths``: not positive integers, over ``MAX_WIDTH``,
        or too many evaluations.

    Examples
    --------
    >>> r = deep_vs_shallow(4, 2, widths=(1, 2))
    >>> [row.verdict for row in r.rows], r.summary
    (['OPEN', 'OPEN'], 'open: not PROVEN at any width in the grid; at d = 2 the proof is 1.01 orders of magnitude short')
    """
    per_filter = 3 ** len(spatial_sizes(n0)) + 1
    family = (f"input {family_label(n0)}; deep: {depth - 1}× conv(d, k3, pad1) + conv(d, k2, s{last_stride}); "
              f"shallow: conv(D, k3, pad1), D = ⌊params/{per_filter}⌋")
    return _evaluate(_deep_vs_shallow_at, "deep-vs-shallow",
                     "deep CNN > one-layer CNN per parameter (equal parameters)", family,
                     n0, depth, check_widths(widths), exact_counter, progress, last_stride,
                     clock or Clock(time_limit))


def cnn_vs_fc(n0, depth: int, widths: Sequence[int] = DEFAULT_WIDTHS,
              exact_counter=None, progress: Callable[[], None] | None = None,
              last_stride: int = 2, time_limit: float | None = None,
              clock: "Clock | None" = None) -> ClaimResult:
    """Deep CNN (lower bound) vs an FC net of the same depth and input, ≤ the same parameters (upper bound).

    Parameters
    ----------
    n0 : int or tuple of int
        The input grid (an int: a 1-D signal), one channel.
    depth : int
        Layers of both sides.
    widths : sequence of int
        The filters d per CNN layer to evaluate (checked by
        :func:`check_widths`).
    exact_counter : callable, optional
        ``(instance, time_limit) -> CountResult``; default a memoised exact
        counter.
    progress : callable, optional
        Called once per width evaluated.
    last_stride : int
        Stride of the CNN's last layer (2: disjoint fields; 1: overlapping).
    time_limit : float, optional
        Seconds for the whole claim: the result then may have
        ``complete=False``.
    clock : Clock, optional
        A shared deadline (used by :func:`run_claims`; overrides
        ``time_limit``).

    Returns
    -------
    ClaimResult
        One comparison per width, and the smallest width from which the
        claim is PROVEN.

    Raises
    ------
    ParameterError
        For parameter ``widths``: not positive integers, over ``MAX_WIDTH``,
        or too many evaluations.

    Examples
    --------
    >>> r = cnn_vs_fc(4, 2, widths=(1, 2))
    >>> [row.verdict for row in r.rows], r.threshold
    (['PROVEN', 'PROVEN'], 1)
    """
    family = (f"input {family_label(n0)}, depth {depth}; CNN: {depth - 1}× conv(d, k3, pad1) + conv(d, k2, "
              f"s{last_stride}); FC: {depth} dense layers of equal width w, the largest with params ≤ the CNN's")
    return _evaluate(_cnn_vs_fc_at, "cnn-vs-fc",
                     "CNN > fully-connected per parameter (equal parameters, input, depth)", family,
                     n0, depth, check_widths(widths), exact_counter, progress, last_stride,
                     clock or Clock(time_limit))


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
    (deep_vs_shallow, (4, 4), 2, 1),
    (deep_vs_shallow, (4, 4), 3, 1),
    (cnn_vs_fc, (4, 4), 2, 1),
    (cnn_vs_fc, (4, 4), 3, 1),
)


@dataclass(frozen=True)
class ClaimsRun:
    """:func:`run_claims`: the claims evaluated (the last one possibly cut short), and whether all were."""

    results: tuple[ClaimResult, ...]
    widths: tuple[int, ...]
    cases: int
    complete: bool
    seconds: float

    @property
    def status(self) -> str:
        return "complete" if self.complete else "time_limit"


def run_claims(cases=DEFAULT_CASES, widths: Sequence[int] = DEFAULT_WIDTHS, exact_counter=None,
               progress: Callable[[], None] | None = None, time_limit: float | None = None) -> ClaimsRun:
    """Every (claim, family) of ``cases`` over ``widths`` within ``time_limit`` seconds overall.

    The widths are checked by arithmetic first (:func:`check_widths`). When the
    time runs out, the claims not started are left out and the one running is
    kept with the rows it finished (``complete=False`` on it and on the run).

    Parameters
    ----------
    cases : sequence of tuple
        ``(function, n0, depth[, last stride])`` with function
        :func:`deep_vs_shallow` or :func:`cnn_vs_fc`; default ``DEFAULT_CASES``.
    widths : sequence of int
        The widths d to evaluate.
    exact_counter : callable, optional
        ``(instance, time_limit) -> CountResult``; default a memoised exact
        counter.
    progress : callable, optional
        Called once per width evaluated.
    time_limit : float, optional
        Seconds for the whole run.

    Returns
    -------
    ClaimsRun
        The results, the checked widths, the number of cases asked for,
        ``complete`` and the seconds taken.

    Raises
    ------
    ParameterError
        For parameter ``widths`` (see :func:`check_widths`).

    Examples
    --------
    >>> run = run_claims(cases=((deep_vs_shallow, 4, 2),), widths=(1, 2))
    >>> run.status, [r.d for r in run.results[0].rows]
    ('complete', [1, 2])
    """
    start = time.perf_counter()
    grid = check_widths(widths)
    clock = Clock(time_limit)
    if time_limit is not None:
        warm_engines()   # their first import (about a second) is charged before any step, not inside one
    results = []
    for case in cases:
        result = case[0](case[1], case[2], grid, exact_counter=exact_counter, progress=progress,
                         last_stride=case[3] if len(case) > 3 else 2, clock=clock)
        results.append(result)
        if not result.complete:
            break
    complete = len(results) == len(cases) and all(r.complete for r in results)
    return ClaimsRun(tuple(results), grid, len(cases), complete, time.perf_counter() - start)


def evaluate_claims(cases=DEFAULT_CASES, widths: Sequence[int] = DEFAULT_WIDTHS,
                    exact_counter=None, progress: Callable[[], None] | None = None,
                    time_limit: float | None = None) -> list[ClaimResult]:
    """Every (claim, family) of ``cases`` over ``widths``; a case is (function, n0, depth[, last stride]).

    Parameters
    ----------
    cases : sequence of tuple
        ``(function, n0, depth[, last stride])``; default ``DEFAULT_CASES``.
    widths : sequence of int
        The widths d to evaluate.
    exact_counter : callable, optional
        ``(instance, time_limit) -> CountResult``; default a memoised exact
        counter.
    progress : callable, optional
        Called once per width evaluated.
    time_limit : float, optional
        Seconds for the whole run.

    Returns
    -------
    list of ClaimResult
        The results of :func:`run_claims` (fewer, the last one partial, when
        ``time_limit`` passes).

    Raises
    ------
    ParameterError
        For parameter ``widths`` (see :func:`check_widths`).

    Examples
    --------
    >>> [r.claim for r in evaluate_claims(cases=((cnn_vs_fc, 4, 2),), widths=(1, 2))]
    ['cnn-vs-fc']
    """
    return list(run_claims(cases, widths, exact_counter, progress, time_limit).results)


__all__ = ["deep_cnn", "shallow_cnn", "fc_net", "fc_width", "Side", "Comparison", "ClaimResult", "verdict",
           "deep_vs_shallow", "cnn_vs_fc", "evaluate_claims", "run_claims", "ClaimsRun", "check_widths",
           "evaluations_bound", "memo_counter", "MAX_WIDTH", "MAX_EVALUATIONS", "DEFAULT_CASES", "DEFAULT_WIDTHS",
           "PROVEN", "REFUTED", "OPEN"]

"""Verdicts of ``claims``: one side's bounds, the exact per-parameter comparison, and the gap of an open one.

A claim says that side A has more regions per parameter than side B. With
proven bounds lo_X ≤ R_X ≤ up_X and parameter counts p_X (exact integers):

``PROVEN``
    lo_A / p_A > up_B / p_B;
``REFUTED``
    up_A / p_A ≤ lo_B / p_B (then R_A / p_A ≤ R_B / p_B: A is not larger);
``OPEN``
    neither; :func:`gap` says how far each direction is from deciding it.

>>> from ilpregions.core.spec import DenseLayer, Network
>>> net = Network((2, 1), (DenseLayer(2),))
>>> a, b = Side("A", net, 10, 100, 10 ** 6, "a.low", "a.up"), Side("B", net, 10, 5, 1000, "b.low", "b.up")
>>> verdict(a, b)
('OPEN', -1.0)
>>> g = gap(a, b)
>>> g.prove.log10_shortfall, g.prove.limited_by, g.refute.log10_shortfall, g.refute.limited_by
(1.0, ('a.low', 'b.up'), 5.30103, ('b.low', 'a.up'))
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ilpregions.core.bigint import big_int_repr
from ilpregions.core.combinatorics import decimal_string, log10_int
from ilpregions.core.spec import Network

PROVEN, REFUTED, OPEN = "PROVEN", "REFUTED", "OPEN"
VERDICTS = (PROVEN, REFUTED, OPEN)


@big_int_repr  # repr at any size (docs/safety.md)
@dataclass(frozen=True)
class Side:
    """One network's size and its best bounds proven for it as specified (exact integers)."""

    label: str
    network: Network
    params: int
    lower: int | None
    upper: int | None
    lower_name: str | None
    upper_name: str | None
    #: The lower bound with Theorem 1's count plugged in for N' (not proven with shared filters).
    formula_lower: int | None = None
    #: False when the time limit stopped one of this side's bounds (more time may tighten them).
    complete: bool = True

    def to_json(self) -> dict:
        return {"label": self.label, "params": self.params,
                "formula_lower": None if self.formula_lower is None else decimal_string(self.formula_lower),
                "lower": None if self.lower is None else decimal_string(self.lower),
                "upper": None if self.upper is None else decimal_string(self.upper),
                "lower_log10": log10_or_none(self.lower), "upper_log10": log10_or_none(self.upper),
                "lower_name": self.lower_name, "upper_name": self.upper_name, "complete": self.complete,
                "layers": [layer.type for layer in self.network.layers]}


def log10_or_none(value: int | None) -> float | None:
    """log10 of a positive integer at any size, rounded to 6 decimals (None for None or 0).

    Parameters
    ----------
    value : int or None
        An exact count or bound.

    Returns
    -------
    float or None

    Examples
    --------
    >>> log10_or_none(10 ** 5000), log10_or_none(None)
    (5000.0, None)
    """
    return None if not value else round(log10_int(value), 6)


def per_param(value: int | None, params: int) -> float | None:
    """log10(value / params), or None without a value: regions per parameter on a log scale.

    Parameters
    ----------
    value : int or None
        A bound on the regions.
    params : int
        The network's parameters (weights + biases).

    Returns
    -------
    float or None
        Rounded to 6 decimals.

    Examples
    --------
    >>> per_param(1000, 10)
    2.0
    """
    return None if not value else round(log10_int(value) - math.log10(params), 6)


def per_param_greater(a: int, pa: int, b: int, pb: int) -> bool:
    """a/pa > b/pb, exactly (cross-multiplied integers)."""
    return a * pb > b * pa


def verdict(a: Side, b: Side) -> tuple[str, float | None]:
    """Grade "A has more regions per parameter than B" from the two sides' proven bounds.

    Returns the verdict and the margin log10[(A.lower/p_A) / (B.upper/p_B)]
    (> 0 exactly when PROVEN; None without both bounds).

    Parameters
    ----------
    a, b : Side
        The claimed-larger side and the other one.

    Returns
    -------
    verdict : str
        ``PROVEN``, ``REFUTED`` or ``OPEN``.
    margin : float or None
        log10[(A.lower/A.params) / (B.upper/B.params)].

    Examples
    --------
    >>> from ilpregions.core.spec import Network, DenseLayer
    >>> net = Network((2, 1), (DenseLayer(2),))
    >>> verdict(Side("A", net, 10, 100, 200, "", ""), Side("B", net, 10, 5, 50, "", ""))
    ('PROVEN', 0.30103)
    >>> verdict(Side("A", net, 10, 1, 50, "", ""), Side("B", net, 10, 50, 60, "", ""))[0]
    'REFUTED'
    """
    margin = None
    if a.lower and b.upper:
        margin = round(log10_int(a.lower) - math.log10(a.params) - log10_int(b.upper) + math.log10(b.params), 6)
        if per_param_greater(a.lower, a.params, b.upper, b.params):
            return PROVEN, margin
    if a.upper is not None and b.lower is not None and not per_param_greater(a.upper, a.params, b.lower, b.params):
        return REFUTED, margin
    return OPEN, margin


@dataclass(frozen=True)
class Direction:
    """One way an open verdict could be decided: ``lower`` (per parameter) must pass ``upper``.

    ``log10_shortfall`` is log10(upper/p) − log10(lower/p), the orders of
    magnitude missing (None when a bound is missing). A bound *may close the gap
    alone* unless the other side's own bounds exclude it: the lower bound of X
    cannot rise above X's upper bound, the upper bound of Y cannot fall below
    Y's lower bound. ``limited_by`` names the bounds that may close it alone,
    or both when neither may (then both must move).
    """

    goal: str
    lower_side: str
    lower_name: str | None
    lower_per_param: float | None
    upper_side: str
    upper_name: str | None
    upper_per_param: float | None
    log10_shortfall: float | None
    lower_may_close: bool
    upper_may_close: bool

    @property
    def limited_by(self) -> tuple[str | None, ...]:
        names = tuple(n for n, ok in ((self.lower_name, self.lower_may_close),
                                      (self.upper_name, self.upper_may_close)) if ok)
        return names or (self.lower_name, self.upper_name)

    @property
    def both_must_move(self) -> bool:
        return not (self.lower_may_close or self.upper_may_close)

    def to_json(self) -> dict:
        return {"goal": self.goal, "log10_shortfall": self.log10_shortfall,
                "lower": {"side": self.lower_side, "bound": self.lower_name, "log10_per_param": self.lower_per_param,
                          "may_close_alone": self.lower_may_close},
                "upper": {"side": self.upper_side, "bound": self.upper_name, "log10_per_param": self.upper_per_param,
                          "may_close_alone": self.upper_may_close},
                "limited_by": list(self.limited_by), "both_must_move": self.both_must_move}


@dataclass(frozen=True)
class Gap:
    """What keeps a verdict open: ``prove`` (A's lower must pass B's upper), ``refute`` (B's lower must
    reach A's upper), both per parameter."""

    prove: Direction
    refute: Direction

    def to_json(self) -> dict:
        return {"prove": self.prove.to_json(), "refute": self.refute.to_json()}


def _direction(goal: str, low: Side, up: Side, low_label: str, up_label: str, strict: bool) -> Direction:
    """``low.lower`` per parameter must pass (``strict``) or reach ``up.upper`` per parameter."""
    lo_pp, up_pp = per_param(low.lower, low.params), per_param(up.upper, up.params)
    short = None if lo_pp is None or up_pp is None else round(up_pp - lo_pp, 6)

    def beats(x: Side, x_value, y: Side, y_value) -> bool:   # x_value/p_x passes (or reaches) y_value/p_y
        if x_value is None or y_value is None:
            return True   # a missing bound excludes nothing
        if strict:
            return per_param_greater(x_value, x.params, y_value, y.params)
        return not per_param_greater(y_value, y.params, x_value, x.params)

    # low.lower may rise up to low.upper; up.upper may fall down to up.lower (exact comparisons)
    lower_may = beats(low, low.upper, up, up.upper)
    upper_may = beats(low, low.lower, up, up.lower)
    return Direction(goal, low_label, low.lower_name, lo_pp, up_label, up.upper_name, up_pp, short,
                     lower_may, upper_may)


def gap(a: Side, b: Side) -> Gap:
    """The two directions that could decide "A > B per parameter", with the bounds that limit each.

    Parameters
    ----------
    a, b : Side
        The claimed-larger side and the other one (an open verdict).

    Returns
    -------
    Gap
        ``prove`` and ``refute``, each with its bounds, shortfall and limiting bounds.

    Examples
    --------
    >>> from ilpregions.core.spec import DenseLayer, Network
    >>> net = Network((2, 1), (DenseLayer(2),))
    >>> g = gap(Side("A", net, 1, 10, 10 ** 4, "lo", "up"), Side("B", net, 1, 10 ** 3, 10 ** 3, "x", "x"))
    >>> g.prove.log10_shortfall, g.prove.limited_by, g.refute.log10_shortfall, g.refute.limited_by
    (2.0, ('lo',), 1.0, ('up',))
    """
    return Gap(_direction(PROVEN, a, b, "A", "B", True), _direction(REFUTED, b, a, "B", "A", False))


__all__ = ["Side", "Direction", "Gap", "verdict", "gap", "per_param", "per_param_greater", "log10_or_none",
           "PROVEN", "REFUTED", "OPEN", "VERDICTS"]

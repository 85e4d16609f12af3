"""Names, the bound record with ``proven_for``, and shared helpers of the bounds package.

Every bound counts **activation regions**: the non-empty open sets of inputs
on which every ReLU's sign (and every max-pooling argmax) is constant -- what
``ilpregions regions`` counts. For one layer these are exactly the linear
pieces of the function; in deeper networks a linear piece is a union of
activation regions, so every *upper* bound here also bounds the linear
pieces, while the lower bounds are stated for activation regions
(docs/bounds.md, "What is counted").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ilpregions.core.bigint import JSON_MAX_DIGITS, decimal_text, digits, short_text, value_json  # noqa: F401
from ilpregions.core.results import Bound

THEOREM1 = "xiong2020.theorem1"
THEOREM2_LOWER = "xiong2020.theorem2.lower"
THEOREM2_UPPER = "xiong2020.theorem2.upper"
CNN_UPPER = "ilpregions.cnn.upper"
STACK_UPPER = "ilpregions.stack.upper"
PREFIX_LOWER = "ilpregions.prefix.lower"
PASCANU = "pascanu2013.exact"
MONTUFAR2014 = "montufar2014.lower"
MONTUFAR2017 = "montufar2017.upper"
SERRA2018 = "serra2018.upper"
SERRA2018_LOWER = "serra2018.lower"
FOLDING_LOWER = "ilpregions.folding.lower"
TIED_MAX = "ilpregions.tied.max"
FRESH_BOX = "ilpregions.tied.fresh_box"
SUBLATTICE = "ilpregions.tied.sublattice"
STRIPS = "ilpregions.tied.strips"
BLOCKS = "ilpregions.tied.blocks"
STRIP_PARTITION = "ilpregions.strip_partition.upper"
SHRUNK_STRIPS = "ilpregions.local.strips"
STRIP_CAP = "ilpregions.strip_cap.upper"

NETWORK = "network"
LOCAL = "locally-connected"

#: Region definitions named in the JSON (docs/bounds.md, "What is counted").
ACTIVATION = "activation regions"
BOTH = "activation regions and linear pieces"


@dataclass(frozen=True)
class NamedBound(Bound):
    """A :class:`~ilpregions.core.results.Bound` that says what it is proven for.

    ``proven_for`` is ``"network"`` (the network exactly as specified, shared
    filters included) or ``"locally-connected"`` (the same layers with untied
    weights; such a value never becomes the headline). ``regions`` names the
    region definition under which the bound is proven.
    """

    proven_for: str = NETWORK
    regions: str = ACTIVATION

    def to_json(self) -> dict[str, Any]:
        return bound_json(self)


def named(name: str, kind: str, value: int | None, reason: str | None = None,
          proven_for: str = NETWORK, regions: str | None = None) -> NamedBound:
    """An applicable bound; upper bounds hold for linear pieces too (pieces ≤ activation regions).

    Parameters
    ----------
    name : str
        The bound's name (a constant of this package, e.g. ``THEOREM1``).
    kind : {"lower", "upper", "exact"}
        Which side it bounds.
    value : int or None
        The exact value.
    reason : str, optional
        A note shown beside the value (what it assumes, where it comes from).
    proven_for : {"network", "locally-connected"}
        What the value is proven for (``NETWORK`` or ``LOCAL``).
    regions : str, optional
        The region definition it is proven under; default ``BOTH`` for an
        upper bound and ``ACTIVATION`` otherwise.

    Returns
    -------
    NamedBound
        The record, with ``applicable=True``.

    Examples
    --------
    >>> b = named(PASCANU, "upper", 8)
    >>> b.applicable, b.value, b.regions
    (True, 8, 'activation regions and linear pieces')
    """
    if regions is None:
        regions = BOTH if kind == "upper" else ACTIVATION
    return NamedBound(name, kind, value, True, reason, proven_for, regions)


def na(name: str, kind: str, reason: str, proven_for: str = NETWORK) -> NamedBound:
    """An inapplicable bound with the reason (never computed).

    Parameters
    ----------
    name : str
        The bound's name.
    kind : {"lower", "upper", "exact"}
        Which side it would bound.
    reason : str
        Why it does not apply (an assumption that fails, a time limit).
    proven_for : {"network", "locally-connected"}
        What it would be proven for.

    Returns
    -------
    NamedBound
        The record, with ``applicable=False`` and no value.

    Examples
    --------
    >>> b = na(SERRA2018, "upper", "needs a dense network")
    >>> b.applicable, b.value, b.reason
    (False, None, 'needs a dense network')
    """
    return NamedBound(name, kind, None, False, reason, proven_for, BOTH if kind == "upper" else ACTIVATION)


def as_named(b: Bound, proven_for: str, reason: str | None = None, kind: str | None = None) -> NamedBound:
    """Re-label a plain :class:`~ilpregions.core.results.Bound` (e.g. from the LP module) with what it is proven for.

    Parameters
    ----------
    b : Bound
        The bound.
    proven_for : {"network", "locally-connected"}
        What its value is proven for.
    reason : str, optional
        A new reason; default the bound's own.
    kind : str, optional
        A new kind; default the bound's own.

    Returns
    -------
    NamedBound
        The same name and value with ``proven_for`` and ``regions`` set.

    Examples
    --------
    >>> from ilpregions.core.results import Bound
    >>> as_named(Bound("lp.upper", "upper", 10, True, None), LOCAL).proven_for
    'locally-connected'
    """
    return NamedBound(b.name, kind or b.kind, b.value, b.applicable, reason if reason is not None else b.reason,
                      proven_for, BOTH if (kind or b.kind) == "upper" else ACTIVATION)


def bound_json(b: Bound) -> dict[str, Any]:
    """A bound as JSON: its value as exact decimal text (up to ``JSON_MAX_DIGITS`` digits), its size.

    Parameters
    ----------
    b : Bound
        A bound (a :class:`NamedBound` or a plain one, then proven for the
        network).

    Returns
    -------
    dict
        ``name``, ``kind``, ``value`` (decimal text, or None beyond
        ``JSON_MAX_DIGITS`` digits), ``applicable``, ``reason``,
        ``proven_for``, ``regions``, ``digits`` and ``log10``.

    Examples
    --------
    >>> record = bound_json(named(THEOREM1, "exact", 256))
    >>> record["value"], record["digits"], record["proven_for"]
    ('256', 3, 'network')
    """
    size = value_json(b.value)
    return {"name": b.name, "kind": b.kind, "value": size["value"],
            "applicable": b.applicable, "reason": b.reason,
            "proven_for": getattr(b, "proven_for", NETWORK),
            "regions": getattr(b, "regions", BOTH if b.kind == "upper" else ACTIVATION),
            "digits": size["digits"], "log10": size["log10"]}


__all__ = ["NamedBound", "named", "na", "as_named", "bound_json", "NETWORK", "LOCAL",
           "ACTIVATION", "BOTH", "THEOREM1", "THEOREM2_LOWER", "THEOREM2_UPPER", "CNN_UPPER", "STACK_UPPER",
           "PREFIX_LOWER", "PASCANU", "MONTUFAR2014", "MONTUFAR2017", "SERRA2018", "TIED_MAX", "FRESH_BOX",
           "SUBLATTICE", "STRIPS", "BLOCKS", "STRIP_PARTITION", "SHRUNK_STRIPS", "STRIP_CAP", "SERRA2018_LOWER", "FOLDING_LOWER"]

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

from ilpregions.core.combinatorics import decimal_string, log10_int, short_int
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
TIED_MAX = "ilpregions.tied.max"
FRESH_BOX = "ilpregions.tied.fresh_box"
SUBLATTICE = "ilpregions.tied.sublattice"
STRIPS = "ilpregions.tied.strips"
BLOCKS = "ilpregions.tied.blocks"
STRIP_PARTITION = "ilpregions.strip_partition.upper"

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
    """An applicable bound; upper bounds hold for linear pieces too (pieces ≤ activation regions)."""
    if regions is None:
        regions = BOTH if kind == "upper" else ACTIVATION
    return NamedBound(name, kind, value, True, reason, proven_for, regions)


def na(name: str, kind: str, reason: str, proven_for: str = NETWORK) -> NamedBound:
    """An inapplicable bound with the reason (never computed)."""
    return NamedBound(name, kind, None, False, reason, proven_for, BOTH if kind == "upper" else ACTIVATION)


def as_named(b: Bound, proven_for: str, reason: str | None = None, kind: str | None = None) -> NamedBound:
    """Re-label a plain :class:`Bound` (e.g. from the LP module)."""
    return NamedBound(b.name, kind or b.kind, b.value, b.applicable, reason if reason is not None else b.reason,
                      proven_for, BOTH if (kind or b.kind) == "upper" else ACTIVATION)


#: ``--json`` gives a value's exact decimal text only up to this many digits (docs/bounds.md); a larger
#: value is ``null`` there, with its ``digits`` and ``log10`` (writing millions of digits takes seconds each).
JSON_MAX_DIGITS = 1_000_000
#: Above this many bits the table's ``1.23e4567`` comes from the leading digits alone (no full decimal text).
SHORT_EXACT_BITS = 20_000


def decimal_text(value: int) -> str:
    """Exact decimal text of any int: GMP's conversion (python-flint) when installed, else
    :func:`ilpregions.core.combinatorics.decimal_string`.

    >>> decimal_text(-2 ** 70) == str(-2 ** 70)
    True
    """
    if abs(value).bit_length() > SHORT_EXACT_BITS:
        try:
            import flint
            return str(flint.fmpz(value))
        except ImportError:
            pass
    return decimal_string(value)


#: log10_int is good to ~1e-9 for values of up to ~10^7 digits; leading digits or a digit count read
#: off it are exact unless they sit this close to a boundary (then an exact comparison decides).
_MARGIN = 1e-6


def digits(value: int) -> int:
    """Decimal digits of ``abs(value)`` (1 for 0), exactly, without its decimal text.

    >>> [digits(v) for v in (0, 9, 10, -999, 10 ** 5000, 10 ** 5000 - 1)]
    [1, 1, 2, 3, 5001, 5000]
    """
    value = abs(value)
    if value.bit_length() <= 4096:
        return len(str(value))
    log = log10_int(value)
    d = int(log)
    if _MARGIN < log - d < 1 - _MARGIN:
        return d + 1
    return d + 2 if value >= _pow10(d + 1) else (d + 1 if value >= _pow10(d) else d)


def _pow10(n: int) -> int:
    try:
        import flint
        return int(flint.fmpz(10) ** n)
    except ImportError:
        return 10 ** n


def short_text(value: int, places: int = 3) -> str:
    """An exact integer for a table: itself when short, else ``1.23e4567`` (leading digits, truncated).

    Huge values (over ``SHORT_EXACT_BITS``) never get their full decimal text:
    the leading digits are read off log10, which is exact away from a digit
    boundary; near one, an exact division by a power of ten decides.

    >>> short_text(123456), short_text(10 ** 5000 * 123), short_text(7 ** 300000)
    ('123456', '1.23e5002', '2.58e253529')
    """
    if abs(value).bit_length() <= SHORT_EXACT_BITS:
        return short_int(value, places)
    sign = "-" if value < 0 else ""
    value = abs(value)
    exponent = digits(value) - 1
    scaled = 10 ** (log10_int(value) - exponent + places - 1)     # in [10^(places-1), 10^places)
    lead = int(scaled)
    if not (_MARGIN * scaled < scaled - lead < 1 - _MARGIN * scaled):
        lead = _leading(value, exponent - places + 1)
    text = str(lead)
    return f"{sign}{text[0]}.{text[1:]}e{exponent}"


def _leading(value: int, shift: int) -> int:
    """value // 10^shift exactly (GMP when installed; CPython's division is quadratic)."""
    try:
        import flint
        return int(flint.fmpz(value) // flint.fmpz(10) ** shift)
    except ImportError:
        return value // 10 ** shift


def value_json(value: int | None) -> dict[str, Any]:
    """``value`` (exact decimal text up to ``JSON_MAX_DIGITS`` digits, else None), ``digits``, ``log10``."""
    if value is None:
        return {"value": None, "digits": None, "log10": None}
    size = digits(value)
    text = decimal_text(value) if size <= JSON_MAX_DIGITS else None
    log = log10_int(abs(value)) if value else None
    return {"value": text, "digits": size, "log10": None if log is None else round(log, 6)}


def bound_json(b: Bound) -> dict[str, Any]:
    """A bound as JSON: its value as exact decimal text (up to ``JSON_MAX_DIGITS`` digits), its size."""
    size = value_json(b.value)
    return {"name": b.name, "kind": b.kind, "value": size["value"],
            "applicable": b.applicable, "reason": b.reason,
            "proven_for": getattr(b, "proven_for", NETWORK),
            "regions": getattr(b, "regions", BOTH if b.kind == "upper" else ACTIVATION),
            "digits": size["digits"], "log10": size["log10"]}


__all__ = ["NamedBound", "named", "na", "as_named", "bound_json", "decimal_text", "short_text", "value_json",
           "digits", "JSON_MAX_DIGITS", "NETWORK", "LOCAL",
           "ACTIVATION", "BOTH", "THEOREM1", "THEOREM2_LOWER", "THEOREM2_UPPER", "CNN_UPPER", "STACK_UPPER",
           "PREFIX_LOWER", "PASCANU", "MONTUFAR2014", "MONTUFAR2017", "SERRA2018", "TIED_MAX", "FRESH_BOX",
           "SUBLATTICE", "STRIPS", "BLOCKS", "STRIP_PARTITION"]

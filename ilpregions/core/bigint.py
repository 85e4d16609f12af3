"""Text for integers of any size, without touching Python's global digit guard.

Python refuses ``str``/``repr`` of an int over 4300 digits unless the whole
process lifts ``sys.set_int_max_str_digits``; the library never does that
(it would weaken a guard the user's own code may rely on). Instead, exact
text comes from :func:`~ilpregions.core.combinatorics.decimal_string`, and
result classes decorated with :func:`big_int_repr` print at any size.

Examples
--------
>>> from dataclasses import dataclass
>>> @big_int_repr
... @dataclass(frozen=True)
... class R:
...     regions: int
...     parts: tuple = ()
>>> text = repr(R(10 ** 5000, (2 ** 20000, "x")))
>>> text[:12], len(text)
('R(regions=10', 11048)
"""

from __future__ import annotations

import dataclasses
from typing import Any

from ilpregions.core.combinatorics import decimal_string, log10_int, short_int


#: JSON output gives a value's exact decimal text only up to this many digits (docs/bounds.md); a larger
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



def big_repr(value: Any) -> str:
    """``repr(value)``, with every int inside (tuples, lists, dicts, dataclasses) in full."""
    if isinstance(value, bool) or value is None:
        return repr(value)
    if isinstance(value, int):
        return decimal_string(value)
    if isinstance(value, tuple):
        inner = ", ".join(big_repr(v) for v in value)
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    if isinstance(value, list):
        return "[" + ", ".join(big_repr(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{big_repr(k)}: {big_repr(v)}" for k, v in value.items()) + "}"
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _dataclass_repr(value)
    return repr(value)


def _dataclass_repr(obj) -> str:
    parts = [f"{f.name}={big_repr(getattr(obj, f.name))}" for f in dataclasses.fields(obj) if f.repr]
    return f"{type(obj).__qualname__}({', '.join(parts)})"


def big_int_repr(cls):
    """Class decorator (put it above ``@dataclass``): a ``__repr__`` that works at any size."""
    cls.__repr__ = _dataclass_repr
    return cls


__all__ = ["big_repr", "big_int_repr", "decimal_text", "digits", "short_text", "value_json", "JSON_MAX_DIGITS",
           "SHORT_EXACT_BITS"]

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

from ilpregions.core.combinatorics import decimal_string


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


__all__ = ["big_repr", "big_int_repr"]

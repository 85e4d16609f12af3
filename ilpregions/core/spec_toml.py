r"""The TOML format of architecture specs: reading (validated, errors naming the field) and writing.

A spec file looks like::

    name = "one conv layer on a 3x3 grey image"   # optional
    input = [3, 3, 1]          # spatial sizes..., then channels
    [[layers]]
    type = "conv"              # "conv" | "local" | "dense" | "maxpool" | "avgpool"
    filters = 3
    kernel = [2, 2]            # an int means every spatial axis
    stride = 1                 # int or list; also padding, dilation
    padding = 0

Examples
--------
>>> loads('input = [3, 3, 1]\n[[layers]]\ntype = "conv"\nfilters = 2\nkernel = 2\n').output_shapes()
((2, 2, 2),)
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, Mapping

from ilpregions.core.errors import SpecError, did_you_mean, reject_unknown_keys
from ilpregions.core.spec import (AvgPoolLayer, ConvLayer, DenseLayer, MaxPoolLayer, Network, check_positive_list,
                                  is_int)


_TOP_KEYS = {"name", "input", "layers"}
_LAYER_KEYS = {
    "conv": {"type", "filters", "kernel", "stride", "padding", "dilation"},
    "local": {"type", "filters", "kernel", "stride", "padding", "dilation"},
    "dense": {"type", "units"},
    "maxpool": {"type", "kernel", "stride", "padding"},
    "avgpool": {"type", "kernel", "stride", "padding"},
}
_REQUIRED = {"conv": ("filters", "kernel"), "local": ("filters", "kernel"),
             "dense": ("units",), "maxpool": ("kernel",), "avgpool": ("kernel",)}
LAYER_TYPES = tuple(_LAYER_KEYS)


def _scalar_or_list(where: str, key: str, value):
    if is_int(value):
        return value
    if isinstance(value, list):
        for i, v in enumerate(value):
            if not is_int(v):
                raise SpecError(f"{where}.{key}[{i}]", f"must be an integer, got {v!r}")
        return tuple(value)
    raise SpecError(f"{where}.{key}", f"must be an integer or a list of integers, got {value!r}")


def _int_field(where: str, key: str, value) -> int:
    if not is_int(value):
        raise SpecError(f"{where}.{key}", f"must be an integer, got {value!r}")
    return value


def network_from_dict(data: Mapping[str, Any]) -> Network:
    """Validate plain data (as read from TOML) into a :class:`Network`.

    Raises :class:`~ilpregions.core.errors.SpecError` naming the field at fault.

    >>> network_from_dict({"input": [4, 1], "layers": [{"type": "conv", "filters": 2, "kernel": 2}]})
    Network(input_shape=(4, 1), layers=(ConvLayer(filters=2, kernel=(2,), stride=(1,), padding=(0,), dilation=(1,), shared=True),), name=None)
    >>> network_from_dict({"input": [4, 1], "layers": [{"type": "conv", "filter": 2, "kernel": 2}]})
    Traceback (most recent call last):
    ...
    ilpregions.core.errors.SpecError: layers[0]: unknown key 'filter' (did you mean 'filters'?)
    """
    if not isinstance(data, Mapping):
        raise SpecError("", "the spec must be a table")
    reject_unknown_keys(data, sorted(_TOP_KEYS))
    if "input" not in data:
        raise SpecError("input", "is missing (spatial sizes then channels, e.g. input = [3, 3, 1])")
    name = data.get("name")
    if name is not None and not isinstance(name, str):
        raise SpecError("name", f"must be a string, got {name!r}")
    raw_input = data["input"]
    if not isinstance(raw_input, list):
        raise SpecError("input", f"must be a list of positive integers, got {raw_input!r}")
    check_positive_list("input", raw_input)
    raw_layers = data.get("layers")
    if raw_layers is None:
        raise SpecError("layers", "is missing (add at least one [[layers]] table)")
    if not isinstance(raw_layers, list) or not raw_layers:
        raise SpecError("layers", "must be a non-empty array of tables ([[layers]])")
    layers = []
    for index, raw in enumerate(raw_layers):
        where = f"layers[{index}]"
        if not isinstance(raw, Mapping):
            raise SpecError(where, "must be a table")
        if "type" not in raw:
            raise SpecError(f"{where}.type", f"is missing; one of {', '.join(LAYER_TYPES)}")
        kind = raw["type"]
        if kind not in _LAYER_KEYS:
            raise SpecError(f"{where}.type", f"unknown layer type {kind!r}{did_you_mean(str(kind), LAYER_TYPES)}; "
                                             f"one of {', '.join(LAYER_TYPES)}")
        allowed = _LAYER_KEYS[kind]
        reject_unknown_keys(raw, allowed, where, list_valid=False)
        for key in _REQUIRED[kind]:
            if key not in raw:
                raise SpecError(f"{where}.{key}", f"is missing (a {kind} layer needs {', '.join(_REQUIRED[kind])})")
        if kind in ("conv", "local"):
            options = {k: _scalar_or_list(where, k, raw[k]) for k in ("kernel", "stride", "padding", "dilation") if k in raw}
            layers.append(ConvLayer(filters=_int_field(where, "filters", raw["filters"]), shared=(kind == "conv"), **options))
        elif kind == "dense":
            layers.append(DenseLayer(units=_int_field(where, "units", raw["units"])))
        else:
            options = {k: _scalar_or_list(where, k, raw[k]) for k in ("kernel", "stride", "padding") if k in raw}
            layers.append((MaxPoolLayer if kind == "maxpool" else AvgPoolLayer)(**options))
    return Network(input_shape=tuple(raw_input), layers=tuple(layers), name=name)


def parse_toml(text: str, source: str | None = None) -> dict:
    """``tomllib.loads`` whose every failure is a one-line :class:`SpecError`.

    Deep nesting (``a = [[[[...]]]]``) makes tomllib recurse past Python's
    limit; that is bad input too, not a crash.

    >>> parse_toml("a = " + "[" * 5000 + "]" * 5000)
    Traceback (most recent call last):
    ...
    ilpregions.core.errors.SpecError: TOML nested too deeply to parse
    """
    if not isinstance(text, str):
        raise SpecError("", f"a TOML text must be a string, got {type(text).__name__}", source)
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SpecError("", f"TOML syntax error: {exc}", source) from None
    except RecursionError:
        raise SpecError("", "TOML nested too deeply to parse", source) from None


def loads(text: str, source: str | None = None) -> Network:
    r"""Parse and validate a TOML architecture spec from a string.

    Parameters
    ----------
    text : str
        The TOML text: ``input = [...]`` and one ``[[layers]]`` table per
        layer (docs/guide.md shows the format).
    source : str, optional
        Where the text came from (a file name), prefixed to error messages.

    Returns
    -------
    Network
        The validated architecture.

    Raises
    ------
    SpecError
        The text is not TOML, or a field is missing, unknown or invalid; the
        message names the field (and ``source``).

    Examples
    --------
    >>> net = loads('input = [4, 1]\n[[layers]]\ntype = "conv"\nfilters = 2\nkernel = 2\n')
    >>> net.layers[0].filters, net.output_shapes()
    (2, ((3, 2),))
    >>> loads('input = [4, 1]\n[[layers]]\ntype = "conv"\nkernel = 2\n', source="net.toml")
    Traceback (most recent call last):
    ...
    ilpregions.core.errors.SpecError: net.toml: layers[0].filters: is missing (a conv layer needs filters, kernel)
    """
    data = parse_toml(text, source)
    try:
        return network_from_dict(data)
    except SpecError as exc:
        raise exc.with_source(source) if source else exc from None


def load(path: str | Path) -> Network:
    r"""Read and validate a TOML architecture spec.

    Parameters
    ----------
    path : str or Path
        A regular file of at most a few MB, UTF-8 TOML (see :func:`loads`).

    Returns
    -------
    Network
        The validated architecture.

    Raises
    ------
    SpecError
        The file cannot be read, is not a regular file, is too large, is not
        UTF-8 or not a valid spec; the message names the file and the field.

    Examples
    --------
    >>> import tempfile, os
    >>> with tempfile.NamedTemporaryFile("w", suffix=".toml", delete=False) as fh:
    ...     _ = fh.write('input = [3, 3, 1]\n[[layers]]\ntype = "conv"\nfilters = 2\nkernel = 2\n')
    >>> load(fh.name).output_shapes()
    ((2, 2, 2),)
    >>> os.unlink(fh.name)
    """
    from ilpregions.core.safe_io import read_text_bounded

    # Bounded: only a regular file of at most a few MB is read (not /dev/zero).
    text = read_text_bounded(path, what="a spec file")
    return loads(text, source=str(path))


def dumps(network: Network) -> str:
    """Write a network in the TOML spec format (round-trips through :func:`loads`).

    tomli-w does the quoting and escaping, so any name round-trips.

    Parameters
    ----------
    network : Network
        The architecture to write.

    Returns
    -------
    str
        TOML text; every per-axis option is written as a list.

    Examples
    --------
    >>> from ilpregions.core.spec import DenseLayer, Network
    >>> text = dumps(Network((2,), (DenseLayer(3),)))
    >>> text.splitlines()[:3]
    ['input = [', '    2,', ']']
    >>> loads(text) == Network((2,), (DenseLayer(3),))
    True
    """
    import tomli_w

    return tomli_w.dumps(network.to_dict())

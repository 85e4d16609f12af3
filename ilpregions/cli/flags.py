"""Library parameters and the command-line flags that set them, in one place.

The library names parameters in its errors
(:class:`~ilpregions.core.errors.ParameterError`); the CLI shows its users the
flag they typed instead.

Examples
--------
>>> from ilpregions.core.errors import ParameterError
>>> error_message(ParameterError("t", "entry 2 is 'x', not a non-negative integer"))
"--t: entry 2 is 'x', not a non-negative integer"
>>> error_message(ValueError("plain message\\nsecond line"))
'plain message'
>>> cli_text("raise `memory_cap`, or use `bounds()` for this layer")
'raise --memory-cap, or use `ilpregions bounds` for this layer'
"""

from __future__ import annotations

import re

#: Python parameter name -> CLI flag.
FLAGS = {
    "t": "--t",
    "format": "--format",
    "memory_cap": "--memory-cap",
    "time_limit": "--time-limit",
    "resume": "--resume",
    "overwrite": "--overwrite",
    "output": "-o",
    "scheduler": "--scheduler",
    "workers": "--workers",
    "seed": "--seed",
    "samples": "--samples",
    "method": "--method",
    "backend": "--backend",
    "arch": "--arch",
    "drop_head": "--drop-head",
    "torch_module": "--torch-module", "torch_kwargs": "--torch-kwargs",
    "widths": "--widths",
    "count": "--lines", "data": "--data", "through": "--through", "directions": "--directions",
    "length": "--line-length",
    "models": "MODEL",
    "engine": "--engine",
    "dask_workers": "--workers",
    "overwrite=True": "--overwrite", "resume=True": "--resume",
}

#: Library function -> the command that runs it. The library names functions in its messages
#: (`bounds()`); the CLI's users read the command instead.
COMMANDS = {
    "bounds()": "ilpregions bounds",
    "count_regions()": "ilpregions count",
    "tied_max()": "ilpregions tied-max",
    "slice_network()": "ilpregions slice",
    "build_report()": "ilpregions report",
    "from_torch()": "ilpregions import-torch",
    "compare()": "ilpregions compare",
}

_NAMED = re.compile(r"`([a-z_]+(?:\(\)|=True)?)`")


def flag(parameter: str) -> str:
    """The flag for a parameter (the parameter itself when no flag sets it)."""
    return FLAGS.get(parameter, parameter)


def cli_text(text: str) -> str:
    """Library text for a CLI user: a back-quoted parameter (`` `memory_cap` ``,
    `` `resume=True` ``) becomes its flag, a back-quoted function
    (`` `bounds()` ``) the command that runs it; anything else is kept."""
    def replace(match):
        name = match.group(1)
        if name in COMMANDS:
            return f"`{COMMANDS[name]}`"
        return FLAGS.get(name, match.group(0))
    return _NAMED.sub(replace, text)


def error_message(exc: BaseException) -> str:
    """The one line the CLI prints for a library error: its first line, with a
    leading parameter name replaced by the flag, and named parameters and
    functions in it by flags and commands (:func:`cli_text`)."""
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    parameter = getattr(exc, "parameter", None)
    if parameter and text.startswith(f"{parameter}:"):
        text = flag(parameter) + text[len(parameter):]
    return cli_text(text)


def cli_json(value):
    """A JSON-able value with every string passed through :func:`cli_text`."""
    if isinstance(value, str):
        return cli_text(value)
    if isinstance(value, dict):
        return {key: cli_json(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [cli_json(item) for item in value]
    return value


__all__ = ["FLAGS", "COMMANDS", "flag", "cli_text", "cli_json", "error_message"]

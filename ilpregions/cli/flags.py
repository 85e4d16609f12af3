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
"""

from __future__ import annotations

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
}


def flag(parameter: str) -> str:
    """The flag for a parameter (the parameter itself when no flag sets it)."""
    return FLAGS.get(parameter, parameter)


def error_message(exc: BaseException) -> str:
    """The one line the CLI prints for a library error: its first line, with a
    leading parameter name replaced by the flag."""
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    parameter = getattr(exc, "parameter", None)
    if parameter and text.startswith(f"{parameter}:"):
        text = flag(parameter) + text[len(parameter):]
    return text


__all__ = ["FLAGS", "flag", "error_message"]

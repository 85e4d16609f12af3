"""Exceptions shared by the library and the CLI.

The CLI maps :class:`InputError` (and subclasses) to exit code 2 with one
line on stderr; everything here carries a message that names the offending
file or field, so no traceback is ever needed to find the mistake.
"""

from __future__ import annotations

import difflib

EXIT_OK = 0
EXIT_DISAGREE = 1
EXIT_BAD_INPUT = 2
EXIT_PARTIAL = 3


class ILPRegionsError(Exception):
    """Base class of every error raised on purpose by ilpregions."""


class InputError(ILPRegionsError, ValueError):
    """Bad user input: a spec, a t-vector, a backend name, an option."""


class ParameterError(InputError):
    """A bad value for one named parameter of a library function.

    ``parameter`` is the Python name (``"t"``, ``"memory_cap"``, ``"resume"``);
    the message starts with it. The CLI maps parameters to its flags in one
    place (``ilpregions.cli.flags``), so the library never names a flag.

    >>> str(ParameterError("memory_cap", "must be positive"))
    'memory_cap: must be positive'
    """

    def __init__(self, parameter: str, message: str):
        self.parameter = parameter
        self.message = message
        super().__init__(f"{parameter}: {message}")


class SolverError(InputError):
    """A solver failed on a model that should be solvable, even after retries.

    The input could not be handled: like every :class:`InputError` the CLI
    reports it on one line with exit code 2 (nothing was computed, no
    traceback); the message names the solver, its status and what was tried.
    """


class SpecError(InputError):
    """An architecture spec is malformed; ``field`` names where."""

    def __init__(self, field: str, message: str, source: str | None = None):
        self.field = field
        self.message = message
        self.source = source
        where = f"{source}: " if source else ""
        at = f"{field}: " if field else ""
        super().__init__(f"{where}{at}{message}")

    def with_source(self, source: str) -> "SpecError":
        return SpecError(self.field, self.message, source)


class UnknownBackendError(InputError):
    """A backend name is not one we know; the message lists the valid ones."""

    def __init__(self, name: str, valid: list[str], task: str = "count"):
        self.name = name
        self.valid = sorted(valid)
        super().__init__(
            f"unknown {task} backend {name!r}; valid backends: {', '.join(self.valid)}"
        )


class BackendUnavailableError(ILPRegionsError):
    """A known backend whose optional dependency is not installed."""


class TooLargeError(InputError):
    """The instance is beyond what the chosen method can handle."""


class InconsistencyError(ILPRegionsError):
    """Two independent computations of the same number disagree: a bug, never bad input.

    The CLI reports it as an internal error (exit code 70), asking for a report.
    """


def did_you_mean(word: str, choices) -> str:
    """Return ``" (did you mean 'x'?)"`` for a close match, else ``""``."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def reject_unknown_keys(table, allowed, field: str = "", list_valid: bool = True) -> None:
    """Raise :class:`SpecError` at ``field`` for the first key of ``table`` not in
    ``allowed``, with a "did you mean" hint and (optionally) the valid keys in
    the order given."""
    for key in table:
        if key not in allowed:
            tail = f"; valid keys: {', '.join(allowed)}" if list_valid else ""
            raise SpecError(field, f"unknown key {key!r}{did_you_mean(key, allowed)}{tail}")

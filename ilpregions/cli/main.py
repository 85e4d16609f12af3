"""The ``ilpregions`` command line: a thin layer over the library.

Each subcommand lives in ``ilpregions/cli/commands/<name>.py`` and exposes
``register(subparsers)``; the parser sets ``func(args) -> exit code``.

:func:`main` is the one boundary where exceptions become exit codes
(docs/safety.md); nothing else escapes it:

====  ==========================================================================
0     done
1     backends disagree (only that)
2     bad input or a refused size: one line on stderr, naming the file/field
3     partial answer (a time limit), labelled as such
70    internal error (a bug): one line on stderr, asking for a report
130   interrupted (Ctrl-C)
141   the reader of stdout went away (``| head``): stop quietly
====  ==========================================================================
"""

from __future__ import annotations

import argparse
import re
import importlib
import os
import sys

from ilpregions.cli.flags import error_message
from ilpregions.core.errors import EXIT_BAD_INPUT, ILPRegionsError, InconsistencyError

EXIT_INTERNAL = 70       # sysexits.h EX_SOFTWARE: never 1, which means "backends disagree"
EXIT_INTERRUPTED = 130   # 128 + SIGINT, as a shell reports Ctrl-C
EXIT_BROKEN_PIPE = 141   # 128 + SIGPIPE, as a shell reports `yes | head`
#: The codes a command itself may return.
COMMAND_CODES = (0, 1, 2, 3)

#: Subcommand modules, in the order ``--help`` lists them. A module that is
#: not present in this build is skipped.
COMMAND_MODULES = (
    "count", "geometry", "check", "bounds", "compare", "export",
    "claims", "report", "regions", "tied_max", "sweep", "import_torch", "slice",
)


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors and exit code 2."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # A value such as "-1,3,3" (--input, --t, --through) is a value to check, not an unknown
        # option: argparse only knows plain negative numbers ("-1") as values.
        self._negative_number_matcher = re.compile(r"^-\d[\d,.eE+-]*$")

    def error(self, message):  # noqa: D401 - argparse API
        sys.stderr.write(f"{self.prog}: error: {message}\n")
        sys.exit(EXIT_BAD_INPUT)


def build_parser() -> argparse.ArgumentParser:
    from ilpregions import __version__

    parser = _Parser(prog="ilpregions",
                     description="Exact counts and bounds for the linear regions of ReLU CNNs.")
    parser.add_argument("--version", action="version", version=f"ilpregions {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(f".commands.{name}", __package__)
        except ModuleNotFoundError as exc:
            if exc.name == f"{__package__}.commands.{name}":
                continue
            raise
        module.register(sub)
    return parser


def _first_line(exc: BaseException) -> str:
    return _first_line_of(str(exc)) or exc.__class__.__name__


def _first_line_of(text: str) -> str:
    text = text.strip()
    return text.splitlines()[0] if text else ""


def _say(command: str, message: str) -> None:
    sys.stderr.write(f"ilpregions {command}: {message}\n")


def _quiet_stdout() -> None:
    """After a broken pipe, point stdout at /dev/null so the exit flush cannot fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass  # stdout is not a real file (e.g. captured in tests)


def run_command(args) -> int:
    """Run a parsed command; every outcome becomes one of the documented exit codes."""
    command = getattr(args, "command", "?")
    try:
        code = args.func(args)
        code = 0 if code is None else code
        if code not in COMMAND_CODES:
            _say(command, f"internal error: the command returned exit code {code!r} (please report this)")
            return EXIT_INTERNAL
        return int(code)
    except InconsistencyError as exc:   # two methods disagree: a bug, not the user's input
        _say(command, f"internal error: {_first_line_of(str(exc))} (please report this)")
        return EXIT_INTERNAL
    except ILPRegionsError as exc:
        _say(command, f"error: {_first_line_of(error_message(exc))}")
        return EXIT_BAD_INPUT
    except BrokenPipeError:
        _quiet_stdout()
        return EXIT_BROKEN_PIPE
    except KeyboardInterrupt:
        _say(command, "interrupted")
        return EXIT_INTERRUPTED
    except MemoryError:
        _say(command, "error: out of memory; this input is too large for the machine (refused)")
        return EXIT_BAD_INPUT
    except RecursionError:
        _say(command, "error: input nested too deeply (refused)")
        return EXIT_BAD_INPUT
    except OSError as exc:  # a file the user named: unreadable, unwritable, disk full
        where = f"{exc.filename}: " if getattr(exc, "filename", None) else ""
        _say(command, f"error: {where}{exc.strerror or _first_line(exc)}")
        return EXIT_BAD_INPUT
    except Exception as exc:  # noqa: BLE001 - the one place nothing may escape
        _say(command, f"internal error: {exc.__class__.__name__}: {_first_line(exc)} (please report this)")
        return EXIT_INTERNAL


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    return run_command(args)


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())


if __name__ == "__main__":
    run()

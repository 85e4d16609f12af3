"""The ``ilpregions`` command line: a thin layer over the library.

Each subcommand lives in ``ilpregions/commands/<name>.py`` and exposes
``register(subparsers)``; the parser sets ``func(args) -> exit code``.
Input errors become one line on stderr and exit code 2, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from ilpregions.core.errors import EXIT_BAD_INPUT, BackendUnavailableError, InputError

#: Subcommand modules, in the order ``--help`` lists them. A module that is
#: not present in this build is skipped.
COMMAND_MODULES = (
    "count", "geometry", "check", "bounds", "compare", "export",
    "claims", "report", "regions", "tied_max", "sweep", "import_torch", "slice",
)


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors and exit code 2."""

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


def main(argv: list[str] | None = None) -> int:
    # Our counts can have hundreds of thousands of digits; lift Python's guard.
    sys.set_int_max_str_digits(0)
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (InputError, BackendUnavailableError) as exc:
        message = str(exc).splitlines()[0] if str(exc) else exc.__class__.__name__
        sys.stderr.write(f"ilpregions {args.command}: error: {message}\n")
        return EXIT_BAD_INPUT
    except BrokenPipeError:
        # The reader (e.g. `| head`) left: stop quietly, as the Python docs advise.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
    except KeyboardInterrupt:
        sys.stderr.write("ilpregions: interrupted\n")
        return 130


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())


if __name__ == "__main__":
    run()

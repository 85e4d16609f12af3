"""Helpers shared by the subcommands: options, loading, printing numbers."""

from __future__ import annotations

import argparse
import json
import math
import sys

from ilpregions.core.combinatorics import decimal_string, log10_int, short_int  # noqa: F401  (re-exported for commands)
from ilpregions.core.spec import Network
from ilpregions.core.spec_toml import load


#: Longest time limit accepted (about 116 days): larger values overflow timer calls and mean no limit.
MAX_SECONDS = 10_000_000


def positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--time-limit must be a number of seconds, got {text!r}")
    if not value > 0 or math.isinf(value):
        raise argparse.ArgumentTypeError(f"--time-limit must be a positive number of seconds, got {text!r}")
    if value > MAX_SECONDS:
        raise argparse.ArgumentTypeError(f"--time-limit must be at most {MAX_SECONDS} seconds, got {text!r}")
    return value


def nonnegative_int(text: str) -> int:
    """An argparse type: an integer >= 0 (e.g. a random seed)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer >= 0, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be an integer >= 0, got {text!r}")
    if value >= 2 ** 63:
        raise argparse.ArgumentTypeError(f"must be below 2**63, got {text!r}")
    return value


def add_model_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", metavar="MODEL", help="architecture spec (TOML), see models/")


def add_json_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print one JSON object on stdout")


def add_time_limit_argument(parser: argparse.ArgumentParser,
                            help: str = "stop after S seconds with an honest partial answer (exit code 3)") -> None:
    parser.add_argument("--time-limit", type=positive_seconds, metavar="S", default=None, help=help)


def load_model(path: str) -> Network:
    return load(path)


def print_json(obj) -> None:
    """Print a command's JSON; library text in it names flags and commands (cli/flags.py)."""
    from ilpregions.cli.flags import cli_json

    json.dump(cli_json(obj), sys.stdout, indent=2)
    sys.stdout.write("\n")


def json_record(model: str | None, status: str, seconds: float, **fields) -> dict:
    """The common shape of every command's ``--json`` object.

    ``model`` first (when the command has one), then ``status`` and
    ``seconds`` (always), then the command's own fields. Big integers are
    decimal strings: pass them through :func:`decimal_string` first.

    >>> list(json_record("m.toml", "complete", 0.51234567, rows=3))
    ['model', 'status', 'seconds', 'rows']
    """
    record: dict = {} if model is None else {"model": str(model)}
    record["status"] = status
    record["seconds"] = round(float(seconds), 6)
    record.update(fields)
    return record


def torch_input_shape(text: str) -> tuple[int, ...]:
    """argparse type of ``--input``: a torch input shape such as ``1,8,8``."""
    try:
        values = tuple(int(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"--input must be comma-separated integers (C,H,W), got {text!r}")
    if not values or any(v <= 0 for v in values):
        raise argparse.ArgumentTypeError(f"--input must be positive integers (C,H,W), got {text!r}")
    return values

"""Helpers shared by the tests: reference data, case networks and an in-process CLI."""

from __future__ import annotations

import json
from pathlib import Path

from ilpregions.core.spec import ConvLayer, Network

DATA = Path(__file__).parent / "data"
ROOT = Path(__file__).resolve().parents[1]
MODELS = ROOT / "models"


def _load(name: str) -> list[dict]:
    return json.loads((DATA / name).read_text())["cases"]


THEOREM1_CASES = _load("theorem1.json")
TIED_CASES = _load("tied.json")


def case_id(case: dict) -> str:
    extra = "".join(f"-{k[:3]}{case[k]}" for k in ("stride", "padding", "dilation") if k in case)
    return f"{'x'.join(map(str, case['input']))}-k{'x'.join(map(str, case['kernel']))}-d{case['filters']}{extra}"


def case_network(case: dict, shared: bool = False) -> Network:
    """A one-layer network for a reference case (local = untied by default)."""
    layer = ConvLayer(filters=case["filters"], kernel=tuple(case["kernel"]),
                      stride=case.get("stride", 1), padding=case.get("padding", 0),
                      dilation=case.get("dilation", 1), shared=shared)
    return Network(tuple(case["input"]), (layer,))


def run_cli(capsys, *args) -> tuple[int, str, str]:
    """Run ``ilpregions ARGS`` in this process: (exit code, stdout, stderr).

    In-process runs skip the solver import cost of a subprocess; keep
    subprocesses for tests of the process itself (import time, kill, resume).
    """
    from ilpregions.cli.main import main

    capsys.readouterr()
    try:
        code = main([str(a) for a in args])
    except SystemExit as exc:  # argparse errors exit directly
        code = exc.code if isinstance(exc.code, int) else 2
    out, err = capsys.readouterr()
    return code, out, err

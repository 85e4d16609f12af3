"""Every command's --json: ``model`` first (when it has one), then ``status`` and ``seconds`` (issue 13)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

MODEL = str(Path(__file__).resolve().parents[1] / "models" / "paper_3x3.toml")

COMMANDS = {
    "count": ["count", MODEL, "--quiet"],
    "geometry": ["geometry", MODEL],
    "check": ["check", MODEL, "--t", "2,2,2,2"],
    "compare": ["compare", MODEL, "--quiet", "--time-limit", "2"],
    "export": ["export", MODEL, "--format", "cp", "-o", "{tmp}/m.cp"],
}


@pytest.mark.parametrize("name", list(COMMANDS))
def test_json_puts_model_status_and_seconds_first(cli, tmp_path, name):
    args = [a.replace("{tmp}", str(tmp_path)) for a in COMMANDS[name]]
    code, out, err = cli(*args, "--json")
    assert code in (0, 3), err
    data = json.loads(out)
    assert list(data)[:3] == ["model", "status", "seconds"], list(data)[:5]
    assert data["model"] == MODEL and isinstance(data["seconds"], float)
    assert data["status"] in ("complete", "time_limit")


def test_claims_json_has_status_and_seconds_first(cli):
    code, out, err = cli("claims", "--widths", "1", "--json", "--quiet")
    assert code == 0, err
    assert list(json.loads(out))[:2] == ["status", "seconds"]

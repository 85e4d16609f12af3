"""Shared fixtures; the helpers themselves live in tests/helpers.py."""

from __future__ import annotations

import pytest

from helpers import THEOREM1_CASES, TIED_CASES, case_id, run_cli


@pytest.fixture
def fifo(tmp_path):
    """A FIFO made in tmp_path (refusals are never tested on a real /dev path)."""
    import os

    path = tmp_path / "fifo"
    os.mkfifo(path)
    return path


@pytest.fixture
def cli(capsys):
    """``cli("count", path, "--json") -> (code, out, err)``, in this process."""
    return lambda *args: run_cli(capsys, *args)


@pytest.fixture(params=THEOREM1_CASES, ids=case_id)
def theorem1_case(request) -> dict:
    return request.param


@pytest.fixture(params=TIED_CASES, ids=case_id)
def tied_case(request) -> dict:
    return request.param

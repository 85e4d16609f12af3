"""Compiled kernels need no writable cache (issue 21, item 2).

With a read-only install and ``HOME=/nonexistent`` numba finds no cache
locator and raised while *decorating*, so every command died at import, even
``--help``. Here the package is copied to a read-only folder and run by a
user who cannot write it: root runs the commands as ``nobody`` (keeping only
the right to read and search directories, so the interpreter under a private
home stays reachable); any other user runs them as itself.
"""

from __future__ import annotations

import os
import pwd
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import MODELS, ROOT


def _other_user():
    """(uid, gid) of an unprivileged user root can become, or None."""
    try:
        entry = pwd.getpwnam("nobody")
    except KeyError:
        return None
    return entry.pw_uid, entry.pw_gid


def _readonly_package(tmp_path: Path) -> Path:
    """A copy of the package (no caches) in a folder nobody may write."""
    top = tmp_path / "ro"
    shutil.copytree(ROOT / "ilpregions", top / "ilpregions",
                    ignore=shutil.ignore_patterns("__pycache__", "*.nbi", "*.nbc"))
    for folder, dirs, files in os.walk(top):
        for name in files:
            os.chmod(os.path.join(folder, name), 0o444)
        os.chmod(folder, 0o555)
    os.chmod(tmp_path, 0o755)
    return top


def _runner(tmp_path: Path):
    """A function running ``python -m ilpregions ARGS`` as a user who cannot write caches."""
    top = _readonly_package(tmp_path)
    env = {k: v for k, v in os.environ.items() if not k.startswith("NUMBA_")}
    env.update(HOME="/nonexistent", PYTHONPATH=str(top), PYTHONDONTWRITEBYTECODE="1")
    prefix: list[str] = []
    if os.geteuid() == 0:
        user = _other_user()
        setpriv = shutil.which("setpriv")
        if user is None or setpriv is None:
            pytest.skip("root without an unprivileged user (nobody) or setpriv to become it")
        prefix = [setpriv, f"--reuid={user[0]}", f"--regid={user[1]}", "--clear-groups",
                  "--inh-caps=+dac_read_search", "--ambient-caps=+dac_read_search"]

    def run(*args, extra_env=None):
        return subprocess.run(prefix + [sys.executable, "-m", "ilpregions", *map(str, args)],
                              capture_output=True, text=True, timeout=300, cwd="/",
                              env={**env, **(extra_env or {})})
    return run, top


def _model(tmp_path: Path, name: str) -> Path:
    target = tmp_path / name
    shutil.copy(MODELS / name, target)
    os.chmod(target, stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)
    return target


def test_commands_run_without_a_writable_cache(tmp_path):
    run, top = _runner(tmp_path)
    model = _model(tmp_path, "paper_3x3.toml")
    private = tmp_path / "tmp"
    private.mkdir(mode=0o777)
    os.chmod(private, 0o777)
    # The private temporary directory is used for the cache ...
    result = run("tied-max", model, extra_env={"TMPDIR": str(private)})
    assert result.returncode == 0, result.stderr[-2000:]
    assert "tied maximum (shared filters): 255" in result.stdout
    assert "Traceback" not in result.stderr
    assert any(p.name.startswith("ilpregions-numba-") for p in private.iterdir())
    # ... and when there is none, the kernels are compiled in memory.
    for args in (["--help"], ["count", "--help"], ["slice", "--help"], ["tied-max", model],
                 ["count", model, "--quiet"]):
        result = run(*args, extra_env={"TMPDIR": "/nonexistent"})
        assert result.returncode == 0, (args, result.stderr[-2000:])
        assert "Traceback" not in result.stderr and "no locator" not in result.stderr
    assert not any(p.name == "__pycache__" for p in top.rglob("*"))


@pytest.mark.slow
def test_every_command_help_and_the_slicer_without_a_writable_cache(tmp_path):
    run, _ = _runner(tmp_path)
    model = _model(tmp_path, "paper_3x3.toml")
    from ilpregions.cli.main import COMMAND_MODULES

    names = [m.rsplit(".", 1)[-1].replace("_", "-") for m in COMMAND_MODULES]
    for name in names:
        result = run(name, "--help", extra_env={"TMPDIR": "/nonexistent"})
        assert result.returncode == 0, (name, result.stderr[-2000:])
    import numpy as np

    data = tmp_path / "x.npy"
    np.save(data, np.random.default_rng(0).normal(size=(3, 9)))
    os.chmod(data, 0o444)
    result = run("slice", model, "--seed", "0", "--through", "0,1,2", "--data", data,
                 extra_env={"TMPDIR": "/nonexistent"})
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Traceback" not in result.stderr

"""benchmarks/_history.py: a baseline commit is checked out, run from its own tree, and removed.

The benchmarks themselves never run in the suite; this checks the tool they
share: the child imports ``ilpregions`` from the tree it was given (and
refuses to run otherwise), the result comes back as JSON, and the temporary
worktree is gone afterwards, also when the body raises.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import ROOT

pytestmark = pytest.mark.skipif(not (ROOT / ".git").exists(), reason="needs a git checkout (a worktree)")

SIDE = "def where(x):\n    import ilpregions\n    return {'file': ilpregions.__file__, 'x': x}\n"


def _history():
    spec = importlib.util.spec_from_file_location("bench_history", ROOT / "benchmarks" / "_history.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module   # dataclasses look their module up while the class is made
    spec.loader.exec_module(module)
    return module


def _worktrees() -> str:
    return subprocess.run(["git", "worktree", "list"], cwd=ROOT, capture_output=True, text=True, check=True).stdout


def test_a_revision_runs_from_its_own_tree_and_is_removed(tmp_path):
    history = _history()
    side = tmp_path / "side.py"
    side.write_text(SIDE, encoding="utf-8")
    with pytest.raises(RuntimeError, match="stop here"):
        with history.revision_tree("HEAD") as tree:
            path = tree.path
            assert (path / "ilpregions" / "__init__.py").is_file() and tree.label == tree.commit[:7]
            out = tree.run(f"{side}:where", {"x": 3})
            assert out["x"] == 3 and Path(out["file"]).resolve().is_relative_to(path.resolve()), out
            raise RuntimeError("stop here")
    assert not path.exists()
    assert str(path) not in _worktrees()


def test_a_child_that_imports_another_tree_is_refused(tmp_path):
    history = _history()
    side = tmp_path / "side.py"
    side.write_text(SIDE, encoding="utf-8")
    empty = tmp_path / "not-a-tree"
    empty.mkdir()
    out = history.Tree(empty, "unknown", "unknown", "").run(f"{side}:where", {"x": 1})
    # no ilpregions in that tree: either none is found, or another copy is, which the child refuses
    assert "error" in out and ("not from the tree" in out["error"] or "No module named" in out["error"]), out


def test_an_unknown_revision_is_one_line():
    with pytest.raises(SystemExit, match="not a commit of this repository"):
        with _history().revision_tree("no-such-revision-anywhere"):
            pass

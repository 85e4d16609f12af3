"""Every console and Python example in README.md and docs/*.md runs and shows its real output.

docs/guide.md has its own, richer runner (tests/test_docs.py); this one
covers the other pages with the same conventions (``$ command`` lines and
their output, ``...`` wildcards, ``[exit N]``, ``2>&1``; ``>>>`` doctests),
after masking what may differ between runs: timings (``0.246 s``,
``"seconds": 0.0037``) and temporary paths. Anything else that differs fails.

Plain ```python blocks without prompts are run and must not raise.

Blocks known to have drifted are listed in :data:`KNOWN_DRIFT` and marked
``xfail(strict=True)``: they are reported, and the test fails as soon as one
is fixed, so the list can only shrink.
"""

from __future__ import annotations

import doctest
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import ROOT, run_cli
from test_docs import Block, output_matches, parse_blocks, parse_session

PAGES = [ROOT / "README.md"] + sorted(p for p in (ROOT / "docs").glob("*.md") if p.name != "guide.md")

#: (page, first line of the block) -> what drifted (found by this test; the
#: pages belong to their authors, who fix them and then delete the entry).
KNOWN_DRIFT: dict[tuple[str, int], str] = {
}

# Blocks that take more than a few seconds carry ``<!-- slow -->`` above their fence in the
# page: they run with ``-m slow`` only.

_MASKS = [
    (re.compile(r"(?<![\w.])\d+(?:\.\d+)?(?:e-?\d+)? s\b"), "<T> s"),
    (re.compile(r'("seconds": )[-\d.e]+'), r"\1<T>"),
    (re.compile(r"\[\d+(?:\.\d+)? s\]"), "[<T> s]"),
    (re.compile(r"/tmp/[^\s'\"]+"), "<PATH>"),
]


def mask(text: str) -> str:
    """Mask timings and temporary paths.

    >>> mask('backend: flow, 0.246 s; "seconds": 0.003693, /tmp/x/y.csv')
    'backend: flow, <T> s; "seconds": <T>, <PATH>'
    """
    for pattern, replacement in _MASKS:
        text = pattern.sub(replacement, text)
    return text


def _is_session(block: Block) -> bool:
    lines = [l for l in block.text.splitlines() if l.strip()]
    return bool(lines) and lines[0].startswith("$ ilpregions") and block.language in ("", "console")


def _is_python(block: Block) -> bool:
    return block.language in ("python", "pycon")


def collect():
    cases = []
    for page in PAGES:
        for block in parse_blocks(page.read_text(encoding="utf-8")):
            if block.file is None and (_is_session(block) or _is_python(block)):
                cases.append((page, block))
    return cases


CASES = collect()


def _param(page: Path, block: Block):
    key = (page.name, block.line)
    marks = [pytest.mark.xfail(strict=True, reason=KNOWN_DRIFT[key])] if key in KNOWN_DRIFT else []
    if block.slow:
        marks.append(pytest.mark.slow)
    return pytest.param(page, block, id=f"{page.name}:{block.line}", marks=marks)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("docs")
    (path / "models").symlink_to(ROOT / "models")
    return path


def _run(command: str, workdir: Path, capsys) -> tuple[int, str]:
    """One ``$`` command: in this process when it is plain ``ilpregions ARGS [2>&1]``."""
    words = shlex.split(command)
    merge = words[-1:] == ["2>&1"]
    if merge:
        words = words[:-1]
    if words[0] == "ilpregions" and not any(w in ("|", ">", "<", "&&", ";") for w in words):
        old = os.getcwd()
        os.chdir(workdir)
        try:
            code, out, err = run_cli(capsys, *words[1:])
        finally:
            os.chdir(old)
        return code, out + (err if merge else "")
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    result = subprocess.run(command, shell=True, cwd=workdir, env=env, capture_output=True, text=True,
                            timeout=300)
    return result.returncode, result.stdout


def _run_python(page: Path, block: Block, workdir: Path) -> None:
    old = os.getcwd()
    os.chdir(workdir)
    try:
        if ">>>" in block.text:
            test = doctest.DocTestParser().get_doctest(block.text, {}, f"{page.name}:{block.line}",
                                                       str(page), block.line)
            runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
            report: list[str] = []
            runner.run(test, out=report.append)
            assert runner.failures == 0, "".join(report)
        else:
            exec(compile(block.text, f"{page.name}:{block.line}", "exec"), {})
    finally:
        os.chdir(old)


@pytest.mark.parametrize("page, block", [_param(p, b) for p, b in CASES])
def test_doc_example(page: Path, block: Block, workdir: Path, capsys):
    if _is_python(block):
        _run_python(page, block, workdir)
        return
    for command, expected, code in parse_session(block.text):
        got_code, out = _run(command, workdir, capsys)
        where = f"{page.name} line {block.line}: `{command}`"
        assert got_code == code, f"{where} exited {got_code}, expected {code}"
        shown = [mask(line) for line in expected]
        assert output_matches(shown, mask(out)), (
            f"{where}\n--- shown\n{chr(10).join(expected)}\n--- got\n{out}")


def test_examples_were_found():
    pages = {page.name for page, _ in CASES}
    assert {"README.md", "check.md", "bounds.md", "dp.md"} <= pages

"""Run every example in docs/guide.md and check the output shown there.

The guide's conventions (kept small on purpose):

* a ```console block holds ``$ command`` lines, each followed by its expected
  stdout; a line ``[exit N]`` at the end of the output expects exit code N
  (default 0). Append ``2>&1`` to a command to show its stderr too;
* a ```pycon block is a doctest (ELLIPSIS and NORMALIZE_WHITESPACE on);
* in expected output, ``...`` inside a line matches any text, and a line that
  is only ``...`` matches any number of lines (timings, volatile details);
* ``<!-- file: NAME -->`` on the line before a fenced block writes that block
  to NAME first, so later commands can use it, as a reader would save it;
* ``<!-- requires: MODULE -->`` before a block skips it when MODULE is absent.

All blocks run in order in one temporary directory that has ``models/``.
"""

from __future__ import annotations

import doctest
import importlib.util
import os
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
GUIDE = ROOT / "docs" / "guide.md"


@dataclass
class Block:
    language: str
    text: str
    line: int
    file: str | None = None
    requires: list[str] = field(default_factory=list)
    slow: bool = False          # marked ``<!-- slow -->``: run with ``-m slow`` only


def parse_blocks(markdown: str) -> list[Block]:
    blocks, lines, i = [], markdown.splitlines(), 0
    pending_file, pending_requires, pending_slow = None, [], False
    while i < len(lines):
        line = lines[i]
        if re.fullmatch(r"\s*<!--\s*slow\s*-->\s*", line):
            pending_slow = True
            i += 1
            continue
        comment = re.fullmatch(r"\s*<!--\s*(file|requires):\s*(\S+)\s*-->\s*", line)
        if comment:
            if comment.group(1) == "file":
                pending_file = comment.group(2)
            else:
                pending_requires.append(comment.group(2))
            i += 1
            continue
        fence = re.match(r"^(```+)\s*([\w-]*)", line)
        if fence:
            start, body = i + 1, []
            i += 1
            while i < len(lines) and not lines[i].startswith(fence.group(1)):
                body.append(lines[i])
                i += 1
            blocks.append(Block(fence.group(2), "\n".join(body) + "\n", start, pending_file, pending_requires,
                                pending_slow))
            pending_file, pending_requires, pending_slow = None, [], False
        elif line.strip():
            pending_file, pending_requires, pending_slow = None, [], False
        i += 1
    return blocks


def parse_session(text: str) -> list[tuple[str, list[str], int]]:
    """``$ cmd`` lines with their expected output lines and exit code."""
    items: list[tuple[str, list[str], int]] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        if not lines[i].startswith("$ "):
            raise ValueError(f"expected a '$ command' line, got {lines[i]!r}")
        command = lines[i][2:]
        while command.endswith("\\"):
            i += 1
            command = command[:-1] + "\n" + lines[i]
        i += 1
        expected = []
        while i < len(lines) and not lines[i].startswith("$ "):
            expected.append(lines[i])
            i += 1
        while expected and not expected[-1].strip():
            expected.pop()
        code = 0
        if expected and re.fullmatch(r"\[exit \d+\]", expected[-1].strip()):
            code = int(expected.pop().strip()[6:-1])
        items.append((command, expected, code))
    return items


def output_matches(expected: list[str], actual: str) -> bool:
    """Compare with ``...`` wildcards (within a line, or a whole line for any lines).

    >>> output_matches(["a ... c", "...", "z"], "a b c\\nx\\ny\\nz\\n")
    True
    >>> output_matches(["a"], "a\\nb\\n")
    False
    """
    pattern = ""
    for line in expected:
        if line.strip() == "...":
            pattern += r"(?:[^\n]*\n)*?"
        else:
            pattern += re.escape(line.rstrip()).replace(r"\.\.\.", r"[^\n]*?") + r"[ \t]*\n"
    text = "\n".join(l.rstrip() for l in actual.rstrip("\n").splitlines()) + "\n" if actual.strip() else ""
    return re.fullmatch(pattern, text) is not None


BLOCKS = parse_blocks(GUIDE.read_text(encoding="utf-8")) if GUIDE.exists() else []
RUNNABLE = [b for b in BLOCKS if b.language in ("console", "pycon") and b.file is None]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("guide")
    (path / "models").symlink_to(ROOT / "models")
    for block in BLOCKS:
        if block.file:
            (path / block.file).parent.mkdir(parents=True, exist_ok=True)
            (path / block.file).write_text(block.text, encoding="utf-8")
    return path


def test_the_guide_has_the_three_journeys():
    text = GUIDE.read_text(encoding="utf-8")
    for title in ("How many regions can my layer have?", "Is this t-vector feasible, and why not?",
                  "Which backend should I use?"):
        assert title in text
    assert len(RUNNABLE) >= 6


@pytest.mark.parametrize("block", RUNNABLE, ids=[f"line{b.line}" for b in RUNNABLE])
def test_guide_block(block: Block, workdir: Path):
    for module in block.requires:
        if importlib.util.find_spec(module) is None:
            pytest.skip(f"needs {module}")
    if block.language == "pycon":
        parser = doctest.DocTestParser()
        test = parser.get_doctest(block.text, {}, f"guide.md:{block.line}", str(GUIDE), block.line)
        runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
        report: list[str] = []
        old = os.getcwd()
        os.chdir(workdir)
        try:
            runner.run(test, out=report.append)
        finally:
            os.chdir(old)
        assert runner.failures == 0, "".join(report)
        return
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
           "COLUMNS": "100"}
    for command, expected, code in parse_session(block.text):
        result = subprocess.run(command, shell=True, cwd=workdir, env=env, capture_output=True,
                                text=True, timeout=300)
        shown = "\n".join(expected)
        assert result.returncode == code, (f"docs/guide.md line {block.line}: `{command}` exited "
                                           f"{result.returncode}, expected {code}\n{result.stderr}")
        assert output_matches(expected, result.stdout), (
            f"docs/guide.md line {block.line}: `{command}`\n--- expected\n{shown}\n--- got\n{result.stdout}")

"""The README opens with exactly two commands, and CI runs the second verbatim."""

from __future__ import annotations

import re

from helpers import ROOT


def _opening_commands():
    text = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```bash\n(.*?)\n```", text, flags=re.S)
    return text, blocks


def test_readme_opens_with_two_commands():
    text, blocks = _opening_commands()
    assert len(blocks) >= 2
    first, second = blocks[0].strip(), blocks[1].strip()
    assert "\n" not in first and "\n" not in second
    assert first.startswith("pip install") and "ilpregions count models/" in first
    assert second.startswith("pip install") and "pytest" in second
    # nothing but the title comes before the two commands
    head = text.split("```bash")[0]
    assert head.strip().startswith("#") and len(head.strip().splitlines()) == 1
    model = first.split("ilpregions count ")[1].split()[0]
    assert (ROOT / model).is_file()


def test_ci_runs_the_second_command_verbatim():
    _, blocks = _opening_commands()
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert blocks[1].strip() in [line.strip() for line in ci]

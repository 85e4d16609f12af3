"""Every reference the project makes resolves inside the repository.

(a) No text file names a document that is not shipped (the project's maths
    and measurements live in docs/*.md).
(b) Every ``docs/<file>.md#<anchor>`` written anywhere (code, ``--help``,
    notes, JSON reasons, docs) names an existing file and a heading in it.
(c) Every relative Markdown link in README.md and docs/*.md points to an
    existing file, and its ``#anchor`` (if any) to a heading there.

Anchors are GitHub's heading slugs (:func:`slug`).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TEXT_SUFFIXES = {".py", ".md", ".toml", ".txt", ".csv", ".json", ".cfg", ".ini", ".yml", ".yaml"}
SKIP_DIRS = {".git", "__pycache__", ".pytest_cache", ".hypothesis", "build", "dist"}
# Names of documents that are not part of the repository. Spelled in pieces
# so that this file does not match itself.
FOREIGN = ("MATH" + ".md", "ANCHORS" + ".md", ".." + "/shared")

DOC_REF = re.compile(r"docs/([\w.-]+?\.md)(?:#([\w-]+))?")
MD_LINK = re.compile(r"(?<!!)\[[^\]\n]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"^(```|~~~).*?^\1", re.S | re.M)
INLINE_CODE = re.compile(r"`[^`\n]*`")
HTML_ANCHOR = re.compile(r"<a\s+(?:name|id)=\"([^\"]+)\"")


def text_files() -> list[Path]:
    """The repository's text files: generated caches, .git, and any virtual environment made
    inside the checkout (a directory with a ``pyvenv.cfg``, e.g. ``.venv``) excluded."""
    out = []
    environments = {p.parent for p in ROOT.glob("*/pyvenv.cfg")}
    for path in ROOT.rglob("*"):
        parts = set(path.relative_to(ROOT).parts)
        if parts & SKIP_DIRS or any(p.endswith(".egg-info") for p in parts):
            continue
        if any(env in path.parents for env in environments):
            continue
        if path.is_file() and path.suffix in TEXT_SUFFIXES:
            out.append(path)
    return sorted(out)


def test_a_virtual_environment_in_the_checkout_is_not_scanned(tmp_path, monkeypatch):
    # `python -m venv .venv` inside the project is common; its packages cite their own docs.
    (tmp_path / "docs").mkdir()
    (tmp_path / "README.md").write_text("see docs/guide.md\n")
    env = tmp_path / ".venv"
    (env / "lib").mkdir(parents=True)
    (env / "pyvenv.cfg").write_text("home = /usr/bin\n")
    (env / "lib" / "x.py").write_text("# docs/" + "missing.md\n")   # split: this file is scanned too
    monkeypatch.setitem(globals(), "ROOT", tmp_path)   # text_files() reads the module's ROOT
    assert [p.name for p in text_files()] == ["README.md"]


def slug(heading: str) -> str:
    """GitHub's anchor for a heading text.

    >>> slug("Hall's theorem for b-matchings"), slug("Theorem 2 (i): lower bound")
    ('halls-theorem-for-b-matchings', 'theorem-2-i-lower-bound')
    >>> slug("What a count over GF(p) proves"), slug("The `dp` engine: 3×3 example")
    ('what-a-count-over-gfp-proves', 'the-dp-engine-33-example')
    """
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading.strip())  # links keep their text
    text = re.sub(r"[^\w\- ]", "", text.lower())
    return text.replace(" ", "-")


def anchors(markdown: str) -> set[str]:
    """The anchors GitHub generates for a Markdown file (duplicates get -1, -2, ...).

    >>> sorted(anchors("# A\\n## B b\\n```\\n# not a heading\\n```\\n## A\\n"))
    ['a', 'a-1', 'b-b']
    """
    seen: dict[str, int] = {}
    out = set(HTML_ANCHOR.findall(markdown))
    for line in FENCE.sub("", markdown).splitlines():
        match = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
        if not match:
            continue
        base = slug(match.group(1))
        n = seen.get(base, 0)
        seen[base] = n + 1
        out.add(base if n == 0 else f"{base}-{n}")
    return out


def _name(path: Path) -> str:
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else path.name


def _anchor_problem(target: Path, anchor: str | None) -> str | None:
    if not target.is_file():
        return f"{_name(target)} does not exist"
    if anchor and anchor not in anchors(target.read_text(encoding="utf-8")):
        return f"{_name(target)} has no heading with anchor #{anchor}"
    return None


def test_no_reference_to_documents_outside_the_repository():
    bad = []
    for path in text_files():
        for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
            for name in FOREIGN:
                if name in line:
                    bad.append(f"{path.relative_to(ROOT)}:{number}: {name}")
    assert not bad, "references to files that are not in the repository:\n" + "\n".join(bad)


def test_docs_references_resolve():
    bad, seen = [], 0
    for path in text_files():
        text = path.read_text(encoding="utf-8", errors="replace")
        for match in DOC_REF.finditer(text):
            seen += 1
            problem = _anchor_problem(ROOT / "docs" / match.group(1), match.group(2))
            if problem:
                line = text.count("\n", 0, match.start()) + 1
                bad.append(f"{path.relative_to(ROOT)}:{line}: {match.group(0)}: {problem}")
    assert seen > 0, "no docs/<file>.md reference found: the scan itself is broken"
    assert not bad, "\n".join(bad)


def _markdown_pages() -> list[Path]:
    return [ROOT / "README.md"] + sorted((ROOT / "docs").glob("*.md"))


@pytest.mark.parametrize("page", _markdown_pages(), ids=lambda p: p.name)
def test_relative_markdown_links_resolve(page):
    text = INLINE_CODE.sub("", FENCE.sub("", page.read_text(encoding="utf-8")))
    bad = []
    for target in MD_LINK.findall(text):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto: ...
            continue
        file_part, _, anchor = target.partition("#")
        dest = page if not file_part else (page.parent / file_part).resolve()
        if file_part and not dest.exists():
            bad.append(f"{target}: {file_part} does not exist")
        elif dest.suffix == ".md" and anchor:
            problem = _anchor_problem(dest, anchor)
            if problem:
                bad.append(f"{target}: {problem}")
    assert not bad, f"{page.relative_to(ROOT)}:\n" + "\n".join(bad)


def test_the_checks_can_fail(tmp_path):
    """The slug and link checks reject what they should (guards against a vacuous scan)."""
    page = tmp_path / "p.md"
    page.write_text("## Theorem 1\ntext\n", encoding="utf-8")
    assert _anchor_problem(page, "theorem-1") is None
    assert "no heading" in _anchor_problem(page, "theorem-2")
    assert _anchor_problem(tmp_path / "missing.md", None) == "missing.md does not exist"
    missing = "docs" + "/absent.md#b"  # in pieces: the scan above reads this file too
    assert MD_LINK.findall(f"see [x]({missing}) and ![img](i.png)") == [missing]
    assert [m.group(0) for m in DOC_REF.finditer("(docs/math.md#weight-sharing).")] == \
        ["docs/math.md#weight-sharing"]

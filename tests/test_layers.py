"""Dependencies point one way: cli → services → backends → theory → core.

Every module's imports (module level and inside functions, plus
``importlib.import_module("ilpregions....")`` with a literal name) are read
with :mod:`ast`; importing a higher layer, or the package root, fails.
``ilpregions/__init__.py`` and ``ilpregions/__main__.py`` sit above all layers.
"""

from __future__ import annotations

import ast
import functools
import re
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "ilpregions"
LAYERS = ("core", "theory", "backends", "services", "cli")
EXEMPT = {"__init__.py", "__main__.py"}


def _modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py")
                  if not (p.parent == PACKAGE and p.name in EXEMPT))


def _layer_of_path(path: Path) -> str:
    return path.relative_to(PACKAGE).parts[0]


def _absolute(node: ast.ImportFrom, path: Path) -> str:
    """The module an ImportFrom names, with relative imports resolved."""
    if not node.level:
        return node.module or ""
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if path.name == "__init__.py":
        parts = parts[:-1]
    base = parts[:len(parts) - node.level]
    return ".".join(base + ([node.module] if node.module else []))


@functools.lru_cache(maxsize=None)
def _parse(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def imported_modules(path: Path) -> list[tuple[int, str]]:
    """(line, dotted module) for every import in a file, nested ones included."""
    tree = _parse(path)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            module = _absolute(node, path)
            if module == "ilpregions":   # `from ilpregions import backends` names a sub-package
                # ... or a root attribute; package metadata (``__version__``) is allowed anywhere
                found += [(node.lineno, f"ilpregions.{alias.name}") for alias in node.names
                          if not alias.name.startswith("__")]
            else:
                found.append((node.lineno, module))
        elif (isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "import_module"
              and node.args and isinstance(node.args[0], ast.Constant)
              and isinstance(node.args[0].value, str)):
            found.append((node.lineno, node.args[0].value))
    return [(line, name) for line, name in found if name == "ilpregions" or name.startswith("ilpregions.")]


def upward_imports(path: Path) -> list[str]:
    own = LAYERS.index(_layer_of_path(path))
    problems = []
    for line, name in imported_modules(path):
        parts = name.split(".")
        target = parts[1] if len(parts) > 1 else None
        if target not in LAYERS:
            problems.append(f"{path.relative_to(PACKAGE.parent)}:{line} imports {name} "
                            f"(the package root or a module outside the layers)")
        elif LAYERS.index(target) > own:
            problems.append(f"{path.relative_to(PACKAGE.parent)}:{line} imports {name} "
                            f"({target} is above {LAYERS[own]})")
    return problems


def test_every_module_is_in_a_layer():
    strays = [p for p in _modules() if _layer_of_path(p) not in LAYERS]
    assert not strays, strays


@pytest.mark.parametrize("layer", LAYERS)
def test_no_upward_imports(layer):
    problems = [problem for path in _modules() if _layer_of_path(path) == layer
                for problem in upward_imports(path)]
    assert not problems, "\n".join(problems)


def test_the_walker_sees_nested_relative_and_dynamic_imports(tmp_path, monkeypatch):
    """The check itself can fail: a planted upward import is reported."""
    fake = tmp_path / "ilpregions"
    (fake / "core").mkdir(parents=True)
    module = fake / "core" / "bad.py"
    module.write_text("import importlib\n"
                      "def f():\n"
                      "    from ilpregions.services import counting\n"
                      "    from ..cli import main\n"
                      "    return importlib.import_module('ilpregions.backends.flow')\n"
                      "from ilpregions import theory\n")
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE", fake)
    problems = upward_imports(module)
    named = sorted(p.split(" imports ")[1].split(" ")[0] for p in problems)
    assert named == ["ilpregions.backends.flow", "ilpregions.cli", "ilpregions.services", "ilpregions.theory"]


# Modules owned elsewhere that still name flags in their errors (to be emptied: raise
# ilpregions.core.errors.ParameterError naming the parameter; cli/flags.py maps it).
FLAG_NAMING_PENDING: set[str] = set()
FLAG = re.compile(r"(?:^|[\s(])--[a-z]")


def flag_naming_raises(path: Path, root: Path | None = None) -> list[str]:
    """Lines where a ``raise`` builds its message from text naming a ``--flag``."""
    tree = _parse(path)
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Raise) and node.exc is not None:
            texts = [n.value for n in ast.walk(node.exc) if isinstance(n, ast.Constant) and isinstance(n.value, str)]
            if any(FLAG.search(text) for text in texts):
                lines.append(f"{path.relative_to(root or PACKAGE)}:{node.lineno}")
    return lines


def test_library_errors_name_parameters_not_flags():
    library = [p for p in _modules() if _layer_of_path(p) != "cli"
               and str(p.relative_to(PACKAGE)) not in FLAG_NAMING_PENDING]
    offenders = [line for path in library for line in flag_naming_raises(path)]
    assert not offenders, offenders


def test_the_flag_scan_can_fail(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("def f(x):\n    raise ValueError(f'--t: entry {x} is bad')\n")
    assert flag_naming_raises(module, tmp_path) == ["m.py:2"]


def test_connected_groups_small_and_large_paths_agree():
    """The pure-Python and the scipy grouping give the same groups (fixed seed)."""
    import random

    from ilpregions.core import combinatorics

    rng = random.Random(10)
    for _ in range(200):
        n = rng.randint(0, 30)
        members = [rng.sample(range(40), rng.randint(0, 3)) for _ in range(n)]
        assert combinatorics._groups_union_find(members) == combinatorics._groups_scipy(members)

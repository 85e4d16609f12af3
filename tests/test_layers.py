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


#: A CLI flag (``--memory-cap``, ``-o``) or command (``ilpregions bounds``) in library text.
FLAG = re.compile(r"(?:^|[\s(`/])--[a-z]|(?:^|[\s(`])-o\b|\bilpregions (?:count|geometry|check|bounds|compare|"
                  r"export|claims|report|regions|tied-max|sweep|import-torch|slice)\b")


def _docstrings(tree: ast.AST) -> set[int]:
    return {id(node.body[0].value) for node in ast.walk(tree)
            if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
            and node.body and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant)}


def flag_naming_texts(path: Path, root: Path | None = None) -> list[str]:
    """Lines of string constants (messages, notes, hints; docstrings excepted) that name a CLI
    flag or command: the library names parameters and functions, cli/flags.py maps them."""
    tree = _parse(path)
    docs = _docstrings(tree)
    return sorted({f"{path.relative_to(root or PACKAGE)}:{node.lineno}" for node in ast.walk(tree)
                   if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docs
                   and FLAG.search(node.value)})


def test_library_text_names_parameters_not_flags_or_commands():
    library = [p for p in _modules() if _layer_of_path(p) != "cli"]
    offenders = [line for path in library for line in flag_naming_texts(path)]
    assert not offenders, offenders


def test_the_flag_scan_can_fail(tmp_path):
    module = tmp_path / "m.py"
    module.write_text('"""Docs may say --t."""\n'
                      "def f(x):\n    raise ValueError(f'--t: entry {x} is bad')\n"
                      "HINT = 'use `ilpregions bounds` instead'\n"
                      "FINE = 'use `bounds()` with `memory_cap`'\n"
                      "OUT = '(use a new -o)'\n")
    assert flag_naming_texts(module, tmp_path) == ["m.py:3", "m.py:4", "m.py:6"]


def test_connected_groups_small_and_large_paths_agree():
    """The pure-Python and the scipy grouping give the same groups (fixed seed)."""
    import random

    from ilpregions.core import combinatorics

    rng = random.Random(10)
    for _ in range(200):
        n = rng.randint(0, 30)
        members = [rng.sample(range(40), rng.randint(0, 3)) for _ in range(n)]
        assert combinatorics._groups_union_find(members) == combinatorics._groups_scipy(members)


# ---------------------------------------------------------------------------
# Services reach engines only through the registry, and each other only through fronts.
# ---------------------------------------------------------------------------

#: What a service may import of the backends layer: the registry and its Protocols.
BACKEND_INTERFACE = ("ilpregions.backends", "ilpregions.backends.protocols")


def _service_package(path: Path) -> str | None:
    """The task package of a service module (``count`` for services/count/_theorem1.py)."""
    parts = path.relative_to(PACKAGE).parts
    return parts[1] if parts[0] == "services" and len(parts) > 2 else None


def backend_submodule_imports(path: Path) -> list[str]:
    """Imports of a backend's own module (``ilpregions.backends.dp.run``) rather than the registry."""
    return [f"{path.relative_to(PACKAGE.parent)}:{line} imports {name} (use backends.load(name, task))"
            for line, name in imported_modules(path)
            if name.startswith("ilpregions.backends.") and name not in BACKEND_INTERFACE]


def cross_package_imports(path: Path) -> list[str]:
    """Imports of another task package's private helpers instead of its front module."""
    own = _service_package(path)
    problems = []
    for line, name in imported_modules(path):
        parts = name.split(".")
        if len(parts) > 3 and parts[1] == "services" and parts[2] != own:
            problems.append(f"{path.relative_to(PACKAGE.parent)}:{line} imports {name} "
                            f"(import the front, ilpregions.services.{parts[2]})")
    return problems


def private_names_across_packages(path: Path) -> list[str]:
    """``from M import _name`` where ``_name`` is a private name of another module.

    A private *module* of one's own package (``from ilpregions.services.bounds import _common``)
    is how a front reaches its helpers; any other private name stays inside its module.
    """
    own_package = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts[:-1])
    problems = []
    for node in ast.walk(_parse(path)):
        if not isinstance(node, ast.ImportFrom):
            continue
        module = _absolute(node, path)
        for alias in node.names:
            if not alias.name.startswith("_") or alias.name.startswith("__"):
                continue
            target = PACKAGE.parent.joinpath(*f"{module}.{alias.name}".split("."))
            is_module = target.with_suffix(".py").is_file() or (target / "__init__.py").is_file()
            if not (is_module and module == own_package):
                problems.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno} imports {alias.name} "
                                f"from {module}")
    return problems


def test_services_and_the_cli_reach_backends_only_through_the_registry():
    problems = [p for path in _modules() if _layer_of_path(path) in ("services", "cli")
                for p in backend_submodule_imports(path)]
    assert not problems, "\n".join(problems)


def test_services_import_other_task_packages_only_through_their_fronts():
    problems = [p for path in _modules() if _layer_of_path(path) in ("services", "cli")
                for p in cross_package_imports(path)]
    assert not problems, "\n".join(problems)


def test_no_private_name_crosses_a_package():
    problems = [p for path in _modules() for p in private_names_across_packages(path)]
    assert not problems, "\n".join(problems)


def test_every_engine_is_registered():
    """Each backend package or module is behind a registry entry (the ones services use)."""
    from ilpregions import backends
    from ilpregions.backends import protocols

    registered = {spec.module.split(".")[2] for spec in backends.BACKENDS.values()}
    engines = {p.name for p in (PACKAGE / "backends").iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    engines |= {p.stem for p in (PACKAGE / "backends").glob("*.py") if not p.stem.startswith("_")
                and p.stem not in ("__init__", "protocols")}
    assert engines <= registered, sorted(engines - registered)
    for name, spec in backends.BACKENDS.items():
        module = backends.load(name, next(iter(sorted(spec.tasks))))
        for task in spec.tasks:
            assert isinstance(module, protocols.PROTOCOLS[task]), (name, task)


def test_the_import_checks_can_fail(tmp_path, monkeypatch):
    fake = tmp_path / "ilpregions"
    (fake / "services" / "count").mkdir(parents=True)
    module = fake / "services" / "count" / "_bad.py"
    module.write_text("from ilpregions.backends.dp.run import tune_malloc\n"
                      "from ilpregions.services.tied._plans import subspace\n"
                      "from ilpregions.services.tied import tied_max\n"
                      "from ilpregions.backends import load\n")
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE", fake)
    assert [p.split(" imports ")[1].split(" ")[0] for p in backend_submodule_imports(module)] == \
        ["ilpregions.backends.dp.run"]
    assert [p.split(" imports ")[1].split(" ")[0] for p in cross_package_imports(module)] == \
        ["ilpregions.services.tied._plans"]


def test_the_private_name_check_can_fail(tmp_path, monkeypatch):
    fake = tmp_path / "ilpregions"
    (fake / "services" / "claims").mkdir(parents=True)
    (fake / "services" / "claims" / "_limits.py").write_text("_Hidden = 1\n")
    module = fake / "services" / "claims" / "_bad.py"
    module.write_text("from ilpregions.services.claims._limits import _Hidden\n"
                      "from ilpregions.services.bounds._common import _MARGIN\n"
                      "from ilpregions.services.claims import _limits\n"
                      "from ilpregions.services.bounds import _common\n")
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE", fake)
    assert [p.split(" imports ")[1] for p in private_names_across_packages(module)] == \
        ["_Hidden from ilpregions.services.claims._limits", "_MARGIN from ilpregions.services.bounds._common",
         "_common from ilpregions.services.bounds"]


# ---------------------------------------------------------------------------
# Size limits (docs/architecture.md#size-limits): a longer module or function says why.
# ---------------------------------------------------------------------------

MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 80      # without the docstring: numpydoc sections must not count against a function
LONG = re.compile(r"#\s*long( module)?:\s*\S")


def size_problems(path: Path, root: Path | None = None) -> list[str]:
    """Modules over 400 lines without a ``# long module: why`` line in their first 40 lines, and
    functions over 80 lines (docstring excluded) without ``# long: why`` on their first lines."""
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines()
    where = path.relative_to(root or PACKAGE.parent)
    problems = []
    if len(lines) > MAX_MODULE_LINES and not any(LONG.search(line) for line in lines[:40]):
        problems.append(f"{where}: {len(lines)} lines")
    for node in ast.walk(_parse(path)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            length = node.end_lineno - node.lineno + 1
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
                    and isinstance(body[0].value.value, str):
                length -= body[0].end_lineno - body[0].lineno + 1
            first = node.body[0].lineno
            head = lines[node.lineno - 1:first]
            if length > MAX_FUNCTION_LINES and not any(LONG.search(line) for line in head):
                problems.append(f"{where}:{node.lineno} {node.name}: {length} lines")
    return problems


def test_modules_and_functions_stay_small_or_say_why():
    problems = [p for path in _modules() for p in size_problems(path)]
    assert not problems, "\n".join(problems)


def test_the_size_check_can_fail(tmp_path):
    module = tmp_path / "m.py"
    body = "\n".join(f"    x{i} = {i}" for i in range(90))
    module.write_text(f'def f():\n    """Doc."""\n{body}\n\n\ndef g():  # long: one loop\n{body}\n')
    assert size_problems(module, tmp_path) == ["m.py:1 f: 91 lines"]
    long_module = tmp_path / "long.py"
    long_module.write_text("\n".join(["x = 1"] * 401) + "\n")
    assert size_problems(long_module, tmp_path) == ["long.py: 401 lines"]


# ---------------------------------------------------------------------------
# A thin CLI: parse, call one library function, format.
# ---------------------------------------------------------------------------

#: Calls that build instances or choose engines: the library's business, not a command's.
LIBRARY_WORK = {"layer_instance", "as_instance", "choose_backend", "resolve", "load"}
#: ``geometry`` describes a layer's set system: building it is what that command shows.
DESCRIBES_GEOMETRY = {"geometry.py": {"layer_instance"}}


def thick_cli_lines(path: Path, root: Path | None = None) -> list[str]:
    """``assert`` statements and calls of :data:`LIBRARY_WORK` in a command module."""
    allowed = DESCRIBES_GEOMETRY.get(path.name, set())
    problems = []
    for node in ast.walk(_parse(path)):
        if isinstance(node, ast.Assert):
            problems.append(f"{path.relative_to(root or PACKAGE)}:{node.lineno} assert")
        elif isinstance(node, ast.Call):
            name = getattr(node.func, "attr", getattr(node.func, "id", None))
            owner = getattr(getattr(node.func, "value", None), "id", None)
            if name in LIBRARY_WORK - allowed and (name not in ("resolve", "load") or owner == "backends"):
                problems.append(f"{path.relative_to(root or PACKAGE)}:{node.lineno} {name}()")
    return sorted(problems)


def test_commands_are_thin():
    problems = [p for path in sorted((PACKAGE / "cli" / "commands").glob("*.py")) for p in thick_cli_lines(path)]
    assert not problems, "\n".join(problems)


def test_the_thin_cli_check_can_fail(tmp_path):
    module = tmp_path / "cmd.py"
    module.write_text("from ilpregions import backends\n"
                      "def run(args):\n    inst = layer_instance(args.net)\n    backends.resolve('dp', 'count')\n"
                      "    assert inst\n    return load_model(args.model)\n")
    assert thick_cli_lines(module, tmp_path) == ["cmd.py:3 layer_instance()", "cmd.py:4 resolve()", "cmd.py:5 assert"]

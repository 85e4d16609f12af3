"""The API reference builds, and every public function documents itself in numpydoc.

* The reference of docs/build_api.py (pdoc) builds into a temporary directory
  without a single warning (an ``__all__`` naming a missing object, a module
  that fails to import, an annotation pdoc cannot read all warn).
* Every public function (in ``ilpregions.__all__``, in the ``__all__`` of
  every service front ``ilpregions.services.<task>`` and of the registry
  ``ilpregions.backends``) has a numpydoc docstring with a summary,
  Parameters (every parameter, no unknown one), Returns (when it returns
  something), Raises naming every exception it raises itself (outside a
  ``try`` that catches it), and an Examples section with a doctest; the
  doctests run in the suite (``--doctest-modules``). numpydoc's own
  validator checks the sections; the Raises and doctest checks are here.
* Every public class of those fronts has a docstring.
* Each check is shown to fail on a module planted in ``tmp_path``.
"""

from __future__ import annotations

import ast
import builtins
import importlib
import importlib.util
import inspect
import sys
import textwrap

import pytest

numpydoc_validate = pytest.importorskip("numpydoc.validate")   # the test extra
pytest.importorskip("pdoc")

from helpers import ROOT  # noqa: E402

#: numpydoc's checks that every public function must pass (the others are style).
CODES = {"GL08": "no docstring", "SS01": "no summary", "GL06": "unknown section", "GL07": "sections out of order",
         "PR01": "parameters not documented", "PR02": "unknown parameters", "PR07": "a parameter without description",
         "RT01": "no Returns", "YD01": "no Yields", "EX01": "no Examples"}


def _build_module():
    spec = importlib.util.spec_from_file_location("build_api", ROOT / "docs" / "build_api.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def public_modules() -> list[str]:
    """``ilpregions``, every task front under services/ (found on disk, so a new one is included), the registry."""
    services = ROOT / "ilpregions" / "services"
    fronts = sorted(p.name for p in services.iterdir() if (p / "__init__.py").is_file() and not p.name.startswith("_"))
    return ["ilpregions", *(f"ilpregions.services.{name}" for name in fronts), "ilpregions.backends"]


def public_objects(modules: list[str], want) -> dict[str, object]:
    """``{"module.name": object}`` of each module's ``__all__`` for which ``want(object)``, each object once."""
    out, seen = {}, set()
    for name in modules:
        module = importlib.import_module(name)
        for attribute in module.__all__:
            obj = getattr(module, attribute)
            if want(inspect.unwrap(obj)) and id(inspect.unwrap(obj)) not in seen:
                seen.add(id(inspect.unwrap(obj)))
                out[f"{name}.{attribute}"] = obj
    return out


def _resolve(name: str, namespace: dict):
    """The exception class a (dotted) name means in ``namespace``, builtins or any loaded ilpregions module."""
    head, *rest = name.strip().split(".")
    obj = namespace.get(head, getattr(builtins, head, None))
    for part in rest:
        obj = getattr(obj, part, None)
    if obj is None:
        last = name.strip().split(".")[-1]
        candidates = [getattr(m, last) for n, m in list(sys.modules.items())
                      if n.startswith("ilpregions") and m is not None and hasattr(m, last)]
        obj = next((c for c in candidates if isinstance(c, type)), None)
    return obj if isinstance(obj, type) and issubclass(obj, BaseException) else None


def raised_here(func) -> set[type]:
    """Exception classes ``func`` raises itself: ``raise X``/``raise X(...)`` in its own body (not in nested
    functions), except where an enclosing ``try`` of the same body catches X."""
    func = inspect.unwrap(func)
    tree = ast.parse(textwrap.dedent(inspect.getsource(func))).body[0]
    namespace = func.__globals__
    found: set[type] = set()

    def handler_types(handler) -> tuple[type, ...]:
        if handler.type is None:
            return (BaseException,)
        nodes = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
        return tuple(c for c in (_resolve(ast.unparse(n), namespace) for n in nodes) if c is not None)

    def visit(nodes, caught: tuple[type, ...]) -> None:
        for node in nodes:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
                continue  # raises when called, which may be elsewhere
            if isinstance(node, ast.Try):
                visit(node.body, caught + tuple(t for h in node.handlers for t in handler_types(h)))
                visit(node.handlers + node.orelse + node.finalbody, caught)
                continue
            if isinstance(node, ast.Raise) and node.exc is not None:
                target = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
                cls = _resolve(ast.unparse(target), namespace)
                if cls is not None and not any(issubclass(cls, c) for c in caught):
                    found.add(cls)
            visit(list(ast.iter_child_nodes(node)), caught)

    visit(tree.body, ())
    return found


def docstring_problems(func) -> list[str]:
    """What a public function's docstring lacks; empty when it is complete."""
    doc = numpydoc_validate.get_doc_object(func)
    problems = [f"{code} {CODES[code]}: {message}" for code, message in numpydoc_validate.validate(doc)["errors"]
                if code in CODES]
    if not func.__doc__:
        return problems
    if doc["Examples"] and not any(line.lstrip().startswith(">>>") for line in doc["Examples"]):
        problems.append("EX: the Examples section has no doctest (>>> lines)")
    documented = []
    for entry in doc["Raises"]:
        name = entry.type or entry.name
        cls = _resolve(name, inspect.unwrap(func).__globals__)
        if cls is None:
            problems.append(f"RS: Raises names {name!r}, which is no exception class here")
        else:
            documented.append(cls)
    for cls in sorted(raised_here(func), key=lambda c: c.__name__):
        if not any(issubclass(cls, d) for d in documented):
            problems.append(f"RS: raises {cls.__name__} but its Raises section does not say so")
    return problems


def _functions() -> dict[str, object]:
    return public_objects(public_modules(), inspect.isfunction)


def test_the_scan_finds_the_public_functions():
    import ilpregions
    from ilpregions import backends
    from ilpregions.services import bounds, count

    functions = _functions()
    assert len(functions) >= 90, sorted(functions)
    found = {id(inspect.unwrap(f)) for f in functions.values()}
    for func in (ilpregions.count_regions, ilpregions.tied_max, ilpregions.slice_network, backends.load,
                 bounds.compute_bounds, count.region_polynomial):
        assert id(inspect.unwrap(func)) in found, func.__name__


@pytest.mark.parametrize("name", sorted(_functions()))
def test_public_function_has_a_numpydoc_docstring(name):
    assert not docstring_problems(_functions()[name]), "\n".join(docstring_problems(_functions()[name]))


def test_public_classes_have_docstrings():
    classes = public_objects(public_modules(), lambda obj: inspect.isclass(obj)
                             and obj.__module__.startswith("ilpregions"))
    assert len(classes) >= 20
    missing = [name for name, cls in classes.items() if not (cls.__doc__ or "").strip()]
    assert not missing, missing


PLANTED = '''
from ilpregions.core.errors import InputError, ParameterError


def undocumented(x):
    return x


def bare(x):
    """Double x."""
    return 2 * x


def _complete(doc_raises, examples=">>> 1 + 1\\n2"):
    return f"""Check x.

Parameters
----------
x : int
    A number.

Returns
-------
int
    x itself.
{doc_raises}
Examples
--------
{examples}
"""


def silent_raise(x):
    if x < 0:
        raise ParameterError("x", "must be non-negative")
    return x


def prose_example(x):
    return x


def typo(x):
    return x


def good(x):
    if x < 0:
        raise ParameterError("x", "must be non-negative")
    return x


def caught_inside(x):
    try:
        raise ValueError("internal")
    except ValueError:
        return x


silent_raise.__doc__ = _complete("")
prose_example.__doc__ = _complete("", examples="Call it with a number.")
typo.__doc__ = _complete("\\nRaises\\n------\\nInputErorr\\n    never.\\n")
good.__doc__ = _complete("\\nRaises\\n------\\nInputError\\n    x < 0 (a ParameterError).\\n")
caught_inside.__doc__ = _complete("")
'''


def test_the_docstring_checks_can_fail(tmp_path, monkeypatch):
    path = tmp_path / "planted_docs.py"
    path.write_text(PLANTED, encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    module = importlib.import_module("planted_docs")
    found = {name: docstring_problems(getattr(module, name))
             for name in ("undocumented", "bare", "silent_raise", "prose_example", "typo", "good", "caught_inside")}
    assert [p[:4] for p in found["undocumented"]] == ["GL08"]
    assert {p[:4] for p in found["bare"]} == {"PR01", "RT01", "EX01"}
    assert found["silent_raise"] == ["RS: raises ParameterError but its Raises section does not say so"]
    assert found["prose_example"] == ["EX: the Examples section has no doctest (>>> lines)"]
    assert found["typo"] == ["RS: Raises names 'InputErorr', which is no exception class here"]
    assert found["good"] == [] and found["caught_inside"] == []


def test_the_api_reference_builds_without_warnings(tmp_path):
    problems = _build_module().build(tmp_path)
    assert not problems, "\n".join(problems)
    pages = {p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*.html")}
    expected = {"index.html", "ilpregions.html", "ilpregions/services.html", "ilpregions/backends.html",
                "ilpregions/backends/protocols.html"}
    expected |= {f"{m.replace('.', '/')}.html" for m in public_modules()}
    assert expected <= pages, sorted(expected - pages)
    assert not any("/_" in page for page in pages), "a private module was documented"
    count = (tmp_path / "ilpregions" / "services" / "count.html").read_text(encoding="utf-8")
    assert 'id="count_regions"' in count and "Raises" in count and "&gt;&gt;&gt;" in count


def test_the_reference_build_reports_warnings(tmp_path, monkeypatch):
    (tmp_path / "planted_api.py").write_text('"""A module whose __all__ names nothing."""\n__all__ = ["missing"]\n',
                                             encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    problems = _build_module().build(tmp_path / "site", modules=("planted_api",))
    assert any("missing" in p for p in problems), problems

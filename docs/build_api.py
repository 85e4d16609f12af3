"""Build the API reference of ilpregions (HTML) from its numpydoc docstrings, with pdoc.

    python docs/build_api.py              # writes site/api/ (open site/api/index.html)
    python docs/build_api.py -o DIR

The reference covers the public API: ``ilpregions`` (what ``import
ilpregions`` offers), ``ilpregions.services`` and the front of every task
package under it, and the engine registry ``ilpregions.backends`` with its
Protocols. Private modules (``_name.py``) are left out; so are ``core``,
``theory`` and ``cli``, whose public names reach users through the fronts.
docs/api.md says how to read it. tests/test_api_docs.py builds it on every
run of the suite and fails on any warning, so the reference cannot rot.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: What the reference documents; a package brings its public submodules (``services`` every task front).
MODULES = ("ilpregions", "ilpregions.services", "ilpregions.backends", "ilpregions.backends.protocols")


def build(out: Path, modules=MODULES) -> list[str]:
    """Render ``modules`` into ``out``; return the warnings pdoc gave (empty when all is well)."""
    import pdoc
    import pdoc.render

    pdoc.render.configure(docformat="numpy", show_source=False,
                          footer_text="ilpregions: exact counts and bounds for the linear regions of ReLU CNNs")
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        pdoc.pdoc(*modules, output_directory=Path(out))
    return [f"{w.category.__name__}: {w.message}" for w in seen]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--output", default=str(ROOT / "site" / "api"), help="directory (default site/api)")
    args = parser.parse_args(argv)
    problems = build(Path(args.output))
    for line in problems:
        print(line, file=sys.stderr)
    print(f"wrote {Path(args.output) / 'index.html'}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))  # document this checkout, not another installed copy
    sys.exit(main())

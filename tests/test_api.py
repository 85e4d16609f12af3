"""The public Python API: lazy exports, cheap import, round trips, and agreement with the CLI."""

from __future__ import annotations

import dataclasses
import importlib
import json
import subprocess
import sys

import pytest

import ilpregions
from helpers import MODELS, THEOREM1_CASES, case_network

HEAVY = ("ortools", "pulp", "highspy", "networkx", "numpy", "scipy", "torch", "tqdm", "dask",
         "distributed", "pyscipopt", "matplotlib", "pandas")


def python(code: str, *flags: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *flags, "-c", code], capture_output=True, text=True, timeout=120)


def test_import_is_cheap():
    """`import ilpregions` loads no solver, numpy, torch or progress-bar module."""
    result = python("import ilpregions", "-X", "importtime")
    assert result.returncode == 0, result.stderr
    imported = {line.split("|")[-1].strip().split(".")[0] for line in result.stderr.splitlines()
                if line.startswith("import time:")}
    assert "ilpregions" in imported
    assert not imported & set(HEAVY), imported & set(HEAVY)
    # and the same seen from sys.modules, after touching the eager names
    code = ("import sys, ilpregions; ilpregions.Network; ilpregions.load; ilpregions.dumps; "
            f"print(sorted(m for m in sys.modules if m.split('.')[0] in {set(HEAVY)!r}))")
    assert python(code).stdout.strip() == "[]"


def test_lazy_names_resolve_to_their_targets():
    for name, (module_name, attribute) in ilpregions._LAZY.items():
        target = getattr(importlib.import_module(f"ilpregions.{module_name}"), attribute)
        assert getattr(ilpregions, name) is target
        assert name in ilpregions.__all__ and name in dir(ilpregions)


def test_unknown_name_is_a_plain_attribute_error():
    with pytest.raises(AttributeError, match="has no attribute 'count_region'"):
        ilpregions.count_region  # noqa: B018
    assert not hasattr(ilpregions, "nope")


def test_star_import_exports_the_public_functions():
    # Public functions live at the top level; their modules live under services/.
    code = ("from ilpregions import *\n"
            "import ilpregions, ilpregions.services.regions as m\n"
            "net = Network((3, 3, 1), (ConvLayer(2, 2),))\n"
            "assert regions is m.count_linear_regions and ilpregions.regions is regions\n"
            "print(regions(net, seed=1).regions, count_regions(net).regions)\n")
    result = python(code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["255", "256"]


# ---------------------------------------------------------------------------
# Round trips through the API
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("path", sorted(MODELS.glob("*.toml")), ids=lambda p: p.stem)
def test_every_model_round_trips(path):
    network = ilpregions.load(path)
    again = ilpregions.loads(ilpregions.dumps(network))
    assert again == network
    assert again.output_shapes() == network.output_shapes()


def test_code_built_network_equals_the_shipped_spec():
    built = ilpregions.Network(input_shape=[3, 3, 1], layers=[ilpregions.ConvLayer(filters=2, kernel=(2, 2))],
                               name="one conv layer on a 3x3 grey image")
    assert built == ilpregions.load(MODELS / "paper_3x3.toml")
    assert ilpregions.LocalLayer(2, 2) == ilpregions.ConvLayer(2, 2, shared=False)


def test_results_are_frozen():
    result = ilpregions.count_regions(ilpregions.load(MODELS / "paper_3x3.toml"))
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.regions = 0


@pytest.mark.parametrize("case", [c for c in THEOREM1_CASES if c["positions"] <= 9][:6],
                         ids=lambda c: f"{c['input']}-k{c['kernel']}-d{c['filters']}")
def test_api_counts_match_reference_and_bounds_sandwich(case):
    network = case_network(case)
    result = ilpregions.count_regions(network)
    assert result.exact and str(result.regions) == case["regions"]
    report = ilpregions.bounds(network)
    assert (report.lower or 0) <= result.regions <= report.upper


def test_check_gives_certificates():
    net = ilpregions.load(MODELS / "paper_3x3.toml")
    bad = ilpregions.check(net, [4, 4, 0, 1])
    assert not bad.feasible and bad.violated.sum > bad.violated.union
    good = ilpregions.check(net, [2, 2, 2, 1])
    assert good.feasible
    used = [element for position in good.assignment for element in position]
    assert len(used) == 7 == len(set(used))


def test_regions_and_tied_max_agree_on_the_weight_sharing_gap():
    net = ilpregions.load(MODELS / "paper_3x3.toml")
    tied = ilpregions.tied_max(net)
    assert (tied.regions, tied.formula, tied.gap) == (255, 256, 1)
    assert ilpregions.regions(net, seed=3).regions == tied.regions


def test_api_mirrors_the_cli(cli):
    path = MODELS / "conv1d.toml"
    code, out, err = cli("count", path, "--json")
    assert code == 0, err
    cli = json.loads(out)
    api = ilpregions.count_regions(ilpregions.load(path))
    assert cli["regions"] == str(api.regions) and cli["t_vectors"] == api.t_vectors


def test_sweep_from_python(tmp_path):
    path = tmp_path / "g.toml"
    path.write_text('[base]\ninput = [3, 1]\n[[base.layers]]\ntype = "local"\nfilters = 1\nkernel = 2\n'
                    '[grid]\n"layers[0].filters" = [1, 2, 3]\n')
    summary = ilpregions.sweep(path, workers=1)
    direct = [ilpregions.count_regions(ilpregions.Network((3, 1), (ilpregions.LocalLayer(d, 2),))).regions
              for d in (1, 2, 3)]
    # two positions, |S_p| = 2, union 3: sum over t1 + t2 <= 3 of C(d, t1) C(d, t2)
    assert [int(r["regions"]) for r in summary.rows] == direct == [4, 15, 40]

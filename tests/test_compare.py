"""compare: at least four counting paths agree on small models; a wrong
counter is caught with exit code 1."""

from __future__ import annotations

import json

import pytest

from helpers import MODELS
from ilpregions.services.count import _compare as comparison
from ilpregions.cli.main import main
from ilpregions.core.results import EnumerationOutcome
from ilpregions.core.spec_toml import load

SMALL = ["paper_3x3", "conv1d", "dilated", "dense", "padded", "strided"]


@pytest.mark.parametrize("name", SMALL)
def test_four_paths_agree(name):
    report = comparison.compare(load(MODELS / f"{name}.toml"), time_limit=20)
    assert report.agree
    assert len(report.complete_paths) >= 4, report.rows
    values = {r.regions for r in report.rows if r.status == "complete"}
    assert values == {report.regions}
    lp_only = {r.backend: r for r in report.rows if r.backend in ("cbc", "highs")}
    assert all(r.regions is None and r.status == "unsupported" for r in lp_only.values())


def test_reference_value_through_compare(theorem1_case):
    from helpers import case_network

    if int(theorem1_case["regions"]) > 50_000:
        pytest.skip("binary counters enumerate R_N solutions one by one")
    report = comparison.compare(case_network(theorem1_case), time_limit=20)
    assert report.agree and report.regions == int(theorem1_case["regions"])
    assert len(report.complete_paths) >= 4


def test_forced_disagreement_exits_1(monkeypatch, capsys):
    def wrong(inst, time_limit):
        return EnumerationOutcome(regions=257, t_vectors=81, complete=True)

    monkeypatch.setitem(comparison.EXTRA_PATHS, "wrong", wrong)
    code = main(["compare", str(MODELS / "paper_3x3.toml"), "--time-limit", "10"])
    out = capsys.readouterr().out
    assert code == 1
    assert "DISAGREEMENT" in out and "wrong = 257" in out and "= 256" in out


def test_partial_above_exact_is_a_disagreement(monkeypatch):
    def too_high(inst, time_limit):
        return EnumerationOutcome(regions=300, t_vectors=None, complete=False)

    monkeypatch.setitem(comparison.EXTRA_PATHS, "high", too_high)
    report = comparison.compare(load(MODELS / "paper_3x3.toml"), time_limit=10)
    assert not report.agree


def test_json_output(capsys):
    assert main(["compare", str(MODELS / "conv1d.toml"), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["agree"] is True and out["regions"] == "2289"
    backends = {r["backend"]: r for r in out["rows"]}
    assert backends["cbc"]["regions"] is None
    assert "feasibility/LP only" in backends["highs"]["note"]
    assert {"cpsat", "cpsat-binary", "bruteforce"} <= set(out["complete_paths"])


def test_compare_passes_the_memory_cap_to_every_backend(cli, tmp_path, monkeypatch):
    from ilpregions import backends

    seen = {}
    real = backends.load

    def load(name, task):
        module = real(name, task)

        class Recorder:
            def count(self, inst, time_limit=None, **options):
                seen[name] = options.get("memory_cap")
                return module.count(inst, time_limit=time_limit, **options)
        return Recorder() if task == backends.COUNT else module

    monkeypatch.setattr(backends, "load", load)
    path = tmp_path / "m.toml"
    path.write_text('input = [3, 3, 1]\n[[layers]]\ntype = "conv"\nfilters = 2\nkernel = 2\n')
    code, out, err = cli("compare", str(path), "--memory-cap", "0.5", "--quiet")
    installed = [n for n in backends.backend_names(backends.COUNT) if backends.BACKENDS[n].is_available()]
    assert code == 0 and set(seen) == set(installed) and set(seen.values()) == {2 ** 29}

"""The report on a tiny configuration, in a temporary directory."""

from __future__ import annotations

import copy
import csv
import importlib.util
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import pytest

from ilpregions.services.report import _build as R
from ilpregions.core.errors import InputError
from ilpregions.core.geometry import layer_instance
from ilpregions.core.spec import ConvLayer, Network

ROOT = Path(__file__).resolve().parents[1]
HAS_MPL = importlib.util.find_spec("matplotlib") is not None

TINY = {
    "depth": {"n0": 4, "d": 3, "depths": [1, 2, 3]},
    "width": {"n0": 4, "depth": 2, "widths": [1, 2, 4]},
    "one_layer": {"input": [4, 1], "type": "local", "kernel": [2], "d1": [1, 2, 3, 8, 64, 512]},
    "claims": {"cases": [["deep-vs-shallow", 4, 3], ["cnn-vs-fc", 4, 2]], "widths": [2, 8]},
    "models": {"glob": "m/*.toml", "time_limit": 2.0},
    "model_claims": {"models": ["m/paper.toml", "m/two.toml"], "seconds_per_model": 2.0},
}


def read_csv(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def test_tiny_report(tmp_path):
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "two.toml").write_text((ROOT / "models" / "two_layer_1d.toml").read_text())
    (tmp_path / "m" / "paper.toml").write_text((ROOT / "models" / "paper_3x3.toml").read_text())
    result = R.build_report(tmp_path / "out", copy.deepcopy(TINY), root=tmp_path, plots=HAS_MPL, progress=False)
    target = tmp_path / "out" / "report"
    for name in ("models.csv", "bounds.csv", "claims.csv", "depth.csv", "width.csv", "one_layer.csv", "report.md"):
        assert (target / name).exists(), name
    models = {r["model"]: r for r in read_csv(target / "models.csv")}
    two = models["two"]
    assert two["proven_lower"] == "320" and two["params"] == "21" and two["upper"] == "2424"
    assert two["theorem1_untied"] == "" and two["real_max"] == ""   # two layers: no one-layer columns
    # log10(2424) / log10(320) = 3.3845 / 2.5051
    assert abs(float(two["log10_upper_over_log10_lower"]) - 1.3510) < 1e-3
    # One conv layer with shared filters: Theorem 1 (256) is the untied count, the DP's 255 the real maximum.
    paper = models["paper"]
    assert paper["theorem1_untied"] == "256" and paper["real_max"] == "255"
    assert paper["proven_lower"] == "255" and paper["upper"] == "256"
    depth = read_csv(target / "depth.csv")
    assert [int(r["depth"]) for r in depth] == [1, 2, 3]
    for r in depth:
        assert float(r["log10_cnn_lower"]) <= float(r["log10_cnn_upper"])
        assert int(r["fc_params"]) <= int(r["cnn_params"])
    one = read_csv(target / "one_layer.csv")
    # Input 4, kernel 2, local: U = 4; R(2) = 55 is the reference value.
    assert next(r for r in one if r["d1"] == "2")["regions"] == "55"
    assert all(r["polynomial_agrees"] in ("True", "") for r in one)
    assert abs(float(one[-1]["ratio_to_asymptote"]) - 1) < 0.02  # the asymptote is approached
    claims = read_csv(target / "claims.csv")
    assert {r["claim"] for r in claims} == {"deep-vs-shallow", "cnn-vs-fc"}
    assert all(r["changed"] in ("True", "False") and r["formula_verdict"] for r in claims)
    # The claims on real models: both claims per model, a verdict each, the gap exactly on the open ones.
    real = read_csv(target / "model_claims.csv")
    assert [(r["model"], r["claim"]) for r in real] == [("paper", "deep-vs-shallow"), ("paper", "cnn-vs-fc"),
                                                        ("two", "deep-vs-shallow"), ("two", "cnn-vs-fc")]
    assert all(r["verdict"] in ("PROVEN", "REFUTED", "OPEN") for r in real)
    assert all((r["prove_shortfall_log10"] == "") == (r["verdict"] != "OPEN") for r in real)
    assert "## The claims on real models" in (target / "report.md").read_text()
    if HAS_MPL:
        for png in ("depth.png", "width.png", "one_layer.png"):
            data = (target / png).read_bytes()
            assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000
    assert "report.md" in result["files"]


def test_leading_constant_enumeration_matches_the_polynomial():
    instances = [layer_instance(Network((4, 1), (ConvLayer(1, 2, shared=False),))),
                 layer_instance(Network((3, 3, 1), (ConvLayer(1, 2, shared=False),))),
                 layer_instance(Network((5, 1), (ConvLayer(1, 3, stride=2, shared=False),)))]
    for inst in instances:
        c, degree = R.leading_constant_bruteforce(inst)
        assert degree == inst.union_size
        if importlib.util.find_spec("ilpregions.services.count._polynomial") is not None:
            from ilpregions.services.count._polynomial import region_polynomial
            poly = region_polynomial(inst)
            assert poly.leading == c and poly.degree == degree
    # By hand, input 3, kernel 2: t = (2, 1) or (1, 2) reach U = 3 → c = 1/2 + 1/2.
    c, _ = R.leading_constant_bruteforce(layer_instance(Network((3, 1), (ConvLayer(1, 2, shared=False),))))
    assert c == Fraction(1)


def test_sweeps_file_validation(tmp_path):
    good = tmp_path / "s.toml"
    good.write_text("[depth]\nd = 5\n")
    sweeps = R.load_sweeps(good)
    assert sweeps["depth"]["d"] == 5 and sweeps["depth"]["n0"] == R.DEFAULT_SWEEPS["depth"]["n0"]
    bad = tmp_path / "bad.toml"
    bad.write_text("[dept]\nd = 5\n")
    with pytest.raises(InputError, match="unknown section"):
        R.load_sweeps(bad)
    # The shipped sweeps file is valid and mirrors the defaults.
    assert R.load_sweeps(ROOT / "results" / "report" / "sweeps.toml") == R.DEFAULT_SWEEPS


def test_cli_report_rejects_missing_sweeps(tmp_path):
    out = subprocess.run([sys.executable, "-m", "ilpregions", "report", "--out", str(tmp_path),
                          "--sweeps", str(tmp_path / "none.toml"), "--quiet"],
                         capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert out.returncode == 2 and "no such file" in out.stderr and "none.toml" in out.stderr


# --- safe outputs (issue 13): the library itself writes only regular files, atomically ------------

@pytest.mark.parametrize("name", ["models.csv", "claims.md", "report.md"])
def test_build_report_refuses_a_fifo_in_its_directory(tmp_path, name):
    import os

    from ilpregions.core.safe_io import OutputError

    target = tmp_path / "out" / "report"
    target.mkdir(parents=True)
    os.mkfifo(target / name)
    with pytest.raises(OutputError, match="FIFO"):
        R.build_report(tmp_path / "out", copy.deepcopy(TINY), root=tmp_path, plots=False, progress=False,
                       sections=["models"])
    assert (target / name).exists() and not (target / name).is_file()   # left untouched


def test_write_csv_replaces_a_regular_file_atomically_and_refuses_a_fifo(tmp_path):
    import os

    from ilpregions.core.safe_io import OutputError

    path = tmp_path / "t.csv"
    path.write_text("old\n")
    R.write_csv(path, [{"a": 1, "b": 2}])
    assert path.read_bytes() == b"a,b\r\n1,2\r\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.csv"]        # no temp file left behind
    fifo = tmp_path / "f.csv"
    os.mkfifo(fifo)
    with pytest.raises(OutputError):
        R.write_csv(fifo, [{"a": 1}])

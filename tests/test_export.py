"""Exported models re-solve, from the file alone, to our optimum of Σ t."""

from __future__ import annotations

import pytest

from helpers import MODELS
from ilpregions.backends.highs import lp_max, new_highs
from ilpregions.cli.main import main
from ilpregions.services.check._export import export_model
from ilpregions.core.geometry import layer_instance
from ilpregions.core.spec import ConvLayer, DenseLayer, Network
from ilpregions.core.spec_toml import load

NETS = {
    "3x3 k2": Network((3, 3, 1), (ConvLayer(4, 2),)),
    "3x3x2 k2": Network((3, 3, 2), (ConvLayer(8, 2),)),
    "6 k3": Network((6, 1), (ConvLayer(3, 3),)),
    "4x4 k2": Network((4, 4, 1), (ConvLayer(4, 2),)),
    "padded": Network((3, 3, 1), (ConvLayer(9, 3, padding=1),)),
    "dilated": Network((5, 1), (ConvLayer(2, 2, dilation=2),)),
    "dense": Network((4, 1), (DenseLayer(4),)),
}


def solve_cp_text(path) -> int:
    from ortools.sat.python import cp_model

    model = cp_model.CpModel()
    model.proto.parse_text_format(open(path).read())
    solver = cp_model.CpSolver()
    assert solver.solve(model) == cp_model.OPTIMAL
    return round(solver.objective_value)


def solve_with_highs(path) -> int:
    import highspy

    h = new_highs()
    assert h.readModel(str(path)) == highspy.HighsStatus.kOk
    h.run()
    assert h.getModelStatus() == highspy.HighsModelStatus.kOptimal
    return round(h.getInfo().objective_function_value)


def solve_mps_with_cbc(path) -> int:
    import pulp

    from ilpregions.backends.cbc import solver

    _, problem = pulp.LpProblem.fromMPS(str(path), sense=pulp.LpMaximize)
    problem.solve(solver())
    return round(problem.objective.value())


@pytest.mark.parametrize("name", sorted(NETS))
def test_exports_resolve_to_the_union_size(name, tmp_path):
    inst = layer_instance(NETS[name])
    assert inst.filters >= max(inst.field_sizes)      # then the optimum is |∪S|
    export_model(inst, "cp", tmp_path / "k.txt")
    export_model(inst, "lp", tmp_path / "k.lp")
    export_model(inst, "mps", tmp_path / "k.mps")
    assert solve_cp_text(tmp_path / "k.txt") == inst.union_size
    assert solve_with_highs(tmp_path / "k.lp") == inst.union_size
    assert solve_with_highs(tmp_path / "k.mps") == inst.union_size
    assert solve_mps_with_cbc(tmp_path / "k.mps") == inst.union_size


@pytest.mark.parametrize("name", ["rgb", "paper_4x4", "conv3d", "padded"])
def test_exports_match_the_capped_lp_when_d1_is_small(name, tmp_path):
    # With the d1 cap binding, the optimum is max Σ t over K_N ∩ {t ≤ d1}; the
    # flow LP (integral) computes it independently of the exported rows.
    inst = layer_instance(load(MODELS / f"{name}.toml"))
    expected = round(lp_max(inst, [1] * inst.positions, caps=inst.caps)[0])
    export_model(inst, "cp", tmp_path / "k.txt")
    export_model(inst, "lp", tmp_path / "k.lp")
    assert solve_cp_text(tmp_path / "k.txt") == expected
    assert solve_with_highs(tmp_path / "k.lp") == expected


def test_cli_export(tmp_path, capsys):
    out = tmp_path / "m.mps"
    assert main(["export", str(MODELS / "local_3x3.toml"), "--format", "mps", "-o", str(out)]) == 0
    assert "wrote" in capsys.readouterr().out
    assert solve_with_highs(out) == 9
    with pytest.raises(SystemExit) as exc:          # argparse choices: exit 2
        main(["export", str(MODELS / "local_3x3.toml"), "--format", "xls", "-o", str(out)])
    assert exc.value.code == 2
    assert main(["export", str(MODELS / "two_layer_1d.toml"), "--format", "lp", "-o", str(out)]) == 2

"""Feasibility checks: every backend agrees with an independent Hall test,
and every certificate is valid by a checker written here from the
definitions (it shares no code with ilpregions.services.check._feasibility)."""

from __future__ import annotations

import itertools
import json
import random

import pytest

from helpers import MODELS
from ilpregions import backends
from ilpregions.cli.main import main
from ilpregions.core.errors import ParameterError
from ilpregions.services.check._feasibility import check, shrink_violation, verify
from ilpregions.core.geometry import layer_instance
from ilpregions.core.spec import ConvLayer, Network
from ilpregions.core.spec_toml import load

CHECK_BACKENDS = backends.available_backends(backends.CHECK)
SMALL_MODELS = ["paper_3x3", "rgb", "conv1d", "padded", "dilated", "strided", "conv3d", "dense"]


def fields_as_elements(inst):
    """S_p as explicit sets of (spatial..., channel) tuples, from pixel coords."""
    out = []
    for pixels in inst.fields:
        out.append({tuple(inst.pixel_coords(x)) + (c,) for x in pixels for c in range(inst.channels)})
    return out


def in_k(inst, t) -> bool:
    """Hall's condition over every subset J, by brute force."""
    sets = fields_as_elements(inst)
    n = inst.positions
    for r in range(1, n + 1):
        for subset in itertools.combinations(range(n), r):
            union = set().union(*(sets[p] for p in subset))
            if sum(t[p] for p in subset) > len(union):
                return False
    return True


def assert_certificate(inst, t, result):
    sets = fields_as_elements(inst)
    if result.feasible:
        used = set()
        assert len(result.assignment) == inst.positions
        for p, elements in enumerate(result.assignment):
            elements = [tuple(e) for e in elements]
            assert len(elements) == t[p]
            assert len(set(elements)) == t[p]
            assert set(elements) <= sets[p]
            assert not used & set(elements)
            used |= set(elements)
    else:
        v = result.violated
        positions = list(v.positions)
        assert positions and len(set(positions)) == len(positions)
        union = set().union(*(sets[p] for p in positions))
        assert v.sum == sum(t[p] for p in positions)
        assert v.union == len(union)
        assert v.sum > v.union
        # inclusion-minimal: dropping any one position leaves a non-violated set
        if len(positions) > 1:
            for p in positions:
                rest = [q for q in positions if q != p]
                assert sum(t[q] for q in rest) <= len(set().union(*(sets[q] for q in rest)))


def random_ts(inst, rng, count):
    """A mix of feasible and infeasible t's: near the union limits."""
    sizes = inst.field_sizes
    over = list(sizes)
    over[rng.randrange(len(over))] += 1          # one field over-demanded: never in K_N
    ts = [tuple(0 for _ in sizes), tuple(sizes), tuple(over)]
    for _ in range(count):
        scale = rng.choice([0.3, 0.6, 1.0])
        ts.append(tuple(rng.randint(0, max(0, round(s * scale))) for s in sizes))
    return ts


@pytest.mark.parametrize("name", SMALL_MODELS)
def test_backends_agree_and_certificates_are_valid(name):
    inst = layer_instance(load(MODELS / f"{name}.toml"))
    rng = random.Random(f"check-{name}")   # str seeds are hashed reproducibly, unlike hash()
    seen = set()
    for t in random_ts(inst, rng, 5):
        expected = in_k(inst, t)
        seen.add(expected)
        for backend in CHECK_BACKENDS:
            result = check(inst, t, backend=backend)
            assert result.feasible == expected, (backend, t)
            assert result.backend == backend
            assert_certificate(inst, t, result)
            assert verify(inst, t, result) == []
    assert seen == {True, False} or inst.positions == 1


def test_at_least_four_check_backends_installed():
    assert {"flow", "cpsat", "cbc", "highs"} <= set(CHECK_BACKENDS)


def test_wider_random_instances_flow_vs_brute_force():
    rng = random.Random(7)
    tried = 0
    while tried < 12:
        n = rng.randint(3, 5)
        layer = ConvLayer(filters=3, kernel=rng.randint(2, 3), stride=rng.randint(1, 2),
                          padding=rng.randint(0, 1), shared=False)
        inst = layer_instance(Network((n, n, rng.randint(1, 2)), (layer,)))
        if inst.positions > 10:      # the brute-force Hall test is exponential
            continue
        tried += 1
        for t in random_ts(inst, rng, 3):
            result = check(inst, t)
            assert result.feasible == in_k(inst, t)
            assert_certificate(inst, t, result)


def test_violation_is_small_on_a_larger_grid():
    # One overloaded corner in a 6x6 image: the cut must not return the whole grid.
    inst = layer_instance(Network((6, 6, 1), (ConvLayer(4, 2),)))
    t = [1] * inst.positions
    t[0] = 4
    t[1] = 4
    result = check(inst, t)
    assert not result.feasible
    assert result.violated.positions == (0, 1)
    assert (result.violated.sum, result.violated.union) == (8, 6)


def test_shrink_rejects_a_non_violated_set():
    inst = layer_instance(Network((4, 1), (ConvLayer(2, 2),)))
    with pytest.raises(ValueError):
        shrink_violation(inst, [1, 1, 1], [0, 1, 2])


def test_verify_catches_a_bad_certificate():
    from dataclasses import replace

    inst = layer_instance(Network((3, 3, 1), (ConvLayer(2, 2),)))
    good = check(inst, [1, 1, 1, 1])
    bad = replace(good, assignment=(good.assignment[0],) * 4)
    assert verify(inst, [1, 1, 1, 1], bad)


@pytest.mark.parametrize("bad", [[1, 2, 3], [1, -1, 0, 0], [1, 0.5, 0, 0], [1, "a", 0, 0], [True, 0, 0, 0]])
def test_library_rejects_bad_t(bad):
    """The library names the parameter, not a CLI flag (the CLI maps it to --t)."""
    with pytest.raises(ParameterError, match="^t: ") as caught:
        check(Network((3, 3, 1), (ConvLayer(2, 2),)), bad)
    assert caught.value.parameter == "t" and "--" not in str(caught.value)


@pytest.mark.parametrize("text", ["1,2,3", "1,-1,0,0", "1,1.5,0,0", "1,x,0,0", ""])
def test_cli_bad_t_exits_2_with_one_line(text, capsys):
    code = main(["check", str(MODELS / "paper_3x3.toml"), f"--t={text}"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and "--t" in err


def test_cli_json(capsys):
    code = main(["check", str(MODELS / "paper_3x3.toml"), "--t", "4,4,0,1", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0
    assert out["feasible"] is False and out["assignment"] is None
    assert out["violated"] == {"positions": [0, 1], "sum": 8, "union": 6}
    code = main(["check", str(MODELS / "rgb.toml"), "--t", "3,3,3,3", "--json", "--backend", "highs"])
    out = json.loads(capsys.readouterr().out)
    assert out["feasible"] is True and out["violated"] is None
    assert [len(a) for a in out["assignment"]] == [3, 3, 3, 3]
    assert all(len(e) == 3 for a in out["assignment"] for e in a)   # [row, col, channel]


def test_cli_text_and_unknown_backend(capsys):
    assert main(["check", str(MODELS / "paper_3x3.toml"), "--t", "2,2,2,2"]) == 0
    assert "feasible: yes" in capsys.readouterr().out
    assert main(["check", str(MODELS / "paper_3x3.toml"), "--t", "2,2,2,2", "--backend", "nope"]) == 2
    assert "valid backends" in capsys.readouterr().err


def test_cli_rejects_multilayer(capsys):
    assert main(["check", str(MODELS / "two_layer_1d.toml"), "--t", "1,1,1"]) == 2


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_readme_setup_has_a_working_cbc():
    import pulp

    assert pulp.PULP_CBC_CMD(msg=False).available()
    problem = pulp.LpProblem("tiny", pulp.LpMaximize)
    x = pulp.LpVariable("x", 0, 3, pulp.LpInteger)
    problem += x
    problem.solve(pulp.PULP_CBC_CMD(msg=False))
    assert x.value() == 3


@pytest.mark.parametrize("backend", ["cpsat", "flow"])
@pytest.mark.parametrize("entry", ["9223372036854775808", "1" * 5000], ids=["2**63", "5000-digits"])
def test_check_refuses_t_entries_beyond_64_bits(cli, tmp_path, backend, entry):
    spec = tmp_path / "m.toml"
    spec.write_text('input = [4, 1]\n[[layers]]\ntype = "conv"\nfilters = 2\nkernel = 2\n')
    code, out, err = cli("check", spec, "--t", f"{entry},1,1", "--backend", backend)
    assert code == 2 and out == "" and err.count("\n") == 1
    assert "--t: entry 1 " in err and "over the limit of 9223372036854775807" in err and len(err) < 300


def test_a_position_reading_only_padding_is_its_own_violated_set():
    # Found by the fuzz suite: t_p > 0 on an all-padding field crashed the certificate (exit 70).
    from ilpregions.core.spec import ConvLayer, Network
    from ilpregions.services.check._feasibility import check

    net = Network((1, 1), (ConvLayer(1, 2, stride=2, padding=2),))   # fields: {} and {0}
    for backend in ("flow", "cpsat"):
        got = check(net, [1, 0], backend=backend)
        assert not got.feasible and got.violated.positions == (0,) and got.violated.union == 0

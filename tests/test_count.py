"""Theorem-1 counts: cpsat and bruteforce against each other and the reference values."""

from __future__ import annotations

import json
import random
from math import comb

import pytest

from ilpregions.backends import cpsat
from ilpregions.cli.main import main
from ilpregions.services.count._theorem1 import count_regions
from ilpregions.core.errors import InputError, TooLargeError, UnknownBackendError
from ilpregions.core.geometry import layer_instance
from ilpregions.core.spec import ConvLayer, DenseLayer, Network

from helpers import MODELS, case_network

BRUTEFORCE_FEASIBLE = 5_000_000  # box points the reference cases may need


def _box(case):
    inst = layer_instance(case_network(case))
    size = 1
    for c in inst.caps:
        size *= c + 1
    return size


@pytest.mark.parametrize("backend", ["cpsat", "bruteforce"])
def test_reference_values(theorem1_case, backend):
    inst = layer_instance(case_network(theorem1_case))
    assert inst.union_size == theorem1_case["union_size"]
    assert inst.positions == theorem1_case["positions"]
    if backend == "bruteforce" and _box(theorem1_case) > BRUTEFORCE_FEASIBLE:
        with pytest.raises(TooLargeError):
            count_regions(inst, backend=backend)
        return
    if backend == "cpsat" and (inst.positions > 9 or max(inst.caps) > 6):
        pytest.skip("over 10^6 CP-SAT solutions: covered by the dp backend and the slow suite")
    result = count_regions(inst, backend=backend)
    assert result.exact
    assert result.regions == int(theorem1_case["regions"])


@pytest.mark.slow
def test_reference_values_large_with_cpsat(theorem1_case):
    inst = layer_instance(case_network(theorem1_case))
    if inst.positions > 9 or (inst.positions == 9 and min(inst.caps) > 6):
        # 5×5×1 cases: over 10^7 t-vectors; CP-SAT enumerated ~1.4M solutions a
        # minute here. They are covered by dp, and sandwiched by lp_bounds.
        pytest.skip("beyond CP-SAT enumeration in minutes")
    result = count_regions(inst, backend="cpsat")
    assert result.regions == int(theorem1_case["regions"])


def test_backends_agree_on_t_vectors_too(theorem1_case):
    if _box(theorem1_case) > 300_000:
        pytest.skip("bruteforce reference too slow for the quick suite")
    net = case_network(theorem1_case)
    a = count_regions(net, backend="cpsat")
    b = count_regions(net, backend="bruteforce")
    assert (a.regions, a.t_vectors) == (b.regions, b.t_vectors)


@pytest.mark.parametrize("seed", range(12))
def test_random_geometries_cpsat_equals_bruteforce(seed):
    rng = random.Random(100 + seed)
    axes = rng.randint(1, 2)
    kernel = tuple(rng.randint(1, 3) for _ in range(axes))
    sizes = tuple(rng.randint(k, k + 2) for k in kernel)
    net = Network(sizes + (rng.randint(1, 2),),
                  (ConvLayer(rng.randint(1, 3), kernel, stride=tuple(rng.randint(1, 2) for _ in kernel),
                             padding=tuple(rng.randint(0, 1) for _ in kernel)),))
    inst = layer_instance(net)
    box = 1
    for c in inst.caps:
        box *= c + 1
    if box > 400_000 or inst.positions > 12:
        pytest.skip("box too large for bruteforce")
    a = count_regions(net, backend="cpsat")
    b = count_regions(net, backend="bruteforce")
    assert a.regions == b.regions and a.t_vectors == b.t_vectors


def test_projection_does_not_change_the_count():
    inst = layer_instance(Network((4, 4, 1), (ConvLayer(2, 2),)))
    projected = cpsat.count(inst)
    flat = cpsat.count(inst, project=False)
    assert projected.regions == flat.regions == count_regions(inst, backend="bruteforce").regions
    assert projected.t_vectors == flat.t_vectors == flat.solutions
    assert projected.solutions < flat.solutions  # the point of projecting


def test_no_t_counted_twice_or_lost_with_presolve():
    """Presolve is where CP-SAT enumeration has returned repeats (OR-Tools #4640)."""
    inst = layer_instance(Network((3, 3, 2), (ConvLayer(5, 2),)))
    reference = count_regions(inst, backend="bruteforce")
    for presolve, project in [(True, False), (True, True), (False, False)]:
        got = cpsat.count(inst, presolve=presolve, project=project)
        assert got.t_vectors == reference.t_vectors
        assert got.regions == reference.regions
        if not project:
            assert got.solutions == reference.t_vectors


def test_several_workers_are_refused():
    """With 2 workers OR-Tools lost and repeated solutions yet reported OPTIMAL."""
    inst = layer_instance(Network((3, 3, 2), (ConvLayer(5, 2),)))
    with pytest.raises(InputError, match="one worker"):
        cpsat.count(inst, workers=2)


def test_accumulator_ignores_a_repeated_solution():
    inst = layer_instance(Network((4, 1), (ConvLayer(2, 2),)))
    inner = cpsat._ProjectedSum(inst, [], [0, 1, 2], [])
    binom = [comb(2, i) for i in range(3)]
    acc = cpsat.Accumulator(binom, inner)
    assert acc.add((1, 1, 0)) is True
    assert acc.add((1, 1, 0)) is False
    assert (acc.total, acc.solutions, acc.duplicates, acc.t_vectors) == (4, 1, 1, 1)


def test_dense_is_pascanu():
    for n0, n1 in [(4, 6), (3, 2), (5, 5)]:
        result = count_regions(Network((n0, 1), (DenseLayer(n1),)), backend="cpsat")
        assert result.regions == sum(comb(n1, i) for i in range(n0 + 1))


def test_fields_that_do_not_overlap_multiply():
    net = Network((16, 16, 1), (ConvLayer(8, 2, stride=2),))
    result = count_regions(net, backend="cpsat")
    assert result.regions == sum(comb(8, i) for i in range(5)) ** 64
    assert result.t_vectors == 5 ** 64


def test_unknown_backend_raises_with_list():
    with pytest.raises(UnknownBackendError) as info:
        count_regions(Network((4, 1), (ConvLayer(2, 2),)), backend="nope")
    assert "cpsat" in str(info.value)


def test_time_limit_gives_partial_lower_bound():
    inst = layer_instance(Network((5, 5, 1), (ConvLayer(9, 3),)))
    result = count_regions(inst, backend="cpsat", time_limit=0.5)
    assert not result.exact and result.status == "time_limit"
    assert 0 <= result.regions < 803596022979526818736


EXPECTED_KEYS = {"regions", "exact", "backend", "t_vectors", "union_size", "positions", "seconds"}


@pytest.mark.parametrize("backend", ["cpsat", "bruteforce"])
def test_cli_json_keys(capsys, backend):
    code = main(["count", str(MODELS / "paper_3x3.toml"), "--json", "--quiet", "--backend", backend])
    data = json.loads(capsys.readouterr().out)
    assert code == 0
    assert EXPECTED_KEYS <= set(data)
    assert data["regions"] == "256" and data["exact"] is True and data["backend"] == backend
    assert data["t_vectors"] == 81 and data["union_size"] == 9 and data["positions"] == 4
    assert "upper bound" in data["note"] and "strictly smaller" in data["note"]


def test_cli_local_layer_has_no_sharing_note(capsys):
    assert main(["count", str(MODELS / "local_3x3.toml"), "--json", "--quiet", "--backend", "cpsat"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["regions"] == "48957" and "note" not in data


def test_cli_text_output(capsys):
    assert main(["count", str(MODELS / "conv1d.toml"), "--quiet", "--backend", "cpsat"]) == 0
    out = capsys.readouterr().out
    assert "regions: 2289" in out and "cpsat" in out and "upper bound for" not in out.split("note")[0]


def test_cli_time_limit_exit_3_says_at_least(tmp_path, capsys):
    spec = tmp_path / "big.toml"
    spec.write_text('input = [5, 5, 1]\n[[layers]]\ntype = "local"\nfilters = 9\nkernel = 3\n')
    code = main(["count", str(spec), "--backend", "cpsat", "--time-limit", "1.5"])
    captured = capsys.readouterr()
    assert code == 3
    assert "at least" in captured.out
    assert "count[cpsat]" in captured.err  # the progress bar, shown after a second
    code = main(["count", str(spec), "--backend", "cpsat", "--time-limit", "0.3", "--json", "--quiet"])
    data = json.loads(capsys.readouterr().out)
    assert code == 3 and data["exact"] is False and int(data["regions"]) >= 0


# -- registered variants: selectable wherever a counting backend is ------------------------

@pytest.mark.parametrize("variant", ["cpsat-binary", "cpsat-rows"])
def test_count_variants_are_registered_and_agree(variant, cli):
    from ilpregions import backends
    from ilpregions.backends.protocols import CountBackend

    assert variant in backends.backend_names(backends.COUNT)
    assert isinstance(backends.load(variant, backends.COUNT), CountBackend)
    path = MODELS / "paper_3x3.toml"
    code, out, err = cli("count", path, "--backend", variant, "--json")
    assert code == 0, err
    result = json.loads(out)
    assert result["backend"] == variant and result["regions"] == "256" and result["exact"] is True
    assert variant in cli("count", "--help")[1]


def test_cpsat_binary_counts_solutions_and_rows_does_not_project():
    inst = layer_instance(Network((4, 1), (ConvLayer(2, 2),)))
    binary = count_regions(inst, backend="cpsat-binary")
    rows = count_regions(inst, backend="cpsat-rows")
    plain = count_regions(inst, backend="cpsat")
    assert binary.regions == rows.regions == plain.regions == 55
    assert binary.solutions == 55 and binary.t_vectors is None      # one solution per neuron set
    assert rows.solutions == rows.t_vectors                          # every t enumerated by CP-SAT
    assert plain.solutions < plain.t_vectors                         # projected positions summed in bulk


def test_a_layer_too_large_to_count_gets_its_proven_bounds(cli):
    """count on a CIFAR-size layer: the proven bounds on its Theorem-1 value instead of a refusal (exit 3)."""
    import json

    code, out, err = cli("count", "models/cifar_conv.toml", "--json", "--quiet", "--time-limit", "2")
    data = json.loads(out)
    assert code == 3 and data["status"] == "bounds_only" and data["regions"] is None and not data["exact"]
    assert "frontier" in data["refused"] and data["quantity"] == "theorem1"
    low, up = int(data["bounds"]["lower"]), int(data["bounds"]["upper"])
    assert 10 ** 2800 < low < up < 10 ** 3500
    code, out, _ = cli("count", "models/cifar_conv.toml", "--quiet", "--time-limit", "1")
    assert code == 3 and "regions: not counted exactly" in out and "lower: " in out and "upper: " in out


def test_the_bounds_instead_of_a_count_bracket_the_count(monkeypatch):
    """Where the engine is made to refuse, the bounds printed instead bracket the exact count."""
    from ilpregions.core.errors import TooLargeError
    from ilpregions.services.count import _model, count_model

    for net in (Network((4, 4, 1), (ConvLayer(2, 2),)), Network((5, 5, 2), (ConvLayer(3, 3, padding=1),)),
                Network((6, 1), (ConvLayer(3, 2, stride=2, shared=False),))):
        exact = count_regions(net).regions

        def refuse(*args, **kwargs):
            raise TooLargeError("dp: refused for the test")

        monkeypatch.setattr(_model, "count_regions", refuse)
        out = count_model(net, bounds_if_too_large=True)
        monkeypatch.undo()
        assert out.count is None and out.refused == "dp: refused for the test"
        assert out.bounds.lower <= exact <= out.bounds.upper, (net, exact, out.bounds.lower, out.bounds.upper)
        with pytest.raises(TooLargeError):
            monkeypatch.setattr(_model, "count_regions", refuse)
            count_model(net)
        monkeypatch.undo()

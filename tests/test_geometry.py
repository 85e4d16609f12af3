"""Receptive fields, unions and the pruned union rows, against direct definitions."""

from __future__ import annotations

import itertools
import json
import random

import numpy as np
import pytest

from ilpregions.cli.main import main
from ilpregions.core.geometry import layer_instance
from ilpregions.core.set_system import components, essential_unions, is_trivial
from ilpregions.core.spec import ConvLayer, DenseLayer, Network

from helpers import MODELS


def direct_field(net, pos):
    """S_p straight from docs/math.md#receptive-fields: x_i = p_i s_i − P_i + a_i δ_i inside the input."""
    layer = net.layers[0]
    spatial = net.input_shape[:-1]
    cells = set()
    for offsets in itertools.product(*(range(k) for k in layer.kernel)):
        x = tuple(p * s - pad + a * d for p, s, pad, a, d in
                  zip(pos, layer.stride, layer.padding, offsets, layer.dilation))
        if all(0 <= xi < n for xi, n in zip(x, spatial)):
            cells.add(x)
    return cells


def random_net(rng):
    axes = rng.randint(1, 3)
    kernel = tuple(rng.randint(1, 3) for _ in range(axes))
    stride = tuple(rng.randint(1, 2) for _ in range(axes))
    dilation = tuple(rng.randint(1, 2) for _ in range(axes))
    padding = tuple(rng.randint(0, 1) for _ in range(axes))
    sizes = tuple(max(rng.randint(1, 5), d * (k - 1) + 1 - 2 * p)
                  for k, d, p in zip(kernel, dilation, padding))
    return Network(sizes + (rng.randint(1, 3),), (ConvLayer(rng.randint(1, 4), kernel, stride, padding, dilation),))


@pytest.mark.parametrize("seed", range(40))
def test_fields_match_definition_row_major(seed):
    net = random_net(random.Random(seed))
    inst = layer_instance(net)
    out = net.output_shapes()[0][:-1]
    assert inst.output_spatial == out
    for p, pos in enumerate(itertools.product(*(range(n) for n in out))):  # row-major
        assert inst.position_coords(p) == pos
        assert {inst.pixel_coords(x) for x in inst.fields[p]} == direct_field(net, pos)
        assert inst.field_sizes[p] == len(direct_field(net, pos)) * net.input_shape[-1]


def test_padded_cells_are_not_elements_and_fields_can_be_empty():
    net = Network((3, 1), (ConvLayer(2, 1, padding=2),))  # outputs at -2..4 : 7 positions
    inst = layer_instance(net)
    assert inst.positions == 7
    assert [len(f) for f in inst.fields] == [0, 0, 1, 1, 1, 0, 0]
    assert inst.union_size == 3
    assert components(inst) == [[2], [3], [4]]


def test_dense_is_one_position_seeing_everything():
    inst = layer_instance(Network((2, 3, 2), (DenseLayer(5),)))
    assert inst.positions == 1 and inst.field_sizes == (12,) and inst.caps == (5,)


def test_coverage_is_submodular_on_a_grid():
    inst = layer_instance(Network((4, 4, 2), (ConvLayer(3, 2),)))
    rng = random.Random(1)
    for _ in range(200):
        a = set(rng.sample(range(inst.positions), rng.randint(0, 5)))
        b = set(rng.sample(range(inst.positions), rng.randint(0, 5)))
        assert inst.coverage(a | b) + inst.coverage(a & b) <= inst.coverage(a) + inst.coverage(b)


@pytest.mark.parametrize("seed", range(25))
def test_essential_rows_define_the_same_set_as_all_rows(seed):
    """Dropping split and non-closed J never changes K_N (checked on random t)."""
    rng = random.Random(seed)
    net = random_net(rng)
    inst = layer_instance(net)
    if inst.positions > 10:
        pytest.skip("too many subsets for the all-rows reference")
    positions = [p for p in range(inst.positions) if inst.fields[p]]
    all_rows = [(J, inst.coverage(J)) for r in range(1, len(positions) + 1)
                for J in itertools.combinations(positions, r)]
    kept = essential_unions(inst)
    assert len(kept) <= len(all_rows)
    nprng = np.random.default_rng(seed)
    for _ in range(300):
        t = {p: int(nprng.integers(0, inst.field_sizes[p] + 1)) for p in positions}
        full = all(sum(t[p] for p in J) <= g for J, g in all_rows)
        pruned = all(sum(t[p] for p in J) <= g for J, g in kept)
        assert full == pruned


def test_trivial_geometry_detected():
    assert is_trivial(layer_instance(Network((4, 4, 1), (ConvLayer(2, 2, stride=2),))))
    assert not is_trivial(layer_instance(Network((3, 3, 1), (ConvLayer(2, 2),))))


def test_geometry_command_json(capsys):
    code = main(["geometry", str(MODELS / "paper_3x3.toml"), "--json", "--coverage", "0,3", "--coverage", "0,1,2,3"])
    assert code == 0
    data = json.loads(capsys.readouterr().out)
    layer = data["layers"][0]
    assert layer["output_shape"] == [2, 2, 2] and layer["positions"] == 4 and layer["union_size"] == 9
    assert layer["receptive_fields"][1] == [[0, 1], [0, 2], [1, 1], [1, 2]]
    assert data["coverage"] == [{"positions": [0, 3], "union": 7}, {"positions": [0, 1, 2, 3], "union": 9}]


def test_geometry_command_text_and_bad_coverage(capsys):
    assert main(["geometry", str(MODELS / "padded.toml")]) == 0
    out = capsys.readouterr().out
    assert "9 positions" in out and "S_0 at (0, 0): 4 elements" in out
    assert main(["geometry", str(MODELS / "paper_3x3.toml"), "--coverage", "0,9"]) == 2
    assert "out of range" in capsys.readouterr().err


def test_all_fields_at_once_equal_one_field_at_a_time():
    # conv_instance builds every field with numpy; receptive_field is the plain per-position definition.
    from ilpregions.core.geometry import _all_fields, output_shape, receptive_field

    rng = random.Random(3)
    checked = 0
    while checked < 300:
        dims = rng.randint(1, 3)
        spatial = tuple(rng.randint(1, 7) for _ in range(dims))
        options = [tuple(rng.randint(lo, hi) for _ in range(dims)) for lo, hi in ((1, 4), (1, 3), (0, 3), (1, 3))]
        try:
            net = Network(spatial + (2,), (ConvLayer(2, options[0], stride=options[1], padding=options[2],
                                                     dilation=options[3]),))
        except Exception:
            continue
        layer = net.layers[0]
        out = output_shape(spatial + (2,), layer)
        if 0 in out:
            continue
        plain = tuple(receptive_field(spatial, layer, p) for p in itertools.product(*(range(n) for n in out)))
        assert _all_fields(spatial, layer, out) == plain
        checked += 1


def test_the_tap_grid_is_read_only_and_kept_only_while_small():
    from ilpregions.core import geometry

    layer = Network((9, 9, 1), (ConvLayer(1, 3, padding=1),)).layers[0]
    ids, inside = geometry.field_grid((9, 9), layer, (9, 9))
    assert not ids.flags.writeable and not inside.flags.writeable
    assert geometry.field_grid((9, 9), layer, (9, 9))[0] is ids          # cached
    big = Network((400, 300, 1), (ConvLayer(1, 3),)).layers[0]          # 118,404 x 9 pairs
    assert geometry.field_grid((400, 300), big, (398, 298))[0] is not geometry.field_grid(
        (400, 300), big, (398, 298))[0]

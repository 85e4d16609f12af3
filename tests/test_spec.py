"""Spec loading and validation: every bad input is one line, exit code 2, naming the field."""

from __future__ import annotations


import pytest

from ilpregions.cli.main import main
from ilpregions.core.errors import SpecError
from ilpregions.core.spec import ConvLayer, DenseLayer, MaxPoolLayer, Network
from ilpregions.core.spec_toml import dumps, load, loads

from helpers import MODELS

GOOD = 'input = [3, 3, 1]\n[[layers]]\ntype = "conv"\nfilters = 2\nkernel = [2, 2]\n'


def test_every_shipped_model_loads_and_round_trips():
    paths = sorted(MODELS.glob("*.toml"))
    assert len(paths) >= 8
    for path in paths:
        net = load(path)
        assert loads(dumps(net)) == net, path


def test_shipped_models_cover_the_required_settings():
    nets = [load(p) for p in MODELS.glob("*.toml")]
    layers = [(n, n.layers[0]) for n in nets]
    assert any(n.spatial_axes == 1 for n, _ in layers)
    assert any(n.spatial_axes == 2 for n, _ in layers)
    assert any(n.spatial_axes == 3 for n, _ in layers)
    convs = [l for _, l in layers if isinstance(l, ConvLayer)]
    assert any(max(l.stride) > 1 for l in convs)
    assert any(max(l.padding) > 0 for l in convs)
    assert any(max(l.dilation) > 1 for l in convs)
    assert any(n.input_shape[-1] > 1 for n, _ in layers)
    assert any(isinstance(l, DenseLayer) for _, l in layers)


def test_int_options_expand_per_axis_and_defaults():
    net = loads('input = [5, 4, 2]\n[[layers]]\ntype = "local"\nfilters = 3\nkernel = 3\npadding = [1, 0]\n')
    layer = net.layers[0]
    assert layer.kernel == (3, 3) and layer.stride == (1, 1) and layer.padding == (1, 0)
    assert layer.dilation == (1, 1) and layer.type == "local"
    assert net.output_shapes() == ((5, 2, 3),)


def test_output_shape_formula_with_stride_padding_dilation():
    # floor((n + 2P − δ(f − 1) − 1)/s) + 1 on each axis
    net = Network((11, 7, 1), (ConvLayer(4, (3, 2), stride=(2, 3), padding=(1, 2), dilation=(2, 1)),))
    assert net.output_shapes()[0] == ((11 + 2 - 4 - 1) // 2 + 1, (7 + 4 - 1 - 1) // 3 + 1, 4)


def test_stack_shapes_and_dense_after_conv():
    net = Network((6, 6, 1), (ConvLayer(2, 3), MaxPoolLayer(2), DenseLayer(5)))
    assert net.output_shapes() == ((4, 4, 2), (2, 2, 2), (5,))


BAD_SPECS = [
    ("syntax", 'input = [3, 3, 1\n', "TOML syntax error"),
    ("typo", 'input = [3, 3, 1]\n[[layers]]\ntype = "conv"\nfilter = 2\nkernel = 2\n', "did you mean 'filters'"),
    ("top typo", 'inputs = [3, 1]\n', "unknown key 'inputs'"),
    ("wrong type", 'input = [3, 3, 1]\n[[layers]]\ntype = "conv"\nfilters = "2"\nkernel = 2\n', "layers[0].filters"),
    ("bool", 'input = [3, 3, 1]\n[[layers]]\ntype = "conv"\nfilters = true\nkernel = 2\n', "layers[0].filters"),
    ("zero size", 'input = [0, 3, 1]\n[[layers]]\ntype = "conv"\nfilters = 2\nkernel = 2\n', "input[0]"),
    ("negative size", 'input = [3, -3, 1]\n[[layers]]\ntype = "conv"\nfilters = 2\nkernel = 2\n', "input[1]"),
    ("kernel length", 'input = [3, 3, 1]\n[[layers]]\ntype = "conv"\nfilters = 2\nkernel = [2, 2, 2]\n',
     "layers[0].kernel"),
    ("kernel too big", 'input = [3, 3, 1]\n[[layers]]\ntype = "conv"\nfilters = 2\nkernel = 4\n', "no output position"),
    ("zero filters", 'input = [3, 3, 1]\n[[layers]]\ntype = "conv"\nfilters = 0\nkernel = 2\n', "layers[0].filters"),
    ("negative stride", 'input = [3, 3, 1]\n[[layers]]\ntype = "conv"\nfilters = 2\nkernel = 2\nstride = -1\n',
     "layers[0].stride"),
    ("unknown type", 'input = [3, 3, 1]\n[[layers]]\ntype = "convolution"\nfilters = 2\nkernel = 2\n', "layers[0].type"),
    ("no layers", 'input = [3, 3, 1]\n', "layers"),
    ("missing kernel", 'input = [3, 3, 1]\n[[layers]]\ntype = "conv"\nfilters = 2\n', "layers[0].kernel"),
    ("conv after dense", 'input = [3, 1]\n[[layers]]\ntype = "dense"\nunits = 2\n[[layers]]\ntype = "conv"\n'
                         'filters = 2\nkernel = 1\n', "flat"),
]


@pytest.mark.parametrize("label,text,needle", BAD_SPECS, ids=[b[0] for b in BAD_SPECS])
def test_bad_spec_is_one_line_exit_2(tmp_path, capsys, label, text, needle):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(SpecError) as info:
        load(path)
    assert needle in str(info.value)
    code = main(["count", str(path), "--quiet"])
    out, err = capsys.readouterr()
    assert code == 2
    assert out == ""
    assert len(err.strip().splitlines()) == 1, err
    assert str(path) in err and needle in err


def test_missing_and_unreadable_files(tmp_path, capsys):
    assert main(["count", str(tmp_path / "nope.toml")]) == 2
    err = capsys.readouterr().err
    assert "nope.toml" in err and "no such file" in err and len(err.strip().splitlines()) == 1
    assert main(["geometry", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "is a directory" in err and len(err.strip().splitlines()) == 1
    binary = tmp_path / "binary.toml"
    binary.write_bytes(b"\xff\xfe\x00bad")
    assert main(["count", str(binary)]) == 2
    assert "cannot read" in capsys.readouterr().err


def test_unknown_backend_lists_valid_ones(capsys):
    code = main(["count", str(MODELS / "paper_3x3.toml"), "--backend", "gurobi"])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "gurobi" in err and "cpsat" in err and "bruteforce" in err


def test_bad_time_limit_is_one_line(capsys):
    with pytest.raises(SystemExit) as info:
        main(["count", str(MODELS / "paper_3x3.toml"), "--time-limit", "-1"])
    assert info.value.code == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


def test_multi_layer_model_points_to_bounds(capsys):
    code = main(["count", str(MODELS / "two_layer_1d.toml")])
    err = capsys.readouterr().err
    assert code == 2 and "one conv/local/dense layer" in err and "bounds" in err


def test_dumps_round_trips_names_with_quotes_and_control_characters():
    # The hand-written writer this replaced emitted invalid TOML for a newline in the name.
    from ilpregions.core.spec_toml import dumps, loads

    network = Network((4, 1), (ConvLayer(2, 2),), name='a "quoted"\nname\twith \\ escapes')
    assert loads(dumps(network)) == network

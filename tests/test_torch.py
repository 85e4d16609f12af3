"""PyTorch import: nn.Sequential -> spec + weights, checked against torch's own forward pass."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
nn = torch.nn

from ilpregions.core.errors import InputError  # noqa: E402
from ilpregions.core.forward import forward  # noqa: E402  (another module's numpy forward pass)
from ilpregions.core.spec import ConvLayer, DenseLayer, MaxPoolLayer, Network
from ilpregions.core.spec_toml import dumps, loads
from ilpregions.services.torch._convert import (ImportedNetwork, architecture, build_module, from_torch,  # noqa: E402
                                     load_file, save)

from helpers import TIED_CASES  # noqa: E402


def torch_output_channels_last(model, x_torch):
    """Run torch (float64) and reorder its output to our flat channels-last layout."""
    with torch.no_grad():
        out = model.double()(x_torch)
    if out.dim() > 2:
        out = out.permute(0, *range(2, out.dim()), 1)
    return out.reshape(out.shape[0], -1).numpy()


def assert_same_function(model, input_shape, imported: ImportedNetwork, samples=64, seed=0):
    """Our network with the imported weights computes what torch computes."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(samples, *input_shape)) * rng.choice([0.1, 1.0, 10.0], size=(samples,) + (1,) * len(input_shape))
    ours_in = np.moveaxis(x, 1, -1).reshape(samples, -1) if len(input_shape) > 1 else x
    ours = forward(imported.network, imported.weights, ours_in)
    theirs = torch_output_channels_last(model, torch.from_numpy(x))
    assert ours.shape == theirs.shape
    np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-10)


def seeded(model, seed=0):
    torch.manual_seed(seed)
    for p in model.parameters():
        nn.init.normal_(p)
    return model.double().eval()


# ---------------------------------------------------------------------------
# Round trips: spec, TOML, and the function itself
# ---------------------------------------------------------------------------

CASES = [
    ("conv1d", lambda: nn.Sequential(nn.Conv1d(1, 2, 2), nn.ReLU()), (1, 4),
     Network((4, 1), (ConvLayer(2, 2),))),
    ("conv2d+flatten+linear", lambda: nn.Sequential(nn.Conv2d(2, 3, 2), nn.ReLU(), nn.Flatten(),
                                                     nn.Linear(3 * 3 * 2, 4), nn.ReLU()), (2, 4, 3),
     Network((4, 3, 2), (ConvLayer(3, 2), DenseLayer(4)))),
    ("stride/padding/dilation, no bias", lambda: nn.Sequential(
        nn.Conv2d(3, 2, (3, 2), stride=(2, 1), padding=(1, 2), dilation=(1, 2), bias=False), nn.ReLU()),
     (3, 5, 6), Network((5, 6, 3), (ConvLayer(2, (3, 2), stride=(2, 1), padding=(1, 2), dilation=(1, 2)),))),
    ("conv3d", lambda: nn.Sequential(nn.Conv3d(2, 2, 2, stride=(1, 2, 1)), nn.ReLU()), (2, 3, 4, 3),
     Network((3, 4, 3, 2), (ConvLayer(2, 2, stride=(1, 2, 1)),))),
    ("maxpool", lambda: nn.Sequential(nn.Conv2d(1, 2, 2), nn.ReLU(), nn.MaxPool2d(2, stride=1, padding=1)),
     (1, 4, 4), Network((4, 4, 1), (ConvLayer(2, 2), MaxPoolLayer(2, 1, 1)))),
    ("maxpool1d default stride + same padding", lambda: nn.Sequential(
        nn.Conv1d(2, 3, 3, padding="same"), nn.ReLU(), nn.MaxPool1d(2)), (2, 6),
     Network((6, 2), (ConvLayer(3, 3, padding=1), MaxPoolLayer(2)))),
    ("redundant ReLU after pooling", lambda: nn.Sequential(
        nn.Conv2d(1, 2, 2), nn.ReLU(inplace=True), nn.MaxPool2d(2, 1), nn.ReLU(), nn.Flatten(), nn.ReLU(),
        nn.Linear(8, 2), nn.ReLU()), (1, 4, 4),
     Network((4, 4, 1), (ConvLayer(2, 2), MaxPoolLayer(2, 1), DenseLayer(2)))),
    ("mlp", lambda: nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2), nn.ReLU()), (4,),
     Network((4,), (DenseLayer(3), DenseLayer(2)))),
    ("nested + dropout + identity", lambda: nn.Sequential(
        nn.Sequential(nn.Conv1d(1, 2, 2), nn.Dropout(0.3), nn.ReLU()), nn.Identity(), nn.Flatten(),
        nn.Linear(6, 2), nn.ReLU()), (1, 4), Network((4, 1), (ConvLayer(2, 2), DenseLayer(2)))),
]


@pytest.mark.parametrize("name, make, shape, expected", CASES, ids=[c[0] for c in CASES])
def test_round_trip(name, make, shape, expected):
    model = seeded(make())
    imported = from_torch(model, shape)
    assert imported.network == expected
    assert loads(dumps(imported.network)) == expected
    assert_same_function(model, shape, imported)


def test_linear_after_flatten_is_permuted_to_channels_last():
    # With C > 1 and H*W > 1 a wrong column order changes the function; check it does matter.
    model = seeded(nn.Sequential(nn.Conv2d(1, 2, 1), nn.ReLU(), nn.Flatten(), nn.Linear(8, 1), nn.ReLU()))
    imported = from_torch(model, (1, 2, 2))
    w_torch = model[3].weight.detach().numpy().reshape(2, 2, 2)  # (C, H, W)
    np.testing.assert_array_equal(imported.weights["layers.1.weight"].reshape(2, 2, 2),
                                  np.moveaxis(w_torch, 0, -1))  # (H, W, C)
    assert_same_function(model, (1, 2, 2), imported)


def test_batchnorm_is_folded_exactly():
    model = nn.Sequential(nn.Conv2d(2, 3, 2), nn.BatchNorm2d(3), nn.ReLU(), nn.Flatten(),
                          nn.Linear(3 * 2 * 2, 2), nn.BatchNorm1d(2, affine=False), nn.ReLU())
    seeded(model, seed=3)
    for bn in (model[1], model[5]):
        bn.running_mean.normal_()
        bn.running_var.uniform_(0.5, 2.0)
    model.eval()
    imported = from_torch(model, (2, 3, 3))
    assert imported.network == Network((3, 3, 2), (ConvLayer(3, 2), DenseLayer(2)))
    assert_same_function(model, (2, 3, 3), imported, seed=1)
    # folding keeps the layer count and names: no BatchNorm weights leak in
    assert sorted(imported.weights) == ["layers.0.bias", "layers.0.weight", "layers.1.bias", "layers.1.weight"]


def test_drop_head():
    model = seeded(nn.Sequential(nn.Conv1d(1, 2, 2), nn.ReLU(), nn.Flatten(), nn.Linear(6, 3)))
    with pytest.raises(InputError, match=r"layer 3 \(Linear\) is the last layer and has no ReLU"):
        from_torch(model, (1, 4))
    imported = from_torch(model, (1, 4), drop_head=True)
    assert imported.network == Network((4, 1), (ConvLayer(2, 2),))
    assert any("layer 3 (Linear)" in d for d in imported.dropped)
    assert_same_function(model[:2], (1, 4), imported)


# ---------------------------------------------------------------------------
# Refusals name the layer
# ---------------------------------------------------------------------------

REFUSALS = [
    (lambda: nn.Sequential(nn.Conv2d(2, 2, 2, groups=2), nn.ReLU()), (2, 3, 3), r"layer 0 \(Conv2d\): groups=2; the spec format has only groups=1.*`slice_network\(\)`"),
    (lambda: nn.Sequential(nn.Conv1d(1, 2, 2), nn.Tanh()), (1, 4), r"layer 1 \(Tanh\): only ReLU"),
    (lambda: nn.Sequential(nn.Linear(3, 2), nn.LeakyReLU()), (3,), r"layer 1 \(LeakyReLU\): only ReLU"),
    (lambda: nn.Sequential(nn.Conv2d(1, 2, 2), nn.GELU()), (1, 3, 3), r"layer 1 \(GELU\): only ReLU"),
    (lambda: nn.Sequential(nn.Conv2d(1, 2, 3, padding=1, padding_mode="reflect"), nn.ReLU()), (1, 3, 3),
     r"layer 0 \(Conv2d\): padding_mode='reflect'"),
    (lambda: nn.Sequential(nn.Conv2d(1, 2, 2), nn.ReLU(), nn.BatchNorm2d(2)), (1, 3, 3),
     r"layer 2 \(BatchNorm2d\): BatchNorm can only be folded"),
    (lambda: nn.Sequential(nn.Conv2d(1, 2, 2), nn.MaxPool2d(2), nn.ReLU()), (1, 3, 3),
     r"layer 0 \(Conv2d\) is not followed by a ReLU \(next: layer 1 \(MaxPool2d\)\)"),
    (lambda: nn.Sequential(nn.Conv2d(1, 2, 2), nn.ReLU(), nn.Linear(2, 2), nn.ReLU()), (1, 3, 3),
     r"layer 2 \(Linear\): .*add nn.Flatten"),
    (lambda: nn.Sequential(nn.Conv2d(1, 2, 2), nn.ReLU(), nn.AvgPool2d(2)), (1, 3, 3),
     r"layer 2 \(AvgPool2d\): the spec format has no average pooling; `slice_network\(\)`"),
    (lambda: nn.Sequential(nn.Conv1d(1, 2, 2, padding="same"), nn.ReLU()), (1, 4),
     r"layer 0 \(Conv1d\): padding='same' with an even kernel"),
    (lambda: nn.Sequential(nn.Conv2d(1, 2, 2), nn.ReLU(), nn.MaxPool2d(2, ceil_mode=True)), (1, 4, 4),
     r"layer 2 \(MaxPool2d\): ceil_mode"),
    (lambda: nn.Sequential(nn.Conv2d(3, 2, 2), nn.ReLU()), (1, 3, 3), r"layer 0 \(Conv2d\): in_channels=3"),
    (lambda: nn.Sequential(nn.Conv2d(1, 2, 5), nn.ReLU()), (1, 3, 3), r"layer 0 \(Conv2d\): .*no output position"),
    (lambda: nn.Sequential(nn.Conv1d(1, 2, 2), nn.ReLU()), (1, 3, 3), r"layer 0 \(Conv1d\): a 1-D conv needs"),
    (lambda: nn.Sequential(nn.ReLU()), (1, 3), r"layer 0 \(ReLU\): a ReLU must follow"),
    (lambda: nn.Sequential(nn.Conv1d(1, 2, 2), nn.ReLU(), nn.MaxPool1d(2), nn.Conv1d(2, 2, 1), nn.ReLU(),
                           nn.Tanh()), (1, 5), r"layer 5 \(Tanh\): only ReLU"),
    (lambda: nn.Sequential(nn.Conv1d(1, 2, 2), nn.ReLU(), nn.Flatten(start_dim=2)), (1, 4),
     r"layer 2 \(Flatten\): only Flatten\(start_dim=1"),
]


@pytest.mark.parametrize("make, shape, pattern", REFUSALS, ids=[r[2].split(":")[0][:40] for r in REFUSALS])
def test_refusals_name_the_layer(make, shape, pattern):
    model = make().eval()
    with pytest.raises(InputError, match=pattern):
        from_torch(model, shape)


def test_batchnorm_in_training_mode_is_refused():
    model = nn.Sequential(nn.Conv2d(1, 2, 2), nn.BatchNorm2d(2), nn.ReLU())  # train() by default
    with pytest.raises(InputError, match=r"layer 1 \(BatchNorm2d\): the model is in training mode"):
        from_torch(model, (1, 3, 3))


def test_not_a_module():
    with pytest.raises(InputError, match="nn.Module"):
        from_torch([nn.Conv2d(1, 2, 2)], (1, 3, 3))


# ---------------------------------------------------------------------------
# Same region count
# ---------------------------------------------------------------------------

def _patterns_torch(model, x):
    """ReLU sign patterns, read from torch's own pre-activations (forward hooks)."""
    signs = []
    hooks = [m.register_forward_hook(lambda _m, _i, out: signs.append((out > 0).reshape(out.shape[0], -1)))
             for m in model if isinstance(m, (nn.Conv1d, nn.Conv2d, nn.Linear))]
    with torch.no_grad():
        model(x)
    for h in hooks:
        h.remove()
    return {row.tobytes() for row in torch.cat(signs, dim=1).numpy()}


@pytest.mark.parametrize("make, shape, formula", [
    (lambda: nn.Sequential(nn.Conv1d(1, 2, 2), nn.ReLU()), (1, 4), 55),
    (lambda: nn.Sequential(nn.Linear(4, 3), nn.ReLU()), (4,), 8),
    (lambda: nn.Sequential(nn.Conv2d(1, 2, 2), nn.ReLU()), (1, 3, 3), 256),
])
def test_same_region_count(make, shape, formula):
    from ilpregions.services import regions
    from ilpregions.services.count._theorem1 import count_regions

    model = seeded(make(), seed=7)
    imported = from_torch(model, shape)
    ours = regions.count_linear_regions(imported.network, weights=imported.weights)
    assert ours.exact
    assert count_regions(imported.network).regions == formula
    if isinstance(imported.network.layers[0], ConvLayer) and len(shape) == 3:
        # 2-D shared filters: the tied maximum (tests/data/tied.json), one below the formula
        (case,) = [c for c in TIED_CASES if c["input"] == [3, 3, 1] and c["kernel"] == [2, 2] and c["filters"] == 2]
        assert ours.regions == int(case["tied"]) == 255
    else:
        assert ours.regions == formula  # 1-D conv and dense: generic weights reach Theorem 1
    # Every pattern torch produces on random inputs is one of the regions (a lower bound).
    rng = np.random.default_rng(0)
    x = rng.normal(size=(20000, *shape)) * rng.choice([0.3, 1, 3, 13], size=(20000,) + (1,) * len(shape))
    seen = _patterns_torch(model, torch.from_numpy(x))
    assert 0 < len(seen) <= ours.regions


# ---------------------------------------------------------------------------
# Files: the safe format and the CLI
# ---------------------------------------------------------------------------

def cli(*args):
    return subprocess.run([sys.executable, "-m", "ilpregions", *map(str, args)], capture_output=True,
                          text=True, timeout=180)


def run_cli(capsys, *args):
    """The CLI in this process (torch is already imported; a subprocess would re-import it)."""
    from ilpregions.cli.main import main

    capsys.readouterr()
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def test_architecture_round_trip():
    model = nn.Sequential(nn.Conv2d(3, 4, (3, 2), stride=2, padding=1, bias=False), nn.BatchNorm2d(4),
                          nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(4, 2), nn.ReLU())
    rebuilt = build_module(architecture(model))
    assert [repr(m) for m in rebuilt] == [repr(m) for m in model]
    with pytest.raises(InputError, match=r"architecture\[0\]: unsupported type 'Evil'"):
        build_module([{"type": "Evil"}])
    with pytest.raises(InputError, match=r"architecture\[0\]: unknown argument 'kernel'"):
        build_module([{"type": "Conv2d", "kernel": 3}])


def test_cli_import_and_regions(tmp_path, capsys):
    model = seeded(nn.Sequential(nn.Conv1d(1, 2, 2), nn.BatchNorm1d(2), nn.ReLU(), nn.Flatten(),
                                 nn.Linear(6, 3)), seed=5)
    model[1].running_var.uniform_(0.5, 2)
    model.eval()
    save(model, tmp_path / "m.pt")
    loaded = load_file(tmp_path / "m.pt")
    assert_same_function(model[:3], (1, 4), from_torch(loaded[:3], (1, 4)))

    spec, weights = tmp_path / "m.toml", tmp_path / "w.npz"
    code, out, err = run_cli(capsys, "import-torch", tmp_path / "m.pt", "--input", "1,4", "-o", spec)
    assert code == 2 and "layer 4 (Linear) is the last layer" in err and err.count("\n") == 1
    code, out, err = run_cli(capsys, "import-torch", tmp_path / "m.pt", "--input", "1,4", "-o", spec,
                             "--weights-out", weights, "--drop-head")
    assert code == 0, err
    assert "dropped layer 4 (Linear)" in err
    assert out.startswith(f"wrote {spec}: input [4, 1] (channels last), 1 layers: conv")
    from ilpregions.core.spec_toml import load
    assert load(spec) == Network((4, 1), (ConvLayer(2, 2),), name="m")
    with np.load(weights, allow_pickle=False) as data:
        expected = from_torch(model, (1, 4), drop_head=True).weights
        assert sorted(data.files) == sorted(expected)
        for key in expected:
            np.testing.assert_array_equal(data[key], expected[key])
    if Path(__file__).parents[1].joinpath("ilpregions/cli/commands/regions.py").exists():
        code, out, err = run_cli(capsys, "regions", spec, "--weights", weights, "--json")
        assert code == 0, err
        assert json.loads(out)["regions"] in (55, "55")  # 1-D conv, generic weights: Theorem 1


def test_cli_bare_state_dict_with_arch(tmp_path, capsys):
    model = seeded(nn.Sequential(nn.Conv2d(2, 3, 2, stride=2), nn.ReLU()))
    torch.save(model.state_dict(), tmp_path / "sd.pt")
    (tmp_path / "arch.toml").write_text(
        '[[layers]]\ntype = "Conv2d"\nin_channels = 2\nout_channels = 3\nkernel_size = 2\nstride = 2\n'
        '[[layers]]\ntype = "ReLU"\n')
    code, out, err = run_cli(capsys, "import-torch", tmp_path / "sd.pt", "--input", "2,4,4")
    assert code == 2 and "--arch" in err and err.count("\n") == 1
    code, out, err = run_cli(capsys, "import-torch", tmp_path / "sd.pt", "--input", "2,4,4",
                             "--arch", tmp_path / "arch.toml")
    assert code == 0, err
    assert loads(out) == Network((4, 4, 2), (ConvLayer(3, 2, stride=2),), name="sd")


class _Evil:
    """Unpickling this would create a file: the loader must never do it."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_never_unpickles_arbitrary_objects(tmp_path):
    marker = tmp_path / "pwned"
    torch.save({"format": "ilpregions.torch/1", "architecture": [], "state_dict": {},
                "payload": _Evil(marker)}, tmp_path / "evil.pt")
    torch.save(seeded(nn.Sequential(nn.Conv1d(1, 2, 2), nn.ReLU())), tmp_path / "whole.pt")
    for name in ("evil.pt", "whole.pt"):
        with pytest.raises(InputError, match="pickled Python objects"):
            load_file(tmp_path / name)
    assert not marker.exists()
    result = cli("import-torch", tmp_path / "evil.pt", "--input", "1,4")
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert not marker.exists()


def test_import_torch_json_and_safe_outputs(tmp_path, capsys):
    import os

    model = seeded(nn.Sequential(nn.Conv1d(1, 2, 2), nn.ReLU()))
    save(model, tmp_path / "m.pt")
    spec, weights = tmp_path / "m.toml", tmp_path / "w.npz"
    code, out, err = run_cli(capsys, "import-torch", tmp_path / "m.pt", "--input", "1,4", "-o", spec,
                             "--weights-out", weights, "--json")
    assert code == 0, err
    record = json.loads(out)
    assert list(record)[:3] == ["model", "status", "seconds"]
    assert record["model"] == str(tmp_path / "m.pt") and record["status"] == "imported"
    assert record["layers"] == ["conv"] and record["spec_file"] == str(spec) and record["spec"] is None
    from ilpregions.core.spec_toml import load
    assert load(spec) == Network((4, 1), (ConvLayer(2, 2),), name="m")
    with np.load(weights, allow_pickle=False) as data:
        assert sorted(data.files) == record["weights"] == ["layers.0.bias", "layers.0.weight"]
    # no -o: the spec text is in the JSON
    code, out, err = run_cli(capsys, "import-torch", tmp_path / "m.pt", "--input", "1,4", "--json")
    assert code == 0 and loads(json.loads(out)["spec"]) == Network((4, 1), (ConvLayer(2, 2),), name="m")
    # outputs are regular files only: a FIFO is refused (before the work), never opened
    fifo = tmp_path / "fifo.npz"
    os.mkfifo(fifo)
    for flag in ("-o", "--weights-out"):
        code, out, err = run_cli(capsys, "import-torch", tmp_path / "m.pt", "--input", "1,4", flag, fifo)
        assert code == 2 and "FIFO" in err and err.count("\n") == 1, err
    code, out, err = run_cli(capsys, "import-torch", tmp_path / "m.pt", "--input", "1,4", "-o", spec,
                             "--weights-out", spec)
    assert code == 2 and "same file" in err
    with pytest.raises(InputError, match="FIFO"):
        from_torch(model, (1, 4)).save_weights(fifo)


def test_save_writes_atomically_and_refuses_a_fifo(tmp_path, fifo):
    """The project's model format is written like every output: regular files only, atomically."""
    from ilpregions.core.errors import InputError
    from ilpregions.services.torch import load_file, save

    model = nn.Sequential(nn.Linear(2, 3), nn.ReLU())
    (tmp_path / "out").mkdir()
    target = tmp_path / "out" / "model.pt"
    save(model, target)
    assert sorted(p.name for p in target.parent.iterdir()) == ["model.pt"]      # no temporary or lock left
    assert str(load_file(target)) == str(model)
    with pytest.raises(InputError, match="FIFO"):
        save(model, fifo)

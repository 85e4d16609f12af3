"""ResNet-shaped PyTorch models: traced as written (BatchNorm, residual adds, global pooling as a mean),
sliced along lines against an independent sampler, read from a state_dict with their class, and refused in one
line when they cannot be traced."""

from __future__ import annotations

import json
import runpy
import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
nn = torch.nn
F = torch.nn.functional

from ilpregions.core.errors import InputError  # noqa: E402
from ilpregions.services.slicing import evaluate, line_density, random_lines, slice_network  # noqa: E402
from ilpregions.services.torch import to_slicenet  # noqa: E402

from test_slice_lines import runs, sampled_patterns  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "resnet"


class Block(nn.Module):
    def __init__(self, cin, cout, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.short = nn.Sequential()
        if stride != 1 or cin != cout:
            self.short = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)), inplace=True)
        out = self.bn2(self.conv2(out))
        out += self.short(x)
        return F.relu(out)


class SmallResNet(nn.Module):
    """As people write them: in-place ReLUs, ``out += shortcut``, global average pooling as ``x.mean((2, 3))``."""

    def __init__(self, width=2, pool="mean"):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, width, 3, padding=1, bias=False), nn.BatchNorm2d(width),
                                  nn.ReLU(inplace=True))
        self.layers = nn.Sequential(Block(width, width), Block(width, 2 * width, stride=2))
        self.pool, self.avg = pool, nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(2 * width, 5)

    def forward(self, x):
        x = self.layers(self.stem(x))
        if self.pool == "mean":
            x = x.mean((2, 3))
        elif self.pool == "torch.mean":
            x = torch.mean(x, dim=[-2, -1], keepdim=True).flatten(1)
        else:
            x = torch.flatten(self.avg(x), 1)
        return self.fc(x)


def make(pool="mean", seed=0):
    torch.manual_seed(seed)
    model = SmallResNet(pool=pool)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):  # trained-looking statistics, so BatchNorm is not the identity
            m.running_mean.normal_(0, 0.3)
            m.running_var.uniform_(0.5, 2.0)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.normal_(0, 0.1)
    return model.eval()


@pytest.mark.parametrize("pool", ["mean", "torch.mean", "adaptive"])
def test_traced_resnet_computes_what_torch_computes(pool):
    model = make(pool)
    net = to_slicenet(model, (3, 8, 8))
    x = np.random.default_rng(0).normal(size=(5, 3, 8, 8))
    with torch.no_grad():
        expected = model.double()(torch.from_numpy(x)).numpy()
    _, out = evaluate(net, x.reshape(5, -1))
    assert np.allclose(out, expected, rtol=1e-12, atol=1e-12)


def test_lines_through_a_resnet_against_a_sampler():
    model = make()
    net = to_slicenet(model, (3, 8, 8))
    data = np.random.default_rng(1).normal(size=(6, 3, 8, 8))
    lines = random_lines(3, data, directions=True, length=3.0, seed=2)
    summary = line_density(net, lines)
    assert summary.status == "exact"
    for r in summary.lines:
        a, b = lines.line(r.index)
        seen = sampled_patterns(net, a, b)
        assert runs(seen) == len(set(seen)) <= r.pieces        # sampling finds at most the exact pieces
        assert len(set(seen)) >= 0.8 * r.pieces > 4
        assert r.pieces == slice_network(model, [a.reshape(3, 8, 8), b.reshape(3, 8, 8)], input_shape=(3, 8, 8)).pieces


class Sums(nn.Module):
    def __init__(self, how):
        super().__init__()
        self.how, self.conv = how, nn.Conv2d(2, 3, 3, padding=1)

    def forward(self, x):
        y = torch.relu(self.conv(x))
        return {"sum": lambda: y.sum((2, 3)), "sum-c": lambda: y.sum(1).flatten(1),
                "mean-keep": lambda: y.mean(dim=-1, keepdim=True).flatten(1),
                "torch.sum": lambda: torch.sum(y, dim=(1, 3)),
                "batch": lambda: y.mean(0), "all": lambda: y.mean().reshape(1, 1)}[self.how]()


@pytest.mark.parametrize("how", ["sum", "sum-c", "mean-keep", "torch.sum"])
def test_sums_and_means_over_non_batch_axes_are_exact_affine_maps(how):
    torch.manual_seed(1)
    model = Sums(how).eval()
    net = to_slicenet(model, (2, 4, 5))
    x = np.random.default_rng(2).normal(size=(3, 2, 4, 5))
    with torch.no_grad():
        expected = model.double()(torch.from_numpy(x)).numpy()
    assert np.allclose(evaluate(net, x.reshape(3, -1))[1], expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("how, needle", [("batch", "over the batch axis"), ("all", "constant axes")])
def test_reductions_that_mix_samples_are_refused(how, needle):
    with pytest.raises(InputError, match=needle):
        to_slicenet(Sums(how).eval(), (2, 4, 5))


_CODE = '''
import torch
from torch import nn


class Gate(nn.Module):
    def forward(self, x):
        if x.sum() > 0:             # data-dependent control flow: torch.fx cannot trace it
            return x
        return -x


class Net(nn.Module):
    def __init__(self, width=2):
        super().__init__()
        self.conv = nn.Conv2d(1, width, 3, padding=1)
        self.body = nn.Sequential(nn.ReLU(), Gate())
        self.head = nn.Linear(width * 16, 3)

    def forward(self, x):
        return self.head(self.body(self.conv(x)).flatten(1))
'''


def test_untraceable_submodule_is_named_in_one_line_exit_2(tmp_path, cli):
    code_file = tmp_path / "gated_model.py"
    code_file.write_text(_CODE)
    namespace = runpy.run_path(str(code_file))
    torch.save(namespace["Net"]().state_dict(), tmp_path / "sd.pt")
    code, out, err = cli("slice", "--torch", tmp_path / "sd.pt", "--torch-module", f"{code_file}:Net",
                         "--input", "1,4,4", "--through", "random,random")
    assert code == 2 and err.count("\n") == 1, err
    assert "body.1 (Gate): forward cannot be traced by torch.fx" in err


def test_torch_module_from_the_current_directory(tmp_path, cli, monkeypatch):
    (tmp_path / "my_resnet_here.py").write_text(_CODE.replace("        if x.sum() > 0:", "        if False:"))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", str(tmp_path))])
    namespace = runpy.run_path("my_resnet_here.py")
    torch.manual_seed(0)
    torch.save(namespace["Net"](width=3).state_dict(), "sd.pt")
    code, out, err = cli("slice", "--torch", "sd.pt", "--torch-module", "my_resnet_here:Net", "--torch-kwargs",
                         '{"width": 3}', "--input", "1,4,4", "--lines", "2", "--json")
    assert code == 0, err
    assert json.loads(out)["lines_exact"] == 2
    assert str(tmp_path) not in sys.path  # searched during the import only


def test_the_example_resnet_is_read_back_from_its_state_dict(tmp_path, cli):
    """The example's model and file format, at a small input, through the CLI (the full example is slow)."""
    namespace = runpy.run_path(str(EXAMPLE / "resnet.py"))
    torch.manual_seed(0)
    model = namespace["ResNet"](width=2).eval()
    torch.save(model.state_dict(), tmp_path / "r.pt")
    data = np.random.default_rng(0).normal(size=(4, 3, 8, 8))
    np.save(tmp_path / "x.npy", data)
    expected = line_density(model, random_lines(2, data, directions=True, length=1.0), input_shape=(3, 8, 8))
    code, out, err = cli("slice", "--torch", tmp_path / "r.pt", "--torch-module", f"{EXAMPLE / 'resnet.py'}:ResNet",
                         "--torch-kwargs", '{"width": 2}', "--input", "3,8,8", "--lines", "2", "--directions",
                         "--line-length", "1", "--data", tmp_path / "x.npy", "--json")
    assert code == 0, err
    record = json.loads(out)
    assert [line["pieces"] for line in record["line_list"]] == [r.pieces for r in expected.lines]
    assert record["status"] == "exact" and expected.pieces.min > 2


@pytest.mark.slow
def test_the_resnet_example_runs(tmp_path):
    import subprocess

    result = subprocess.run([sys.executable, str(EXAMPLE / "slice_resnet.py"), "--lines", "2", "--out",
                             str(tmp_path)], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    assert "(exact, all certified)" in result.stdout and "lines of length 2" in result.stdout
    assert (tmp_path / "resnet_w4.pt").is_file() and (tmp_path / "inputs.npy").is_file()

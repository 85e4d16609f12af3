"""slice on PyTorch models as they are written: torch.fx graphs, residuals, refusals."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
nn = torch.nn
F = torch.nn.functional

from ilpregions.core.errors import InputError  # noqa: E402
from ilpregions.services.slicing import evaluate, slice_network  # noqa: E402
from ilpregions.services.torch._fx import to_slicenet  # noqa: E402
from ilpregions.services.torch._convert import from_torch, save  # noqa: E402

from test_slice import check_against_grid, check_pieces_constant  # noqa: E402


class Residual(nn.Module):
    """Grouped conv with reflect padding, BatchNorm, a residual add, max and average pooling."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(2, 4, 3, padding=1, groups=2, padding_mode="reflect")
        self.bn = nn.BatchNorm2d(4)
        self.conv2 = nn.Conv2d(4, 2, 1)
        self.pool = nn.MaxPool2d(2)
        self.avg = nn.AdaptiveAvgPool2d(2)
        self.head = nn.Linear(8, 3)

    def forward(self, x):
        y = torch.relu(self.bn(self.conv1(x)))
        x = x + self.conv2(y)
        x = self.pool(x.relu())
        x = self.avg(x)
        return self.head(x.view(x.size(0), -1))


class Depthwise(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Conv1d(3, 3, 3, groups=3, padding=1, padding_mode="circular"),
                                      nn.ReLU(), nn.Conv1d(3, 4, 1), nn.BatchNorm1d(4), nn.ReLU(),
                                      nn.AvgPool1d(2), nn.Dropout(0.2))
        self.head = nn.Linear(16, 2)

    def forward(self, x):
        return self.head(torch.flatten(self.features(x), 1))


class Branches(nn.Module):
    """LeakyReLU (module and functional), torch.cat of branches, ceil_mode and adaptive max pooling."""

    def __init__(self):
        super().__init__()
        self.a = nn.Conv2d(1, 2, 3, padding=1)
        self.b = nn.Conv2d(1, 1, 1)
        self.act = nn.LeakyReLU(0.1)
        self.pool = nn.MaxPool2d(2, ceil_mode=True)
        self.amp = nn.AdaptiveMaxPool2d((2, 1))
        self.head = nn.Linear(9, 3)

    def forward(self, x):
        y = torch.cat([self.act(self.a(x)), F.leaky_relu(self.b(x), 0.3)], dim=1)
        y = self.pool(y)                                   # 5x5 -> 3x3 (the last window hangs over)
        z = F.adaptive_max_pool2d(y, 1)
        return self.head(torch.cat((self.amp(y).flatten(1), z.flatten(1)), 1))


def make(cls, seed=0):
    torch.manual_seed(seed)
    model = cls()
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.running_mean.normal_()
            m.running_var.uniform_(0.5, 2.0)
    return model.eval()


@pytest.mark.parametrize("cls, shape", [(Residual, (2, 6, 6)), (Depthwise, (3, 8)), (Branches, (1, 5, 5))])
def test_traced_graph_computes_what_torch_computes(cls, shape):
    model = make(cls)
    net = to_slicenet(model, shape)
    X = np.random.default_rng(0).normal(size=(16, int(np.prod(shape))))
    _, ours = evaluate(net, X)
    with torch.no_grad():
        theirs = model.double()(torch.from_numpy(X.reshape(16, *shape))).numpy()
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("cls, shape", [(Residual, (2, 4, 4)), (Depthwise, (3, 8)), (Branches, (1, 5, 5))])
def test_slice_of_a_traced_model_against_grid(cls, shape):
    model = make(cls, seed=1)
    points = np.random.default_rng(3).normal(size=(3, int(np.prod(shape)))) * 0.3
    result = slice_network(model, points, input_shape=shape, region="parallelogram")
    net = to_slicenet(model, shape)
    assert result.complete and result.certificate.ok and result.pieces > 5
    assert len(set(result.patterns)) == result.pieces
    check_against_grid(net, result, 80)
    check_pieces_constant(net, result)
    assert next(model.parameters()).dtype == torch.float32  # the user's model is not modified


class Untraceable(nn.Module):
    def forward(self, x):
        if x.sum() > 0:  # data-dependent control flow
            return x
        return -x


class UsesParameter(nn.Module):
    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.ones(4, 4))

    def forward(self, x):
        return torch.relu(x @ self.w)


class WithTanh(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(4, 4), nn.Tanh())

    def forward(self, x):
        return self.body(x)


@pytest.mark.parametrize("model, pattern", [
    (Untraceable(), r"Untraceable: forward cannot be traced by torch.fx"),
    (UsesParameter(), r"uses a parameter or buffer directly \(get_attr 'w'\)"),
    (WithTanh(), r"body.1 \(Tanh\): unsupported module Tanh"),
    (nn.Sequential(nn.Linear(4, 4), nn.BatchNorm1d(4)).train(), r"1 \(BatchNorm1d\): the model is in training mode"),
    (nn.Sequential(nn.Linear(4, 4), nn.PReLU()), r"1 \(PReLU\): unsupported module PReLU"),
    (nn.Sequential(nn.Conv1d(1, 2, 2), nn.ReLU(), nn.MaxPool1d(2, return_indices=True)), r"2 \(MaxPool1d\): its output is not a tensor"),
])
def test_refusals_name_op_and_path(model, pattern):
    with pytest.raises(InputError, match=pattern):
        to_slicenet(model, (4,) if not isinstance(model, nn.Sequential) or not isinstance(model[0], nn.Conv1d)
                    else (1, 5))


def test_spec_formats_refuse_residuals_in_one_line(tmp_path, cli):
    with pytest.raises(InputError, match=r"a residual addition; the spec format cannot express it"):
        from_torch(make(Residual), (2, 6, 6))
    with pytest.raises(InputError, match=r"groups=3; the spec format has only groups=1"):
        from_torch(make(Depthwise), (3, 8))
    with pytest.raises(InputError, match=r"b \(Conv2d\): the graph is not a chain"):  # torch.cat
        from_torch(make(Branches), (1, 5, 5))
    with pytest.raises(InputError, match=r"layer 1 \(LeakyReLU\): only ReLU"):
        from_torch(nn.Sequential(nn.Linear(4, 4), nn.LeakyReLU()), (4,))
    # a plain chain written as a Module subclass imports like the Sequential it is
    class Chain(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv1d(1, 2, 2)
            self.fc = nn.Linear(6, 2)

        def forward(self, x):
            return F.relu(self.fc(torch.flatten(F.relu(self.conv(x)), 1)))

    imported = from_torch(Chain().eval(), (1, 4))
    assert [layer.type for layer in imported.network.layers] == ["conv", "dense"]
    # import-torch on a saved model the spec cannot express: one line, exit 2
    model = nn.Sequential(nn.Conv1d(2, 2, 2, groups=2), nn.ReLU())
    save(model, tmp_path / "g.pt")
    code, out, err = cli("import-torch", tmp_path / "g.pt", "--input", "2,5")
    assert code == 2 and "groups=2" in err and "ilpregions slice" in err and err.count("\n") == 1
    code, out, err = cli("slice", "--torch", tmp_path / "g.pt", "--input", "2,5", "--through", "random,random")
    assert code == 0 and "pieces:" in out, err


@pytest.mark.parametrize("cls, shape", [(Residual, (2, 6, 6)), (Branches, (1, 5, 5))])
def test_exact_integer_pass_equals_fractions_and_floats(cls, shape):
    from fractions import Fraction

    from ilpregions.backends.slicing.exact import ExactNet, slice_points
    from ilpregions.core.slicenet import evaluate_exact

    net = to_slicenet(make(cls, seed=2), shape)
    rng = np.random.default_rng(5)
    n = int(np.prod(shape))
    origin, basis, C = rng.normal(size=n), rng.normal(size=(n, 2)), rng.normal(size=(3, 2))
    X, e = slice_points(origin, basis, C)
    exact = ExactNet(net).patterns(X, e)
    floats = evaluate(net, origin + C @ basis.T)[0]
    for i in range(3):
        x = [Fraction(float(o)) + Fraction(float(C[i, 0])) * Fraction(float(b0)) +
             Fraction(float(C[i, 1])) * Fraction(float(b1)) for o, (b0, b1) in zip(origin, basis)]
        assert exact[i].tolist() == evaluate_exact(net, x)[0]
    assert (exact == floats).mean() > 0.99   # floats agree away from ties


_MODEL_CODE = '''
import torch
import torch.nn as nn


class TinyRes(nn.Module):
    """A residual block written as a Module subclass, as people write models."""

    def __init__(self, width=3):
        super().__init__()
        self.conv = nn.Conv2d(1, width, 3, padding=1)
        self.back = nn.Conv2d(width, 1, 1)
        self.head = nn.Linear(16, 2)

    def forward(self, x):
        x = x + self.back(torch.relu(self.conv(x)))
        return self.head(torch.flatten(torch.relu(x), 1))


def make_tiny():
    return TinyRes(width=2)
'''


def test_module_subclass_from_its_code_and_a_weights_only_state_dict(tmp_path, cli):
    import importlib.util
    import json

    code_file = tmp_path / "tiny_model.py"
    code_file.write_text(_MODEL_CODE)
    spec = importlib.util.spec_from_file_location("tiny_model_for_test", code_file)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    torch.manual_seed(4)
    model = mod.TinyRes(width=3).eval()
    torch.save(model.state_dict(), tmp_path / "sd.pt")
    points = np.random.default_rng(2).normal(size=(3, 16))
    for i, p in enumerate(points):
        np.save(tmp_path / f"p{i}.npy", p)
    through = ",".join(str(tmp_path / f"p{i}.npy") for i in range(3))
    expected = slice_network(model, points, input_shape=(1, 4, 4))
    code, out, err = cli("slice", "--torch", tmp_path / "sd.pt", "--torch-module", f"{code_file}:TinyRes",
                         "--torch-kwargs", '{"width": 3}', "--input", "1,4,4", "--through", through, "--json")
    assert code == 0, err
    record = json.loads(out)
    assert record["pieces"] == expected.pieces > 3 and record["certified"]["mismatches"] == 0
    assert sorted(p["pattern"] for p in record["piece_list"]) == sorted(expected.patterns)
    # refusals: one line, exit 2, naming the flag or the file
    torch.save(make(Residual), tmp_path / "whole.pt")  # a pickled Module: never unpickled
    for args, needle in [
        (("--torch", tmp_path / "sd.pt", "--torch-module", f"{code_file}:make_tiny"), "do not fit"),
        (("--torch", tmp_path / "sd.pt", "--torch-module", f"{code_file}:Nope"), "has no 'Nope'"),
        (("--torch", tmp_path / "sd.pt", "--torch-module", "no_such_pkg_xyz.mod:A"), "importing no_such_pkg_xyz"),
        (("--torch", tmp_path / "sd.pt", "--torch-module", f"{code_file}:TinyRes", "--torch-kwargs", "[1]"),
         "JSON object"),
        (("--torch", tmp_path / "whole.pt", "--torch-module", f"{code_file}:TinyRes"), "pickled Python objects"),
        (("--torch", tmp_path / "sd.pt"), "--torch-module"),
    ]:
        code, out, err = cli("slice", *args, "--input", "1,4,4", "--through", "random,random")
        assert code == 2 and needle in err and err.count("\n") == 1, (args, err)
    # import-torch takes the same flags; a plain chain written as a class becomes a spec
    chain = tmp_path / "chain_model.py"
    chain.write_text("import torch.nn as nn\n\nclass Chain(nn.Module):\n    def __init__(self, k=2):\n"
                     "        super().__init__()\n        self.conv = nn.Conv1d(1, 2, k)\n\n"
                     "    def forward(self, x):\n        return self.conv(x).relu()\n")
    torch.manual_seed(0)
    torch.save(nn.Sequential(nn.Conv1d(1, 2, 3)).state_dict(), tmp_path / "chain.pt")
    code, out, err = cli("import-torch", tmp_path / "chain.pt", "--torch-module", f"{chain}:Chain",
                         "--torch-kwargs", '{"k": 3}', "--input", "1,6", "--json")
    assert code == 2 and "do not fit" in err  # names differ: conv.weight vs 0.weight
    sd = {k.replace("0.", "conv."): v for k, v in torch.load(tmp_path / "chain.pt", weights_only=True).items()}
    torch.save(sd, tmp_path / "chain.pt")
    code, out, err = cli("import-torch", tmp_path / "chain.pt", "--torch-module", f"{chain}:Chain",
                         "--torch-kwargs", '{"k": 3}', "--input", "1,6", "--json")
    assert code == 0 and json.loads(out)["layers"] == ["conv"], err

"""The line engine on ResNet-shaped networks, against independent methods: the polygon engine, dense
sampling of patterns along the segment, and bisection of every change to 1e-9; limits and memory."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
nn = torch.nn
F = torch.nn.functional

from ilpregions.core.errors import ParameterError, TooLargeError  # noqa: E402
from ilpregions.core.slicenet import ConvSpec, conv_matrix, evaluate  # noqa: E402
from ilpregions.services.slicing import prepare_network, slice_network  # noqa: E402
from ilpregions.services.torch import to_slicenet  # noqa: E402
from ilpregions.backends.slicing.engine import pattern_ids  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


class TinyResNet(nn.Module):
    """A ResNet in miniature: stem, a block with BatchNorm, a stride-2 conv, a block with a 1x1 skip and a
    leaky ReLU, global average pooling, a linear head."""

    def __init__(self, width=3, leaky=0.0):
        super().__init__()
        self.stem = nn.Conv2d(2, width, 3, padding=1)
        self.c1, self.bn1 = nn.Conv2d(width, width, 3, padding=1, bias=False), nn.BatchNorm2d(width)
        self.c2 = nn.Conv2d(width, width, 3, padding=1)
        self.down = nn.Conv2d(width, 2 * width, 3, stride=2, padding=1, groups=width)
        self.c3 = nn.Conv2d(2 * width, 2 * width, 3, padding=2, dilation=2)
        self.skip = nn.Conv2d(2 * width, 2 * width, 1)
        self.head = nn.Linear(2 * width, 3)
        self.leaky = leaky

    def forward(self, x):
        x = F.relu(self.stem(x))
        x = F.relu(x + self.c2(F.relu(self.bn1(self.c1(x)))))
        x = F.relu(self.down(x))
        x = F.leaky_relu(self.skip(x) + self.c3(x), self.leaky)
        return self.head(F.adaptive_avg_pool2d(x, 1).flatten(1))


def make(seed=0, **kw):
    torch.manual_seed(seed)
    model = TinyResNet(**kw)
    model.bn1.running_mean.normal_()
    model.bn1.running_var.uniform_(0.5, 2.0)
    return model.eval()


def segment(seed, size, scale=3.0):
    return np.random.default_rng(seed).normal(size=(2, size)) * scale


def patterns_along(net, a, b, ts):
    codes = np.concatenate([evaluate(net, a[None] + t[:, None] * (b - a)[None])[0]
                            for t in np.array_split(ts, max(1, len(ts) // 2000))])
    return codes


@pytest.mark.parametrize("seed, leaky", [(0, 0.0), (1, 0.0), (2, 0.2)])
def test_line_engine_equals_the_polygon_engine(seed, leaky):
    model = make(seed, leaky=leaky)
    a, b = segment(seed, 2 * 8 * 8)
    line = slice_network(model, [a, b], input_shape=(2, 8, 8))
    poly = slice_network(model, [a, b], input_shape=(2, 8, 8), engine="polygon")
    assert line.engine == "line" and poly.engine == "polygon"
    assert line.exact and poly.certificate.ok
    assert line.pieces == poly.pieces > 10
    np.testing.assert_allclose(line.breakpoints(), poly.breakpoints(), atol=1e-9)
    order = np.argsort([v[0, 0] for v in poly.vertices])
    assert list(line.patterns) == [poly.patterns[k] for k in order]    # the same ids, piece by piece
    np.testing.assert_allclose(line.outputs, poly.outputs[:, order], rtol=1e-7, atol=1e-9)
    assert line.boundary_pieces == poly.boundary_pieces


def test_line_engine_equals_the_polygon_engine_on_short_segments():
    """Few pieces: whole ranges of the walk inside one piece, which must be joined across the ranges."""
    from ilpregions.core.forward import he_normal_weights
    from ilpregions.core.slicenet import from_spec
    from ilpregions.core.spec import DenseLayer, Network

    spec = Network((3,), (DenseLayer(4), DenseLayer(3), DenseLayer(2)))
    net = from_spec(spec, he_normal_weights(spec, 0))
    rng = np.random.default_rng(0)
    for scale in (0.1, 1.0, 3.0):
        for _ in range(10):
            a, b = rng.normal(size=(2, 3)) * scale
            line = slice_network(net, [a, b])
            poly = slice_network(net, [a, b], engine="polygon")
            order = np.argsort([v[0, 0] for v in poly.vertices])
            assert line.exact and line.pieces == poly.pieces
            assert list(line.patterns) == [poly.patterns[k] for k in order]


def test_dense_sampling_is_a_lower_bound_and_bisection_finds_every_breakpoint():
    model = make(3)
    net = to_slicenet(model, (2, 8, 8))
    a, b = segment(3, 2 * 8 * 8)
    result = slice_network(net, [a, b])
    breaks = np.array(result.breakpoints())
    assert result.exact and len(breaks) == result.pieces - 1 > 20
    ts = np.linspace(0, 1, 20001)
    codes = patterns_along(net, a, b, ts)
    sampled = set(pattern_ids(codes))
    assert sampled <= set(result.patterns)               # every sampled pattern is a piece
    assert len(sampled) <= result.pieces

    def pattern(t):
        return evaluate(net, (a + t * (b - a))[None])[0][0].tobytes()

    changes = np.flatnonzero((codes[1:] != codes[:-1]).any(axis=1))
    assert len(changes) > 10
    for k in changes[:: max(1, len(changes) // 40)]:
        lo, hi = ts[k], ts[k + 1]
        p_lo = pattern(lo)
        for _ in range(60):
            mid = 0.5 * (lo + hi)
            lo, hi = (mid, hi) if pattern(mid) == p_lo else (lo, mid)
        assert np.abs(breaks - 0.5 * (lo + hi)).min() < 1e-9
    for t in breaks[:: max(1, len(breaks) // 60)]:     # each breakpoint is a real change of pattern
        assert pattern(t - 1e-7) != pattern(t + 1e-7)


def test_a_wrong_walk_is_never_certified():
    """Flip one anchor decision of a deep ReLU: the pieces after it carry a wrong pattern, and the
    certificate must say so (mismatch or unchecked), never certify them."""
    from ilpregions.backends.slicing import line as L
    from ilpregions.backends.slicing import sweep as S
    from ilpregions.backends.slicing.linenet import prepare

    net = prepare(to_slicenet(make(4), (2, 8, 8)))
    a, b = segment(4, 128)
    walkers = S.start_walkers(net, a, b - a, np.array([0.0, 1.0]))
    relu_in = [op.inputs[0] for op in net.ops if op.kind == "relu"][-1]
    w = walkers[0]
    st = w.state[relu_in]
    j = int(np.argmax(np.abs(st[:, 0]) > 10 * st[:, 3]))       # an entry clearly away from zero
    st[j, 4] = 1.0 - st[j, 4]
    w.anchor_masks[relu_in][j] = st[j, 4] > 0.5
    S.walk(net, w, None, 1 << 30)
    pieces = L._walker_pieces(net, w)
    state = L._certify(net, a, b - a, pieces, w, 1 << 30, None)
    assert (state[:1] >= L.UNCHECKED).all()                 # the first piece's pattern is wrong
    assert not (state == L.BY_BOUNDS).all()


def test_conv_matrix_equals_torch():
    for shape, kw in [((2, 7, 6), dict(out_channels=4, kernel_size=3, stride=2, padding=1, groups=2)),
                      ((3, 9), dict(out_channels=3, kernel_size=2, dilation=3, groups=3)),
                      ((1, 4, 5, 3), dict(out_channels=2, kernel_size=(2, 3, 1), padding=(1, 0, 1)))]:
        conv = {2: nn.Conv1d, 3: nn.Conv2d, 4: nn.Conv3d}[len(shape)](shape[0], **kw).double()
        x = torch.randn(5, *shape, dtype=torch.float64)
        with torch.no_grad():
            y = F.__dict__[f"conv{len(shape) - 1}d"](x, conv.weight, None, conv.stride, conv.padding,
                                                     conv.dilation, conv.groups)
        spec = ConvSpec(conv.weight.detach().numpy(), conv.stride, conv.padding, conv.dilation, conv.groups,
                        shape, tuple(y.shape[1:]))
        got = (conv_matrix(spec, "c") @ x.reshape(5, -1).numpy().T).T
        np.testing.assert_allclose(got, y.reshape(5, -1).numpy(), rtol=1e-12, atol=1e-12)


def test_time_limit_and_memory_cap_give_certified_lower_bounds():
    model = make(5, width=4)
    a, b = segment(5, 128, scale=6.0)
    prep = prepare_network(model, input_shape=(2, 8, 8))
    full = slice_network(prep, [a, b])
    assert full.exact
    part = slice_network(prep, [a, b], memory_cap=prep.line.nbytes + 30_000)
    assert not part.complete and part.stopped == "memory_cap"
    assert part.pieces <= full.pieces and set(np.array(part.patterns)[part.certified]) <= set(full.patterns)
    assert part.to_json()["status"] == "partial" and part.to_json()["lower_bound"] is True
    with pytest.raises(TooLargeError, match="memory_cap"):
        prepare_network(model, input_shape=(2, 8, 8), memory_cap=1000)
    with pytest.raises(ParameterError, match="segments"):
        slice_network(prep, [a, b, a + 1], engine="line")


def test_cli_segment_of_a_torch_model(cli, tmp_path):
    from ilpregions.services.torch import save

    model = nn.Sequential(nn.Conv2d(1, 3, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(48, 4), nn.ReLU(),
                          nn.Linear(4, 2)).eval()
    save(model, tmp_path / "m.pt")
    code, out, err = cli("slice", "--torch", str(tmp_path / "m.pt"), "--input", "1,4,4", "--through",
                         "random,random", "--json", "--memory-cap", "1")
    assert code == 0, err
    import json

    data = json.loads(out)
    assert data["engine"] == "line" and data["exact"] and data["status"] == "exact"
    assert data["pieces"] == len(data["piece_list"]) and all(p["certified"] for p in data["piece_list"])
    code, out, err = cli("slice", "--torch", str(tmp_path / "m.pt"), "--input", "1,4,4", "--through",
                         "random,random", "--engine", "line", "--memory-cap", "0")
    assert code == 2 and "--memory-cap" in err and "Traceback" not in err


def test_the_5gb_segment_now_takes_little_memory():
    """The issue's width-4 ResNet segment took 5.3 GB; now: the exact count of the issue, in a fresh process,
    with its peak resident memory (torch included) under 1.5 GB."""
    # VmHWM, not ru_maxrss: Linux carries a forked child's maxrss (the pytest process's size) across exec.
    code = ("import sys; sys.path.insert(0, {root!r}); sys.path.insert(0, {ex!r}); "
            "peak_kb = lambda: next(int(l.split()[1]) for l in open('/proc/self/status') if l.startswith('VmHWM')); "
            "from resnet import build, random_segment; from ilpregions import slice_network; "
            "r = slice_network(build('4'), list(random_segment()), input_shape=(3, 32, 32)); "
            "print(r.pieces, r.exact, peak_kb())")
    proc = subprocess.run([sys.executable, "-c", code.format(root=str(ROOT), ex=str(ROOT / "examples" / "resnet"))],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    pieces, exact, rss_kb = proc.stdout.split()
    assert int(pieces) == 5949 and exact == "True"
    assert int(rss_kb) < 1.5 * 2 ** 20


@pytest.mark.slow
def test_ctrl_c_stops_a_long_segment_with_exit_130(tmp_path):
    sys.path.insert(0, str(ROOT / "examples" / "resnet"))
    import resnet

    torch.save(resnet.build("resnet18").state_dict(), tmp_path / "r18.pt")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p))
    proc = subprocess.Popen([sys.executable, "-m", "ilpregions", "slice", "--torch", str(tmp_path / "r18.pt"),
                             "--torch-module", f"{ROOT / 'examples' / 'resnet' / 'resnet.py'}:ResNet18",
                             "--input", "3,32,32", "--through", "random,random", "--quiet"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    time.sleep(25)                               # imports, tracing, anchors: the walk is under way
    assert proc.poll() is None, proc.communicate()
    proc.send_signal(signal.SIGINT)
    start = time.perf_counter()
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert time.perf_counter() - start < 20 and "Traceback" not in err


def test_the_polygon_engine_refuses_what_it_cannot_hold_before_any_work():
    from ilpregions.core.slicenet import Builder

    b = Builder((64, 8, 8), "channels-first")
    w = np.zeros((64, 64, 3, 3))
    w[:, :, 1, 1] = np.eye(64)
    x = b.relu(b.conv(0, ConvSpec(w, (1, 1), (1, 1), (1, 1), 1, (64, 8, 8), (64, 8, 8)), np.zeros(4096), "c"), "r")
    net = b.build(x)
    pts = np.random.default_rng(0).normal(size=(3, 4096))
    start = time.perf_counter()
    with pytest.raises(TooLargeError, match="memory_cap"):
        slice_network(net, pts, memory_cap=10 ** 8)      # the maps of a batch: by arithmetic, at once
    assert time.perf_counter() - start < 5
    line = slice_network(net, pts[:2], memory_cap=10 ** 8)  # the segment takes the line engine
    assert line.engine == "line" and line.exact


def test_polygon_certificate_past_its_stop_leaves_pieces_unchecked():
    from ilpregions.core.forward import he_normal_weights
    from ilpregions.core.slicenet import from_spec
    from ilpregions.core.spec import DenseLayer, Network
    from ilpregions.services.slicing._polygon import certify_polygon

    spec = Network((3,), (DenseLayer(5), DenseLayer(2)))
    net = from_spec(spec, he_normal_weights(spec, 1))
    r = slice_network(net, np.random.default_rng(2).normal(size=(3, 3)) * 3)
    cents = np.array([v.mean(axis=0) for v in r.vertices])
    codes = evaluate(net, r.plane.origin + cents @ r.plane.basis.T)[0]
    assert certify_polygon(net, r.plane, cents, codes, time.perf_counter() + 60, chunk=2).ok
    late = certify_polygon(net, r.plane, cents, codes, time.perf_counter() - 1.0, chunk=2)
    assert late.unchecked == len(cents) and not late.ok

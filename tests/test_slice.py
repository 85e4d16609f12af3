"""slice: exact pieces on segments and planes, checked against grids, bisection and exact arithmetic."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from ilpregions.core.errors import InputError
from ilpregions.core.forward import he_normal_weights
from ilpregions.core.spec import ConvLayer, DenseLayer, MaxPoolLayer, Network
from ilpregions.services.slicing import evaluate, from_spec, slice_network
from ilpregions.services.slicing._slice import make_plane, total_area
from ilpregions.backends.slicing.certify import bounded_forward
from ilpregions.backends.slicing.engine import pattern_id
from ilpregions.backends.slicing.kernels import area

NETS = {
    "mlp": Network((6,), (DenseLayer(8), DenseLayer(6), DenseLayer(3))),
    "conv+maxpool+dense": Network((6, 6, 1), (ConvLayer(3, 3), MaxPoolLayer(2), DenseLayer(5))),
    "conv+conv(stride,pad)": Network((5, 5, 2), (ConvLayer(2, 2, padding=1), ConvLayer(3, 2, stride=2))),
}


def grid_points(plane, n):
    """An n x n grid of cell centres over the slice's parallelogram / triangle (barycentric)."""
    poly = plane.polygon
    s, t = np.meshgrid((np.arange(n) + 0.5) / n, (np.arange(n) + 0.5) / n)
    s, t = s.reshape(-1, 1), t.reshape(-1, 1)
    a, b, c = poly[0], poly[1], poly[-1]
    C = a + s * (b - a) + t * (c - a)
    if plane.region == "triangle":
        C = C[(s + t).ravel() < 1]
    return C


def certified_grid_patterns(net, plane, C, chunk=20000):
    """Pattern ids of grid points whose float64 pattern is certified by the error bounds."""
    seen, certified = set(), 0
    for lo in range(0, len(C), chunk):
        codes, ok = bounded_forward(net, plane.origin, plane.basis, C[lo:lo + chunk])
        seen.update(pattern_id(row) for row in codes[ok])
        certified += int(ok.sum())
    return seen, certified / len(C)


def check_against_grid(net, result, n):
    C = grid_points(result.plane, n)
    seen, fraction = certified_grid_patterns(net, result.plane, C)
    assert fraction > 0.95  # nearly every grid point's pattern is certified
    missing = seen - set(result.patterns)
    assert not missing, f"{len(missing)} grid patterns are not among the {result.pieces} pieces"
    return len(seen)


def sample_interior(verts, rng, count=3):
    """Points strictly inside a convex piece: random convex combinations pulled towards its centroid."""
    w = rng.dirichlet(np.ones(len(verts)), size=count)
    return 0.5 * verts.mean(axis=0) + 0.5 * w @ verts


def check_pieces_constant(net, result, seed=0):
    rng = np.random.default_rng(seed)
    points, owners = [], []
    for i, v in enumerate(result.vertices):
        points.append(v.mean(axis=0)[None])
        points.append(sample_interior(v, rng))
        owners.extend([i] * 4)
    points = np.concatenate(points)
    codes, ok = bounded_forward(net, result.plane.origin, result.plane.basis, points)
    ids = [pattern_id(row) for row in codes]
    assert ok.mean() > 0.95
    bad = [k for k in range(len(ids)) if ok[k] and ids[k] != result.patterns[owners[k]]]
    assert not bad


@pytest.mark.parametrize("name", sorted(NETS))
@pytest.mark.parametrize("region", ["triangle", "parallelogram"])
def test_grid_patterns_are_pieces(name, region):
    network = NETS[name]
    net = from_spec(network, he_normal_weights(network, seed=3))
    rng = np.random.default_rng(1)
    points = rng.normal(size=(3, net.input_size)) * 2
    result = slice_network(net, points, region=region)
    assert result.complete and result.pieces == len(result.vertices) > 1
    assert len(set(result.patterns)) == result.pieces      # convex pieces: one per pattern
    assert result.certificate.ok
    assert total_area(result) == pytest.approx(area(np.ascontiguousarray(result.plane.polygon)), rel=1e-9)
    found = check_against_grid(net, result, 120)
    assert found <= result.pieces
    check_pieces_constant(net, result)


def test_segment_breakpoints_equal_bisection():
    network = NETS["conv+maxpool+dense"]
    net = from_spec(network, he_normal_weights(network, seed=5))
    rng = np.random.default_rng(2)
    A, B = rng.normal(size=(2, net.input_size)) * 3
    result = slice_network(net, [A, B])
    breaks = np.array(result.breakpoints())
    assert len(breaks) == result.pieces - 1 > 3

    def pattern(t):
        return evaluate(net, (A + t * (B - A))[None])[0][0].tobytes()

    ts = np.linspace(0, 1, 4001)
    codes = evaluate(net, A[None] + ts[:, None] * (B - A)[None])[0]
    found = []
    for k in np.flatnonzero((codes[1:] != codes[:-1]).any(axis=1)):
        lo, hi = ts[k], ts[k + 1]
        p_lo = pattern(lo)
        for _ in range(60):
            mid = 0.5 * (lo + hi)
            if pattern(mid) == p_lo:
                lo = mid
            else:
                hi = mid
        found.append(0.5 * (lo + hi))
    assert found
    for t in found:  # every change that bisection finds is a breakpoint, to 1e-9
        assert np.abs(breaks - t).min() < 1e-9
    for t in breaks:  # and every breakpoint is a real change of pattern
        assert pattern(t - 1e-7) != pattern(t + 1e-7)


def test_decision_boundary_pieces_have_two_argmax_values():
    network = NETS["mlp"]
    net = from_spec(network, he_normal_weights(network, seed=1))   # a seed where the argmax changes
    points = np.random.default_rng(4).normal(size=(3, 6)) * 3
    result = slice_network(net, points, region="parallelogram")
    assert result.boundary_pieces == int(result.crossed.sum()) > 0
    rng = np.random.default_rng(0)
    for i, v in enumerate(result.vertices):
        C = sample_interior(v, rng, count=40)
        out = evaluate(net, result.plane.origin + C @ result.plane.basis.T)[1]
        winners = set(np.argmax(out, axis=1).tolist())
        if not result.crossed[i]:
            assert len(winners) == 1
    for seg in result.boundary:  # the top two outputs tie on every boundary segment
        mid = seg.mean(axis=0)
        out = np.sort(evaluate(net, (result.plane.origin + result.plane.basis @ mid)[None])[1][0])
        assert out[-1] - out[-2] < 1e-7 * (1 + abs(out[-1]))


def test_exact_recheck_of_a_degenerate_slice():
    # A slice through the origin of a bias-free layer: every line meets at the origin,
    # a vertex whose values are zero; the pieces are still certified.
    network = Network((2,), (DenseLayer(5),))
    w = he_normal_weights(network, seed=1)
    w["layers.0.bias"] = np.zeros(5)
    result = slice_network(network, [[-1.0, -1.0], [1.0, -1.0], [0.0, 2.0]], weights=w, region="parallelogram")
    assert result.pieces == 10 and result.certificate.ok   # 5 lines through one point: 10 sectors


def test_plane_errors():
    with pytest.raises(InputError, match="collinear"):
        make_plane([np.zeros(3), np.ones(3), 2 * np.ones(3)])
    with pytest.raises(InputError, match="same point"):
        make_plane([np.ones(3), np.ones(3)])
    with pytest.raises(InputError, match="2 points"):
        make_plane([np.ones(3)])
    net = NETS["mlp"]
    with pytest.raises(InputError, match="network's input has 6"):
        slice_network(net, [np.zeros(5), np.ones(5)], seed=0)


def test_time_limit_gives_a_lower_bound():
    network = NETS["conv+maxpool+dense"]
    points = np.random.default_rng(0).normal(size=(3, 36))
    full = slice_network(network, points, seed=0)
    partial = slice_network(network, points, seed=0, time_limit=1e-9)
    assert not partial.complete and partial.pending
    assert 1 <= partial.pieces <= full.pieces
    assert partial.to_json()["status"] == "partial" and partial.to_json()["lower_bound"] is True


# ---------------------------------------------------------------------------
# The command line
# ---------------------------------------------------------------------------

@pytest.fixture
def spec(tmp_path):
    path = tmp_path / "net.toml"
    path.write_text('input = [6, 6, 1]\n[[layers]]\ntype = "conv"\nfilters = 3\nkernel = 3\n'
                    '[[layers]]\ntype = "maxpool"\nkernel = 2\n[[layers]]\ntype = "dense"\nunits = 4\n')
    data = np.random.default_rng(7).normal(size=(5, 6, 6, 1))  # not the random points (seed 0)
    np.save(tmp_path / "data.npy", data)
    np.save(tmp_path / "a.npy", data[0])
    return path


def test_cli_json(cli, spec, tmp_path):
    code, out, err = cli("slice", spec, "--seed", "0", "--through", f"{tmp_path / 'a.npy'},1,random",
                         "--data", tmp_path / "data.npy", "--json")
    assert code == 0, err
    data = json.loads(out)
    assert list(data)[:3] == ["model", "status", "seconds"] and data["status"] == "exact"
    network = Network((6, 6, 1), (ConvLayer(3, 3), MaxPoolLayer(2), DenseLayer(4)))
    points = [np.load(tmp_path / "a.npy"), np.load(tmp_path / "data.npy")[1],
              np.random.default_rng(0).normal(size=36)]
    direct = slice_network(network, points, seed=0)
    assert data["pieces"] == direct.pieces == len(data["piece_list"])
    assert {p["pattern"] for p in data["piece_list"]} == set(direct.patterns)
    assert data["certified"]["mismatches"] == 0


def test_cli_plot_and_refusals(cli, spec, tmp_path):
    png = tmp_path / "s.png"
    code, out, err = cli("slice", spec, "--seed", "0", "--through", "0,1,2", "--data", tmp_path / "data.npy",
                         "--plot", png)
    assert code == 0, err
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "pieces:" in out and "(exact" in out
    code, _, err = cli("slice", spec, "--seed", "0", "--through", "0,1", "--data", tmp_path / "data.npy",
                       "--plot", tmp_path / "line.svg")
    assert code == 0 and (tmp_path / "line.svg").read_text().lstrip().startswith("<?xml")
    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)
    (tmp_path / "dir.png").mkdir()
    for target in (fifo, tmp_path / "dir.png"):
        code, _, err = cli("slice", spec, "--seed", "0", "--through", "0,1", "--data", tmp_path / "data.npy",
                           "--plot", target)
        assert code == 2 and "not a regular file" in err and err.count("\n") == 1
    for through, message in [("0,1", "give --data"), ("0,1,2,3", "A,B or A,B,C"), ("0,9", "outside --data"),
                             ("nope.npy,1", "no such file")]:
        extra = ["--data", tmp_path / "data.npy"] if message != "give --data" else []
        code, _, err = cli("slice", spec, "--seed", "0", "--through", through, *extra)
        assert code == 2 and message in err and err.count("\n") == 1, err


def test_cli_time_limit_exit_3(cli, spec):
    code, out, err = cli("slice", spec, "--seed", "0", "--through", "random,random,random",
                         "--time-limit", "1e-9", "--json")
    assert code == 3
    data = json.loads(out)
    assert data["status"] == "partial" and data["lower_bound"] and data["pieces"] >= 1


@pytest.mark.slow
def test_grid_1000_conv_net():
    network = Network((8, 8, 1), (ConvLayer(4, 3), MaxPoolLayer(2), ConvLayer(6, 2), DenseLayer(10)))
    net = from_spec(network, he_normal_weights(network, seed=0))
    points = np.random.default_rng(0).normal(size=(3, 64))
    result = slice_network(net, points, region="parallelogram")
    found = check_against_grid(net, result, 1000)
    assert found <= result.pieces
    check_pieces_constant(net, result)


def test_docs_slice_examples_run():
    import doctest
    from pathlib import Path

    text = (Path(__file__).resolve().parents[1] / "docs" / "slice.md").read_text()
    blocks = [b.split("```", 1)[0] for b in text.split("```pycon\n")[1:]]
    assert blocks
    parser, runner = doctest.DocTestParser(), doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    for k, block in enumerate(blocks):
        runner.run(parser.get_doctest(block, {}, f"slice.md[{k}]", "docs/slice.md", 0))
    assert runner.summarize(verbose=False).failed == 0

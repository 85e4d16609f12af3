"""slice --lines: many exact segments at once, their density, executors, time limits and refusals."""

from __future__ import annotations

import json
import statistics

import numpy as np
import pytest

from ilpregions.core.errors import ParameterError
from ilpregions.core.spec import ConvLayer, DenseLayer, MaxPoolLayer, Network
from ilpregions.services.slicing import (MAX_LINES, Spread, as_slicenet, line_density, load_points, random_lines,
                                         rms_distance, slice_lines, slice_network)
from ilpregions.backends.slicing.certify import bounded_forward
from ilpregions.backends.slicing.engine import pattern_id

CONV = Network((6, 6, 1), (ConvLayer(3, 3), MaxPoolLayer(2), DenseLayer(4)))
MLP = Network((6,), (DenseLayer(8), DenseLayer(6), DenseLayer(3)))


def conv_net():
    return as_slicenet(CONV, seed=2)


def sampled_patterns(net, a, b, samples=4001):
    """Certified patterns at evenly spaced points of A->B, in order (an independent look at the line)."""
    t = np.linspace(0.0, 1.0, samples)[:, None]
    codes, ok = bounded_forward(net, a, (b - a)[:, None], t)
    return [pattern_id(row) for row in codes[ok]]


def runs(sequence):
    return sum(1 for k, p in enumerate(sequence) if k == 0 or p != sequence[k - 1])


def test_each_line_is_the_slice_of_its_segment_and_sampling_is_a_lower_bound():
    net = conv_net()
    data = np.random.default_rng(3).normal(size=(12, 6, 6, 1))
    lines = random_lines(6, data, seed=4)
    results = sorted(slice_lines(net, lines), key=lambda r: r.index)
    assert [r.index for r in results] == list(range(6))
    for r, (a, b) in zip(results, lines):
        direct = slice_network(net, [a, b])
        assert r.status == "exact" and r.pieces == direct.pieces > 1
        assert r.length == pytest.approx(np.linalg.norm(b - a), rel=1e-15)
        assert r.density == r.pieces / r.length and r.breakpoint_density == (r.pieces - 1) / r.length
        assert list(r.breakpoints) == direct.breakpoints() and len(r.breakpoints) == r.pieces - 1
        seen = sampled_patterns(net, a, b)
        assert len(seen) > 3900                          # nearly every sample certified
        assert runs(seen) == len(set(seen))              # a line meets each (convex) pattern once
        assert set(seen) <= set(direct.patterns) and len(set(seen)) <= r.pieces
        assert len(set(seen)) >= 0.8 * r.pieces          # and the sampling sees most of them


def test_line_density_statistics_equal_a_direct_computation():
    lines = random_lines(7, size=6, seed=1)
    summary = line_density(MLP, lines, seed=0)
    pieces = [slice_network(MLP, list(pair), seed=0).pieces for pair in lines]
    lengths = [float(np.linalg.norm(b - a)) for a, b in lines]
    densities = [p / n for p, n in zip(pieces, lengths)]
    assert summary.status == "exact" and summary.complete and summary.not_run == 0
    assert [r.pieces for r in summary.lines] == pieces
    assert summary.pieces.mean == pytest.approx(statistics.fmean(pieces))
    assert summary.density.mean == pytest.approx(statistics.fmean(densities))
    assert summary.density.std == pytest.approx(statistics.stdev(densities))
    inclusive = statistics.quantiles(densities, n=20, method="inclusive")  # 5%, 10%, ..., 95%
    assert summary.density.quantiles["q05"] == pytest.approx(inclusive[0])
    assert summary.density.quantiles["q50"] == pytest.approx(statistics.median(densities))
    assert summary.density.quantiles["q95"] == pytest.approx(inclusive[-1])
    assert summary.density.min == min(densities) and summary.density.max == max(densities)


def test_spread_of_nothing_and_of_one_value():
    assert Spread.of([]).mean is None and Spread.of([]).n == 0
    one = Spread.of([2.5])
    assert (one.mean, one.std, one.min, one.max, one.quantiles["q50"]) == (2.5, 0.0, 2.5, 2.5, 2.5)


def test_random_lines_are_reproducible_and_go_through_the_data():
    data = np.random.default_rng(0).normal(size=(9, 2, 3))
    rows = data.reshape(9, -1)
    few, many = random_lines(3, data, seed=5), random_lines(8, data, seed=5)
    for (a, b), (c, d) in zip(few, many):   # line k does not depend on how many are drawn
        assert np.array_equal(a, c) and np.array_equal(b, d)
    for a, b in many:                       # pairs: two distinct rows of the data
        ia, ib = (int(np.flatnonzero((rows == p).all(axis=1))[0]) for p in (a, b))
        assert ia != ib
    along = random_lines(5, data, directions=True, length=0.75, seed=2)
    for a, b in along:                      # directions: centred at a row, of the given length
        assert np.linalg.norm(b - a) == pytest.approx(0.75)
        assert np.abs(rows - (a + b) / 2).max(axis=1).min() < 1e-12
    assert random_lines(2, data, directions=True).length == pytest.approx(rms_distance(data))
    assert random_lines(2, size=8, directions=True).length == pytest.approx(4.0)
    assert random_lines(2, size=3, seed=1).line(1)[0].shape == (3,)


def test_rms_distance_is_the_mean_pairwise_distance_in_squares():
    data = np.random.default_rng(1).normal(size=(30, 4)) * [1.0, 2.0, 0.5, 3.0] + 7.0
    squares = [np.sum((x - y) ** 2) for i, x in enumerate(data) for j, y in enumerate(data) if i != j]
    assert rms_distance(data) ** 2 == pytest.approx(np.mean(squares), rel=1e-12)


def test_pool_and_dask_give_the_lines_of_one_process():
    net = conv_net()
    lines = random_lines(6, size=net.input_size, seed=9)
    serial = sorted(slice_lines(net, lines), key=lambda r: r.index)
    pooled = sorted(slice_lines(net, lines, workers=2), key=lambda r: r.index)
    key = [(r.index, r.pieces, r.status, r.breakpoints) for r in serial]
    assert [(r.index, r.pieces, r.status, r.breakpoints) for r in pooled] == key
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False,
                                  dashboard_address=None) as cluster, distributed.Client(cluster) as client:
        on_dask = line_density(net, lines, scheduler=client)
    assert [(r.index, r.pieces, r.status, r.breakpoints) for r in on_dask.lines] == key


def test_time_limit_keeps_the_finished_lines_and_labels_the_rest():
    lines = random_lines(400, size=36, seed=0)
    summary = line_density(CONV, lines, seed=2, time_limit=0.3)
    assert summary.status == "partial" and not summary.complete
    assert summary.not_run > 0 and len(summary.lines) + summary.not_run == 400
    assert summary.pieces.n == len(summary.exact_lines) == len(summary.lines) - sum(
        r.status == "partial" for r in summary.lines)
    net = conv_net()
    for r in summary.lines[:5]:
        full = slice_network(net, list(lines.line(r.index)))
        assert r.pieces <= full.pieces and (r.pieces == full.pieces or r.status == "partial")
    record = summary.to_json("m")
    assert record["lines_not_run"] == summary.not_run and record["status"] == "partial"


def test_time_limit_on_a_pool_ends_the_workers_and_labels_the_lines():
    summary = line_density(CONV, random_lines(100000, size=36, seed=0), seed=2, workers=2, time_limit=0.5)
    assert summary.status == "partial" and summary.not_run > 0
    assert all(r.status in ("exact", "partial") for r in summary.lines)
    assert summary.pieces.n == len(summary.exact_lines)


def test_lines_from_an_iterator_without_a_length():
    pairs = (pair for pair in random_lines(3, size=6, seed=2))
    summary = line_density(MLP, pairs, seed=0)
    assert summary.requested is None and summary.not_run == 0 and summary.complete


@pytest.mark.parametrize("call, parameter", [
    (lambda: random_lines(0, size=3), "count"),
    (lambda: random_lines(-2, size=3), "count"),
    (lambda: random_lines(True, size=3), "count"),
    (lambda: random_lines(MAX_LINES + 1, size=3), "count"),
    (lambda: random_lines(2.5, size=3), "count"),
    (lambda: random_lines(2), "size"),
    (lambda: random_lines(2, np.zeros((1, 3))), "data"),
    (lambda: random_lines(2, np.zeros(3)), "data"),
    (lambda: list(random_lines(2, np.zeros((5, 3)))), "data"),  # every pair of rows is the same point
    (lambda: random_lines(2, size=3, length=1.0), "length"),
    (lambda: random_lines(2, size=3, directions=True, length=0.0), "length"),
    (lambda: random_lines(2, size=3, directions=True, length=float("inf")), "length"),
    (lambda: random_lines(2, np.ones((4, 3)), directions=True), "length"),
    (lambda: list(slice_lines(MLP, [([0] * 6, [1] * 6)], seed=0, workers=0)), "workers"),
    (lambda: list(slice_lines(MLP, [([0] * 6, [1] * 6)], seed=0, workers=2, scheduler="tcp://x:1")), "workers"),
    (lambda: list(slice_lines(MLP, [([0] * 5, [1] * 5)], seed=0)), "lines"),
    (lambda: list(slice_lines(MLP, [([0] * 6, [0] * 6)], seed=0)), "lines"),
])
def test_refusals_name_the_parameter(call, parameter):
    with pytest.raises(ParameterError) as info:
        call()
    assert info.value.parameter == parameter


def test_load_points_reads_only_regular_numeric_files(tmp_path, fifo):
    np.save(tmp_path / "x.npy", np.arange(6.0).reshape(3, 2))
    mapped = load_points(tmp_path / "x.npy")
    assert isinstance(mapped, np.memmap) and mapped.tolist() == [[0.0, 1.0], [2.0, 3.0], [4.0, 5.0]]
    np.save(tmp_path / "f.npy", np.asfortranarray(np.arange(6.0).reshape(2, 3)))
    assert load_points(tmp_path / "f.npy").tolist() == [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]]
    (tmp_path / "short.npy").write_bytes((tmp_path / "x.npy").read_bytes()[:-8])  # declares more than it holds
    # the fifo (made in tmp_path by conftest): opening it would block, so it is refused, never waited on
    np.save(tmp_path / "objects.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    (tmp_path / "folder.npy").mkdir()
    for path, needle in [(fifo, "FIFO"), (tmp_path / "objects.npy", "pickles are never loaded"),
                         (tmp_path / "short.npy", "not a readable .npy"),
                         (tmp_path / "folder.npy", "directory"), (tmp_path / "none.npy", "no such file")]:
        with pytest.raises(ParameterError, match=needle) as info:
            load_points(path)
        assert info.value.parameter == "data"


# ---------------------------------------------------------------------------
# The command line
# ---------------------------------------------------------------------------

@pytest.fixture
def spec(tmp_path):
    path = tmp_path / "net.toml"
    path.write_text('input = [6, 6, 1]\n[[layers]]\ntype = "conv"\nfilters = 3\nkernel = 3\n'
                    '[[layers]]\ntype = "maxpool"\nkernel = 2\n[[layers]]\ntype = "dense"\nunits = 4\n')
    np.save(tmp_path / "data.npy", np.random.default_rng(7).normal(size=(10, 6, 6, 1)))
    return path


def test_cli_lines_json(cli, spec, tmp_path):
    data_path = tmp_path / "data.npy"
    code, out, err = cli("slice", spec, "--seed", "2", "--lines", "5", "--data", data_path, "--point-seed", "3",
                         "--json")
    assert code == 0, err
    record = json.loads(out)
    assert list(record)[:3] == ["model", "status", "seconds"] and record["status"] == "exact"
    for key in ("lines_requested", "lines_exact", "lines_partial", "lines_uncertified", "lines_not_run",
                "line_kind", "points", "line_length", "point_seed", "workers", "pieces_total", "pieces", "density",
                "breakpoint_density", "arithmetic", "line_list"):
        assert key in record, key
    assert set(record["density"]) == {"n", "mean", "std", "min", "max", "quantiles"}
    assert set(record["density"]["quantiles"]) == {"q05", "q25", "q50", "q75", "q95"}
    assert record["line_kind"] == "pairs" and record["points"] == "data" and record["lines_exact"] == 5
    expected = line_density(CONV, random_lines(5, np.load(data_path), seed=3), seed=2)
    assert [line["pieces"] for line in record["line_list"]] == [r.pieces for r in expected.lines]
    assert record["pieces_total"] == sum(r.pieces for r in expected.lines)
    assert record["density"]["mean"] == pytest.approx(expected.density.mean)
    assert set(record["line_list"][0]) == {"index", "status", "pieces", "length", "density", "seconds"}
    code, out, err = cli("slice", spec, "--seed", "2", "--lines", "3", "--directions", "--line-length", "0.5",
                         "--workers", "2")
    assert code == 0, err
    assert "pieces per unit length: mean" in out and "length 0.5 along random directions" in out
    assert "standard-normal points" in out and "2 processes" in out


def test_cli_lines_time_limit_exit_3(cli, spec):
    code, out, err = cli("slice", spec, "--seed", "2", "--lines", "100000", "--time-limit", "0.2", "--json")
    assert code == 3, err
    record = json.loads(out)
    assert record["status"] == "partial" and record["lines_not_run"] > 0
    assert record["lines_exact"] == record["pieces"]["n"]


def test_cli_lines_refusals(cli, spec, tmp_path, fifo):
    for args, needle in [
        (("--lines", "0"), "--lines: expected a number of lines from 1"),
        (("--lines", "3", "--data", fifo), "--data: "),
        (("--lines", "3", "--line-length", "1"), "--line-length:"),
        (("--lines", "3", "--workers", "0"), "--workers:"),
        (("--lines", "3", "--plot", tmp_path / "x.png"), "--plot does not go with --lines"),
        (("--through", "random,random", "--workers", "2"), "--workers goes with --lines"),
        (("--through", "0,1", "--data", fifo), "FIFO"),
    ]:
        code, out, err = cli("slice", spec, "--seed", "0", *args)
        assert code == 2 and needle in err and err.count("\n") == 1, (args, err)
    code, out, err = cli("slice", spec, "--seed", "0", "--lines", "2", "--through", "random,random")
    assert code == 2  # argparse: one or the other

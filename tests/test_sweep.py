"""Sweeps: grid validation, serial = process pool = Dask, streaming output, kill + resume."""

from __future__ import annotations

import csv
import io
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ilpregions.services.count._theorem1 import count_regions
from ilpregions.core.errors import InputError, SpecError
from ilpregions.core.spec_toml import network_from_dict
from ilpregions.services.sweep._run import grid_from_dict, load_grid, read_rows, run_sweep

from helpers import THEOREM1_CASES

# 200 tiny one-layer models (10 inputs x 4 kernels x 5 widths), 1-D and 2-D,
# some invalid (kernel larger than the input): each point takes milliseconds.
GRID_200 = """\
# 200 tiny one-layer models: 10 inputs x 4 kernels x 5 widths
task = "count"
backend = "cpsat"

[base]
input = [3, 3, 1]
[[base.layers]]
type = "conv"
filters = 2
kernel = 2

[grid]
"input" = [[4, 1], [5, 1], [6, 1], [7, 1], [3, 3, 1], [2, 3, 1], [3, 2, 1], [2, 2, 2], [3, 3, 2], [2, 4, 1]]
"layers[0].kernel" = [1, 2, 3, 4]
"layers[0].filters" = [1, 2, 3, 4, 5]
"""


def strip_time(rows):
    """Rows without the wall-time column, the only one allowed to differ between runs."""
    return [{k: v for k, v in row.items() if k != "seconds"} for row in rows]


def read_csv(path: Path):
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def cli(*args, **kwargs):
    return subprocess.run([sys.executable, "-m", "ilpregions", *map(str, args)], capture_output=True,
                          text=True, timeout=120, **kwargs)


@pytest.fixture(scope="module")
def grid_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("grid") / "g200.toml"
    path.write_text(GRID_200)
    return path


@pytest.fixture(scope="module")
def serial_rows(grid_file):
    summary = run_sweep(grid_file, workers=1)
    assert summary.points == 200 and summary.ran == 200 and len(summary.rows) == 200
    return summary.rows


# ---------------------------------------------------------------------------
# The grid format
# ---------------------------------------------------------------------------

BASE = {"input": [4, 1], "layers": [{"type": "conv", "filters": 1, "kernel": 2}]}


@pytest.mark.parametrize("data, field, words", [
    ({"base": BASE, "grid": {"layers[0].filter": [1]}}, 'grid."layers[0].filter"', "did you mean 'filters'"),
    ({"base": BASE, "grid": {"layers[3].filters": [1]}}, 'grid."layers[3].filters"', "out of range"),
    ({"base": BASE, "grid": {"layers[0].filters": 3}}, 'grid."layers[0].filters"', "non-empty list"),
    ({"base": BASE, "grid": {"layers[0].filters": []}}, 'grid."layers[0].filters"', "non-empty list"),
    ({"base": BASE, "grid": {"inputs": [[3, 1]]}}, 'grid."inputs"', "did you mean 'input'"),
    ({"base": BASE, "grid": {"layers..x": [1]}}, 'grid."layers..x"', "not a field path"),
    ({"base": BASE, "task": "counts"}, "task", "did you mean 'count'"),
    ({"base": BASE, "time_limit": -1}, "time_limit", "positive"),
    ({"base": BASE, "task": "bounds", "backend": "cpsat"}, "backend", "'count' only"),
    ({"grid": {}}, "base", "is missing"),
    ({"base": {"inputs": [3]}}, "base", "unknown key 'inputs'"),
    ({"base": BASE, "grids": {}}, "", "did you mean 'grid'"),
])
def test_grid_errors_name_the_field(data, field, words):
    with pytest.raises(SpecError) as info:
        grid_from_dict(data)
    assert info.value.field == field
    assert words in str(info.value)


def test_unknown_backend_lists_valid_ones():
    with pytest.raises(InputError, match="valid backends"):
        grid_from_dict({"base": BASE, "backend": "cpsta"})


def test_product_order_and_specs():
    grid = grid_from_dict({"base": BASE, "grid": {"input": [[4, 1], [3, 3, 1]],
                                                  "layers[0].filters": [1, 2, 3]}})
    assert len(grid) == 6
    # last key fastest
    assert [grid.point(i) for i in (0, 1, 3)] == [
        {"input": [4, 1], "layers[0].filters": 1}, {"input": [4, 1], "layers[0].filters": 2},
        {"input": [3, 3, 1], "layers[0].filters": 1}]
    spec = grid.spec(5)
    assert spec == {"input": [3, 3, 1], "layers": [{"type": "conv", "filters": 3, "kernel": 2}]}
    assert BASE["layers"][0]["filters"] == 1  # the base is never mutated
    with pytest.raises(IndexError):
        grid.point(6)


def test_base_from_a_file_and_whole_layer_lists(tmp_path):
    (tmp_path / "m.toml").write_text('input = [3, 3, 1]\n[[layers]]\ntype = "local"\nfilters = 2\nkernel = 2\n')
    (tmp_path / "g.toml").write_text(
        'base = "m.toml"\n[grid]\n"layers[0].filters" = [2, 4]\n')
    summary = run_sweep(tmp_path / "g.toml", workers=1)
    # Reference values (tests/data/theorem1.json): 3x3x1, 2x2, d1 = 2 and 4.
    reference = {c["filters"]: c["regions"] for c in THEOREM1_CASES
                 if c["input"] == [3, 3, 1] and c["kernel"] == [2, 2] and len(c) <= 7}
    assert [r["regions"] for r in summary.rows] == [reference[2], reference[4]] == ["256", "48957"]

    grid = grid_from_dict({"base": BASE, "task": "count", "grid": {"layers": [
        [{"type": "dense", "units": 3}], [{"type": "conv", "filters": 2, "kernel": 2}]]}})
    rows = run_sweep(grid, workers=1).rows
    assert [r["regions"] for r in rows] == ["8", "55"]  # Pascanu: sum_{i<=4} C(3, i) = 2^3


def test_rows_match_independent_bruteforce(serial_rows, grid_file):
    grid = load_grid(grid_file)
    assert len(serial_rows) == 200
    checked = 0
    for row in serial_rows:
        index = int(row["id"])
        assert row["input"] == grid.param_cells(index)["input"]
        if row["status"] == "invalid":
            with pytest.raises(InputError):
                network_from_dict(grid.spec(index))
            continue
        assert row["status"] == "complete" and row["exact"] == "true" and row["backend"] == "cpsat"
        if int(row["positions"]) <= 6 and int(row["layers[0].filters"]) <= 3:
            brute = count_regions(network_from_dict(grid.spec(index)), backend="bruteforce")
            assert row["regions"] == str(brute.regions)
            assert row["t_vectors"] == str(brute.t_vectors)
            checked += 1
    assert checked >= 40
    statuses = {r["status"] for r in serial_rows}
    assert statuses == {"complete", "invalid"}


def test_multi_layer_point_is_invalid_for_count_not_fatal():
    grid = grid_from_dict({"base": {"input": [4, 1], "layers": [
        {"type": "conv", "filters": 2, "kernel": 2}, {"type": "conv", "filters": 2, "kernel": 2}]}})
    (row,) = run_sweep(grid, workers=1).rows
    assert row["status"] == "invalid" and row["regions"] == "" and row["error"]


# ---------------------------------------------------------------------------
# Serial = pool = Dask
# ---------------------------------------------------------------------------

def test_pool_matches_serial(serial_rows, grid_file, tmp_path):
    out = tmp_path / "pool.csv"
    summary = run_sweep(grid_file, workers=2, output=out)
    assert strip_time(summary.rows) == strip_time(serial_rows)
    assert strip_time(read_csv(out)) == strip_time(serial_rows)
    chunked = run_sweep(grid_file, workers=2, chunk=7)  # 7 points per task: 29 tasks, the last short
    assert strip_time(chunked.rows) == strip_time(serial_rows)


def test_cli_serial_and_pool_files_identical(serial_rows, grid_file, tmp_path):
    out = tmp_path / "one.csv"
    result = cli("sweep", grid_file, "--workers", 1, "-o", out)
    assert result.returncode == 0, result.stderr
    assert "sweep: 200 points: 150 complete, 50 invalid -> " in result.stderr
    assert strip_time(read_csv(out)) == strip_time(serial_rows)
    # without -o, rows stream to stdout in id order, here from a pool
    stream = io.StringIO()
    run_sweep(grid_file, workers=2, stream=stream)
    assert strip_time(list(csv.DictReader(io.StringIO(stream.getvalue())))) == strip_time(serial_rows)


@pytest.fixture(scope="module")
def dask_cluster():
    distributed = pytest.importorskip("distributed")
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                       host="127.0.0.1", protocol="tcp", dashboard_address=None)
    try:
        yield cluster
    finally:
        cluster.close()


def test_dask_matches_serial(serial_rows, grid_file, tmp_path, dask_cluster):
    address = dask_cluster.scheduler_address
    assert address.startswith("tcp://127.0.0.1:")
    out = tmp_path / "dask.csv"
    summary = run_sweep(grid_file, scheduler=address, output=out)
    assert summary.ran == 200
    assert strip_time(summary.rows) == strip_time(serial_rows)
    assert strip_time(read_csv(out)) == strip_time(serial_rows)
    chunked = run_sweep(grid_file, scheduler=address, chunk=7)
    assert strip_time(chunked.rows) == strip_time(serial_rows)


def test_dask_cli_and_resume(tmp_path, dask_cluster):
    small = tmp_path / "small.toml"
    small.write_text(GRID_200.replace('"layers[0].kernel" = [1, 2, 3, 4]', '"layers[0].kernel" = [2]'))
    expected = strip_time(run_sweep(small, workers=1).rows)
    assert len(expected) == 50
    out = tmp_path / "dask_cli.csv"
    result = cli("sweep", small, "--scheduler", dask_cluster.scheduler_address, "-o", out, "--quiet")
    assert result.returncode == 0, result.stderr
    assert strip_time(read_csv(out)) == expected
    # drop the second half, then resume on the cluster
    lines = out.read_text().splitlines(keepends=True)
    out.write_text("".join(lines[:26]))
    summary = run_sweep(small, scheduler=dask_cluster.scheduler_address, output=out, resume=True)
    assert (summary.skipped, summary.ran) == (25, 25)
    assert strip_time(read_csv(out)) == expected


def test_dask_client_object(tmp_path, dask_cluster):
    distributed = pytest.importorskip("distributed")
    grid = grid_from_dict({"backend": "cpsat", "base": BASE, "grid": {"layers[0].filters": [1, 2, 3, 4]}})
    with distributed.Client(dask_cluster) as client:
        rows = run_sweep(grid, scheduler=client).rows
        assert client.status == "running"  # a client we were given is left open
    assert strip_time(rows) == strip_time(run_sweep(grid, workers=1).rows)
    # input 4x1, kernel 2: sum over t in {0,1,2}^3 with t0+t1, t1+t2 <= 3 and sum t <= 4 of prod C(d, t_p)
    assert [r["regions"] for r in rows] == ["8", "55", "217", "611"]


def test_unreachable_scheduler_is_an_input_error(grid_file):
    dask = pytest.importorskip("dask")
    pytest.importorskip("distributed")
    start = time.perf_counter()
    with dask.config.set({"distributed.comm.timeouts.connect": "1s"}):
        with pytest.raises(InputError, match="cannot reach the Dask scheduler at 'tcp://127.0.0.1:9'"):
            run_sweep(grid_file, scheduler="tcp://127.0.0.1:9", time_limit=1.0)
    assert time.perf_counter() - start < 8     # the wait stops at the time limit, not at the 10 s cap


# ---------------------------------------------------------------------------
# Atomic output, kill and resume
# ---------------------------------------------------------------------------

def _data_rows(path: Path) -> int:
    try:
        return max(0, path.read_bytes().count(b"\n") - 1)
    except FileNotFoundError:
        return 0


def test_killed_sweep_resumes_without_losing_or_duplicating_rows(serial_rows, grid_file, tmp_path):
    out = tmp_path / "killed.csv"
    killed_at = None
    for _attempt in range(5):
        if out.exists():
            out.unlink()
        proc = subprocess.Popen([sys.executable, "-m", "ilpregions", "sweep", str(grid_file),
                                 "--workers", "2", "-o", str(out), "--quiet"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                start_new_session=True)
        try:
            deadline = time.monotonic() + 60
            while _data_rows(out) < 5 and proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.0005)
            # SIGKILL the whole session: the sweep and its pool workers, no cleanup at all
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        finally:
            proc.wait(timeout=30)
        if proc.returncode == -signal.SIGKILL and _data_rows(out) < 200:
            killed_at = _data_rows(out)
            break
    assert killed_at is not None, "the sweep always finished before it could be killed"

    kept = read_rows(out, load_grid(grid_file))
    assert 0 < len(kept) < 200
    by_id = {r["id"]: r for r in serial_rows}
    for row in kept:  # every row that made it to the file is complete and right
        assert strip_time([row]) == strip_time([by_id[row["id"]]])
    # a process killed in the middle of a write leaves a torn last line
    with open(out, "a") as fh:
        fh.write('199,"[2,4,1]",4,5,comp')

    result = cli("sweep", grid_file, "--workers", "1", "-o", out, "--resume")
    assert result.returncode == 0, result.stderr
    assert f"({len(kept)} already done)" in result.stderr
    rows = read_csv(out)
    assert [r["id"] for r in rows] == [str(i) for i in range(200)]  # no duplicate, no gap
    assert strip_time(rows) == strip_time(serial_rows)
    # resuming a finished sweep runs nothing
    summary = run_sweep(grid_file, workers=1, output=out, resume=True)
    assert (summary.ran, summary.skipped) == (0, 200)


def test_existing_output_needs_resume_or_overwrite(grid_file, tmp_path, capsys):
    from ilpregions.cli.main import main

    out = tmp_path / "x.csv"
    out.write_text("whatever\n")
    assert main(["sweep", str(grid_file), "-o", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "--resume" in err and "--overwrite" in err and err.count("\n") == 1
    assert main(["sweep", str(grid_file), "-o", str(out), "--quiet", "--resume"]) == 2
    assert "fingerprint" in capsys.readouterr().err  # no proof it is this grid's file
    assert out.read_text() == "whatever\n"  # untouched


def test_resume_refuses_a_changed_grid(grid_file, tmp_path):
    out = tmp_path / "x.csv"
    small = tmp_path / "small.toml"
    small.write_text(GRID_200.replace('[1, 2, 3, 4, 5]', '[1, 2]').replace('[1, 2, 3, 4]', '[1, 2, 3, 4, 5]'))
    run_sweep(small, workers=1, output=out)
    with pytest.raises(InputError, match="the grid axes changed"):
        run_sweep(grid_file, workers=1, output=out, resume=True)


def test_parquet_output(grid_file, tmp_path, serial_rows):
    pq = pytest.importorskip("pyarrow.parquet")
    out = tmp_path / "x.parquet"
    run_sweep(grid_file, workers=1, output=out)
    table = pq.read_table(out).to_pylist()
    assert [str(r["id"]) for r in table] == [r["id"] for r in serial_rows]
    assert [r["regions"] for r in table] == [r["regions"] for r in serial_rows]


@pytest.mark.slow
def test_bigger_sweep_pool_equals_serial(tmp_path):
    grid = grid_from_dict({"base": BASE, "grid": {
        "input": [[n, m, 1] for n in range(2, 6) for m in range(2, 5)],
        "layers[0].type": ["conv", "local"], "layers[0].kernel": [1, 2, 3],
        "layers[0].stride": [1, 2], "layers[0].filters": [1, 2, 3, 4]}})
    serial = run_sweep(grid, workers=1)
    pool = run_sweep(grid, workers=2, output=tmp_path / "big.csv")
    assert len(serial.rows) == len(grid) == 576
    assert {r["status"] for r in serial.rows} == {"complete", "invalid"}
    assert strip_time(serial.rows) == strip_time(pool.rows)


# ---------------------------------------------------------------------------
# bounds and claims tasks
# ---------------------------------------------------------------------------

TWO_LAYER = {"input": [1, 4, 1], "layers": [{"type": "conv", "filters": 2, "kernel": [1, 2]},
                                            {"type": "conv", "filters": 1, "kernel": [1, 2]}]}


@pytest.mark.parametrize("task", ["bounds", "claims"])
def test_bounds_and_claims_tasks(task):
    from ilpregions.services import bounds as multilayer
    from math import comb, log10

    grid = grid_from_dict({"task": task, "base": TWO_LAYER, "grid": {"layers[1].filters": [1, 2, 4]}})
    rows = run_sweep(grid, workers=1).rows
    assert [r["status"] for r in rows] == ["complete"] * 3
    for row, d2 in zip(rows, (1, 2, 4)):
        report = multilayer.compute_bounds(network_from_dict(grid.spec(int(row["id"]))))
        assert (row["lower"], row["upper"], row["params"]) == (
            str(report.lower), str(report.upper), str(report.params))
        # docs/math.md#theorem-2-ii-upper-bound / issue 5: the Theorem-2 upper bound is 55 * sum_{i<=4} C(2 d2, i)
        assert int(row["upper"]) <= 55 * sum(comb(2 * d2, i) for i in range(5))
        assert int(row["lower"]) <= int(row["upper"])
        if task == "claims":
            assert abs(float(row["log10_upper_per_param"])
                       - (log10(int(row["upper"])) - log10(int(row["params"])))) < 1e-6


def test_parquet_resume(grid_file, tmp_path, serial_rows):
    pytest.importorskip("pyarrow.parquet")
    out = tmp_path / "r.parquet"
    run_sweep(grid_file, workers=1, output=out)
    again = run_sweep(grid_file, workers=1, output=out, resume=True)
    assert (again.ran, again.skipped) == (0, 200)
    assert strip_time(again.rows) == strip_time(serial_rows)
    assert not (tmp_path / "r.parquet.partial.csv").exists()


# ---------------------------------------------------------------------------
# Hardening (issue 13): fingerprint, interrupts, orphans, huge grids, locks
# ---------------------------------------------------------------------------

SMALL = {"base": BASE, "grid": {"layers[0].filters": [1, 2, 3]}}


@pytest.mark.parametrize("change, what", [
    ({"base": {**BASE, "input": [5, 1]}}, "the base spec"),
    ({"backend": "cpsat"}, "the task, backend"),
    ({"options": {"memory_cap": 1.0}}, "the task, backend"),
    ({"time_limit": 5.0}, "the task, backend"),
])
def test_resume_refuses_another_base_backend_or_options(tmp_path, change, what):
    out = tmp_path / "s.csv"
    run_sweep(grid_from_dict(SMALL), workers=1, output=out)
    assert (tmp_path / "s.csv.sweep.json").exists()
    with pytest.raises(InputError, match=what):
        run_sweep(grid_from_dict({**SMALL, **change}), workers=1, output=out, resume=True)
    # the same grid resumes (nothing left to run)
    again = run_sweep(grid_from_dict(SMALL), workers=1, output=out, resume=True)
    assert (again.ran, again.skipped) == (0, 3)


def test_resume_refuses_a_file_without_fingerprint(tmp_path):
    out = tmp_path / "s.csv"
    run_sweep(grid_from_dict(SMALL), workers=1, output=out)
    (tmp_path / "s.csv.sweep.json").unlink()
    with pytest.raises(InputError, match="no fingerprint"):
        run_sweep(grid_from_dict(SMALL), workers=1, output=out, resume=True)


def test_a_time_limit_stop_before_the_limit_is_an_interruption():
    from ilpregions.services.sweep import _tasks as sweep_tasks

    # CP-SAT answers Ctrl-C with an ordinary time-limit stop; without a limit
    # (or long before it) that can only be an interruption.
    assert sweep_tasks._stopped_early(0.5, None)
    assert sweep_tasks._stopped_early(0.5, 10.0)
    assert not sweep_tasks._stopped_early(10.2, 10.0)


def test_interrupted_point_is_never_stored_and_resume_reruns_it(tmp_path, monkeypatch, cli):
    from ilpregions.services.sweep import _tasks as sweep_tasks

    real = sweep_tasks._TASKS["count"]

    def flaky(network, job):
        if job["id"] == 1:
            from ilpregions.core.results import TIME_LIMIT
            return TIME_LIMIT, {"regions": 1}  # what CP-SAT returns on Ctrl-C
        return real(network, job)

    monkeypatch.setitem(sweep_tasks._TASKS, "count", flaky)
    grid_path = tmp_path / "g.toml"
    grid_path.write_text('[base]\ninput = [4, 1]\n[[base.layers]]\ntype = "conv"\nfilters = 1\nkernel = 2\n'
                         '[grid]\n"layers[0].filters" = [1, 2, 3]\n')
    out = tmp_path / "s.csv"
    code, _, err = cli("sweep", grid_path, "--workers", "1", "-o", out, "--quiet")
    assert code == 130, err
    assert [r["id"] for r in read_csv(out)] == ["0"]  # point 1 is not a row
    monkeypatch.setitem(sweep_tasks._TASKS, "count", real)
    code, _, err = cli("sweep", grid_path, "--workers", "1", "-o", out, "--resume", "--quiet")
    assert code == 0, err
    assert [r["status"] for r in read_csv(out)] == ["complete"] * 3


def test_ctrl_c_in_a_point_is_an_interruption_not_a_row():
    from ilpregions.services.sweep import _tasks as sweep_tasks

    def interrupted(network, job):
        raise KeyboardInterrupt

    row = None
    real = sweep_tasks._TASKS["count"]
    sweep_tasks._TASKS["count"] = interrupted
    try:
        row = sweep_tasks.run_point({"id": 0, "spec": BASE, "task": "count", "backend": "auto",
                                     "time_limit": None, "options": {}})
    finally:
        sweep_tasks._TASKS["count"] = real
    assert row["status"] == "interrupted"
    with pytest.raises(KeyboardInterrupt):
        _consume_interrupted()


def _consume_interrupted():
    from ilpregions.services.sweep._run import _consume, _Sink

    grid = grid_from_dict(SMALL)
    sink = _Sink(grid.columns, None, None, {})
    _consume(grid, iter([{"id": "0", "status": "interrupted"}]), sink, type("B", (), {"update": lambda *a: 0})())


def test_a_billion_point_grid_is_refused_at_once():
    from ilpregions.core.errors import TooLargeError

    start = time.perf_counter()
    with pytest.raises(TooLargeError, match="over the limit"):
        grid_from_dict({"base": BASE, "grid": {"layers[0].filters": list(range(1, 1001)),
                                               "layers[0].kernel": list(range(1, 1001)),
                                               "input": [[n, 1] for n in range(1, 1001)]}})
    assert time.perf_counter() - start < 2


def test_ids_are_drawn_lazily():
    from ilpregions.services.sweep._run import MAX_GRID_POINTS, _results

    big = grid_from_dict({"base": BASE, "grid": {"layers[0].filters": list(range(1, 1001)),
                                                 "layers[0].padding": list(range(MAX_GRID_POINTS // 1000))}})
    assert len(big) == MAX_GRID_POINTS
    start = time.perf_counter()
    rows = _results(big, {}, 1, None, 1)
    assert next(rows)["status"] == "complete"
    assert time.perf_counter() - start < 5  # no list of ten million ids was built


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(x) for x in text.split()]


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_pool_workers_die_with_their_parent(tmp_path):
    grid = tmp_path / "slow.toml"
    grid.write_text('backend = "cpsat"\n[base]\ninput = [6, 6, 1]\n[[base.layers]]\ntype = "conv"\n'
                    'filters = 6\nkernel = 3\n[grid]\n"layers[0].stride" = [1, 1, 1, 1]\n')
    proc = subprocess.Popen([sys.executable, "-m", "ilpregions", "sweep", str(grid), "--workers", "2",
                             "-o", str(tmp_path / "s.csv"), "--quiet"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while len(_children(proc.pid)) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        workers = _children(proc.pid)
        assert len(workers) >= 2, "the pool never started"
        time.sleep(0.5)  # let the workers run their initializer
        os.kill(proc.pid, signal.SIGKILL)  # the parent only
        proc.wait(timeout=30)
        deadline = time.monotonic() + 10
        while any(_alive(w) for w in workers) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not any(_alive(w) for w in workers), "orphaned pool workers"
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


@pytest.mark.slow  # minutes under load: CP-SAT swallows the SIGINT and the backend solves on (results/fuzz.md)
@pytest.mark.parametrize("workers", ["1", "2"])
def test_ctrl_c_during_a_cpsat_sweep_stores_no_false_row(tmp_path, workers):
    grid = tmp_path / "slow.toml"
    grid.write_text('backend = "cpsat"\n[base]\ninput = [6, 6, 1]\n[[base.layers]]\ntype = "conv"\n'
                    'filters = 6\nkernel = 3\n[grid]\n"layers[0].stride" = [1, 1]\n')
    out = tmp_path / "s.csv"
    proc = subprocess.Popen([sys.executable, "-m", "ilpregions", "sweep", str(grid), "--workers", workers,
                             "-o", str(out), "--quiet"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while not out.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(2.0)  # inside the CP-SAT solve of point 0
        os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C reaches the whole foreground group
        _, err = proc.communicate(timeout=600)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 130, err
    assert read_csv(out) == []  # no time_limit row that --resume would never rerun

"""Issue 21, items 3-5: exit 70s, hangs, overruns and uneven answers, each a regression test.

FIFOs are made in tmp_path (never a real /dev path). Every case must end with one
error line and exit 2 (or its documented code), quickly, and never with a traceback.
"""

from __future__ import annotations

import os
import signal
import time

import numpy as np
import pytest

from helpers import MODELS

PAPER = str(MODELS / "paper_3x3.toml")
BIG_FILTERS = 'input = [4, 4, 1]\n[[layers]]\ntype = "conv"\nfilters = 1000000000000000000\nkernel = 2\n'


@pytest.fixture
def quick():
    """Fail (instead of hanging) when a case blocks for more than 20 s."""
    signal.alarm(20)
    yield
    signal.alarm(0)


def _one_line_error(code, err, expect=2):
    assert code == expect, err
    assert "Traceback" not in err and "internal error" not in err
    assert len(err.strip().splitlines()) == 1 and "error" in err


@pytest.mark.parametrize("command", [["bounds", "--time-limit", "2"], ["tied-max"], ["regions", "--seed", "0"]])
def test_huge_filter_counts_are_refused_by_arithmetic(command, tmp_path, cli, quick):
    spec = tmp_path / "big.toml"
    spec.write_text(BIG_FILTERS)
    code, out, err = cli(command[0], str(spec), *command[1:])
    if command[0] == "bounds":  # bounds still prints the bounds that apply, and says why the others do not
        assert code in (0, 3) and "over the limit of 50000000" in out and "internal error" not in err
    else:
        _one_line_error(code, err)
        assert "over the limit" in err or "far beyond" in err


def test_slice_refuses_huge_layers_before_allocating(tmp_path, cli, quick):
    spec = tmp_path / "dense.toml"
    spec.write_text('input = [4, 4, 1]\n[[layers]]\ntype = "dense"\nunits = 100000000\n')
    data = tmp_path / "x.npy"
    np.save(data, np.zeros((3, 16)))
    start = time.perf_counter()
    code, _, err = cli("slice", str(spec), "--seed", "0", "--through", "0,1", "--data", str(data))
    _one_line_error(code, err)
    assert time.perf_counter() - start < 5


def test_dask_addresses_and_worker_counts_are_checked(cli, quick):
    code, _, err = cli("count", PAPER, "--scheduler", "garbage://x", "--quiet")
    _one_line_error(code, err)
    assert "unknown address scheme" in err
    start = time.perf_counter()
    code, _, err = cli("count", PAPER, "--scheduler", "tcp://127.0.0.1:1", "--time-limit", "1", "--quiet")
    assert code == 2 and time.perf_counter() - start < 2 * 1 + 1, err
    code, _, err = cli("count", PAPER, "--workers", "1000000", "--quiet")
    _one_line_error(code, err)
    assert "over the limit of 256" in err


def test_every_input_path_refuses_a_fifo_at_once(tmp_path, fifo, cli, quick):
    data = tmp_path / "x.npy"
    np.save(data, np.zeros((3, 9)))
    torch_file = tmp_path / "m.pt"
    torch_file.write_bytes(b"not a torch file")
    cases = [["slice", PAPER, "--seed", "0", "--through", "0,1", "--data", str(fifo), "--time-limit", "2"],
             ["slice", PAPER, "--seed", "0", "--through", f"{fifo},{data}", "--time-limit", "2"],
             ["import-torch", str(fifo), "--input", "1,3,3", "-o", str(tmp_path / "o.toml")],
             ["import-torch", str(torch_file), "--arch", str(fifo), "--input", "1,3,3", "-o", str(tmp_path / "o.toml")],
             ["report", "--out", str(tmp_path / "r"), "--sweeps", str(fifo), "--quiet"],
             ["count", str(fifo)], ["regions", PAPER, "--weights", str(fifo)]]
    for args in cases:
        code, _, err = cli(*args)
        _one_line_error(code, err)
        assert "FIFO" in err, (args, err)


def test_a_binary_architecture_file_is_one_line(tmp_path, cli):
    arch = tmp_path / "arch.toml"
    arch.write_bytes(b"\xa5\x00\xff" * 10)
    code, _, err = cli("import-torch", str(arch), "--arch", str(arch), "--input", "1,3,3", "-o", str(tmp_path / "o.toml"))
    _one_line_error(code, err)
    assert "not UTF-8" in err


def test_negative_values_reach_the_checks(tmp_path, cli):
    code, _, err = cli("import-torch", str(tmp_path / "m.pt"), "--input", "-1,3,3", "-o", str(tmp_path / "o.toml"))
    _one_line_error(code, err)
    assert "expected one argument" not in err and "-1,3,3" in err
    code, _, err = cli("check", PAPER, "--t", "-1,0,0,0")
    _one_line_error(code, err)
    assert "non-negative" in err


def test_report_names_a_regular_file_as_such(tmp_path, cli):
    target = tmp_path / "some.npz"
    target.write_bytes(b"x")
    code, _, err = cli("report", "--out", str(target), "--quiet")
    _one_line_error(code, err)
    assert "is a regular file, not a directory" in err


def test_no_lock_file_is_left_behind(tmp_path, cli):
    out = tmp_path / "k.lp"
    code, _, err = cli("export", PAPER, "--format", "lp", "-o", str(out))
    assert code == 0, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["k.lp"]


def test_sweeps_all_invalid_and_corrupted_resume(tmp_path, cli):
    (tmp_path / "m.toml").write_text('input = [4, 1]\n[[layers]]\ntype = "conv"\nfilters = 1\nkernel = 2\n')
    bad = tmp_path / "bad.toml"
    bad.write_text('base = "m.toml"\n[grid]\n"layers[0].filters" = [0, -1]\n')
    code, _, err = cli("sweep", str(bad), "--workers", "1", "--quiet", "-o", str(tmp_path / "bad.csv"))
    assert code == 2 and "all 2 points of the grid are invalid" in err
    good = tmp_path / "good.toml"
    good.write_text('base = "m.toml"\n[grid]\n"layers[0].filters" = [1, 2]\n')
    out = tmp_path / "good.csv"
    assert cli("sweep", str(good), "--workers", "1", "--quiet", "-o", str(out))[0] == 0
    out.write_text(out.read_text().replace(",complete,", ",compl\x01ete,"))
    code, _, err = cli("sweep", str(good), "--workers", "1", "--quiet", "-o", str(out), "--resume")
    assert code == 0, err
    assert out.read_text().count(",complete,") == 2


def test_quiet_and_progress_where_they_were_missing(cli):
    code, out, err = cli("bounds", PAPER, "--quiet")
    assert code == 0 and "xiong2020.theorem1" in out
    code, out, err = cli("regions", PAPER, "--seed", "0", "--quiet")
    assert code == 0 and "regions: 255" in out


def test_nan_weights_in_a_torch_model_are_refused(tmp_path, cli):
    torch = pytest.importorskip("torch")
    from ilpregions.services.torch import save

    model = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 2), torch.nn.ReLU())
    with torch.no_grad():
        model[0].weight[0, 0, 0, 0] = float("nan")
    path = tmp_path / "m.pt"
    save(model, path)
    code, _, err = cli("import-torch", str(path), "--input", "1,3,3", "-o", str(tmp_path / "o.toml"))
    _one_line_error(code, err)
    assert "NaN" in err and not (tmp_path / "o.toml").exists()


@pytest.mark.parametrize("args", [["slice", PAPER, "--seed", "-1", "--through", "random,random"],
                                  ["slice", PAPER, "--seed", "0", "--point-seed", "-5", "--through", "random,random"],
                                  ["tied-max", PAPER, "--seed", "-1"],
                                  ["count", PAPER, "--memory-cap", "1e308"],
                                  ["bounds", PAPER, "--time-limit", "1e20"]])
def test_numeric_options_are_range_checked(args, cli):
    code, _, err = cli(*args)
    _one_line_error(code, err)


def test_sweep_worker_counts_are_range_checked(tmp_path, cli):
    (tmp_path / "m.toml").write_text('input = [4, 1]\n[[layers]]\ntype = "conv"\nfilters = 1\nkernel = 2\n')
    grid = tmp_path / "g.toml"
    grid.write_text('base = "m.toml"\n[grid]\n"layers[0].filters" = [1, 2]\n')
    code, _, err = cli("sweep", str(grid), "--workers", "100000", "--quiet", "--json")
    _one_line_error(code, err)
    assert "over the limit of 256" in err


def test_a_failed_plot_names_the_output_not_its_temporary_file(tmp_path, cli, monkeypatch):
    pytest.importorskip("matplotlib")

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(os, "replace", refuse)  # what a read-only folder does to the final rename
    out = tmp_path / "s.png"
    code, _, err = cli("slice", PAPER, "--seed", "0", "--through", "random,random", "--plot", str(out), "--quiet")
    _one_line_error(code, err)
    assert str(out) in err and ".s.png" not in err and ".tmp" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_sweep_and_report_take_a_time_limit(tmp_path, cli):
    (tmp_path / "m.toml").write_text('input = [4, 1]\n[[layers]]\ntype = "conv"\nfilters = 1\nkernel = 2\n')
    grid = tmp_path / "g.toml"
    grid.write_text('base = "m.toml"\ntime_limit = 1\n[grid]\n"layers[0].filters" = [1, 2, 3]\n'
                    '"input[0]" = [4, 5, 6, 7, 8, 9, 10, 11, 12, 13]\n')
    out = tmp_path / "s.csv"
    code, _, err = cli("sweep", str(grid), "--workers", "1", "-o", str(out), "--time-limit", "0.000001")
    assert code == 3 and "--resume runs them" in err, err
    code, _, err = cli("sweep", str(grid), "--workers", "1", "-o", str(out), "--resume", "--quiet")
    assert code == 0 and len(out.read_text().splitlines()) == 31, err
    start = time.perf_counter()
    code, out_text, err = cli("report", "--out", str(tmp_path / "r"), "--time-limit", "0.5", "--no-plots", "--quiet")
    assert code == 3 and "not rebuilt: models" in err, err
    assert time.perf_counter() - start < 2 * 0.5 + 1


def test_two_to_the_63_filters_under_a_tiny_memory_cap(tmp_path, cli):
    # Found by the fuzz run: count's fallback to bounds overflowed int64 on d1 = 2**63 (exit 70).
    spec = tmp_path / "m.toml"
    spec.write_text(BIG_FILTERS.replace("1000000000000000000", str(2 ** 63)))
    code, out, err = cli("count", str(spec), "--memory-cap", "0.000001", "--quiet", "--time-limit", "1")
    assert code in (2, 3) and "internal error" not in err, err


def test_bounds_of_a_layer_whose_fields_are_all_padding(tmp_path, cli):
    # Found by the fuzz run: the time estimate per scan order was 0, and bounds divided by it (exit 70).
    spec = tmp_path / "m.toml"
    spec.write_text('input = [1, 1]\n[[layers]]\ntype = "conv"\nfilters = 1\nkernel = 1\nstride = 2\npadding = 1\n')
    code, out, err = cli("bounds", str(spec), "--time-limit", "1")
    assert code in (0, 3) and "internal error" not in err, err

"""The exit-code contract (docs/safety.md), kept at one boundary (cli/main.py),
and the regression cases of issue 13: each is one line on stderr and exit 2."""

from __future__ import annotations

import io
import json
import sys
import zipfile

import numpy as np
import pytest

from ilpregions.cli import main as cli_main
from ilpregions.core.errors import SpecError

TINY = 'input = [4, 1]\n[[layers]]\ntype = "conv"\nfilters = 2\nkernel = 2\n'


def one_line(err: str) -> bool:
    return len(err.strip().splitlines()) == 1 and "Traceback" not in err


@pytest.fixture
def tiny(tmp_path):
    path = tmp_path / "tiny.toml"
    path.write_text(TINY)
    return path


# ---------------------------------------------------------------------------
# The boundary
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("raised, code, words", [
    (ZeroDivisionError("boom"), 70, "internal error: ZeroDivisionError: boom"),
    (MemoryError(), 2, "out of memory"),
    (RecursionError(), 2, "nested too deeply"),
    (KeyboardInterrupt(), 130, "interrupted"),
    (PermissionError(13, "Permission denied", "/x/y"), 2, "/x/y: Permission denied"),
    (SpecError("layers[0].kernel", "bad"), 2, "layers[0].kernel: bad"),
])
def test_every_exception_becomes_a_documented_code(monkeypatch, capsys, tiny, raised, code, words):
    def boom(args):
        raise raised

    parser = cli_main.build_parser()
    args = parser.parse_args(["count", str(tiny)])
    args.func = boom
    assert cli_main.run_command(args) == code
    err = capsys.readouterr().err
    assert words in err and one_line(err)


def test_broken_pipe_is_quiet_141(capsys, tiny):
    def pipe(args):
        raise BrokenPipeError

    args = cli_main.build_parser().parse_args(["count", str(tiny)])
    args.func = pipe
    assert cli_main.run_command(args) == 141
    assert capsys.readouterr().err == ""


def test_a_command_cannot_return_an_undocumented_code(capsys, tiny):
    args = cli_main.build_parser().parse_args(["count", str(tiny)])
    args.func = lambda args: 7
    assert cli_main.run_command(args) == 70
    assert "exit code 7" in capsys.readouterr().err


def test_no_global_int_digit_side_effect(cli, tiny):
    before = sys.get_int_max_str_digits()
    assert cli("count", tiny)[0] == 0
    assert sys.get_int_max_str_digits() == before != 0


def test_repr_of_a_huge_result_works():
    from ilpregions.core.results import Bound, CountResult

    result = CountResult(regions=7 ** 20000, exact=True, backend="x", t_vectors=None, union_size=1,
                         positions=1, seconds=0.0)
    assert repr(result).startswith("CountResult(regions=")
    assert len(repr(Bound("b", "upper", 10 ** 6000))) > 6000


# ---------------------------------------------------------------------------
# Issue 13's cases: one line, exit 2
# ---------------------------------------------------------------------------

def spec(tmp_path, text, name="m.toml"):
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.parametrize("command", ["count", "geometry", "bounds", "tied-max", "compare", "export"])
@pytest.mark.parametrize("text", [
    'input = [100000, 100000, 1000]\n[[layers]]\ntype = "conv"\nfilters = 2\nkernel = 2\n',
    'input = [4, 1]\n[[layers]]\ntype = "conv"\nfilters = 2\nkernel = 2\npadding = 1000000\n',
    'input = [9223372036854775808, 1]\n[[layers]]\ntype = "conv"\nfilters = 2\nkernel = 2\n',
    'input = [100000000, 1]\n[[layers]]\ntype = "dense"\nunits = 2\n',
], ids=["huge-input", "huge-padding", "2**63", "huge-dense"])
def test_sizes_are_refused_before_building(cli, tmp_path, command, text):
    import time

    extra = ("--format", "lp", "-o", tmp_path / "x.lp") if command == "export" else ()
    start = time.perf_counter()
    code, _, err = cli(command, spec(tmp_path, text), *extra)
    assert code == 2 and "over the limit" in err and one_line(err), err
    assert time.perf_counter() - start < 5


def test_deeply_nested_toml(cli, tmp_path):
    text = "input = " + "[" * 100000 + "]" * 100000 + "\n"
    code, _, err = cli("count", spec(tmp_path, text))
    assert code == 2 and "nested too deeply" in err and one_line(err)
    import ilpregions

    with pytest.raises(SpecError, match="nested too deeply"):
        ilpregions.loads(text)


def test_nested_grid_and_non_utf8_grid(cli, tmp_path):
    code, _, err = cli("sweep", spec(tmp_path, "a = " + "[" * 100000 + "]" * 100000, "g.toml"))
    assert code == 2 and "nested too deeply" in err and one_line(err)
    bad = tmp_path / "bad.toml"
    bad.write_bytes(b"[base]\nname = \"\xff\"\n")
    code, _, err = cli("sweep", bad)
    assert code == 2 and "UTF-8" in err and one_line(err)


def test_huge_spec_file_is_refused_unread(cli, tmp_path):
    path = tmp_path / "big.toml"
    with open(path, "wb") as fh:
        fh.truncate(64 * 1024 * 1024)  # sparse: 64 MB of zeros, no disk used
    code, _, err = cli("count", path)
    assert code == 2 and "over the limit" in err and one_line(err)


def test_negative_seed(cli, tiny):
    code, _, err = cli("regions", tiny, "--seed", "-1")
    assert code == 2 and ">= 0" in err and one_line(err)


def _npz_with_header(path, shape, payload=b""):
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": "<f8", "fortran_order": False, "shape": shape})
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("layers.0.weight.npy", buf.getvalue() + payload)
    return path


@pytest.mark.parametrize("kind", ["npy", "7TiB-header", "short-data", "not-a-zip", "object-array"])
def test_bad_weights_files(cli, tiny, tmp_path, kind):
    path = tmp_path / f"w.{kind}"
    if kind == "npy":
        np.save(open(path, "wb"), np.zeros(3))
    elif kind == "7TiB-header":
        _npz_with_header(path, (1 << 20, 1 << 20))
    elif kind == "short-data":
        _npz_with_header(path, (2, 2), b"\0" * 8)
    elif kind == "not-a-zip":
        path.write_bytes(b"hello")
    else:
        np.savez(open(path, "wb"), w=np.array([object()], dtype=object))
    code, _, err = cli("regions", tiny, "--weights", path)
    assert code == 2 and one_line(err), err
    assert str(path) in err


def test_zip_bomb_refused_before_decompression(tmp_path):
    from ilpregions.core.safe_io import read_npz_bounded

    path = tmp_path / "bomb.npz"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("w.npy", b"\0" * (32 << 20))  # 32 MB of zeros, ~32 KB compressed
    assert path.stat().st_size < 100_000
    with pytest.raises(SpecError, match="declares 33554432 bytes"):
        read_npz_bounded(path, max_bytes=1 << 20)


def test_good_weights_round_trip(tmp_path):
    from ilpregions.core.safe_io import read_npz_bounded

    path = tmp_path / "w.npz"
    arrays = {"a": np.arange(6.0).reshape(2, 3), "b": np.asfortranarray(np.arange(6).reshape(2, 3))}
    np.savez(path, **arrays)
    got = read_npz_bounded(path)
    assert set(got) == {"a", "b"}
    for key in arrays:
        assert got[key].dtype == arrays[key].dtype and (got[key] == arrays[key]).all()


def test_non_utf8_resume_csv(cli, tmp_path):
    grid = spec(tmp_path, '[base]\ninput = [4, 1]\n[[base.layers]]\ntype = "conv"\nfilters = 1\n'
                          'kernel = 2\n[grid]\n"layers[0].filters" = [1, 2]\n', "g.toml")
    out = tmp_path / "s.csv"
    assert cli("sweep", grid, "--workers", "1", "-o", out, "--quiet")[0] == 0
    out.write_bytes(out.read_bytes() + b"\xff\xfe\n")
    code, _, err = cli("sweep", grid, "--workers", "1", "-o", out, "--resume", "--quiet")
    assert code == 2 and "UTF-8" in err and one_line(err)


# ---------------------------------------------------------------------------
# --json on export, report and sweep: model first, status and seconds always
# ---------------------------------------------------------------------------

def test_json_export(cli, tiny, tmp_path):
    code, out, _ = cli("export", tiny, "--format", "lp", "-o", tmp_path / "k.lp", "--json")
    record = json.loads(out)
    assert code == 0 and list(record)[:3] == ["model", "status", "seconds"]
    assert record["status"] == "complete" and record["union_size"] == "4" and record["variables"] == 3


def test_json_sweep(cli, tmp_path):
    grid = spec(tmp_path, '[base]\ninput = [4, 1]\n[[base.layers]]\ntype = "conv"\nfilters = 1\n'
                          'kernel = 2\n[grid]\n"layers[0].filters" = [1, 2]\n', "g.toml")
    code, out, _ = cli("sweep", grid, "--workers", "1", "--json", "--quiet")
    record = json.loads(out)
    assert code == 0 and list(record)[:2] == ["status", "seconds"]
    assert [r["regions"] for r in record["rows"]] == ["8", "55"]  # strings, as in the CSV (doctest of run_point: 55)
    assert record["statuses"] == {"complete": 2}


def test_json_report(cli, tmp_path):
    sweeps = tmp_path / "s.toml"
    sweeps.write_text('[models]\nglob = "none/*.toml"\n[claims]\ncases = []\n[depth]\ndepths = [1]\n'
                      '[width]\nwidths = [1]\n[one_layer]\nd1 = [1]\n[model_claims]\nmodels = []\n')
    code, out, err = cli("report", "--out", tmp_path / "r", "--sweeps", sweeps, "--no-plots", "--quiet", "--json")
    assert code == 0, err
    record = json.loads(out)
    assert list(record)[:2] == ["status", "seconds"] and "report.md" in record["files"]


@pytest.mark.slow  # the stem's bounds take tens of seconds on a loaded machine
def test_repr_of_the_imagenet_stem_bounds_works():
    import ilpregions
    from helpers import MODELS

    report = ilpregions.bounds(ilpregions.load(MODELS / "imagenet_stem.toml"))
    assert report.upper.bit_length() > 20000  # beyond the 4300-digit guard
    text = repr(report)
    assert text.startswith("BoundsReport(") and len(text) > 4300

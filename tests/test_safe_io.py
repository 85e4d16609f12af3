"""Safe outputs and bounded inputs (core/safe_io.py) and every command that writes a file.

Refusals are tested only on a FIFO or a device node created in tmp_path,
never on a real path under /dev.
"""

from __future__ import annotations

import os
import stat

import pytest

from ilpregions.core.errors import InputError, SpecError
from ilpregions.core.safe_io import (OutputError, atomic_open, atomic_path, atomic_write, lock_path,
                                     output_lock, read_text_bounded)

TINY = 'input = [4, 1]\n[[layers]]\ntype = "conv"\nfilters = 1\nkernel = 2\n'


@pytest.fixture
def device(tmp_path):
    """A character device node (same numbers as /dev/null), made in tmp_path."""
    path = tmp_path / "null"
    try:
        os.mknod(path, stat.S_IFCHR | 0o666, os.makedev(1, 3))
    except PermissionError:
        pytest.fail("these tests run as root (mknod)")
    return path


def still(path, kind) -> bool:
    return kind(os.lstat(path).st_mode)


def test_regular_file_written_atomically(tmp_path):
    out = tmp_path / "a.txt"
    atomic_write(out, "one\n")
    atomic_write(out, "two\n")
    assert out.read_text() == "two\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt"]  # no temp left


def test_failed_writer_leaves_the_old_file(tmp_path):
    out = tmp_path / "a.txt"
    out.write_text("old\n")
    with pytest.raises(RuntimeError):
        with atomic_open(out) as handle:
            handle.write("half")
            raise RuntimeError("boom")
    assert out.read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt"]


@pytest.mark.parametrize("kind", ["fifo", "device", "directory", "link_to_fifo", "link_to_device"])
def test_special_files_are_refused_and_untouched(kind, tmp_path, fifo, device):
    target = {"fifo": fifo, "device": device, "directory": tmp_path, "link_to_fifo": fifo,
              "link_to_device": device}[kind]
    path = target
    if kind.startswith("link"):
        path = tmp_path / "link"
        path.symlink_to(target)
    with pytest.raises(OutputError, match="not a regular file"):
        atomic_write(path, "x")
    with pytest.raises(OutputError, match="not a regular file"):
        with atomic_path(path):
            pass
    assert still(fifo, stat.S_ISFIFO) and still(device, stat.S_ISCHR)


def test_symlink_to_a_regular_file_replaces_the_target_not_the_link(tmp_path):
    real = tmp_path / "real.txt"
    real.write_text("old")
    link = tmp_path / "link.txt"
    link.symlink_to(real)
    atomic_write(link, "new")
    assert link.is_symlink() and real.read_text() == "new"


def test_missing_directory_and_dangling_link(tmp_path):
    with pytest.raises(OutputError, match="does not exist"):
        atomic_write(tmp_path / "no" / "x.txt", "x")
    atomic_write(tmp_path / "made" / "x.txt", "x", make_parents=True)
    dangling = tmp_path / "dangling"
    dangling.symlink_to(tmp_path / "nowhere")
    with pytest.raises(OutputError, match="dangling"):
        atomic_write(dangling, "x")


def test_lock_is_exclusive_and_released(tmp_path):
    out = tmp_path / "x.csv"
    with output_lock(out):
        with pytest.raises(OutputError, match="another process is writing"):
            with output_lock(out):
                pass
    with output_lock(out):  # released on exit
        pass
    assert lock_path(out).name == ".x.csv.lock"


def test_bounded_reads_refuse_special_and_huge_files(tmp_path, fifo, device):
    with pytest.raises(SpecError, match="FIFO"):
        read_text_bounded(fifo)  # would block forever if opened
    with pytest.raises(SpecError, match="character device"):
        read_text_bounded(device)  # /dev/zero-like: would read forever
    big = tmp_path / "big.toml"
    big.write_bytes(b"#" * 2000)
    with pytest.raises(SpecError, match="over the limit of 1000 bytes"):
        read_text_bounded(big, limit=1000)
    bad = tmp_path / "bad.toml"
    bad.write_bytes(b"a = 1\n\xff")
    with pytest.raises(SpecError, match="not UTF-8"):
        read_text_bounded(bad)


# ---------------------------------------------------------------------------
# Every command that writes a file
# ---------------------------------------------------------------------------

@pytest.fixture
def spec(tmp_path):
    path = tmp_path / "m.toml"
    path.write_text(TINY)
    return path


@pytest.fixture
def grid(tmp_path):
    path = tmp_path / "g.toml"
    path.write_text('base = "m.toml"\n[grid]\n"layers[0].filters" = [1, 2]\n')
    (tmp_path / "m.toml").write_text(TINY)
    return path


def _commands(spec, grid, out):
    return {
        "sweep": ("sweep", grid, "--workers", "1", "-o", out, "--overwrite", "--quiet"),
        "sweep-resume": ("sweep", grid, "--workers", "1", "-o", out, "--resume", "--quiet"),
        "export-lp": ("export", spec, "--format", "lp", "-o", out),
        "export-cp": ("export", spec, "--format", "cp", "-o", out),
        "report": ("report", "--out", out, "--no-plots", "--quiet"),
    }


@pytest.mark.parametrize("command", ["sweep", "sweep-resume", "export-lp", "export-cp", "report"])
@pytest.mark.parametrize("kind", ["fifo", "device"])
def test_commands_refuse_special_outputs(cli, command, kind, spec, grid, fifo, device):
    out = fifo if kind == "fifo" else device
    code, _, err = cli(*_commands(spec, grid, out)[command])
    assert code == 2, err
    assert len(err.strip().splitlines()) == 1 and str(out) in err
    assert still(fifo, stat.S_ISFIFO) and still(device, stat.S_ISCHR)


def test_unwritable_outputs_are_one_line_exit_2(cli, spec, grid, tmp_path):
    missing = tmp_path / "no" / "such" / "dir"
    for args in (("export", spec, "--format", "lp", "-o", missing / "x.lp"),
                 ("export", spec, "--format", "lp", "-o", tmp_path)):
        code, _, err = cli(*args)
        assert code == 2 and len(err.strip().splitlines()) == 1, err


def test_two_writers_of_one_sweep_file_cannot_both_succeed(cli, grid, tmp_path):
    out = tmp_path / "s.csv"
    with output_lock(out):  # another sweep holds it
        code, _, err = cli("sweep", grid, "--workers", "1", "-o", out, "--overwrite", "--quiet")
    assert code == 2 and "another process is writing" in err
    assert not out.exists()
    code, _, err = cli("sweep", grid, "--workers", "1", "-o", out, "--overwrite", "--quiet")
    assert code == 0, err


def test_reading_a_device_as_a_spec_refuses(cli, device, fifo):
    for path in (device, fifo):
        code, _, err = cli("count", path)
        assert code == 2 and "not a spec file" in err and len(err.strip().splitlines()) == 1


def test_errors_are_input_errors():
    assert issubclass(OutputError, InputError)


def test_open_input_never_blocks_on_a_fifo_swapped_in_after_the_check(tmp_path, fifo, monkeypatch):
    import signal

    from ilpregions.core import bounded_input

    monkeypatch.setattr(bounded_input, "_regular_input", lambda path, limit, what: 0)  # the check has passed
    signal.alarm(5)  # a blocking open would hang the test: fail instead
    try:
        with pytest.raises(SpecError, match="is a FIFO"):
            with bounded_input.open_input(fifo, what="a data file"):
                pass
    finally:
        signal.alarm(0)


def test_text_inputs_may_start_with_a_byte_order_mark(tmp_path, cli):
    spec = tmp_path / "bom.toml"
    spec.write_bytes(b"\xef\xbb\xbf" + TINY.encode())
    assert read_text_bounded(spec) == TINY
    code, out, err = cli("count", str(spec), "--quiet")
    assert code == 0 and "regions: " in out, err


def test_npy_inputs_are_read_header_first(tmp_path, fifo):
    import numpy as np

    from ilpregions.core.safe_io import read_npy_bounded

    path = tmp_path / "x.npy"
    np.save(path, np.arange(6.0).reshape(2, 3))
    assert read_npy_bounded(path).tolist() == [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]]
    with pytest.raises(SpecError, match="over the limit of 5"):
        read_npy_bounded(path, max_elements=5)
    np.save(path, np.array([None], dtype=object), allow_pickle=True)
    with pytest.raises(SpecError, match="pickles are never loaded"):
        read_npy_bounded(path)
    path.write_bytes(b"\x93NUMPY\x01\x00" + b"garbage")
    with pytest.raises(SpecError, match="not a readable .npy"):
        read_npy_bounded(path)
    with pytest.raises(SpecError, match="FIFO"):
        read_npy_bounded(fifo)

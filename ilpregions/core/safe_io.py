"""Safe file output and bounded file input (docs/safety.md).

This is the one module of ``core`` that touches files: every other layer
writes and reads user-named paths through it, so the rules live in one place.

Outputs
    * only regular files are written: a device node, FIFO, socket or
      directory at the path (or at the end of a symlink) is refused, never
      replaced;
    * writes are atomic: a temporary file in the same directory, flushed,
      fsynced, then renamed over the target (readers see the old or the new
      file, never half of one); a symlink to a regular file is followed, so
      its target is replaced, not the link;
    * :func:`output_lock` takes an exclusive ``fcntl`` lock on a hidden
      sidecar ``.NAME.lock`` beside the output, so two writers of one file
      cannot both proceed.

Inputs
    :func:`read_bytes_bounded` / :func:`read_text_bounded` /
    :func:`read_npy_bounded` / :func:`read_npz_bounded` / :func:`open_input`
    (from :mod:`ilpregions.core.bounded_input`) read only regular files, at
    most ``limit`` bytes, and never block on opening one, so ``/dev/zero``,
    a FIFO or a huge file is refused instead of read forever.

Every refusal is an :class:`OutputError` or :class:`~ilpregions.core.errors.SpecError`
(both :class:`~ilpregions.core.errors.InputError`: exit code 2 in the CLI)
whose message names the path.

Examples
--------
>>> import os, tempfile
>>> d = tempfile.mkdtemp()
>>> path = os.path.join(d, "out.txt")
>>> with output_lock(path):
...     _ = atomic_write(path, "hello\\n")
>>> open(path).read()
'hello\\n'
>>> fifo = os.path.join(d, "fifo")
>>> os.mkfifo(fifo)
>>> try:
...     atomic_write(fifo, "x")
... except OutputError as exc:
...     print(str(exc).replace(d, "DIR"))
DIR/fifo: is a FIFO, not a regular file; refusing to write it
"""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path
from typing import IO, Iterator

from ilpregions.core.bounded_input import (MAX_TEXT_BYTES, check_input_file, open_input, read_bytes_bounded,
                                           read_npy_bounded, read_npz_bounded, read_text_bounded)
from ilpregions.core.bounded_input import file_kind as _kind
from ilpregions.core.errors import InputError, ParameterError

class OutputError(InputError):
    """An output path that must not or cannot be written."""


def _label(path: Path) -> str:
    """How messages name a path: as given by the user (short, but unambiguous)."""
    return str(path)


def output_target(path: str | os.PathLike, make_parents: bool = False) -> Path:
    """The regular file that writing ``path`` would replace, after checks.

    Returns the path to rename onto: ``path`` itself, or the end of its
    symlink chain when that is a regular file. Raises :class:`OutputError`
    when the path (or its link target) exists and is not a regular file, or
    when its directory does not exist (unless ``make_parents``) or cannot be
    written.
    """
    path = Path(path)
    label = _label(path)
    if str(path) in ("", "-"):
        raise OutputError(f"{label!r}: not a file name")
    try:
        info = os.stat(path)  # follows symlinks: what would be written is the target
    except FileNotFoundError:
        info = None
        if os.path.islink(path):
            raise OutputError(f"{label}: is a dangling symlink; refusing to write through it") from None
    except OSError as exc:
        raise OutputError(f"{label}: cannot be checked ({exc.strerror or exc.__class__.__name__})") from None
    if info is not None:
        if not stat.S_ISREG(info.st_mode):
            raise OutputError(f"{label}: is {_kind(info.st_mode)}, not a regular file; refusing to write it")
        path = Path(os.path.realpath(path))
    parent = path.parent
    if not parent.exists():
        if not make_parents:
            raise OutputError(f"{label}: its directory {str(parent)!r} does not exist")
        try:
            parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OutputError(f"{label}: cannot create its directory ({exc.strerror or exc})") from None
    if not parent.is_dir():
        raise OutputError(f"{label}: {str(parent)!r} is not a directory")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputError(f"{label}: its directory {str(parent)!r} is not writable")
    return path


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, make_parents: bool = False) -> Iterator[str]:
    """Yield a temporary path beside ``path``; on success, fsync and rename it over ``path``.

    For writers that want a file name (PuLP, matplotlib): the temporary name
    keeps ``path``'s suffix, so format detection by extension still works.
    On an exception the temporary file is removed and ``path`` is untouched.
    """
    target = output_target(path, make_parents)
    tmp = target.with_name(f".{target.stem}.{os.getpid()}.tmp{target.suffix}")
    try:
        yield str(tmp)
        if not tmp.exists():
            raise OutputError(f"{_label(Path(path))}: the writer produced no file")
        info = os.lstat(tmp)
        if not stat.S_ISREG(info.st_mode):
            raise OutputError(f"{_label(Path(path))}: the temporary file is {_kind(info.st_mode)}")
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        output_target(target)  # re-check: something may have appeared meanwhile
        os.replace(tmp, target)
        fsync_directory(target.parent)
    except OSError as exc:
        raise OutputError(f"{_label(Path(path))}: cannot write ({exc.strerror or exc})") from None
    finally:
        with contextlib.suppress(OSError):
            if tmp.exists() or tmp.is_symlink():
                tmp.unlink()


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike, mode: str = "w", make_parents: bool = False,
                **kwargs) -> Iterator[IO]:
    """Open a temporary file beside ``path`` for writing; rename it over ``path`` on success.

    ``mode`` is ``"w"`` or ``"wb"``; text mode defaults to UTF-8.
    """
    if mode not in ("w", "wb"):
        raise ParameterError("mode", f"must be 'w' or 'wb', got {mode!r}")
    if mode == "w":
        kwargs.setdefault("encoding", "utf-8")
    with atomic_path(path, make_parents) as tmp:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        with os.fdopen(fd, mode, **kwargs) as handle:
            yield handle
            handle.flush()


def atomic_write(path: str | os.PathLike, data: str | bytes, make_parents: bool = False) -> Path:
    """Write ``data`` (text as UTF-8) to ``path`` atomically; return the path written."""
    with atomic_open(path, "wb" if isinstance(data, bytes) else "w", make_parents,
                     **({} if isinstance(data, bytes) else {"newline": ""})) as handle:
        handle.write(data)
    return Path(path)


def fsync_directory(directory: str | os.PathLike) -> None:
    """fsync a directory, so a rename in it survives a power cut (best effort)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def lock_path(path: str | os.PathLike) -> Path:
    """The sidecar lock file of an output: ``.NAME.lock`` in the same directory."""
    path = Path(path)
    return path.with_name(f".{path.name}.lock")


@contextlib.contextmanager
def output_lock(path: str | os.PathLike, make_parents: bool = False) -> Iterator[Path]:
    """Hold an exclusive lock on ``path`` for writing; refuse if another process has it.

    The lock is an ``fcntl.flock`` on the sidecar :func:`lock_path`, removed
    again when the writer is done. It is unlinked while still locked, and a
    writer that locked a sidecar someone has just unlinked sees that the path
    no longer names its inode and starts over, so two writers never both hold
    "the" lock. The kernel releases it when the process dies, so a killed
    writer never leaves a stale lock (only an empty sidecar, which the next
    writer reuses and removes). Yields the checked output target.
    """
    import fcntl

    target = output_target(path, make_parents)
    sidecar = lock_path(target)
    for _ in range(100):  # each retry means another writer finished in between
        try:
            fd = os.open(sidecar, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o666)
        except OSError as exc:
            raise OutputError(f"{_label(Path(path))}: cannot create the lock file {sidecar.name} "
                              f"({exc.strerror or exc})") from None
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                raise OutputError(f"{_label(Path(path))}: its lock file {sidecar.name} is not a regular file")
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise OutputError(f"{_label(Path(path))}: another process is writing it "
                                  f"(locked through {sidecar.name}); wait for it or choose another file") from None
            try:
                current = os.lstat(sidecar)
            except FileNotFoundError:
                current = None
            if current is None or (current.st_ino, current.st_dev) != (info.st_ino, info.st_dev):
                continue  # unlinked by the writer before us: lock the new one
            try:
                yield target
            finally:
                with contextlib.suppress(OSError):
                    os.unlink(sidecar)  # still locked: nobody can hold this inode meanwhile
            return
        finally:
            os.close(fd)  # closing releases the lock
    raise OutputError(f"{_label(Path(path))}: could not take its lock ({sidecar.name} kept changing)")


def output_directory(path: str | os.PathLike, make: bool = True) -> Path:
    """Check (and create) a directory that outputs go into.

    Refuses a path that exists but is not a directory, and a directory that
    holds a non-regular file (a device, FIFO, socket) where an output could
    land: writers in it replace entries by name.
    """
    path = Path(path)
    if os.path.lexists(path) and not path.is_dir():
        try:
            mode = os.stat(path).st_mode
            kind = "a regular file" if stat.S_ISREG(mode) else _kind(mode)
        except OSError:
            kind = "a dangling symlink"
        raise OutputError(f"{_label(path)}: is {kind}, not a directory; refusing to write into it")
    if not path.exists():
        if not make:
            raise OutputError(f"{_label(path)}: no such directory")
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OutputError(f"{_label(path)}: cannot create the directory ({exc.strerror or exc})") from None
    for entry in os.scandir(path):
        if entry.is_dir(follow_symlinks=False):
            continue
        try:
            mode = os.stat(entry.path).st_mode
        except OSError:
            raise OutputError(f"{entry.path}: is a dangling symlink in an output directory") from None
        if not stat.S_ISREG(mode):
            raise OutputError(f"{entry.path}: is {_kind(mode)} in an output directory; refusing to write there")
    if not os.access(path, os.W_OK | os.X_OK):
        raise OutputError(f"{_label(path)}: the directory is not writable")
    return path


__all__ = ["OutputError", "read_npz_bounded", "read_npy_bounded", "check_input_file", "open_input", "MAX_TEXT_BYTES", "output_target", "output_directory", "atomic_path", "atomic_open", "atomic_write",
           "output_lock", "lock_path", "fsync_directory", "read_bytes_bounded", "read_text_bounded"]

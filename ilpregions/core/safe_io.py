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
    :func:`read_bytes_bounded` / :func:`read_text_bounded` read only regular
    files, at most ``limit`` bytes, so ``/dev/zero`` or a huge file is
    refused instead of read forever.

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

from ilpregions.core.errors import InputError, ParameterError, SpecError

#: Default bound for text inputs (specs, grids, sweep definitions): no real
#: spec is anywhere near this, and TOML parsing of a few MB takes < 1 s.
MAX_TEXT_BYTES = 4 * 1024 * 1024


class OutputError(InputError):
    """An output path that must not or cannot be written."""


_KINDS = ((stat.S_ISDIR, "a directory"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket"))


def _kind(mode: int) -> str:
    for test, name in _KINDS:
        if test(mode):
            return name
    return "not a regular file"


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

    The lock is an ``fcntl.flock`` on the sidecar :func:`lock_path` (left in
    place afterwards: deleting it would let a third writer lock a fresh
    inode while a second still holds the old one). The kernel releases it
    when the process dies, so a killed writer never leaves a stale lock.
    Yields the checked output target.
    """
    import fcntl

    target = output_target(path, make_parents)
    sidecar = lock_path(target)
    try:
        fd = os.open(sidecar, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o666)
    except OSError as exc:
        raise OutputError(f"{_label(Path(path))}: cannot create the lock file {sidecar.name} "
                          f"({exc.strerror or exc})") from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OutputError(f"{_label(Path(path))}: its lock file {sidecar.name} is not a regular file")
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise OutputError(f"{_label(Path(path))}: another process is writing it "
                              f"(locked through {sidecar.name}); wait for it or choose another file") from None
        yield target
    finally:
        os.close(fd)  # closing releases the lock


def output_directory(path: str | os.PathLike, make: bool = True) -> Path:
    """Check (and create) a directory that outputs go into.

    Refuses a path that exists but is not a directory, and a directory that
    holds a non-regular file (a device, FIFO, socket) where an output could
    land: writers in it replace entries by name.
    """
    path = Path(path)
    if os.path.lexists(path) and not path.is_dir():
        try:
            kind = _kind(os.stat(path).st_mode)
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


def _regular_input(path: Path, limit: int, what: str) -> int:
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise SpecError("", "no such file", str(path)) from None
    except OSError as exc:
        raise SpecError("", f"cannot read the file ({exc.strerror or exc.__class__.__name__})", str(path)) from None
    if stat.S_ISDIR(info.st_mode):
        raise SpecError("", f"is a directory, not {what}", str(path))
    if not stat.S_ISREG(info.st_mode):
        raise SpecError("", f"is {_kind(info.st_mode)}, not {what} (only regular files are read)", str(path))
    if info.st_size > limit:
        raise SpecError("", f"is {info.st_size} bytes, over the limit of {limit} bytes for {what}", str(path))
    return info.st_size


def read_bytes_bounded(path: str | os.PathLike, limit: int = MAX_TEXT_BYTES, what: str = "an input file") -> bytes:
    """The bytes of a regular file of at most ``limit`` bytes, else :class:`SpecError`."""
    path = Path(path)
    _regular_input(path, limit, what)
    try:
        with open(path, "rb") as handle:
            data = handle.read(limit + 1)  # the file may have grown since stat
    except OSError as exc:
        raise SpecError("", f"cannot read the file ({exc.strerror or exc.__class__.__name__})", str(path)) from None
    if len(data) > limit:
        raise SpecError("", f"is over the limit of {limit} bytes for {what}", str(path))
    return data


def read_text_bounded(path: str | os.PathLike, limit: int = MAX_TEXT_BYTES, what: str = "a text file") -> str:
    """:func:`read_bytes_bounded`, decoded as UTF-8 (an error names the byte offset)."""
    data = read_bytes_bounded(path, limit, what)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SpecError("", f"cannot read the file: not UTF-8 text (byte {exc.start}: {data[exc.start:exc.start + 1]!r})",
                        str(path)) from None


def read_npz_bounded(path: str | os.PathLike, max_elements: int | None = None,
                     max_bytes: int | None = None) -> dict:
    """The arrays of an ``.npz`` file, with every size checked before it is read.

    Never unpickles (object arrays are refused). Each member's declared
    shape is read from its ``.npy`` header (no data) and checked against
    ``max_elements``; the declared decompressed sizes of all zip members
    together against ``max_bytes`` (a zip bomb is refused before
    decompression, and :mod:`zipfile` never inflates past a declared size).
    Errors are one-line :class:`SpecError` naming the file and the member.
    """
    import zipfile


    from ilpregions.core import sizes

    max_elements = sizes.MAX_ARRAY_ELEMENTS if max_elements is None else max_elements
    max_bytes = sizes.MAX_WEIGHTS_BYTES if max_bytes is None else max_bytes
    path = Path(path)
    _regular_input(path, max_bytes, "a weights file")
    with open(path, "rb") as handle:
        head = handle.read(6)
    if head == b"\x93NUMPY":
        raise SpecError("", "is a .npy file (one array); weights must be an .npz of named arrays "
                            "(numpy.savez)", str(path))
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
            declared = sum(info.file_size for info in members)
            if declared > max_bytes:
                raise SpecError("", f"declares {declared} bytes of arrays, over the limit of {max_bytes}",
                                str(path))
            return {info.filename[:-4]: _npz_member(archive, info, max_elements, path)
                    for info in members}
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, ValueError) as exc:
        if isinstance(exc, SpecError):
            raise
        raise SpecError("", f"not a readable .npz of plain arrays ({exc.__class__.__name__}: "
                            f"{str(exc).splitlines()[0] if str(exc) else ''})", str(path)) from None


def _npz_member(archive, info, max_elements: int, path: Path):
    import numpy as np
    from numpy.lib import format as npy

    from ilpregions.core.sizes import array_bytes

    where = f"member {info.filename!r}"
    if not info.filename.endswith(".npy"):
        raise SpecError("", f"{where} is not a .npy array", str(path))
    with archive.open(info) as member:
        version = npy.read_magic(member)
        if version == (1, 0):
            shape, fortran, dtype = npy.read_array_header_1_0(member)
        elif version in ((2, 0), (3, 0)):
            shape, fortran, dtype = npy.read_array_header_2_0(member)
        else:
            raise SpecError("", f"{where}: unsupported .npy version {version}", str(path))
        if dtype.hasobject:
            raise SpecError("", f"{where} holds Python objects (pickles are never loaded)", str(path))
        elements = 1
        for n in shape:
            elements *= n
        if elements > max_elements:
            raise SpecError("", f"{where} declares shape {list(shape)} = {elements} elements, over the "
                                f"limit of {max_elements}", str(path))
        if array_bytes(shape, dtype.itemsize) > info.file_size:
            raise SpecError("", f"{where} declares shape {list(shape)} but holds fewer bytes", str(path))
        data = member.read(array_bytes(shape, dtype.itemsize))
    array = np.frombuffer(data, dtype=dtype).reshape(shape, order="F" if fortran else "C")
    return array.copy()


__all__ = ["OutputError", "read_npz_bounded", "MAX_TEXT_BYTES", "output_target", "output_directory", "atomic_path", "atomic_open", "atomic_write",
           "output_lock", "lock_path", "fsync_directory", "read_bytes_bounded", "read_text_bounded"]

r"""Bounded, non-blocking reading of the files a user names (docs/safety.md#inputs).

Only regular files are read, at most a stated number of bytes; the open never
blocks (a FIFO is refused, not waited on), arrays are read header first with
their sizes checked before any data, and pickles are never loaded. Every
refusal is a one-line :class:`~ilpregions.core.errors.SpecError` naming the path.
:mod:`ilpregions.core.safe_io` re-exports these helpers beside the output ones.

Examples
--------
>>> import os, tempfile
>>> path = os.path.join(tempfile.mkdtemp(), "m.toml")
>>> _ = open(path, "wb").write(b"\xef\xbb\xbfinput = [3, 1]\n")
>>> read_text_bounded(path)
'input = [3, 1]\n'
"""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path
from typing import IO, Iterator

from ilpregions.core.errors import SpecError

#: Default bound for text inputs (specs, grids, sweep definitions): no real
#: spec is anywhere near this, and TOML parsing of a few MB takes < 1 s.
MAX_TEXT_BYTES = 4 * 1024 * 1024

_KINDS = ((stat.S_ISDIR, "a directory"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket"))


def file_kind(mode: int) -> str:
    """What a ``st_mode`` is, in words ("a FIFO").

    >>> file_kind(stat.S_IFIFO)
    'a FIFO'
    """
    for test, name in _KINDS:
        if test(mode):
            return name
    return "not a regular file"


def _refuse_kind(path: Path, info: os.stat_result, limit: int, what: str) -> None:
    if stat.S_ISDIR(info.st_mode):
        raise SpecError("", f"is a directory, not {what}", str(path))
    if not stat.S_ISREG(info.st_mode):
        raise SpecError("", f"is {file_kind(info.st_mode)}, not {what} (only regular files are read)", str(path))
    if info.st_size > limit:
        raise SpecError("", f"is {info.st_size} bytes, over the limit of {limit} bytes for {what}", str(path))


def _regular_input(path: Path, limit: int, what: str) -> int:
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise SpecError("", "no such file", str(path)) from None
    except OSError as exc:
        raise SpecError("", f"cannot read the file ({exc.strerror or exc.__class__.__name__})", str(path)) from None
    _refuse_kind(path, info, limit, what)
    return info.st_size


def check_input_file(path: str | os.PathLike, limit: int = MAX_TEXT_BYTES, what: str = "an input file") -> int:
    """Refuse, without opening it, a path that is not a regular file of at most ``limit`` bytes.

    Parameters
    ----------
    path : path-like
        The file a user named.
    limit : int
        Largest size accepted, in bytes.
    what : str
        How messages call the file ("a data file").

    Returns
    -------
    int
        The file's size in bytes.

    Raises
    ------
    SpecError
        Missing, unreadable, a directory, FIFO, device or socket, or over ``limit``.

    Examples
    --------
    >>> import os, tempfile
    >>> fifo = os.path.join(tempfile.mkdtemp(), "f")
    >>> os.mkfifo(fifo)
    >>> try:
    ...     check_input_file(fifo, what="a data file")
    ... except SpecError as exc:
    ...     print(str(exc).split(": ", 1)[1])
    is a FIFO, not a data file (only regular files are read)
    """
    return _regular_input(Path(path), limit, what)


@contextlib.contextmanager
def open_input(path: str | os.PathLike, limit: int = MAX_TEXT_BYTES, what: str = "an input file") -> Iterator[IO[bytes]]:
    """Open a regular file for reading without ever blocking on it.

    The open itself is non-blocking (``O_NONBLOCK``: a FIFO with no writer
    would otherwise block forever), and the kind and size are read from the
    opened descriptor (``fstat``), so a file swapped for a FIFO between a
    check and the open is refused too.

    Parameters
    ----------
    path, limit, what
        As for :func:`check_input_file`.

    Yields
    ------
    binary file object
        Positioned at the start.

    Raises
    ------
    SpecError
        As :func:`check_input_file`, or when the file cannot be opened.

    Examples
    --------
    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "a.txt")
    >>> _ = open(path, "w").write("abc")
    >>> with open_input(path) as handle:
    ...     handle.read()
    b'abc'
    """
    path = Path(path)
    _regular_input(path, limit, what)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0))
    except OSError as exc:
        raise SpecError("", f"cannot read the file ({exc.strerror or exc.__class__.__name__})", str(path)) from None
    try:
        _refuse_kind(path, os.fstat(fd), limit, what)
        os.set_blocking(fd, True)
        handle = os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise
    with handle:
        yield handle


def read_bytes_bounded(path: str | os.PathLike, limit: int = MAX_TEXT_BYTES, what: str = "an input file") -> bytes:
    """The bytes of a regular file of at most ``limit`` bytes, else :class:`SpecError`."""
    try:
        with open_input(path, limit, what) as handle:
            data = handle.read(limit + 1)  # the file may have grown since stat
    except OSError as exc:
        raise SpecError("", f"cannot read the file ({exc.strerror or exc.__class__.__name__})", str(path)) from None
    if len(data) > limit:
        raise SpecError("", f"is over the limit of {limit} bytes for {what}", str(path))
    return data


def read_text_bounded(path: str | os.PathLike, limit: int = MAX_TEXT_BYTES, what: str = "a text file") -> str:
    """:func:`read_bytes_bounded`, decoded as UTF-8 (a leading byte-order mark is dropped;
    an error names the byte offset)."""
    data = read_bytes_bounded(path, limit, what)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SpecError("", f"cannot read the file: not UTF-8 text (byte {exc.start}: {data[exc.start:exc.start + 1]!r})",
                        str(path)) from None


def read_npy_bounded(path: str | os.PathLike, max_elements: int | None = None, what: str = "a .npy array"):
    """One plain array from a regular ``.npy`` file, its declared size checked before any data is read.

    Parameters
    ----------
    path : path-like
        A file written by ``numpy.save``.
    max_elements : int, optional
        Largest number of elements (default :data:`ilpregions.core.sizes.MAX_ARRAY_ELEMENTS`).
    what : str
        How messages call the file.

    Returns
    -------
    numpy.ndarray

    Raises
    ------
    SpecError
        Not a regular file, not a ``.npy`` array, an object (pickle) array, or too large.

    Examples
    --------
    >>> import os, tempfile, numpy as np
    >>> path = os.path.join(tempfile.mkdtemp(), "x.npy")
    >>> np.save(path, np.arange(3.0))
    >>> read_npy_bounded(path).tolist()
    [0.0, 1.0, 2.0]
    """
    from ilpregions.core import sizes

    max_elements = sizes.MAX_ARRAY_ELEMENTS if max_elements is None else max_elements
    try:
        with open_input(path, sizes.MAX_WEIGHTS_BYTES, what) as handle:
            return _npy_array(handle, max_elements, Path(path), "the array", None)
    except (OSError, ValueError, EOFError) as exc:
        if isinstance(exc, SpecError):
            raise
        raise SpecError("", f"not a readable .npy array ({exc.__class__.__name__}: "
                            f"{str(exc).splitlines()[0] if str(exc) else ''})", str(path)) from None


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
    with open_input(path, max_bytes, "a weights file") as handle:
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
    where = f"member {info.filename!r}"
    if not info.filename.endswith(".npy"):
        raise SpecError("", f"{where} is not a .npy array", str(path))
    with archive.open(info) as member:
        return _npy_array(member, max_elements, path, where, info.file_size)


def _npy_array(stream, max_elements: int, path: Path, where: str, available: int | None):
    """Read one .npy array from ``stream``: header first, sizes checked, never unpickled."""
    import numpy as np
    from numpy.lib import format as npy

    from ilpregions.core.sizes import array_bytes

    version = npy.read_magic(stream)
    if version == (1, 0):
        shape, fortran, dtype = npy.read_array_header_1_0(stream)
    elif version in ((2, 0), (3, 0)):
        shape, fortran, dtype = npy.read_array_header_2_0(stream)
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
    need = array_bytes(shape, dtype.itemsize)
    if available is not None and need > available:
        raise SpecError("", f"{where} declares shape {list(shape)} but holds fewer bytes", str(path))
    data = stream.read(need)
    if len(data) < need:
        raise SpecError("", f"{where} declares shape {list(shape)} but holds fewer bytes", str(path))
    array = np.frombuffer(data, dtype=dtype).reshape(shape, order="F" if fortran else "C")
    return array.copy()


__all__ = ["MAX_TEXT_BYTES", "file_kind", "check_input_file", "open_input", "read_bytes_bounded",
           "read_text_bounded", "read_npy_bounded", "read_npz_bounded"]

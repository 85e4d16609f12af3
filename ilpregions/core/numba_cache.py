"""``njit`` with a disk cache that never stops the program.

numba's ``cache=True`` looks for a writable place for its cache: the
``__pycache__`` beside the source, then a user-wide directory under
``$HOME``. When none is writable (a read-only install run by a user whose
``HOME`` is unwritable or missing) numba raises ``RuntimeError: cannot cache
function ...: no locator available`` while *decorating*, so every module with
a compiled kernel failed to import and every command, even ``--help``, died.

:func:`njit` is numba's decorator with one difference: when no locator is
available it points numba at a private directory in the system's temporary
directory (created ``0o700``, refused unless it is our own real directory),
and when that cannot be had either it compiles without a disk cache (in
memory, for this process). numba is imported on first use, so importing this
module costs nothing.

Examples
--------
>>> @njit(cache=True)
... def twice(x):
...     return 2 * x
>>> int(twice(21))
42
"""

from __future__ import annotations

import os
import stat
import tempfile

#: What numba says when no cache locator is available for a source file.
_NO_LOCATOR = "no locator available"
_state: dict[str, object] = {"fallback": None}


def fallback_directory() -> str | None:
    """A private, writable cache directory under the temporary directory, or None.

    Returns
    -------
    str or None
        ``$TMPDIR/ilpregions-numba-<uid>``, created with mode ``0o700``; None
        when it cannot be created or is not a real directory owned by this user
        (another user could have planted it).

    Examples
    --------
    >>> path = fallback_directory()
    >>> path is None or os.path.isdir(path)
    True
    """
    path = os.path.join(tempfile.gettempdir(), f"ilpregions-numba-{os.getuid()}")
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        pass
    except OSError:
        return None
    try:
        info = os.lstat(path)
    except OSError:
        return None
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid() or not os.access(path, os.W_OK | os.X_OK):
        return None
    return path


def _use_fallback() -> bool:
    """Point numba's cache at :func:`fallback_directory` (once); False when there is none."""
    from numba.core import config

    if _state["fallback"] is None:
        path = fallback_directory()
        _state["fallback"] = path or ""
        if path:
            config.CACHE_DIR = path
    return bool(_state["fallback"])


def _compile(function, options: dict):
    import numba

    try:
        return numba.njit(**options)(function)
    except RuntimeError as exc:
        if not options.get("cache") or _NO_LOCATOR not in str(exc):
            raise
    if _use_fallback():
        try:
            return numba.njit(**options)(function)
        except RuntimeError as exc:
            if _NO_LOCATOR not in str(exc):
                raise
    return numba.njit(**{**options, "cache": False})(function)


def njit(*args, **options):
    """``numba.njit`` whose ``cache=True`` falls back to a temporary or in-memory cache.

    Parameters
    ----------
    *args
        The function, when used as ``@njit`` without options.
    **options
        numba.njit's options (``cache``, ``nogil``, ...).

    Returns
    -------
    callable
        The compiled dispatcher, or a decorator when called with options only.

    Examples
    --------
    >>> @njit
    ... def add(a, b):
    ...     return a + b
    >>> int(add(2, 3))
    5
    """
    if args and callable(args[0]) and len(args) == 1:
        return _compile(args[0], options)
    if args:
        raise TypeError("njit takes the function or keyword options only")
    return lambda function: _compile(function, options)


__all__ = ["njit", "fallback_directory"]

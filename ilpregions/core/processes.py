"""Worker processes that die with their parent, and a pool that can be stopped now.

Used by every process pool of the package (sweeps, many slices at once).
On Linux a worker asks the kernel for SIGKILL when its parent dies
(``prctl(PR_SET_PDEATHSIG)``), so ``kill -9`` of the parent leaves no orphan
computing on.

Examples
--------
>>> import os
>>> die_with_parent(os.getppid())  # the parent is alive: nothing happens
"""

from __future__ import annotations

import os
import signal
import sys

_PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>


def die_with_parent(parent: int) -> None:
    """Pool initializer: be killed when the parent process dies (Linux; elsewhere a no-op).

    The check of ``getppid`` after ``prctl`` closes the race where the parent
    died before the request was made.

    Parameters
    ----------
    parent : int
        The parent's process id, read before the worker started.

    Returns
    -------
    None
    """
    if sys.platform.startswith("linux"):
        import ctypes

        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent:
        os._exit(1)


def stop_pool(pool) -> None:
    """Cancel a ``ProcessPoolExecutor``'s queued work and end its workers now (Ctrl-C, an error, a deadline).

    Parameters
    ----------
    pool : concurrent.futures.ProcessPoolExecutor
        The pool; it is shut down without waiting.

    Returns
    -------
    None

    Examples
    --------
    >>> from concurrent.futures import ProcessPoolExecutor
    >>> stop_pool(ProcessPoolExecutor(max_workers=1))
    """
    processes = list((getattr(pool, "_processes", None) or {}).values())  # no public handle on them
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        if process.is_alive():
            process.terminate()


__all__ = ["die_with_parent", "stop_pool"]

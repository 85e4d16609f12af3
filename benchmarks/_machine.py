"""Machine and commit stamp printed by every benchmark, and the peak memory each run reports."""

from __future__ import annotations

import os
import platform
import resource
import subprocess


def machine_stamp() -> dict:
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True).stdout.strip()
        if dirty:
            commit += "+dirty"
    except (OSError, subprocess.CalledProcessError):
        commit = "unknown"
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {"platform": platform.platform(), "python": platform.python_version(),
            "cpu": cpu, "cores": os.cpu_count(), "commit": commit}


def peak_rss_bytes() -> int:
    """This process's peak resident memory in bytes.

    VmHWM, not ``ru_maxrss``: Linux carries a forked child's maxrss (its
    parent's size at the fork) across exec, so a benchmark child started from
    a large parent would report the parent's size.
    """
    try:
        with open("/proc/self/status") as fh:
            return next(int(line.split()[1]) * 1024 for line in fh if line.startswith("VmHWM"))
    except (OSError, StopIteration):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024

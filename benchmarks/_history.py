"""Benchmarks against history: run the baseline side at an older git revision, in the same run.

A benchmark compares this tree with an older commit of the same repository
without keeping a copy of the old code: :func:`revision_tree` checks the
revision out into a temporary ``git worktree`` (removed afterwards, also on
Ctrl-C or SIGTERM), and :meth:`Tree.run` calls one function of a benchmark
file in a fresh process of this Python (the same installed packages) whose
``PYTHONPATH`` is that tree alone, so ``import ilpregions`` there imports the
old package. The function's return value comes back as JSON.

Quick use: ``python benchmarks/bench_slice.py --baseline main`` measures
this checkout's slicer against main's (bench_dp.py and bench_tied.py take
the same ``--baseline REV`` and ``--no-baseline``); the report names the
machine and both commits.

Writing a benchmark with it, in ``benchmarks/bench_<x>.py``::

    from _history import add_baseline_argument, baseline_tree, stamp_lines, this_tree

    def measure(line):                    # runs in a child; its ilpregions is that tree's
        from ilpregions import slice_network        # module paths of THAT revision
        ...
        return {"seconds": ..., "pieces": ...}      # JSON-able

    add_baseline_argument(parser, default="0174001", what="the slicer as first landed")
    args = parser.parse_args()
    new = this_tree()
    with baseline_tree(args) as old:      # a temporary worktree (None with --no-baseline)
        ours = new.run("bench_x.py:measure", {"line": 3})
        theirs = old.run("bench_x.py:measure", {"line": 3})
        header = stamp_lines(new, old)    # machine, load, both commits

Rules that keep the two sides comparable:

* both sides are measured the same way: the same function, each in a child
  of its own (``this_tree().run`` too), on the same inputs, in one run;
* a benchmark file must be importable by an old package: at its top level it
  imports only the standard library, numpy and these helpers; ``ilpregions``
  is imported inside functions. Where a module moved between revisions, the
  side function says so explicitly (``try`` the current path, ``except
  ImportError`` the old one, with the commit in a comment); nothing else;
* the child checks that ``ilpregions`` came from the tree it was given, so a
  misconfigured path cannot silently measure the wrong code;
* numba compiles a fresh tree's kernels on first use: the baseline trees
  keep their compiled kernels in ``NUMBA_CACHE`` between runs (the first run
  of a new baseline commit compiles them), and a side function should warm
  up (one untimed call) before it times anything.

A process killed with SIGKILL leaves its worktree behind; the next run of
the same commit removes it, and ``git worktree prune`` drops the stale
registration.
"""

from __future__ import annotations

import contextlib
import fcntl
import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def _git(*args: str, cwd: Path = ROOT) -> str:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True).stdout.strip()


@dataclass(frozen=True)
class Tree:
    """A source tree of this repository: this checkout, or a temporary worktree of one commit."""

    path: Path
    commit: str       # full hash; "unknown" outside git
    label: str        # short hash, "+dirty" when this checkout has uncommitted changes
    subject: str      # the commit's date and subject line
    env: dict = field(default_factory=dict)  # extra environment of its children

    def run(self, target: str, kwargs: dict | None = None, timeout: float | None = None) -> dict:
        """Call ``FILE:FUNCTION`` (FILE in benchmarks/) with ``kwargs`` in a child whose
        ``ilpregions`` is this tree's; return its JSON result, or ``{"error": ...}`` when the
        child failed or was killed after ``timeout`` seconds (a refusal or a crash is a result)."""
        env = {**os.environ, **self.env, "PYTHONPATH": str(self.path)}  # the tree alone, not the caller's
        with tempfile.TemporaryDirectory(prefix="ilpregions-side-") as tmp:
            out = Path(tmp) / "result.json"
            cmd = [sys.executable, str(HERE / "_history.py"), "--child", str(self.path), target, str(out)]
            try:
                proc = subprocess.run(cmd, input=json.dumps(kwargs or {}), capture_output=True, text=True,
                                      env=env, cwd=self.path, timeout=timeout)
            except subprocess.TimeoutExpired:
                return {"error": f"killed after {timeout:.0f} s", "seconds": timeout}
            if proc.returncode != 0 or not out.exists():
                last = (proc.stderr.strip().splitlines() or [""])[-1]
                return {"error": last or f"exit status {proc.returncode} (killed: out of memory?)"}
            answer = json.loads(out.read_text())
        return answer["result"]


def this_tree() -> Tree:
    """This checkout (the side being measured)."""
    try:
        commit = _git("rev-parse", "HEAD")
        dirty = _git("status", "--porcelain", "--untracked-files=no", "--", ".", ":!results")  # not the outputs
        subject = _git("log", "-1", "--format=%cs %s", commit)
    except (OSError, subprocess.CalledProcessError):
        return Tree(ROOT, "unknown", "unknown", "")
    return Tree(ROOT, commit, commit[:7] + ("+dirty" if dirty else ""), subject)


#: Compiled numba kernels of baseline trees, kept between runs (a fresh tree would recompile them).
NUMBA_CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "ilpregions-bench" / "numba"


@contextlib.contextmanager
def revision_tree(revision: str):
    """A temporary ``git worktree`` of ``revision`` (any name git understands), removed on exit.

    The tree's path is the same for every run of one commit (under the
    temporary directory, guarded by a lock) and its files get the commit's
    time as mtime, so numba's cache (``NUMBA_CACHE``, keyed by file path and
    mtime) serves the baseline's kernels from the second run on, as it serves
    this tree's. SIGTERM is turned into an exception while the tree exists,
    so that the cleanup also runs when the benchmark is stopped that way
    (Ctrl-C already raises KeyboardInterrupt).
    """
    try:
        commit = _git("rev-parse", "--verify", "--quiet", f"{revision}^{{commit}}")
    except subprocess.CalledProcessError:
        raise SystemExit(f"baseline: {revision!r} is not a commit of this repository") from None
    previous = signal.getsignal(signal.SIGTERM)

    def _stop(signum, frame):
        raise SystemExit(128 + signum)

    base = Path(tempfile.gettempdir()) / f"ilpregions-baseline-{commit[:12]}"
    with open(f"{base}.lock", "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:  # another run has this commit out: use a private path (its kernels recompile)
            base = Path(tempfile.mkdtemp(prefix=f"ilpregions-baseline-{commit[:12]}-"))
        path = base / "tree"
        try:
            signal.signal(signal.SIGTERM, _stop)
            shutil.rmtree(base / "tree", ignore_errors=True)  # left by a killed run
            _git("worktree", "prune")
            _git("worktree", "add", "--detach", "--quiet", str(path), commit)
            stamp = int(_git("log", "-1", "--format=%ct", commit))
            for file in path.rglob("*"):
                os.utime(file, (stamp, stamp), follow_symlinks=False)
            yield Tree(path, commit, commit[:7], _git("log", "-1", "--format=%cs %s", commit),
                       {"NUMBA_CACHE_DIR": str(NUMBA_CACHE)})
        finally:
            with contextlib.suppress(OSError, subprocess.CalledProcessError):
                _git("worktree", "remove", "--force", str(path))
            shutil.rmtree(base, ignore_errors=True)
            with contextlib.suppress(OSError, subprocess.CalledProcessError):
                _git("worktree", "prune")
            signal.signal(signal.SIGTERM, previous)


def add_baseline_argument(parser, default: str, what: str) -> None:
    """``--baseline REV`` (the revision whose code is the baseline side) and ``--no-baseline``."""
    parser.add_argument("--baseline", default=default, metavar="REV",
                        help=f"git revision of the baseline side (default {default}: {what}); "
                             f"built in a temporary worktree during the run")
    parser.add_argument("--no-baseline", action="store_true", help="measure this tree only")


def baseline_tree(args):
    """``revision_tree(args.baseline)``, or a context yielding None under ``--no-baseline``."""
    return contextlib.nullcontext() if args.no_baseline else revision_tree(args.baseline)


def stamp_lines(new: Tree, old: Tree | None) -> list[str]:
    """Markdown lines naming the machine and both commits of a run."""
    from _machine import machine_stamp

    m = machine_stamp()
    try:
        load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        load = "unknown"
    lines = [f"Machine: {m['platform']}, {m['cpu']}, {m['cores']} cores, Python {m['python']}; "
             f"load average (1, 5, 15 min) at the start: {load}.",
             f"This side: commit {new.label} ({new.subject})."]
    if old is not None:
        lines.append(f"Baseline side: commit {old.label} ({old.subject}), checked out from git into a "
                     f"temporary worktree for this run (benchmarks/_history.py).")
    return lines


def _child(tree: str, target: str, out: str) -> None:
    """The child's side of :meth:`Tree.run`: import the tree's package, call the target, write JSON."""
    import ilpregions  # first, before the target's file can change sys.path

    where = Path(ilpregions.__file__).resolve()
    if not where.is_relative_to(Path(tree).resolve()):
        raise SystemExit(f"ilpregions was imported from {where}, not from the tree {tree}")
    file, function = target.split(":")
    spec = importlib.util.spec_from_file_location(Path(file).stem, HERE / file)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    sys.set_int_max_str_digits(0)  # counts with many thousands of digits
    result = getattr(module, function)(**json.loads(sys.stdin.read() or "{}"))
    Path(out).write_text(json.dumps({"result": result, "ilpregions": str(where)}))


if __name__ == "__main__" and sys.argv[1:2] == ["--child"]:
    _child(*sys.argv[2:5])

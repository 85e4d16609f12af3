"""The cpsat backends stop at their deadline and on Ctrl-C (issue 13).

CP-SAT catches SIGINT itself and reports an ordinary time-limit stop, so a
Ctrl-C used to be swallowed: the next block's solve started, and a sweep
stored the point as a time-limit row. Now Ctrl-C stops the search and
surfaces as KeyboardInterrupt (exit 130 at the CLI boundary).
"""

from __future__ import annotations

import json
import os
import signal
import time

import pytest

from ilpregions.backends import cpsat
from ilpregions.core.geometry import layer_instance
from ilpregions.core.spec import ConvLayer, Network

#: 16 positions in one block, 42,795 t-vectors: seconds of enumeration.
SLOW = Network((3, 3, 1), (ConvLayer(1, 2, padding=1),))
SPEC = 'input = [3, 3, 1]\n[[layers]]\ntype = "conv"\nfilters = 1\nkernel = 2\npadding = 1\n'


@pytest.fixture
def default_sigint():
    """Python's own SIGINT handler for the test (a run under nohup starts with SIGINT ignored)."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


class CtrlC:
    """A progress bar whose first update (from inside the solution callback) sends SIGINT."""

    def __init__(self):
        self.sent = 0

    def update(self, n=1):
        if not self.sent:
            self.sent = 1
            os.kill(os.getpid(), signal.SIGINT)


@pytest.mark.parametrize("counter", [cpsat.count, cpsat.count_binary])
def test_ctrl_c_during_a_solve_raises_keyboard_interrupt(counter, default_sigint):
    inst = layer_instance(SLOW)
    before = signal.getsignal(signal.SIGINT)
    start = time.perf_counter()
    with pytest.raises(KeyboardInterrupt):
        counter(inst, progress=CtrlC(), time_limit=30)
    assert time.perf_counter() - start < 25        # stopped, not run to the time limit
    assert signal.getsignal(signal.SIGINT) is before   # the caller's handler is back


def test_ctrl_c_in_count_exits_130(cli, tmp_path, monkeypatch, default_sigint):
    spec = tmp_path / "m.toml"
    spec.write_text(SPEC)
    monkeypatch.setattr(cpsat, "Accumulator", _interrupting(cpsat.Accumulator))
    code, out, err = cli("count", spec, "--backend", "cpsat", "--quiet")
    assert code == 130 and "interrupted" in err and "Traceback" not in err


def _interrupting(base):
    class Interrupting(base):
        def add(self, values):
            if self.solutions == 100:
                os.kill(os.getpid(), signal.SIGINT)
            return super().add(values)
    return Interrupting


class _Callback:
    stopped = 0

    def stop_search(self):
        self.stopped += 1


def test_stop_checks_the_deadline_in_the_callback():
    stop = cpsat.Stop(0.0)
    time.sleep(0.01)
    callback = _Callback()
    stop.check(callback)
    assert stop.stopped and callback.stopped == 1 and stop.left() == 0.0
    assert cpsat.Stop(None).left() is None


def test_a_time_limit_is_a_partial_lower_bound():
    inst = layer_instance(SLOW)
    start = time.perf_counter()
    outcome = cpsat.count(inst, time_limit=0.3)
    assert not outcome.complete and 1 <= outcome.regions < 42795
    assert time.perf_counter() - start < 10


def test_ctrl_c_in_compare_exits_130_without_running_the_rest(cli, tmp_path, monkeypatch, default_sigint):
    from ilpregions.services.count import _compare as comparison

    spec = tmp_path / "m.toml"
    spec.write_text(SPEC)
    monkeypatch.setattr(cpsat, "Accumulator", _interrupting(cpsat.Accumulator))
    ran = []
    monkeypatch.setattr(comparison, "_run_path", _recording(comparison._run_path, ran))
    code, out, err = cli("compare", spec, "--quiet", "--time-limit", "20")
    assert code == 130 and out == "" and "interrupted" in err and "Traceback" not in err
    assert ran[-1] in ("cpsat", "cpsat-rows")          # nothing ran after the interrupted backend


def test_compare_reports_progress_per_backend(monkeypatch):
    from ilpregions.services.count import _compare as comparison

    monkeypatch.setattr(comparison, "counting_paths", lambda: {"a": lambda inst, tl: _Outcome(5),
                                                               "b": lambda inst, tl: _Outcome(5)})
    seen = []
    report = comparison.compare(Network((3, 1), (ConvLayer(1, 2),)), progress=seen.append)
    assert seen == ["a", "b"] and report.agree


def _recording(run_path, ran):
    def wrapped(name, *args):
        ran.append(name)
        return run_path(name, *args)
    return wrapped


class _Outcome:
    def __init__(self, regions):
        self.regions, self.complete, self.t_vectors, self.solutions = regions, True, None, None


@pytest.mark.parametrize("backend", ["cpsat", "cpsat-binary", "scip"])
def test_time_limit_holds_while_the_union_rows_are_listed(cli, tmp_path, backend):
    # 25 overlapping positions: listing the union rows alone took minutes before any solve
    spec = tmp_path / "m.toml"
    spec.write_text('input = [6, 6, 1]\n[[layers]]\ntype = "conv"\nfilters = 1\nkernel = 2\n')
    start = time.perf_counter()
    code, out, err = cli("count", spec, "--backend", backend, "--time-limit", "1", "--quiet")
    assert code == 3 and "at least" in out, err
    assert time.perf_counter() - start < 20     # over 60 s before


def test_essential_unions_stop_at_their_deadline():
    from ilpregions.core.set_system import RowsTimeUp, essential_unions

    inst = layer_instance(Network((6, 6, 1), (ConvLayer(1, 2),)))
    with pytest.raises(RowsTimeUp):
        essential_unions(inst, deadline=time.perf_counter())


def test_export_time_limit_writes_nothing_and_exits_3(cli, tmp_path):
    spec = tmp_path / "m.toml"
    spec.write_text('input = [6, 6, 1]\n[[layers]]\ntype = "conv"\nfilters = 1\nkernel = 2\n')
    out_file = tmp_path / "k.lp"
    code, out, err = cli("export", spec, "--format", "lp", "-o", out_file, "--time-limit", "0.5", "--json")
    assert code == 3, err
    data = json.loads(out)
    assert list(data)[:3] == ["model", "status", "seconds"] and data["status"] == "time_limit"
    assert data["written"] is False and not out_file.exists()

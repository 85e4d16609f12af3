"""Fuzz suite (issue 13): generated specs, grids, weight files, torch files,
``--t`` strings and option values, run through the commands in this process.

The contract (docs/safety.md): every case ends with exit code 0, 2 or 3;
exit 2 is one line on stderr; never a traceback; each case under 10 s.
Memory is bounded by the size limits (core/sizes.py): the generated sizes
range up to 2**70, so the arithmetic refusals are exercised, while what is
accepted stays small.

The quick suite runs a fixed sample (a few cases per property, derandomized);
``pytest -m slow tests/test_fuzz.py`` runs ≥ 5,000 cases. A writable-cache-free
run (``HOME`` unwritable, a read-only install) is tests/test_numba_cache.py's. Set
``ILPREGIONS_FUZZ_LOG=FILE`` to append one JSON line per case (command, exit
code, seconds) — results/fuzz.md summarises such a run.
"""

from __future__ import annotations

import io
import json
import os
import signal
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
import tomli_w
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpers import run_cli

CASE_SECONDS = 10.0
ALLOWED = (0, 2, 3)

# ---------------------------------------------------------------------------
# Strategies
# ---------------------------------------------------------------------------

#: Mostly small, sometimes wild: zero, negative, 2**31, 2**63, 2**64, huge.
WILD_INTS = st.sampled_from([0, -1, 2 ** 31, 2 ** 63 - 1, 2 ** 63, 2 ** 64, 10 ** 6, 10 ** 9, 2 ** 70])
INTS = st.one_of(st.integers(1, 4), st.integers(1, 4), st.integers(0, 8), WILD_INTS)
WILD_VALUES = st.one_of(INTS, st.booleans(), st.text(max_size=4), st.floats(allow_nan=False, allow_infinity=False),
                        st.lists(st.integers(-2, 4), max_size=3))


def axis_option(axes: int):
    return st.one_of(INTS, st.lists(INTS, min_size=axes, max_size=axes), WILD_VALUES)


@st.composite
def layer_tables(draw, axes: int, wild: bool):
    kind = draw(st.sampled_from(["conv", "local", "conv", "local", "dense", "maxpool"] + (["bogus"] if wild else [])))
    table: dict = {"type": kind}
    small = st.integers(1, 3)
    if kind in ("conv", "local", "bogus"):
        table["filters"] = draw(INTS if wild else st.integers(1, 3))
        table["kernel"] = draw(axis_option(axes) if wild else small)
        for key in ("stride", "padding", "dilation"):
            if draw(st.booleans()):
                table[key] = draw(axis_option(axes) if wild else st.integers(1 if key != "padding" else 0, 2))
    elif kind == "dense":
        table["units"] = draw(INTS if wild else st.integers(1, 4))
    else:
        table["kernel"] = draw(axis_option(axes) if wild else small)
    if wild and draw(st.integers(0, 9)) == 0:
        table[draw(st.sampled_from(["filter", "unit", "kernels", "x"]))] = draw(WILD_VALUES)
    return table


@st.composite
def spec_dicts(draw):
    """Architecture specs as plain data: half plausible and small, half wild."""
    wild = draw(st.booleans())
    axes = draw(st.integers(1, 2))
    sizes = st.integers(1, 6) if not wild else INTS
    spec: dict = {"input": draw(st.lists(sizes, min_size=axes, max_size=axes))
                  + [draw(st.integers(1, 2) if not wild else INTS)]}
    spec["layers"] = draw(st.lists(layer_tables(axes, wild), min_size=1 if not wild else 0,
                                   max_size=1 if not wild else 3))
    if wild and draw(st.integers(0, 5)) == 0:
        spec[draw(st.sampled_from(["inputs", "layer", "name"]))] = draw(WILD_VALUES)
    if wild and draw(st.integers(0, 8)) == 0:
        del spec["input"]
    return spec


def toml_text(data) -> str:
    try:
        return tomli_w.dumps(data)
    except (TypeError, ValueError):
        return "input = [3, 1]\n"


SPEC_TEXTS = st.one_of(
    spec_dicts().map(toml_text), spec_dicts().map(toml_text), spec_dicts().map(toml_text),
    st.text(max_size=60),  # garbage
    st.integers(1, 3000).map(lambda n: "input = " + "[" * n + "]" * n + "\n"),  # deep nesting
)
SPEC_BYTES = st.one_of(SPEC_TEXTS.map(lambda t: t.encode("utf-8")), st.binary(max_size=40))

T_STRINGS = st.one_of(
    st.lists(st.one_of(st.integers(0, 4), WILD_INTS), min_size=1, max_size=6).map(lambda v: ",".join(map(str, v))),
    st.text(alphabet="0123456789,- x[]e.", max_size=20),
)
SMALL_T = st.one_of(
    st.lists(st.integers(-1, 2 ** 62), min_size=1, max_size=6).map(lambda v: ",".join(map(str, v))),
    st.text(alphabet="0123456789,- x", max_size=12),
)
SECONDS = st.one_of(st.sampled_from(["1", "2", "0.5"]), st.sampled_from(["0", "-1", "nan", "inf", "1e400", "x", ""]))
BACKENDS = st.sampled_from(["auto", "dp", "cpsat", "enumerate", "cpsat-binary", "nope", ""])


# ---------------------------------------------------------------------------
# Running one case
# ---------------------------------------------------------------------------

class CaseTimeout(BaseException):
    """Raised by SIGALRM in a case that overran (a BaseException: no ``except Exception`` swallows it)."""


def _alarm(signum, frame):
    raise CaseTimeout


def run_case(capsys, *args) -> tuple[int, str, str]:
    shown = " ".join(map(str, args))[:300]
    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, CASE_SECONDS)
    start = time.perf_counter()
    try:
        code, out, err = run_cli(capsys, *args)
    except CaseTimeout:
        capsys.readouterr()
        _log(args, "timeout", CASE_SECONDS, "")
        raise AssertionError(f"over {CASE_SECONDS:.0f} s: `ilpregions {shown}`") from None
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    seconds = time.perf_counter() - start
    _log(args, code, seconds, err)
    assert code in ALLOWED, f"exit {code} for `ilpregions {shown}`:\n{err[-3000:]}"
    assert "Traceback" not in err, f"traceback for `ilpregions {shown}`:\n{err[-3000:]}"
    if code == 2:
        last = err.strip().splitlines()[-1] if err.strip() else ""
        assert "error" in last, f"exit 2 without a one-line error for `ilpregions {shown}`: {err[-500:]!r}"
    assert seconds < CASE_SECONDS, f"{seconds:.1f} s for `ilpregions {shown}`"
    return code, out, err


def _log(args, code, seconds: float, err: str) -> None:
    log = os.environ.get("ILPREGIONS_FUZZ_LOG")
    if log:
        with open(log, "a", encoding="utf-8") as handle:
            handle.write(json.dumps({"command": str(args[0]), "args": [str(a) for a in args[1:]][:12],
                                     "code": code, "seconds": round(seconds, 4),
                                     "error": err.strip().splitlines()[-1][:200] if err.strip() else ""}) + "\n")


def spec_command(data, path: Path, out_dir: Path) -> list:
    command = data.draw(st.sampled_from(["count", "count", "geometry", "check", "bounds", "tied-max",
                                         "compare", "export", "regions"]), label="command")
    args: list = [command, path]
    if command == "count":
        # cpsat is back: its solve now gets what is left of the limit and stops in its callback
        args += ["--backend", data.draw(BACKENDS), "--time-limit", "1", "--quiet"]
        if data.draw(st.booleans()):
            args.append("--json")
    elif command == "check":
        backend = data.draw(st.sampled_from(["flow", "cpsat", "highs", "cbc", "nope"]))
        args += ["--t", data.draw(st.one_of(T_STRINGS, SMALL_T), label="t"), "--backend", backend]
    elif command == "bounds":
        args += ["--time-limit", "1"]
    elif command == "compare":
        args += ["--time-limit", "0.5", "--quiet"]
    elif command == "export":
        args += ["--format", data.draw(st.sampled_from(["cp", "lp", "mps", "xx"])), "-o", out_dir / "k.out",
                 "--time-limit", "1"]
    elif command == "regions":
        args += ["--seed", data.draw(st.one_of(st.integers(0, 5), WILD_INTS).map(str)), "--time-limit", "1"]
    elif command == "geometry":
        if data.draw(st.booleans()):
            args += ["--coverage", data.draw(T_STRINGS)]
    return args


# ---------------------------------------------------------------------------
# Properties (each draws one case)
# ---------------------------------------------------------------------------

def prop_specs(data, capsys):
    """Generated spec files through the commands that take a model."""
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        path = tmp / "m.toml"
        path.write_bytes(data.draw(SPEC_BYTES, label="spec"))
        run_case(capsys, *spec_command(data, path, tmp))


def prop_options(data, capsys):
    """Option values (time limits, backends, widths, repeats, fields) on a valid small spec."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "m.toml"
        path.write_text(toml_text({"input": [4, 1], "layers": [{"type": "conv", "filters": 2, "kernel": 2}]}))
        choice = data.draw(st.integers(0, 4), label="which")
        value = data.draw(st.one_of(st.text(max_size=8), WILD_INTS.map(str), st.integers(-3, 5).map(str)))
        # --widths and --repeats: wild values only up to the known findings (KNOWN_FINDINGS below)
        small = data.draw(st.one_of(st.text(max_size=8), st.integers(-3, 64).map(str),
                                    st.sampled_from(["1,2,3", "0", "-1", "2**63", "1e3", "4,,4"])))
        args = [["count", path, "--time-limit", data.draw(SECONDS), "--backend", data.draw(BACKENDS)],
                ["claims", "--widths", data.draw(st.one_of(st.just(small), WILD_INTS.map(str))), "--time-limit", "1",
                 "--quiet"],
                ["tied-max", path, "--repeats", small],
                ["geometry", path, "--fields", value],
                ["count", path, "--memory-cap", value, "--time-limit", "2"]][choice]
        run_case(capsys, *args)


def grid_dicts():
    axis_values = st.lists(st.one_of(st.integers(1, 3), WILD_INTS, st.text(max_size=3)), min_size=1, max_size=3)
    keys = st.sampled_from(["layers[0].filters", "layers[0].kernel", "layers[0].stride", "input",
                            "layers[0].type", "input[0]", "layers[1].filters", "bogus", "layers[0].padding"])
    # A time limit always (valid or not): a grid point is a real count, and one of a million positions
    # without a limit legitimately runs for minutes (a 1-D layer with kernel 2: over 2 minutes).
    return st.fixed_dictionaries(
        {"base": spec_dicts(), "grid": st.dictionaries(keys, axis_values, max_size=2),
         "time_limit": st.sampled_from([1, 2.5, -1, 0])},
        optional={"task": st.sampled_from(["count", "bounds", "claims", "nope"]),
                  "backend": st.sampled_from(["cpsat", "dp", "nope"])})


def prop_sweeps(data, capsys):
    """Generated grids through ``sweep`` (serial), to a file and resumed, or as JSON."""
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        grid = tmp / "g.toml"
        grid.write_text(toml_text(data.draw(grid_dicts(), label="grid")))
        if data.draw(st.booleans()):
            run_case(capsys, "sweep", grid, "--workers", "1", "--quiet", "--json")
        else:
            out = tmp / "s.csv"
            code, _, _ = run_case(capsys, "sweep", grid, "--workers", "1", "--quiet", "-o", out)
            if code in (0, 3):
                run_case(capsys, "sweep", grid, "--workers", "1", "--quiet", "-o", out, "--resume")


@st.composite
def weight_files(draw):
    """Bytes of a weights file: right or wrong arrays, .npy, bad headers, garbage."""
    kind = draw(st.sampled_from(["npz", "npz", "npy", "header", "garbage", "object"]))
    buf = io.BytesIO()
    if kind == "npz":
        names = draw(st.lists(st.sampled_from(["layers.0.weight", "layers.0.bias", "w", "x.y"]), max_size=3,
                              unique=True))
        arrays = {n: np.zeros(draw(st.lists(st.integers(0, 4), max_size=4)), dtype=draw(
            st.sampled_from([np.float64, np.float32, np.int64, np.bool_]))) for n in names}
        np.savez(buf, **arrays)
    elif kind == "npy":
        np.save(buf, np.zeros(3))
    elif kind == "header":
        header = io.BytesIO()
        shape = tuple(draw(st.lists(st.one_of(st.integers(0, 4), WILD_INTS.filter(lambda v: v >= 0)), max_size=3)))
        np.lib.format.write_array_header_1_0(header, {"descr": "<f8", "fortran_order": False, "shape": shape})
        with zipfile.ZipFile(buf, "w") as archive:
            archive.writestr("layers.0.weight.npy", header.getvalue() + draw(st.binary(max_size=64)))
    elif kind == "object":
        np.savez(buf, w=np.array([None], dtype=object))
    else:
        buf.write(draw(st.binary(max_size=64)))
    return buf.getvalue()


def prop_weights(data, capsys):
    """Generated weight files through ``regions --weights``."""
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        spec = tmp / "m.toml"
        spec.write_text(toml_text({"input": [3, 1], "layers": [{"type": "conv", "filters": 1, "kernel": 2}]}))
        weights = tmp / "w.npz"
        weights.write_bytes(data.draw(weight_files(), label="weights"))
        run_case(capsys, "regions", spec, "--weights", weights, "--time-limit", "2")


def prop_torch(data, capsys):
    """Garbage and truncated torch files through ``import-torch``."""
    import torch  # noqa: F401  - its import (seconds) is not the case's time
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        path = tmp / "m.pt"
        raw = data.draw(st.binary(max_size=80), label="torch bytes")
        if data.draw(st.booleans()):
            buf = io.BytesIO()
            with zipfile.ZipFile(buf, "w") as archive:
                archive.writestr("archive/data.pkl", raw)
                archive.writestr("archive/version", b"3\n")
            raw = buf.getvalue()
        path.write_bytes(raw)
        shape = data.draw(st.sampled_from(["1,4,4", "3,8,8", "0,1,1", "x", "1,99999999,99999999"]))
        run_case(capsys, "import-torch", path, "--input", shape, "-o", tmp / "out.toml")


PATH_CASES = (  # every input path option, each given a FIFO (issue 21)
    lambda f, d, m: ["count", f, "--quiet"],
    lambda f, d, m: ["regions", m, "--weights", f],
    lambda f, d, m: ["slice", m, "--seed", "0", "--through", "0,1", "--data", f, "--time-limit", "2"],
    lambda f, d, m: ["slice", m, "--seed", "0", "--through", f"{f},{d}", "--time-limit", "2"],
    lambda f, d, m: ["import-torch", f, "--input", "1,3,3", "-o", Path(d).with_name("o.toml")],
    lambda f, d, m: ["import-torch", d, "--arch", f, "--input", "1,3,3", "-o", Path(d).with_name("o.toml")],
    lambda f, d, m: ["sweep", f, "--workers", "1", "--quiet"],
    lambda f, d, m: ["report", "--out", Path(d).with_name("r"), "--sweeps", f, "--quiet"],
    lambda f, d, m: ["geometry", f],
)


def prop_paths(data, capsys):
    """A FIFO on every path option: refused at once (exit 2), never waited on."""
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        fifo = tmp / "fifo"
        os.mkfifo(fifo)
        npy = tmp / "x.npy"
        np.save(npy, np.zeros((3, 9)))
        model = tmp / "m.toml"
        model.write_text(toml_text({"input": [3, 3, 1], "layers": [{"type": "conv", "filters": 2, "kernel": 2}]}))
        case = data.draw(st.sampled_from(PATH_CASES), label="path option")
        code, _, err = run_case(capsys, *case(fifo, npy, model))
        assert code == 2 and "FIFO" in err, err


EXTREME = st.sampled_from(["0", "-1", "-0", "1e308", "1e400", "nan", "inf", "-inf", str(2 ** 63), str(2 ** 64),
                           "1000000", "1000000000000000000", "0.000001", "-1,3,3", "", "x"])


def prop_numerics(data, capsys):
    """Extreme values on every numeric option, and huge sizes in the spec."""
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        path = tmp / "m.toml"
        value = data.draw(EXTREME, label="value")
        limit = ["--time-limit", "1"]
        commands = [
            lambda p: ["count", p, "--workers", value, "--quiet"] + limit,
            lambda p: ["count", p, "--memory-cap", value, "--quiet"] + limit,
            lambda p: ["regions", p, "--seed", value] + limit,
            lambda p: ["regions", p, "--seed", "0", "--method", "sample", "--samples", value] + limit,
            lambda p: ["tied-max", p, "--repeats", value] + limit,
            lambda p: ["tied-max", p, "--seed", value] + limit,
            lambda p: ["slice", p, "--seed", value, "--through", "random,random", "--time-limit", "1"],
            lambda p: ["slice", p, "--seed", "0", "--through", value, "--time-limit", "1"],
            lambda p: ["check", p, "--t", value],
            lambda p: ["import-torch", p, "--input", value, "-o", tmp / "o.toml"],
            lambda p: ["claims", "--widths", value, "--quiet"] + limit,
            # the value is the time limit itself: a long limit is a long (legitimate) run, so small layers only
            lambda p: ["count", p, "--time-limit", value, "--quiet"],
            lambda p: ["bounds", p, "--time-limit", value, "--quiet"],
        ]
        which = data.draw(st.integers(0, len(commands) - 1), label="command")
        sizes = [1, 2] if which >= len(commands) - 2 else [1, 2, 10 ** 6, 10 ** 18, 2 ** 63]
        filters = data.draw(st.sampled_from(sizes), label="filters")
        path.write_text(toml_text({"input": [3, 3, 1], "layers": [{"type": "conv", "filters": filters, "kernel": 2}]}))
        args = commands[which](path)
        run_case(capsys, *args)


def prop_degenerate(data, capsys):
    """Near-parallel and near-concurrent weights (gaps 1e-6 ... 1e-17) through regions."""
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        units = data.draw(st.integers(1, 5), label="units")
        spec = tmp / "m.toml"
        spec.write_text(toml_text({"input": [2, 1], "layers": [{"type": "dense", "units": units}]}))
        W = np.array([[data.draw(st.integers(-2, 2)) for _ in range(2)] for _ in range(units)], dtype=float)
        b = -(W @ np.array([1 / 3, 2 / 3]))
        for i in range(units):
            b[i] += data.draw(st.sampled_from([0.0] + [10.0 ** -k for k in range(6, 18)]))
        weights = tmp / "w.npz"
        np.savez(weights, **{"layers.0.weight": W, "layers.0.bias": b})
        method = data.draw(st.sampled_from(["exact", "lp"]), label="method")
        code, out, _ = run_case(capsys, "regions", spec, "--weights", weights, "--method", method, "--json",
                                "--time-limit", "5")
        assert code == 0 and json.loads(out)["exact"] is True


PROPS = {
    # name: (property, quick cases, slow cases)
    "specs": (prop_specs, 15, 2500),
    "options": (prop_options, 6, 800),
    "sweeps": (prop_sweeps, 4, 800),
    "weights": (prop_weights, 6, 700),
    "torch": (prop_torch, 2, 300),
    "paths": (prop_paths, 4, 400),
    "numerics": (prop_numerics, 6, 600),
    "degenerate": (prop_degenerate, 3, 300),
}


def run_property(name: str, examples: int, capsys) -> None:
    prop = PROPS[name][0]

    @settings(max_examples=examples, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    @given(st.data())
    def case(data):
        prop(data, capsys)

    case()


@pytest.mark.parametrize("name", list(PROPS))
def test_fuzz_sample(name, capsys):
    run_property(name, PROPS[name][1], capsys)


@pytest.mark.slow
@pytest.mark.parametrize("name", list(PROPS))
def test_fuzz_full(name, capsys):
    run_property(name, PROPS[name][2], capsys)


def test_tied_max_absurd_repeats_refused_up_front(cli, tmp_path):
    # Once a finding of this suite (it looped): now refused by arithmetic, one line, exit 2.
    spec = tmp_path / "m.toml"
    spec.write_text(toml_text({"input": [4, 1], "layers": [{"type": "conv", "filters": 2, "kernel": 2}]}))
    code, out, err = cli("tied-max", str(spec), "--repeats", "1000000000")
    assert code == 2 and "repeats" in err and len(err.strip().splitlines()) == 1


def test_full_run_has_at_least_5000_cases():
    assert sum(slow for _, _, slow in PROPS.values()) >= 5000

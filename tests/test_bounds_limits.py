"""`bounds --time-limit`: one deadline for the whole call, honest partial answers (issue 13).

Quick tests prove the deadline is honoured with tiny limits and monkeypatched cost models (no
tight timing); the real big inputs under ``--time-limit 5`` are slow tests with a generous wall.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from ilpregions.core.combinatorics import power_product, short_int
from ilpregions.core.geometry import layer_instance
from ilpregions.core.spec import ConvLayer, Network
from ilpregions.core import bigint
from ilpregions.services.bounds import _common as C
from ilpregions.services.bounds import _one_layer as one_layer, compute_bounds
from ilpregions.services.bounds._budget import Budget, bigint_seconds, binomial_sum_seconds
from ilpregions.services.bounds._exact import bruteforce_counter, fields_meet, largest_block
from ilpregions.theory import tied_bounds as T

ROOT = Path(__file__).resolve().parents[1]
PAPER = str(ROOT / "models" / "paper_3x3.toml")
CUT_TEXT = "not run: time limit"


def _small_conv():
    return Network((6, 6, 1), (ConvLayer(2, 2),))


def test_budget_without_deadline_never_cuts():
    b = Budget(step=3.0)
    assert b.seconds() == 3.0 and b.allows("x", 1e12) and not b.expired() and b.cut == ()


def test_budget_past_deadline_cuts_and_records():
    b = Budget(step=3.0, deadline=time.perf_counter() - 1, limit=1.0)
    assert b.expired() and b.seconds() <= 0
    assert not b.allows("a", 1.0) and not b.allows("b", 0.2, grace=True)   # 1.25 * 0.2 > 0.5 - 1
    assert b.allows("free", 1e-4)                                          # closed forms on small numbers
    assert b.cut == ("a", "b")
    assert b.why().startswith(CUT_TEXT)


def test_budget_grace_lets_closed_forms_finish():
    b = Budget.total(4.0)
    assert b.allows("closed", 4.0 * 1.2 / 1.25, grace=True)   # fits in the limit plus half of it
    assert not b.allows("search", 4.0 * 1.2 / 1.25)          # a search does not get the grace
    assert b.cut == ("search",)


def test_cost_models_grow_with_size():
    assert bigint_seconds(10 ** 7, fast=False) > bigint_seconds(10 ** 6, fast=False) > 0.1
    assert bigint_seconds(10 ** 7, fast=True) < bigint_seconds(10 ** 7, fast=False)
    assert binomial_sum_seconds(16_000_000, 3_000_000) > 100       # the 1000x1000 layer's Σ C(N_1, i)
    assert binomial_sum_seconds(16_000_000, 3_000_000, {(16_000_000, 3_000_000)}) == 0   # cached


def test_no_limit_is_complete(cli):
    code, out, err = cli("bounds", PAPER, "--json")
    data = json.loads(out)
    assert code == 0, err
    assert data["status"] == "complete" and data["cut_by_time_limit"] == []
    assert data["lower"] is not None and data["upper"] is not None


def test_tiny_limit_gives_exit_3_and_honest_rows(cli):
    full = json.loads(cli("bounds", PAPER, "--json")[1])
    code, out, err = cli("bounds", PAPER, "--json", "--time-limit", "0.001")
    assert code == 3, err
    data = json.loads(out)
    assert data["status"] == "time_limit" and data["cut_by_time_limit"]
    values = {b["name"]: b["value"] for b in full["bounds"] if b["applicable"]}
    for b in data["bounds"]:
        if b["applicable"] and b["name"] in values:   # whatever finished is the value found without a limit
            assert b["value"] == values[b["name"]], b["name"]
    # bounds that only run when Theorem 1 is cut (the strip partition) are still consistent
    assert int(data["lower"] or 0) <= int(full["upper"]) and int(data["upper"] or full["upper"]) >= int(full["lower"])
    assert any((b["reason"] or "").startswith(CUT_TEXT) for b in data["bounds"])
    code, text, _ = cli("bounds", PAPER, "--time-limit", "0.001")
    assert code == 3 and "status: time limit" in text and CUT_TEXT in text


def test_expensive_searches_are_not_started(monkeypatch):
    """A search whose estimated cost does not fit is skipped before it starts (never run at all)."""
    net = _small_conv()
    full = compute_bounds(net, exact_counter=bruteforce_counter, time_limit=0.5, lp=False)
    started = []
    monkeypatch.setattr(one_layer, "SEARCH_SECONDS_PER_POSITION", 1e6)
    monkeypatch.setattr(one_layer, "_tied", lambda *a: started.append(a) or (None, "ran"))
    one_layer._REAL_CACHE.clear()
    part = compute_bounds(net, exact_counter=bruteforce_counter, time_limit=0.5, lp=False, total_seconds=30)
    one_layer._REAL_CACHE.clear()
    assert not started
    assert part.status == "time_limit" and C.TIED_MAX in part.cut and C.BLOCKS in part.cut
    assert part.bound(C.TIED_MAX).reason.startswith(CUT_TEXT)
    for name in (C.FRESH_BOX, C.SUBLATTICE, C.THEOREM1):     # the cheap ones still ran, same values
        assert part.bound(name).value == full.bound(name).value
    assert part.lower <= full.lower and part.upper >= full.upper


def test_block_search_stops_at_the_hard_deadline(monkeypatch):
    """Each block type's count is slow here: the search drops its scheme at the deadline."""
    from ilpregions.services.bounds import _blocks as blocks

    real_count = blocks._count

    def slow(*args):
        time.sleep(0.4)
        return real_count(*args)

    monkeypatch.setattr(blocks, "_count", slow)
    net = Network((8, 8, 1), (ConvLayer(2, 3),))
    start = time.perf_counter()
    found = blocks.block_lower(net, seconds=60, hard_deadline=time.perf_counter() + 0.5)
    assert time.perf_counter() - start < 8      # generous: without the deadline it runs every scheme
    assert found is None or found.value >= 1


def test_cut_results_are_not_memoised(monkeypatch):
    net = _small_conv()
    inst = layer_instance(net)
    one_layer._REAL_CACHE.clear()
    gone = Budget(step=5.0, deadline=time.perf_counter() - 1, limit=1.0)
    monkeypatch.setattr(one_layer, "SEARCH_SECONDS_PER_POSITION", 1e6)
    cut = one_layer.real_lower(net, inst, None, 5, budget=gone)
    assert gone.cut and not one_layer._REAL_CACHE
    assert cut.value is None or cut.value >= 1


def test_json_omits_values_over_the_digit_limit(monkeypatch):
    monkeypatch.setattr(bigint, "JSON_MAX_DIGITS", 10)
    small, big = bigint.value_json(12345), bigint.value_json(7 ** 100)
    assert small == {"value": "12345", "digits": 5, "log10": round(np.log10(12345), 6)}
    assert big["value"] is None and big["digits"] == 85 and abs(big["log10"] - 100 * np.log10(7)) < 1e-6
    report = compute_bounds(Network((4, 1), (ConvLayer(2, 2), ConvLayer(3, 2))), exact_counter=bruteforce_counter,
                            lp=False)
    data = report.to_json()
    assert data["lower"] == bigint.decimal_text(report.lower) and data["cut_by_time_limit"] == []
    assert all(b["digits"] == len(bigint.decimal_text(v.value)) for b, v in zip(data["bounds"], report.bounds)
               if v.applicable)


def test_short_text_never_writes_huge_numbers_out(monkeypatch):
    values = [7 ** 100_000, 10 ** 30_000, 10 ** 30_000 - 1, 3 ** 200_000 * 11]
    expected = [short_int(v) for v in values]
    monkeypatch.setattr(bigint, "short_int", lambda *a: pytest.fail("full decimal text of a huge number"))
    assert [bigint.short_text(v) for v in values] == expected
    assert bigint.digits(10 ** 30_000) == 30_001 and bigint.digits(10 ** 30_000 - 1) == 30_000


def _naive_fresh(inst, order):
    seen, out = set(), [0] * inst.positions
    for p in order:
        new = set(inst.fields[p]) - seen
        seen |= new
        out[p] = len(new) * inst.channels
    return tuple(out)


def test_numpy_helpers_match_the_definitions():
    rng = random.Random(13)
    for _ in range(25):
        n, m, k = rng.randint(3, 9), rng.randint(3, 9), rng.randint(1, 3)
        layer = ConvLayer(rng.randint(1, 4), (min(k, n), min(rng.randint(1, 3), m)), stride=rng.randint(1, 2))
        inst = layer_instance(Network((n, m, rng.randint(1, 2)), (layer,)))
        order = list(range(inst.positions))
        rng.shuffle(order)
        assert T.fresh_counts(inst, order) == _naive_fresh(inst, order)
        assert T.field_sizes(inst).tolist() == list(inst.field_sizes)
        assert T.union_size(inst) == inst.union_size and T.caps(inst) == inst.caps
        assert fields_meet(inst) == (largest_block(inst) > 1)
        sizes = list(inst.field_sizes)
        assert T.box_product(inst.filters, sizes) == power_product(
            [(sum(__import__("math").comb(inst.filters, t) for t in range(min(inst.filters, s) + 1)), 1)
             for s in sizes])


def test_fresh_box_builds_only_the_best_orders():
    inst = layer_instance(Network((5, 7, 2), (ConvLayer(3, (2, 3)),)))
    orders = T.candidate_orders(inst)
    by_hand = max(T.box_product(inst.filters, T.fresh_counts(inst, o)) for o in orders.values())
    assert T.fresh_box(inst)[0] == by_hand


def _cli_timed(*args):
    start = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "ilpregions", *args], capture_output=True, text=True, cwd=ROOT,
                         timeout=600)
    return out, time.perf_counter() - start


@pytest.mark.slow
def test_imagenet_stem_honours_a_5_second_limit():
    out, wall = _cli_timed("bounds", "models/imagenet_stem.toml", "--time-limit", "5", "--json")
    assert out.returncode in (0, 3), out.stderr
    data = json.loads(out.stdout)
    assert wall < 20, wall
    assert (data["status"] == "time_limit") == (out.returncode == 3)
    assert data["lower"] is not None and data["upper"] is not None


@pytest.mark.slow
def test_million_position_layer_honours_a_5_second_limit(tmp_path):
    model = tmp_path / "big.toml"
    model.write_text('input = [1000, 1000, 3]\n\n[[layers]]\ntype = "conv"\nfilters = 16\nkernel = 3\n')
    out, wall = _cli_timed("bounds", str(model), "--time-limit", "5", "--json")
    assert out.returncode == 3, out.stderr
    data = json.loads(out.stdout)
    assert wall < 20, wall
    assert data["status"] == "time_limit" and data["cut_by_time_limit"]
    for b in data["bounds"]:
        if b["applicable"]:       # millions of digits: size only, never the text (docs/bounds.md)
            assert b["value"] is None and b["digits"] > C.JSON_MAX_DIGITS
        else:
            assert b["reason"]


def test_exact_counts_inside_the_bounds_have_their_own_memory_cap(monkeypatch):
    """The bounds' exact counts are a bonus: their engine refuses past a small cap, before allocating
    (VGG-11's bounds peaked at 5.3 GB under the count command's 8 GiB default)."""
    from ilpregions.core.errors import TooLargeError
    from ilpregions.core.geometry import layer_instance
    from ilpregions.services.bounds import _exact

    inst = layer_instance(Network((6, 6, 1), (ConvLayer(3, 2),)))
    assert _exact.engine_counter(inst).exact
    monkeypatch.setattr(_exact, "EXACT_MEMORY_CAP", 1024)
    with pytest.raises(TooLargeError, match="memory"):
        _exact.engine_counter(inst)

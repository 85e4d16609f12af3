"""Claims: family construction, exact verdict logic, hand-checked bounds, and the CLI."""

from __future__ import annotations

import json
from math import comb
from pathlib import Path

import pytest

from ilpregions.services.claims import _evaluate as C
from ilpregions.services.count._theorem1 import count_regions
from ilpregions.theory.fc_bounds import fc_params
from ilpregions.services.bounds import params
from ilpregions.core.spec import DenseLayer, Network

ROOT = Path(__file__).resolve().parents[1]
NET = Network((2, 1), (DenseLayer(2),))


def side(lower, upper, p):
    return C.Side("x", NET, p, lower, upper, "l", "u")


def test_verdicts_are_exact_per_parameter_comparisons():
    # 100/10 > 50/10: proven; the margin is log10(10/5).
    assert C.verdict(side(100, 200, 10), side(5, 50, 10)) == (C.PROVEN, pytest.approx(0.30103, abs=1e-5))
    # Per parameter, not absolute: 100/30 < 50/10, and 200/30 > 5/10: the bounds overlap.
    assert C.verdict(side(100, 200, 30), side(5, 50, 10))[0] == C.OPEN
    # Equal ratios are not "more": 50/10 = 50/10 is not PROVEN.
    assert C.verdict(side(50, 60, 10), side(5, 50, 10))[0] == C.OPEN
    # Upper of A below lower of B: refuted; at equality too (A ≤ B per parameter then).
    assert C.verdict(side(1, 4, 10), side(5, 50, 10))[0] == C.REFUTED
    assert C.verdict(side(1, 5, 10), side(5, 50, 10))[0] == C.REFUTED
    assert C.verdict(side(1, 6, 10), side(5, 50, 10))[0] == C.OPEN
    # No lower bound on either side: nothing is proven either way.
    assert C.verdict(side(None, 60, 10), side(None, 50, 10)) == (C.OPEN, None)
    # Huge values compare exactly (no float overflow).
    big = 10 ** 5000
    assert C.verdict(side(big + 1, big * 3, 7), side(1, big, 7))[0] == C.PROVEN
    assert C.verdict(side(big, big * 3, 7), side(1, big, 7))[0] == C.OPEN
    assert C.verdict(side(1, big, 7), side(big, big * 3, 7))[0] == C.REFUTED


def test_families_match_their_parameter_budgets():
    for n0, depth, d in [(4, 2, 3), (4, 3, 8), (6, 4, 5)]:
        deep = C.deep_cnn(n0, depth, d)
        budget = params(deep)
        # Hand count: layer 1 has d(3+1), middle layers d(3d+1), the last d(2d+1).
        expected = d * 4 + (depth - 2) * d * (3 * d + 1) + d * (2 * d + 1)
        assert budget == expected
        shallow = C.shallow_cnn(n0, budget)
        assert params(shallow) <= budget < params(shallow) + 4
        fc = C.fc_net(n0, depth, budget)
        w = fc.layers[0].units
        assert params(fc) == fc_params(n0, [w] * depth) <= budget < fc_params(n0, [w + 1] * depth)
        assert [s[0] for s in deep.output_shapes()] == [n0] * (depth - 1) + [n0 // 2]


def test_deep_side_lower_bound_by_hand():
    # Theorem 2 (i) on the family with Serra et al.'s sawtooth: (⌊d/1⌋ + 1)^{n0·(L−1)} · R_{N'} for d ≥ 3,
    # N' = kernel 2, stride 2 on n0 inputs: disjoint fields, so R_{N'} = (Σ_{i≤2} C(d, i))^{n0/2},
    # rigorous for shared filters; the paper's ⌊d/1⌋^{…} is listed beside it.
    n0, depth, d = 4, 3, 5
    s = C.side("deep", C.deep_cnn(n0, depth, d))
    assert s.lower == (d + 1) ** (n0 * (depth - 1)) * sum(comb(d, i) for i in range(3)) ** (n0 // 2)
    assert s.lower_name == "ilpregions.folding.lower"


def test_shallow_side_upper_is_the_theorem1_count():
    s = C.side("shallow", C.shallow_cnn(4, 40))  # D = 10 filters
    independent = count_regions(C.shallow_cnn(4, 40), backend="cpsat").regions
    assert s.upper == independent
    # 1-D tied, overlapping fields: the proven lower bound is the fresh box (raster: pixels 0,1 fresh at
    # position 0, pixel 2 at 1, pixel 3 at 2, none at 3): (1 + 10 + 45) · 11 · 11, never Theorem 1's count.
    assert s.lower == 56 * 11 * 11 and s.lower_name == "ilpregions.tied.fresh_box"


def test_claim_results_and_threshold():
    result = C.deep_vs_shallow(6, 4, widths=(1, 2, 3, 4, 8))
    assert [r.verdict for r in result.rows][:2] != [C.PROVEN, C.PROVEN]
    assert result.rows[-1].verdict == C.PROVEN
    d0 = result.proven_from
    assert d0 is not None and all(r.verdict == C.PROVEN for r in result.rows if r.d >= d0)
    # At the threshold the proof is a genuine exact inequality between integers.
    row = next(r for r in result.rows if r.d == d0)
    assert row.larger.lower * row.other.params > row.other.upper * row.larger.params
    fc = C.cnn_vs_fc(4, 3, widths=(2, 8, 32))
    assert all(r.verdict == C.PROVEN for r in fc.rows)
    assert "PROVEN" in fc.summary


def test_two_layer_deep_vs_shallow_is_not_proven():
    # Theorem 3's exponent d0·Σ_{l<L} n_l − 2 ties with the shallow 2·n0 − 2 at L = 2: the bounds
    # never separate the two in the grid (an honest negative result, not a failure).
    result = C.deep_vs_shallow(4, 2, widths=(4, 16, 64))
    assert all(r.verdict != C.PROVEN for r in result.rows)
    assert result.proven_from is None


def test_cli_claims_json(cli):
    # In-process: one evaluation of every family costs seconds; a subprocess would repeat the imports.
    code, out, err = cli("claims", "--json", "--widths", "2,3")
    assert code == 0, err
    data = json.loads(out)
    assert data["widths"] == [2, 3]
    assert {c["claim"] for c in data["claims"]} == {"deep-vs-shallow", "cnn-vs-fc"}
    for claim in data["claims"]:
        for row in claim["rows"]:
            assert row["verdict"] in (C.PROVEN, C.OPEN, C.REFUTED)
            # an open row carries its gap, a decided one none
            assert (row["gap"] is None) == (row["verdict"] != C.OPEN)
            if row["gap"] is not None:
                assert set(row["gap"]) == {"prove", "refute"} and row["gap"]["prove"]["log10_shortfall"] > 0
    code, out, _ = cli("claims", "--rows", "--widths", "2")
    assert code == 0 and "verdict:" in out
    code, _, err = cli("claims", "--widths", "0")
    assert code == 2 and err.count("\n") == 1


def test_two_dimensional_family_by_hand():
    d = 3
    deep = C.deep_cnn((4, 4), 3, d)
    # conv 3×3 (1 channel in), conv 3×3 (d channels in), conv 2×2 (d channels in).
    assert params(deep) == d * 10 + d * (9 * d + 1) + d * (4 * d + 1)
    s = C.side("deep", deep)
    # (⌊d/1⌋ + 1)^{16·2} folds (d = 3 units make 4 teeth) times R_{N'}: 4 disjoint 2×2 fields,
    # each Σ_{i≤4} C(d, i).
    assert s.lower == (d + 1) ** 32 * sum(comb(d, i) for i in range(5)) ** 4
    shallow = C.shallow_cnn((4, 4), params(deep))
    assert shallow.layers[0].filters == params(deep) // 10
    assert C.fc_net((4, 4), 3, params(deep)).input_shape == (4, 4, 1)


def test_the_folding_construction_reaches_the_deep_lower_bound():
    # An explicit network of the deep family (n0 = 2, L = 2, d = 2) built as Theorem 2's proof does:
    # layer 1 (kernel 3, padding 1) reads only the centre tap, its two tied filters fold each input
    # coordinate once (the sawtooth g = 2·ReLU(u) − 4·ReLU(u − ½) maps [0, ½] and [½, 1] onto
    # [0, 1]); layer 2 (kernel 2, stride 2) puts two lines in general position inside the folded
    # square. Counting the distinct activation patterns on a fine grid must give the bound, 2² · 4.
    import numpy as np

    grid = (np.arange(600) + 0.5) / 600
    x0, x1 = np.meshgrid(grid, grid, indexing="ij")
    h = [np.maximum(x0, 0), np.maximum(x0 - 0.5, 0), np.maximum(x1, 0), np.maximum(x1 - 0.5, 0)]
    g0, g1 = 2 * h[0] - 4 * h[1], 2 * h[2] - 4 * h[3]
    z = [g0 + g1 - 1, g0 - g1 - 0.1]
    signs = np.stack([a > 0 for a in h + z], axis=-1).reshape(-1, 6)
    patterns = len({row.tobytes() for row in signs})
    report_side = C.side("deep", C.deep_cnn(2, 2, 2))
    assert report_side.lower == 2 ** 2 * (1 + 2 + 1) == patterns
    assert patterns <= report_side.upper


def test_threshold_is_exact_between_grid_points():
    # Grid 1, 16: the integer scan below 16 must find the same threshold as a dense grid.
    coarse = C.deep_vs_shallow(4, 3, widths=(1, 16))
    dense = C.deep_vs_shallow(4, 3, widths=tuple(range(1, 17)))
    assert coarse.threshold == dense.proven_from == dense.threshold
    assert coarse.threshold is not None and 1 < coarse.threshold < 16
    below = C._deep_vs_shallow_at(4, 3, coarse.threshold - 1)
    assert below.verdict != C.PROVEN


# --- limits (issue 13): sizes by arithmetic, an overall time limit, a progress bar --------------------

@pytest.mark.parametrize("widths, needle", [("1000000", "over the limit of 4096"),
                                            ("100,200,300,4000", "over the limit of 1024")])
def test_cli_claims_refuses_huge_widths_by_arithmetic(cli, widths, needle):
    import time

    start = time.perf_counter()
    code, out, err = cli("claims", "--widths", widths)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "--widths" in err and needle in err
    assert time.perf_counter() - start < 2.0   # before any work (a width evaluation takes ~0.1-2 s)


def test_evaluations_bound_counts_the_threshold_scan():
    assert C.evaluations_bound((1, 2, 3)) == 3
    assert C.evaluations_bound((10,)) == 10          # 10, then 9..1 in the worst case
    assert C.evaluations_bound((1, 2, 50)) == 3 + 47  # the gap 3..49
    with pytest.raises(ValueError, match="widths"):
        C.check_widths((0,))


def test_cli_claims_time_limit_is_an_honest_partial_answer(cli):
    code, out, err = cli("claims", "--widths", "1,2,3", "--time-limit", "0.01", "--json", "--quiet")
    assert code == 3, err
    data = json.loads(out)
    assert list(data)[:2] == ["status", "seconds"] and data["status"] == "time_limit"
    assert data["finished"] < data["cases"] == len(C.DEFAULT_CASES)
    assert data["claims"] and data["claims"][-1]["complete"] is False
    assert data["claims"][-1]["summary"].startswith("partial (time limit)")
    code, out, _ = cli("claims", "--widths", "1,2,3", "--time-limit", "0.01", "--quiet")
    assert code == 3 and "PARTIAL: the time limit" in out


def test_run_claims_reports_progress_per_width():
    ticks = []
    run = C.run_claims(cases=C.DEFAULT_CASES[:2], widths=(1, 2), progress=lambda: ticks.append(1))
    assert run.complete and run.status == "complete" and len(ticks) == 2 * 2

"""The paper's two conclusions, evaluated per parameter on proven bounds (docs/bounds.md).

This module is the package's front: other packages and the CLI import only
the names below. Its private helpers: ``_families`` (the deep, shallow and
fully-connected networks compared), ``_limits`` (sizes, time and the memo of
exact counts) and ``_evaluate`` (verdicts).
"""

from ilpregions.services.claims._evaluate import (DEFAULT_CASES, DEFAULT_WIDTHS, MAX_EVALUATIONS, MAX_WIDTH, OPEN,
                                                  PROVEN, REFUTED, SUGGESTED, ClaimResult, ClaimsRun, Comparison,
                                                  Side, check_widths, cnn_vs_fc, deep_cnn, deep_vs_shallow,
                                                  evaluate_claims, evaluations_bound, fc_net, fc_width,
                                                  memo_counter, run_claims, shallow_cnn, side, verdict)

__all__ = ["evaluate_claims", "run_claims", "ClaimsRun", "ClaimResult", "Comparison", "Side", "side", "verdict",
           "deep_vs_shallow", "cnn_vs_fc", "deep_cnn", "shallow_cnn", "fc_net", "fc_width", "check_widths",
           "evaluations_bound", "memo_counter", "MAX_WIDTH", "MAX_EVALUATIONS", "DEFAULT_CASES",
           "DEFAULT_WIDTHS", "PROVEN", "REFUTED", "SUGGESTED", "OPEN"]

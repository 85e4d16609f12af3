"""The paper's two conclusions, evaluated per parameter on proven bounds (docs/bounds.md).

This module is the package's front: other packages and the CLI import only
the names below. Its private helpers: ``_verdict`` (sides, the exact
verdict and the gap of an open one), ``_families`` (the deep, shallow and
fully-connected families compared over a grid of widths), ``_limits``
(sizes, time and the memo of exact counts), ``_evaluate`` (the families'
verdicts), ``_counterparts`` (what a real model is compared with) and
``_models`` (the claims on real models).
"""

from ilpregions.services.claims._counterparts import deep_counterpart, fc_counterpart, relu_depth, shallow_counterpart
from ilpregions.services.claims._evaluate import (DEFAULT_CASES, DEFAULT_WIDTHS, MAX_EVALUATIONS, MAX_WIDTH,
                                                  ClaimResult, ClaimsRun, Comparison, check_widths, cnn_vs_fc,
                                                  deep_cnn, deep_vs_shallow, evaluate_claims, evaluations_bound,
                                                  fc_net, fc_width, memo_counter, run_claims, shallow_cnn, side)
from ilpregions.services.claims._models import (CNN_VS_FC, DEEP_VS_SHALLOW, DEFAULT_SECONDS_PER_MODEL, ModelClaim,
                                                ModelsRun, claims_on_model, model_side, run_model_claims)
from ilpregions.services.claims._verdict import (OPEN, PROVEN, REFUTED, VERDICTS, Direction, Gap, Side, gap, log10_or_none,
                                                 per_param, verdict)

__all__ = ["evaluate_claims", "run_claims", "ClaimsRun", "ClaimResult", "Comparison", "Side", "side", "verdict",
           "gap", "Gap", "Direction", "per_param", "log10_or_none", "deep_vs_shallow", "cnn_vs_fc", "deep_cnn", "shallow_cnn", "fc_net",
           "fc_width", "check_widths", "evaluations_bound", "memo_counter", "MAX_WIDTH", "MAX_EVALUATIONS",
           "DEFAULT_CASES", "DEFAULT_WIDTHS", "PROVEN", "REFUTED", "OPEN", "VERDICTS",
           "shallow_counterpart", "deep_counterpart", "fc_counterpart", "relu_depth",
           "run_model_claims", "claims_on_model", "model_side", "ModelClaim", "ModelsRun",
           "DEFAULT_SECONDS_PER_MODEL", "DEEP_VS_SHALLOW", "CNN_VS_FC"]

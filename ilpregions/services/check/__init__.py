"""Is t in K_N, with a certificate either way; and the exact K_N model written for other solvers.

This module is the package's front: other packages and the CLI import only
the names below. Its private helpers: ``_feasibility`` (:func:`check`) and
``_export`` (:func:`export_model`).

Examples
--------
>>> from ilpregions.core.spec import Network, ConvLayer
>>> net = Network((3, 3, 1), (ConvLayer(filters=2, kernel=2),))
>>> check(net, [4, 4, 0, 1]).violated
Violation(positions=(0, 1), sum=8, union=6)
"""

from ilpregions.services.check._export import FORMATS, ExportSummary, binding_rows, export_model
from ilpregions.services.check._feasibility import (FeasibilityResult, Violation, check, parse_t, validate_t,
                                                    verify)

__all__ = ["check", "parse_t", "validate_t", "verify", "FeasibilityResult", "Violation", "export_model",
           "ExportSummary", "FORMATS", "binding_rows"]

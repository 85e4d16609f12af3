"""Theorem-1 counts of one layer: the exact count, its polynomial in d1, and every backend side by side.

This module is the package's front: other packages and the CLI import only
the names below. Its private helpers: ``_theorem1`` (:func:`count_regions`,
one function with a ``backend=`` switch), ``_polynomial``
(:func:`region_polynomial`, R_N(d1) as an exact polynomial) and ``_compare``
(:func:`compare`, every counting path on one model) and ``_model``
(:func:`count_model`, the ``count`` command's call: options, Dask, polynomial).

Examples
--------
>>> from ilpregions.core.spec import Network, ConvLayer
>>> net = Network((3, 3, 1), (ConvLayer(filters=2, kernel=2, shared=False),))
>>> count_regions(net, backend="bruteforce").regions
256
"""

from ilpregions.services.count._compare import (EXTRA_PATHS, ComparisonReport, ComparisonRow, all_refused, compare,
                                                counting_paths)
from ilpregions.services.count._model import BOUNDS_ONLY, ModelCount, count_model, theorem1_bounds
from ilpregions.services.count._polynomial import (PolynomialTimeLimit, RegionPolynomial, fraction_string,
                                                   region_polynomial)
from ilpregions.services.count._theorem1 import choose_backend, count_regions, strict_gap_expected, weight_sharing_note

__all__ = ["count_model", "ModelCount", "theorem1_bounds", "BOUNDS_ONLY", "count_regions", "choose_backend", "weight_sharing_note", "strict_gap_expected", "region_polynomial",
           "RegionPolynomial", "PolynomialTimeLimit", "fraction_string", "compare", "ComparisonReport",
           "ComparisonRow", "all_refused", "counting_paths", "EXTRA_PATHS"]

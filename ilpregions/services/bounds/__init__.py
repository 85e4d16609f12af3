"""Bounds on the number of linear regions of any stack of conv/local/dense/pooling layers.

This module is the package's front (``ilpregions.bounds`` is its
:func:`compute_bounds`): other packages and the CLI import only the names
below. Its private helpers: ``_sizes`` (parameters, neurons), ``_common``
(names, the bound record), ``_exact`` (one-layer Theorem-1 counts under
guards), ``_one_layer`` (proven bounds with shared filters), ``_blocks``
(tied blocks), ``_named`` (published theorems), ``_stack`` (our upper bound
for any stack), ``_lp`` (LP relaxations and the one-layer box and tilt
bounds), ``_budget`` (time estimates) and ``_assemble`` (the report). The
arguments are in docs/bounds.md.
"""

from ilpregions.services.bounds._assemble import DEFAULT_STEP_SECONDS, BoundsReport, best_bounds, compute_bounds
from ilpregions.services.bounds._common import *  # noqa: F401,F403
from ilpregions.services.bounds._common import __all__ as _names
from ilpregions.services.bounds._lp import OneLayerBounds, one_layer_bounds
from ilpregions.services.bounds._exact import (Exact, box_upper, bruteforce_counter, engine_counter,
                                               first_layer_instance, largest_block, size_guard)
from ilpregions.services.bounds._named import fc_bounds_for, single_tap, theorem2_lower, theorem2_upper
from ilpregions.services.bounds._one_layer import real_lower, strip_partition_upper
from ilpregions.services.bounds._sizes import input_dim, layer_neurons, layer_params, layer_positions, neurons, params
from ilpregions.services.bounds._stack import cnn_upper, composite_instances, tail_upper

__all__ = ["compute_bounds", "DEFAULT_STEP_SECONDS", "BoundsReport", "best_bounds", "Exact", "box_upper", "bruteforce_counter",
           "engine_counter", "first_layer_instance", "largest_block", "size_guard", "fc_bounds_for", "single_tap",
           "theorem2_lower", "theorem2_upper", "real_lower", "strip_partition_upper", "input_dim", "layer_neurons",
           "layer_params", "layer_positions", "neurons", "params", "cnn_upper", "composite_instances",
           "tail_upper", "one_layer_bounds", "OneLayerBounds", *_names]

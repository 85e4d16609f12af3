"""Bounds on the number of linear regions of any stack of conv/local/dense/pooling layers.

Modules: :mod:`.sizes` (parameters, neurons), :mod:`.common` (names, the
bound record), :mod:`.exact` (one-layer Theorem-1 counts under guards),
:mod:`.one_layer` (proven bounds with shared filters), :mod:`.named`
(published theorems), :mod:`.stack` (our upper bound for any stack),
:mod:`.assemble` (the report). The arguments are in docs/bounds.md.
"""

from ilpregions.services.bounds.assemble import BoundsReport, best_bounds, compute_bounds
from ilpregions.services.bounds.common import *  # noqa: F401,F403
from ilpregions.services.bounds.exact import (Exact, box_upper, bruteforce_counter, engine_counter,  # noqa: F401
                                              first_layer_instance, largest_block, size_guard)
from ilpregions.services.bounds.named import fc_bounds_for, single_tap, theorem2_lower, theorem2_upper  # noqa: F401
from ilpregions.services.bounds.one_layer import real_lower, strip_partition_upper  # noqa: F401
from ilpregions.services.bounds.sizes import (input_dim, layer_neurons, layer_params, layer_positions,  # noqa: F401
                                              neurons, params)
from ilpregions.services.bounds.stack import cnn_upper, composite_instances, tail_upper  # noqa: F401

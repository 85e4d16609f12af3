"""Compatibility names: the bounds now live in :mod:`ilpregions.services.bounds` (docs/bounds.md)."""

from ilpregions.services.bounds import *  # noqa: F401,F403
from ilpregions.services.bounds import (BoundsReport, Exact, best_bounds, box_upper, bruteforce_counter,  # noqa: F401
                                        cnn_upper, composite_instances, compute_bounds, engine_counter,
                                        fc_bounds_for, first_layer_instance, input_dim, largest_block,
                                        layer_neurons, layer_params, layer_positions, neurons, params,
                                        single_tap, size_guard, tail_upper, theorem2_lower, theorem2_upper)
from ilpregions.services.bounds.common import (CNN_UPPER, MONTUFAR2014, MONTUFAR2017, PASCANU, SERRA2018,  # noqa: F401
                                               THEOREM1, THEOREM2_LOWER, THEOREM2_UPPER, bound_json,
                                               decimal_text, short_text)

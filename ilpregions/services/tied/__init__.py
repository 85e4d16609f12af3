"""The real maximum of a one-layer CNN with shared filters (docs/tied.md).

This module is the package's front: other packages and the CLI import only
the names below. Its private helpers: ``_tied_max`` (:func:`tied_max`, the
draws, the blocks, the result) and ``_plans`` (the scan plans of the
subspace DP, made on first use). The DP itself is the ``subspace`` backend.

Examples
--------
>>> from ilpregions.core.spec import Network, ConvLayer
>>> tied_max(Network((3, 3, 1), (ConvLayer(filters=2, kernel=2),))).regions
255
"""

from ilpregions.services.tied._tied_max import METHODS, TiedResult, failure_probability, shifted_filter_vectors, tied_max

__all__ = ["tied_max", "TiedResult", "METHODS", "failure_probability", "shifted_filter_vectors"]

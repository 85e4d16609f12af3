"""The exact slicer's engine: pieces of a concrete network on a segment or a plane.

Registered in :data:`ilpregions.backends.BACKENDS` as ``"slicer"`` for the
task ``"slice"``: services reach it through
``backends.load("slicer", backends.SLICE)``, which returns this package, an
object satisfying :class:`~ilpregions.backends.protocols.SliceBackend`.
The names below are that interface. The submodules: :mod:`.propagate` (the
pieces through the ops, deepest batch first), :mod:`.engine` (a batch's
maps and its ReLU and max-pool splits), :mod:`.batch` and :mod:`.kernels`
(compiled cutting loops), :mod:`.certify`, :mod:`.cert_kernels` and
:mod:`.exact` (each piece's pattern certified by a rigorous float64 error
bound, or in exact dyadic arithmetic). The line engine for segments:
:mod:`.linenet` (a network prepared once: arrays for the compiled kernels,
batched passes with error bounds), :mod:`.sweep` and :mod:`.sweep_kernels`
(the walk in t, carrying only changes of slope), :mod:`.line` (pieces, ids,
certificate); :mod:`.warm` (are the kernels compiled, and compiling them
under a deadline).
"""

from ilpregions.backends.slicing.certify import Certificate, certify
from ilpregions.backends.slicing.engine import BATCH, REL_TOL, centroids, pattern_ids
from ilpregions.backends.slicing.kernels import area
from ilpregions.backends.slicing.line import BY_EXACT, MIN_LENGTH, LineResult, slice_line
from ilpregions.backends.slicing.linenet import LineNet, prepare as prepare_line, prepared_bytes
from ilpregions.backends.slicing.propagate import Propagation, decision_boundary, propagate
from ilpregions.backends.slicing.warm import ensure_compiled, is_cached

__all__ = ["BATCH", "REL_TOL", "Certificate", "Propagation", "area", "centroids", "certify", "decision_boundary",
           "pattern_ids", "propagate", "LineNet", "LineResult", "prepare_line", "prepared_bytes", "slice_line",
           "MIN_LENGTH", "BY_EXACT", "ensure_compiled", "is_cached"]

"""The subspace frontier DP for the shared-filter maximum (docs/tied.md).

Registered in :data:`ilpregions.backends.BACKENDS` as ``"subspace"`` for the
task ``"tied"``: services reach it through
``backends.load("subspace", backends.TIED)``, which returns this package,
an object satisfying :class:`~ilpregions.backends.protocols.TiedBackend`.
The names below are that interface; the submodules are the engine's own:
:mod:`.plan` (supports and scan plans), :mod:`.engine` (the DP over states),
:mod:`.kernel`, :mod:`.keys`, :mod:`.linalg`, :mod:`.future` and
:mod:`.tail` (its compiled parts).
"""

from ilpregions.backends.dp.frontier import window_frontier
from ilpregions.backends.subspace.engine import (MAX_FRAME, BlockCount, MemoryCapExceeded, Stopped,
                                                 closed_form_possible, count_block, count_small, searched_whole)
from ilpregions.backends.subspace.keys import PRIME
from ilpregions.backends.subspace.plan import (ScanPlan, Supports, best_order, best_plan, frame_sizes, make_plan,
                                               supports)

__all__ = ["MAX_FRAME", "PRIME", "BlockCount", "MemoryCapExceeded", "Stopped", "ScanPlan", "Supports",
           "best_order", "best_plan", "closed_form_possible", "count_block", "count_small", "frame_sizes",
           "make_plan", "searched_whole", "supports", "window_frontier"]

"""Exact pieces of a network on a line segment or a plane through data points.

:func:`slice_network` is the entry point (``ilpregions slice`` on the command
line); docs/slice.md explains what is counted and how.
"""

from ilpregions.services.slicing.api import Plane, SliceResult, make_plane, slice_network
from ilpregions.services.slicing.graph import SliceNet, evaluate, from_spec

__all__ = ["slice_network", "SliceResult", "Plane", "make_plane", "SliceNet", "evaluate", "from_spec"]

"""Exact pieces of a network on a line segment or a plane through data points.

:func:`slice_network` is the entry point (``slice`` on the command line);
docs/slice.md explains what is counted and how. This module is the
package's front: other packages and the CLI import only the names below.
Its private helpers: ``_slice`` (the entry point and its result),
``_lines`` (many segments at once: :func:`slice_lines`, :func:`line_density`),
``_line_sets`` (the lines of :func:`random_lines`), ``_lines_run`` (their
serial, pool and Dask executors), ``_line`` (segments through the line engine;
a network prepared once for many slices), ``_polygon`` (planes, and segments
with max-pooling, through the polygon engine) and ``_plot`` (pictures, an
optional extra). The
engine (cuts, propagation, certificates) is the ``slicer`` backend; the
network it slices is a :class:`~ilpregions.core.slicenet.SliceNet`.
"""

from ilpregions.core.slicenet import SliceNet, evaluate, from_spec
from ilpregions.services.slicing._line_sets import MAX_LINES, RandomLines, load_points, random_lines, rms_distance
from ilpregions.services.slicing._lines import LineDensity, LineResult, Spread, line_density, slice_lines
from ilpregions.services.slicing._line import DEFAULT_MEMORY_CAP, PreparedNetwork, prepare_network
from ilpregions.services.slicing._plot import check_output_path, plot_slice
from ilpregions.services.slicing._slice import (ARITHMETIC, Plane, SliceResult, as_slicenet, make_plane, slice_network,
                                                total_area)

__all__ = ["slice_network", "SliceResult", "Plane", "make_plane", "as_slicenet", "total_area", "ARITHMETIC",
           "SliceNet", "evaluate", "from_spec", "plot_slice", "check_output_path",
           "slice_lines", "line_density", "random_lines", "rms_distance", "load_points", "LineResult", "LineDensity",
           "RandomLines", "Spread", "MAX_LINES",
           "prepare_network", "PreparedNetwork", "DEFAULT_MEMORY_CAP"]

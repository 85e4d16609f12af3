"""Count, bounds or claims over a grid of architectures, on a process pool or a Dask cluster, resumable.

This module is the package's front: other packages and the CLI import only
the names below. Its private helpers: ``_grid`` (the grid file and its
points), ``_tasks`` (one point's task), ``_exec`` (serial, pool and Dask
execution), ``_output`` (CSV/Parquet rows and the resume fingerprint) and
``_run`` (:func:`run_sweep`).
"""

from ilpregions.services.sweep._run import (ERROR, INTERRUPTED, INVALID, MAX_GRID_POINTS, TASK_COLUMNS, TASKS, Grid,
                                            SweepSummary, format_cell, grid_from_dict, load_grid, read_rows,
                                            run_point, run_points, run_sweep)

__all__ = ["run_sweep", "load_grid", "grid_from_dict", "Grid", "SweepSummary", "read_rows", "run_point",
           "run_points", "format_cell", "TASKS", "TASK_COLUMNS", "MAX_GRID_POINTS", "INVALID", "ERROR",
           "INTERRUPTED"]

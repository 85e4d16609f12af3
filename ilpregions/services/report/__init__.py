"""``results/report/``: tables and plots of counts, bounds and claims, rebuilt from the library.

This module is the package's front: other packages and the CLI import only
the names below. Its private helpers: ``_build`` (:func:`build_report`, the
tables) and ``_plots`` (matplotlib figures, an optional extra).
"""

from ilpregions.services.report._build import DEFAULT_SWEEPS, build_report, load_sweeps

__all__ = ["build_report", "load_sweeps", "DEFAULT_SWEEPS"]

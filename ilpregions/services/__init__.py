"""Layer 4: the tasks the CLI exposes (count, check, bounds, regions, tied, sweep, report, ...).

Services call backends through :mod:`ilpregions.backends`, never the CLI."""

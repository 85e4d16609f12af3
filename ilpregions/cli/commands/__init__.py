"""CLI subcommands, one module each (see :mod:`ilpregions.cli.main`)."""

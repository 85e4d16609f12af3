"""Loading the engines the claims' bounds run before the clock starts counting steps."""

from __future__ import annotations


def warm_engines() -> None:
    """Load the engines the bounds run (the Theorem-1 DP and the subspace DP) now: their first
    import takes about a second, and a step started just before the deadline would otherwise pay it
    past the deadline."""
    from ilpregions import backends

    for name, task in (("dp", backends.COUNT), ("subspace", backends.TIED)):
        if backends.BACKENDS[name].is_available():
            backends.load(name, task)


__all__ = ["warm_engines"]

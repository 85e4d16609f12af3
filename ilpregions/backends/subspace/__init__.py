"""The subspace frontier DP for the shared-filter maximum (docs/tied.md)."""

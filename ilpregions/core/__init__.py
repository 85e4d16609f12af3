"""Layer 1: specs, geometry, result records, errors and exact integer helpers.

No solver and no file I/O beyond reading a spec."""

"""The frontier dynamic programme for Theorem 1: scan plans, the engine, exact linear jumps."""

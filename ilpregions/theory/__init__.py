"""Layer 2: closed-form bounds and exact arithmetic: pure maths, no solver and no I/O."""

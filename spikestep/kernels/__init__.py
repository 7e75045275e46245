"""Fast implementations of the functional core's multi-step walks (chosen in one place)."""

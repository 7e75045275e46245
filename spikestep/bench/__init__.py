"""The benchmark: fused multi-step paths against the per-step loop and a memory-copy floor."""

"""Surrogate spike functions: Heaviside forward, smooth backward."""

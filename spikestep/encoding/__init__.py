"""Encoders that turn static data into spike trains."""

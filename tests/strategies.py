"""Hypothesis strategies shared by the tests (importable because pytest puts tests/ on sys.path)."""

import torch
from hypothesis import strategies as st


@st.composite
def chunk_sizes(draw, length: int) -> list[int]:
    """Split ``length`` time steps into consecutive chunks (empty chunks included)."""
    cuts = sorted(draw(st.lists(st.integers(0, length), max_size=5)))
    return [b - a for a, b in zip([0, *cuts], [*cuts, length])]


@st.composite
def sequences_and_splits(draw, max_t: int = 24, max_dim: int = 4, dtype=torch.float32, spikes=None):
    """A random ``[T, ...]`` sequence (real values in [0, 1) or 0/1 spikes) and a chunking of its T."""
    t = draw(st.integers(1, max_t))
    shape = draw(st.lists(st.integers(1, max_dim), min_size=1, max_size=3))
    g = torch.Generator().manual_seed(draw(st.integers(0, 2**16)))
    x = torch.rand(t, *shape, generator=g, dtype=dtype)
    if spikes if spikes is not None else draw(st.booleans()):
        x = (x < 0.4).to(dtype)
    return x, draw(chunk_sizes(t))

"""The cache of read-only kernel constants: one value per exact key, -0.0 apart from 0.0, bounded."""

import pytest
import torch

from spikestep._runtime.exact_cache import ExactCache
from spikestep.ops.neuron import numba_kernel


def test_one_key_makes_its_value_once():
    cache = ExactCache(limit=4)
    made = []
    for _ in range(3):
        cache.get((1.5, torch.float32), lambda: made.append(1) or len(made))
    assert made == [1]


def test_negative_zero_and_zero_are_different_keys_also_inside_nested_tuples():
    cache = ExactCache(limit=4)
    plus = cache.get(((1.0, 0.0), "f"), lambda: "plus")
    minus = cache.get(((1.0, -0.0), "f"), lambda: "minus")
    assert (plus, minus) == ("plus", "minus") and len(cache) == 2


def test_a_full_cache_starts_again():
    cache = ExactCache(limit=2)
    for value in (1.0, 2.0, 3.0):
        cache.get((value,), lambda v=value: v)
    assert len(cache) == 1


def test_a_limit_below_one_is_refused():
    with pytest.raises(ValueError, match="limit must be at least 1"):
        ExactCache(limit=0)


def test_numba_constants_keep_the_sign_of_a_zero_reset():
    plus = numba_kernel.constants(torch.float32, (1.0, 0.0, 1.0, 0.0, 2.0, 0.0))
    minus = numba_kernel.constants(torch.float32, (1.0, -0.0, 1.0, 0.0, 2.0, 0.0))
    assert str(plus[1]) == "0.0" and str(minus[1]) == "-0.0"

"""Small read-only arrays made once per exact key: kernel constants and values spread over columns.

The kernels read the same few constants (a threshold, a reset value, a surrogate's width) at every
call, and making them anew (a numpy array, a host-to-device copy, a spread over ``N`` columns) can cost
more than a short walk's Python part. A key's floats are compared by their bits, not with ``==``:
``-0.0 == 0.0`` in Python, but a membrane reset to ``-0.0`` is not one reset to ``0.0``. The cache
forgets everything once it holds ``limit`` entries (callers use a handful). Whatever it hands out is
shared between calls, so only values that nobody writes belong here.

Example::

    >>> from spikestep._runtime.exact_cache import ExactCache
    >>> cache = ExactCache(limit=8)
    >>> cache.get((0.0, "float32"), lambda: [0.0]) is cache.get((0.0, "float32"), lambda: [0.0])
    True
    >>> cache.get((-0.0, "float32"), lambda: [-0.0])
    [-0.0]
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any, TypeVar

T = TypeVar("T")


def _exact(part: Any) -> Hashable:
    if isinstance(part, float):
        return ("float", part.hex())
    if isinstance(part, tuple):
        return tuple(_exact(p) for p in part)
    return part  # type: ignore[no-any-return]


class ExactCache:
    """``get(key, make)``: the value made by ``make()`` for ``key`` (a tuple; floats, also inside nested
    tuples, compared by their bits), made on the first request."""

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError(f"ExactCache: limit must be at least 1, got {limit}")
        self._limit = limit
        self._values: dict[Hashable, Any] = {}

    def get(self, key: tuple[Any, ...], make: Callable[[], T]) -> T:
        exact = _exact(key)
        value = self._values.get(exact)
        if value is None:
            if len(self._values) >= self._limit:
                self._values.clear()
            value = self._values[exact] = make()
        return value  # type: ignore[no-any-return]

    def __len__(self) -> int:
        return len(self._values)

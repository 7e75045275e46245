"""PrintShapeModule: a pass-through that prints what flows by."""

from __future__ import annotations

from typing import Any

import torch.nn as nn


class PrintShapeModule(nn.Module):
    """Print ``ext_str`` and the input's shape, and return the input unchanged (any step mode).

    Drop it between two layers to see the shapes a network passes along.

    Example::

        >>> import torch
        >>> from spikestep import layer
        >>> _ = layer.PrintShapeModule("after conv")(torch.zeros(4, 2, 3))
        after conv torch.Size([4, 2, 3])
    """

    def __init__(self, ext_str: str = "PrintShapeModule") -> None:
        super().__init__()
        self.ext_str = ext_str

    def extra_repr(self) -> str:
        return f"ext_str={self.ext_str!r}"

    def forward(self, x: Any) -> Any:
        print(self.ext_str, getattr(x, "shape", type(x).__name__))
        return x

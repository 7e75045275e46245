"""Scale: multiply by a fixed factor per element, NIR's ``Scale`` node."""

from __future__ import annotations

import torch
import torch.nn as nn

from .._checks import check_broadcasts_to_step, check_tensor
from ..base import StepModule


class Scale(nn.Module, StepModule):
    """``y = x * s``: a fixed factor ``s`` per channel or per element (NIR's ``Scale``, a Hadamard product).

    Args:
        scale: a float, or a floating tensor that broadcasts against the trailing dimensions of one step
            ``[B, ...]`` (``[C]`` against ``[..., C]``; ``[C, H, W]`` against ``[B, C, H, W]``). It is a buffer:
            ``state_dict`` holds it, ``.to()`` moves it, an optimiser never sees it.
        step_mode: ``'s'`` (``[B, ...]``) or ``'m'`` (``[T, B, ...]``); the product is the same in both.

    Example::

        >>> import torch
        >>> from spikestep.nir import Scale
        >>> Scale(torch.tensor([1.0, 0.5]), step_mode="m")(torch.ones(3, 1, 2))[-1]
        tensor([[1.0000, 0.5000]])
    """

    def __init__(self, scale: float | torch.Tensor, step_mode: str = "s") -> None:
        super().__init__()
        if isinstance(scale, bool) or not isinstance(scale, (float, int, torch.Tensor)):
            raise TypeError(f"Scale: scale must be a float or a floating tensor, got {type(scale).__name__}")
        scale = (
            torch.as_tensor(scale, dtype=torch.get_default_dtype()) if not torch.is_tensor(scale) else scale
        )
        if not scale.is_floating_point():
            raise TypeError(f"Scale: scale must be floating (e.g. scale.float()), got a {scale.dtype} tensor")
        self.register_buffer("scale", scale.detach().clone())
        self.step_mode = step_mode

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_tensor(x, "Scale", "[B, ...]" if self.step_mode == "s" else "[T, B, ...]")
        step = x.shape if self.step_mode == "s" else x.shape[1:]
        check_broadcasts_to_step(self.scale.shape, step, "scale", "Scale")
        if not x.is_floating_point():
            x = x.to(self.scale.dtype)
        return x * self.scale.to(x.dtype)  # a floating input keeps its dtype, as in every spikestep module

    def extra_repr(self) -> str:
        shape = list(self.scale.shape)
        return f"scale={'tensor of shape ' + str(shape) if shape else float(self.scale)}, step_mode={self.step_mode}"

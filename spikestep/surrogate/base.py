"""The spike function every surrogate shares: Heaviside forward, pluggable smooth backward."""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from typing import Any, ClassVar

import torch
import torch.nn as nn

Derivative = Callable[[torch.Tensor, float], torch.Tensor]


def heaviside(x: torch.Tensor) -> torch.Tensor:
    """The step function ``1 if x >= 0 else 0``, in ``x``'s dtype (no useful gradient).

    Example::

        >>> import torch
        >>> from spikestep.surrogate import heaviside
        >>> heaviside(torch.tensor([-1.0, 0.0, 2.0]))
        tensor([0., 1., 1.])
    """
    return (x >= 0).to(x.dtype)


class _SurrogateSpike(torch.autograd.Function):
    """``heaviside(x)`` forward; ``grad * derivative(x, alpha)`` backward."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, derivative: Derivative, alpha: float) -> torch.Tensor:
        if x.requires_grad:
            ctx.save_for_backward(x)
        ctx.derivative = derivative
        ctx.alpha = alpha
        return heaviside(x)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor | None, None, None]:
        if not ctx.needs_input_grad[0]:
            return None, None, None
        (x,) = ctx.saved_tensors
        return grad * ctx.derivative(x, ctx.alpha), None, None


def spike(x: torch.Tensor, derivative: Derivative, alpha: float) -> torch.Tensor:
    """Fire ``heaviside(x)`` and pass gradients back through ``derivative(x, alpha)``."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"a surrogate spike function expects a torch.Tensor, got {type(x).__name__}")
    return _SurrogateSpike.apply(x, derivative, alpha)


def check_alpha(alpha: object, owner: str) -> float:
    """Return ``alpha`` as a float if it is a finite real number > 0, else raise."""
    if isinstance(alpha, bool) or not isinstance(alpha, numbers.Real):
        raise TypeError(f"{owner}: alpha must be a real number > 0, got {type(alpha).__name__} {alpha!r}")
    alpha = float(alpha)
    if not math.isfinite(alpha) or alpha <= 0.0:
        raise ValueError(
            f"{owner}: alpha must be a finite number > 0 (it sets how sharp the surrogate gradient is), "
            f"got {alpha}"
        )
    return alpha


class SurrogateFunction(nn.Module):
    """Base class of the built-in surrogates.

    Calling one fires ``heaviside(x)`` (``x >= 0`` gives 1) and sends gradients back through the
    subclass's smooth :meth:`derivative`. With ``spiking=False`` it returns the smooth :meth:`primitive`
    instead (whose true derivative is the surrogate gradient), e.g. to pre-train without spikes.

    Subclasses set ``kernel_id`` (how fused kernels recognise them; ``None`` = unknown to kernels),
    ``default_alpha`` and the two static methods ``derivative(x, alpha)`` and ``primitive(x, alpha)``.
    Shapes: any; the output has ``x``'s shape and dtype.
    """

    kernel_id: ClassVar[int | None] = None
    default_alpha: ClassVar[float] = 1.0

    def __init__(self, alpha: float | None = None, spiking: bool = True) -> None:
        super().__init__()
        self.alpha = check_alpha(self.default_alpha if alpha is None else alpha, type(self).__name__)
        if not isinstance(spiking, bool):
            raise TypeError(f"spiking must be True or False, got {type(spiking).__name__} {spiking!r}")
        self.spiking = spiking

    @staticmethod
    def derivative(x: torch.Tensor, alpha: float) -> torch.Tensor:
        raise NotImplementedError

    @staticmethod
    def primitive(x: torch.Tensor, alpha: float) -> torch.Tensor:
        raise NotImplementedError

    def surrogate_grad(self, x: torch.Tensor) -> torch.Tensor:
        """The surrogate gradient ``d spike / d x`` at ``x`` (closed form, no autograd)."""
        return self.derivative(x, self.alpha)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.spiking:
            return spike(x, type(self).derivative, self.alpha)
        return self.primitive(x, self.alpha)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}, spiking={self.spiking}"

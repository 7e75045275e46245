"""ATan surrogate: the gradient of a scaled arctangent."""

from __future__ import annotations

import math

import torch

from .base import SurrogateFunction, check_alpha, spike


def _atan_constants(alpha: float) -> tuple[float, float]:
    return alpha / 2.0, math.pi / 2.0 * alpha


def _atan_gradient(x, one, c1, c2):  # type: ignore[no-untyped-def]
    # The elementwise dialect (spikestep._runtime.elementwise): every backend runs this definition.
    y = x * c2
    return div(c1, one + y * y)  # noqa: F821 - bound by each backend


def atan_derivative(x: torch.Tensor, alpha: float) -> torch.Tensor:
    """``alpha / (2 * (1 + (pi / 2 * alpha * x) ** 2))``; its peak ``alpha / 2`` sits at ``x = 0``."""
    return ATan.derivative(x, alpha)


def _atan_primitive(x: torch.Tensor, alpha: float) -> torch.Tensor:
    return torch.atan(x * (math.pi / 2.0 * alpha)) / math.pi + 0.5


class ATan(SurrogateFunction):
    """Heaviside forward, arctangent backward.

    .. math::
        S = \\Theta(x), \\qquad \\frac{\\partial S}{\\partial x} \\approx
        \\frac{\\alpha}{2 \\left(1 + (\\frac{\\pi}{2} \\alpha x)^2\\right)}

    the derivative of ``atan(pi/2 * alpha * x) / pi + 1/2`` (the primitive, used when ``spiking=False``).

    Example::

        >>> import torch
        >>> from spikestep import surrogate
        >>> x = torch.tensor([-1.0, 0.0, 0.5], requires_grad=True)
        >>> s = surrogate.ATan(alpha=2.0)(x)
        >>> s
        tensor([0., 1., 1.], grad_fn=<_SurrogateSpikeBackward>)
        >>> s.sum().backward(); x.grad
        tensor([0.0920, 1.0000, 0.2884])
    """

    default_alpha = 2.0

    def __init__(self, alpha: float = 2.0, spiking: bool = True) -> None:
        super().__init__(alpha, spiking)

    constants = staticmethod(_atan_constants)
    gradient = staticmethod(_atan_gradient)
    primitive = staticmethod(_atan_primitive)


def atan(x: torch.Tensor, alpha: float = 2.0) -> torch.Tensor:
    """Function form of :class:`ATan`: ``heaviside(x)`` forward, ATan surrogate gradient backward.

    Example::

        >>> import torch
        >>> from spikestep import surrogate
        >>> surrogate.atan(torch.tensor([-0.1, 0.0, 0.1]))
        tensor([0., 1., 1.])
    """
    return spike(x, atan_derivative, check_alpha(alpha, "atan"))

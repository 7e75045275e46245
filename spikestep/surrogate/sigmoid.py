"""Sigmoid surrogate: the gradient of a scaled logistic function."""

from __future__ import annotations

import torch

from .base import SurrogateFunction, check_alpha, spike


def _sigmoid_constants(alpha: float) -> tuple[float, float]:
    return alpha, 0.0


def _sigmoid_gradient(x, one, c1, c2):  # type: ignore[no-untyped-def]
    # The elementwise dialect (spikestep._runtime.elementwise): every backend runs this definition.
    s = div(one, one + exp(-(x * c1)))  # noqa: F821 - bound by each backend
    return (one - s) * s * c1


def sigmoid_derivative(x: torch.Tensor, alpha: float) -> torch.Tensor:
    """``alpha * s * (1 - s)`` with ``s = sigmoid(alpha * x)``; its peak ``alpha / 4`` sits at ``x = 0``."""
    return Sigmoid.derivative(x, alpha)


def _sigmoid_primitive(x: torch.Tensor, alpha: float) -> torch.Tensor:
    return torch.sigmoid(x * alpha)


class Sigmoid(SurrogateFunction):
    """Heaviside forward, logistic backward.

    .. math::
        S = \\Theta(x), \\qquad \\frac{\\partial S}{\\partial x} \\approx \\alpha\\, s (1 - s),
        \\quad s = \\mathrm{sigmoid}(\\alpha x)

    the derivative of ``sigmoid(alpha * x)`` (the primitive, used when ``spiking=False``).

    Example::

        >>> import torch
        >>> from spikestep import surrogate
        >>> x = torch.tensor([-1.0, 0.0, 0.5], requires_grad=True)
        >>> surrogate.Sigmoid(alpha=4.0)(x).sum().backward(); x.grad
        tensor([0.0707, 1.0000, 0.4200])
    """

    default_alpha = 4.0

    def __init__(self, alpha: float = 4.0, spiking: bool = True) -> None:
        super().__init__(alpha, spiking)

    constants = staticmethod(_sigmoid_constants)
    gradient = staticmethod(_sigmoid_gradient)
    primitive = staticmethod(_sigmoid_primitive)


def sigmoid(x: torch.Tensor, alpha: float = 4.0) -> torch.Tensor:
    """Function form of :class:`Sigmoid`: ``heaviside(x)`` forward, sigmoid surrogate gradient backward.

    Example::

        >>> import torch
        >>> from spikestep import surrogate
        >>> surrogate.sigmoid(torch.tensor([-0.1, 0.0, 0.1]))
        tensor([0., 1., 1.])
    """
    return spike(x, sigmoid_derivative, check_alpha(alpha, "sigmoid"))

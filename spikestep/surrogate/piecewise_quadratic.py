"""PiecewiseQuadratic surrogate: a triangle-shaped gradient of finite width."""

from __future__ import annotations

import torch

from .base import SurrogateFunction, check_alpha, spike


def _piecewise_quadratic_constants(alpha: float) -> tuple[float, float]:
    return alpha, alpha * alpha


def _piecewise_quadratic_gradient(x, one, c1, c2):  # type: ignore[no-untyped-def]
    # The elementwise dialect (spikestep._runtime.elementwise): every backend runs this definition.
    g = c1 - absolute(x) * c2  # noqa: F821 - bound by each backend
    zero = one - one
    return where(g > zero, g, zero)  # noqa: F821


def piecewise_quadratic_derivative(x: torch.Tensor, alpha: float) -> torch.Tensor:
    """The triangle ``max(0, alpha - alpha**2 * |x|)``: peak ``alpha`` at 0, zero for ``|x| >= 1/alpha``."""
    return PiecewiseQuadratic.derivative(x, alpha)


def _piecewise_quadratic_primitive(x: torch.Tensor, alpha: float) -> torch.Tensor:
    # 0 below -1/alpha, 1 above 1/alpha, two parabola halves in between (continuous, derivative above).
    y = x * alpha
    inner = torch.where(y < 0, 0.5 * (1.0 + y).square(), 1.0 - 0.5 * (1.0 - y).square())
    return torch.where(y <= -1.0, torch.zeros_like(x), torch.where(y >= 1.0, torch.ones_like(x), inner))


class PiecewiseQuadratic(SurrogateFunction):
    """Heaviside forward, triangle backward (SpikingJelly's ``PiecewiseQuadratic``).

    .. math::
        S = \\Theta(x), \\qquad \\frac{\\partial S}{\\partial x} \\approx
        \\max\\left(0,\\ \\alpha - \\alpha^2 |x|\\right)

    The gradient is exactly zero for ``|x| >= 1/alpha``: only neurons near the threshold learn. The
    primitive (``spiking=False``) is piecewise quadratic, hence the name.

    Example::

        >>> import torch
        >>> from spikestep import surrogate
        >>> x = torch.tensor([-1.0, 0.0, 0.5], requires_grad=True)
        >>> surrogate.PiecewiseQuadratic(alpha=1.0)(x).sum().backward(); x.grad
        tensor([0.0000, 1.0000, 0.5000])
    """

    default_alpha = 1.0

    def __init__(self, alpha: float = 1.0, spiking: bool = True) -> None:
        super().__init__(alpha, spiking)

    constants = staticmethod(_piecewise_quadratic_constants)
    gradient = staticmethod(_piecewise_quadratic_gradient)
    primitive = staticmethod(_piecewise_quadratic_primitive)


def piecewise_quadratic(x: torch.Tensor, alpha: float = 1.0) -> torch.Tensor:
    """Function form of :class:`PiecewiseQuadratic`.

    Example::

        >>> import torch
        >>> from spikestep import surrogate
        >>> surrogate.piecewise_quadratic(torch.tensor([-0.1, 0.0, 0.1]))
        tensor([0., 1., 1.])
    """
    return spike(x, piecewise_quadratic_derivative, check_alpha(alpha, "piecewise_quadratic"))

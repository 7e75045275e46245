"""Surrogate spike functions: Heaviside forward (``x >= 0`` gives 1), smooth backward.

Each comes as a module (``ATan(alpha=2.0)``, usable as a neuron's ``surrogate_function``) and as a
function (``atan(x, alpha)``). Any callable with the same contract (elementwise, spikes forward,
surrogate gradient backward) works as a neuron's surrogate; the built-in ones are also recognised by the
fused neuron kernels.
"""

from .atan import ATan, atan, atan_derivative
from .base import SurrogateFunction, heaviside, kernel_form, lookup
from .piecewise_quadratic import PiecewiseQuadratic, piecewise_quadratic, piecewise_quadratic_derivative
from .sigmoid import Sigmoid, sigmoid, sigmoid_derivative

__all__ = [
    "ATan",
    "PiecewiseQuadratic",
    "Sigmoid",
    "SurrogateFunction",
    "atan",
    "atan_derivative",
    "heaviside",
    "kernel_form",
    "lookup",
    "piecewise_quadratic",
    "piecewise_quadratic_derivative",
    "sigmoid",
    "sigmoid_derivative",
]

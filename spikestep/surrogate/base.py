"""The spike function every surrogate shares: Heaviside forward, pluggable smooth backward.

A surrogate's gradient is written once, as ``gradient(x, one, c1, c2)`` in the small elementwise dialect
of :mod:`spikestep._runtime.elementwise` (arithmetic, ``div``, ``exp``, ``absolute``, ``where``), with its
constants ``(c1, c2) = constants(alpha)``. The PyTorch paths evaluate that function on tensors, and the
fused neuron kernels (numba, Triton) compile the same function in; nothing else restates it.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from typing import Any, ClassVar

import torch
import torch.nn as nn

from .._runtime import elementwise

Derivative = Callable[[torch.Tensor, float], torch.Tensor]


def heaviside(x: torch.Tensor) -> torch.Tensor:
    """The step function ``1 if x >= 0 else 0``, in ``x``'s dtype (no useful gradient).

    Example::

        >>> import torch
        >>> from spikestep.surrogate import heaviside
        >>> heaviside(torch.tensor([-1.0, 0.0, 2.0]))
        tensor([0., 1., 1.])
    """
    x = _checked_input(x, "heaviside")
    return (x >= 0).to(x.dtype)


def _checked_input(x: object, owner: str) -> torch.Tensor:
    """``x`` if it is a real tensor (bool, integer or floating), else a ``TypeError``."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(
            f"{owner} expects a torch.Tensor, got {type(x).__name__}; convert it first, e.g. torch.as_tensor(x)"
        )
    if x.is_complex():
        raise TypeError(f"{owner} expects a real tensor (bool, integer or floating), got {x.dtype}")
    return x


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
    x = _checked_input(x, "a surrogate spike function")
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


_REGISTRY: dict[str, type[SurrogateFunction]] = {}
_torch_forms: dict[Callable[..., Any], Callable[..., Any]] = {}


def _torch_form(gradient: Callable[..., Any]) -> Callable[..., Any]:
    if gradient not in _torch_forms:
        _torch_forms[gradient] = elementwise.for_torch(gradient)
    return _torch_forms[gradient]


class SurrogateFunction(nn.Module):
    """Base class of the surrogates.

    Calling one fires ``heaviside(x)`` (``x >= 0`` gives 1) and sends gradients back through the
    subclass's smooth :meth:`gradient`. With ``spiking=False`` it returns the smooth :meth:`primitive`
    instead (whose true derivative is the surrogate gradient), e.g. to pre-train without spikes.

    A subclass sets ``default_alpha`` and three static methods:

    * ``constants(alpha) -> (c1, c2)``: numbers computed once per call, in double precision;
    * ``gradient(x, one, c1, c2)``: the surrogate gradient at ``x``, in the elementwise dialect (see
      the module docstring). Every backend runs this one definition, so a new surrogate written this way
      runs in the fused kernels with no other change;
    * ``primitive(x, alpha)``: the smooth function (PyTorch), used when ``spiking=False``.

    Shapes: any; the output has ``x``'s shape and dtype.

    Example (a new surrogate, fused kernels included)::

        >>> import torch
        >>> from spikestep.surrogate import SurrogateFunction
        >>> class Rectangle(SurrogateFunction):
        ...     default_alpha = 1.0
        ...     constants = staticmethod(lambda alpha: (alpha, 0.5 / alpha))
        ...     @staticmethod
        ...     def gradient(x, one, c1, c2):
        ...         return where(absolute(x) < c2, c1, one - one)
        ...     @staticmethod
        ...     def primitive(x, alpha):
        ...         return torch.clamp(x * alpha + 0.5, 0.0, 1.0)
        >>> x = torch.tensor([-1.0, 0.2], requires_grad=True)
        >>> Rectangle()(x).sum().backward(); x.grad
        tensor([0., 1.])
    """

    default_alpha: ClassVar[float] = 1.0

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "gradient" in cls.__dict__:
            name = f"{cls.__module__}.{cls.__qualname__}"
            if name in _REGISTRY and _REGISTRY[name] is not cls:  # another class of the same name
                name = f"{name}#{sum(key.split('#')[0] == name for key in _REGISTRY) + 1}"
            cls._registry_name = name
            _REGISTRY[name] = cls

    def __init__(self, alpha: float | None = None, spiking: bool = True) -> None:
        super().__init__()
        self.alpha = check_alpha(self.default_alpha if alpha is None else alpha, type(self).__name__)
        if not isinstance(spiking, bool):
            raise TypeError(f"spiking must be True or False, got {type(spiking).__name__} {spiking!r}")
        self.spiking = spiking

    @staticmethod
    def constants(alpha: float) -> tuple[float, float]:
        raise NotImplementedError

    @staticmethod
    def gradient(x: Any, one: Any, c1: Any, c2: Any) -> Any:
        raise NotImplementedError

    @staticmethod
    def primitive(x: torch.Tensor, alpha: float) -> torch.Tensor:
        raise NotImplementedError

    @classmethod
    def derivative(cls, x: torch.Tensor, alpha: float) -> torch.Tensor:
        """The surrogate gradient at ``x`` for ``alpha``: :meth:`gradient` evaluated on tensors (bool and
        integer ``x`` in torch's default float dtype)."""
        x = _checked_input(x, f"{cls.__name__}.derivative")
        if not x.is_floating_point():
            x = x.to(torch.get_default_dtype())
        c1, c2 = cls.constants(alpha)
        return _torch_form(cls.gradient)(x, *elementwise.constants((1.0, c1, c2), x))

    def surrogate_grad(self, x: torch.Tensor) -> torch.Tensor:
        """The surrogate gradient ``d spike / d x`` at ``x`` (closed form, no autograd)."""
        return self.derivative(x, self.alpha)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.spiking:
            return spike(x, type(self).derivative, self.alpha)
        return self.primitive(_checked_input(x, type(self).__name__), self.alpha)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}, spiking={self.spiking}"


def registry_name(cls: type) -> str:
    """The name under which a surrogate class (one that defines ``gradient``) is known to the fused
    kernels: its module and qualified name, with ``#2``, ``#3``, ... for later classes of the same name."""
    if "_registry_name" not in cls.__dict__:  # a class that inherits its gradient has no entry of its own
        raise KeyError(f"{cls.__qualname__} defines no gradient of its own")
    # Read as an attribute: torch.compile refuses to index a class's __dict__ once the traced code has
    # changed a dict (a memory), which would break the graph at every neuron.
    return cls._registry_name  # type: ignore[attr-defined]


def kernel_form(surrogate_function: object) -> tuple[str, float, float] | None:
    """``(name, c1, c2)`` when the fused kernels can run ``surrogate_function`` (a spiking
    :class:`SurrogateFunction` whose gradient is :meth:`~SurrogateFunction.gradient`), else None."""
    cls = type(surrogate_function)
    if not isinstance(surrogate_function, SurrogateFunction) or not surrogate_function.spiking:
        return None
    if cls.derivative.__func__ is not SurrogateFunction.derivative.__func__:  # type: ignore[attr-defined]
        return None  # a subclass that computes its gradient some other way: the torch walk runs it
    if cls.forward is not SurrogateFunction.forward or cls.gradient is SurrogateFunction.gradient:
        return None
    name = registry_name(_defining_class(cls))
    c1, c2 = cls.constants(surrogate_function.alpha)
    return name, float(c1), float(c2)


def _defining_class(cls: type) -> type:
    for klass in cls.__mro__:
        if "gradient" in klass.__dict__:
            return klass
    raise LookupError(cls)


def lookup(name: str) -> type[SurrogateFunction]:
    """The surrogate class registered under ``name`` (see :func:`registry_name`)."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ValueError(
            f"no surrogate is registered as {name!r}: define its class (a SurrogateFunction subclass "
            f"with a gradient) before running a network that uses it"
        ) from None

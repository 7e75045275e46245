"""Poisson (rate) coding: each element spikes at each step with probability equal to its value."""

from __future__ import annotations

import torch
import torch.nn as nn

from ..base import StepModule
from ._checks import check_num_steps, check_unit_interval, spike_dtype


def _uniform(shape: tuple[int, ...], x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    # Draw in float32 at least: a float16 uniform has too few levels to give rates finer than ~1e-3.
    dtype = torch.float64 if x.dtype == torch.float64 else torch.float32
    return torch.rand(shape, generator=generator, dtype=dtype, device=x.device)


def poisson_step(x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """One step of Poisson coding: ``s = 1[u < x]`` with ``u ~ U[0, 1)`` drawn per element.

    ``P(s = 1) = x``. ``u < x`` (rather than ``<=``) makes ``x = 0`` never spike and ``x = 1`` always spike.
    ``x`` (any shape, values in ``[0, 1]``, else ``ValueError``) is read elementwise, so one step
    ``[B, ...]`` and an already repeated sequence ``[T, B, ...]`` both work. Spikes (0/1) come out in ``x``'s
    dtype (the default float dtype for integer/bool ``x``), not differentiable. Pass a
    ``torch.Generator`` (on ``x``'s device) for reproducible spikes.

    Example::

        >>> import torch
        >>> from spikestep import encoding
        >>> encoding.poisson_step(torch.tensor([0.0, 1.0, 1.0]))
        tensor([0., 1., 1.])
    """
    x = check_unit_interval(x, "poisson_step")
    return (_uniform(tuple(x.shape), x, generator) < x).to(spike_dtype(x))


def poisson(x: torch.Tensor, T: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """``T`` steps of Poisson coding of a static input: ``x`` ``[B, ...]`` -> spikes ``[T, B, ...]``.

    Each element spikes independently at each step with probability ``x`` (see :func:`poisson_step`), so
    the firing rate over the ``T`` steps estimates ``x``.

    Example::

        >>> import torch
        >>> from spikestep import encoding
        >>> g = torch.Generator().manual_seed(0)
        >>> s = encoding.poisson(torch.full((1, 3), 0.5), T=1000, generator=g)
        >>> s.shape, bool(((s.mean(0) - 0.5).abs() < 0.05).all())
        (torch.Size([1000, 1, 3]), True)
    """
    T = check_num_steps(T, "poisson")
    x = check_unit_interval(x, "poisson")
    return (_uniform((T, *x.shape), x, generator) < x).to(spike_dtype(x))


class PoissonEncoder(nn.Module, StepModule):
    """Poisson (rate) encoder: each element spikes with probability equal to its value, at every call.

    Elementwise and stateless (see :func:`poisson_step`): ``'s'``: ``[B, ...] -> [B, ...]``, call it once per
    step with the same ``x``; ``'m'``: ``[T, B, ...] -> [T, B, ...]``, the input already repeated over
    time (as SpikingJelly's ``encoding.PoissonEncoder``), e.g. ``x.expand(T, *x.shape)``. To make ``T``
    steps from a static ``[B, ...]`` in one call use :func:`poisson` ``(x, T)``.

    Args:
        step_mode: ``'s'`` or ``'m'`` (the computation is the same; it only names the layout).
        generator: optional ``torch.Generator`` on the input's device, for reproducible spikes. It is not
            moved by ``.to(device)``.

    Example::

        >>> import torch
        >>> from spikestep import encoding
        >>> enc = encoding.PoissonEncoder(generator=torch.Generator().manual_seed(0))
        >>> enc(torch.tensor([[0.0, 1.0]]))
        tensor([[0., 1.]])
    """

    def __init__(self, step_mode: str = "s", generator: torch.Generator | None = None) -> None:
        super().__init__()
        if generator is not None and not isinstance(generator, torch.Generator):
            raise TypeError(f"generator must be a torch.Generator or None, got {type(generator).__name__}")
        self.step_mode = step_mode
        self.generator = generator

    def extra_repr(self) -> str:
        return f"step_mode={self.step_mode}"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return poisson_step(x, self.generator)

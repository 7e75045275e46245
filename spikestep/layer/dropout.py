"""Dropout whose mask is drawn once per sequence and shared by all its time steps."""

from __future__ import annotations

import numbers

import torch

from .._checks import as_compute_dtype
from ..base import MemoryModule


def _check_p(p: object) -> float:
    if isinstance(p, bool) or not isinstance(p, numbers.Real):
        raise TypeError(f"Dropout: p must be a float in [0, 1), got {type(p).__name__} {p!r}")
    p = float(p)
    if not 0.0 <= p < 1.0:
        raise ValueError(
            f"Dropout: p (the probability of zeroing an element) must be in [0, 1), got {p}; p = 1 would "
            f"drop everything and scale by 1/(1-p) = inf"
        )
    return p


class Dropout(MemoryModule):
    """Zero each element with probability ``p`` and scale the rest by ``1/(1-p)``, with ONE mask per sequence.

    .. math::
        y[t] = x[t] \\cdot m, \\qquad m = \\frac{\\text{Bernoulli}(1-p)}{1-p} \\text{ drawn once per sequence}

    Dropping a different set of neurons at every step would let a spiking network average the noise away
    over time; sharing the mask over all steps drops the same neurons for the whole sequence (as
    SpikingJelly's ``layer.Dropout`` does).

    The mask (memory ``mask``, shape ``[B, ...]``) is drawn on the first training call after :meth:`reset`
    and reused until the next reset, in both step modes: ``'s'``: input ``[B, ...]`` per call; ``'m'``:
    input ``[T, B, ...]`` per call, every step multiplied by the same mask. So ``T`` single steps equal one
    multi-step call, and a sequence fed in chunks equals the sequence fed whole. Call
    ``functional.reset_net(net)`` between sequences to draw a new mask. In eval mode the layer is the
    identity (and leaves the mask alone). Bool and integer spikes come out in torch's default float dtype,
    floating ones in their own (in eval mode too).

    Args:
        p: probability of zeroing an element, in ``[0, 1)``.
        step_mode: ``'s'`` or ``'m'``.

    Example::

        >>> import torch
        >>> from spikestep import layer
        >>> drop = layer.Dropout(0.5, step_mode="m")
        >>> y = drop(torch.ones(4, 1, 6))
        >>> bool((y == y[0]).all())  # the same elements are dropped at every step
        True
        >>> sorted(set(y.flatten().tolist())) in ([0.0, 2.0], [0.0], [2.0])
        True
    """

    def __init__(self, p: float = 0.5, step_mode: str = "s") -> None:
        super().__init__()
        self._p = _check_p(p)
        self.step_mode = step_mode
        self.register_memory("mask", None)

    @property
    def p(self) -> float:
        return self._p

    @p.setter
    def p(self, value: float) -> None:
        self._p = _check_p(value)

    def extra_repr(self) -> str:
        return f"p={self.p}, step_mode={self.step_mode}"

    def _mask_for(self, step: torch.Tensor, shape: torch.Size) -> torch.Tensor:
        """The sequence's mask for steps of ``shape`` like ``step`` (drawn on the first call after a
        reset), in ``step``'s dtype."""
        if self.mask is None:
            keep = 1.0 - self.p
            self.mask = torch.empty(shape, dtype=step.dtype, device=step.device).bernoulli_(keep) / keep
        return self._state_like("mask", self.mask, shape, step)

    def single_step_forward(self, x: torch.Tensor) -> torch.Tensor:
        x = as_compute_dtype(x, "Dropout", layout="[B, ...]")
        if not self.training or self.p == 0.0:
            return x
        return x * self._mask_for(x, x.shape)

    def multi_step_forward(self, x_seq: torch.Tensor) -> torch.Tensor:
        x_seq = as_compute_dtype(x_seq, "Dropout", layout="[T, B, ...] with time first")
        if x_seq.dim() < 2:
            raise ValueError(
                f"Dropout in multi-step mode expects a tensor [T, B, ...] with time first, got "
                f"{getattr(x_seq, 'shape', type(x_seq).__name__)}"
            )
        if not self.training or self.p == 0.0:
            return x_seq
        # [B, ...] mask broadcasts over the T steps (an empty chunk, T = 0, draws it too: the shape check
        # applies to every chunk, and the steps that come next use it).
        return x_seq * self._mask_for(x_seq, x_seq.shape[1:])

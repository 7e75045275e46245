"""Delay: a layer that hands on its input ``d`` steps later."""

from __future__ import annotations

import torch

from .. import functional as F
from ..base import MemoryModule


class Delay(MemoryModule):
    """Delay the input by ``delay_steps`` time steps: ``y[t] = x[t - d]``, zeros before the first input.

    Args:
        delay_steps: ``d``, an ``int >= 0`` (read-only after construction). ``d = 0`` is the identity.
        step_mode: ``'s'``: input ``[B, ...]`` per call; ``'m'``: input ``[T, B, ...]`` per call.

    The layer holds the last ``d`` inputs it was given (memory ``queue``), so the delay runs on across
    calls until :meth:`reset`: single steps, a whole sequence, or the sequence in chunks of any length
    (shorter than ``d`` too) all give the same output. Single-step mode costs O(1) per step for any ``d``
    (a ring of ``d`` tensors); multi-step mode joins the held inputs and the new chunk once and slices, with
    no loop over time. The held inputs are tensors, so ``functional.detach_net`` cuts them from the graph.

    Example::

        >>> import torch
        >>> from spikestep import layer
        >>> delay = layer.Delay(2, step_mode="m")
        >>> delay(torch.tensor([1.0, 2.0, 3.0]))
        tensor([0., 0., 1.])
        >>> delay(torch.tensor([4.0]))  # carries on from the last call
        tensor([2.])
    """

    def __init__(self, delay_steps: int, step_mode: str = "s") -> None:
        super().__init__()
        self._delay_steps = F.check_delay_steps(delay_steps)
        self.step_mode = step_mode
        # The held inputs, oldest first: a [d, ...] tensor after a multi-step call, or a ring of d
        # tensors (oldest at ``ring_start``) after a single step. Each mode converts on its first use.
        self.register_memory("queue", None)
        self.register_memory("ring_start", 0)

    @property
    def delay_steps(self) -> int:
        return self._delay_steps

    def extra_repr(self) -> str:
        return f"delay_steps={self.delay_steps}, step_mode={self.step_mode}"

    def _held_as_ring(self, x: torch.Tensor) -> list[torch.Tensor]:
        if self.queue is None:
            self.queue = [torch.zeros_like(x) for _ in range(self._delay_steps)]
            self.ring_start = 0
        elif isinstance(self.queue, torch.Tensor):
            self.queue = list(self.queue.unbind(0))
            self.ring_start = 0
        self._check_state_shape("queue", self.queue[0], x.shape)
        return self.queue

    def _held_as_tensor(self, x_seq: torch.Tensor) -> torch.Tensor:
        shape = (self._delay_steps, *x_seq.shape[1:])
        if self.queue is None:
            self.queue = x_seq.new_zeros(shape)
        elif isinstance(self.queue, list):
            start = self.ring_start
            self.queue = torch.stack(self.queue[start:] + self.queue[:start])
            self.ring_start = 0
        self._check_state_shape("queue", self.queue, torch.Size(shape))
        return self.queue

    def single_step_forward(self, x: torch.Tensor) -> torch.Tensor:
        if self._delay_steps == 0:
            return x
        ring = self._held_as_ring(x)
        start = self.ring_start
        y = ring[start]
        ring[start] = x
        self.ring_start = (start + 1) % self._delay_steps
        return y

    def multi_step_forward(self, x_seq: torch.Tensor) -> torch.Tensor:
        if not isinstance(x_seq, torch.Tensor) or x_seq.dim() < 1:
            raise TypeError("Delay in multi-step mode expects a tensor [T, ...] with time first")
        if self._delay_steps == 0:
            return x_seq
        y, self.queue = F.delay_with_state(x_seq, self._held_as_tensor(x_seq))
        return y

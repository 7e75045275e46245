"""Delay: a layer that hands on its input ``d`` steps later."""

from __future__ import annotations

import torch

from .. import functional as F
from .._checks import as_compute_dtype
from ..base import MemoryModule


class Delay(MemoryModule):
    """Delay the input by ``delay_steps`` time steps: ``y[t] = x[t - d]``, zeros before the first input.

    Args:
        delay_steps: ``d``, an ``int >= 0``; ``d = 0`` is the identity. It can be changed while the layer
            holds no inputs (after construction or :meth:`reset`).
        step_mode: ``'s'``: input ``[B, ...]`` per call; ``'m'``: input ``[T, B, ...]`` per call.

    The layer holds the last ``d`` inputs it was given (memory ``queue``), so the delay runs on across
    calls until :meth:`reset`: single steps, a whole sequence, or the sequence in chunks of any length
    (shorter than ``d`` too) all give the same output. Single-step mode costs O(1) per step for any ``d``
    (a ring of ``d`` tensors); multi-step mode joins the held inputs and the new chunk once and slices, with
    no loop over time. The held inputs are tensors, so ``functional.detach_net`` cuts them from the graph.
    They are the layer's own copies, ``d`` steps in all (``Delay(1)`` after a chunk of 1000 steps holds
    one step, not the chunk), and share no storage with an input or an output: reusing an input buffer or
    changing an output in place never changes what the layer hands on later.

    Floating inputs keep their dtype; bool and integer spikes are handed on in torch's default float
    dtype (the rule of every layer and neuron: the output has the compute dtype).

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
        # Every held tensor is the module's own copy, of one step each (d steps in all).
        self.register_memory("queue", None)
        self.register_memory("ring_start", 0)

    @property
    def delay_steps(self) -> int:
        """``d``. It can be set (an ``int >= 0``) while the layer holds no inputs: after construction or
        :meth:`reset`."""
        return self._delay_steps

    @delay_steps.setter
    def delay_steps(self, value: int) -> None:
        value = F.check_delay_steps(value)
        if value != self._delay_steps and self.queue is not None:
            raise ValueError(
                f"Delay holds the last {self._delay_steps} inputs of a running sequence, so delay_steps cannot "
                f"change to {value} now; call reset() (or functional.reset_net(net)) first"
            )
        self._delay_steps = value

    def extra_repr(self) -> str:
        return f"delay_steps={self.delay_steps}, step_mode={self.step_mode}"

    def _held_as_ring(self, x: torch.Tensor) -> list[torch.Tensor]:
        if self.queue is None:
            self.queue = [
                torch.zeros_like(x, memory_format=torch.contiguous_format) for _ in range(self._delay_steps)
            ]
            self.ring_start = 0
        elif isinstance(self.queue, torch.Tensor):
            # Copies, not views of the [d, ...] block: each step then frees the input it hands on.
            self.queue = [held.clone() for held in self.queue.unbind(0)]
            self.ring_start = 0
        self._state_like("queue", self.queue[0], x.shape, x)  # the shape and device; dtype: see single_step
        return self.queue

    def _held_as_tensor(self, x_seq: torch.Tensor) -> torch.Tensor:
        shape = (self._delay_steps, *x_seq.shape[1:])
        if self.queue is None:
            self.queue = x_seq.new_zeros(shape)
        elif isinstance(self.queue, list):
            start = self.ring_start
            self.queue = torch.stack(self.queue[start:] + self.queue[:start])
            self.ring_start = 0
        return self._state_like("queue", self.queue, torch.Size(shape), x_seq)

    def single_step_forward(self, x: torch.Tensor) -> torch.Tensor:
        if not (isinstance(x, torch.Tensor) and x.is_floating_point()):
            x = as_compute_dtype(x, "Delay", layout="[B, ...]")
        if self._delay_steps == 0:
            return x
        ring = self._held_as_ring(x)
        start = self.ring_start
        y = ring[start]
        # The module keeps its own copy of x: reusing the input buffer for the next step (buf.fill_(...))
        # or changing an output in place never changes what it hands on later.
        ring[start] = x.clone()
        self.ring_start = (start + 1) % self._delay_steps
        return y if y.dtype == x.dtype else y.to(x.dtype)

    def multi_step_forward(self, x_seq: torch.Tensor) -> torch.Tensor:
        x_seq = as_compute_dtype(x_seq, "Delay", layout="[T, ...] with time first")
        if x_seq.dim() < 1:
            raise ValueError(
                "Delay in multi-step mode expects a tensor [T, ...] with time first, got a 0-d tensor"
            )
        if self._delay_steps == 0:
            return x_seq
        y, self.queue = F.delay_with_state(x_seq, self._held_as_tensor(x_seq))
        return y

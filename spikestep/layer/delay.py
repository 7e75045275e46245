"""Delay: a layer that hands on its input ``d`` steps later."""

from __future__ import annotations

import torch

from .. import functional as F
from .._checks import as_compute_dtype
from ..base import MemoryModule


class Delay(MemoryModule):
    """Delay the input by ``delay_steps`` time steps: ``y[t] = x[t - d]``, zeros before the first input.

    Args:
        delay_steps: ``d``, an ``int >= 0`` (``0`` is the identity), or an integer tensor of delays
            ``>= 0`` that broadcasts against the trailing dimensions of one step: ``[C]`` for input
            ``[B, C]`` delays channel ``c`` by ``d[c]``, ``[C, H, W]`` gives every element its own. A tensor
            is kept as the buffer ``per_channel_delays`` (it moves with ``.to()`` and is saved in
            ``state_dict``). It can be changed while the layer holds no inputs (after construction or
            :meth:`reset`).
        step_mode: ``'s'``: input ``[B, ...]`` per call; ``'m'``: input ``[T, B, ...]`` per call.

    The layer holds the last ``D = max(d)`` inputs it was given in one ``[D, ...]`` tensor, a ring (memory
    ``queue``, its oldest input at ``ring_start``), so the delay runs on across calls until
    :meth:`reset`: single steps, a whole sequence, or the sequence in chunks of any length (shorter than
    ``D`` too) all give the same output. A single step reads and writes one step of the ring, O(1) for any
    ``D`` (when autograd tracks the ring it is rebuilt out of place instead, one copy of ``D`` steps, since
    autograd keeps every step's ring). A multi-step call joins the ring and the chunk once and slices (one
    delay) or gathers (per-channel delays), with no loop over time. The ring is a tensor, so
    ``functional.detach_net`` cuts it from the graph; it is the layer's own, ``D`` steps in all
    (``Delay(1)`` after a chunk of 1000 steps holds one step, not the chunk), and shares no storage with an
    input or an output: reusing an input buffer or changing an output in place never changes what the
    layer hands on later.

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
        >>> per_channel = layer.Delay(torch.tensor([0, 1, 3]))  # one delay per channel
        >>> torch.stack([per_channel(torch.full((3,), t)) for t in (1.0, 2.0, 3.0, 4.0)])
        tensor([[1., 0., 0.],
                [2., 1., 0.],
                [3., 2., 0.],
                [4., 3., 1.]])
    """

    def __init__(self, delay_steps: int | torch.Tensor, step_mode: str = "s") -> None:
        super().__init__()
        self._delay_steps: int = 0
        self.register_buffer("per_channel_delays", None)
        self._set_delay_steps(F.check_delay_steps(delay_steps))
        self.step_mode = step_mode
        # The last max(d) inputs, oldest at ``ring_start``: one [D, ...] tensor, the module's own (it
        # shares no storage with an input or an output). A multi-step call leaves it oldest first.
        self.register_memory("queue", None)
        self.register_memory("ring_start", 0)

    def _set_delay_steps(self, value: int | torch.Tensor) -> None:
        if isinstance(value, torch.Tensor):
            device = self.per_channel_delays.device if self.per_channel_delays is not None else None
            self.per_channel_delays = value if device is None else value.to(device)
            self._delay_steps = F.longest_delay(value)
        else:
            self.per_channel_delays = None
            self._delay_steps = value

    @property
    def delay_steps(self) -> int | torch.Tensor:
        """``d``: an int, or an ``int64`` tensor of per-channel delays. It can be set (like the
        constructor's argument) while the layer holds no inputs: after construction or :meth:`reset`."""
        return self._delay_steps if self.per_channel_delays is None else self.per_channel_delays

    @delay_steps.setter
    def delay_steps(self, value: int | torch.Tensor) -> None:
        value = F.check_delay_steps(value)
        same = (
            torch.equal(value.cpu(), self.per_channel_delays.cpu())
            if isinstance(value, torch.Tensor) and self.per_channel_delays is not None
            else not isinstance(value, torch.Tensor)
            and self.per_channel_delays is None
            and value == self._delay_steps
        )
        if not same and self.queue is not None:
            shown = value if not isinstance(value, torch.Tensor) else value.tolist()
            raise ValueError(
                f"Delay holds the last {self._delay_steps} inputs of a running sequence, so delay_steps cannot "
                f"change to {shown} now; call reset() (or functional.reset_net(net)) first"
            )
        self._set_delay_steps(value)

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing, unexpected, errors):  # type: ignore[no-untyped-def]
        # The per-channel delays come in as a buffer; max_delay (the ring's length) must follow them.
        key = prefix + "per_channel_delays"
        if key in state_dict and self.per_channel_delays is None:
            errors.append(
                f"Delay holds one delay ({self._delay_steps}) but the state has per-channel delays '{key}': "
                f"build the layer with per-channel delays (Delay(torch.tensor([...]))) before loading"
            )
            return
        before = None if self.per_channel_delays is None else self.per_channel_delays.clone()
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing, unexpected, errors)
        if before is None:
            return
        loaded = self.per_channel_delays.clone()
        self.per_channel_delays = before  # back, until the loaded delays are checked
        try:
            self.delay_steps = loaded  # checked like the constructor, refused while inputs are held
        except (TypeError, ValueError) as error:
            errors.append(f"{prefix}per_channel_delays: {error}")

    @property
    def max_delay(self) -> int:
        """``max(d)``: the number of past inputs the layer holds."""
        return self._delay_steps

    def extra_repr(self) -> str:
        d = (
            self._delay_steps
            if self.per_channel_delays is None
            else f"per-channel {list(self.per_channel_delays.shape)}, max {self._delay_steps}"
        )
        return f"delay_steps={d}, step_mode={self.step_mode}"

    def _held(self, x: torch.Tensor, step_shape: torch.Size) -> torch.Tensor:
        shape = torch.Size((self._delay_steps, *step_shape))
        if self.queue is None:
            self.queue = x.new_zeros(shape)
            self.ring_start = 0
        return self._state_like("queue", self.queue, shape, x)

    def single_step_forward(self, x: torch.Tensor) -> torch.Tensor:
        x = as_compute_dtype(x, "Delay", layout="[B, ...]")
        if self._delay_steps == 0:
            return x
        ring = self._held(x, x.shape)
        y, self.queue, self.ring_start = F.delay_step(x, ring, self.ring_start, self.delay_steps)
        return y

    def multi_step_forward(self, x_seq: torch.Tensor) -> torch.Tensor:
        x_seq = as_compute_dtype(x_seq, "Delay", layout="[T, ...] with time first")
        if x_seq.dim() < 1:
            raise ValueError(
                "Delay in multi-step mode expects a tensor [T, ...] with time first, got a 0-d tensor"
            )
        if self._delay_steps == 0:
            return x_seq
        held = self._held(x_seq, x_seq.shape[1:])
        if self.ring_start:
            held = held.roll(-self.ring_start, 0)  # oldest first
        y, self.queue = F.delay_with_state(x_seq, held, self.delay_steps)
        self.ring_start = 0
        return y

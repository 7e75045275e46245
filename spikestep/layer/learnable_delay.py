"""LearnableDelay: one real-valued, trained delay per channel (an axonal delay)."""

from __future__ import annotations

import numbers

import torch
import torch.nn as nn

from .. import functional as F
from .._checks import as_compute_dtype
from ..base import MemoryModule
from ..ops.delayed_linear.checked import check_sigma
from ..ops.delayed_linear.schedule import initial_sigma
from .delay import Delay

_LONGEST = 2**31 - 1


def _check_sigma(sigma: object) -> float:
    """0 (linear interpolation), or a Gaussian's width that DelayedLinear would take too."""
    if not isinstance(sigma, bool) and isinstance(sigma, numbers.Real) and float(sigma) == 0.0:
        return 0.0
    return check_sigma(sigma, "LearnableDelay")


class LearnableDelay(MemoryModule):
    """Delay each channel by its own real-valued, learnable delay ``d_c`` in ``[0, max_delay]``.

    .. math::
        y_c[t] = \\sum_{k=0}^{D} g_c[k]\\, x_c[t - k], \\qquad g_c = \\mathrm{delay\\_kernel}(d_c, D, \\sigma)

    ``g_c`` is a Gaussian bump of width ``sigma`` centred on ``d_c`` and normalised to sum 1
    (:func:`~spikestep.functional.delay_kernel`), so the gradient reaches ``d_c`` from every tap the bump
    covers; with ``sigma = 0`` it is linear interpolation between the integer shifts ``floor(d_c)`` and
    ``floor(d_c) + 1``. ``sigma`` is 0 or at least 0.25 (a narrower Gaussian rounds to zero). The DCLS-delays recipe starts wide (``sigma = max_delay / 2``) and narrows to about
    0.5 over the first quarter of training: set ``sigma`` from
    :func:`~spikestep.functional.sigma_schedule` once per epoch. :meth:`to_delay` gives the integer
    :class:`Delay` that the rounded delays define, for exact streaming inference.

    Shapes: ``'s'``: ``[B, ..., C]`` per call; ``'m'``: ``[T, B, ..., C]``; the output has the input's
    shape. The layer holds the last ``max_delay`` inputs (memory ``queue``, its own copy), so chunks, the
    whole sequence and single steps agree; ``functional.reset_net`` clears it, ``detach_net`` cuts it.
    A single step copies the ``max_delay`` held steps (``O(max_delay)``); a chunk costs ``max_delay + 1``
    multiply-adds per element for ``sigma > 0`` and two gathers for ``sigma = 0``.

    Args:
        num_channels: ``C``, the size of the input's last dimension.
        max_delay: ``D``, the longest delay (an int ``>= 0``).
        init: the initial delays: ``'uniform'`` (random in ``[0, D]``), a float (every channel), or a
            tensor of ``C`` values in ``[0, D]``.
        sigma: the kernel's width in steps (``>= 0``); defaults to ``max_delay / 2``.
        step_mode: ``'s'`` or ``'m'``.

    The delays are the parameter ``delay`` (give it its own learning rate with a parameter group:
    ``[{"params": [m.delay], "lr": ...}, ...]``); they are clamped to ``[0, D]`` in the forward pass, and
    :meth:`clamp_delays` puts them back into that range after an optimiser step.

    Example::

        >>> import torch
        >>> from spikestep import layer
        >>> shift = layer.LearnableDelay(2, max_delay=3, init=torch.tensor([1.0, 2.5]), sigma=0.0, step_mode="m")
        >>> shift(torch.tensor([[1.0, 1.0], [0.0, 0.0], [0.0, 0.0], [0.0, 0.0]])).detach()
        tensor([[0.0000, 0.0000],
                [1.0000, 0.0000],
                [0.0000, 0.5000],
                [0.0000, 0.5000]])
        >>> shift.to_delay().delay_steps  # rounded half to even: 2.5 -> 2
        tensor([1, 2])
    """

    def __init__(
        self,
        num_channels: int,
        max_delay: int,
        init: str | float | torch.Tensor = "uniform",
        sigma: float | None = None,
        step_mode: str = "s",
    ) -> None:
        super().__init__()
        if (
            isinstance(num_channels, bool)
            or not isinstance(num_channels, numbers.Integral)
            or num_channels < 1
        ):
            raise ValueError(f"LearnableDelay: num_channels must be an int >= 1, got {num_channels!r}")
        if isinstance(max_delay, bool) or not isinstance(max_delay, numbers.Integral) or max_delay < 0:
            raise (
                ValueError
                if isinstance(max_delay, numbers.Integral) and not isinstance(max_delay, bool)
                else TypeError
            )(
                f"LearnableDelay: max_delay must be an int >= 0 (the longest delay, in steps), got {max_delay!r}"
            )
        max_delay = int(max_delay)
        if max_delay > _LONGEST or num_channels > _LONGEST:
            raise ValueError(
                f"LearnableDelay: num_channels and max_delay must be at most {_LONGEST} (the layer holds "
                f"max_delay steps of num_channels values), got {num_channels} and {max_delay}"
            )
        self.num_channels, self.max_delay = int(num_channels), max_delay
        self.delay = nn.Parameter(self._initial_delays(init))
        self.sigma = initial_sigma(max_delay) if sigma is None else sigma
        self.step_mode = step_mode
        self.register_memory("queue", None)

    def _initial_delays(self, init: object) -> torch.Tensor:
        c, d = self.num_channels, self.max_delay
        if isinstance(init, str):
            if init != "uniform":
                raise ValueError(f"LearnableDelay: init must be 'uniform', a float or a tensor, got {init!r}")
            return torch.rand(c) * d
        if isinstance(init, torch.Tensor):
            values = init.detach().to(torch.get_default_dtype()).clone()
            if values.shape != (c,):
                raise ValueError(
                    f"LearnableDelay: init must have one delay per channel, shape [{c}], got {list(values.shape)}"
                )
        elif isinstance(init, numbers.Real) and not isinstance(init, bool):
            values = torch.full((c,), float(init))
        else:
            raise TypeError(
                f"LearnableDelay: init must be 'uniform', a float or a tensor, got {type(init).__name__}"
            )
        if not bool(torch.isfinite(values).all()) or bool((values < 0).any() | (values > d).any()):
            raise ValueError(
                f"LearnableDelay: initial delays must lie in [0, max_delay={d}], got {values.tolist()}"
            )
        return values

    @property
    def sigma(self) -> float:
        """The kernel's width in steps (``0``: linear interpolation). Set it as training goes on."""
        return self._sigma

    @sigma.setter
    def sigma(self, value: float) -> None:
        self._sigma = _check_sigma(value)

    def extra_repr(self) -> str:
        return f"{self.num_channels}, max_delay={self.max_delay}, sigma={self._sigma:g}, step_mode={self.step_mode}"

    def clamp_delays(self) -> None:
        """Put the delays back into ``[0, max_delay]`` (in place; call it after each optimiser step): outside
        that range the forward pass clamps them, and their gradient is 0, so they would stay out."""
        with torch.no_grad():
            self.delay.clamp_(0.0, float(self.max_delay))

    def to_delay(self) -> Delay:
        """The integer :class:`Delay` of the rounded delays (``torch.round``: half to even), in this step
        mode: the exact streaming form of a trained layer."""
        rounded = self.delay.detach().clamp(0, self.max_delay).round().long()
        return Delay(rounded, step_mode=self.step_mode)

    def _held(self, x_seq: torch.Tensor) -> torch.Tensor:
        if x_seq.dim() < 2 or x_seq.shape[-1] != self.num_channels:
            raise ValueError(
                f"LearnableDelay({self.num_channels}) expects the last dimension to be its {self.num_channels} "
                f"channels, got input of shape {list(x_seq.shape)}"
            )
        shape = torch.Size((self.max_delay, *x_seq.shape[1:]))
        if self.queue is None:
            self.queue = x_seq.new_zeros(shape)
        return self._state_like("queue", self.queue, shape, x_seq)

    def multi_step_forward(self, x_seq: torch.Tensor) -> torch.Tensor:
        x_seq = as_compute_dtype(x_seq, "LearnableDelay", self.delay, layout="[T, B, ..., C] with time first")
        y, self.queue = F.learnable_delay_with_state(x_seq, self._held(x_seq), self.delay, self._sigma)
        return y

    def single_step_forward(self, x: torch.Tensor) -> torch.Tensor:
        x = as_compute_dtype(x, "LearnableDelay", self.delay, layout="[B, ..., C]")
        x_seq = x.unsqueeze(0)
        y, self.queue = F.learnable_delay_with_state(x_seq, self._held(x_seq), self.delay, self._sigma)
        return y.squeeze(0)

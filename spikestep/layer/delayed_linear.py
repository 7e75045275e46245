"""DelayedLinear: a linear layer whose every synapse has a learnable delay (DCLS-delays)."""

from __future__ import annotations

import math

import torch
import torch.nn as nn

from .._checks import as_compute_dtype
from ..base import MemoryModule
from ..ops import check_backend
from ..ops import delayed_linear as _dl
from . import _args

sigma_schedule = _dl.sigma_schedule

_OWNER = "DelayedLinear"


class DelayedLinear(MemoryModule):
    """``y_j[t] = sum_i w_ij x_i[t - d_ij] + b_j`` with a learnable weight and a learnable real delay
    ``d_ij`` in ``[0, max_delay]`` per synapse, trained as in DCLS-delays (Hammouamri, Khalfaoui-Hassani,
    Masquelier, ICLR 2024):

    .. math::
        y_j[t] = \\sum_i \\sum_{k=0}^{D} w_{ij} \\, g_k(d_{ij}) \\, x_i[t - k] + b_j, \\qquad
        D = \\text{max\\_delay}

    where ``g`` spreads each synapse over the lags ``k`` (``kernel``):

    * ``'gauss'`` (training): ``g_k = e_k / (sum_m e_m + 1e-7)``, ``e_k = exp(-((k - d)/sigma)^2 / 2)``,
      a Gaussian bump of width :attr:`sigma` at ``d``, normalised as ``dcls.Dcls1d`` (version
      ``'gauss'``, whose ``SIG`` is ``sigma - 0.27``) does. Dense: the cost grows with ``max_delay``.
    * ``'linear'`` (the bridge): 2 taps, ``1 - f`` at ``floor(d)`` and ``f = d - floor(d)`` at the next
      lag (``dcls`` version ``'v1'``); gradients still move the delays.
    * ``'round'`` (inference): 1 tap at ``round(d)``: exact integer delays, no gradient to ``d``.

    The sparse kernels run a numba kernel on the CPU and a Triton kernel on CUDA (float32/float64) whose
    cost grows with the taps, not with ``max_delay``; elsewhere (other dtypes, neither compiler) the dense
    path runs.

    Args:
        in_features, out_features: sizes of the last dimension in and out.
        max_delay: ``D``, an ``int >= 0`` (time steps); the layer holds the last ``D`` inputs.
        bias: add a learnable bias ``b`` (like ``torch.nn.Linear``).
        sigma: the Gaussian's width in time steps (``> 0``; default ``max(max_delay / 2, 0.5)``). Not
            learned: narrow it with :meth:`anneal_sigma` as training goes.
        kernel: ``'gauss'`` (default), ``'linear'`` or ``'round'``; may be changed at any time.
        backend: ``'auto'``, ``'numba'``, ``'triton'`` or ``'torch'`` (see :mod:`spikestep.ops`).
        step_mode: ``'s'``: input ``[B, ..., in_features]`` -> ``[B, ..., out_features]`` per call;
            ``'m'``: ``[T, B, ..., in_features]`` -> ``[T, B, ..., out_features]``.
        device, dtype: of the parameters.

    Parameters: ``weight`` and ``delay`` ``[out_features, in_features]``, ``bias`` ``[out_features]``.
    ``weight`` and ``bias`` start as ``torch.nn.Linear``'s, the delays uniform in ``[0, max_delay]``.
    The delays live in their own parameter so that they can have their own learning rate (DCLS-delays
    uses 100x the weights' and no weight decay)::

        delays = [m.delay for m in net.modules() if isinstance(m, layer.DelayedLinear)]
        others = [p for p in net.parameters() if all(p is not d for d in delays)]
        opt = torch.optim.Adam([{"params": others}, {"params": delays, "lr": 100 * lr}], lr=lr)

    The training recipe: after each optimiser step call :meth:`clamp_delays` (a forward call refuses
    delays outside ``[0, max_delay]``); at each epoch ``anneal_sigma(epoch / epochs)`` (the Gaussian
    narrows from ``max_delay / 2`` to 0.5 over the first quarter); at the end :meth:`round_delays` (or
    ``kernel='linear'`` once ``sigma`` is small, for cheap fine-tuning of the positions).

    The layer holds the last ``max_delay`` inputs it was given (memory ``held``, ``[D, B, ...,
    in_features]``, in the parameters' dtype), so the sequence runs on across calls until :meth:`reset`
    (``functional.reset_net``): single steps, a whole sequence, or chunks of any length give the same
    output and gradients. The held inputs are the layer's own copy, exactly ``D`` steps, sharing no storage
    with an input or output; ``functional.detach_net`` cuts them from the graph. Bool and integer spikes
    are computed in the parameters' dtype; floating inputs must have it (else ``TypeError``). NaN and
    infinite inputs: the dense path (the Gaussian kernel, and the sparse ones off numba and Triton)
    multiplies every lag, so an infinite input makes NaN (``0 * inf``) in every output up to ``max_delay``
    steps later; the numba and Triton kernels multiply only the taps.

    Example::

        >>> import torch
        >>> from spikestep import layer
        >>> fc = layer.DelayedLinear(2, 1, max_delay=3, bias=False, kernel="round", step_mode="m")
        >>> with torch.no_grad():
        ...     _ = fc.weight.fill_(1.0), fc.delay.copy_(torch.tensor([[0.0, 2.0]]))
        >>> fc(torch.tensor([[1.0, 1.0], [0.0, 0.0], [0.0, 0.0]])).detach().flatten()  # x_1 two steps late
        tensor([1., 0., 1.])
        >>> fc.sigma = 1.5; fc.anneal_sigma(1.0)  # the width at the end of the schedule
        0.5
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        max_delay: int,
        bias: bool = True,
        sigma: float | None = None,
        kernel: str = "gauss",
        backend: str = "auto",
        step_mode: str = "s",
        device: object = None,
        dtype: object = None,
    ) -> None:
        super().__init__()
        in_features = _args.count(in_features, "in_features", _OWNER)
        out_features = _args.count(out_features, "out_features", _OWNER)
        max_delay = _args.count(max_delay, "max_delay", _OWNER, minimum=0)
        bias = _args.flag(bias, "bias", _OWNER)
        _args.factory(device, dtype, _OWNER)
        self.in_features, self.out_features = in_features, out_features
        self._max_delay = max_delay
        self.sigma = _dl.initial_sigma(max_delay) if sigma is None else sigma
        self.kernel = kernel
        self.backend = backend
        self.step_mode = step_mode
        factory = {"device": device, "dtype": dtype}
        with _args.allocating(_OWNER):
            self.weight = nn.Parameter(torch.empty((out_features, in_features), **factory))  # type: ignore[arg-type]
            self.delay = nn.Parameter(torch.empty((out_features, in_features), **factory))  # type: ignore[arg-type]
            if bias:
                self.bias = nn.Parameter(torch.empty(out_features, **factory))  # type: ignore[arg-type]
            else:
                self.register_parameter("bias", None)
        self.reset_parameters()
        self.register_memory("held", None)

    # ------------------------------------------------------------------------------------ settings

    @property
    def max_delay(self) -> int:
        """``D``, fixed at construction (the held inputs have ``D`` steps)."""
        return self._max_delay

    @property
    def sigma(self) -> float:
        """The Gaussian kernel's width in time steps (``> 0``)."""
        return self._sigma

    @sigma.setter
    def sigma(self, value: float) -> None:
        self.__dict__["_sigma"] = _dl.check_sigma(value, _OWNER)

    @property
    def kernel(self) -> str:
        """``'gauss'``, ``'linear'`` or ``'round'``."""
        return self._kernel

    @kernel.setter
    def kernel(self, value: str) -> None:
        self.__dict__["_kernel"] = _dl.check_kernel(value, _OWNER)

    @property
    def backend(self) -> str:
        return self._backend

    @backend.setter
    def backend(self, value: str) -> None:
        self.__dict__["_backend"] = check_backend(value, _OWNER)

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, max_delay={self.max_delay}, "
            f"bias={self.bias is not None}, sigma={self.sigma:.6g}, kernel={self.kernel!r}, "
            f"backend={self.backend!r}, step_mode={self.step_mode}"
        )

    # ------------------------------------------------------------------------------- training helpers

    def reset_parameters(self) -> None:
        """``weight`` and ``bias`` as ``torch.nn.Linear`` (uniform in ``+-1/sqrt(in_features)``), the
        delays uniform in ``[0, max_delay]`` (as DCLS-delays draws its positions)."""
        bound = 1.0 / math.sqrt(self.in_features)
        with torch.no_grad():
            nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))
            if self.bias is not None:
                nn.init.uniform_(self.bias, -bound, bound)
            nn.init.uniform_(self.delay, 0.0, float(self.max_delay))

    def anneal_sigma(
        self, progress: float, until: float = 0.25, start: float | None = None, end: float = 0.5
    ) -> float:
        """Set :attr:`sigma` for ``progress`` (the fraction of training done, e.g. ``epoch / epochs``) by
        :func:`sigma_schedule`: geometric from ``start`` (default ``max_delay / 2``) to ``end`` (0.5) at
        ``progress = until`` (0.25), then ``end``. Returns the new width."""
        self.sigma = sigma_schedule(progress, self.max_delay, until=until, start=start, end=end)
        return self.sigma

    def clamp_delays(self) -> None:
        """Clamp the delays into ``[0, max_delay]`` in place (after each optimiser step)."""
        with torch.no_grad():
            self.delay.clamp_(0.0, float(self.max_delay))

    def round_delays(self) -> None:
        """Round the delays to whole steps in place and switch to the one-tap ``'round'`` kernel: exact
        integer delays, the cheapest kernel (for inference)."""
        with torch.no_grad():
            self.delay.round_().clamp_(0.0, float(self.max_delay))
        self.kernel = "round"

    # --------------------------------------------------------------------------------------- forward

    def _input(self, x: object, layout: str, min_dim: int) -> torch.Tensor:
        """``x`` (bool and integer spikes in the parameters' dtype), checked against the layer."""
        if not (isinstance(x, torch.Tensor) and x.is_floating_point()):
            x = as_compute_dtype(x, _OWNER, self.weight, layout=layout)
        if x.dim() < min_dim:
            raise ValueError(f"{_OWNER} expects {layout}, got shape {tuple(x.shape)}")
        _args.matches(x.shape[-1], self.in_features, "features in its last dimension", x.shape, _OWNER)
        return x

    def _held(self, step: torch.Size, like: torch.Tensor) -> torch.Tensor:
        shape = torch.Size((self.max_delay, *step))
        if self.held is None:
            return like.new_zeros(shape)
        return self._state_like("held", self.held, shape, like)

    def _run(self, x_seq: torch.Tensor) -> torch.Tensor:
        # The held inputs first: an input on another device than a running sequence's state gets the
        # message that names reset_net as well as .to(); then the parameters' device and dtype.
        held = self._held(x_seq.shape[1:], x_seq)
        _args.same_device_and_dtype(x_seq, [self.weight], _OWNER, mixed_ok=False)
        if x_seq.shape[0] == 0:
            return x_seq.new_zeros((*x_seq.shape[:-1], self.out_features))
        y, self.held = _dl.delayed_linear_stream(
            x_seq, self.weight, self.delay, held, self.sigma, self.kernel, self.bias, self.backend
        )
        return y

    def single_step_forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self._input(x, "one step [B, ..., in_features]", 1)
        return self._run(x.unsqueeze(0))[0]

    def multi_step_forward(self, x_seq: torch.Tensor) -> torch.Tensor:
        x_seq = self._input(x_seq, "[T, B, ..., in_features] with time first", 2)
        return self._run(x_seq)


__all__ = ["DelayedLinear", "sigma_schedule"]

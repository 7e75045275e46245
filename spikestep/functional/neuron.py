"""The spiking neuron, as pure functions: charge, fire, reset, one step or a whole sequence.

For every time step ``t`` (``V[-1]`` is the carried-in membrane potential):

.. math::
    H[t] &= a V[t-1] + b X[t] + c \\\\
    S[t] &= \\Theta(H[t] - V_{th}) \\qquad (\\text{surrogate gradient backward}) \\\\
    V[t] &= V_{reset} \\text{ (hard) or } H[t] - V_{th} \\text{ (soft, } V_{reset} = \\text{None) where } S[t] = 1,
            \\text{ else } H[t]

The charge is affine with per-element coefficients (:func:`charge_coefficients`):

- IF (``inv_tau=None``): ``H = V + X`` (``a = b = 1``, ``c = 0``);
- LIF, ``decay_input=True``: ``H = V + (X - (V - V_reset)) / tau``: ``a = 1 - 1/tau``, ``b = 1/tau``,
  ``c = V_reset / tau``;
- LIF, ``decay_input=False``: ``H = V - (V - V_reset) / tau + X``: ``b = 1``;

where ``V_reset`` reads as 0 under soft reset and ``1/tau`` is ``inv_tau``: a float, or a tensor that
broadcasts against the trailing feature dimensions (``[C]`` against ``[..., C]``), through which
gradients flow (``sigmoid(w)`` of a PLIF neuron). With ``detach_reset`` the reset passes no gradient
through the spike.

The recurrence is defined once, in :mod:`spikestep.ops.neuron.math`; single steps and whole sequences
run the same registered operator (``torch.ops.spikestep.neuron_walk``, a step being a sequence of one), so
they agree to the bit. A surrogate without a ``gradient`` definition runs the generic fused walk
(:mod:`spikestep.ops.neuron.generic_walk`) instead.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from .. import surrogate as _surrogate
from .._checks import compute_dtype
from ..ops import check_backend, requested_backend
from ..ops.neuron import reference_walk, walk
from ..ops.neuron.generic_walk import generic_walk

InvTau = float | torch.Tensor | None
Surrogate = Callable[[torch.Tensor], torch.Tensor]
Coefficients = tuple[torch.Tensor, torch.Tensor, torch.Tensor]


def _default_surrogate() -> Surrogate:
    return _surrogate.ATan()


def charge_coefficients(
    inv_tau: InvTau, decay_input: bool, v_reset: float | None, dtype: torch.dtype, device: torch.device
) -> Coefficients:
    """``(a, b, c)`` of the charge ``H = a V + b X + c`` for IF (``inv_tau=None``) or LIF.

    Example::

        >>> import torch
        >>> from spikestep.functional.neuron import charge_coefficients
        >>> charge_coefficients(0.5, True, 0.0, torch.float32, torch.device("cpu"))
        (tensor(0.5000), tensor(0.5000), tensor(0.))
    """
    one = torch.ones((), dtype=dtype, device=device)
    if inv_tau is None:
        return one, one, torch.zeros((), dtype=dtype, device=device)
    k = (
        inv_tau.to(device=device, dtype=dtype)
        if isinstance(inv_tau, torch.Tensor)
        else torch.tensor(float(inv_tau), dtype=dtype, device=device)
    )
    vr = 0.0 if v_reset is None else v_reset
    return one - k, (k if decay_input else one), k * vr


def neuron_charge(
    x: torch.Tensor,
    v: torch.Tensor,
    inv_tau: InvTau = None,
    decay_input: bool = True,
    v_reset: float | None = 0.0,
) -> torch.Tensor:
    """Charge: ``H`` from input ``x`` and membrane ``v`` (both ``[B, ...]``); IF when ``inv_tau`` is None.

    Example::

        >>> import torch
        >>> from spikestep.functional.neuron import neuron_charge
        >>> neuron_charge(torch.tensor([1.0]), torch.tensor([0.5]))  # IF
        tensor([1.5000])
        >>> neuron_charge(torch.tensor([1.0]), torch.tensor([0.5]), inv_tau=0.5)  # LIF, tau = 2
        tensor([0.7500])
    """
    a, b, c = charge_coefficients(inv_tau, decay_input, v_reset, x.dtype, x.device)
    return a * v + b * x + c


def neuron_walk_coefficients(
    x_seq: torch.Tensor,
    v: torch.Tensor,
    coefficients: Coefficients,
    v_threshold: float = 1.0,
    v_reset: float | None = 0.0,
    surrogate_function: Surrogate | None = None,
    detach_reset: bool = False,
    store_v_seq: bool = False,
    backend: str = "auto",
) -> tuple[torch.Tensor, torch.Tensor]:
    """The fused walk for the charge ``H = a V + b X + c`` with ``coefficients = (a, b, c)``, tensors
    that broadcast against one step of ``x_seq`` (``[T, B, ...]``). Returns ``(S [T, B, ...], V)`` with
    ``V`` the membranes ``[T, B, ...]`` (``store_v_seq``) or the last one ``[B, ...]``. ``x_seq``, ``v``
    and the coefficients must share one floating dtype."""
    if surrogate_function is None:
        surrogate_function = _default_surrogate()
    a, b, c = coefficients
    form = _surrogate.kernel_form(surrogate_function)
    if form is None:  # a surrogate the operator cannot read: the generic fused walk
        forced = backend if backend != "auto" else requested_backend()
        if forced in ("numba", "triton"):
            raise RuntimeError(
                f"backend {forced!r} was forced, but its kernels run surrogates with a gradient definition "
                f"(spikestep.surrogate.SurrogateFunction subclasses, spiking), got "
                f"{type(surrogate_function).__name__}; use backend 'auto' or 'torch'"
            )
        charge = _affine
        return generic_walk(
            x_seq, v, charge, (a, b, c), v_threshold, v_reset, surrogate_function, detach_reset, store_v_seq
        )
    name, c1, c2 = form
    hard = v_reset is not None
    return walk(
        x_seq, v.contiguous(), a, b, c, float(v_threshold), float(v_reset if hard else 0.0), hard, name, c1, c2,
        detach_reset, store_v_seq, backend,
    )  # fmt: skip


def _affine(
    x: torch.Tensor, v: torch.Tensor, a: torch.Tensor, b: torch.Tensor, c: torch.Tensor
) -> torch.Tensor:
    return a * v + b * x + c


def neuron_multi_step(
    x_seq: torch.Tensor,
    v: torch.Tensor | float,
    inv_tau: InvTau = None,
    decay_input: bool = True,
    v_threshold: float = 1.0,
    v_reset: float | None = 0.0,
    surrogate_function: Surrogate | None = None,
    detach_reset: bool = False,
    store_v_seq: bool = False,
    backend: str = "auto",
) -> tuple[torch.Tensor, torch.Tensor]:
    """All steps of ``x_seq`` ``[T, B, ...]`` in one fused walk (forward and backward each one pass over T).

    ``v`` is the membrane before ``x_seq[0]`` (``[B, ...]`` or a float); gradients flow to ``x_seq``,
    ``v`` and a tensor ``inv_tau``. Returns ``(s_seq [T, B, ...], v_out)`` where ``v_out`` is the membrane
    sequence ``[T, B, ...]`` if ``store_v_seq`` else the last membrane ``[B, ...]``. Non-floating inputs
    (bool, integer spikes) are computed in the floating dtype of ``inv_tau``, else torch's default.

    ``backend``: ``'numba'`` (CPU kernels), ``'triton'`` (CUDA kernels), ``'torch'`` (pure PyTorch, any
    device and dtype) or ``'auto'`` (the choice of :func:`spikestep.ops.use_backend`: by default the
    compiled kernel where it applies, else torch). A forced backend that cannot run raises RuntimeError.

    Example::

        >>> import torch
        >>> from spikestep.functional.neuron import neuron_multi_step
        >>> s, v = neuron_multi_step(torch.full((3, 1), 1.5), torch.zeros(1), inv_tau=0.5)  # LIF, tau = 2
        >>> s.flatten(), v
        (tensor([0., 1., 0.]), tensor([0.7500]))
    """
    check_backend(backend)
    dtype = compute_dtype(x_seq, inv_tau)
    x_seq = x_seq.to(dtype)
    if not isinstance(v, torch.Tensor):
        v = torch.full(x_seq.shape[1:], float(v), dtype=dtype, device=x_seq.device)
    v = v.to(dtype)
    if v.shape != x_seq.shape[1:]:
        v = v.expand(x_seq.shape[1:])
    if x_seq.shape[0] == 0:  # nothing to walk: no spikes, the membrane passes through
        return x_seq.new_empty(x_seq.shape), (x_seq.new_empty(x_seq.shape) if store_v_seq else v)
    coefficients = charge_coefficients(inv_tau, decay_input, v_reset, dtype, x_seq.device)
    return neuron_walk_coefficients(
        x_seq, v, coefficients, v_threshold, v_reset, surrogate_function, detach_reset, store_v_seq, backend
    )


def neuron_step(
    x: torch.Tensor,
    v: torch.Tensor | float,
    inv_tau: InvTau = None,
    decay_input: bool = True,
    v_threshold: float = 1.0,
    v_reset: float | None = 0.0,
    surrogate_function: Surrogate | None = None,
    detach_reset: bool = False,
    backend: str = "auto",
) -> tuple[torch.Tensor, torch.Tensor]:
    """One time step of an IF (``inv_tau=None``) or LIF neuron: returns ``(spikes, new membrane)``.

    Shapes: ``x`` and ``v`` ``[B, ...]`` (``v`` may be a float); both outputs ``[B, ...]``. The same
    operator as :func:`neuron_multi_step`, over a sequence of one step. ``surrogate_function`` defaults to
    ``surrogate.ATan()``.

    Example::

        >>> import torch
        >>> from spikestep.functional.neuron import neuron_step
        >>> s, v = neuron_step(torch.tensor([0.5, 1.5]), torch.tensor([0.2, 0.2]))  # IF, hard reset to 0
        >>> s, v
        (tensor([0., 1.]), tensor([0.7000, 0.0000]))
    """
    s, v_out = neuron_multi_step(
        x.unsqueeze(0), v, inv_tau, decay_input, v_threshold, v_reset, surrogate_function, detach_reset,
        False, backend,
    )  # fmt: skip
    return s[0], v_out


def neuron_multi_step_loop(
    x_seq: torch.Tensor,
    v: torch.Tensor,
    inv_tau: InvTau = None,
    decay_input: bool = True,
    v_threshold: float = 1.0,
    v_reset: float | None = 0.0,
    surrogate_function: Surrogate | None = None,
    detach_reset: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The reference: the textbook step (``spikestep.ops.neuron.reference``) over ``x_seq``, autograd
    through all. Returns ``(s_seq, v_seq)``, both ``[T, B, ...]``. Slow; the tests hold every fused path
    to it."""
    if surrogate_function is None:
        surrogate_function = _default_surrogate()
    a, b, c = charge_coefficients(inv_tau, decay_input, v_reset, x_seq.dtype, x_seq.device)
    return reference_walk(x_seq, v, a, b, c, v_threshold, v_reset, surrogate_function, detach_reset)

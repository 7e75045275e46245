"""The spiking neuron recurrence, written once: charge, fire, reset.

For every time step ``t`` (``V[-1]`` is the carried-in membrane potential):

.. math::
    H[t] &= \\mathrm{charge}(X[t], V[t-1]) \\\\
    S[t] &= \\mathrm{surrogate}(H[t] - V_{th}) \\qquad (\\Theta \\text{ forward, smooth backward}) \\\\
    V[t] &= H[t] (1 - S[t]) + V_{reset} S[t] \\quad \\text{(hard reset)}, \\qquad
    V[t] = H[t] - V_{th} S[t] \\quad \\text{(soft reset, } V_{reset} = \\text{None)}

with the charges

- IF (``inv_tau=None``): ``H = V + X``;
- LIF, ``decay_input=True``: ``H = V + (X - (V - V_reset)) / tau``;
- LIF, ``decay_input=False``: ``H = V - (V - V_reset) / tau + X``;

where ``V_reset`` reads as 0 under soft reset, and ``1/tau`` is passed as ``inv_tau`` (a float, or a 0-d
tensor such as ``sigmoid(w)`` through which gradients flow). With ``detach_reset`` the reset uses
``S.detach()``: gradients reach ``H`` only through the spike, not through the reset.

Every path computes these functions: single steps call :func:`neuron_step`; the fused multi-step walks
(:mod:`spikestep.kernels.neuron_torch`, :mod:`spikestep.kernels.neuron_numba`) repeat them in one pass
over time and are tested against :func:`neuron_multi_step_loop`, the plain autograd loop.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

InvTau = float | torch.Tensor | None
Surrogate = Callable[[torch.Tensor], torch.Tensor]
BACKENDS = ("auto", "numba", "triton", "torch")


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
    if inv_tau is None:
        return v + x
    vr = 0.0 if v_reset is None else v_reset
    if decay_input:
        return v + (x - (v - vr)) * inv_tau
    return v - (v - vr) * inv_tau + x


def neuron_fire(h: torch.Tensor, v_threshold: float, surrogate_function: Surrogate) -> torch.Tensor:
    """Fire: ``S = surrogate_function(h - v_threshold)`` (1 where ``h >= v_threshold``)."""
    return surrogate_function(h - v_threshold)


def neuron_reset(
    h: torch.Tensor, s: torch.Tensor, v_threshold: float, v_reset: float | None, detach_reset: bool = False
) -> torch.Tensor:
    """Reset: hard ``V = h (1 - s) + v_reset s``, or soft ``V = h - v_threshold s`` when ``v_reset`` is None."""
    if detach_reset:
        s = s.detach()
    if v_reset is None:
        return h - s * v_threshold
    return h * (1.0 - s) + s * v_reset


def neuron_step(
    x: torch.Tensor,
    v: torch.Tensor,
    inv_tau: InvTau = None,
    decay_input: bool = True,
    v_threshold: float = 1.0,
    v_reset: float | None = 0.0,
    surrogate_function: Surrogate | None = None,
    detach_reset: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    """One time step of an IF (``inv_tau=None``) or LIF neuron: returns ``(spikes, new membrane)``.

    Shapes: ``x`` and ``v`` ``[B, ...]`` (``v`` may be a float that broadcasts); both outputs ``[B, ...]``.
    ``surrogate_function`` defaults to ``surrogate.ATan()``.

    Example::

        >>> import torch
        >>> from spikestep.functional.neuron import neuron_step
        >>> s, v = neuron_step(torch.tensor([0.5, 1.5]), torch.tensor([0.2, 0.2]))  # IF, hard reset to 0
        >>> s, v
        (tensor([0., 1.]), tensor([0.7000, 0.0000]))
    """
    if surrogate_function is None:
        surrogate_function = _default_surrogate()
    h = neuron_charge(x, v, inv_tau, decay_input, v_reset)
    s = neuron_fire(h, v_threshold, surrogate_function)
    return s, neuron_reset(h, s, v_threshold, v_reset, detach_reset)


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
    """The reference multi-step path: :func:`neuron_step` over ``x_seq`` ``[T, B, ...]``, autograd through all.

    Returns ``(s_seq, v_seq)``, both ``[T, B, ...]``; ``v_seq[-1]`` is the membrane to carry on. Slow
    (about ten autograd nodes per step): use :func:`neuron_multi_step`, which computes the same numbers.
    """
    spikes, membranes = [], []
    for x in x_seq:
        s, v = neuron_step(x, v, inv_tau, decay_input, v_threshold, v_reset, surrogate_function, detach_reset)
        spikes.append(s)
        membranes.append(v)
    return torch.stack(spikes), torch.stack(membranes)


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
    sequence ``[T, B, ...]`` if ``store_v_seq`` else the last membrane ``[B, ...]``.

    ``backend``: ``'numba'`` (parallel CPU kernel; float32/float64 CPU tensors and the built-in
    surrogates; raises ``RuntimeError`` where it cannot run), ``'triton'`` (the same on CUDA tensors),
    ``'torch'`` (pure-PyTorch fused walk, any device, dtype and surrogate) or ``'auto'`` (the choice of
    :func:`spikestep.kernels.use_backend`, by default the compiled kernel where it applies, else torch).

    Example::

        >>> import torch
        >>> from spikestep.functional.neuron import neuron_multi_step
        >>> s, v = neuron_multi_step(torch.full((3, 1), 1.5), torch.zeros(1), inv_tau=0.5)  # LIF, tau = 2
        >>> s.flatten(), v
        (tensor([0., 1., 0.]), tensor([0.7500]))
    """
    from .. import kernels
    from ..kernels import neuron_numba, neuron_torch, neuron_triton

    if surrogate_function is None:
        surrogate_function = _default_surrogate()
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {list(BACKENDS)}, got {backend!r}")
    if not isinstance(v, torch.Tensor):
        v = torch.full(x_seq.shape[1:], float(v), dtype=x_seq.dtype, device=x_seq.device)
    v = v.to(x_seq.dtype)
    if isinstance(inv_tau, torch.Tensor):
        inv_tau = inv_tau.to(x_seq.dtype)
    if x_seq.shape[0] == 0:  # nothing to walk: no spikes, the membrane passes through
        return x_seq.new_empty(x_seq.shape), (x_seq.new_empty(x_seq.shape) if store_v_seq else v)
    args = (x_seq, v, inv_tau, decay_input, v_threshold, v_reset, surrogate_function, detach_reset)
    # 'auto' defers to the context's choice (kernels.use_backend), which itself defaults to 'auto'.
    requested = None if backend == "auto" else backend
    tensors = (x_seq, v, inv_tau) if isinstance(inv_tau, torch.Tensor) else (x_seq, v)
    chosen = kernels.resolve_backend(*tensors, backend=requested)
    if chosen != "torch":
        compiled = neuron_numba if chosen == "numba" else neuron_triton
        reason = compiled.unsupported_reason(x_seq, v, inv_tau, surrogate_function)
        if reason is None:
            walk = neuron_numba.neuron_walk_numba if chosen == "numba" else neuron_triton.neuron_walk_triton
            return walk(*args, store_v_seq)
        if (requested or kernels.requested_backend()) == chosen:
            raise RuntimeError(f"backend {chosen!r} was forced, but {reason}; use backend 'auto' or 'torch'")
    return neuron_torch.neuron_walk_torch(*args, store_v_seq)


def _default_surrogate() -> Surrogate:
    from ..surrogate import ATan

    return ATan()

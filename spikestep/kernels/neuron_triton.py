"""The fused neuron walk on CUDA: Triton kernels, one launch forward and one backward.

Same contract and recurrence as :mod:`.neuron_torch` (the reference on every device) and
:mod:`.neuron_numba` (the CPU kernels), and the same constants (``neuron_numba.walk_config``). On a GPU
the pure-PyTorch walk costs a dozen kernel launches per time step, so it is no faster than the per-step
loop; here each program walks all ``T`` steps for ``BLOCK`` neurons with the membrane in registers.

* forward: writes the spikes, the membranes if asked and, when a backward will follow, ``H`` (on a GPU
  the extra ``[T, N]`` stream is cheap, and it turns the backward into one pass);
* backward: one reverse walk over ``H`` (see ``_neuron_triton_jit.neuron_backward``); a learnable
  ``1/tau`` gets its per-neuron sums in float64, summed on the device.

Built-in spiking surrogates only (ATan, Sigmoid, PiecewiseQuadratic); anything else runs the PyTorch walk.
"""

from __future__ import annotations

from typing import Any

import torch

from . import _triton
from .neuron_numba import (
    _GV_LAST,
    _GV_NONE,
    _GV_SEQ,
    _LIF_DECAY_INPUT,
    _kernel_surrogate,
    grad_is_one_value,
    walk_config,
)

_BLOCK = 512


def unsupported_reason(
    x_seq: torch.Tensor, v0: torch.Tensor, inv_tau: Any, surrogate_function: Any
) -> str | None:
    """Why the Triton kernel cannot run this call, or None when it can."""
    if not _triton.available():
        return _triton.unavailable_reason()
    for t in (x_seq, v0, inv_tau):
        if isinstance(t, torch.Tensor) and not _triton.supports(t):
            return f"it only runs float32/float64 CUDA tensors, got {t.dtype} on {t.device}"
    if _kernel_surrogate(surrogate_function) is None:
        return (
            f"its kernel only knows the built-in spiking surrogates (ATan, Sigmoid, PiecewiseQuadratic), got "
            f"{type(surrogate_function).__name__}"
        )
    return None


def _grid(n: int) -> tuple[int]:
    return (max(1, -(-n // _BLOCK)),)


class _NeuronWalkTriton(torch.autograd.Function):
    @staticmethod
    def forward(
        ctx: Any, x_seq: torch.Tensor, v0: torch.Tensor, k_tensor: torch.Tensor | None, cfg: tuple[Any, ...]
    ) -> tuple[torch.Tensor, torch.Tensor]:
        jit = _triton.load("_neuron_triton_jit")
        p, kind, hard, _, _, store_v_seq = cfg
        n_steps = x_seq.shape[0]
        x2 = x_seq.detach().contiguous().reshape(n_steps, -1)
        n = x2.shape[1]
        v2 = v0.detach().contiguous().reshape(-1)
        s2 = torch.empty_like(x2)
        vout2 = torch.empty((n_steps if store_v_seq else 1, n), dtype=x2.dtype, device=x2.device)
        save_h = any(ctx.needs_input_grad[:3])
        h2 = torch.empty_like(x2) if save_h else s2  # s2 stands in: never written when SAVE_H is False
        jit.neuron_forward[_grid(n)](
            x2, v2, p, s2, h2, vout2, n_steps, n,
            KIND=kind, HARD=hard, SAVE_H=save_h, STORE_V_SEQ=store_v_seq, BLOCK=_BLOCK, **_triton.LAUNCH,
        )  # fmt: skip
        if save_h:
            need_x = k_tensor is not None and ctx.needs_input_grad[2] and kind == _LIF_DECAY_INPUT
            ctx.save_for_backward(h2, x2 if need_x else None, v2, k_tensor)
        ctx.cfg = cfg
        ctx.shapes = (x_seq.shape, v0.shape)
        ctx.set_materialize_grads(False)
        v_out = vout2.reshape(x_seq.shape) if store_v_seq else vout2.reshape(v0.shape)
        return s2.reshape(x_seq.shape), v_out

    @staticmethod
    def backward(ctx: Any, grad_s: torch.Tensor | None, grad_v: torch.Tensor | None) -> tuple[Any, ...]:
        jit = _triton.load("_neuron_triton_jit")
        h2, x2, v2, k_tensor = ctx.saved_tensors
        p, kind, hard, sid, detach_reset, store_v_seq = ctx.cfg
        x_shape, v_shape = ctx.shapes
        n_steps, n = h2.shape
        # The spikes' gradient as [T, N], or one row for every step when it is a single value broadcast
        # everywhere (the gradient of s.sum() or s.mean(), or none at all): no [T, N] copy.
        gs_per_step = grad_s is not None and not grad_is_one_value(grad_s)
        if gs_per_step:
            gs = grad_s.to(h2.dtype).contiguous().reshape(n_steps, n)
        elif grad_s is None:
            gs = torch.zeros(n, dtype=h2.dtype, device=h2.device)
        else:
            gs = grad_s.to(h2.dtype).reshape(-1)[:1].expand(n).contiguous()
        if grad_v is None:
            gv, gv_mode = gs, _GV_NONE  # gs stands in: never read
        else:
            gv = grad_v.to(h2.dtype).contiguous().reshape(-1, n)
            gv_mode = _GV_SEQ if store_v_seq else _GV_LAST
        need_k = k_tensor is not None and ctx.needs_input_grad[2]
        grad_x = torch.empty_like(h2)
        grad_v0 = torch.empty_like(v2)
        acc = torch.empty(n if need_k else 1, dtype=torch.float64, device=h2.device)
        jit.neuron_backward[_grid(n)](
            h2, x2 if x2 is not None else h2, v2, p, gs, gv, grad_x, grad_v0, acc, n_steps, n,
            KIND=kind, HARD=hard, DETACH=detach_reset, SID=sid, GS_PER_STEP=gs_per_step, GV_MODE=gv_mode,
            NEED_K=need_k, BLOCK=_BLOCK, **_triton.LAUNCH,
        )  # fmt: skip
        grad_k = acc.sum().to(k_tensor.dtype).reshape(k_tensor.shape) if need_k else None
        return (
            grad_x.reshape(x_shape) if ctx.needs_input_grad[0] else None,
            grad_v0.reshape(v_shape) if ctx.needs_input_grad[1] else None,
            grad_k,
            None,
        )


def neuron_walk_triton(
    x_seq: torch.Tensor,
    v0: torch.Tensor,
    inv_tau: float | torch.Tensor | None,
    decay_input: bool,
    v_threshold: float,
    v_reset: float | None,
    surrogate_function: Any,
    detach_reset: bool,
    store_v_seq: bool,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Fused multi-step neuron on the Triton kernels (same contract as ``neuron_walk_torch``).

    Call only when :func:`unsupported_reason` returns None.
    """
    p, kind, sid, k_tensor = walk_config(
        x_seq, inv_tau, decay_input, v_threshold, v_reset, surrogate_function
    )
    cfg = (torch.from_numpy(p).to(x_seq.device), kind, v_reset is not None, sid, detach_reset, store_v_seq)
    return _NeuronWalkTriton.apply(x_seq, v0, k_tensor, cfg)

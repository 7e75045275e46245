"""The synapse filter over a whole sequence, fused: one walk over time forward, one walk back.

The recurrence is ``spikestep.functional.synapse_filter_step``; its affine form, with ``k = 1/tau``,

.. math::
    I[t] = a[t] I[t-1] + x[t], \\qquad a[t] = 1 - (1 - x[t]) k

is what both backends walk. Its derivatives, given the gradient ``gI`` of the outputs:

.. math::
    g[t] = gI[t] + a[t+1] g[t+1], \\quad gx[t] = g[t] (1 + k I[t-1]), \\quad
    gk = \\sum_t g[t] (x[t] - 1) I[t-1], \\quad g_{state} = a[0] g[0]

The four pieces (``_decay``, ``_advance``, ``_input_gain``, ``_inv_tau_gain``) are written once below and
called by the torch walk on whole tensors and by the numba kernels on scalars. The tests check every
backend against a per-step loop of ``synapse_filter_step`` and with ``gradcheck``.

No per-step autograd graph is kept: the forward saves the input, the output and the carried-in state,
and the backward recomputes ``a`` from the input. Peak memory of forward+backward is a few ``[T, ...]``
tensors. The backward yields gradients to the input, to the carried-in state (so gradients flow
across chunks unless the caller detaches) and to ``inv_tau`` when it is a tensor that requires grad.

dtypes: float32/float64 run the numba kernels on the CPU and the Triton kernels on CUDA when those are
usable (:mod:`._synapse_filter_triton_jit`); everything else (float16, bfloat16) runs the torch walk in the
tensor's own dtype, as the per-step loop would.
"""

from __future__ import annotations

import numbers

import torch
from torch.autograd.function import once_differentiable

from . import _numba, _triton, resolve_backend

try:
    import numpy as np
except ImportError:  # numba needs numpy: without it only the torch walk runs, which does not use it
    np = None  # type: ignore[assignment]

InvTau = float | torch.Tensor

# Elements of N per block of the numba kernels. Each step touches one piece of _BLOCK columns in every
# [T, N] array: long pieces let the hardware prefetcher stream them (it stops at each piece's end), while
# the block's carried row (32 KiB in float32) stays in cache.
_BLOCK = 8192


# --- The recurrence's pieces, written once (tensors with one=1.0; numba scalars with a typed one) ---


@_numba.jitable
def _decay(x, k, one):  # type: ignore[no-untyped-def]
    """``a[t] = dI[t]/dI[t-1] = 1 - (1 - x[t]) k``."""
    return one - (one - x) * k


@_numba.jitable
def _advance(x, a, prev):  # type: ignore[no-untyped-def]
    """``I[t] = a[t] I[t-1] + x[t]``."""
    return a * prev + x


@_numba.jitable
def _input_gain(prev, k, one):  # type: ignore[no-untyped-def]
    """``dI[t]/dx[t] = 1 + k I[t-1]``."""
    return one + k * prev


@_numba.jitable
def _inv_tau_gain(x, prev, one):  # type: ignore[no-untyped-def]
    """``dI[t]/dk = (x[t] - 1) I[t-1]``."""
    return (x - one) * prev


# --- torch backend: one op per time step, everything else vectorised over [T, N] ---


def _torch_forward(x: torch.Tensor, state: torch.Tensor, k: float | torch.Tensor) -> torch.Tensor:
    a = _decay(x, k, 1.0)
    out = torch.empty_like(x)
    prev = state
    # torch.addcmul(x, a, prev) is _advance(x, a, prev) in one op that writes in place: the only op per step.
    for x_t, a_t, out_t in zip(x.unbind(0), a.unbind(0), out.unbind(0), strict=True):
        torch.addcmul(x_t, a_t, prev, out=out_t)
        prev = out_t
    return out


def _torch_backward(
    grad_out: torch.Tensor,
    x: torch.Tensor,
    out: torch.Tensor,
    state: torch.Tensor,
    k: float | torch.Tensor,
    need_k: bool,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    a = _decay(x, k, 1.0)
    g = torch.empty_like(x)
    g_steps, a_steps, grad_steps = g.unbind(0), a.unbind(0), grad_out.unbind(0)
    g_steps[-1].copy_(grad_steps[-1])
    for t in range(x.shape[0] - 2, -1, -1):  # g[t] = gI[t] + a[t+1] g[t+1], one op per step
        torch.addcmul(grad_steps[t], a_steps[t + 1], g_steps[t + 1], out=g_steps[t])
    grad_state = a[0] * g[0]
    del a
    grad_k = None
    if need_k:  # reduced once, at the end
        grad_k = (g[1:] * _inv_tau_gain(x[1:], out[:-1], 1.0)).sum() + (
            g[0] * _inv_tau_gain(x[0], state, 1.0)
        ).sum()
    # g becomes the input's gradient in place: gx[t] = g[t] (1 + k I[t-1]).
    g[1:].mul_(_input_gain(out[:-1], k, 1.0))
    g[0].mul_(_input_gain(state, k, 1.0))
    return g, grad_state, grad_k


# --- numba backend: serial kernels over a range of columns [lo, hi); threads split the columns ---


def _numba_forward_walk(x, state, k, one, out, lo, hi):  # type: ignore[no-untyped-def]
    # Row slices indexed from 0 let LLVM drop numba's negative-index checks and vectorise the inner loop.
    # The carried row is a fresh copy, not a view of ``state``/``out``: LLVM then knows it aliases
    # nothing and vectorises without run-time overlap checks (views of the arguments made the neuron
    # kernels 2x slower).
    n_steps = x.shape[0]
    for b0 in range(lo, hi, _BLOCK):  # a block of columns walks all T steps while its row is in cache
        b1 = min(b0 + _BLOCK, hi)
        cur = state[b0:b1].copy()
        for t in range(n_steps):
            x_t, out_t = x[t, b0:b1], out[t, b0:b1]
            for j in range(b1 - b0):
                cur[j] = _advance(x_t[j], _decay(x_t[j], k, one), cur[j])
                out_t[j] = cur[j]


def _numba_backward_walk(grad_out, x, out, state, k, one, need_k, grad_x, grad_state, lo, hi):  # type: ignore[no-untyped-def]
    # g carries g[t] from step to step (it ends as a[0] g[0], the state's gradient); like the forward's
    # row, g and gk are fresh per block so the loops vectorise. gk is summed per column in float64 (per
    # column keeps the inner loop vectorisable) and reduced once per block; with a fixed tau (need_k
    # False) its loop is skipped.
    n_steps = x.shape[0]
    total = 0.0
    for b0 in range(lo, hi, _BLOCK):
        b1 = min(b0 + _BLOCK, hi)
        gk = np.zeros(b1 - b0, np.float64)
        g = grad_out[n_steps - 1, b0:b1].copy()
        for t in range(n_steps - 1, -1, -1):
            x_t, grad_x_t = x[t, b0:b1], grad_x[t, b0:b1]
            prev = out[t - 1, b0:b1] if t > 0 else state[b0:b1]
            if need_k:
                for j in range(b1 - b0):
                    gk[j] += g[j] * _inv_tau_gain(x_t[j], prev[j], one)
            if t > 0:  # g[t-1] = gI[t-1] + a[t] g[t]
                grad_in = grad_out[t - 1, b0:b1]
                for j in range(b1 - b0):
                    g_j = g[j]
                    grad_x_t[j] = g_j * _input_gain(prev[j], k, one)
                    g[j] = grad_in[j] + _decay(x_t[j], k, one) * g_j
            else:  # t = 0: the carried-in state's gradient is a[0] g[0]
                for j in range(b1 - b0):
                    g_j = g[j]
                    grad_x_t[j] = g_j * _input_gain(prev[j], k, one)
                    g[j] = _decay(x_t[j], k, one) * g_j
        grad_state[b0:b1] = g
        total += gk.sum()
    return total


_numba_forward = _numba.kernel(_numba_forward_walk)
_numba_backward = _numba.kernel(_numba_backward_walk)


def _as_numpy(t: torch.Tensor, n_steps: int) -> np.ndarray:
    """``t`` (contiguous, CPU) as a numpy array sharing its memory: ``[T, N]`` for ``n_steps``, else ``[N]``
    (numpy's reshape is cheaper than torch's view, which matters for short sequences)."""
    return t.detach().numpy().reshape(n_steps, -1) if n_steps else t.detach().numpy().reshape(-1)


def _numba_forward_call(
    x: torch.Tensor, state: torch.Tensor, k: float
) -> tuple[torch.Tensor, tuple[np.ndarray, ...]]:
    """Returns the output (``x``'s shape) and the numpy views the backward reuses."""
    n_steps = x.shape[0]
    out = torch.empty_like(x)
    xn, sn, on = _as_numpy(x, n_steps), _as_numpy(state, 0), _as_numpy(out, n_steps)
    kn, one = xn.dtype.type(k), _numba.one_like(xn)
    _numba.run_chunks(lambda lo, hi: _numba_forward(xn, sn, kn, one, on, lo, hi), xn.shape[1], n_steps)
    return out, (xn, sn, on)


def _numba_backward_call(
    grad_out: torch.Tensor, arrays: tuple[np.ndarray, ...], state: torch.Tensor, k: float, need_k: bool
) -> tuple[torch.Tensor, torch.Tensor, float]:
    xn, sn, on = arrays
    n_steps = xn.shape[0]
    grad_x = torch.empty_like(grad_out)
    grad_state = torch.empty_like(state)
    gn, gxn, gsn = _as_numpy(grad_out, n_steps), _as_numpy(grad_x, n_steps), _as_numpy(grad_state, 0)
    kn, one = xn.dtype.type(k), _numba.one_like(xn)
    partial_sums = _numba.run_chunks(
        lambda lo, hi: _numba_backward(gn, xn, on, sn, kn, one, need_k, gxn, gsn, lo, hi),
        xn.shape[1],
        3 * n_steps,
    )
    return grad_x, grad_state, sum(partial_sums)


# --- triton backend (CUDA): one program per block of columns walks all T steps ---

_TRITON_BLOCK = 512


def _triton_k(k: float | torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """``k`` as the one-element tensor the kernels read (no host sync for a tensor ``k``)."""
    return torch.as_tensor(k, dtype=x.dtype, device=x.device).reshape(1)


def _triton_forward_call(x: torch.Tensor, state: torch.Tensor, k: float | torch.Tensor) -> torch.Tensor:
    jit = _triton.load("_synapse_filter_triton_jit")
    n_steps = x.shape[0]
    n = x[0].numel()
    out = torch.empty_like(x)
    grid = (max(1, -(-n // _TRITON_BLOCK)),)
    jit.synapse_filter_forward[grid](
        x, state, _triton_k(k, x), out, n_steps, n, BLOCK=_TRITON_BLOCK, **_triton.LAUNCH
    )
    return out


def _triton_backward_call(
    grad_out: torch.Tensor,
    x: torch.Tensor,
    out: torch.Tensor,
    state: torch.Tensor,
    k: float | torch.Tensor,
    need_k: bool,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    jit = _triton.load("_synapse_filter_triton_jit")
    n_steps = x.shape[0]
    n = x[0].numel()
    grad_x = torch.empty_like(x)
    grad_state = torch.empty_like(state)
    gk = torch.empty(n if need_k else 1, dtype=torch.float64, device=x.device)
    grid = (max(1, -(-n // _TRITON_BLOCK)),)
    jit.synapse_filter_backward[grid](
        grad_out, x, out, state, _triton_k(k, x), grad_x, grad_state, gk, n_steps, n,
        NEED_K=need_k, BLOCK=_TRITON_BLOCK, **_triton.LAUNCH,
    )  # fmt: skip
    return grad_x, grad_state, (gk.sum() if need_k else None)


# --- the fused operation ---


def _torch_forward_any_shape(x: torch.Tensor, state: torch.Tensor, k: float | torch.Tensor) -> torch.Tensor:
    return _torch_forward(x.view(x.shape[0], -1), state.view(-1), k).view(x.shape)


def _forward(x: torch.Tensor, state: torch.Tensor, k: float | torch.Tensor, backend: str) -> torch.Tensor:
    """The walk on contiguous ``x [T, ...]`` and ``state [...]`` without autograd."""
    if backend == "numba":
        return _numba_forward_call(x, state, k)[0]
    if backend == "triton":
        return _triton_forward_call(x, state, k)
    return _torch_forward_any_shape(x, state, k)


class _SynapseFilterWalk(torch.autograd.Function):
    """``x [T, ...]`` and ``state [...]`` (contiguous), ``inv_tau`` (0-d tensor or None), ``k`` (its value)."""

    @staticmethod
    def forward(  # type: ignore[override]
        ctx: torch.autograd.function.FunctionCtx,
        x: torch.Tensor,
        state: torch.Tensor,
        inv_tau: torch.Tensor | None,
        k: float | torch.Tensor,
        backend: str,
    ) -> torch.Tensor:
        if backend == "numba":
            out, ctx.arrays = _numba_forward_call(x, state, k)
        else:
            out = _forward(x, state, k, backend)
        # Saved for the version checks (an in-place change to any of them makes backward raise).
        ctx.save_for_backward(x, out, state)
        ctx.k, ctx.backend = k, backend
        ctx.inv_tau_dtype = inv_tau.dtype if inv_tau is not None else None
        return out

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_out: torch.Tensor):  # type: ignore[no-untyped-def, override]
        x, out, state = ctx.saved_tensors
        need_x, need_state, need_k = ctx.needs_input_grad[:3]
        grad_out = grad_out.contiguous()
        if ctx.backend == "numba":
            grad_x, grad_state, grad_k = _numba_backward_call(grad_out, ctx.arrays, state, ctx.k, need_k)
        elif ctx.backend == "triton":
            grad_x, grad_state, grad_k = _triton_backward_call(grad_out, x, out, state, ctx.k, need_k)
        else:
            n_steps = x.shape[0]
            grad_x, grad_state, grad_k = _torch_backward(
                grad_out.view(n_steps, -1),
                x.view(n_steps, -1),
                out.view(n_steps, -1),
                state.view(-1),
                ctx.k,
                need_k,
            )
            grad_x, grad_state = grad_x.view(x.shape), grad_state.view(state.shape)
        grad_k = torch.as_tensor(grad_k, dtype=ctx.inv_tau_dtype, device=x.device) if need_k else None
        return (grad_x if need_x else None, grad_state if need_state else None, grad_k, None, None)


def _reference_walk(x_seq: torch.Tensor, state: torch.Tensor, inv_tau: InvTau) -> torch.Tensor:
    from ..functional.synapse_filter import synapse_filter_step  # lazy: functional imports this module

    outputs = []
    for x in x_seq:
        state = synapse_filter_step(x, state, inv_tau)
        outputs.append(state)
    return torch.stack(outputs)


def _fusable(x_seq: torch.Tensor, state: torch.Tensor, inv_tau: InvTau) -> bool:
    """The fused walk covers floating x and state of one dtype and device, state broadcastable to one
    step of x, and a scalar inv_tau; anything else keeps the per-step loop's own semantics."""
    if not (isinstance(x_seq, torch.Tensor) and isinstance(state, torch.Tensor)):
        return False
    if not x_seq.is_floating_point() or x_seq.dim() < 1 or x_seq.shape[0] == 0:
        return False
    if state.dtype != x_seq.dtype or state.device != x_seq.device:
        return False
    if state.shape != x_seq.shape[1:]:  # the common case skips broadcast_shapes, slow for small tensors
        try:
            if torch.broadcast_shapes(state.shape, x_seq.shape[1:]) != x_seq.shape[1:]:
                return False
        except RuntimeError:
            return False
    if isinstance(inv_tau, torch.Tensor):
        return inv_tau.dim() == 0 and inv_tau.is_floating_point() and inv_tau.device == x_seq.device
    return isinstance(inv_tau, numbers.Real) and not isinstance(inv_tau, bool)


def synapse_filter_walk(
    x_seq: torch.Tensor, state: torch.Tensor, inv_tau: InvTau, backend: str | None = None
) -> torch.Tensor:
    """``I[t] = I[t-1] - (1 - x[t]) I[t-1] k + x[t]`` for all ``t``, fused: ``x_seq [T, ...]``, ``state``
    (``I[-1]``, broadcastable to ``[...]``), ``inv_tau = k``: a float or a 0-d tensor (gradients flow to
    it). Returns ``I [T, ...]``. ``backend`` (``'auto'``, ``'numba'``, ``'torch'``) overrides
    :func:`spikestep.kernels.use_backend`.

    Inputs outside the fused walk's scope (integer or mixed dtypes, a non-scalar ``inv_tau``, ``T = 0``)
    run the per-step loop instead, with its semantics.

    Example::

        >>> import torch
        >>> from spikestep.kernels.synapse_filter import synapse_filter_walk
        >>> synapse_filter_walk(torch.tensor([[1.0], [0.0], [0.0]]), torch.zeros(1), 0.5).flatten()
        tensor([1.0000, 0.5000, 0.2500])
    """
    if not _fusable(x_seq, state, inv_tau):
        if isinstance(x_seq, torch.Tensor) and x_seq.dim() >= 1 and x_seq.shape[0] == 0:
            return torch.empty_like(x_seq)
        return _reference_walk(x_seq, state, inv_tau)
    x = x_seq.contiguous()
    if state.shape != x.shape[1:]:
        state = state.expand(x.shape[1:])  # autograd sums the gradient back to the state's own shape
    state = state.contiguous()
    chosen = resolve_backend(x, state, backend=backend)
    k_tensor = inv_tau.detach().to(x.dtype) if isinstance(inv_tau, torch.Tensor) else None
    # numba takes a Python float; the torch and Triton walks keep a tensor (no device sync on CUDA).
    k = float(inv_tau) if k_tensor is None else (float(k_tensor) if chosen == "numba" else k_tensor)
    needs_graph = torch.is_grad_enabled() and (
        x.requires_grad or state.requires_grad or (k_tensor is not None and inv_tau.requires_grad)
    )
    if not needs_graph:  # forward only: skip the autograd.Function's bookkeeping
        return _forward(x, state, k, chosen)
    return _SynapseFilterWalk.apply(x, state, inv_tau if k_tensor is not None else None, k, chosen)

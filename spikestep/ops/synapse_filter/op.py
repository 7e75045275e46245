"""The synapse filter walk as a registered PyTorch operator, ``torch.ops.spikestep.synapse_filter``.

The compiler sees one operator (``torch.compile`` traces through it without a graph break), with a
fake implementation for shapes and an autograd formula that calls a second operator for the backward.
Inside, the backend (numba, Triton or torch) is chosen at run time by ``ops.resolve_backend``.
"""

from __future__ import annotations

import torch

from ..._runtime import thread_policy, triton_jit
from .._columns import per_column
from .._dispatch import resolve_backend
from . import numba_kernel, torch_walk


def _implementation(backend: str):  # type: ignore[no-untyped-def]
    if backend == "numba":
        return numba_kernel
    if backend == "triton":
        return triton_jit.load("spikestep.ops.synapse_filter.triton_kernel")
    return torch_walk


def _flat(x: torch.Tensor, state: torch.Tensor, k: torch.Tensor, backend: str) -> tuple[torch.Tensor, ...]:
    """``x [T, N]``, ``state [N]`` and ``k [N]`` (``k`` spread to one value per column), or ``k [1]`` on
    numba when it is one value (its kernels take that as a scalar)."""
    k2 = k.reshape(1) if backend == "numba" and k.numel() == 1 else per_column(k, x.shape[1:], backend)
    return x.reshape(x.shape[0], -1), state.reshape(-1), k2


def _filter_forward(x: torch.Tensor, state: torch.Tensor, k: torch.Tensor, backend: str) -> torch.Tensor:
    """``I [T, ...]`` from contiguous ``x [T, ...]``, ``state [...]`` and ``k`` (broadcasts to ``[...]``)."""
    thread_policy.adapt()
    chosen = resolve_backend(x, state, k, backend=backend)
    x2, s2, k2 = _flat(x, state, k, chosen)
    return _implementation(chosen).forward(x2, s2, k2).view(x.shape)


synapse_filter = torch.library.custom_op("spikestep::synapse_filter", _filter_forward, mutates_args=())


@synapse_filter.register_fake
def _(x: torch.Tensor, state: torch.Tensor, k: torch.Tensor, backend: str) -> torch.Tensor:
    return torch.empty_like(x)


def _filter_backward(
    grad_out: torch.Tensor,
    x: torch.Tensor,
    out: torch.Tensor,
    state: torch.Tensor,
    k: torch.Tensor,
    need_k: bool,
    backend: str,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(grad_x, grad_state, grad_k)``; ``grad_k`` has ``k``'s shape (zeros unless ``need_k``)."""
    chosen = resolve_backend(x, state, k, backend=backend)
    x2, s2, k2 = _flat(x, state, k, chosen)
    grad_x, grad_state, grad_k = _implementation(chosen).backward(
        grad_out.contiguous().view(x2.shape), x2, out.reshape(x2.shape), s2, k2, need_k
    )
    if grad_k is None:
        grad_k_out = torch.zeros_like(k)
    else:
        grad_k_out = grad_k.view(x.shape[1:]).sum_to_size(k.shape).to(k.dtype)
    return grad_x.view(x.shape), grad_state.view(state.shape), grad_k_out


synapse_filter_backward = torch.library.custom_op(
    "spikestep::synapse_filter_backward", _filter_backward, mutates_args=()
)


@synapse_filter_backward.register_fake
def _(grad_out, x, out, state, k, need_k, backend):  # type: ignore[no-untyped-def]
    return torch.empty_like(x), torch.empty_like(state), torch.empty_like(k)


def _setup_context(ctx, inputs, output) -> None:  # type: ignore[no-untyped-def]
    x, state, k, backend = inputs
    ctx.save_for_backward(x, output, state, k)
    ctx.backend = backend


def _backward(ctx, grad_out, backward_op=None):  # type: ignore[no-untyped-def]
    # The registered autograd formula calls the registered backward operator (it runs where the forward
    # operator was traced); the eager Function passes the implementation itself.
    backward_op = backward_op or synapse_filter_backward
    x, out, state, k = ctx.saved_tensors
    need_x, need_state, need_k = ctx.needs_input_grad[:3]
    grad_x, grad_state, grad_k = backward_op(grad_out, x, out, state, k, need_k, ctx.backend)
    return (grad_x if need_x else None, grad_state if need_state else None, grad_k if need_k else None, None)


synapse_filter.register_autograd(_backward, setup_context=_setup_context)


class _EagerFilter(torch.autograd.Function):
    """The registered operators' forward and backward for eager calls, without their Python dispatch
    (see ``spikestep.ops.neuron.op._EagerWalk``)."""

    @staticmethod
    def forward(ctx, x, state, k, backend):  # type: ignore[no-untyped-def, override]
        out = _filter_forward(x, state, k, backend)
        ctx.save_for_backward(x, out, state, k)
        ctx.backend = backend
        return out

    @staticmethod
    def backward(ctx, grad_out):  # type: ignore[no-untyped-def, override]
        return _backward(ctx, grad_out, _filter_backward)


def walk(x: torch.Tensor, state: torch.Tensor, k: torch.Tensor, backend: str) -> torch.Tensor:
    """The filter walk: the registered operator while ``torch.compile`` traces, the same implementation
    through :class:`_EagerFilter` in eager mode, and the forward alone when no gradient is needed."""
    if torch.compiler.is_compiling():
        return synapse_filter(x, state, k, backend)
    if torch.is_grad_enabled() and (x.requires_grad or state.requires_grad or k.requires_grad):
        return _EagerFilter.apply(x, state, k, backend)
    return _filter_forward(x, state, k, backend)

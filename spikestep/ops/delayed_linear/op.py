"""The delayed linear map as a registered PyTorch operator, ``torch.ops.spikestep.delayed_linear``.

The compiler sees one operator (``torch.compile`` traces through it without a graph break), with a fake
implementation for shapes and an autograd formula that calls a second operator for the backward. The
backward recomputes the kernel (``O * I * (D+1)`` values) from the weights and delays instead of saving
it: a single-step call saves only the step's inputs.

Inside, the path is chosen at run time: the sparse kernels (``'linear'``, ``'round'``) run the numba
kernels (:mod:`.numba_kernel`) when ``ops.resolve_backend`` picks numba (CPU float32/float64), the
Triton kernels (:mod:`.triton_kernel`) when it picks Triton (CUDA float32/float64, with backend
``'auto'`` or ``'triton'``), the dense path (:mod:`.torch_walk`) otherwise. The Gaussian kernel is
dense (``D+1`` taps per synapse), so it always runs the dense path, a convolution (cuDNN on CUDA), as
fast as torch's convolution is: forcing ``'numba'`` or ``'triton'`` for it runs that path too.
"""

from __future__ import annotations

from typing import Any

import torch

from ..._runtime import thread_policy, triton_jit
from .._dispatch import resolve_backend
from . import math as dl_math
from . import numba_kernel, torch_walk

_OWNER = "delayed_linear"

Grads = tuple[torch.Tensor | None, torch.Tensor | None, torch.Tensor | None, torch.Tensor | None]
# What a sparse path's forward keeps for its backward: its kernels' module and what it prepared.
Cache = tuple[Any, Any]


def _path(kernel: str, backend: str, *tensors: torch.Tensor) -> str:
    """``'numba'`` or ``'triton'`` for a sparse kernel where that backend runs, else ``'dense'``."""
    chosen = resolve_backend(*tensors, backend=backend)
    return chosen if chosen in ("numba", "triton") and kernel != "gauss" else "dense"


def _kernels(path: str) -> Any:
    """The sparse kernels' module of ``path`` (``'numba'`` or ``'triton'``): ``prepare``, ``forward``,
    ``backward``."""
    if path == "triton":
        return triton_jit.load("spikestep.ops.delayed_linear.triton_kernel")
    return numba_kernel


def _empty(x: torch.Tensor) -> bool:
    return x.shape[0] == 0 or x.shape[1] == 0  # no step or no sample: nothing to convolve


def _forward_cached(
    held: torch.Tensor,
    x: torch.Tensor,
    weight: torch.Tensor,
    delay: torch.Tensor,
    sigma: float,
    kernel: str,
    backend: str,
) -> tuple[torch.Tensor, Cache | None]:
    """``y [T, N, O]`` from contiguous ``held [D, N, I]``, ``x [T, N, I]``, ``weight``, ``delay [O, I]``,
    and what a sparse path (numba, Triton) keeps for its backward (None on the dense path)."""
    thread_policy.adapt()
    if not numba_kernel.delays_in_range(delay, held.shape[0]):  # the numpy check, else torch's (and errors)
        dl_math.check_delays(delay, held.shape[0], _OWNER)
    path = _path(kernel, backend, held, x, weight, delay)
    if _empty(x):
        return x.new_zeros((x.shape[0], x.shape[1], weight.shape[0])), None
    if path != "dense":
        kernels = _kernels(path)
        prepared = kernels.prepare(held, x, weight, delay, kernel)
        return kernels.forward(prepared, weight.shape[0]), (kernels, prepared)
    return torch_walk.forward(held, x, weight, delay, sigma, kernel), None


def _forward(
    held: torch.Tensor,
    x: torch.Tensor,
    weight: torch.Tensor,
    delay: torch.Tensor,
    sigma: float,
    kernel: str,
    backend: str,
) -> torch.Tensor:
    """``y [T, N, O]`` (see :func:`_forward_cached`)."""
    return _forward_cached(held, x, weight, delay, sigma, kernel, backend)[0]


def _backward_impl(
    grad_y: torch.Tensor,
    held: torch.Tensor,
    x: torch.Tensor,
    weight: torch.Tensor,
    delay: torch.Tensor,
    sigma: float,
    kernel: str,
    need_held: bool,
    need_x: bool,
    need_params: bool,
    backend: str,
) -> Grads:
    """``(grad_held, grad_x, grad_weight, grad_delay)``, None where not needed."""
    path = _path(kernel, backend, held, x, weight, delay)
    if _empty(x):
        zeros = (
            torch.zeros_like(held),
            torch.zeros_like(x),
            torch.zeros_like(weight),
            torch.zeros_like(delay),
        )
        needs = (need_held, need_x, need_params, need_params)
        return tuple(z if need else None for z, need in zip(zeros, needs))  # type: ignore[return-value]
    grad_y = grad_y.contiguous()
    if path != "dense":
        kernels = _kernels(path)
        prepared = kernels.prepare(held, x, weight, delay, kernel)
        return kernels.backward(grad_y, prepared, weight, delay, kernel, need_held, need_x, need_params)
    return torch_walk.backward(grad_y, held, x, weight, delay, sigma, kernel, need_held, need_x, need_params)


delayed_linear = torch.library.custom_op("spikestep::delayed_linear", _forward, mutates_args=())


@delayed_linear.register_fake
def _(held, x, weight, delay, sigma, kernel, backend):  # type: ignore[no-untyped-def]
    return x.new_empty((x.shape[0], x.shape[1], weight.shape[0]))


def _backward_op_impl(
    grad_y: torch.Tensor,
    held: torch.Tensor,
    x: torch.Tensor,
    weight: torch.Tensor,
    delay: torch.Tensor,
    sigma: float,
    kernel: str,
    need_held: bool,
    need_x: bool,
    need_params: bool,
    backend: str,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """The backward as an operator: zeros stand for the gradients not asked for (an operator returns
    tensors only)."""
    grads = _backward_impl(
        grad_y, held, x, weight, delay, sigma, kernel, need_held, need_x, need_params, backend
    )
    like = (held, x, weight, delay)
    return tuple(g if g is not None else torch.zeros_like(t) for g, t in zip(grads, like))  # type: ignore[return-value]


delayed_linear_backward = torch.library.custom_op(
    "spikestep::delayed_linear_backward", _backward_op_impl, mutates_args=()
)


@delayed_linear_backward.register_fake
def _(grad_y, held, x, weight, delay, sigma, kernel, need_held, need_x, need_params, backend):  # type: ignore[no-untyped-def]
    return torch.empty_like(held), torch.empty_like(x), torch.empty_like(weight), torch.empty_like(delay)


def _setup_context(ctx, inputs, output) -> None:  # type: ignore[no-untyped-def]
    held, x, weight, delay, sigma, kernel, backend = inputs
    ctx.save_for_backward(held, x, weight, delay)
    ctx.settings = (sigma, kernel, backend)


def _backward(ctx, grad_y, backward_op=None):  # type: ignore[no-untyped-def]
    # The registered autograd formula calls the registered backward operator (it runs where the forward
    # operator was traced); the eager Function passes the implementation itself.
    backward_op = backward_op or delayed_linear_backward
    held, x, weight, delay = ctx.saved_tensors
    sigma, kernel, backend = ctx.settings
    needs = ctx.needs_input_grad[:4]
    need_params = needs[2] or needs[3]
    grads = backward_op(
        grad_y, held, x, weight, delay, sigma, kernel, needs[0], needs[1], need_params, backend
    )
    return (*(g if need else None for g, need in zip(grads, needs)), None, None, None)


delayed_linear.register_autograd(_backward, setup_context=_setup_context)


class _EagerDelayedLinear(torch.autograd.Function):
    """The registered operators' forward and backward for eager calls, without their Python dispatch
    (see ``spikestep.ops.neuron.op._EagerWalk``). On the sparse paths (numba, Triton) it keeps what the
    forward prepared (the inputs as rows, the taps) for the backward instead of the inputs themselves:
    the same memory, and the backward does not lay them out again."""

    @staticmethod
    def forward(ctx, held, x, weight, delay, sigma, kernel, backend):  # type: ignore[no-untyped-def, override]
        out, cache = _forward_cached(held, x, weight, delay, sigma, kernel, backend)
        ctx.cache = cache
        ctx.settings = (sigma, kernel, backend)
        if cache is None:
            ctx.save_for_backward(held, x, weight, delay)
        else:
            ctx.save_for_backward(weight, delay)
        return out

    @staticmethod
    def backward(ctx, grad_y):  # type: ignore[no-untyped-def, override]
        cache = ctx.cache  # kept with the graph: a backward with retain_graph may run again
        if cache is None:
            return _backward(ctx, grad_y, _backward_impl)
        kernels, prepared = cache
        weight, delay = ctx.saved_tensors
        kernel = ctx.settings[1]
        needs = ctx.needs_input_grad[:4]
        grads = kernels.backward(
            grad_y.contiguous(), prepared, weight, delay, kernel, needs[0], needs[1], needs[2] or needs[3]
        )
        return (*(g if need else None for g, need in zip(grads, needs)), None, None, None)


def walk(
    held: torch.Tensor,
    x: torch.Tensor,
    weight: torch.Tensor,
    delay: torch.Tensor,
    sigma: float,
    kernel: str,
    backend: str,
) -> torch.Tensor:
    """The map: the registered operator while ``torch.compile`` traces, the same implementation through
    :class:`_EagerDelayedLinear` in eager mode, and the forward alone when no gradient is needed."""
    if torch.compiler.is_compiling():
        return delayed_linear(held, x, weight, delay, sigma, kernel, backend)
    if torch.is_grad_enabled() and any(t.requires_grad for t in (held, x, weight, delay)):
        return _EagerDelayedLinear.apply(held, x, weight, delay, sigma, kernel, backend)
    return _forward(held, x, weight, delay, sigma, kernel, backend)

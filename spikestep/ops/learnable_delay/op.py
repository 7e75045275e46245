"""Learnable delays as a registered PyTorch operator, ``torch.ops.spikestep.learnable_delay``.

The compiler sees one operator (``torch.compile`` traces through it without a graph break), with a fake
implementation for shapes and an autograd formula that calls a second operator,
``spikestep::learnable_delay_backward``, for the gradients of ``x``, ``held`` and ``delay``. That backward
recomputes the taps (``K * C`` or ``K * C * (D + 1)`` values) from the delays; the eager path
(:class:`_EagerLearnableDelay`) keeps the forward's.

Inside, the backend (numba, Triton or torch) is chosen at run time by ``ops.resolve_backend``, and the form
by ``sigma``: two taps (:mod:`.math`'s sparse form) for ``sigma = 0``, the dense Gaussian otherwise. The
delays' gradient through the Gaussian is the chain rule of :func:`.math.dense_delay_grad` applied to the
taps' gradient the walk sums (as ``delayed_linear`` does), clamped as ``torch.clamp`` is.
"""

from __future__ import annotations

import functools
import math

import torch

from ..._runtime import thread_policy, triton_jit
from .._dispatch import resolve_backend
from . import math as ld_math
from . import numba_kernel, torch_walk

try:
    import numpy as np
except ImportError:  # numba needs numpy: without it the numba backend is never chosen
    np = None  # type: ignore[assignment]

Grads = tuple[torch.Tensor | None, torch.Tensor | None, torch.Tensor | None]


def _implementation(backend: str):  # type: ignore[no-untyped-def]
    if backend == "numba":
        return numba_kernel
    if backend == "triton":
        return triton_jit.load("spikestep.ops.learnable_delay.triton_kernel")
    return torch_walk


def _out_shape(x: torch.Tensor, delay: torch.Tensor) -> tuple[int, ...]:
    return (*x.shape[:-1], *delay.shape)


def _flat(x: torch.Tensor, held: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``x [T, N, C]`` and ``held [D, N, C]``, contiguous (``N`` = the dimensions between)."""
    n, c = math.prod(x.shape[1:-1]), x.shape[-1]
    return x.contiguous().view(x.shape[0], n, c), held.contiguous().view(held.shape[0], n, c)


def _trivial(x: torch.Tensor, held: torch.Tensor, delay: torch.Tensor) -> bool:
    """Nothing to walk: no step, no element, no tap, or ``D = 0`` (the identity)."""
    return held.shape[0] == 0 or x.numel() == 0 or delay.numel() == 0


def _taps(delay: torch.Tensor, d: int, sigma: float, dtype: torch.dtype, backend: str) -> tuple:
    """What the walks take, coefficients in ``dtype``: ``(k0, a0, a1)`` (``sigma = 0``; numpy arrays for
    the numba kernels, ``k0`` a float there and int64 elsewhere) or ``(taps,)``."""
    if sigma != 0.0:
        return (ld_math.dense_taps(delay, d, sigma).to(dtype),)
    if backend == "numba":
        k0, a0, a1 = ld_math.sparse_taps(delay.detach().numpy(), d, np)
        np_dtype = np.float32 if dtype == torch.float32 else np.float64  # the numba kernels' two dtypes
        return k0, a0.astype(np_dtype, copy=False), a1.astype(np_dtype, copy=False)
    k0, a0, a1 = ld_math.sparse_taps(delay, d)
    return k0.long(), a0.to(dtype), a1.to(dtype)


def _forward_cached(
    x: torch.Tensor, held: torch.Tensor, delay: torch.Tensor, sigma: float, backend: str
) -> tuple[torch.Tensor, tuple[torch.Tensor, ...] | None]:
    """``y [T, ..., K, C]`` from ``x [T, ..., C]``, ``held [D, ..., C]`` and ``delay [K, C]`` (one dtype),
    and the taps it used (None when there was nothing to walk), which the eager backward reuses."""
    thread_policy.adapt()
    chosen = resolve_backend(x, held, delay, backend=backend)
    shape = _out_shape(x, delay)
    if _trivial(x, held, delay):  # D = 0: y = x for every tap, a tensor of its own
        return x.unsqueeze(-2).expand(shape).clone(memory_format=torch.contiguous_format), None
    x3, h3 = _flat(x, held)
    taps = _taps(delay, held.shape[0], sigma, x.dtype, chosen)
    walk_impl = _implementation(chosen)
    y = walk_impl.forward_sparse(x3, h3, *taps) if sigma == 0.0 else walk_impl.forward_dense(x3, h3, *taps)
    return y.view(shape), taps


def _forward(
    x: torch.Tensor, held: torch.Tensor, delay: torch.Tensor, sigma: float, backend: str
) -> torch.Tensor:
    """``y [T, ..., K, C]`` (see :func:`_forward_cached`)."""
    return _forward_cached(x, held, delay, sigma, backend)[0]


def _backward_impl(
    grad_y: torch.Tensor,
    x: torch.Tensor,
    held: torch.Tensor,
    delay: torch.Tensor,
    sigma: float,
    need_x: bool,
    need_held: bool,
    need_delay: bool,
    backend: str,
    taps: tuple[torch.Tensor, ...] | None = None,
) -> Grads:
    """``(grad_x, grad_held, grad_delay)``, None where not needed; ``taps``: the forward's, if kept."""
    chosen = resolve_backend(x, held, delay, backend=backend)
    need_inputs = need_x or need_held
    if _trivial(x, held, delay):
        grad_x = grad_y.sum(-2) if need_x and x.numel() else torch.zeros_like(x)
        grads = (grad_x, torch.zeros_like(held), torch.zeros_like(delay))
        return tuple(g if need else None for g, need in zip(grads, (need_x, need_held, need_delay)))  # type: ignore[return-value]
    d = held.shape[0]
    x3, h3 = _flat(x, held)
    gy = grad_y.contiguous().view(*x3.shape[:2], *delay.shape)
    walk_impl = _implementation(chosen)
    taps = taps if taps is not None else _taps(delay, d, sigma, x.dtype, chosen)
    if sigma == 0.0:
        gx, gh, grad_delay = walk_impl.backward_sparse(gy, x3, h3, *taps, delay, need_inputs, need_delay)
    else:
        gx, gh, grad_taps = walk_impl.backward_dense(gy, x3, h3, *taps, need_inputs, need_delay)
        grad_delay = ld_math.dense_delay_grad(grad_taps, delay, d, sigma) if grad_taps is not None else None
    grad_x = _shaped(gx, x) if need_x and gx is not None else None
    grad_held = _shaped(gh, held) if need_held and gh is not None else None
    return grad_x, grad_held, grad_delay


def _shaped(grad: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return grad if grad.shape == like.shape else grad.view(like.shape)


learnable_delay = torch.library.custom_op("spikestep::learnable_delay", _forward, mutates_args=())


@learnable_delay.register_fake
def _(x, held, delay, sigma, backend):  # type: ignore[no-untyped-def]
    return x.new_empty(_out_shape(x, delay))


def _backward_op_impl(
    grad_y: torch.Tensor,
    x: torch.Tensor,
    held: torch.Tensor,
    delay: torch.Tensor,
    sigma: float,
    need_x: bool,
    need_held: bool,
    need_delay: bool,
    backend: str,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The backward as an operator: zeros stand for the gradients not asked for (an operator returns
    tensors only)."""
    grads = _backward_impl(grad_y, x, held, delay, sigma, need_x, need_held, need_delay, backend)
    return tuple(g if g is not None else torch.zeros_like(t) for g, t in zip(grads, (x, held, delay)))  # type: ignore[return-value]


learnable_delay_backward = torch.library.custom_op(
    "spikestep::learnable_delay_backward", _backward_op_impl, mutates_args=()
)


@learnable_delay_backward.register_fake
def _(grad_y, x, held, delay, sigma, need_x, need_held, need_delay, backend):  # type: ignore[no-untyped-def]
    return torch.empty_like(x), torch.empty_like(held), torch.empty_like(delay)


def _setup_context(ctx, inputs, output) -> None:  # type: ignore[no-untyped-def]
    x, held, delay, sigma, backend = inputs
    ctx.save_for_backward(x, held, delay)
    ctx.settings = (sigma, backend)


def _backward(ctx, grad_y, backward_op=None):  # type: ignore[no-untyped-def]
    # The registered autograd formula calls the registered backward operator (it runs where the forward
    # operator was traced); the eager Function passes the implementation itself.
    backward_op = backward_op or learnable_delay_backward
    x, held, delay = ctx.saved_tensors
    sigma, backend = ctx.settings
    needs = ctx.needs_input_grad[:3]
    grads = backward_op(grad_y, x, held, delay, sigma, *needs, backend)
    return (*(g if need else None for g, need in zip(grads, needs)), None, None)


learnable_delay.register_autograd(_backward, setup_context=_setup_context)


class _EagerLearnableDelay(torch.autograd.Function):
    """The registered operators' forward and backward for eager calls, without their Python dispatch
    (see ``spikestep.ops.neuron.op._EagerWalk``). It keeps the forward's taps for the backward (the
    operator recomputes them: a Gaussian's ``exp`` over ``[K, C, D + 1]``)."""

    @staticmethod
    def forward(ctx, x, held, delay, sigma, backend):  # type: ignore[no-untyped-def, override]
        y, ctx.taps = _forward_cached(x, held, delay, sigma, backend)  # small: [K, C] or [K, C, D + 1]
        ctx.save_for_backward(x, held, delay)
        ctx.settings = (sigma, backend)
        return y

    @staticmethod
    def backward(ctx, grad_y):  # type: ignore[no-untyped-def, override]
        return _backward(ctx, grad_y, functools.partial(_backward_impl, taps=ctx.taps))


def walk(
    x: torch.Tensor, held: torch.Tensor, delay: torch.Tensor, sigma: float, backend: str
) -> torch.Tensor:
    """The delays: the registered operator while ``torch.compile`` traces, the same implementation through
    :class:`_EagerLearnableDelay` in eager mode, and the forward alone when no gradient is needed."""
    if torch.compiler.is_compiling():
        return learnable_delay(x, held, delay, sigma, backend)
    if torch.is_grad_enabled() and (x.requires_grad or held.requires_grad or delay.requires_grad):
        return _EagerLearnableDelay.apply(x, held, delay, sigma, backend)
    return _forward(x, held, delay, sigma, backend)

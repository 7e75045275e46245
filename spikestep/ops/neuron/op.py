"""The neuron walk as registered PyTorch operators, ``torch.ops.spikestep.neuron_walk`` and its backward.

The compiler sees one operator each way. The surrogate travels as data: the name under which its class
is registered (``spikestep.surrogate.kernel_form``) and its two constants; every backend reads its one
``gradient`` definition from that name. The backend is chosen at run time by ``ops.resolve_backend``.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from ... import surrogate as _surrogate
from ..._runtime import elementwise, exact_cache, thread_policy, triton_jit
from .._columns import one_value_row, per_column
from .._dispatch import resolve_backend
from . import math as neuron_math
from . import numba_kernel, torch_walk

_torch_gradients: dict[str, Any] = {}


def _implementation(backend: str):  # type: ignore[no-untyped-def]
    if backend == "numba":
        return numba_kernel
    if backend == "triton":
        return triton_jit.load("spikestep.ops.neuron.triton_kernel")
    return torch_walk


def _flat(
    x: torch.Tensor, v0: torch.Tensor, coefficients: tuple[torch.Tensor, ...], backend: str
) -> tuple[torch.Tensor, ...]:
    """``x [T, N]``, ``v0 [N]`` and each coefficient as ``[N]`` values (views, no copies, where possible),
    or, on numba, as ``[1]`` when all three are one value."""
    step = x.shape[1:]
    if backend == "numba" and all(t.numel() == 1 for t in coefficients):
        # One value each for every column: the numba kernels take them as scalars (a version of their
        # own, reading no coefficient arrays), so nothing is spread.
        per_step = tuple(t.reshape(1) for t in coefficients)
    else:
        per_step = tuple(_per_column(t, step, backend) for t in coefficients)
    return _rows(x, backend), _dense(v0.reshape(-1), backend), *per_step


def _rows(x: torch.Tensor, backend: str) -> torch.Tensor:
    """``x [T, ...]`` as ``[T, N]`` (``T = 0`` included)."""
    return _dense(x.reshape(x.shape[0], math.prod(x.shape[1:])), backend)


def _dense(t: torch.Tensor, backend: str) -> torch.Tensor:
    """The Triton kernels index rows of contiguous memory (a strided view, such as a transposed input,
    would be read as if it were contiguous); numba reads strides and the torch walk indexes tensors, so
    they take the view as it is."""
    return t.contiguous() if backend == "triton" else t


# One value spread over the columns, kept per (dtype, value, N), -0.0 apart from 0.0, for a call whose other
# coefficients are per column (a per-channel tau without decay_input: b = 1): the same few scalars come
# at every call, and spreading them anew cost more than the walk's Python part. The kernels only read
# these arrays (and nothing else sees them).
_spread = exact_cache.ExactCache(limit=32)


def _per_column(t: torch.Tensor, step: torch.Size, backend: str) -> torch.Tensor:
    if backend != "numba" or t.numel() != 1 or t.shape == step:
        return per_column(t, step, backend)
    key = (t.dtype, t.item(), step.numel())
    return _spread.get(key, lambda: per_column(t.detach(), step, backend))


_tags: dict[str, str] = {}


def _tag(name: str) -> str:
    if name not in _tags:
        _tags[name] = "".join(ch if ch.isalnum() else "_" for ch in name)
    return _tags[name]


def _walk_forward(
    x: torch.Tensor,
    v0: torch.Tensor,
    a: torch.Tensor,
    b: torch.Tensor,
    c: torch.Tensor,
    v_threshold: float,
    v_reset: float,
    hard_reset: bool,
    surrogate: str,
    c1: float,
    c2: float,
    detach_reset: bool,
    store_v_seq: bool,
    backend: str,
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(S [T, ...], V)`` with ``V`` the membranes ``[T, ...]`` (``store_v_seq``) or the last ``[...]``."""
    thread_policy.adapt()
    chosen = resolve_backend(x, v0, a, b, c, backend=backend)
    flat = _flat(x, v0, (a, b, c), chosen)
    s, v_out = _forward_flat(chosen, flat, v_threshold, v_reset, hard_reset, c1, c2, store_v_seq)
    return s.view(x.shape), v_out.view(x.shape if store_v_seq else x.shape[1:])


def _forward_flat(
    chosen: str,
    flat: tuple[torch.Tensor, ...],
    v_threshold: float,
    v_reset: float,
    hard_reset: bool,
    c1: float,
    c2: float,
    store_v_seq: bool,
    h_out: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The forward on the flat tensors ``(x [T, N], v0 [N], a, b, c [N])`` (:func:`_flat`); ``H`` also
    into ``h_out`` when given (a backend that keeps it, :func:`_keeps_h`)."""
    p = neuron_math.constant_values(v_threshold, v_reset, c1, c2)
    if chosen == "torch":
        p = elementwise.constants(p, flat[0])
    if h_out is None:
        return _implementation(chosen).forward(*flat, p, hard_reset, store_v_seq)
    return _implementation(chosen).forward(*flat, p, hard_reset, store_v_seq, h_out=h_out)


def _keeps_h(chosen: str) -> bool:
    """Whether the backend's backward reads a ``H`` the forward kept rather than recomputing it: on a GPU
    (Triton) the walk is memory bound and recomputing costs one more ``[T, N]`` pass; on a CPU (numba)
    the backward recomputes ``H`` block by block in cache, cheaper than keeping it in memory."""
    return chosen == "triton" and bool(getattr(_implementation(chosen), "SAVES_H", False))


neuron_walk = torch.library.custom_op("spikestep::neuron_walk", _walk_forward, mutates_args=())


@neuron_walk.register_fake
def _(
    x, v0, a, b, c, v_threshold, v_reset, hard_reset, surrogate, c1, c2, detach_reset, store_v_seq, backend
):  # type: ignore[no-untyped-def]
    return torch.empty_like(x), (torch.empty_like(x) if store_v_seq else x.new_empty(x.shape[1:]))


def _one_row(grad: torch.Tensor) -> bool:
    """Whether ``grad`` is one value broadcast everywhere (the gradient of ``s.sum()`` or ``s.mean()``):
    the kernels then read one row for every step instead of a ``[T, N]`` copy."""
    return grad.numel() > 0 and all(st == 0 for st in grad.stride())


def _walk_backward(
    grad_s: torch.Tensor | None,
    grad_v: torch.Tensor | None,
    x: torch.Tensor,
    v0: torch.Tensor,
    a: torch.Tensor,
    b: torch.Tensor,
    c: torch.Tensor,
    v_threshold: float,
    v_reset: float,
    hard_reset: bool,
    surrogate: str,
    c1: float,
    c2: float,
    detach_reset: bool,
    store_v_seq: bool,
    need_coef: bool,
    backend: str,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(grad_x, grad_v0, grad_a, grad_b, grad_c)``, each in its input's shape (the last three zeros
    unless ``need_coef``)."""
    chosen = resolve_backend(x, v0, a, b, c, backend=backend)
    flat = _flat(x, v0, (a, b, c), chosen)
    gx, gv0, *sums = _backward_flat(
        chosen, flat, grad_s, grad_v, v_threshold, v_reset, hard_reset, surrogate, c1, c2, detach_reset,
        store_v_seq, need_coef,
    )  # fmt: skip
    step = x.shape[1:]
    coef_grads = tuple(
        torch.zeros_like(t) if g is None else _coef_grad(g, t, step) for g, t in zip(sums, (a, b, c))
    )
    return gx.view(x.shape), gv0.view(v0.shape), *coef_grads


def _coef_grad(summed: torch.Tensor, coefficient: torch.Tensor, step: torch.Size) -> torch.Tensor:
    """A coefficient's gradient from its per-column sums (float64 ``[N]``)."""
    return summed.view(step).sum_to_size(coefficient.shape).to(coefficient.dtype)


def _backward_flat(
    chosen: str,
    flat: tuple[torch.Tensor, ...],
    grad_s: torch.Tensor | None,
    grad_v: torch.Tensor | None,
    v_threshold: float,
    v_reset: float,
    hard_reset: bool,
    surrogate: str,
    c1: float,
    c2: float,
    detach_reset: bool,
    store_v_seq: bool,
    need_coef: bool,
    h_saved: torch.Tensor | None = None,
) -> tuple[torch.Tensor | None, ...]:
    """``(grad_x [T, N], grad_v0 [N], *sums)`` on the flat tensors (:func:`_flat`); the sums are the
    coefficients' gradients per column (float64 ``[N]``), or None without ``need_coef``. ``h_saved``: the
    ``H`` the forward kept (:func:`_keeps_h`), else the backward recomputes it."""
    x2 = flat[0]
    n_steps, n = x2.shape
    dtype = x2.dtype
    gs = None
    if grad_s is not None:
        if _one_row(grad_s):
            gs = one_value_row(grad_s, n, dtype, chosen)
        else:
            gs = grad_s.to(dtype).contiguous().view(n_steps, n)
    gv = None if grad_v is None else grad_v.to(dtype).contiguous().reshape(-1)
    if gv is not None and store_v_seq:
        gv = gv.view(n_steps, n)
    p = neuron_math.constant_values(v_threshold, v_reset, c1, c2)
    impl = _implementation(chosen)
    if chosen == "torch":
        if surrogate not in _torch_gradients:
            _torch_gradients[surrogate] = elementwise.for_torch(_surrogate.lookup(surrogate).gradient)
        p = elementwise.constants(p, x2)
        args = (gs, gv, *flat, p, hard_reset, detach_reset, store_v_seq, need_coef)
        return impl.backward(*args, _torch_gradients[surrogate])  # type: ignore[no-any-return]
    gradient = _surrogate.lookup(surrogate).gradient
    args = (gs, gv, *flat, p, hard_reset, detach_reset, store_v_seq, need_coef)
    if h_saved is not None:
        return impl.backward(*args, gradient, _tag(surrogate), h_seq=h_saved)  # type: ignore[no-any-return]
    return impl.backward(*args, gradient, _tag(surrogate))  # type: ignore[no-any-return]


neuron_walk_backward = torch.library.custom_op(
    "spikestep::neuron_walk_backward", _walk_backward, mutates_args=()
)


@neuron_walk_backward.register_fake
def _(grad_s, grad_v, x, v0, a, b, c, *args):  # type: ignore[no-untyped-def]
    return (
        torch.empty_like(x),
        torch.empty_like(v0),
        torch.empty_like(a),
        torch.empty_like(b),
        torch.empty_like(c),
    )


def _setup_context(ctx, inputs, output) -> None:  # type: ignore[no-untyped-def]
    x, v0, a, b, c, *config = inputs
    ctx.save_for_backward(x, v0, a, b, c)
    ctx.config = config
    ctx.set_materialize_grads(False)  # an unused output sends None, not a [T, N] tensor of zeros


def _backward(ctx, grad_s, grad_v):  # type: ignore[no-untyped-def]
    x, v0, a, b, c = ctx.saved_tensors
    vth, vr, hard, name, c1, c2, detach_reset, store_v_seq, backend = ctx.config
    needs = ctx.needs_input_grad
    need_coef = any(needs[2:5])
    grads = neuron_walk_backward(
        grad_s,
        grad_v,
        x,
        v0,
        a,
        b,
        c,
        vth,
        vr,
        hard,
        name,
        c1,
        c2,
        detach_reset,
        store_v_seq,
        need_coef,
        backend,
    )
    return (*(g if need else None for g, need in zip(grads, needs[:5], strict=True)),) + (None,) * 9


neuron_walk.register_autograd(_backward, setup_context=_setup_context)


class _EagerWalk(torch.autograd.Function):
    """The same forward and backward as the registered operators, for eager calls: the operators'
    Python dispatch (argument defaults filled per call, an autograd wrapper) measured 0.1 to 0.2 ms a
    call, a tenth of a training step of the MNIST-1D network over its eight neuron walks. The backward
    reuses the forward's backend and its coefficients spread over the columns, and on a backend that
    keeps ``H`` (:func:`_keeps_h`, Triton) the forward's ``H`` (one ``[T, N]`` tensor more held until
    the backward, as SpikingJelly's kernels hold it; the registered operator recomputes it instead)."""

    @staticmethod
    def forward(ctx, x, v0, a, b, c, *config):  # type: ignore[no-untyped-def, override]
        vth, vr, hard, _, c1, c2, _, store_v_seq, backend = config
        thread_policy.adapt()
        chosen = resolve_backend(x, v0, a, b, c, backend=backend)
        flat = _flat(x, v0, (a, b, c), chosen)
        h_saved = torch.empty_like(flat[0]) if _keeps_h(chosen) else None
        s, v_out = _forward_flat(chosen, flat, vth, vr, hard, c1, c2, store_v_seq, h_out=h_saved)
        # H is an intermediate: saved like the inputs, so it is freed once the backward has run and
        # saved-tensor hooks (checkpointing, offloading) see it.
        ctx.save_for_backward(x, v0, a, b, c, h_saved)
        ctx.config = config
        ctx.chosen = chosen
        ctx.coefficients = flat[2:]  # [N] each: views of a, b, c or their spread copies
        ctx.set_materialize_grads(False)
        return s.view(x.shape), v_out.view(x.shape if store_v_seq else x.shape[1:])

    @staticmethod
    def backward(ctx, grad_s, grad_v):  # type: ignore[no-untyped-def, override]
        x, v0, a, b, c, h_saved = ctx.saved_tensors
        vth, vr, hard, name, c1, c2, detach_reset, store_v_seq, _ = ctx.config
        needs = ctx.needs_input_grad
        flat = (_rows(x, ctx.chosen), _dense(v0.reshape(-1), ctx.chosen), *ctx.coefficients)
        gx, gv0, *sums = _backward_flat(
            ctx.chosen, flat, grad_s, grad_v, vth, vr, hard, name, c1, c2, detach_reset, store_v_seq,
            any(needs[2:5]), h_saved=h_saved,
        )  # fmt: skip
        step = x.shape[1:]
        coef_grads = tuple(
            _coef_grad(g, t, step) if need else None for g, t, need in zip(sums, (a, b, c), needs[2:5])
        )
        return (
            gx.view(x.shape) if needs[0] else None,
            gv0.view(v0.shape) if needs[1] else None,
            *coef_grads,
        ) + (None,) * 9


def walk(
    x: torch.Tensor,
    v0: torch.Tensor,
    a: torch.Tensor,
    b: torch.Tensor,
    c: torch.Tensor,
    v_threshold: float,
    v_reset: float,
    hard_reset: bool,
    surrogate: str,
    c1: float,
    c2: float,
    detach_reset: bool,
    store_v_seq: bool,
    backend: str,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The neuron walk: the registered operator while ``torch.compile`` traces (the compiler sees one
    operator), the same implementation through :class:`_EagerWalk` in eager mode, and the forward alone
    when no gradient can be asked for."""
    args = (
        x,
        v0,
        a,
        b,
        c,
        v_threshold,
        v_reset,
        hard_reset,
        surrogate,
        c1,
        c2,
        detach_reset,
        store_v_seq,
        backend,
    )
    if torch.compiler.is_compiling():
        return neuron_walk(*args)
    if torch.is_grad_enabled() and any(t.requires_grad for t in (x, v0, a, b, c)):
        return _EagerWalk.apply(*args)
    return _walk_forward(*args)

"""The neuron walk as numba kernels: blocks of neurons spread over threads, time walked inside.

The pieces of :mod:`.math` compiled in, the surrogate's gradient (its one definition, see
``spikestep.surrogate``) bound as the global ``surrogate_gradient`` of a backward kernel made per
surrogate. Arrays are ``[T, N]`` views of contiguous tensors; ``a``, ``b``, ``c`` are ``[N]``, or three
scalars when each is one value for every column (:func:`_coefficients`; numba compiles that version
apart); ``p`` holds ``(v_threshold, v_reset, one, zero, c1, c2)`` in the compute dtype (numba would type
float literals as float64 and promote float32 arithmetic).

* forward: per block, walk ``t = 0..T-1`` with the block's membrane in a local buffer; write the spikes
  (and the membranes if asked). Nothing else is saved.
* backward: per block, recompute ``H`` into a ``[T, block]`` buffer (one per thread, kept between calls),
  then walk back (the equations are in :mod:`.math`), summing the coefficients' gradients per neuron in
  float64 when asked (in a loop of their own after each step's ``dH``).

Every inner loop is vectorised by LLVM (8 float32 lanes on an AVX-512 Xeon, which LLVM runs 256 bits
wide); ``inspect_llvm()`` of a kernel shows a ``vector.body`` per loop. The backward does more work per
neuron-step than the forward (the recomputed charge, the surrogate's gradient with its division, the
walk back), so it costs 2-3x the forward even in cache (one thread: 1.3-1.6 ns per neuron-step against
0.4-0.9).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import torch

from ..._runtime import exact_cache, numba_jit
from . import math as neuron_math
from .math import C1, C2, ONE, VR, VTH, ZERO, charge, fires, grad_h, reset

columns_of, column = numba_jit.columns_of, numba_jit.column

try:
    import numpy as np
except ImportError:  # numba needs numpy: without it only the torch walk runs
    np = None  # type: ignore[assignment]

# Neurons walked together. Each step touches one piece of ``block`` neurons in every [T, N] array; long
# pieces let the hardware prefetcher stream them: the forward takes 2 MiB worth of a [T, block] array
# (T=64: 8192 neurons; 4096 ran 5% slower). The backward's H buffer of [T, block] is kept to 512 KiB
# (T=64: 2048), within the core's L2 with the rows it reads: at 2 MiB it ran 8-10% slower (one thread,
# T=64, N=1e5; 1 and 2 MiB no different from 512 KiB).
_FORWARD_BYTES = 1 << 21
_BACKWARD_BYTES = 1 << 19
_MIN_BLOCK, _MAX_BLOCK = 256, 8192


def _block(n_steps: int, itemsize: int, budget: int) -> int:
    block = budget // max(1, n_steps * itemsize)
    return max(_MIN_BLOCK, min(_MAX_BLOCK, block // 64 * 64))


def _forward(x, v0, a, b, c, p, hard, store_v_seq, s_out, v_out, block, start, stop):  # type: ignore[no-untyped-def]
    n_steps = x.shape[0]
    # Constants in scalars, not re-read from p in the loop: that keeps the inner loop vectorisable.
    vth, vr, one, zero = p[VTH], p[VR], p[ONE], p[ZERO]
    for lo in range(start, stop, block):
        hi = min(lo + block, stop)
        v = v0[lo:hi].copy()  # fresh: LLVM then knows it aliases nothing and vectorises
        ab, bb, cb = columns_of(a, lo, hi), columns_of(b, lo, hi), columns_of(c, lo, hi)
        for t in range(n_steps):
            xt = x[t, lo:hi]  # row views: contiguous, cheaper than 2-d indexing in the inner loop
            st = s_out[t, lo:hi]
            for i in range(hi - lo):
                h = charge(xt[i], v[i], column(ab, i), column(bb, i), column(cb, i))
                fired = fires(h, vth, zero)
                st[i] = one if fired else zero
                v[i] = reset(h, fired, vr, vth, hard)
            if store_v_seq:
                v_out[t, lo:hi] = v
        if not store_v_seq:
            v_out[0, lo:hi] = v


def _backward(
    x, v0, a, b, c, p, hard, detach_reset, grad_s, gs_per_step, grad_v, gv_mode, need_coef,
    grad_x, grad_v0, grad_a, grad_b, grad_c, h_buf, block, start, stop,
):  # type: ignore[no-untyped-def]  # fmt: skip
    n_steps = x.shape[0]
    vth, vr, one, zero, c1, c2 = p[VTH], p[VR], p[ONE], p[ZERO], p[C1], p[C2]
    hard_f = one if hard else zero
    attach_f = zero if detach_reset else one
    # h_buf ([T, >= block], the caller's, kept between calls) holds a block's H. The small buffers are
    # made once per call.
    cap = max(0, min(block, stop - start))
    v = np.empty(cap, dtype=x.dtype)
    dv = np.empty(cap, dtype=x.dtype)
    n_sums = cap if need_coef else 0
    gh_row = np.empty(n_sums, dtype=x.dtype)
    sa = np.empty(n_sums, dtype=np.float64)
    sb = np.empty(n_sums, dtype=np.float64)
    sc = np.empty(n_sums, dtype=np.float64)
    # The walk back reads its steps from this array, not from ``range(n_steps - 1, -1, -1)``: LLVM
    # hoists the inner loops' alias checks out of the time loop, and over a reversed time loop the
    # hoisted checks can fail for every step (a loop reading rows t and t - 1 of h_buf then always took
    # the scalar path, 3x slower). A step read from memory keeps the checks per step, where they pass.
    back = np.arange(n_steps - 1, -1, -1)
    for lo in range(start, stop, block):
        hi = min(lo + block, stop)
        width = hi - lo
        ab, bb, cb = columns_of(a, lo, hi), columns_of(b, lo, hi), columns_of(c, lo, hi)
        vb = v[:width]
        vb[:] = v0[lo:hi]
        for t in range(n_steps):  # recompute the block's H
            xt = x[t, lo:hi]
            ht = h_buf[t, :width]
            for i in range(width):
                h = charge(xt[i], vb[i], column(ab, i), column(bb, i), column(cb, i))
                ht[i] = h
                vb[i] = reset(h, fires(h, vth, zero), vr, vth, hard)
        dvb = dv[:width]
        if gv_mode == 1:
            dvb[:] = grad_v[0, lo:hi]
        else:
            dvb[:] = zero
        sab, sbb, scb = sa[:width], sb[:width], sc[:width]
        if need_coef:
            sab[:] = 0.0
            sbb[:] = 0.0
            scb[:] = 0.0
        for k in range(n_steps):
            t = back[k]
            ht = h_buf[t, :width]
            gxt = grad_x[t, lo:hi]
            if gv_mode == 2:
                gvt = grad_v[t, lo:hi]
                for i in range(width):
                    dvb[i] += gvt[i]
            gst = grad_s[t if gs_per_step else 0, lo:hi]
            if not need_coef:
                for i in range(width):
                    h = ht[i]
                    sg = surrogate_gradient(h - vth, one, c1, c2)  # noqa: F821 - bound per surrogate
                    gh = grad_h(
                        h, fires(h, vth, zero), dvb[i], gst[i], sg, vr, vth, one, zero, hard_f, attach_f
                    )
                    gxt[i] = gh * column(bb, i)
                    dvb[i] = gh * column(ab, i)
                continue
            # The coefficients' sums in a second loop over the step's dH: in one loop with the float32
            # work, the float64 sums made LLVM vectorise it all 4 wide (1.5x slower).
            ghb = gh_row[:width]
            for i in range(width):
                h = ht[i]
                sg = surrogate_gradient(h - vth, one, c1, c2)  # noqa: F821
                gh = grad_h(h, fires(h, vth, zero), dvb[i], gst[i], sg, vr, vth, one, zero, hard_f, attach_f)
                gxt[i] = gh * column(bb, i)
                dvb[i] = gh * column(ab, i)
                ghb[i] = gh
            xt = x[t, lo:hi]
            if t > 0:  # V[t-1] is the reset of H[t-1], still in the buffer
                hp = h_buf[t - 1, :width]
                for i in range(width):
                    gh = ghb[i]
                    hpi = hp[i]
                    sab[i] += gh * reset(hpi, fires(hpi, vth, zero), vr, vth, hard)
                    sbb[i] += gh * xt[i]
                    scb[i] += gh
            else:  # V[-1] is v0
                vp = v0[lo:hi]
                for i in range(width):
                    gh = ghb[i]
                    sab[i] += gh * vp[i]
                    sbb[i] += gh * xt[i]
                    scb[i] += gh
        grad_v0[lo:hi] = dvb
        if need_coef:
            grad_a[lo:hi] = sab
            grad_b[lo:hi] = sbb
            grad_c[lo:hi] = scb


_forward_kernel = numba_jit.kernel(_forward, depends_on=(neuron_math, numba_jit))
_backward_kernels: dict[Callable[..., Any], Any] = {}


def _backward_kernel(gradient: Callable[..., Any], tag: str) -> Any:
    if gradient not in _backward_kernels:
        _backward_kernels[gradient] = numba_jit.kernel(
            _backward,
            depends_on=(neuron_math, numba_jit, gradient),
            namespace={"surrogate_gradient": numba_jit.register_jitable(numba_jit.in_dialect(gradient))},
            tag=tag,
        )
    return _backward_kernels[gradient]


def _run(
    kernel: Any, args: tuple[Any, ...], n_steps: int, n: int, itemsize: int, h_buffer: bool = False
) -> None:
    """``kernel(*args, block, start, stop)`` over ``[0, n)``, spread over torch's threads. Chunks are cut
    at cache lines, not at whole blocks: with few blocks per thread, whole blocks would leave one thread
    with much more work. ``h_buffer``: the kernel takes the calling thread's H buffer before ``block``."""
    block = _block(n_steps, itemsize, _BACKWARD_BYTES if h_buffer else _FORWARD_BYTES)
    if not h_buffer:
        numba_jit.run_chunks(lambda lo, hi: kernel(*args, block, lo, hi), n, work_per_item=n_steps, align=64)
        return
    dtype = args[0].dtype

    def chunk(lo: int, hi: int) -> None:
        kernel(*args, _h_buffer(n_steps, min(block, hi - lo), dtype), block, lo, hi)

    numba_jit.run_chunks(chunk, n, work_per_item=n_steps, align=64)


# Each thread's H buffer, kept between calls: a fresh one per call (megabytes) is fresh pages, and on a
# VM each page fault costs about a microsecond (measured: 25 MiB of fresh pages cost 10 ms to touch).
# Buffers above _KEEP_BYTES (walks of very many steps) are made per call and not kept.
_KEEP_BYTES = 1 << 22
_buffers = threading.local()


def _h_buffer(n_steps: int, width: int, dtype: Any) -> Any:
    size = n_steps * width
    if size * dtype.itemsize > _KEEP_BYTES:
        return np.empty((n_steps, width), dtype=dtype)
    kept = _buffers.__dict__.get(dtype.char)
    if kept is None:
        kept = np.empty(_KEEP_BYTES // dtype.itemsize, dtype=dtype)
        setattr(_buffers, dtype.char, kept)
    return kept[:size].reshape(n_steps, width)


def _np(t: torch.Tensor) -> Any:
    return (t.detach() if t.requires_grad else t).numpy()


def _coefficients(a: torch.Tensor, b: torch.Tensor, c: torch.Tensor, n: int) -> tuple[Any, Any, Any]:
    """``a``, ``b``, ``c`` as the kernels take them: ``[N]`` arrays, or, when all three hold one value
    for every column (LIF and IF with their usual scalar time constant), three scalars of their dtype.
    The scalar form is a kernel version of its own whose loops read no coefficient arrays: 15-19% off
    the LIF forward at T=64, N=1e5 (2 threads, interleaved rounds), the same bits."""
    coefficients = (a, b, c)
    if all(t.numel() == 1 for t in coefficients):
        return tuple(_np(t).reshape(-1)[0] for t in coefficients)  # type: ignore[return-value]
    if any(t.numel() != n for t in coefficients):
        raise ValueError(f"the neuron kernel's coefficients must hold 1 or {n} values each")
    return tuple(_np(t) for t in coefficients)  # type: ignore[return-value]


_constants = exact_cache.ExactCache(limit=64)


def constants(dtype: torch.dtype, values: tuple[float, ...]) -> Any:
    """``values`` as the typed array ``p`` (each rounded to the dtype once, as torch rounds a scalar).
    Kept per ``(dtype, values)``, ``-0.0`` apart from ``0.0``: the kernels only read it (a read-only
    flag would be another numba signature, so it is left writable)."""
    np_dtype = np.float32 if dtype == torch.float32 else np.float64
    return _constants.get((dtype, values), lambda: np.array(values, dtype=np_dtype))


def forward(x, v0, a, b, c, p_values, hard, store_v_seq):  # type: ignore[no-untyped-def]
    n_steps, n = x.shape
    s = torch.empty_like(x)
    v_out = torch.empty((n_steps if store_v_seq else 1, n), dtype=x.dtype)
    p = constants(x.dtype, p_values)
    args = (_np(x), _np(v0), *_coefficients(a, b, c, n), p, hard, store_v_seq, _np(s), _np(v_out))
    _run(_forward_kernel, args, n_steps, n, x.element_size())
    return s, (v_out if store_v_seq else v_out[0])


def backward(
    grad_s, grad_v, x, v0, a, b, c, p_values, hard, detach_reset, store_v_seq, need_coef, gradient, tag
):  # type: ignore[no-untyped-def]
    n_steps, n = x.shape
    p = constants(x.dtype, p_values)
    gs_per_step = grad_s is not None and grad_s.dim() == 2
    if grad_s is None:
        gs = np.zeros((1, n), dtype=p.dtype)
    else:
        gs = _np(grad_s) if gs_per_step else _np(grad_s).reshape(1, n)
    if grad_v is None:
        gv, gv_mode = np.zeros((1, 1), dtype=p.dtype), 0
    else:
        gv, gv_mode = _np(grad_v).reshape(-1, n), (2 if store_v_seq else 1)
    grad_x = torch.empty_like(x)
    grad_v0 = torch.empty_like(v0)
    sums = [torch.empty(n if need_coef else 1, dtype=torch.float64) for _ in range(3)]
    args = (
        _np(x), _np(v0), *_coefficients(a, b, c, n), p, hard, detach_reset, gs, gs_per_step, gv, gv_mode,
        need_coef, _np(grad_x), _np(grad_v0), *(_np(s) for s in sums),
    )  # fmt: skip
    _run(_backward_kernel(gradient, tag), args, n_steps, n, x.element_size(), h_buffer=True)
    if not need_coef:
        return grad_x, grad_v0, None, None, None
    return grad_x, grad_v0, *sums

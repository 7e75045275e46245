"""The delay line: ``y[t] = x[t - d]``, with one ``d`` for all channels or one per channel."""

from __future__ import annotations

import numbers

import torch

from .._runtime.held_inputs import last_steps

DelaySteps = int | torch.Tensor


def check_delay_steps(delay_steps: object) -> DelaySteps:
    """``delay_steps`` if it is an ``int >= 0`` or an integer tensor of entries ``>= 0`` (one delay per
    channel or element); a ``TypeError``/``ValueError`` that says what to give otherwise. A tensor comes
    back as a new ``int64`` tensor of its own (detached)."""
    if isinstance(delay_steps, torch.Tensor):
        if delay_steps.dtype == torch.bool or delay_steps.is_floating_point() or delay_steps.is_complex():
            raise TypeError(
                f"delay_steps must be an int >= 0 or an integer tensor (one delay per channel), got a "
                f"{delay_steps.dtype} tensor; round real-valued delays first (d.round().long()), or learn them "
                f"with layer.LearnableDelay"
            )
        if delay_steps.numel() == 0:
            raise ValueError("delay_steps is an empty tensor; give at least one delay")
        values = delay_steps.detach().to(torch.int64).clone()
        if bool((values < 0).any()):
            raise ValueError(
                f"delay_steps must be >= 0 (a layer cannot see the future), got a minimum of "
                f"{int(values.min())}"
            )
        return values
    if isinstance(delay_steps, bool) or not isinstance(delay_steps, numbers.Integral):
        raise TypeError(
            f"delay_steps must be an int >= 0 (a number of time steps) or an integer tensor (one per "
            f"channel), got {type(delay_steps).__name__} {delay_steps!r}"
        )
    if delay_steps < 0:
        raise ValueError(f"delay_steps must be >= 0 (a layer cannot see the future), got {delay_steps}")
    return int(delay_steps)


def longest_delay(delay_steps: DelaySteps) -> int:
    """``max(d)``: how many past inputs a delay line must hold."""
    return int(delay_steps.max()) if isinstance(delay_steps, torch.Tensor) else delay_steps


def _fit_to(delay_steps: torch.Tensor, step_shape: torch.Size) -> torch.Tensor:
    """Per-channel delays as a tensor that broadcasts against one step ``step_shape``, same ndim."""
    fits = delay_steps.dim() <= len(step_shape) and all(
        p in (1, s) for p, s in zip(reversed(delay_steps.shape), reversed(step_shape), strict=False)
    )
    if not fits:
        raise ValueError(
            f"delay_steps of shape {list(delay_steps.shape)} does not fit one step of the input, of shape "
            f"{list(step_shape)}: give one delay per channel of the last dimension "
            f"([{step_shape[-1] if step_shape else 1}]), one per element ({list(step_shape)}), or an int"
        )
    return delay_steps.reshape((1,) * (len(step_shape) - delay_steps.dim()) + tuple(delay_steps.shape))


def delay(x_seq: torch.Tensor, delay_steps: DelaySteps) -> torch.Tensor:
    """Delay a sequence: ``y[t] = x_seq[t - d]``, and ``y[t] = 0`` for ``t < d``.

    ``d`` is an int, or an integer tensor that broadcasts against the trailing dimensions of one step
    (``[C]`` for ``x_seq [T, B, C]``: channel ``c`` is delayed by ``d[c]``). Stateless: every call starts
    from zeros. ``x_seq`` is ``[T, ...]``; ``y`` has the same shape, dtype and device. Gradients flow
    back to the inputs that reach the output.

    Example::

        >>> import torch
        >>> from spikestep import functional
        >>> functional.delay(torch.tensor([1.0, 2.0, 3.0]), 1)
        tensor([0., 1., 2.])
        >>> functional.delay(torch.tensor([[1.0, 1.0], [2.0, 2.0], [3.0, 3.0]]), torch.tensor([0, 2]))
        tensor([[1., 0.],
                [2., 0.],
                [3., 1.]])
    """
    d = check_delay_steps(delay_steps)
    if not isinstance(x_seq, torch.Tensor) or x_seq.dim() < 1:
        raise TypeError("delay: x_seq must be a torch.Tensor with time first [T, ...]")
    held = x_seq.new_zeros((longest_delay(d), *x_seq.shape[1:]))
    return delay_with_state(x_seq, held, d)[0]


def delay_with_state(
    x_seq: torch.Tensor, held: torch.Tensor, delay_steps: DelaySteps | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """One multi-step call of a delay line that carries state between calls.

    ``held`` is ``[D, ...]``: the last ``D = max(d)`` inputs seen before ``x_seq``, oldest first (a ring
    turned to start at its oldest input). ``delay_steps`` is ``D`` itself when left out, or per-channel
    delays as in :func:`delay`. Of the held inputs followed by the new chunk, ``z``, the output is
    ``y[t] = z[D + t - d]`` and the last ``D`` are the new held inputs. No loop over time: a slice for one
    delay, one ``gather`` for per-channel delays; chunks give the same output as the whole sequence.

    Returns ``(y_seq, new_held)``: two new tensors that share no storage with each other, with
    ``x_seq`` or with ``held``, ``new_held`` of exactly ``D`` steps (a stateful caller keeps ``D`` steps,
    not the whole chunk, and in-place changes of the output or the input never reach it). With ``D = 0``
    the line is the identity and ``y_seq`` is ``x_seq`` itself (nothing is held).
    """
    d_max = held.shape[0]
    if d_max == 0:
        return x_seq, held
    t = x_seq.shape[0]
    if delay_steps is None or not isinstance(delay_steps, torch.Tensor):
        if delay_steps is not None and delay_steps != d_max:
            raise ValueError(f"delay_with_state: held has {d_max} steps, but delay_steps is {delay_steps}")
        if t >= d_max:
            return torch.cat((held, x_seq[: t - d_max])), last_steps(held, x_seq)
        return held[:t].clone(), last_steps(held, x_seq)
    d = _fit_to(delay_steps.to(x_seq.device), x_seq.shape[1:])
    joined = torch.cat((held, x_seq))
    steps = torch.arange(d_max, d_max + t, device=x_seq.device).reshape((t,) + (1,) * d.dim())
    index = (steps - d.unsqueeze(0)).expand(x_seq.shape)
    y = joined.gather(0, index)
    new_held = last_steps(held, x_seq)
    return y, new_held


def delay_step(
    x: torch.Tensor, ring: torch.Tensor, ring_start: int, delay_steps: DelaySteps
) -> tuple[torch.Tensor, torch.Tensor, int]:
    """One single step of a delay line whose last ``D`` inputs sit in a ring ``[D, ...]``.

    ``ring[(ring_start + j) % D]`` holds the input of ``D - j`` steps ago, so ``x[t - d]`` is at
    ``(ring_start - d) % D``; ``x`` then takes the place of the oldest. Returns ``(y, ring, ring_start)``.
    ``y`` is a new tensor (``x`` itself where every delay is 0). O(1) work per step for any ``D``: the ring is written in place when autograd
    does not track it; when it does (``x`` or the ring needs gradients), the ring is rebuilt out of place
    (a copy of ``D`` steps), because autograd must keep each step's ring as it was.
    """
    d_max = ring.shape[0]
    if d_max == 0:
        return x, ring, ring_start
    if isinstance(delay_steps, torch.Tensor):
        d = _fit_to(delay_steps.to(x.device), x.shape)
        index = torch.remainder(ring_start - d, d_max).unsqueeze(0).expand((1, *x.shape))
        y = torch.where(d == 0, x, ring.gather(0, index).squeeze(0))
    else:
        y = ring[(ring_start - delay_steps) % d_max].clone() if delay_steps else x
    if torch.is_grad_enabled() and (x.requires_grad or ring.requires_grad):
        slot = torch.tensor([ring_start], device=x.device)
        ring = ring.index_copy(0, slot, x.unsqueeze(0).to(ring.dtype))
    else:
        ring[ring_start].copy_(x)
    return y, ring, (ring_start + 1) % d_max


def delay_bank_with_state(
    x_seq: torch.Tensor, held: torch.Tensor, delays: list[int]
) -> tuple[torch.Tensor, torch.Tensor]:
    """One multi-step call of a tapped delay line: ``y[t] = [x[t - d_0], ..., x[t - d_{K-1}]]``.

    ``x_seq`` is ``[T, ..., C]``, ``held`` ``[D, ..., C]`` with ``D = max(delays)`` (the last inputs
    before ``x_seq``, oldest first). The output is ``[T, ..., K*C]``, tap-major (the copy delayed by
    ``d_0`` first); every output element is written once (one ``stack`` of ``K`` slices of the held
    inputs joined to the chunk), with no per-tap module and no second concatenation. Returns
    ``(y_seq, new_held)``, new tensors that share no storage with the inputs; ``new_held`` holds ``D``
    steps.
    """
    d_max, t = held.shape[0], x_seq.shape[0]
    joined = torch.cat((held, x_seq)) if d_max else x_seq
    if torch.compiler.is_compiling():
        # Inductor fuses the plain stack and its backward; the hand-written backward, traced, was slower
        # (a compiled MNIST-1D training step 43 -> 70 ms).
        y = torch.stack([joined[d_max - d : d_max - d + t] for d in delays], dim=-2).flatten(-2)
    else:
        y = _TapStack.apply(joined, tuple(delays), t)
    new_held = last_steps(held, x_seq)
    return y, new_held


class _TapStack(torch.autograd.Function):
    """``y[t, ..., k C + c] = z[D - d_k + t, ..., c]`` with its own backward: the gradient of each tap is
    added into one zeroed buffer. (Autograd of ``stack`` of slices makes a zero-filled ``z``-sized tensor
    per tap, copies into it and sums the ``K`` of them: about three times the memory traffic.)"""

    @staticmethod
    def forward(ctx, joined: torch.Tensor, delays: tuple[int, ...], t: int) -> torch.Tensor:  # type: ignore[override]
        d_max = joined.shape[0] - t
        ctx.joined_shape, ctx.delays, ctx.t = joined.shape, delays, t
        return torch.stack([joined[d_max - d : d_max - d + t] for d in delays], dim=-2).flatten(-2)

    @staticmethod
    def backward(ctx, grad_y: torch.Tensor) -> tuple[torch.Tensor, None, None]:  # type: ignore[override]
        t, delays = ctx.t, ctx.delays
        d_max = ctx.joined_shape[0] - t
        per_tap = grad_y.unflatten(-1, (len(delays), ctx.joined_shape[-1]))
        grad_joined = grad_y.new_zeros(ctx.joined_shape)
        for k, d in enumerate(delays):
            grad_joined[d_max - d : d_max - d + t] += per_tap[..., k, :]
        return grad_joined, None, None


def delay_taps_with_state(
    x_seq: torch.Tensor, held: torch.Tensor, delay_steps: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """A tapped delay line whose ``K`` taps have their own integer delay per channel.

    ``y[t, ..., k C + c] = x[t - d[k, c], ..., c]``: ``x_seq`` ``[T, ..., C]``, ``held`` ``[D, ..., C]``
    (the last ``D = max(d)`` inputs, oldest first), ``delay_steps`` an integer tensor ``[K, C]``. The
    output ``[T, ..., K*C]`` is tap-major, like :func:`delay_bank_with_state`'s, and is one ``gather`` from
    the held inputs joined to the chunk, seen ``K`` times without a copy. Returns ``(y_seq, new_held)``;
    ``new_held`` is a new tensor of ``D`` steps of ``C`` channels (not ``K*C``).
    """
    d_max, t = held.shape[0], x_seq.shape[0]
    joined = torch.cat((held, x_seq)) if d_max else x_seq
    taps, channels = delay_steps.shape
    steps = torch.arange(d_max, d_max + t, device=x_seq.device).reshape(
        (t,) + (1,) * (x_seq.dim() - 1) + (1,)
    )
    index = steps - delay_steps.to(x_seq.device)  # [T, 1.., K, C]
    wide = joined.unsqueeze(-2).expand(*joined.shape[:-1], taps, channels)
    y = wide.gather(0, index.expand(t, *x_seq.shape[1:-1], taps, channels)).flatten(-2)
    new_held = last_steps(held, x_seq)
    return y, new_held

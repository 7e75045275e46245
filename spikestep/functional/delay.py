"""The delay line: ``y[t] = x[t - d]``."""

from __future__ import annotations

import numbers

import torch


def check_delay_steps(delay_steps: object) -> int:
    """Return ``delay_steps`` if it is an ``int >= 0``; raise ``TypeError``/``ValueError`` otherwise."""
    if isinstance(delay_steps, bool) or not isinstance(delay_steps, numbers.Integral):
        raise TypeError(
            f"delay_steps must be an int >= 0 (a number of time steps), got {type(delay_steps).__name__} "
            f"{delay_steps!r}"
        )
    if delay_steps < 0:
        raise ValueError(f"delay_steps must be >= 0 (a layer cannot see the future), got {delay_steps}")
    return int(delay_steps)


def delay(x_seq: torch.Tensor, delay_steps: int) -> torch.Tensor:
    """Delay a sequence by ``delay_steps``: ``y[t] = x_seq[t - d]``, and ``y[t] = 0`` for ``t < d``.

    Stateless: every call starts from zeros. ``x_seq`` is ``[T, ...]``; ``y`` has the same shape, dtype
    and device. Gradients flow back to the inputs that reach the output (the last ``d`` get zero).

    Example::

        >>> import torch
        >>> from spikestep import functional
        >>> functional.delay(torch.tensor([1.0, 2.0, 3.0]), 1)
        tensor([0., 1., 2.])
    """
    d = check_delay_steps(delay_steps)
    if not isinstance(x_seq, torch.Tensor) or x_seq.dim() < 1:
        raise TypeError("delay: x_seq must be a torch.Tensor with time first [T, ...]")
    held = x_seq.new_zeros((d, *x_seq.shape[1:]))
    return delay_with_state(x_seq, held)[0]


def delay_with_state(x_seq: torch.Tensor, held: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """One multi-step call of a delay line that carries state between calls.

    ``held`` is ``[d, ...]``: the last ``d`` inputs seen before ``x_seq``, oldest first. Of the held
    inputs followed by the new chunk, the first ``T`` are the output and the last ``d`` are the new held
    inputs. No loop over time, and chunks give the same output as the whole sequence.

    Returns ``(y_seq, new_held)``: two new tensors that share no storage with each other, with
    ``x_seq`` or with ``held``, ``new_held`` of exactly ``d`` steps (a stateful caller keeps ``d`` steps,
    not the whole chunk, and in-place changes of the output or the input never reach it). Each input
    element is copied once, as one ``torch.cat`` of ``held`` and ``x_seq`` would.
    """
    d = held.shape[0]
    if d == 0:
        return x_seq, held
    t = x_seq.shape[0]
    if t >= d:
        return torch.cat((held, x_seq[: t - d])), x_seq[t - d :].clone()
    return held[:t].clone(), torch.cat((held[t:], x_seq))

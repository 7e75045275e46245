"""Argument checks shared by the layers and neurons: each says what was wrong and how to fix it."""

from __future__ import annotations

import math
import numbers

import torch


def check_real(value: object, name: str, owner: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{owner}: {name} must be a real number, got {type(value).__name__} {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{owner}: {name} must be finite, got {value}")
    return value


def check_bool(value: object, name: str, owner: str) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"{owner}: {name} must be True or False, got {type(value).__name__} {value!r}")
    return value


def check_tau(tau: object, name: str, owner: str) -> float:
    tau = check_real(tau, name, owner)
    if tau <= 1.0:
        raise ValueError(
            f"{owner}: {name} must be > 1 (time steps), got {tau}: the state (membrane, current) keeps a "
            f"fraction 1 - 1/tau of itself per step, which needs tau > 1 to stay positive"
        )
    return tau


def check_tau_tensor(tau: object, name: str, owner: str) -> float | torch.Tensor:
    """A time constant: a real number, or a floating tensor (one per channel or per element) whose
    every entry is finite and > 1. A tensor comes back detached, as a new tensor of its own."""
    if not isinstance(tau, torch.Tensor):
        return check_tau(tau, name, owner)
    if not tau.is_floating_point():
        raise TypeError(
            f"{owner}: {name} must be a real number or a floating tensor (one time constant per channel or "
            f"element), got a {tau.dtype} tensor"
        )
    values = tau.detach()
    if values.numel() == 0:
        raise ValueError(f"{owner}: {name} is an empty tensor; give at least one time constant")
    if not bool(torch.isfinite(values).all()):
        raise ValueError(f"{owner}: every {name} must be finite, got {values.tolist()}")
    if not bool((values > 1.0).all()):
        raise ValueError(
            f"{owner}: every {name} must be > 1 (time steps), got a minimum of {values.min().item()}: the "
            f"state keeps a fraction 1 - 1/tau of itself per step, which needs tau > 1 to stay positive"
        )
    return values.clone()


def check_broadcasts_to_step(shape: torch.Size, step: torch.Size, name: str, owner: str) -> None:
    """Refuse a per-channel parameter whose ``shape`` does not broadcast to one step's ``step`` shape
    (without widening it): ``[C]`` fits ``[..., C]``, one value per element fits ``step`` itself."""
    fits = len(shape) <= len(step) and all(
        p in (1, s) for p, s in zip(reversed(shape), reversed(step), strict=False)
    )
    if not fits:
        raise ValueError(
            f"{owner}: {name} of shape {list(shape)} does not fit one step of the input, of shape "
            f"{list(step)}: give one value per channel of the last dimension ([{step[-1] if step else 1}]), "
            f"one per element ({list(step)}), or a float"
        )


def compute_dtype(x: torch.Tensor, *params: object) -> torch.dtype:
    """The floating dtype a module computes ``x`` in: ``x``'s own when it is floating, else the first
    floating tensor of ``params`` (the module's parameters and buffers), else torch's default dtype."""
    if x.is_floating_point():
        return x.dtype
    for p in params:
        if isinstance(p, torch.Tensor) and p.is_floating_point():
            return p.dtype
    return torch.get_default_dtype()


def check_tensor(x: object, owner: str, layout: str = "") -> torch.Tensor:
    """``x`` if it is a tensor, else a ``TypeError`` that names the module (and the layout it expects)."""
    if not isinstance(x, torch.Tensor):
        wanted = f"a torch.Tensor {layout}" if layout else "a torch.Tensor"
        raise TypeError(
            f"{owner} expects {wanted}, got {type(x).__name__}; convert it first, e.g. torch.as_tensor(x)"
        )
    return x


def as_compute_dtype(x: object, owner: str, *params: object, layout: str = "") -> torch.Tensor:
    """``x`` (a tensor, else ``TypeError``) in the dtype the module computes in (:func:`compute_dtype`):
    floating inputs pass through unchanged, bool and integer spikes are cast."""
    x = check_tensor(x, owner, layout)
    if x.is_floating_point():
        return x
    if x.is_complex():
        raise TypeError(f"{owner} expects real spikes or values (bool, integer or floating), got {x.dtype}")
    return x.to(compute_dtype(x, *params))


def _safe_tau(dtype: torch.dtype) -> str:
    """A time constant whose ``1/tau`` stays below 1 in ``dtype``, to suggest in error messages."""
    return f"{1.0 + torch.finfo(dtype).eps:.10g}"


def check_inv_tau_below_one(
    inv_tau: float | torch.Tensor,
    dtype: torch.dtype,
    name: str,
    owner: str,
    learned: bool = False,
    at_call: bool = False,
) -> None:
    """Refuse a ``1/tau`` that rounds to exactly 1 in ``dtype``.

    ``tau > 1`` is checked on the value given, but the walk uses ``1/tau`` rounded to the compute dtype:
    for ``tau`` within a few ``eps`` of 1 (``1 + 1e-9`` in float32, ``1 + 1e-4`` in float16) that is
    exactly 1, and the state forgets itself completely at every step (``1 - 1/tau = 0``) while ``tau``
    still reads ``> 1``. ``inv_tau`` is the value the walk would use (a float is rounded to ``dtype``
    here, a tensor cast to it); ``learned``: it is ``sigmoid(w)`` of a learnable time constant;
    ``at_call``: the check runs at a forward call (in the dtype of its input), not at an assignment."""
    if isinstance(inv_tau, torch.Tensor):
        k = inv_tau.detach().to(dtype)
        if k.numel() == 0 or not bool((k >= 1).any()):
            return
    elif torch.tensor(float(inv_tau), dtype=dtype).item() < 1.0:
        return
    eps = torch.finfo(dtype).eps
    wider = (
        ", or feed this module inputs of a wider floating dtype (float32, float64)"
        if at_call and dtype != torch.float64
        else ""
    )
    if learned:
        w_max = -math.log(eps)
        raise ValueError(
            f"{owner}: 1/{name} = sigmoid(w) rounds to exactly 1 in {dtype} (w has grown past about "
            f"{math.log(4.0 / eps):.3g}), so the state would forget itself at every step although {name} "
            f"reads > 1. Keep w at most {w_max:.3g} (e.g. `with torch.no_grad(): module.w.clamp_(max="
            f"{w_max:.3g})` after each optimiser step), start from a larger {name}{wider}"
        )
    raise ValueError(
        f"{owner}: 1/{name} rounds to exactly 1 in {dtype}, so the state would forget itself at every step "
        f"(1 - 1/{name} = 0) although {name} > 1. Give a {name} of at least {_safe_tau(dtype)} (1/{name} "
        f"then stays below 1 in {dtype}){wider}"
    )


def inv_tau_check_key(source: object, dtype: torch.dtype) -> tuple[object, ...] | None:
    """What the check of ``1/tau`` depends on: the value of a float; for a tensor its identity, storage
    and version counter (bumped by every in-place change, an optimiser step included). None: check at
    every call (an inference-mode tensor has no version counter)."""
    if not isinstance(source, torch.Tensor):
        return (source, dtype)
    try:
        version = source._version
    except RuntimeError:
        return None
    return (id(source), source.data_ptr(), version, source.dtype, source.device, dtype)

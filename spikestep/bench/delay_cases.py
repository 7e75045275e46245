"""Learnable delays, forward+backward: ``layer.DelayedLinear`` in its three kernels against
``dcls.Dcls1d`` (the DCLS-delays reference) on the same weights, positions and widths, and ``layer.Delay``.

The rows (``python -m spikestep.bench --delays``, or ``python -m spikestep.bench.delay_cases``):

* ``gauss``: the Gaussian kernel at ``sigma = max_delay / 2`` (dense), against ``Dcls1d`` version
  ``'gauss'`` with ``SIG = sigma - 0.27`` (the same kernel); ``gauss sigma 0.5``: the same at the end of
  the width schedule;
* ``linear``: the 2-tap kernel, against ``Dcls1d`` version ``'v1'`` (its 2-tap linear interpolation, the
  same kernel up to dcls's ``1e-7``) and against ``Dcls1d`` ``'gauss'`` at ``sigma = 0.5`` (what a
  DCLS-delays training runs once its width schedule has narrowed the kernel to about two taps);
* ``round``: the 1-tap kernel at whole delays, against ``Dcls1d`` ``'v1'`` at the same whole positions
  (one tap) and ``'gauss'`` at ``sigma = 0.5``;
* ``LearnableDelay linear`` / ``gauss``: ``layer.LearnableDelay(IN, max_delay)``, one learnable delay per
  input channel (no weights, no peer row), at ``sigma = 0`` (2 taps) and ``sigma = max_delay / 2``;
* ``Delay``: ``layer.Delay(max_delay)`` on the same input (no weights: the memory floor of a delay).

Each step is one forward and backward of a ``[T, B, I]`` spike input that requires a gradient (a hidden
layer), from a fresh state; Dcls1d takes it as DCLS-delays does (``[B, I, T]``, ``max_delay`` zeros on the
left). All steps run in interleaved rounds (``train_step.interleaved_ms``: one call each per round, the
order reversed every other round), so that all see the same machine, on one torch thread count (the
load-aware thread policy is held off while timing). ``max_diff`` rows say how far apart the outputs and
gradients of spikestep and dcls are, on those inputs.

Example::

    >>> from spikestep.bench.delay_cases import delay_rows
    >>> rows = delay_rows(steps=6, batch=2, features=(4, 3), max_delay=3, repeats=1)
    >>> [row["case"] for row in rows]  # doctest: +NORMALIZE_WHITESPACE
    ['DelayedLinear gauss fwd+bwd', 'DelayedLinear gauss sigma 0.5 fwd+bwd', 'DelayedLinear linear fwd+bwd',
     'DelayedLinear round fwd+bwd', 'LearnableDelay linear fwd+bwd', 'LearnableDelay gauss fwd+bwd',
     'Delay fwd+bwd']
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import statistics
from collections.abc import Callable, Iterator
from typing import Any

import torch
import torch.nn as nn

from .. import functional
from .. import layer as ss_layer
from .._runtime import thread_policy
from .train_step import interleaved_ms

KERNELS = ("gauss", "linear", "round")
DCLS_VERSION = {"gauss": "gauss", "linear": "v1", "round": "v1"}


def _dcls_module() -> Any:
    """``DCLS.construct.modules`` where dcls is installed (``pip install 'spikestep[delays]'``), else None."""
    try:
        return importlib.import_module("DCLS.construct.modules")
    except Exception:
        return None


def _ours(kernel: str, steps: int, batch: int, features: tuple[int, int], max_delay: int) -> nn.Module:
    torch.manual_seed(0)
    m = ss_layer.DelayedLinear(*features, max_delay, bias=False, kernel=kernel, step_mode="m")
    if kernel == "round":
        m.round_delays()
    return m


def _dcls_like(module: Any, ours: ss_layer.DelayedLinear, version: str | None = None) -> nn.Module:
    """A ``Dcls1d`` with ``ours``'s weights, positions and width (``version``: dcls's kernel, by default
    the one that computes what ``ours`` does)."""
    d, (o, i) = ours.max_delay, ours.weight.shape
    k = d + 1
    version = version or DCLS_VERSION[ours.kernel]
    m = module.Dcls1d(i, o, kernel_count=1, dilated_kernel_size=k, bias=False, version=version)
    with torch.no_grad():
        m.weight.copy_(ours.weight.unsqueeze(-1))
        m.P.copy_(((d - ours.delay) - k // 2).reshape(1, o, i, 1))  # tap c takes x[t - D + c]
        if m.SIG is not None:
            m.SIG.fill_(ours.sigma - 0.27)  # Dcls1d's width is |SIG| + 0.27
    return m


def _dcls_forward(m: nn.Module, x: torch.Tensor, max_delay: int) -> torch.Tensor:
    return m(torch.nn.functional.pad(x.permute(1, 2, 0), (max_delay, 0))).permute(2, 0, 1)


def _step(
    forward: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, params: list[torch.Tensor]
) -> Callable[[], None]:
    x = x.detach().clone().requires_grad_(True)
    grad: list[torch.Tensor] = []

    def step() -> None:
        y = forward(x)
        if not grad:
            grad.append(torch.ones_like(y))
        y.backward(grad[0])
        x.grad = None
        for p in params:
            p.grad = None

    return step


def _layer_forward(m: nn.Module) -> Callable[[torch.Tensor], torch.Tensor]:
    def forward(x: torch.Tensor) -> torch.Tensor:
        functional.reset_net(m)
        return m(x)

    return forward


def _max_diff(ours: ss_layer.DelayedLinear, dcls: nn.Module, x: torch.Tensor) -> dict[str, float]:
    """Largest absolute differences of spikestep's and dcls's output and gradients (input, weights,
    delays = -positions) for an upstream gradient of ones."""
    d = ours.max_delay
    xa, xb = x.clone().requires_grad_(True), x.clone().requires_grad_(True)
    functional.reset_net(ours)
    ya = ours(xa)
    ya.backward(torch.ones_like(ya))
    yb = _dcls_forward(dcls, xb, d)
    yb.backward(torch.ones_like(yb))
    diff = {
        "y": (ya - yb).abs().max().item(),
        "grad_x": (xa.grad - xb.grad).abs().max().item(),
        "grad_weight": (ours.weight.grad - dcls.weight.grad.squeeze(-1)).abs().max().item(),
    }
    if ours.kernel != "round":  # dcls's v1 has a one-sided position gradient at whole steps, round none
        diff["grad_delay"] = (ours.delay.grad + dcls.P.grad.reshape(ours.delay.shape)).abs().max().item()
    for p in (*ours.parameters(), *dcls.parameters()):
        p.grad = None
    return diff


@contextlib.contextmanager
def _fixed_threads() -> Iterator[None]:
    """The load-aware thread policy off: spikestep and dcls run on the same torch thread count."""
    previous = os.environ.get(thread_policy.ENV)
    os.environ[thread_policy.ENV] = "0"
    found = torch.get_num_threads()
    torch.set_num_threads(thread_policy.full_count())
    try:
        yield
    finally:
        torch.set_num_threads(found)
        if previous is None:
            del os.environ[thread_policy.ENV]
        else:
            os.environ[thread_policy.ENV] = previous


# The rows: (name, kernel, sigma: None for max_delay / 2).
CONFIGS = (
    ("gauss", "gauss", None),
    ("gauss sigma 0.5", "gauss", 0.5),
    ("linear", "linear", None),
    ("round", "round", None),
)
# LearnableDelay's rows: (name, sigma: None for max_delay / 2).
PER_CHANNEL = (("linear", 0.0), ("gauss", None))


def delay_rows(
    steps: int = 100,
    batch: int = 32,
    features: tuple[int, int] = (256, 256),
    max_delay: int = 25,
    repeats: int = 7,
    dcls: bool = True,
) -> list[dict[str, Any]]:
    """Median ms of one forward+backward per row (``ms``), of Dcls1d on the same synapses in the same
    rounds (``dcls_ms``, None without dcls) and ``dcls_over_ours``; for the sparse kernels also Dcls1d's
    Gaussian at width 0.5 (``dcls_narrow_gauss_ms``, ``dcls_narrow_gauss_over_ours``); ``max_diff``
    (spikestep against dcls, float32) per row. ``repeats`` rounds."""
    generator = torch.Generator().manual_seed(0)
    x = (torch.rand(steps, batch, features[0], generator=generator) < 0.2).float()
    module = _dcls_module() if dcls else None
    named: dict[str, Callable[[], None]] = {}
    diffs: dict[str, dict[str, float]] = {}
    for name, kernel, sigma in CONFIGS:
        ours = _ours(kernel, steps, batch, features, max_delay)
        if sigma is not None:
            ours.sigma = sigma
        named[name] = _step(_layer_forward(ours), x, list(ours.parameters()))
        if module is not None:
            peer = _dcls_like(module, ours)
            diffs[name] = _max_diff(ours, peer, x)
            named[f"dcls {name}"] = _step(
                lambda x, peer=peer: _dcls_forward(peer, x, max_delay), x, list(peer.parameters())
            )
    for name, sigma in PER_CHANNEL:
        torch.manual_seed(0)
        per_channel = ss_layer.LearnableDelay(
            features[0], max_delay, sigma=max_delay / 2 if sigma is None else sigma, step_mode="m"
        )
        named[f"LearnableDelay {name}"] = _step(
            _layer_forward(per_channel), x, list(per_channel.parameters())
        )
    delay = ss_layer.Delay(max_delay, step_mode="m")
    named["Delay"] = _step(_layer_forward(delay), x, [])
    with _fixed_threads():
        samples = interleaved_ms(named, repeats, warmup=1)
    medians = {name: statistics.median(times) for name, times in samples.items()}
    rows = []
    narrow_ms = medians.get("dcls gauss sigma 0.5")  # DCLS-delays at the end of its width schedule
    for name, kernel, _ in CONFIGS:
        peer_ms = medians.get(f"dcls {name}")
        row = {
            "case": f"DelayedLinear {name} fwd+bwd",
            "ms": medians[name],
            "dcls_ms": peer_ms,
            "dcls_version": DCLS_VERSION[kernel],
            "dcls_over_ours": peer_ms / medians[name] if peer_ms is not None else None,
            "max_diff": diffs.get(name),
        }
        if kernel != "gauss" and narrow_ms is not None:
            row["dcls_narrow_gauss_ms"] = narrow_ms
            row["dcls_narrow_gauss_over_ours"] = narrow_ms / medians[name]
        rows.append(row)
    for name, _ in PER_CHANNEL:
        rows.append(
            {
                "case": f"LearnableDelay {name} fwd+bwd",
                "ms": medians[f"LearnableDelay {name}"],
                "dcls_ms": None,
            }
        )
    rows.append({"case": "Delay fwd+bwd", "ms": medians["Delay"], "dcls_ms": None, "dcls_over_ours": None})
    return rows


def format_rows(rows: list[dict[str, Any]]) -> str:
    """The rows as text lines: time, dcls's time and the ratio, and the largest differences."""
    lines = []
    for row in rows:
        line = f"{row['case']:<38} {row['ms']:9.2f} ms"
        if row.get("dcls_ms") is not None:
            line += (
                f"   Dcls1d({row['dcls_version']}) {row['dcls_ms']:9.2f} ms   dcls / spikestep "
                f"{row['dcls_over_ours']:5.2f}x"
            )
        if row.get("dcls_narrow_gauss_ms") is not None:
            line += (
                f"   Dcls1d(gauss, sigma 0.5) {row['dcls_narrow_gauss_ms']:9.2f} ms "
                f"{row['dcls_narrow_gauss_over_ours']:5.2f}x"
            )
        if row.get("max_diff"):
            line += "   max |diff| " + ", ".join(f"{k} {v:.1e}" for k, v in row["max_diff"].items())
        lines.append(line)
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Print the delay rows for the sizes given (default: T=100, B=32, 256 -> 256, max_delay 25)."""
    parser = argparse.ArgumentParser(prog="python -m spikestep.bench.delay_cases")
    parser.add_argument("--T", type=int, default=100)
    parser.add_argument("--B", type=int, default=32)
    parser.add_argument("--features", type=int, nargs=2, default=[256, 256], metavar=("IN", "OUT"))
    parser.add_argument("--max-delay", type=int, default=25)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args(argv)
    print(header(args.T, args.B, tuple(args.features), args.max_delay), flush=True)
    rows = delay_rows(args.T, args.B, tuple(args.features), args.max_delay, args.repeats)
    print(format_rows(rows), flush=True)
    return 0


def header(steps: int, batch: int, features: tuple[int, int], max_delay: int) -> str:
    found = "installed" if _dcls_module() is not None else "not installed (pip install 'spikestep[delays]')"
    return (
        f"learnable delays, forward+backward, float32, CPU, {thread_policy.full_count()} threads: T={steps}, "
        f"B={batch}, {features[0]} -> {features[1]}, max_delay {max_delay}; dcls {found}; medians of "
        f"interleaved rounds"
    )


if __name__ == "__main__":
    raise SystemExit(main())

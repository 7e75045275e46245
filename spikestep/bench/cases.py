"""What the benchmark measures: a list of :class:`Case` objects, one per operation and pass.

A case builds, for a size ``(T, N)`` (``N`` elements per time step) and a dtype, a zero-argument callable
that runs the operation once; the runner times it. Each case may give up to three such builders:

* ``fused``: spikestep's multi-step path (timed once per backend, under ``kernels.use_backend``);
* ``loop``: the specification's way, single steps stacked, autograd recording each step;
* ``spikingjelly``: the same operation in SpikingJelly, when it is installed (``None`` otherwise);
* ``free``: the memory traffic and autograd work that any implementation of the operation pays, with
  none of its arithmetic (:func:`free_walk`): the floor below which no fused path can go.

Adding a case takes one entry in :func:`default_cases` (or in a list it includes, like
:func:`neuron_cases`); for a stateful module the helper
:func:`module_case` builds all three callables from module factories::

    module_case("LIF fwd+bwd", lambda: neuron.LIFNode(step_mode="m"), lambda: neuron.LIFNode(step_mode="s"),
                backward=True)

or build a list of your own and pass it to :func:`spikestep.bench.run`.
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn as nn

from .. import functional, neuron
from .. import layer as ss_layer

# ``build(T, N, dtype)`` or, for a GPU run, ``build(T, N, dtype, device)``.
Builder = Callable[..., Callable[[], object]]


@dataclass(frozen=True)
class Case:
    """One benchmarked operation. ``name`` labels the table row; the builders are described above."""

    name: str
    fused: Builder
    loop: Builder | None = None
    spikingjelly: Builder | None = None
    free: Builder | None = None


def spikes(n_steps: int, n: int, dtype: torch.dtype, rate: float = 0.2, seed: int = 0) -> torch.Tensor:
    """A ``[T, N]`` tensor of 0/1 spikes at ``rate``, reproducible (``seed``)."""
    generator = torch.Generator().manual_seed(seed)
    return (torch.rand(n_steps, n, generator=generator) < rate).to(dtype)


def _run_multi(module: nn.Module, x: torch.Tensor) -> torch.Tensor:
    functional.reset_net(module)
    return module(x)


def _run_loop(module: nn.Module, x: torch.Tensor) -> torch.Tensor:
    functional.reset_net(module)
    return torch.stack([module(x_t) for x_t in x])


def _timed_pass(
    module: nn.Module, run: Callable[[nn.Module, torch.Tensor], torch.Tensor], backward: bool
) -> Builder:
    def build(
        n_steps: int, n: int, dtype: torch.dtype, device: torch.device | None = None
    ) -> Callable[[], object]:
        x = spikes(n_steps, n, dtype).to(device)
        if not backward:

            def forward() -> object:
                with torch.no_grad():
                    return run(module, x)

            return forward
        x.requires_grad_(True)
        grad = torch.ones(n_steps, n, dtype=dtype, device=device)

        def forward_backward() -> object:
            run(module, x).backward(grad)
            x.grad = None
            for p in module.parameters():
                p.grad = None

        return forward_backward

    return build


class _FreeWalk(torch.autograd.Function):
    """A neuron walk whose neurons cost nothing: what a fused walk cannot avoid moving, and no more.
    The forward reads ``X`` and writes a fresh ``[T, N]`` output (the spikes); the backward reads the
    output's gradient and ``X`` (a walk back needs each step's state, recomputed from ``X`` or kept)
    and writes a fresh ``[T, N]`` gradient."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        ctx.save_for_backward(x)
        return x.clone()

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        (x,) = ctx.saved_tensors
        return grad + x


def free_walk(
    n_steps: int, n: int, dtype: torch.dtype, device: torch.device | None = None
) -> Callable[[], object]:
    """A builder for :class:`_FreeWalk` forward+backward on the same input and gradient as the neuron
    rows: its time is a floor for every neuron walk's forward+backward (SpikingJelly's time over it is
    the most any walk could be faster than SpikingJelly on this machine)."""
    return _timed_pass(_FreeWalkModule(), _run_multi, backward=True)(n_steps, n, dtype, device)


class _FreeWalkModule(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _FreeWalk.apply(x)  # type: ignore[no-any-return]


def module_case(
    name: str,
    make_multi: Callable[[], nn.Module],
    make_single: Callable[[], nn.Module] | None = None,
    make_spikingjelly: Callable[[], nn.Module] | None = None,
    backward: bool = False,
) -> Case:
    """A case for a stateful module: ``make_multi()`` in multi-step mode runs ``[T, N]`` at once (fused);
    ``make_single()`` in single-step mode runs it step by step, stacked (loop); ``make_spikingjelly()``
    (when it returns a module) is SpikingJelly's multi-step module. Each call resets the module first.
    ``backward=True`` times forward+backward, with the input requiring grad; else forward, no grad."""

    def builder(make: Callable[[], nn.Module | None], run: Callable) -> Builder:
        def build(
            n_steps: int, n: int, dtype: torch.dtype, device: torch.device | None = None
        ) -> Callable[[], object]:
            module = make()
            if module is None:
                raise RuntimeError(f"{name}: the module factory returned None")
            return _timed_pass(module.to(device=device, dtype=dtype), run, backward)(
                n_steps, n, dtype, device
            )

        return build

    return Case(
        name=name,
        fused=builder(make_multi, _run_multi),
        loop=builder(make_single, _run_loop) if make_single is not None else None,
        spikingjelly=builder(make_spikingjelly, _run_multi) if make_spikingjelly is not None else None,
    )


def _spikingjelly(module: str, name: str, *args: object, **kwargs: object) -> Callable[[], nn.Module] | None:
    """A factory for ``spikingjelly.activation_based.<module>.<name>`` (``module``: ``'layer'`` or
    ``'neuron'``) in multi-step mode, or ``None`` when SpikingJelly (or that class) is not installed: it is
    never required."""
    try:
        sj_module = importlib.import_module(f"spikingjelly.activation_based.{module}")
    except Exception:
        return None
    cls = getattr(sj_module, name, None)
    if cls is None:
        return None
    return lambda: cls(*args, step_mode="m", **kwargs)


TAU = 4.0
DELAY_STEPS = 2


def sized_case(name: str, make_multi: Callable[[int], nn.Module], backward: bool = False) -> Case:
    """A case whose module depends on ``N`` (``make_multi(N)``, e.g. one time constant per element):
    the fused path only."""

    def build(
        n_steps: int, n: int, dtype: torch.dtype, device: torch.device | None = None
    ) -> Callable[[], object]:
        module = make_multi(n).to(device=device, dtype=dtype)
        return _timed_pass(module, _run_multi, backward)(n_steps, n, dtype, device)

    return Case(name=name, fused=build)


def _taus(n: int, low: float, high: float) -> torch.Tensor:
    """``n`` time constants spread over ``[low, high]``: one per channel."""
    return torch.linspace(low, high, n)


def per_channel_cases() -> list[Case]:
    """The per-channel rows: SynapseFilter, LIF and PLIF forward+backward with one tau per element, to
    read beside the scalar-tau rows."""
    return [
        sized_case(
            "SynapseFilter fwd+bwd, tau per channel",
            lambda n: ss_layer.SynapseFilter(tau=_taus(n, TAU / 2, TAU * 2), step_mode="m"),
            backward=True,
        ),
        sized_case(
            "LIF fwd+bwd, tau per channel",
            lambda n: neuron.LIFNode(tau=_taus(n, 1.5, 3.0), step_mode="m"),
            backward=True,
        ),
        sized_case(
            "PLIF fwd+bwd, tau per channel",
            lambda n: neuron.ParametricLIFNode(init_tau=_taus(n, 1.5, 3.0), step_mode="m"),
            backward=True,
        ),
    ]


def _stepped_case(
    name: str,
    make: Callable[[str], nn.Module],
    make_spikingjelly: Callable[[], nn.Module] | None,
    backward: bool = False,
) -> Case:
    """:func:`module_case` for a module whose factory takes the step mode: ``make('m')`` is fused,
    ``make('s')`` the per-step loop."""
    return module_case(name, lambda: make("m"), lambda: make("s"), make_spikingjelly, backward=backward)


def default_cases() -> list[Case]:
    """The table's rows: SynapseFilter forward and forward+backward, Delay forward, the neurons' cases
    (:func:`neuron_cases`), then the per-channel rows (:func:`per_channel_cases`)."""

    def synapse_filter(mode: str) -> nn.Module:
        return ss_layer.SynapseFilter(tau=TAU, step_mode=mode)

    sj_synapse_filter = _spikingjelly("layer", "SynapseFilter", tau=TAU)
    return [
        _stepped_case("SynapseFilter fwd", synapse_filter, sj_synapse_filter),
        _stepped_case("SynapseFilter fwd+bwd", synapse_filter, sj_synapse_filter, backward=True),
        _stepped_case(
            "Delay fwd",
            lambda mode: ss_layer.Delay(DELAY_STEPS, step_mode=mode),
            _spikingjelly("layer", "Delay", DELAY_STEPS),
        ),
        *neuron_cases(),
        *per_channel_cases(),
    ]


NEURON_TAU = 2.0


def neuron_cases() -> list[Case]:
    """LIF (tau=2, hard reset, ATan) forward and forward+backward; PLIF forward+backward (gradient of w)."""

    def lif(mode: str) -> nn.Module:
        return neuron.LIFNode(tau=NEURON_TAU, step_mode=mode)

    sj_lif = _spikingjelly("neuron", "LIFNode", tau=NEURON_TAU)
    return [
        _stepped_case("LIF fwd", lif, sj_lif),
        dataclasses.replace(_stepped_case("LIF fwd+bwd", lif, sj_lif, backward=True), free=free_walk),
        _stepped_case(
            "PLIF fwd+bwd",
            lambda mode: neuron.ParametricLIFNode(init_tau=NEURON_TAU, step_mode=mode),
            _spikingjelly("neuron", "ParametricLIFNode", init_tau=NEURON_TAU),
            backward=True,
        ),
    ]

"""The MNIST-1D network of :class:`~spikestep.models.DelayNet`, built from SpikingJelly 2.0 parts: the
network a SpikingJelly user would write, for timing a training step against spikestep's.

:func:`spikingjelly_delaynet` builds, in multi-step mode, blocks of ``delay bank -> layer.Linear ->
layer.BatchNorm1d -> neuron.LIFNode``, then ``layer.Dropout -> layer.Linear -> neuron.LIFNode`` and a
readout that averages a ``layer.VotingLayer`` over time: DelayNet's architecture and its ``'voting'``
readout, module for module, with the same parameter names (``features.1.weight``, ...). So
``sj_net.load_state_dict(delaynet.state_dict())`` gives both networks the same weights.

Which SpikingJelly parts, and why:

* Delays: SpikingJelly 2.0 has ``layer.Delay`` (``y[t] = x[t - d]``, zeros before the start); a bank is
  the taps' outputs concatenated on the last dimension (:class:`ConcatDelays`), as spikestep's
  :class:`~spikestep.models.DelayBank` does with its own ``Delay``. SpikingJelly's multi-step ``Delay``
  walks the sequence one step at a time in Python (``functional.delay_step``); that is its layer, so
  that is what runs.
* Neurons: ``neuron.LIFNode(tau, surrogate_function=surrogate.ATan(), step_mode='m')``. SpikingJelly 2.0's
  ``LIFNode`` has no ``backend`` argument any more: the device picks the implementation, and the
  environment variable ``SJ_LIF_CUDA_IMPLEMENTATION`` chooses among the CUDA ones only (cupy and Triton
  are GPU-only). On the CPU a multi-step call with a surrogate it knows (``ATan`` is one) goes to its
  registered operator ``torch.ops.sj_lif.forward``, which, when gradients are needed, runs its PyTorch
  reference walk (a few operations per time step) recorded by autograd (registered for ``AutogradCPU``).
  The only other CPU path, the plain reference loop taken for surrogates it does not know, was slower
  (LIF forward+backward on ``[40, 128, 64]``: 21-22 ms against 24-25 ms, torch 2.13 CPU, 2 cores).
* Same dynamics as spikestep's ``LIFNode`` defaults: decay_input, hard reset to 0, threshold 1, ATan
  surrogate with ``alpha = 2``, reset not detached.

SpikingJelly is optional (``pip install 'spikestep[peers]'``, or see :func:`spikingjelly_unavailable_reason`
for the reason it cannot be imported); nothing here imports it before :func:`spikingjelly_delaynet` is
called.

Example (prints the same with or without SpikingJelly)::

    >>> import torch
    >>> from spikestep.bench.peer_network import spikingjelly_available, spikingjelly_delaynet
    >>> net = spikingjelly_delaynet(hidden=8) if spikingjelly_available() else None
    >>> net is None or net(torch.rand(40, 2, 1)).shape == (2, 10)
    True
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence

import torch
import torch.nn as nn

SPIKINGJELLY_VERSION = "2.0.0"
INSTALL_HINT = (
    f"pip install 'spikestep[peers]' (SpikingJelly {SPIKINGJELLY_VERSION}), or where pip would bring a "
    f"torchvision that does not match your torch: pip install --no-deps spikingjelly=={SPIKINGJELLY_VERSION} "
    "loguru numpy"
)


def spikingjelly_unavailable_reason() -> str | None:
    """Why SpikingJelly's ``activation_based`` parts cannot be used here, or ``None`` when they can.

    Example::

        >>> from spikestep.bench.peer_network import spikingjelly_unavailable_reason
        >>> reason = spikingjelly_unavailable_reason()
        >>> reason is None or "SpikingJelly" in reason
        True
    """
    try:
        for name in ("layer", "neuron", "surrogate", "functional"):
            importlib.import_module(f"spikingjelly.activation_based.{name}")
    except Exception as error:  # not installed, or installed but broken (a missing dependency)
        return f"SpikingJelly is not importable ({type(error).__name__}: {error}); {INSTALL_HINT}"
    layer = importlib.import_module("spikingjelly.activation_based.layer")
    if not hasattr(layer, "Delay"):
        return f"this SpikingJelly has no layer.Delay (needs {SPIKINGJELLY_VERSION}); {INSTALL_HINT}"
    return None


def spikingjelly_available() -> bool:
    """Whether :func:`spikingjelly_delaynet` can build the network here."""
    return spikingjelly_unavailable_reason() is None


class ConcatDelays(nn.Module):
    """Delayed copies of a sequence side by side on the last dimension, from ``delay`` layers of any
    library: ``[T, B, C] -> [T, B, K*C]``, tap-major (what :class:`~spikestep.models.DelayBank` computes).

    Example (with spikestep's ``Delay``; the network uses SpikingJelly's)::

        >>> import torch
        >>> from spikestep import layer
        >>> bank = ConcatDelays([layer.Delay(d, step_mode="m") for d in (0, 1)])
        >>> bank(torch.tensor([[[1.0]], [[2.0]]])).flatten(1)
        tensor([[1., 0.],
                [2., 1.]])
    """

    def __init__(self, taps: Sequence[nn.Module]) -> None:
        super().__init__()
        self.taps = nn.ModuleList(taps)

    def forward(self, x_seq: torch.Tensor) -> torch.Tensor:
        return torch.cat([tap(x_seq) for tap in self.taps], dim=-1)


class VoteOverTime(nn.Module):
    """Class scores ``[B, C]`` from output spikes ``[T, B, C * v]``: a multi-step voting layer, averaged
    over time (the ``'voting'`` readout of :class:`~spikestep.models.Readout`).

    Example (with spikestep's ``VotingLayer``; the network uses SpikingJelly's)::

        >>> import torch
        >>> from spikestep import layer
        >>> spikes = torch.tensor([[[1.0, 1.0, 0.0, 0.0]], [[1.0, 0.0, 0.0, 1.0]]])
        >>> VoteOverTime(layer.VotingLayer(2, step_mode="m"))(spikes)
        tensor([[0.7500, 0.2500]])
    """

    def __init__(self, vote: nn.Module) -> None:
        super().__init__()
        self.vote = vote

    def forward(self, spikes: torch.Tensor) -> torch.Tensor:
        return self.vote(spikes).mean(0)


class SpikingJellyDelayNet(nn.Module):
    """``features`` (an ``nn.Sequential`` laid out as DelayNet's) then ``readout``; see
    :func:`spikingjelly_delaynet`."""

    def __init__(self, features: nn.Sequential, readout: nn.Module) -> None:
        super().__init__()
        self.features = features
        self.readout = readout

    def forward(self, x_seq: torch.Tensor) -> torch.Tensor:
        return self.readout(self.features(x_seq))


def spikingjelly_delaynet(
    hidden: int = 64,
    taps: int = 5,
    dilations: Sequence[int] = (1, 2, 4),
    voting_size: int = 10,
    num_classes: int = 10,
    dropout: float = 0.1,
    tau: float = 1.5,
    in_channels: int = 1,
) -> SpikingJellyDelayNet:
    """:class:`~spikestep.models.DelayNet` with its ``'voting'`` readout, from SpikingJelly 2.0 parts in
    multi-step mode (module docstring). The arguments mean what DelayNet's do; input ``[T, B,
    in_channels]``, output ``[B, num_classes]``. Reset it between sequences with SpikingJelly's
    ``functional.reset_net`` (spikestep's works too).

    Raises:
        ModuleNotFoundError: SpikingJelly cannot be imported (the message says why and how to install).
        ValueError: ``taps < 1``.
    """
    reason = spikingjelly_unavailable_reason()
    if reason is not None:
        raise ModuleNotFoundError(f"spikingjelly_delaynet needs SpikingJelly: {reason}")
    if taps < 1:
        raise ValueError(f"taps must be >= 1 (1 = no delays), got {taps}")
    layer = importlib.import_module("spikingjelly.activation_based.layer")
    neuron = importlib.import_module("spikingjelly.activation_based.neuron")
    surrogate = importlib.import_module("spikingjelly.activation_based.surrogate")

    def lif() -> nn.Module:
        # SpikingJelly asserts a float tau (an int 2 would fail its check).
        return neuron.LIFNode(tau=float(tau), surrogate_function=surrogate.ATan(), step_mode="m")

    blocks: list[nn.Module] = []
    width = in_channels
    for r in dilations:
        blocks += [
            ConcatDelays([layer.Delay(k * r, step_mode="m") for k in range(taps)]),
            layer.Linear(width * taps, hidden, bias=False, step_mode="m"),
            layer.BatchNorm1d(hidden, step_mode="m"),
            lif(),
        ]
        width = hidden
    blocks += [
        layer.Dropout(dropout, step_mode="m"),
        layer.Linear(width, num_classes * voting_size, step_mode="m"),
        lif(),
    ]
    return SpikingJellyDelayNet(
        nn.Sequential(*blocks), VoteOverTime(layer.VotingLayer(voting_size, step_mode="m"))
    )

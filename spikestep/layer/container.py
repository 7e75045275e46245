"""Containers that run ordinary (single-step) modules over time-first sequences ``[T, B, ...]``."""

from __future__ import annotations

import torch
import torch.nn as nn

from .. import functional as F
from ..base import MultiStepModule, StepModule


def _check_children_single_step(container: nn.Module) -> None:
    # The children see single steps ([B, ...] or [T*B, ...]), so a step-aware child set to 'm' (e.g. by
    # functional.set_step_mode(net, "m")) would misread its input. Say so instead of computing garbage.
    for name, m in container.named_modules():
        if m is container or not isinstance(m, StepModule):
            continue
        if m.step_mode == "m" and "s" in m.supported_step_mode():
            raise ValueError(
                f"{type(container).__name__} feeds its modules single steps, but {name!r} "
                f"({type(m).__name__}) has step_mode='m' (functional.set_step_mode(net, 'm') sets it on "
                f"every layer). Set that module's step_mode back to 's', or drop the container and use the "
                f"layer's own step_mode='m'."
            )


def _check_sequence(x_seq: object, owner: str) -> None:
    if not isinstance(x_seq, torch.Tensor):
        raise TypeError(f"{owner} expects a torch.Tensor [T, B, ...], got {type(x_seq).__name__}")
    if x_seq.dim() < 2:
        raise ValueError(
            f"{owner} expects a sequence [T, B, ...] with time first, got shape {tuple(x_seq.shape)}"
        )


class SeqToANNContainer(nn.Sequential, MultiStepModule):
    """Apply stateless modules to a whole sequence at once by folding time into the batch.

    ``[T, B, ...] -> [T*B, ...] -> modules -> [T*B, ...] -> [T, B, ...]`` (``functional.seq_to_ann_forward``),
    one call instead of ``T``. Only for modules that hold no state and treat batch entries independently
    (convolutions, linear layers, pooling; not neurons). Multi-step only.

    Example::

        >>> import torch
        >>> from spikestep import layer
        >>> block = layer.SeqToANNContainer(torch.nn.Conv2d(1, 4, 3), torch.nn.BatchNorm2d(4))
        >>> block(torch.rand(5, 2, 1, 8, 8)).shape
        torch.Size([5, 2, 4, 6, 6])
    """

    def __init__(self, *modules: nn.Module) -> None:
        super().__init__(*modules)
        self.step_mode = "m"

    def forward(self, x_seq: torch.Tensor) -> torch.Tensor:
        _check_sequence(x_seq, type(self).__name__)
        _check_children_single_step(self)
        return F.seq_to_ann_forward(x_seq, super().forward)


class MultiStepContainer(nn.Sequential, MultiStepModule):
    """Run single-step modules over a sequence, one time step after another.

    ``y[t] = modules(x_seq[t])`` for ``t = 0 .. T-1`` (``functional.multi_step_forward``), stacked as
    ``[T, ...]``. Stateful single-step modules keep their memories across the steps (and after the call),
    so this turns any single-step network into a multi-step one. Multi-step only. A sequence with no steps
    (``T = 0``) is a ``ValueError``: the modules never run, so the shape of their output is unknown.

    Example::

        >>> import torch
        >>> from spikestep import layer
        >>> block = layer.MultiStepContainer(layer.SynapseFilter(tau=2.0))
        >>> block(torch.ones(3, 1)).flatten()
        tensor([1., 2., 3.])
    """

    def __init__(self, *modules: nn.Module) -> None:
        super().__init__(*modules)
        self.step_mode = "m"

    def forward(self, x_seq: torch.Tensor) -> torch.Tensor:
        if not isinstance(x_seq, torch.Tensor) or x_seq.dim() < 1:
            raise TypeError(
                f"{type(self).__name__} expects a torch.Tensor with time first [T, ...], got "
                f"{getattr(x_seq, 'shape', type(x_seq).__name__)}"
            )
        _check_children_single_step(self)
        return F.multi_step_forward(x_seq, super().forward)

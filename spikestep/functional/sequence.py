"""Running stateless modules over time-first sequences ``[T, B, ...]``."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn as nn

Step = Callable[[torch.Tensor], torch.Tensor]
ModuleOrModules = Step | Sequence[Step]


def _as_chain(
    module_or_modules: ModuleOrModules, caller: str
) -> list[Callable[[torch.Tensor], torch.Tensor]]:
    if isinstance(module_or_modules, (list, tuple, nn.ModuleList)):
        chain = list(module_or_modules)
    else:
        chain = [module_or_modules]
    for m in chain:
        if not callable(m):
            raise TypeError(f"{caller}: expected a module or function, got {type(m).__name__}")
    return chain


def _check_sequence(x_seq: object, caller: str) -> None:
    if not isinstance(x_seq, torch.Tensor):
        raise TypeError(f"{caller}: x_seq must be a torch.Tensor [T, B, ...], got {type(x_seq).__name__}")
    if x_seq.dim() < 2:
        raise ValueError(
            f"{caller}: x_seq must have time and batch dimensions [T, B, ...], got shape {tuple(x_seq.shape)}"
        )


def seq_to_ann_forward(x_seq: torch.Tensor, module_or_modules: ModuleOrModules) -> torch.Tensor:
    """Apply stateless module(s) to every time step at once by folding time into the batch.

    ``[T, B, ...] -> [T*B, ...] -> module(s) -> [T*B, ...] -> [T, B, ...]``: one call instead of ``T``.
    Only correct for modules that treat batch entries independently and hold no state.

    Example::

        >>> import torch
        >>> from spikestep import functional
        >>> fc = torch.nn.Linear(4, 3)
        >>> functional.seq_to_ann_forward(torch.rand(5, 2, 4), fc).shape
        torch.Size([5, 2, 3])
    """
    _check_sequence(x_seq, "seq_to_ann_forward")
    y = x_seq.flatten(0, 1)
    for m in _as_chain(module_or_modules, "seq_to_ann_forward"):
        y = m(y)
    t, b = x_seq.shape[:2]
    if not isinstance(y, torch.Tensor) or y.dim() < 1 or y.shape[0] != t * b:
        got = f"shape {tuple(y.shape)}" if isinstance(y, torch.Tensor) else type(y).__name__
        raise ValueError(
            f"seq_to_ann_forward: the module(s) turned [T*B, ...] = [{t * b}, ...] into {got}: they must keep "
            f"the batch dimension first (one output per sample) to unfold it back to [T, B, ...]; use modules "
            f"that treat the samples of a batch independently (not Flatten(start_dim=0), not a reduction over "
            f"the batch)"
        )
    return y.unflatten(0, (t, b))


def multi_step_forward(x_seq: torch.Tensor, module_or_modules: ModuleOrModules) -> torch.Tensor:
    """Run single-step module(s) over ``x_seq`` one time step after another and stack the outputs.

    ``y[t] = modules(x_seq[t])`` for ``t = 0 .. T-1``, returned as ``[T, ...]``. Stateful modules keep
    their memories across the steps (and after the call).

    Example::

        >>> import torch
        >>> from spikestep import functional, layer
        >>> functional.multi_step_forward(torch.ones(3, 1), layer.SynapseFilter(tau=2.0)).flatten()
        tensor([1., 2., 3.])
    """
    if not isinstance(x_seq, torch.Tensor) or x_seq.dim() < 1:
        raise TypeError("multi_step_forward: x_seq must be a torch.Tensor with time first [T, ...]")
    chain = _as_chain(module_or_modules, "multi_step_forward")
    if x_seq.shape[0] == 0:
        raise ValueError(
            f"multi_step_forward: x_seq has no time steps (shape {tuple(x_seq.shape)}): the modules never run, "
            f"so the shape of their output is unknown; skip empty sequences (or chunks) instead"
        )
    outputs = []
    for x in x_seq:
        for m in chain:
            x = m(x)
        outputs.append(x)
    return torch.stack(outputs)

"""export: a spikestep network -> a NIR graph."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import TYPE_CHECKING

import torch
import torch.nn as nn

from ..functional import reset_net
from . import conventions
from ._require import require_nir
from .graph_net import INPUT, OUTPUT
from .plan import Plan, Unit, plan_of
from .to_nir import node_of

if TYPE_CHECKING:
    import nir


def export(net: nn.Module, example_input: torch.Tensor, dt: float = 1e-4) -> nir.NIRGraph:
    """``net`` as a NIR graph, each module one node with exactly its parameters (``nir.write`` saves it).

    Args:
        net: a spikestep network: an ``nn.Sequential`` (containers included), a
            :class:`~spikestep.nir.GraphNet`, or a module whose ``forward`` calls its submodules and adds
            their outputs (read with ``torch.fx``). :mod:`spikestep.nir` lists the modules NIR has nodes for;
            any other, or one NIR cannot express exactly (a soft reset, a ``SynapseFilter``, ...), is a
            ``ValueError`` that names it and says why. Dropout must be in eval mode.
        example_input: one input as ``net`` takes it (``[T, B, ...]`` in multi-step mode, ``[B, ...]`` in
            single-step mode): it runs once through a copy of ``net`` to learn the shapes the nodes need.
            ``net`` itself is left as it was (memories, running statistics).
        dt: the time step in seconds that turns step counts into NIR's time constants and delays
            (:mod:`spikestep.nir.conventions`); SpikingJelly's default, ``1e-4``. Load with the same ``dt``.

    Example (with ``nir`` installed)::

        import torch
        from spikestep import layer, neuron, nir as ss_nir

        net = torch.nn.Sequential(layer.Linear(4, 3), neuron.LIFNode(tau=2.0), layer.Delay(1))
        graph = ss_nir.export(net, torch.rand(2, 4))  # single-step net: one step [B, 4]
        sorted(graph.nodes)  # ['0', '1', '2', 'input', 'output']
    """
    nir = require_nir()
    if not isinstance(net, nn.Module):
        raise TypeError(f"export: net must be a torch.nn.Module, got {type(net).__name__}")
    if not isinstance(example_input, torch.Tensor):
        raise TypeError(
            f"export: example_input must be a torch.Tensor shaped as net's input, got {type(example_input).__name__}"
        )
    dt = conventions.check_dt(dt, "export")
    work = copy.deepcopy(
        net
    )  # the shapes are learnt on a copy: net's memories and statistics stay as they are
    plan = plan_of(work)
    seen = _shapes_seen(work, plan, example_input)
    # A sample's shape at the ends: what the first node fed by the input saw, what the last node gave.
    first = next(t for s, t in plan.edges if s == INPUT and t != OUTPUT)
    in_shape = _sample_shape(plan.units[first], seen[first][0])
    last = next((s for s, t in plan.edges if t == OUTPUT and s != INPUT), None)
    out_shape = in_shape if last is None else _sample_shape(plan.units[last], seen[last][1])
    nodes = {INPUT: nir.Input(input_type=in_shape)}
    nodes.update((name, node_of(unit, seen[name][0], dt)) for name, unit in plan.units.items())
    nodes[OUTPUT] = nir.Output(output_type=out_shape)
    return nir.NIRGraph(nodes=nodes, edges=list(plan.edges), type_check=True)


def _shapes_seen(
    net: nn.Module, plan: Plan, example_input: torch.Tensor
) -> dict[str, tuple[torch.Size, torch.Size]]:
    """Node name -> (input shape, output shape) of its module's first call on ``example_input``."""
    seen: dict[str, tuple[torch.Size, torch.Size]] = {}

    def recorder(name: str) -> Callable[[nn.Module, tuple, object], None]:
        def hook(module: nn.Module, args: tuple, output: object) -> None:
            if (
                name not in seen
                and args
                and isinstance(args[0], torch.Tensor)
                and isinstance(output, torch.Tensor)
            ):
                seen[name] = (args[0].shape, output.shape)

        return hook

    handles = [unit.module.register_forward_hook(recorder(name)) for name, unit in plan.units.items()]
    try:
        reset_net(net)
        with torch.no_grad():
            net(example_input)
    finally:
        for handle in handles:
            handle.remove()
    missing = [plan.units[name].path for name in plan.units if name not in seen]
    if missing:
        raise ValueError(
            f"export: {missing} did not run (on a tensor) when net ran on example_input, so their shapes are "
            f"unknown; give an example_input that reaches every module"
        )
    return seen


def _sample_shape(unit: Unit, shape: torch.Size) -> tuple[int, ...]:
    """One sample's shape: ``shape`` without the batch (and time, in multi-step mode) dimensions."""
    multi = not unit.single_steps and getattr(unit.module, "step_mode", "s") == "m"
    return tuple(shape[2:] if multi else shape[1:])

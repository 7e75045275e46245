"""Which modules of a network become NIR nodes, and the edges between them (no shapes, no nir yet).

A network is read without running it:

- ``nn.Sequential`` (``layer.SeqToANNContainer`` and ``layer.MultiStepContainer`` included): its children
  in a chain;
- :class:`~spikestep.nir.GraphNet` (what :func:`~spikestep.nir.load` builds for a branching graph): its
  own nodes and edges;
- ``nn.Identity``, and a dropout in eval mode: no node, the input passes on;
- any other module with children: its ``forward`` traced by ``torch.fx``, each submodule call a call, the
  sum of two outputs NIR's sum of the edges that reach a node; any other operation is refused;
- the rest (layers, neurons): one NIR node each, mapped by :mod:`spikestep.nir.to_nir`.
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
import torch.nn as nn

from ..layer import Dropout, MultiStepContainer, SeqToANNContainer
from ..neuron import BaseNode
from .graph_net import INPUT, OUTPUT, GraphNet

_UNIT_PACKAGES = ("torch.nn.", "spikestep.layer.", "spikestep.neuron.", "spikestep.nir.")
_ADDS = (operator.add, operator.iadd, torch.add)


@dataclass
class Unit:
    """A module that becomes one NIR node. ``single_steps``: it sits in a container that feeds it single
    steps ``[B, ...]`` (or time folded into the batch), whatever its own step mode."""

    module: nn.Module
    path: str
    single_steps: bool


@dataclass
class Plan:
    """NIR node name -> :class:`Unit`, and the edges (``'input'`` and ``'output'`` the graph's ends)."""

    units: dict[str, Unit] = field(default_factory=dict)
    edges: list[tuple[str, str]] = field(default_factory=list)


def plan_of(net: nn.Module) -> Plan:
    """The NIR nodes and edges of ``net``; ``ValueError`` naming the module or operation NIR cannot say.

    Example::

        >>> from spikestep import layer, neuron
        >>> import torch
        >>> plan = plan_of(torch.nn.Sequential(layer.Linear(2, 3), torch.nn.Identity(), neuron.IFNode()))
        >>> list(plan.units), plan.edges
        (['0', '2'], [('input', '0'), ('0', '2'), ('2', 'output')])
    """
    builder = _Builder()
    ends = builder.add(net, "", [INPUT], single_steps=False)
    if ends == [INPUT]:
        raise ValueError(
            f"export: {type(net).__name__} holds no module NIR has a node for (it passes its input on)"
        )
    builder.connect(ends, OUTPUT)
    repeated = sorted({e for e in builder.plan.edges if builder.plan.edges.count(e) > 1})
    if repeated:
        raise ValueError(
            f"export: the output of {repeated[0][0]!r} reaches {repeated[0][1]!r} twice (x + x); a NIR edge "
            f"carries it once: put a spikestep.nir.Scale(2.0) on one path instead"
        )
    return builder.plan


class _Builder:
    def __init__(self) -> None:
        self.plan = Plan()
        self._seen: dict[int, str] = {}

    def connect(self, sources: Sequence[str], target: str) -> None:
        self.plan.edges.extend((s, target) for s in sources)

    def add(self, module: nn.Module, path: str, sources: list[str], single_steps: bool) -> list[str]:
        """Add ``module`` fed by ``sources`` (their sum); return the nodes whose sum is its output."""
        if isinstance(module, nn.Identity):
            return sources
        if isinstance(module, (nn.Dropout, Dropout)):
            if module.training:
                raise ValueError(
                    f"export: {_where(path, module)} is a dropout in training mode, which NIR cannot say; call "
                    f"net.eval() first (a dropout in eval mode passes its input on)"
                )
            return sources
        if isinstance(module, GraphNet):
            return self._graph_net(module, path, sources, single_steps)
        if isinstance(module, nn.Sequential):
            inner = single_steps or isinstance(module, (SeqToANNContainer, MultiStepContainer))
            # Not named_children(), which lists a module held twice only once.
            for name, child in module._modules.items():
                sources = self.add(child, _join(path, name), sources, inner)
            return sources
        if _is_unit(module):
            return [self._unit(module, path, sources, single_steps)]
        return self._traced(module, path, sources, single_steps)

    def _unit(self, module: nn.Module, path: str, sources: list[str], single_steps: bool) -> str:
        if id(module) in self._seen:
            raise ValueError(
                f"export: {_where(path, module)} is also called as {self._seen[id(module)]!r}; a NIR node is "
                f"called once (a shared stateful module has no NIR form): use two modules"
            )
        name = self._name(path or type(module).__name__.lower())
        self._seen[id(module)] = path or name
        self.plan.units[name] = Unit(module, path or name, single_steps)
        self.connect(sources, name)
        return name

    def _name(self, path: str) -> str:
        base = path.replace(".", "_")
        name, i = base, 1
        while name in self.plan.units or name in (INPUT, OUTPUT):
            name, i = f"{base}_{i}", i + 1
        return name

    def _graph_net(self, net: GraphNet, path: str, sources: list[str], single_steps: bool) -> list[str]:
        values = {INPUT: sources}
        for name in net.order:
            inputs = [s for p in net.predecessors(name) for s in values[p]]
            values[name] = self.add(net.nodes[name], _join(path, name), inputs, single_steps)
        return [s for p in net.predecessors(OUTPUT) for s in values[p]]

    def _traced(self, module: nn.Module, path: str, sources: list[str], single_steps: bool) -> list[str]:
        graph = _trace(module, path)
        values: dict[torch.fx.Node, list[str]] = {}
        for node in graph.nodes:
            if node.op == "placeholder":
                if values:
                    raise ValueError(
                        f"export: {_where(path, module)}.forward takes more than one input; NIR graphs here have "
                        f"one input"
                    )
                values[node] = sources
            elif node.op == "call_module" and len(node.args) == 1 and not node.kwargs:
                child = module.get_submodule(node.target)
                values[node] = self.add(
                    child, _join(path, node.target), _value(values, node.args[0]), single_steps
                )
            elif (
                node.op == "call_function"
                and node.target in _ADDS
                and len(node.args) == 2
                and not node.kwargs
            ):
                values[node] = _value(values, node.args[0]) + _value(values, node.args[1])
            elif node.op == "output":
                return _value(values, node.args[0])
            else:
                raise ValueError(
                    f"export: {_where(path, module)}.forward does `{node.format_node()}`, which NIR cannot say: a "
                    f"NIR node sums what reaches it and applies itself, nothing else. Write the step as a module, "
                    f"or build the network as nn.Sequential or spikestep.nir.GraphNet"
                )
        raise ValueError(f"export: {_where(path, module)}.forward returns nothing")  # fx always has an output


def _is_unit(module: nn.Module) -> bool:
    return (
        isinstance(module, BaseNode)
        or next(module.children(), None) is None
        or type(module).__module__.startswith(_UNIT_PACKAGES)
    )


class _EveryModuleALeaf(torch.fx.Tracer):
    def is_leaf_module(self, m: nn.Module, module_qualified_name: str) -> bool:
        return True


def _trace(module: nn.Module, path: str) -> torch.fx.Graph:
    try:
        return _EveryModuleALeaf().trace(module)
    except Exception as error:  # fx says it in many ways (TraceError, TypeError on control flow, ...)
        raise ValueError(
            f"export: torch.fx cannot trace {_where(path, module)}.forward ({type(error).__name__}: {error}); "
            f"build the network as nn.Sequential or spikestep.nir.GraphNet, whose structure is read directly"
        ) from error


def _value(values: dict[torch.fx.Node, list[str]], arg: object) -> list[str]:
    if not isinstance(arg, torch.fx.Node) or arg not in values:
        raise ValueError(
            f"export: a traced forward passes {arg!r} where NIR needs the output of a module (a constant or a "
            f"tuple has no NIR node)"
        )
    return values[arg]


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _where(path: str, module: nn.Module) -> str:
    return f"{path!r} ({type(module).__name__})" if path else type(module).__name__

"""GraphNet: run modules wired as a directed acyclic graph, each node fed the sum of what reaches it."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from graphlib import CycleError, TopologicalSorter

import torch
import torch.nn as nn

INPUT, OUTPUT = "input", "output"


class GraphNet(nn.Module):
    """A network whose modules are the nodes of a directed acyclic graph (how a branching NIR graph loads).

    .. math::
        y_n = f_n\\Big(\\sum_{(m, n) \\in E} y_m\\Big), \\qquad y_{input} = x, \\qquad
        \\text{out} = \\sum_{(m, output) \\in E} y_m

    Each node runs once per call, after the nodes that feed it (a topological order fixed at
    construction), on the sum of their outputs: NIR's rule for a node with several incoming edges. The
    modules keep their own step mode and memories, so ``functional.set_step_mode`` and
    ``functional.reset_net`` work on a ``GraphNet`` as on any network, and :func:`spikestep.nir.export`
    writes it back as the same graph.

    Args:
        nodes: name -> module. Names are module names (no ``.``), other than ``'input'`` and ``'output'``.
        edges: ``(source, target)`` pairs of node names, ``'input'`` as a source and ``'output'`` as a target
            included. Every node and ``'output'`` needs at least one incoming edge.

    Example::

        >>> import torch
        >>> from spikestep import layer, neuron
        >>> from spikestep.nir import GraphNet
        >>> net = GraphNet(
        ...     {"a": layer.Linear(2, 3), "b": layer.Linear(2, 3), "lif": neuron.LIFNode()},
        ...     [("input", "a"), ("input", "b"), ("a", "lif"), ("b", "lif"), ("lif", "output")],
        ... )
        >>> net(torch.ones(4, 2)).shape  # lif(a(x) + b(x))
        torch.Size([4, 3])
    """

    def __init__(self, nodes: Mapping[str, nn.Module], edges: Iterable[tuple[str, str]]) -> None:
        super().__init__()
        if not isinstance(nodes, Mapping):
            raise TypeError(f"GraphNet: nodes must be a mapping name -> module, got {type(nodes).__name__}")
        for name, module in nodes.items():
            if not isinstance(name, str) or not name or "." in name or name in (INPUT, OUTPUT):
                raise ValueError(
                    f"GraphNet: node name {name!r} must be a non-empty str without '.', other than "
                    f"{INPUT!r} and {OUTPUT!r} (the graph's ends)"
                )
            if not isinstance(module, nn.Module):
                raise TypeError(
                    f"GraphNet: node {name!r} must be a torch.nn.Module, got {type(module).__name__}"
                )
        self.nodes = nn.ModuleDict(dict(nodes))
        self.edges = _checked_edges(edges, set(nodes))
        self._predecessors = {name: [s for s, t in self.edges if t == name] for name in (*nodes, OUTPUT)}
        self._order = _topological_order(self._predecessors)

    @property
    def order(self) -> tuple[str, ...]:
        """The node names in the order a call runs them (each after the nodes that feed it)."""
        return tuple(self._order)

    def predecessors(self, name: str) -> tuple[str, ...]:
        """The nodes (or ``'input'``) whose outputs are summed into node ``name`` (or ``'output'``)."""
        return tuple(self._predecessors[name])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        values = {INPUT: x}
        for name in self._order:
            values[name] = self.nodes[name](_sum(values[s] for s in self._predecessors[name]))
        return _sum(values[s] for s in self._predecessors[OUTPUT])

    def extra_repr(self) -> str:
        return "edges=[" + ", ".join(f"{s}->{t}" for s, t in self.edges) + "]"


def _checked_edges(edges: Iterable[tuple[str, str]], names: set[str]) -> list[tuple[str, str]]:
    checked = []
    for edge in edges:
        if not (isinstance(edge, (tuple, list)) and len(edge) == 2):
            raise TypeError(f"GraphNet: each edge must be a pair (source, target), got {edge!r}")
        source, target = edge
        if source not in names | {INPUT}:
            raise ValueError(
                f"GraphNet: edge {edge!r} starts at {source!r}, which is neither a node nor 'input'"
            )
        if target not in names | {OUTPUT}:
            raise ValueError(
                f"GraphNet: edge {edge!r} ends at {target!r}, which is neither a node nor 'output'"
            )
        checked.append((source, target))
    fed = {t for _, t in checked}
    unfed = [n for n in (*sorted(names), OUTPUT) if n not in fed]
    if unfed:
        raise ValueError(
            f"GraphNet: {unfed} receive no edge; every node and 'output' needs at least one incoming edge"
        )
    return checked


def _topological_order(predecessors: Mapping[str, list[str]]) -> list[str]:
    sorter = TopologicalSorter(
        {name: [p for p in preds if p != INPUT] for name, preds in predecessors.items()}
    )
    try:
        order = list(sorter.static_order())
    except CycleError as error:
        raise ValueError(
            f"GraphNet: the edges form a cycle {error.args[1]}; a GraphNet runs feed-forward graphs only"
        ) from None
    return [name for name in order if name != OUTPUT]


def _sum(tensors: Iterable[torch.Tensor]) -> torch.Tensor:
    total = None
    for t in tensors:
        total = t if total is None else total + t
    return total  # type: ignore[return-value]

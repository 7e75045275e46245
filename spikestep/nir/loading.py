"""load: a NIR graph -> a spikestep network (``nn.Sequential`` for a chain, else a ``GraphNet``)."""

from __future__ import annotations

import os
from collections import OrderedDict
from graphlib import CycleError, TopologicalSorter
from typing import TYPE_CHECKING, Any

import torch
import torch.nn as nn

from ..base import check_step_mode
from ..functional import set_step_mode
from . import conventions
from ._require import require_nir
from .from_nir import module_of
from .graph_net import INPUT, OUTPUT, GraphNet

if TYPE_CHECKING:
    import nir


def load(
    graph_or_path: nir.NIRGraph | str | os.PathLike,
    dt: float = 1e-4,
    step_mode: str = "m",
    dtype: torch.dtype | None = None,
) -> nn.Module:
    """A spikestep network that computes what the NIR graph says, node for node.

    Args:
        graph_or_path: a ``nir.NIRGraph``, or the path of one saved with ``nir.write`` (HDF5).
        dt: the time step in seconds the graph was exported with (:mod:`spikestep.nir.conventions` turns
            NIR's time constants and delays back into steps); SpikingJelly's default, ``1e-4``.
        step_mode: ``'m'`` (input ``[T, B, ...]``) or ``'s'`` (``[B, ...]`` per call), set on every module.
        dtype: the parameters' floating dtype; torch's default if ``None``.

    Returns an ``nn.Sequential`` when the graph is a chain from its input to its output, else a
    :class:`~spikestep.nir.GraphNet`; either is an ordinary spikestep network: stateful modules that
    ``functional.reset_net`` resets, no state argument. A node spikestep has no exact module for
    (``LI``, ``CubaLIF``, an ``IF`` whose ``r`` is not ``1/dt``, thresholds that differ between neurons, ...)
    is a ``ValueError`` that names it and says why; so is a recurrent graph.

    Example (with ``nir`` installed)::

        import torch
        from spikestep import layer, neuron, nir as ss_nir

        graph = ss_nir.export(torch.nn.Sequential(layer.Linear(4, 3), neuron.IFNode()), torch.rand(2, 4))
        net = ss_nir.load(graph, step_mode="m")
        net(torch.rand(8, 2, 4)).shape  # torch.Size([8, 2, 3])
    """
    nir = require_nir()
    dt = conventions.check_dt(dt, "load")
    check_step_mode(step_mode, owner="load")
    if dtype is None:
        dtype = torch.get_default_dtype()
    if not (isinstance(dtype, torch.dtype) and dtype.is_floating_point):
        raise TypeError(
            f"load: dtype must be a floating torch.dtype (e.g. torch.float32) or None, got {dtype!r}"
        )
    if isinstance(graph_or_path, (str, os.PathLike)):
        graph = nir.read(graph_or_path)
    elif isinstance(graph_or_path, nir.NIRGraph):
        graph = graph_or_path
    else:
        raise TypeError(
            f"load: give a nir.NIRGraph or the path of a file nir.write saved, got {type(graph_or_path).__name__}"
        )
    net = network_of(graph, dt, dtype)
    set_step_mode(net, step_mode)
    return net


def network_of(graph: nir.NIRGraph, dt: float, dtype: torch.dtype) -> nn.Module:
    """The modules of ``graph`` wired as its edges say (graphs inside it loaded the same way)."""
    nir = require_nir()
    ends = {
        kind: [n for n, node in graph.nodes.items() if isinstance(node, cls)]
        for kind, cls in (("input", nir.Input), ("output", nir.Output))
    }
    for kind, names in ends.items():
        if len(names) != 1:
            raise ValueError(
                f"load: the graph has {len(names)} {kind} nodes {names}; spikestep loads graphs with one input "
                f"and one output"
            )
    (first,), (last,) = ends["input"], ends["output"]
    safe = _safe_names([n for n in graph.nodes if n not in (first, last)])
    safe.update({first: INPUT, last: OUTPUT})
    modules = {
        safe[name]: network_of(node, dt, dtype)
        if isinstance(node, nir.NIRGraph)
        else module_of(name, node, dt, dtype)
        for name, node in graph.nodes.items()
        if name not in (first, last)
    }
    edges = [(safe[_resolve(graph, s, "output")], safe[_resolve(graph, t, "input")]) for s, t in graph.edges]
    _check_ends_and_cycles(edges)
    chain = _chain(edges, set(modules))
    if chain is not None:
        return nn.Sequential(OrderedDict((name, modules[name]) for name in chain))
    return GraphNet(modules, edges)


def _resolve(graph: nir.NIRGraph, name: Any, end: str) -> str:
    """An edge's end: a node, or ``sub.x`` for the input/output node ``x`` of a graph ``sub`` inside."""
    nir = require_nir()
    if name in graph.nodes:
        return name
    head, _, tail = str(name).partition(".")
    inner = graph.nodes.get(head)
    wanted = nir.Input if end == "input" else nir.Output
    if isinstance(inner, nir.NIRGraph) and isinstance(inner.nodes.get(tail), wanted):
        return head
    raise ValueError(f"load: an edge names {name!r}, which is not a node of the graph")


def _safe_names(names: list[str]) -> dict[str, str]:
    """Module names (no ``.``, not empty, not ``input``/``output``), one each."""
    safe: dict[str, str] = {}
    for name in names:
        base = str(name).replace(".", "_") or "node"
        base = f"{base}_node" if base in (INPUT, OUTPUT) else base
        candidate, i = base, 1
        while candidate in safe.values():
            candidate, i = f"{base}_{i}", i + 1
        safe[name] = candidate
    return safe


def _check_ends_and_cycles(edges: list[tuple[str, str]]) -> None:
    for source, target in edges:
        if target == INPUT or source == OUTPUT:
            raise ValueError(
                f"load: an edge {source!r} -> {target!r} runs into the input or out of the output"
            )
    predecessors: dict[str, set[str]] = {}
    for source, target in edges:
        predecessors.setdefault(target, set()).add(source)
    try:
        TopologicalSorter(predecessors).prepare()
    except CycleError as error:
        raise ValueError(
            f"load: the graph is recurrent (the cycle {error.args[1]}); spikestep loads feed-forward graphs only"
        ) from None


def _chain(edges: list[tuple[str, str]], names: set[str]) -> list[str] | None:
    """The node names in order when the edges are one path input -> ... -> output through every node."""
    successor = dict(edges)
    if len(successor) != len(edges) or len({t for _, t in edges}) != len(edges):
        return None
    order, at = [], successor.get(INPUT)
    while at is not None and at != OUTPUT and at not in order:
        order.append(at)
        at = successor.get(at)
    return order if at == OUTPUT and set(order) == names and len(edges) == len(names) + 1 else None

"""Whole-network helpers: reset, detach and switch the step mode of every module in a network."""

from __future__ import annotations

import torch.nn as nn

from ..base import StepModule, check_step_mode


def reset_net(net: nn.Module) -> None:
    """Reset the memories of every module in ``net`` (call between independent sequences).

    Example::

        >>> import torch
        >>> from spikestep import functional, layer
        >>> net = torch.nn.Sequential(layer.SynapseFilter(tau=2.0))
        >>> _ = net(torch.ones(3))
        >>> functional.reset_net(net)
        >>> net[0].out_i
        0.0
    """
    _check_module(net, "reset_net")
    for module in net.modules():
        reset = getattr(module, "reset", None)
        if callable(reset):
            reset()


def detach_net(net: nn.Module) -> None:
    """Cut the memories of every module in ``net`` from the autograd graph (truncated BPTT)."""
    _check_module(net, "detach_net")
    for module in net.modules():
        detach = getattr(module, "detach", None)
        if callable(detach) and not isinstance(module, nn.Parameter):
            detach()


def set_step_mode(net: nn.Module, step_mode: str) -> None:
    """Set ``step_mode`` on every :class:`~spikestep.base.StepModule` inside ``net`` (recursively).

    A module that supports only one step mode (a container such as ``layer.MultiStepContainer``, which
    feeds its children single steps) keeps its mode, and the modules inside it are left alone: switching
    them would break it. A leaf module that cannot run in ``step_mode`` is a ``ValueError``.

    Example::

        >>> import torch
        >>> from spikestep import functional, layer
        >>> net = torch.nn.Sequential(layer.SynapseFilter(), layer.VotingLayer(2))
        >>> functional.set_step_mode(net, "m")
        >>> net[0].step_mode, net[1].step_mode
        ('m', 'm')
    """
    _check_module(net, "set_step_mode")
    check_step_mode(step_mode)
    _set_step_mode(net, step_mode)


def _set_step_mode(module: nn.Module, step_mode: str) -> None:
    if isinstance(module, StepModule):
        supported = tuple(module.supported_step_mode())
        if len(supported) == 1 and next(module.children(), None) is not None:
            return  # a fixed-mode container: it and its children keep their modes
        module.step_mode = step_mode
    for child in module.children():
        _set_step_mode(child, step_mode)


def _check_module(net: object, caller: str) -> None:
    if not isinstance(net, nn.Module):
        raise TypeError(f"{caller} expects a torch.nn.Module, got {type(net).__name__}")

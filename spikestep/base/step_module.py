"""Step modes: how a module consumes time.

A module in single-step mode ``'s'`` takes one time step ``[B, ...]`` per call; in multi-step mode
``'m'`` it takes a whole time-first sequence ``[T, B, ...]``.
"""

from __future__ import annotations

STEP_MODES = ("s", "m")


def check_step_mode(step_mode: object, supported: tuple[str, ...] = STEP_MODES, owner: str = "") -> str:
    """Return ``step_mode`` if it is one of ``supported``, else raise ``ValueError``/``TypeError``."""
    where = f"{owner}: " if owner else ""
    if not isinstance(step_mode, str):
        raise TypeError(
            f"{where}step_mode must be a str, one of {list(supported)}, got {type(step_mode).__name__} "
            f"{step_mode!r}"
        )
    if step_mode not in supported:
        raise ValueError(
            f"{where}step_mode must be one of {list(supported)} ('s' = single step, input [B, ...]; "
            f"'m' = multi step, input [T, B, ...]), got {step_mode!r}"
        )
    return step_mode


class StepModule:
    """Mixin for modules that know their step mode.

    ``step_mode`` is a property that only accepts what :meth:`supported_step_mode` lists.

    Example::

        >>> import torch.nn as nn
        >>> from spikestep.base import StepModule
        >>> class Scale(nn.Module, StepModule):
        ...     def __init__(self):
        ...         super().__init__()
        ...         self.step_mode = "m"
        ...     def forward(self, x):
        ...         return 2 * x
        >>> Scale().step_mode
        'm'
    """

    def supported_step_mode(self) -> tuple[str, ...]:
        return STEP_MODES

    @property
    def step_mode(self) -> str:
        return self.__dict__.get("_step_mode", "s")

    @step_mode.setter
    def step_mode(self, value: str) -> None:
        check_step_mode(value, tuple(self.supported_step_mode()), type(self).__name__)
        self.__dict__["_step_mode"] = value


class SingleStepModule(StepModule):
    """A module that only runs one time step per call (``step_mode='s'``)."""

    def supported_step_mode(self) -> tuple[str, ...]:
        return ("s",)


class MultiStepModule(StepModule):
    """A module that only runs whole sequences per call (``step_mode='m'``)."""

    def supported_step_mode(self) -> tuple[str, ...]:
        return ("m",)

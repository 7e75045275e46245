"""Stateful modules: memories that are reset, detached and carried between calls."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from typing import Any

import torch
import torch.nn as nn

from .step_module import StepModule


def _map_tensors(value: Any, fn: Callable[[torch.Tensor], torch.Tensor]) -> Any:
    """Apply ``fn`` to a tensor, or to each tensor of a list/tuple; leave anything else alone."""
    if isinstance(value, torch.Tensor):
        return fn(value)
    if isinstance(value, (list, tuple)):
        return type(value)(_map_tensors(v, fn) for v in value)
    return value


class MemoryModule(nn.Module, StepModule):
    """Base class of stateful modules.

    A *memory* is state that lives across calls (a membrane potential, a synaptic current, the inputs a
    delay still holds). It is registered once with a reset value, then read and written as a plain
    attribute. Memories are not parameters: the optimizer never sees them and ``state_dict`` leaves them
    out.

    - ``reset()`` gives every memory a fresh copy of its reset value (start of a new sequence);
    - ``detach()`` cuts tensor memories from the autograd graph (truncated BPTT); copies (``deepcopy``,
      ``pickle``) hold detached memories too;
    - ``forward`` dispatches on ``step_mode``: ``'s'`` calls :meth:`single_step_forward` with ``[B, ...]``,
      ``'m'`` calls :meth:`multi_step_forward` with ``[T, B, ...]``, which by default runs single steps
      over dim 0 and stacks them.

    Example::

        >>> import torch
        >>> from spikestep.base import MemoryModule
        >>> class Counter(MemoryModule):
        ...     def __init__(self):
        ...         super().__init__()
        ...         self.register_memory("count", 0.0)
        ...     def single_step_forward(self, x):
        ...         self.count = self.count + x
        ...         return self.count
        >>> c = Counter()
        >>> c(torch.ones(2)), c(torch.ones(2))
        (tensor([1., 1.]), tensor([2., 2.]))
        >>> c.reset(); c.count
        0.0
    """

    def __init__(self) -> None:
        super().__init__()
        self._memories: dict[str, Any] = {}
        self._memories_rv: dict[str, Any] = {}
        self.step_mode = self.supported_step_mode()[0]

    def register_memory(self, name: str, reset_value: Any) -> None:
        """Declare a memory ``name`` whose value starts (and restarts on ``reset``) at ``reset_value``."""
        if not isinstance(name, str) or not name.isidentifier():
            raise ValueError(f"memory name must be a valid identifier, got {name!r}")
        if name in self._memories:
            raise ValueError(f"{type(self).__name__} already has a memory named {name!r}")
        if hasattr(self, name):
            raise ValueError(
                f"{type(self).__name__} already has an attribute {name!r}; pick another memory name"
            )
        self._memories[name] = copy.deepcopy(reset_value)
        self._memories_rv[name] = copy.deepcopy(reset_value)

    def reset(self) -> None:
        """Restore every memory to a fresh copy of its reset value."""
        for name, reset_value in self._memories_rv.items():
            self._memories[name] = copy.deepcopy(reset_value)

    def detach(self) -> None:
        """Cut tensor memories (and tensors held in list memories) from the autograd graph."""
        for name, value in self._memories.items():
            self._memories[name] = _map_tensors(value, torch.Tensor.detach)

    def memories(self) -> Iterator[Any]:
        for _, value in self.named_memories():
            yield value

    def named_memories(self) -> Iterator[tuple[str, Any]]:
        yield from self._memories.items()

    def single_step_forward(self, x: torch.Tensor, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} does not implement single_step_forward")

    def multi_step_forward(self, x_seq: torch.Tensor, *args: Any, **kwargs: Any) -> Any:
        if not isinstance(x_seq, torch.Tensor):
            raise TypeError(
                f"{type(self).__name__} in multi-step mode expects a tensor [T, ...] with time first, "
                f"got {type(x_seq).__name__}"
            )
        if x_seq.dim() < 1:
            raise ValueError(
                f"{type(self).__name__} in multi-step mode expects a tensor [T, ...] with time first, "
                f"got a 0-d tensor"
            )
        return torch.stack([self.single_step_forward(x, *args, **kwargs) for x in x_seq])

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        if self.step_mode == "s":
            return self.single_step_forward(*args, **kwargs)
        return self.multi_step_forward(*args, **kwargs)

    def extra_repr(self) -> str:
        return f"step_mode={self.step_mode}"

    def _check_state_shape(self, name: str, state: torch.Tensor, shape: torch.Size) -> None:
        """Raise if a held tensor memory no longer matches the shape the input implies."""
        if state.shape != shape:
            raise ValueError(
                f"{type(self).__name__}: the input implies a state '{name}' of shape {tuple(shape)}, but "
                f"the module holds one of shape {tuple(state.shape)} from earlier calls. Call "
                f"spikestep.functional.reset_net(net) (or module.reset()) before feeding inputs of a new "
                f"shape."
            )

    def _state_like(
        self, name: str, state: torch.Tensor, shape: torch.Size, like: torch.Tensor
    ) -> torch.Tensor:
        """A held tensor memory, checked against the input ``like`` it meets: of the ``shape`` the input
        implies and on its device (else a ``ValueError`` naming the fix), in its dtype (converted: a
        sequence may go on in another floating dtype, the state rounded to it)."""
        self._check_state_shape(name, state, shape)
        if state.device != like.device:
            raise ValueError(
                f"{type(self).__name__}: the input is on {like.device}, but the module holds its state "
                f"'{name}' on {state.device} from earlier calls. Move the network with net.to(device) (which "
                f"moves the state too) before feeding it inputs on another device, or call "
                f"spikestep.functional.reset_net(net) to start a new sequence there."
            )
        return state if state.dtype == like.dtype else state.to(like.dtype)

    def __getstate__(self) -> dict[str, Any]:
        # A copy (deepcopy, pickle) cannot share the original's autograd graph, and torch refuses to copy
        # non-leaf tensors: copies hold the memories' values, detached.
        state = self.__dict__.copy()
        state["_memories"] = {k: _map_tensors(v, torch.Tensor.detach) for k, v in self._memories.items()}
        return state

    # Memories behave like attributes: read, write, delete, list.
    def __getattr__(self, name: str) -> Any:
        memories = self.__dict__.get("_memories")
        if memories is not None and name in memories:
            return memories[name]
        return super().__getattr__(name)

    def __setattr__(self, name: str, value: Any) -> None:
        memories = self.__dict__.get("_memories")
        if memories is not None and name in memories:
            memories[name] = value
        else:
            super().__setattr__(name, value)

    def __delattr__(self, name: str) -> None:
        memories = self.__dict__.get("_memories")
        if memories is not None and name in memories:
            del memories[name]
            del self._memories_rv[name]
        else:
            super().__delattr__(name)

    def __dir__(self) -> list[str]:
        return sorted(set(super().__dir__()) | set(self._memories))

    def _apply(self, fn: Callable[[torch.Tensor], torch.Tensor], *args: Any, **kwargs: Any) -> Any:
        # .to(device), .double(), .half() move and cast the memories along with the parameters.
        super()._apply(fn, *args, **kwargs)
        for store in (self._memories, self._memories_rv):
            for name, value in store.items():
                store[name] = _map_tensors(value, fn)
        return self

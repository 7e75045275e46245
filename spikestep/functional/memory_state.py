"""Save and restore the memories of a network: pause a stream and resume it later, in another process too.

``state_dict`` holds what a network learned; :func:`memory_state` holds where a stream has got to (the
membranes, currents, the inputs a delay still holds). Together they let a stream paused after any chunk
resume exactly where it stopped: save both, build the same network elsewhere, load both, carry on.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import torch
import torch.nn as nn

from ..base import MemoryModule

# How a memory that is not a tensor is spelt: a suffix after the memory's key (see memory_state).
_TAGS = ("none", "bool", "int", "float", "list", "tuple")
_INT64 = (-(2**63), 2**63 - 1)
_MISSING = object()


def memory_state(net: nn.Module) -> dict[str, torch.Tensor]:
    """The memories of every :class:`~spikestep.base.MemoryModule` in ``net``, as a dict of tensors.

    Keys are qualified like ``state_dict``'s: ``"2.v"`` is the memory ``v`` of submodule ``2``. The
    values are tensors only (detached copies, on the memories' devices), so ``torch.save`` and then
    ``torch.load(path, weights_only=True)`` bring the state back; :func:`load_memory_state` puts it into
    a network built the same way, which then continues bit for bit as ``net`` would have.

    A memory need not be a tensor; each kind has one faithful encoding, so the loaded module is in
    exactly the state the saved one was (a membrane still at its reset value ``0.0`` stays a Python float,
    not a 0-d tensor, which the module would treat differently). For the memory ``name`` of the submodule
    at ``prefix`` (key ``k = "prefix.name"``):

    - a tensor: ``k``, a detached copy (same shape, dtype, strides and device);
    - ``None`` (e.g. ``v_seq``, a Delay's ``queue`` before its first input): ``k#none``, an empty tensor;
    - a bool: ``k#bool``, a 0-d ``torch.bool`` tensor;
    - an int (e.g. ``ring_start``, an encoder's step counter): ``k#int``, a 0-d ``torch.int64`` tensor;
    - a float (e.g. a membrane still at its reset value ``0.0``): ``k#float``, a 0-d ``torch.float64``
      tensor (exact: a Python float is a double);
    - a list: ``k#list``, its length as a 0-d ``torch.int64`` tensor, and item ``i`` under ``k#i``,
      encoded by these same rules (``k#0``, ``k#1#int``, ...);
    - a tuple: as a list, with ``k#tuple`` for the length.

    So a :class:`~spikestep.layer.Delay` with ``d = 2`` at ``"1"`` gives ``1.queue`` (its ring, a
    ``[2, ...]`` tensor) and ``1.ring_start#int`` (where the ring's oldest input is). Any other kind of memory raises ``TypeError`` (an int beyond int64, ``ValueError``). A module shared at several
    places in ``net`` is saved once, under its first name (as ``named_modules`` lists it). Tensors are
    saved detached: a resumed stream starts a new autograd graph, as after ``functional.detach_net``.

    Example::

        >>> import io, torch
        >>> from spikestep import layer, neuron
        >>> from spikestep.functional.memory_state import load_memory_state, memory_state
        >>> def build():
        ...     return torch.nn.Sequential(layer.Delay(2), neuron.LIFNode(tau=2.0))
        >>> net, x = build(), torch.rand(6, 3) * 2
        >>> first = [net(x[t]) for t in range(3)]  # the stream so far
        >>> state = memory_state(net)
        >>> sorted(state)
        ['0.queue', '0.ring_start#int', '1.v', '1.v_seq#none']
        >>> buffer = io.BytesIO(); torch.save(state, buffer); _ = buffer.seek(0)
        >>> resumed = build()  # elsewhere, later
        >>> load_memory_state(resumed, torch.load(buffer, weights_only=True))
        >>> torch.equal(torch.stack([resumed(x[t]) for t in range(3, 6)]),
        ...             torch.stack([net(x[t]) for t in range(3, 6)]))
        True
    """
    _check_module(net, "memory_state")
    state: dict[str, torch.Tensor] = {}
    for key, module, name in _memories(net):
        _encode(key, getattr(module, name), state, f"{type(module).__name__} memory {name!r}")
    return state


def load_memory_state(net: nn.Module, state: Mapping[str, torch.Tensor]) -> None:
    """Put a :func:`memory_state` into ``net``'s memories, so the stream it was taken from continues.

    ``state`` must be the memory state of a network built the same way (its parameters and buffers come
    from ``state_dict``, separately). The tensors are copied in, never shared with ``state``: running the
    network does not touch ``state``, and changing ``state`` afterwards does not touch the network. A
    tensor goes to the device of the memory it replaces when that memory holds a tensor, else to the
    device of the module's parameters or buffers (or the network's), else stays where it is.

    Checked first, nothing is loaded unless everything fits; a ``ValueError`` lists every mismatch:

    - a memory of ``net`` that ``state`` lacks, and a key of ``state`` that is no memory of ``net``
      (a state taken from another network shows up as both);
    - an entry that breaks the encoding (``k#int`` not a 0-d integer tensor, a list item missing, ...);
    - a tensor whose shape or dtype differs from the tensor the memory holds now: a network that has
      run checks every tensor; one fresh from its constructor (or after ``functional.reset_net``) holds
      no tensors yet and takes any, and its modules check them against the next input;
    - what spikestep's own modules need: a :class:`~spikestep.layer.Delay` holds ``max_delay``
      inputs, ``0 <= ring_start < max_delay``; a neuron's ``v_seq`` is
      ``[T, *v.shape]``.

    A ``state`` that is not a mapping of strings to tensors is a ``TypeError``.

    Example::

        >>> import torch
        >>> from spikestep import layer
        >>> from spikestep.functional.memory_state import load_memory_state, memory_state
        >>> syn = torch.nn.Sequential(layer.SynapseFilter(tau=2.0))
        >>> _ = syn(torch.ones(3))
        >>> state = memory_state(syn)
        >>> other = torch.nn.Sequential(layer.SynapseFilter(tau=2.0))
        >>> load_memory_state(other, state)
        >>> other[0].out_i
        tensor([1., 1., 1.])
        >>> load_memory_state(torch.nn.Sequential(torch.nn.ReLU(), other[0]), state)
        Traceback (most recent call last):
        ...
        ValueError: load_memory_state: the state does not fit this network; nothing was loaded:
          missing: '1.out_i' (memory 'out_i' of SynapseFilter '1')
          unexpected: '0.out_i' (no memory of the network has this key)
        A memory state fits the network it was taken from (functional.memory_state), or one built the same way.
    """
    _check_module(net, "load_memory_state")
    if not isinstance(state, Mapping):
        raise TypeError(
            f"load_memory_state expects the dict that functional.memory_state returns, got "
            f"{type(state).__name__}"
        )
    bad = [k for k, v in state.items() if not isinstance(k, str) or not isinstance(v, torch.Tensor)]
    if bad:
        shown = ", ".join(f"{k!r}: {type(state[k]).__name__}" for k in bad[:10])
        raise TypeError(
            f"load_memory_state: a memory state maps strings to tensors (functional.memory_state), but "
            f"{len(bad)} entr{'y' if len(bad) == 1 else 'ies'} do not: {shown}"
        )

    problems: list[str] = []
    missing: list[str] = []
    used: set[str] = set()
    loaded: list[tuple[nn.Module, str, Any, str]] = []
    per_module: dict[int, dict[str, Any]] = {}
    for key, module, name in _memories(net):
        decoder = _Decoder(state, used, problems)
        value = decoder.decode(key)
        if value is _MISSING:
            if decoder.absent:
                missing.append(f"{key!r} (memory {name!r} of {type(module).__name__} {_where(key, name)})")
            continue
        _compare(key, value, getattr(module, name), problems)
        loaded.append((module, name, value, key))
        per_module.setdefault(id(module), {"module": module, "prefix": key[: len(key) - len(name)]})[name] = (
            value
        )
    for entry in per_module.values():
        module, prefix = entry.pop("module"), entry.pop("prefix")
        problems += _module_checks(module, prefix, entry)
    unexpected = [
        f"{k!r} (no memory of the network has this key)" for k in state if k not in used
    ]  # fmt: skip
    lines = [f"missing: {m}" for m in missing] + [f"unexpected: {u}" for u in unexpected] + problems
    if lines:
        held = any("the network holds" in line for line in lines)
        raise ValueError(
            "load_memory_state: the state does not fit this network; nothing was loaded:\n"
            + "\n".join(f"  {line}" for line in lines)
            + "\nA memory state fits the network it was taken from (functional.memory_state), or one built "
            "the same way."
            + (
                " To load the state of another batch size, functional.reset_net(net) first: a network "
                "that has run checks the state against the tensors it holds."
                if held
                else ""
            )
        )
    for module, name, value, _ in loaded:
        setattr(module, name, _copy_in(value, _device_for(getattr(module, name), module, net)))


def _check_module(net: object, caller: str) -> None:
    if not isinstance(net, nn.Module):
        raise TypeError(f"{caller} expects a torch.nn.Module, got {type(net).__name__}")


def _memories(net: nn.Module) -> Iterator[tuple[str, MemoryModule, str]]:
    """``(key, module, memory name)`` for every memory in ``net``, keys qualified like ``state_dict``'s."""
    for prefix, module in net.named_modules():
        if isinstance(module, MemoryModule):
            for name, _ in list(module.named_memories()):
                yield (f"{prefix}.{name}" if prefix else name), module, name


def _where(key: str, name: str) -> str:
    prefix = key[: -len(name) - 1]
    return f"{prefix!r}" if prefix else "(the network itself)"


def _encode(key: str, value: Any, out: dict[str, torch.Tensor], what: str) -> None:
    if isinstance(value, torch.Tensor):
        out[key] = value.detach().clone()
    elif value is None:
        out[f"{key}#none"] = torch.zeros(0)
    elif isinstance(value, bool):
        out[f"{key}#bool"] = torch.tensor(value, dtype=torch.bool)
    elif isinstance(value, int):
        if not _INT64[0] <= value <= _INT64[1]:
            raise ValueError(f"memory_state: {what} ({key!r}) is the int {value}, outside int64's range")
        out[f"{key}#int"] = torch.tensor(value, dtype=torch.int64)
    elif isinstance(value, float):
        out[f"{key}#float"] = torch.tensor(value, dtype=torch.float64)
    elif isinstance(value, (list, tuple)):
        out[f"{key}#{'list' if isinstance(value, list) else 'tuple'}"] = torch.tensor(len(value))
        for i, item in enumerate(value):
            _encode(f"{key}#{i}", item, out, f"{what}, item {i}")
    else:
        raise TypeError(
            f"memory_state: {what} ({key!r}) holds a {type(value).__name__}; a memory state holds tensors, "
            f"None, bools, ints, floats and lists or tuples of these"
        )


class _Decoder:
    """Reads one memory back from its entries, marking the keys it used and noting what is wrong."""

    def __init__(self, state: Mapping[str, torch.Tensor], used: set[str], problems: list[str]) -> None:
        self.state, self.used, self.problems = state, used, problems
        self.absent = False  # True when the memory has no entry at all (reported as missing)

    def decode(self, key: str, top: bool = True) -> Any:
        found = [k for k in (key, *(f"{key}#{tag}" for tag in _TAGS)) if k in self.state]
        if not found:
            if top:
                self.absent = True
            else:
                self.problems.append(f"{key!r}: no entry for this list item ({key!r} or {key!r}#<kind>)")
            return _MISSING
        self.used.update(found)
        if len(found) > 1:
            self.problems.append(f"{key!r}: encoded more than once ({', '.join(map(repr, found))}); keep one")
            return _MISSING
        tensor = self.state[found[0]]
        tag = found[0][len(key) + 1 :] if found[0] != key else None
        if tag is None:
            return tensor
        if tag == "none":
            return (
                None if self._expect(found[0], tensor, tensor.numel() == 0, "an empty tensor") else _MISSING
            )
        if tag == "bool":
            ok = tensor.dim() == 0 and tensor.dtype == torch.bool
            return bool(tensor) if self._expect(found[0], tensor, ok, "a 0-d torch.bool tensor") else _MISSING
        if tag == "float":
            ok = tensor.dim() == 0 and tensor.is_floating_point()
            return float(tensor) if self._expect(found[0], tensor, ok, "a 0-d floating tensor") else _MISSING
        ok = tensor.dim() == 0 and _is_integer(tensor.dtype)
        if tag == "int":
            return int(tensor) if self._expect(found[0], tensor, ok, "a 0-d integer tensor") else _MISSING
        # list or tuple: the length, then the items
        if not self._expect(found[0], tensor, ok and int(tensor) >= 0, "a 0-d integer tensor >= 0"):
            return _MISSING
        items = [self.decode(f"{key}#{i}", top=False) for i in range(int(tensor))]
        if any(item is _MISSING for item in items):
            return _MISSING
        return items if tag == "list" else tuple(items)

    def _expect(self, key: str, tensor: torch.Tensor, ok: bool, what: str) -> bool:
        if not ok:
            self.problems.append(f"{key!r}: should be {what}, got {_describe(tensor)}")
        return ok


def _is_integer(dtype: torch.dtype) -> bool:
    return not (dtype.is_floating_point or dtype.is_complex or dtype == torch.bool)


def _describe(tensor: torch.Tensor) -> str:
    return f"shape {tuple(tensor.shape)} {str(tensor.dtype).removeprefix('torch.')}"


def _compare(key: str, loaded: Any, held: Any, problems: list[str]) -> None:
    """Where the memory holds a tensor now (or a list/tuple of them), the state must match it."""
    if isinstance(loaded, torch.Tensor) and isinstance(held, torch.Tensor):
        if loaded.shape != held.shape or loaded.dtype != held.dtype:
            problems.append(
                f"{key!r}: {_describe(loaded)} in the state, but the network holds {_describe(held)}"
            )
    elif isinstance(loaded, (list, tuple)) and isinstance(held, (list, tuple)):
        if len(loaded) != len(held):
            problems.append(
                f"{key!r}: {len(loaded)} items in the state, but the network holds {len(held)} (a state for "
                f"another network?)"
            )
        else:
            for i, (a, b) in enumerate(zip(loaded, held)):
                _compare(f"{key}#{i}", a, b, problems)


def _is_spikestep(module: nn.Module, module_path: str, class_name: str) -> bool:
    # Named, not imported: the functional core sits below the layers and neurons.
    return any(c.__module__ == module_path and c.__name__ == class_name for c in type(module).__mro__)


def _module_checks(module: nn.Module, prefix: str, values: dict[str, Any]) -> list[str]:
    """What spikestep's own modules need of their memories, checked on a fresh network too."""
    problems: list[str] = []
    if _is_spikestep(module, "spikestep.layer.delay", "Delay") and {"queue", "ring_start"} <= set(values):
        d, queue, start = module.max_delay, values["queue"], values["ring_start"]
        if queue is not None and (
            not isinstance(queue, torch.Tensor) or queue.dim() == 0 or queue.shape[0] != d
        ):
            problems.append(
                f"{prefix + 'queue'!r}: a Delay with max_delay={d} holds a [{d}, ...] tensor, the state has "
                f"{_describe(queue)} (a state for another network?)"
            )
        if not isinstance(start, int) or isinstance(start, bool) or not 0 <= start < max(d, 1):
            problems.append(
                f"{prefix + 'ring_start'!r}: must be an int in [0, {max(d, 1) - 1}] for max_delay={d}, got "
                f"{start!r}"
            )
    if _is_spikestep(module, "spikestep.neuron.base_node", "BaseNode"):
        v, v_seq = values.get("v"), values.get("v_seq")
        if isinstance(v, torch.Tensor) and isinstance(v_seq, torch.Tensor) and v_seq.shape[1:] != v.shape:
            problems.append(
                f"{prefix + 'v_seq'!r}: a neuron's v_seq is [T, *v.shape] = [T, {', '.join(map(str, v.shape))}]"
                f", the state has {_describe(v_seq)}"
            )
    return problems


def _device_for(held: Any, module: nn.Module, net: nn.Module) -> torch.device | None:
    if isinstance(held, torch.Tensor):
        return held.device
    if isinstance(held, (list, tuple)) and held and isinstance(held[0], torch.Tensor):
        return held[0].device
    for owner in (module, net):
        for t in (*owner.parameters(), *owner.buffers()):
            return t.device
    return None


def _copy_in(value: Any, device: torch.device | None) -> Any:
    if isinstance(value, torch.Tensor):
        return value.detach().to(device=device if device is not None else value.device, copy=True)
    if isinstance(value, (list, tuple)):
        return type(value)(_copy_in(v, device) for v in value)
    return value

"""One NIR node -> one spikestep module, exactly, or a ``ValueError`` that says why spikestep has none."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import torch
import torch.nn as nn

from .. import layer, neuron
from . import conventions
from .scale import Scale

if TYPE_CHECKING:
    import nir
    import numpy as np

LOADED = "Affine, Linear, Conv1d, Conv2d, AvgPool2d, SumPool2d, Flatten, Scale, Delay, IF, LIF and NIRGraph"

_NO_EQUIVALENT = {
    "LI": "spikestep has no neuron that outputs its membrane without firing (a LIFNode's threshold cannot be "
    "infinite)",
    "I": "spikestep has no integrator that outputs its membrane without firing",
    "CubaLIF": "spikestep has no current-based neuron: SynapseFilter's current decays only at steps without an "
    "input spike, while CubaLIF's synapse decays at every step",
    "CubaLI": "spikestep has no current-based leaky integrator (SynapseFilter's decay is gated by the spikes)",
    "Threshold": "spikestep has no stateless threshold (its neurons integrate and reset)",
}


def module_of(name: str, node: nir.NIRNode, dt: float, dtype: torch.dtype) -> nn.Module:
    """The spikestep module of NIR node ``node`` (named ``name`` in its graph), parameters in ``dtype``."""
    kind = type(node).__name__
    where = f"NIR node {name!r} ({kind})"
    if kind in _NO_EQUIVALENT:
        raise ValueError(f"load: {where}: {_NO_EQUIVALENT[kind]}, so it cannot be loaded exactly")
    build = _BUILDERS.get(kind)
    if build is None:
        raise ValueError(f"load: {where}: spikestep loads {LOADED} nodes, not {kind}")
    try:
        return build(node, dt, dtype)
    except (ValueError, TypeError) as error:
        message = str(error)
        raise type(error)(message if message.startswith("load:") else f"load: {where}: {message}") from error


def _affine(node: Any, dt: float, dtype: torch.dtype) -> nn.Module:
    weight = _tensor(node.weight, dtype)
    if weight.dim() != 2:
        raise ValueError(f"its weight has shape {list(weight.shape)}; spikestep's Linear takes a 2-d weight")
    bias = _tensor(node.bias, dtype) if hasattr(node, "bias") else None
    module = layer.Linear(weight.shape[1], weight.shape[0], bias=bias is not None, dtype=dtype)
    with torch.no_grad():
        module.weight.copy_(weight)
        if bias is not None:
            module.bias.copy_(bias.reshape(module.bias.shape))
    return module


def _conv(node: Any, dt: float, dtype: torch.dtype) -> nn.Module:
    weight = _tensor(node.weight, dtype)
    n = 1 if type(node).__name__ == "Conv1d" else 2
    if weight.dim() != n + 2:
        raise ValueError(
            f"its weight has shape {list(weight.shape)}; a {n}-d convolution takes a {n + 2}-d one"
        )
    groups = _int(node.groups)
    padding = _text(node.padding)
    cls = layer.Conv1d if n == 1 else layer.Conv2d
    module = cls(
        weight.shape[1] * groups, weight.shape[0], tuple(weight.shape[2:]), stride=_ints(node.stride, n),
        padding=padding if isinstance(padding, str) else _ints(padding, n), dilation=_ints(node.dilation, n),
        groups=groups, bias=True, dtype=dtype,
    )  # fmt: skip
    with torch.no_grad():
        module.weight.copy_(weight)
        module.bias.copy_(_tensor(node.bias, dtype).reshape(module.bias.shape))
    return module


def _pool(node: Any, dt: float, dtype: torch.dtype) -> nn.Module:
    summed = type(node).__name__ == "SumPool2d"
    return layer.AvgPool2d(
        _ints(node.kernel_size, 2), stride=_ints(node.stride, 2), padding=_ints(node.padding, 2),
        divisor_override=1 if summed else None,
    )  # fmt: skip


def _flatten(node: Any, dt: float, dtype: torch.dtype) -> nn.Module:
    # NIR counts the dimensions of one sample; spikestep's Flatten those of one step [B, ...].
    start, end = _int(node.start_dim), _int(node.end_dim)
    return layer.Flatten(start + 1 if start >= 0 else start, end + 1 if end >= 0 else end)


def _scale(node: Any, dt: float, dtype: torch.dtype) -> nn.Module:
    return Scale(_tensor(node.scale, dtype))


def _delay(node: Any, dt: float, dtype: torch.dtype) -> nn.Module:
    import numpy as np

    seconds = np.asarray(node.delay, dtype=np.float64)
    steps = np.vectorize(lambda s: conventions.delay_steps_from_nir(float(s), dt), otypes=[np.int64])(seconds)
    if steps.size and (steps == steps.flat[0]).all():
        return layer.Delay(int(steps.flat[0]))
    return layer.Delay(torch.as_tensor(steps, dtype=torch.int64))


def _if(node: Any, dt: float, dtype: torch.dtype) -> nn.Module:
    import numpy as np

    r = np.asarray(node.r, dtype=np.float64)
    if not np.allclose(r, conventions.if_r(dt), rtol=conventions.RTOL, atol=0.0):
        raise ValueError(
            f"r = {_show(r)}, but spikestep's IFNode adds its input unscaled, which is r = 1/dt = "
            f"{conventions.if_r(dt)} for dt = {dt}; load with the dt it was exported with (dt = 1/r)"
        )
    return neuron.IFNode(_uniform(node.v_threshold, "v_threshold"), _uniform(node.v_reset, "v_reset"))


def _lif(node: Any, dt: float, dtype: torch.dtype) -> nn.Module:
    import numpy as np

    v_leak, v_reset = (np.asarray(a, dtype=np.float64) for a in (node.v_leak, node.v_reset))
    if not np.array_equal(np.broadcast_to(v_leak, v_reset.shape), v_reset):
        raise ValueError(
            f"v_leak = {_show(v_leak)} differs from v_reset = {_show(v_reset)}; spikestep's LIFNode leaks "
            f"towards v_reset"
        )
    tau, r = np.broadcast_arrays(*(np.asarray(a, dtype=np.float64) for a in (node.tau, node.r)))
    if tau.size == 0:
        raise ValueError("it has no neurons (tau is empty)")
    tau_steps = np.vectorize(conventions.snap, otypes=[np.float64])(tau / dt)
    # conventions.lif_from_nir, for every neuron at once: r = 1 (decay_input) or r = tau/dt (not).
    if np.isclose(r, 1.0, rtol=conventions.RTOL, atol=0.0).all():
        decay_input = True
    elif np.isclose(r, tau_steps, rtol=conventions.RTOL, atol=0.0).all():
        decay_input = False
    else:
        raise ValueError(
            f"r = {_show(r)} is neither 1 for every neuron (decay_input=True) nor tau/dt = {_show(tau_steps)} "
            f"(decay_input=False), the only input scalings of spikestep's LIFNode for dt = {dt}"
        )
    uniform = (tau_steps == tau_steps.flat[0]).all()
    tau_value = float(tau_steps.flat[0]) if uniform else torch.as_tensor(tau_steps, dtype=dtype)
    return neuron.LIFNode(
        tau_value, decay_input, _uniform(node.v_threshold, "v_threshold"), _uniform(v_reset, "v_reset")
    )


def _identity(node: Any, dt: float, dtype: torch.dtype) -> nn.Module:
    return nn.Identity()


_BUILDERS: dict[str, Callable[[Any, float, torch.dtype], nn.Module]] = {
    "Affine": _affine,
    "Linear": _affine,
    "Conv1d": _conv,
    "Conv2d": _conv,
    "AvgPool2d": _pool,
    "SumPool2d": _pool,
    "Flatten": _flatten,
    "Scale": _scale,
    "Delay": _delay,
    "IF": _if,
    "LIF": _lif,
    "Identity": _identity,
}


def _uniform(values: Any, what: str) -> float:
    import numpy as np

    array = np.asarray(values, dtype=np.float64)
    if array.size == 0 or not (array == array.flat[0]).all():
        raise ValueError(
            f"{what} = {_show(array)} differs between neurons; spikestep's neurons have one {what} per layer"
        )
    return float(array.flat[0])


def _tensor(values: Any, dtype: torch.dtype) -> torch.Tensor:
    import numpy as np

    return torch.as_tensor(np.array(values), dtype=dtype)


def _text(value: Any) -> Any:
    """A padding read back from a file: ``b'same'`` and numpy strings as ``str``."""
    if isinstance(value, bytes):
        return value.decode()
    import numpy as np

    if isinstance(value, np.ndarray) and value.dtype.kind in "SUO" and value.size == 1:
        return _text(value.item())
    return str(value) if isinstance(value, np.str_) else value


def _int(value: Any) -> int:
    import numpy as np

    array = np.asarray(value)
    if array.size != 1:
        raise ValueError(f"expected one integer, got {_show(array)}")
    return int(array.reshape(()))


def _ints(value: Any, n: int) -> int | tuple[int, ...]:
    import numpy as np

    array = np.asarray(value).reshape(-1)
    if array.size == 1:
        return int(array[0])
    if array.size != n:
        raise ValueError(f"expected 1 or {n} integers, got {_show(array)}")
    return tuple(int(v) for v in array)


def _show(array: np.ndarray) -> str:
    import numpy as np

    array = np.asarray(array)
    return (
        f"{array.flat[0]:g} (all)"
        if array.size and (array == array.flat[0]).all()
        else f"{array.tolist()}"[:120]
    )

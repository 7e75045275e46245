"""One spikestep module -> one NIR node, exactly, or a ``ValueError`` that says why NIR cannot say it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch
import torch.nn as nn

from ..base import StepModule
from ..layer import Delay, SynapseFilter
from ..neuron import BaseNode, IFNode, LIFNode, ParametricLIFNode
from ..surrogate import SurrogateFunction
from . import conventions
from ._require import require_nir
from .plan import Unit
from .scale import Scale

if TYPE_CHECKING:
    import nir
    import numpy as np

EXPORTED = (
    "Linear (Affine/Linear), Conv1d, Conv2d, AvgPool2d (SumPool2d with divisor_override=1), Flatten, Delay, "
    "spikestep.nir.Scale, IFNode, LIFNode, ParametricLIFNode (hard reset)"
)


def node_of(unit: Unit, in_shape: torch.Size, dt: float) -> nir.NIRNode:
    """The NIR node of ``unit.module``, which saw an input of ``in_shape`` (time included in multi-step
    mode); ``ValueError`` when NIR cannot express the module exactly."""
    module, owner = unit.module, f"{unit.path!r} ({type(unit.module).__name__})"
    step = in_shape if unit.single_steps or getattr(module, "step_mode", "s") == "s" else in_shape[1:]
    if len(step) < 2:
        raise ValueError(
            f"export: {owner} saw one step of shape {tuple(step)}; give example_input a batch dimension and at "
            f"least one feature dimension ([B, ...] per step)"
        )
    if isinstance(module, BaseNode):
        return _neuron(module, step, dt, owner)
    if isinstance(module, SynapseFilter):
        raise ValueError(
            f"export: {owner}: its current decays only at steps without an input spike "
            f"(I[t] = I[t-1] - (1 - x[t]) I[t-1] / tau + x[t]); NIR's synapses (LI, CubaLIF) decay at every "
            f"step, so NIR has no exact node for it"
        )
    if isinstance(module, Delay):
        steps = _per_element(module.delay_steps, step, owner, "delay_steps")
        return require_nir().Delay(delay=conventions.delay_to_nir(steps, dt))
    if isinstance(module, Scale):
        return require_nir().Scale(scale=_per_element(module.scale, step, owner, "scale"))
    plain = not isinstance(module, StepModule) and not unit.single_steps
    if plain and isinstance(module, (nn.Linear, nn.Conv1d, nn.Conv2d, nn.AvgPool2d, nn.Flatten)):
        raise ValueError(
            f"export: {owner} is a plain torch layer, which does not say whether its input has a time "
            f"dimension; use the step-aware spikestep.layer.{type(module).__name__}, or wrap it in "
            f"layer.SeqToANNContainer"
        )
    return _layer(module, step, owner)


def _layer(module: nn.Module, step: torch.Size, owner: str) -> nir.NIRNode:
    nir = require_nir()
    import numpy as np

    if isinstance(module, nn.Linear):
        if len(step) != 2:
            raise ValueError(
                f"export: {owner} maps the last dimension of one step of shape {tuple(step)}; NIR's Affine maps "
                f"vectors: flatten first (layer.Flatten) so that one step is [B, features]"
            )
        if module.bias is None:
            return nir.Linear(weight=_array(module.weight))
        return nir.Affine(weight=_array(module.weight), bias=_array(module.bias))
    if isinstance(module, (nn.Conv1d, nn.Conv2d)):
        if module.padding_mode != "zeros":
            raise ValueError(
                f"export: {owner} pads with {module.padding_mode!r}; NIR's convolutions pad with zeros only"
            )
        weight = _array(module.weight)
        bias = _array(module.bias) if module.bias is not None else np.zeros(weight.shape[0], weight.dtype)
        if module.groups != 1:
            raise ValueError(
                f"export: {owner} has groups={module.groups}; nir reads a convolution's input channels off its "
                f"weight (in_channels / groups of them), so the graph of a grouped convolution does not read back "
                f"(nir.read refuses it): use groups=1"
            )
        padding = module.padding
        if isinstance(module, nn.Conv1d):
            return nir.Conv1d(
                input_shape=int(step[-1]), weight=weight, stride=int(module.stride[0]),
                padding=padding if isinstance(padding, str) else int(padding[0]),
                dilation=int(module.dilation[0]), groups=1, bias=bias,
            )  # fmt: skip
        return nir.Conv2d(
            input_shape=(int(step[-2]), int(step[-1])), weight=weight, stride=_pair(module.stride),
            padding=padding if isinstance(padding, str) else _pair(padding),
            dilation=_pair(module.dilation), groups=1, bias=bias,
        )  # fmt: skip
    if isinstance(module, nn.AvgPool2d):
        return _avg_pool(module, owner)
    if isinstance(module, nn.Flatten):
        return _flatten(module, step, owner)
    raise ValueError(f"export: {owner}: {_why_no_node(module)}")


def _avg_pool(module: nn.AvgPool2d, owner: str) -> nir.NIRNode:
    nir = require_nir()
    import numpy as np

    if module.ceil_mode:
        raise ValueError(f"export: {owner} has ceil_mode=True; NIR's pooling windows lie inside the input")
    kernel, stride, padding = (
        np.array(_pair(v)) for v in (module.kernel_size, module.stride or module.kernel_size, module.padding)
    )
    if module.divisor_override == 1:
        return nir.SumPool2d(kernel_size=kernel, stride=stride, padding=padding)
    if module.divisor_override is not None:
        raise ValueError(
            f"export: {owner} divides by divisor_override={module.divisor_override}; NIR's AvgPool2d divides "
            f"by the window's size and SumPool2d by 1 (put a spikestep.nir.Scale after a SumPool2d)"
        )
    if np.any(padding) and not module.count_include_pad:
        raise ValueError(
            f"export: {owner} leaves the padding out of the average (count_include_pad=False); NIR's AvgPool2d "
            f"divides by the whole window"
        )
    return nir.AvgPool2d(kernel_size=kernel, stride=stride, padding=padding)


def _flatten(module: nn.Flatten, step: torch.Size, owner: str) -> nir.NIRNode:
    n = len(step)
    if not (-n <= module.start_dim < n and -n <= module.end_dim < n):
        raise ValueError(
            f"export: {owner}: start_dim and end_dim are not dimensions of one step {tuple(step)}"
        )
    if module.start_dim % n == 0:
        raise ValueError(
            f"export: {owner} flattens the batch dimension (start_dim={module.start_dim}); NIR's Flatten "
            f"works on one sample: start at dimension 1 of a step [B, ...]"
        )
    # NIR counts the dimensions of one sample, without the batch: one less (negative ones are the same).
    start, end = (d - 1 if d >= 0 else d for d in (module.start_dim, module.end_dim))
    return require_nir().Flatten(input_type=tuple(step[1:]), start_dim=start, end_dim=end)


def _neuron(module: BaseNode, step: torch.Size, dt: float, owner: str) -> nir.NIRNode:
    nir = require_nir()
    import numpy as np

    if type(module) not in (IFNode, LIFNode, ParametricLIFNode):
        raise ValueError(
            f"export: {owner} is a neuron with its own charge; NIR has nodes for IFNode, LIFNode and "
            f"ParametricLIFNode only (a subclass may change the charge, so it is not read as its base)"
        )
    if module.v_reset is None:
        raise ValueError(
            f"export: {owner} has a soft reset (v_reset=None: V = H - v_threshold at a spike); NIR's neurons "
            f"reset to v_reset: give it a hard reset (v_reset=0.0) to export it"
        )
    _check_heaviside(module, owner)
    feature = tuple(step[1:])
    threshold = np.full(feature, float(module.v_threshold))
    v_reset = np.full(feature, float(module.v_reset))
    if isinstance(module, IFNode):
        return nir.IF(r=np.full(feature, conventions.if_r(dt)), v_threshold=threshold, v_reset=v_reset)
    tau_steps = _per_element(module.tau, step, owner, "tau")
    tau, r = conventions.lif_to_nir(tau_steps, module.decay_input, dt)
    return nir.LIF(tau=tau, r=r, v_leak=v_reset.copy(), v_threshold=threshold, v_reset=v_reset)


def _check_heaviside(module: BaseNode, owner: str) -> None:
    """NIR's neurons fire a step ``v > v_threshold``: the surrogate must spike (its gradient is free)."""
    surrogate = module.surrogate_function
    if (
        isinstance(surrogate, SurrogateFunction)
        and surrogate.spiking
        and type(surrogate).forward is SurrogateFunction.forward
    ):
        return
    raise ValueError(
        f"export: {owner} fires through {getattr(surrogate, '__name__', type(surrogate).__name__)}"
        + (
            " with spiking=False (a smooth output, not spikes)"
            if not getattr(surrogate, "spiking", True)
            else ""
        )
        + ", whose forward is not known to be a Heaviside step; NIR's neurons fire a step: use one of "
        "spikestep.surrogate's surrogates with spiking=True (its gradient does not matter to NIR)"
    )


def _per_element(value: Any, step: torch.Size, owner: str, what: str) -> np.ndarray:
    """A float or per-channel tensor as one value per element of a sample (``step[1:]``), float64."""
    import numpy as np

    feature = tuple(step[1:])
    if not isinstance(value, torch.Tensor):
        return np.full(feature, float(value))
    try:
        full = torch.broadcast_to(value.detach().to("cpu", torch.float64), tuple(step))
    except RuntimeError:
        raise ValueError(
            f"export: {owner}: {what} of shape {list(value.shape)} does not fit one step of shape {tuple(step)}"
        ) from None
    if not bool((full == full[:1]).all()):
        raise ValueError(
            f"export: {owner}: {what} differs along the batch dimension; NIR's {what} is per sample"
        )
    return full[0].clone().numpy()


def _array(t: torch.Tensor) -> np.ndarray:
    return t.detach().to("cpu").clone().numpy()


def _pair(value: int | tuple[int, ...]) -> tuple[int, int]:
    return (int(value), int(value)) if isinstance(value, int) else (int(value[0]), int(value[-1]))


def _why_no_node(module: nn.Module) -> str:
    if isinstance(module, (nn.MaxPool1d, nn.MaxPool2d)):
        return "NIR has no max pooling (an AvgPool2d or SumPool2d can take its place)"
    if isinstance(module, nn.modules.batchnorm._BatchNorm):
        return "NIR has no batch norm; fold it into the convolution or linear layer before it, then export"
    if isinstance(module, (nn.AvgPool1d, nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d)):
        return "NIR pools in 2-d with a fixed window only (AvgPool2d, SumPool2d)"
    return f"NIR has no node for it; spikestep exports {EXPORTED}"

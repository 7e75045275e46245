"""Hypothesis fuzzes the constructor and the forward call of every public module (issue #9, item 8).

Public modules: everything ``spikestep.layer``, ``spikestep.neuron`` and ``spikestep.encoding`` export, and
``spikestep.surrogate``'s modules and functions as callables. The rule is one for all of them:

* a constructor, given any arguments (valid ones, and wrong types, NaN, infinities, negative, zero and huge
  numbers, bools for ints, tensors for numbers), either builds the module or raises ``ValueError`` /
  ``TypeError``;
* a forward call, given any input (every dtype from bool to float64, empty ``T`` and empty batch,
  transposed, sliced and expanded tensors, NaN and infinities, non-tensors, the wrong rank), either raises
  ``ValueError`` / ``TypeError`` or returns outputs in which the whole sequence (multi-step mode), the
  sequence in chunks (multi-step mode, after ``functional.reset_net``) and the sequence one step at a time
  (single-step mode) agree;
* a dtype, device or shape change in the middle of a sequence, without ``reset_net``, gives a clear error
  or the documented behaviour (``docs/bad-inputs.md``).

Anything else (``AttributeError``, ``IndexError``, ``ZeroDivisionError``, ``AssertionError``, a
``RuntimeError`` from inside torch) fails the test. The one documented ``RuntimeError`` is a compiled
backend forced where it cannot run (``backend='numba'`` with float16 input, ``use_backend('triton')``
without CUDA): its message says to use ``backend='auto'``.

Budget: every test states its ``max_examples`` (``FUZZ_EXAMPLES``, ``CTOR_EXAMPLES``, ...), derandomized,
so CI runs the same examples every time and ``python -m pytest tests/test_fuzz.py`` takes about half a
minute on two cores (plus numba's first compile where its cache is cold). A longer, random fuzz:
``HYPOTHESIS_PROFILE=thorough python -m pytest tests/test_fuzz.py`` (500 examples per test, a new random
draw on every run; the profiles are in ``tests/conftest.py``; add ``TRITON_INTERPRET=1`` to run the
forced-Triton test through Triton's CPU interpreter).
"""

from __future__ import annotations

import contextlib
import copy
import inspect
import io
import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
import torch
import torch.nn as nn
from hypothesis import HealthCheck, assume, event, given, note, settings
from hypothesis import strategies as st
from strategies import chunk_sizes

from spikestep import encoding, functional, layer, neuron, ops, surrogate
from spikestep._runtime import numba_jit

# ------------------------------------------------------------------------------------------------ budget

# Examples per test in CI (the default "spikestep" profile). Any other HYPOTHESIS_PROFILE (e.g. "thorough")
# takes that profile's max_examples and randomness instead.
CTOR_EXAMPLES = 40
FUZZ_EXAMPLES = 40
MID_STREAM_EXAMPLES = 20
SURROGATE_EXAMPLES = 30

_PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "spikestep")
_SLOW_OK = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much]


def budget(max_examples: int) -> settings:
    if _PROFILE == "spikestep":
        return settings(
            max_examples=max_examples, deadline=None, derandomize=True, suppress_health_check=_SLOW_OK
        )
    return settings(deadline=None, suppress_health_check=_SLOW_OK)  # the loaded profile's budget


# --------------------------------------------------------------------------------------- what may happen

CLEAN = (ValueError, TypeError)


def is_documented_error(e: BaseException) -> bool:
    """A clean refusal: ``ValueError``/``TypeError``, or the documented ``RuntimeError`` of a compiled
    backend forced where it cannot run (it names the fix: backend 'auto' or 'torch')."""
    if isinstance(e, CLEAN):
        return True
    return isinstance(e, RuntimeError) and "was forced" in str(e) and "'auto'" in str(e)


@dataclass
class Outcome:
    value: Any = None
    error: BaseException | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def attempt(fn: Callable[[], Any]) -> Outcome:
    """Run ``fn``: its value, or the clean error it raised; any other exception propagates (a failure)."""
    try:
        with contextlib.redirect_stdout(io.StringIO()):  # PrintShapeModule prints
            return Outcome(value=fn())
    except Exception as e:
        if is_documented_error(e):
            return Outcome(error=e)
        raise


# ------------------------------------------------------------------------------------------ bad numbers

BAD_VALUES = [
    None,
    "",
    "s",
    True,
    False,
    -1,
    0,
    1,
    2**62,
    10**30,
    -(2**62),
    -0.5,
    0.5,
    1.0,
    1.5,
    -0.0,
    1e-300,
    1e308,
    math.nan,
    math.inf,
    -math.inf,
    np.int64(3),
    np.float32(2.5),
    np.float64(math.nan),
    1 + 1j,
    [2],
    (2, 2),
    (),
    (2, -1),
    (0,),
    torch.tensor(2.0),
    torch.tensor(3),
    torch.tensor(math.nan),
    torch.tensor([2.0, 3.0]),
    torch.tensor([]),
    torch.tensor([True]),
    object(),
]


# ---------------------------------------------------------------------------------------- module specs


@dataclass
class Spec:
    """How to build a module with sensible arguments, and what one step of its input looks like."""

    make: Callable[[Any], nn.Module]  # draw -> module (arguments a user could pass)
    step_shape: Callable[[Any, nn.Module], tuple[int, ...]]  # draw, module -> one step [B, ...]
    stateful: bool = False  # memories carried between calls
    # MultiStepContainer refuses a chunk of no steps (its children's output shape is unknown without
    # running them): its chunks leave the empty ones out.
    empty_chunks: bool = True


def _batch(draw):
    return draw(st.sampled_from([0, 1, 2, 3]))


def _elementwise_step(draw, module):
    """Any rank: [B, ...] of 0 to 3 dims (a 0-d step is one scalar per step)."""
    rank = draw(st.integers(0, 3))
    return tuple(draw(st.integers(0, 3)) for _ in range(rank))


def _channels_step(n_spatial: int, channels_attr: str | None = None):
    """A step [B, C, *spatial] (sometimes of the wrong rank or channel count)."""

    def step(draw, module):
        c = getattr(module, channels_attr) if channels_attr else draw(st.integers(1, 3))
        if draw(st.integers(0, 9)) == 0:
            c = draw(st.integers(0, 4))  # the wrong channel count, now and then
        spatial = tuple(draw(st.integers(0, 6)) for _ in range(n_spatial))
        shape = (_batch(draw), c, *spatial)
        if draw(st.integers(0, 9)) == 0:  # the wrong rank, now and then
            shape = shape[1:] if draw(st.booleans()) else (*shape, 2)
        return shape

    return step


def _tau_value(draw):
    kind = draw(st.sampled_from(["float", "float", "edge", "tensor"]))
    if kind == "float":
        return draw(st.sampled_from([1.5, 2.0, 3.0, 10.0, 100.0]))
    if kind == "edge":
        return draw(st.sampled_from([1.0001, 1.01, 1e6, 1e30, 1e308]))
    dtype = draw(st.sampled_from([torch.float32, torch.float64, torch.float16]))
    shape = draw(st.sampled_from([(), (1,), (2,), (3,), (2, 3), (1, 3)]))
    g = torch.Generator().manual_seed(draw(st.integers(0, 1000)))
    return (1.5 + 5 * torch.rand(shape, generator=g, dtype=torch.float64)).to(dtype)


def _surrogate(draw):
    kind = draw(st.sampled_from(["default", "atan", "sigmoid", "pq", "primitive", "function", "lambda"]))
    if kind == "default":
        return None
    if kind == "atan":
        return surrogate.ATan(alpha=draw(st.sampled_from([0.5, 2.0, 1e6])))
    if kind == "sigmoid":
        return surrogate.Sigmoid()
    if kind == "pq":
        return surrogate.PiecewiseQuadratic()
    if kind == "primitive":
        return surrogate.ATan(spiking=False)
    if kind == "function":
        return surrogate.sigmoid
    return lambda x: (x >= 0).to(x.dtype)


def _backend(draw):
    options = ["auto", "torch"] + (["numba"] if numba_jit.available() else [])
    return draw(st.sampled_from(options))


def _node_kwargs(draw):
    v_threshold = draw(st.sampled_from([1.0, 0.5, 0.0, -0.5, 2.0, 1e30]))
    v_reset = draw(st.sampled_from([None, 0.0, -1.0, v_threshold - 0.25, -1e30]))
    if v_reset is not None and v_reset >= v_threshold:
        v_reset = None
    return dict(
        v_threshold=v_threshold,
        v_reset=v_reset,
        surrogate_function=_surrogate(draw),
        detach_reset=draw(st.booleans()),
        backend=_backend(draw),
        store_v_seq=draw(st.booleans()),
    )


def _maybe_cast(draw, module):
    """Now and then a module whose parameters are float64 / float16 / bfloat16."""
    dtype = draw(st.sampled_from([None, None, None, torch.float64, torch.float16, torch.bfloat16]))
    return module if dtype is None else module.to(dtype)


def _make_node(cls):
    def make(draw):
        kwargs = _node_kwargs(draw)
        if cls is neuron.LIFNode:
            kwargs.update(tau=_tau_value(draw), decay_input=draw(st.booleans()))
        elif cls is neuron.ParametricLIFNode:
            tau = _tau_value(draw)
            if isinstance(tau, float) and tau > 1e6:
                tau = 1e6
            kwargs.update(init_tau=tau, decay_input=draw(st.booleans()))
        return _maybe_cast(draw, cls(**kwargs))

    return make


def _pool_sizes(draw, n, lo, hi):
    if n == 1 or draw(st.booleans()):
        return draw(st.integers(lo, hi))
    return tuple(draw(st.integers(lo, hi)) for _ in range(n))


def _first(size):
    return size if isinstance(size, int) else min(size)


def _make_maxpool(cls, n):
    def make(draw):
        k = _pool_sizes(draw, n, 1, 3)
        return cls(
            kernel_size=k,
            stride=draw(st.one_of(st.none(), st.integers(1, 3))),
            padding=draw(st.integers(0, _first(k) // 2)),
            dilation=_pool_sizes(draw, n, 1, 2),
            return_indices=draw(st.sampled_from([False, False, False, True])),
            ceil_mode=draw(st.booleans()),
        )

    return make


def _make_avgpool(cls, n):
    def make(draw):
        k = _pool_sizes(draw, n, 1, 3)
        kwargs = dict(
            kernel_size=k,
            stride=draw(st.one_of(st.none(), st.integers(1, 3))),
            padding=draw(st.integers(0, _first(k) // 2)),
            ceil_mode=draw(st.booleans()),
            count_include_pad=draw(st.booleans()),
        )
        if n == 2:
            kwargs["divisor_override"] = draw(st.sampled_from([None, 1, 3]))
        return cls(**kwargs)

    return make


def _make_adaptive(cls, n):
    def make(draw):
        if n == 1:
            return cls(draw(st.integers(1, 3)))
        return cls(draw(st.sampled_from([1, 2, (1, 2), (None, 2), (2, None)])))

    return make


def _make_conv(cls, n):
    def make(draw):
        groups = draw(st.sampled_from([1, 1, 2]))
        in_channels = groups * draw(st.integers(1, 2))
        out_channels = groups * draw(st.integers(1, 2))
        padding_mode = draw(st.sampled_from(["zeros", "zeros", "reflect", "replicate", "circular"]))
        padding = draw(st.sampled_from([0, 1, 2, "same", "valid"]))
        stride = 1 if padding == "same" else _pool_sizes(draw, n, 1, 2)
        m = cls(
            in_channels,
            out_channels,
            kernel_size=_pool_sizes(draw, n, 1, 3),
            stride=stride,
            padding=padding,
            dilation=_pool_sizes(draw, n, 1, 2),
            groups=groups,
            bias=draw(st.booleans()),
            padding_mode=padding_mode,
        )
        return _maybe_cast(draw, m)

    return make


def _make_batch_norm(cls):
    def make(draw):
        m = cls(
            draw(st.integers(1, 3)),
            eps=draw(st.sampled_from([1e-5, 0.1])),
            momentum=draw(st.sampled_from([0.1, None, 1.0])),
            affine=draw(st.booleans()),
            track_running_stats=draw(st.booleans()),
        )
        torch.manual_seed(draw(st.integers(0, 100)))
        if m.track_running_stats:
            m.running_mean.uniform_(-1, 1)
            m.running_var.uniform_(0.5, 2)
        return _maybe_cast(draw, m)

    return make


def _delay_steps(draw):
    """An int, or per-channel delays: one per channel of a small last dimension (fits some steps)."""
    if draw(st.booleans()):
        return draw(st.integers(0, 4))
    return torch.tensor(draw(st.lists(st.integers(0, 4), min_size=1, max_size=3)))


def _learnable_delay_step(draw, module):
    channels = module.num_channels if draw(st.integers(0, 9)) else draw(st.integers(0, 4))
    rank = draw(st.integers(0, 2))  # [B, ..., C]: 0 to 2 dims before the channels
    return (*(draw(st.integers(0, 3)) for _ in range(rank)), channels)


def _linear_step(draw, module):
    features = module.in_features if draw(st.integers(0, 9)) else draw(st.integers(0, 4))
    rank = draw(st.integers(0, 2))  # [B, ..., in]: 0 to 2 dims before the features
    return (*(draw(st.integers(0, 3)) for _ in range(rank)), features)


def _flatten_step(draw, module):
    rank = draw(st.integers(0, 4))
    return tuple(draw(st.integers(0, 3)) for _ in range(rank))


def _voting_step(draw, module):
    v = module.voting_size
    last = v * draw(st.integers(0, 3)) + (draw(st.integers(0, v - 1)) if draw(st.integers(0, 4)) == 0 else 0)
    rank = draw(st.integers(0, 2))
    return (*(draw(st.integers(0, 3)) for _ in range(rank)), last)


def _bn1d_step(draw, module):
    c = module.num_features if draw(st.integers(0, 9)) else draw(st.integers(1, 4))
    shape = (draw(st.integers(0, 3)), c)
    if draw(st.booleans()):
        shape = (*shape, draw(st.integers(0, 4)))
    if draw(st.integers(0, 9)) == 0:
        shape = shape[1:]
    return shape


def _children(draw, stateless_only: bool):
    # spikestep's own modules (and nn.Identity): a torch module's input rules are torch's (nn.ReLU refuses
    # bool tensors with a RuntimeError), not the container's.
    pool: list[Callable[[], nn.Module]] = [
        nn.Identity,
        lambda: layer.VotingLayer(1),
        lambda: layer.Flatten(0),
    ]
    if not stateless_only:  # SeqToANNContainer is for modules without state (documented)
        pool += [
            lambda: layer.Dropout(0.5),
            lambda: layer.SynapseFilter(tau=draw(st.sampled_from([2.0, 5.0]))),
            lambda: neuron.LIFNode(tau=2.0),
            lambda: neuron.IFNode(v_reset=None),
            lambda: layer.Delay(draw(st.integers(0, 3))),
        ]
    n = draw(st.integers(1, 3))
    return [draw(st.sampled_from(pool))() for _ in range(n)]


SPECS: dict[str, Spec] = {
    # ---- layer
    "AdaptiveAvgPool1d": Spec(_make_adaptive(layer.AdaptiveAvgPool1d, 1), _channels_step(1)),
    "AdaptiveAvgPool2d": Spec(_make_adaptive(layer.AdaptiveAvgPool2d, 2), _channels_step(2)),
    "AvgPool1d": Spec(_make_avgpool(layer.AvgPool1d, 1), _channels_step(1)),
    "AvgPool2d": Spec(_make_avgpool(layer.AvgPool2d, 2), _channels_step(2)),
    "BatchNorm1d": Spec(_make_batch_norm(layer.BatchNorm1d), _bn1d_step),
    "BatchNorm2d": Spec(_make_batch_norm(layer.BatchNorm2d), _channels_step(2, "num_features")),
    "Conv1d": Spec(_make_conv(layer.Conv1d, 1), _channels_step(1, "in_channels")),
    "Conv2d": Spec(_make_conv(layer.Conv2d, 2), _channels_step(2, "in_channels")),
    "Delay": Spec(lambda d: layer.Delay(_delay_steps(d)), _elementwise_step, stateful=True),
    "DelayedLinear": Spec(
        lambda d: _maybe_cast(
            d,
            layer.DelayedLinear(
                d(st.integers(1, 3)),
                d(st.integers(1, 3)),
                d(st.integers(0, 4)),
                bias=d(st.booleans()),
                kernel=d(st.sampled_from(["gauss", "linear", "round"])),
                backend=_backend(d),
            ),
        ),
        _linear_step,
        stateful=True,
    ),
    "DelayBank": Spec(
        lambda d: layer.DelayBank(d(st.lists(st.integers(0, 4), min_size=1, max_size=3, unique=True))),
        _elementwise_step,
        stateful=True,
    ),
    "Dropout": Spec(
        lambda d: layer.Dropout(d(st.sampled_from([0.0, 0.25, 0.5, 0.9]))), _elementwise_step, stateful=True
    ),
    "Flatten": Spec(lambda d: layer.Flatten(d(st.integers(-3, 3)), d(st.integers(-3, 3))), _flatten_step),
    "LearnableDelay": Spec(
        lambda d: layer.LearnableDelay(
            d(st.integers(1, 3)), d(st.integers(0, 4)), sigma=d(st.sampled_from([None, 0.0, 0.6]))
        ),
        _learnable_delay_step,
        stateful=True,
    ),
    "Linear": Spec(
        lambda d: _maybe_cast(d, layer.Linear(d(st.integers(1, 3)), d(st.integers(1, 3)), d(st.booleans()))),
        _linear_step,
    ),
    "MaxPool1d": Spec(_make_maxpool(layer.MaxPool1d, 1), _channels_step(1)),
    "MaxPool2d": Spec(_make_maxpool(layer.MaxPool2d, 2), _channels_step(2)),
    "MultiStepContainer": Spec(
        lambda d: layer.MultiStepContainer(*_children(d, False)),
        _elementwise_step,
        stateful=True,
        empty_chunks=False,
    ),
    "PrintShapeModule": Spec(
        lambda d: layer.PrintShapeModule(d(st.sampled_from(["x", ""]))), _elementwise_step
    ),
    "SeqToANNContainer": Spec(lambda d: layer.SeqToANNContainer(*_children(d, True)), _elementwise_step),
    "SynapseFilter": Spec(
        lambda d: _maybe_cast(d, layer.SynapseFilter(_tau_value(d), learnable=d(st.booleans()))),
        _elementwise_step,
        stateful=True,
    ),
    "VotingLayer": Spec(lambda d: layer.VotingLayer(d(st.integers(1, 3))), _voting_step),
    # ---- neuron
    "BaseNode": Spec(_make_node(neuron.BaseNode), _elementwise_step, stateful=True),
    "IFNode": Spec(_make_node(neuron.IFNode), _elementwise_step, stateful=True),
    "LIFNode": Spec(_make_node(neuron.LIFNode), _elementwise_step, stateful=True),
    "ParametricLIFNode": Spec(_make_node(neuron.ParametricLIFNode), _elementwise_step, stateful=True),
    # ---- encoding
    "LatencyEncoder": Spec(
        lambda d: encoding.LatencyEncoder(d(st.integers(1, 5)), d(st.sampled_from(["linear", "log"]))),
        _elementwise_step,
    ),
    "PoissonEncoder": Spec(
        lambda d: encoding.PoissonEncoder(generator=d(st.sampled_from([None, torch.Generator()]))),
        _elementwise_step,
    ),
}

PUBLIC_MODULES = {
    name: getattr(package, name)
    for package in (layer, neuron, encoding, surrogate)
    for name in package.__all__
    if isinstance(getattr(package, name), type) and issubclass(getattr(package, name), nn.Module)
}


def test_every_public_module_is_fuzzed():
    surrogates = {"ATan", "Sigmoid", "PiecewiseQuadratic", "SurrogateFunction"}
    assert set(PUBLIC_MODULES) == set(SPECS) | surrogates


# --------------------------------------------------------------------------------------------- inputs

DTYPES = [
    torch.bool,
    torch.uint8,
    torch.int32,
    torch.int64,
    torch.float16,
    torch.bfloat16,
    torch.float32,
    torch.float64,
]
LAYOUTS = ["contiguous", "transposed", "sliced", "expanded"]


@dataclass
class Input:
    """A tensor recipe: ``build()`` makes a new tensor of these values and this layout every time."""

    shape: tuple[int, ...]
    dtype: torch.dtype
    layout: str
    seed: int
    kind: str
    special: str

    def values(self) -> torch.Tensor:
        g = torch.Generator().manual_seed(self.seed)
        shape = self.shape
        if self.dtype == torch.bool:
            return torch.rand(shape, generator=g) < 0.4
        if not self.dtype.is_floating_point:
            lo = 0 if self.dtype == torch.uint8 else -2
            return torch.randint(lo, 4, shape, generator=g).to(self.dtype)
        if self.kind == "spikes":
            x = (torch.rand(shape, generator=g) < 0.4).double()
        elif self.kind == "unit":
            x = torch.rand(shape, generator=g, dtype=torch.float64)
        elif self.kind == "wide":
            x = torch.randn(shape, generator=g, dtype=torch.float64) * 1e4
        else:
            x = torch.randn(shape, generator=g, dtype=torch.float64) * 1.5
        if self.special != "none" and x.numel():
            pick = torch.rand(shape, generator=g) < 0.15
            values = {"nan": [math.nan], "inf": [math.inf], "-inf": [-math.inf]}.get(
                self.special, [math.nan, math.inf, -math.inf]
            )
            which = torch.randint(0, len(values), shape, generator=g)
            x = torch.where(pick, torch.tensor(values, dtype=torch.float64)[which], x)
        return x.to(self.dtype)

    def build(self) -> torch.Tensor:
        x = self.values()
        if self.layout == "transposed" and x.dim() >= 2:
            return x.transpose(-1, -2).contiguous().transpose(-1, -2)
        if self.layout == "sliced" and x.dim() >= 1:
            return x.repeat_interleave(2, dim=-1)[..., ::2]
        if self.layout == "expanded" and x.dim() >= 1:
            return x.narrow(-1, 0, min(1, x.shape[-1])).expand(x.shape) if x.shape[-1] else x
        return x


@st.composite
def inputs(draw, step: tuple[int, ...], max_t: int = 6, t: int | None = None) -> Input:
    t = draw(st.integers(0, max_t)) if t is None else t
    dtype = draw(st.sampled_from(DTYPES))
    return Input(
        shape=(t, *step),
        dtype=dtype,
        layout=draw(st.sampled_from(LAYOUTS)),
        seed=draw(st.integers(0, 2**16)),
        kind=draw(st.sampled_from(["spikes", "unit", "real", "wide"])),
        special=draw(st.sampled_from(["none", "none", "nan", "inf", "-inf", "mixed"])),
    )


NON_TENSORS = [None, 3, 1.5, [[1.0, 0.0]], "x", np.zeros((2, 3), dtype=np.float32), (torch.zeros(2),)]


# ------------------------------------------------------------------------------------------ protocols


def fresh(module: nn.Module, step_mode: str) -> nn.Module:
    """A copy of ``module`` (the same parameters) in ``step_mode``, its memories reset."""
    m = copy.deepcopy(module)
    functional.set_step_mode(m, step_mode)  # a multi-step container keeps 'm' (and its children 's')
    functional.reset_net(m)
    return m


def single_step_capable(module: nn.Module) -> bool:
    return "s" in getattr(module, "supported_step_mode", lambda: ("s", "m"))()


def _call(m: nn.Module, x: Any, seed: int) -> Any:
    torch.manual_seed(seed)  # Dropout draws its mask from the global generator: the same in every run
    return m(x)


def _scribble(y: Any, x: torch.Tensor) -> None:
    """Change an output in place, as a caller may (an in-place op after the module). An output that is the
    input itself (an identity layer) is the caller's own tensor: left alone."""
    if not isinstance(y, torch.Tensor) or y.numel() == 0 or y.requires_grad:
        return
    if y.untyped_storage().data_ptr() == x.untyped_storage().data_ptr():
        return
    if any(s == 0 and n > 1 for s, n in zip(y.stride(), y.shape)):
        return
    y.zero_()


def run_whole(module, inp: Input, seed: int) -> Outcome:
    m = fresh(module, "m")
    return attempt(lambda: _detached(_call(m, inp.build(), seed)))


def run_chunks(module, inp: Input, pieces: list[int], seed: int) -> Outcome:
    m = fresh(module, "m")
    x = inp.build()

    def go():
        outs = []
        for p in torch.split(x, pieces):
            y = _call(m, p, seed)
            outs.append(_detached(y))
            _scribble(y, x)
        return torch.cat(outs) if outs else None

    return attempt(go)


def run_steps(module, inp: Input, seed: int, reuse_buffer: bool) -> Outcome:
    m = fresh(module, "s")
    x = inp.build()

    def go():
        outs = []
        buf = torch.empty_like(x[0]) if reuse_buffer and len(x) else None
        for xt in x:
            if buf is not None:
                buf.copy_(xt)
                xt = buf
            y = _call(m, xt, seed)
            outs.append(_detached(y))
            _scribble(y, xt)
            if buf is not None and buf.is_floating_point():
                buf.fill_(math.nan)  # the caller scribbles over its buffer before the next step
        return torch.stack(outs) if outs else None

    return attempt(go)


def _detached(y: Any) -> Any:
    if isinstance(y, tuple):
        return tuple(_detached(v) for v in y)
    return y.detach().clone() if isinstance(y, torch.Tensor) else y


TOLERANCE = {
    torch.float64: 1e-9,
    torch.float32: 1e-5,
    torch.float16: 2e-3,
    torch.bfloat16: 1.6e-2,
}


def assert_same(a: torch.Tensor, b: torch.Tensor, what: str) -> None:
    assert a.shape == b.shape, f"{what}: shapes {tuple(a.shape)} and {tuple(b.shape)}"
    assert a.dtype == b.dtype, f"{what}: dtypes {a.dtype} and {b.dtype}"
    tol = TOLERANCE.get(a.dtype, 0.0)
    finite = a[torch.isfinite(a)].abs() if a.is_floating_point() else a.to(torch.int64).abs()
    scale = max(1.0, float(finite.max())) if finite.numel() else 1.0
    torch.testing.assert_close(a, b, rtol=tol, atol=tol * scale, equal_nan=True, msg=lambda m: f"{what}: {m}")


def expected_dtype(module: nn.Module, x: torch.Tensor) -> torch.dtype:
    """The documented output dtype: the input's when floating, else the module's floating dtype (its
    parameters' or buffers'), else torch's default."""
    if x.is_floating_point():
        return x.dtype
    for t in (*module.parameters(), *module.buffers()):
        if t.is_floating_point():
            return t.dtype
    return torch.get_default_dtype()


def comparable(name: str, module: nn.Module, inp: Input) -> str | None:
    """Why whole, chunks and steps of this module may differ on this input (None: they must agree)."""
    if name == "PoissonEncoder":
        values = inp.values()
        if not bool(((values == 0) | (values == 1)).all()):
            return "Poisson coding draws new random numbers per call: equal in distribution only"
    if isinstance(module, nn.modules.batchnorm._BatchNorm) and (
        module.training or not module.track_running_stats
    ):
        return "BatchNorm with batch statistics: 'm' mode takes them over all T*B samples (documented)"
    return None


# ---------------------------------------------------------------------------------------- constructors


def _signature_parameters(cls) -> list[inspect.Parameter]:
    return [p for p in inspect.signature(cls.__init__).parameters.values() if p.name != "self"]


def _valid_kwargs(name: str, draw) -> dict[str, Any]:
    """A module's own constructor arguments, as its spec draws them (read back from the module)."""
    cls = PUBLIC_MODULES[name]
    m = _build(SPECS[name], draw) if name in SPECS else cls()
    kwargs = {}
    for p in _signature_parameters(cls):
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        value = getattr(m, p.name, p.default)
        if p.name in ("tau", "init_tau"):
            value = m.tau
        if p.name == "surrogate_function":
            value = m.surrogate_function
        if p.name in ("device", "dtype"):
            value = p.default
        if value is inspect.Parameter.empty:
            continue
        kwargs[p.name] = value
    return kwargs


FACTORY_VALUES = {
    "device": [None, "cpu", torch.device("cpu"), "meta", "cuda", "cuda:7", "bogus", -1, 3.5],
    "dtype": [None, torch.float64, torch.float16, torch.int64, torch.bool, torch.complex64, "float32", 3],
    "step_mode": ["s", "m", "S", "", None, 0, ["m"]],
    "backend": ["auto", "torch", "numba", "triton", "cuda", None, 1],
    "padding_mode": ["zeros", "reflect", "replicate", "circular", "bogus", None, 0],
    "padding": ["same", "valid", "full", 0, 1, (1, 1), (1, 1, 1), -1],
    "enc_function": ["linear", "log", "exp", None, 0],
    "surrogate_function": [None, surrogate.ATan(), surrogate.atan, 3, "atan", math.nan],
    "generator": [None, torch.Generator(), 0, "seed"],
}


CONTAINER_CHILDREN = [nn.ReLU(), layer.Delay(1), neuron.IFNode(), neuron.IFNode(step_mode="m"), 3, None, "x"]


def _positional_prefix(params: list[inspect.Parameter], kwargs: dict[str, Any]) -> tuple[list, dict]:
    args = []
    for p in params:
        if p.kind != p.POSITIONAL_OR_KEYWORD or p.name not in kwargs:
            break
        args.append(kwargs.pop(p.name))
    return args, kwargs


@pytest.mark.parametrize("name", sorted(PUBLIC_MODULES))
@budget(CTOR_EXAMPLES)
@given(data=st.data())
def test_a_constructor_builds_the_module_or_refuses_with_a_value_or_type_error(name, data):
    cls = PUBLIC_MODULES[name]
    params = [p for p in _signature_parameters(cls) if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    kwargs = _valid_kwargs(name, data.draw)
    for p in params:
        if data.draw(st.integers(0, 2)) == 0:  # about one argument in three is replaced by a bad one
            kwargs[p.name] = data.draw(st.sampled_from(BAD_VALUES + FACTORY_VALUES.get(p.name, [])))
    args, kwargs = _positional_prefix(params, kwargs) if data.draw(st.booleans()) else ([], kwargs)
    if any(p.kind == p.VAR_POSITIONAL for p in _signature_parameters(cls)):  # the containers
        args = [
            copy.deepcopy(c) for c in data.draw(st.lists(st.sampled_from(CONTAINER_CHILDREN), max_size=3))
        ]
    note(f"{name}(*{args!r}, **{kwargs!r})")
    built = attempt(lambda: cls(*args, **kwargs))
    if built.ok:
        repr(built.value)  # extra_repr reads every setting back


# ------------------------------------------------------------------------------------------ forward fuzz


def _build(spec: Spec, draw) -> nn.Module:
    built = attempt(lambda: spec.make(draw))
    assume(built.ok)  # a combination the spec drew that the module refuses (e.g. tau 1.0001 in float16)
    return built.value


@pytest.mark.parametrize("name", sorted(SPECS))
@budget(FUZZ_EXAMPLES)
@given(data=st.data())
def test_whole_chunks_and_steps_agree_or_the_call_is_refused_cleanly(name, data):
    spec = SPECS[name]
    module = _build(spec, data.draw)
    module.train(data.draw(st.booleans()))
    seed = data.draw(st.integers(0, 1000))
    if data.draw(st.integers(0, 14)) == 0:  # not a tensor at all
        bad = data.draw(st.sampled_from(NON_TENSORS))
        for mode in ("m", "s"):
            out = attempt(lambda mode=mode: fresh(module, mode)(bad))
            assert not out.ok or isinstance(module, layer.PrintShapeModule), "a non-tensor was accepted"
            if not out.ok:
                assert isinstance(out.error, TypeError), out.error
        return
    if name == "LatencyEncoder":
        return _latency_protocol(module, data)
    inp = data.draw(inputs(spec.step_shape(data.draw, module)))
    pieces = [p for p in data.draw(chunk_sizes(inp.shape[0])) if p or spec.empty_chunks]
    note(f"module={module!r} training={module.training}\ninput={inp}\nchunks={pieces}")
    whole = run_whole(module, inp, seed)
    chunks = run_chunks(module, inp, pieces, seed)
    if single_step_capable(module):
        steps = run_steps(module, inp, seed, reuse_buffer=data.draw(st.booleans()))
    else:  # a multi-step container: one step at a time is chunks of one
        steps = run_chunks(module, inp, [1] * inp.shape[0], seed)
    if whole.ok and isinstance(whole.value, torch.Tensor) and not _is_passthrough(module):
        assert whole.value.dtype == expected_dtype(module, inp.build()), "not the documented output dtype"
    if whole.ok and inp.dtype in (torch.float32, torch.float64) and data.draw(st.booleans()):
        _backward(module, inp, seed)
    why = comparable(name, module, inp)
    if why is not None:
        event("not compared (documented)")
        return
    if not whole.ok:
        event(f"refused: {type(whole.error).__name__}")
        note(f"refused: {whole.error!r}")
        return
    event("compared" if inp.shape[0] else "compared (T = 0)")
    assert chunks.ok, f"the whole sequence ran, its chunks did not: {chunks.error!r}"
    assert steps.ok, f"the whole sequence ran, its steps did not: {steps.error!r}"
    if isinstance(whole.value, torch.Tensor):
        if chunks.value is not None:
            assert_same(whole.value, chunks.value, "whole vs chunks")
        if steps.value is not None:
            assert_same(whole.value, steps.value, "whole vs steps")


def _is_passthrough(module: nn.Module) -> bool:
    """Modules whose output dtype is not the compute-dtype rule's: PrintShapeModule hands its input back,
    a container's children decide."""
    return isinstance(module, (layer.PrintShapeModule, layer.MultiStepContainer, layer.SeqToANNContainer))


def _backward(module: nn.Module, inp: Input, seed: int) -> None:
    m = fresh(module, "m")
    x = inp.build().requires_grad_(True)

    def go():
        y = _call(m, x, seed)
        if isinstance(y, torch.Tensor) and y.requires_grad:
            torch.where(torch.isfinite(y), y, 0.0).sum().backward()

    attempt(go)


def _latency_protocol(module: encoding.LatencyEncoder, data) -> None:
    """The latency encoder takes a static input in both modes: ``'m'`` returns all T steps at once, ``'s'``
    one step per call. Chunks do not apply (a multi-step call does not carry on: it always encodes steps
    0 .. T-1), so the comparison is whole against T single steps."""
    step = _elementwise_step(data.draw, module)
    inp = data.draw(inputs(step[1:] if step else (), t=step[0] if step else 1))
    note(f"module={module!r}\ninput={inp}")
    whole = attempt(lambda: fresh(module, "m")(inp.build()))
    m = fresh(module, "s")
    steps = attempt(lambda: torch.stack([m(inp.build()) for _ in range(module.T)]))
    assert whole.ok == steps.ok, (whole.error, steps.error)
    if whole.ok:
        assert whole.value.dtype == expected_dtype(module, inp.build())
        assert_same(whole.value, steps.value, "whole vs steps")


# ------------------------------------------------------------------------- dtype, shape, device changes


def _carries_tensor_state(m: nn.Module) -> bool:
    return any(
        isinstance(value, torch.Tensor) and name != "v_seq"
        for module in m.modules()
        if hasattr(module, "named_memories")
        for name, value in module.named_memories()
    )


STATEFUL = sorted(name for name, spec in SPECS.items() if spec.stateful)


@pytest.mark.parametrize("name", sorted(SPECS))
@budget(MID_STREAM_EXAMPLES)
@given(data=st.data())
def test_a_dtype_change_mid_stream_converts_the_state_or_is_refused_cleanly(name, data):
    spec = SPECS[name]
    module = _build(spec, data.draw)
    module.train(data.draw(st.booleans()))
    mode = data.draw(st.sampled_from(["m", "s"] if single_step_capable(module) else ["m"]))
    step = spec.step_shape(data.draw, module)
    a = data.draw(inputs(step, t=data.draw(st.integers(1, 3))))
    b = data.draw(inputs(step, t=a.shape[0]))
    assume(a.dtype != b.dtype)
    m = fresh(module, mode)
    xa, xb = (x.build() if mode == "m" else x.build()[0] for x in (a, b))
    if name == "LatencyEncoder":
        xa, xb = a.build()[0], b.build()[0]
    first = attempt(lambda: _call(m, xa, 0))
    if not first.ok:
        return
    second = attempt(lambda: _call(m, xb, 1))
    note(f"{module!r}: {a.dtype} then {b.dtype} -> {second.error!r}")
    if second.ok and isinstance(second.value, torch.Tensor) and not _is_passthrough(module):
        assert second.value.dtype == expected_dtype(module, xb)


def _memory_shapes(net):
    """The shapes of every tensor memory in ``net``, in order."""
    return [
        tuple(value.shape)
        for module in net.modules()
        if hasattr(module, "named_memories")
        for _, value in module.named_memories()
        if isinstance(value, torch.Tensor)
    ]


@pytest.mark.parametrize("name", STATEFUL)
@budget(MID_STREAM_EXAMPLES)
@given(data=st.data())
def test_a_shape_change_mid_stream_asks_for_reset_net(name, data):
    spec = SPECS[name]
    module = _build(spec, data.draw)
    module.train(data.draw(st.booleans()))
    mode = data.draw(st.sampled_from(["m", "s"] if single_step_capable(module) else ["m"]))
    step_a = spec.step_shape(data.draw, module)
    step_b = spec.step_shape(data.draw, module)
    assume(step_a != step_b)
    a = data.draw(inputs(step_a, t=data.draw(st.integers(1, 3))))
    b = data.draw(inputs(step_b, t=data.draw(st.integers(0, 3))))
    m = fresh(module, mode)
    first = attempt(lambda: _call(m, a.build() if mode == "m" else a.build()[0], 0))
    if not first.ok or not _carries_tensor_state(m):
        return
    held_shapes = _memory_shapes(m)
    xb = b.build()
    if mode == "s":
        assume(len(xb))
        xb = xb[0]
    second = attempt(lambda: _call(m, xb, 1))
    note(f"{module!r}: {step_a} then {step_b} -> {second.error!r}")
    functional.reset_net(m)
    if not attempt(lambda: _call(m, xb, 1)).ok:
        return  # refused after the reset too: the input is wrong for this module whatever its state
    if _memory_shapes(m) == held_shapes:
        return  # e.g. Flatten(0, -1) before a neuron: both shapes give the state one shape
    assert not second.ok, "a new shape without reset_net was accepted"
    assert isinstance(second.error, ValueError) and "reset_net" in str(second.error), second.error


@pytest.mark.parametrize("name", STATEFUL)
@budget(MID_STREAM_EXAMPLES)
@given(data=st.data())
def test_a_device_change_mid_stream_is_refused_naming_the_fix(name, data):
    """The only second device on a CPU machine is ``meta``: a state held on the CPU and an input on
    another device must give an error that says how to move the state (docs/bad-inputs.md)."""
    spec = SPECS[name]
    module = _build(spec, data.draw)
    module.train(data.draw(st.booleans()))
    mode = data.draw(st.sampled_from(["m", "s"] if single_step_capable(module) else ["m"]))
    step = spec.step_shape(data.draw, module)
    a = data.draw(inputs(step, t=data.draw(st.integers(1, 3))))
    m = fresh(module, mode)
    xa = a.build() if mode == "m" else a.build()[0]
    first = attempt(lambda: _call(m, xa, 0))
    if not first.ok or not _carries_tensor_state(m):
        return
    second = attempt(lambda: _call(m, xa.to("meta"), 1))
    assert not second.ok, "an input on another device than the state was accepted"
    assert "reset_net" in str(second.error) and ".to(" in str(second.error), second.error


# ------------------------------------------------------------------------------------------ surrogates

SURROGATE_MODULES = {"ATan": surrogate.ATan, "Sigmoid": surrogate.Sigmoid, "PQ": surrogate.PiecewiseQuadratic}
SURROGATE_FUNCTIONS = {
    "atan": surrogate.atan,
    "sigmoid": surrogate.sigmoid,
    "piecewise_quadratic": surrogate.piecewise_quadratic,
}
DERIVATIVES = {
    "atan_derivative": surrogate.atan_derivative,
    "sigmoid_derivative": surrogate.sigmoid_derivative,
    "piecewise_quadratic_derivative": surrogate.piecewise_quadratic_derivative,
}
ALPHAS = [0.5, 1.0, 2.0, 4.0, 1e-300, 1e6, 1e308]


@st.composite
def surrogate_callables(draw):
    """``(name, f, spikes)``: a surrogate module or function (``spikes``: Heaviside forward)."""
    kind = draw(st.sampled_from(["module", "function", "derivative", "heaviside"]))
    alpha = draw(st.sampled_from(ALPHAS))
    if kind == "module":
        name = draw(st.sampled_from(sorted(SURROGATE_MODULES)))
        spiking = draw(st.booleans())
        return f"{name}(alpha={alpha}, spiking={spiking})", SURROGATE_MODULES[name](alpha, spiking), spiking
    if kind == "function":
        name = draw(st.sampled_from(sorted(SURROGATE_FUNCTIONS)))
        return f"{name}(alpha={alpha})", lambda x: SURROGATE_FUNCTIONS[name](x, alpha), True
    if kind == "derivative":
        name = draw(st.sampled_from(sorted(DERIVATIVES)))
        return f"{name}(alpha={alpha})", lambda x: DERIVATIVES[name](x, alpha), False
    return "heaviside", surrogate.heaviside, True


@budget(SURROGATE_EXAMPLES * 4)
@given(data=st.data())
def test_surrogates_as_callables_are_elementwise_or_refuse_cleanly(data):
    """The surrogate modules (``SurrogateFunction`` itself is an abstract base: its subclasses define the
    gradient) and their function forms on any input: a spike train in the input's dtype, the same whole
    as step by step; non-tensors are a ``TypeError``."""
    name, f, spikes = data.draw(surrogate_callables())
    if data.draw(st.integers(0, 9)) == 0:
        out = attempt(lambda: f(data.draw(st.sampled_from(NON_TENSORS))))
        assert not out.ok and isinstance(out.error, TypeError), (name, out)
        return
    inp = data.draw(inputs(_elementwise_step(data.draw, None)))
    note(f"{name} on {inp}")
    x = inp.build()
    whole = attempt(lambda: _detached(f(x)))
    steps = attempt(lambda: [_detached(f(xt)) for xt in x])
    assert whole.ok == steps.ok, (whole.error, steps.error)
    if not whole.ok:
        return
    y = whole.value
    assert y.shape == x.shape
    if spikes:
        assert y.dtype == x.dtype
        assert bool(((y == 0) | (y == 1)).all()), "a spike function gave something other than 0 and 1"
    if len(x):
        assert_same(y, torch.stack(steps.value), "whole vs steps")
    if x.dtype in (torch.float32, torch.float64):
        xg = inp.build().requires_grad_(True)

        def backward():
            y = f(xg)
            if y.requires_grad:  # heaviside has no gradient; the derivatives are not differentiated here
                y.sum().backward()

        out = attempt(backward)
        assert out.ok, out.error


# ------------------------------------------------------------------------------ backends and step modes


@pytest.mark.parametrize("backend", ["numba", "triton"])
@budget(MID_STREAM_EXAMPLES)
@given(data=st.data())
def test_a_forced_backend_that_cannot_run_says_so(backend, data):
    """``ops.use_backend`` forces a compiled backend for every walk: where it cannot run (no CUDA for
    triton, float16 for numba, a custom surrogate) the walk raises the documented ``RuntimeError``."""
    name = data.draw(st.sampled_from(["IFNode", "LIFNode", "ParametricLIFNode", "SynapseFilter"]))
    module = _build(SPECS[name], data.draw)
    if isinstance(module, neuron.BaseNode):
        module.backend = "auto"
    inp = data.draw(inputs(_elementwise_step(data.draw, module)))
    with ops.use_backend(backend):
        out = run_whole(module, inp, 0)
    if not out.ok:
        assert is_documented_error(out.error)

"""The neurons' rows of the benchmark: LIF forward, LIF and PLIF forward+backward, fused against the loop.

``neuron_cases()`` returns :class:`~spikestep.bench.cases.Case` objects for :func:`spikestep.bench.run`
(add them to ``default_cases()`` to get them into ``python -m spikestep.bench``). Until then this module
runs them on its own::

    python -m spikestep.bench.neuron_cases --T 64 --N 100000

The fused row is the module in multi-step mode (one fused walk: numba when usable, the torch walk in the
``torch`` column); the loop is the same module in single-step mode, stacked, autograd recording each step.

Example::

    >>> import torch
    >>> from spikestep.bench.neuron_cases import neuron_cases
    >>> [case.name for case in neuron_cases()]
    ['LIF fwd', 'LIF fwd+bwd', 'PLIF fwd+bwd']
    >>> step = neuron_cases()[1].fused(4, 10, torch.float32)  # one fused forward+backward, T=4, N=10
    >>> step()
"""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Callable

import torch
import torch.nn as nn

from .. import neuron
from .cases import Case, module_case
from .runner import format_table, run

TAU = 2.0


def _spikingjelly_neuron(name: str, **kwargs: object) -> Callable[[], nn.Module] | None:
    """A factory for ``spikingjelly.activation_based.neuron.<name>`` in multi-step mode, or ``None`` when
    SpikingJelly is not installed (it is never required)."""
    try:
        sj_neuron = importlib.import_module("spikingjelly.activation_based.neuron")
    except Exception:
        return None
    cls = getattr(sj_neuron, name, None)
    return None if cls is None else (lambda: cls(step_mode="m", **kwargs))


def neuron_cases() -> list[Case]:
    """LIF (tau=2, hard reset, ATan) forward and forward+backward; PLIF forward+backward (gradient of w)."""
    return [
        module_case(
            "LIF fwd",
            lambda: neuron.LIFNode(tau=TAU, step_mode="m"),
            lambda: neuron.LIFNode(tau=TAU, step_mode="s"),
            _spikingjelly_neuron("LIFNode", tau=TAU),
        ),
        module_case(
            "LIF fwd+bwd",
            lambda: neuron.LIFNode(tau=TAU, step_mode="m"),
            lambda: neuron.LIFNode(tau=TAU, step_mode="s"),
            _spikingjelly_neuron("LIFNode", tau=TAU),
            backward=True,
        ),
        module_case(
            "PLIF fwd+bwd",
            lambda: neuron.ParametricLIFNode(init_tau=TAU, step_mode="m"),
            lambda: neuron.ParametricLIFNode(init_tau=TAU, step_mode="s"),
            _spikingjelly_neuron("ParametricLIFNode", init_tau=TAU),
            backward=True,
        ),
    ]


def main(argv: list[str] | None = None) -> int:
    """Print the neuron rows for the sizes given (default T=64, N=1e5)."""
    parser = argparse.ArgumentParser(prog="python -m spikestep.bench.neuron_cases")
    parser.add_argument("--T", type=int, nargs="+", default=[64])
    parser.add_argument("--N", type=int, nargs="+", default=[100_000])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--loop-repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's)")
    args = parser.parse_args(argv)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    print(f"spikestep neuron benchmark: float32, CPU, {torch.get_num_threads()} threads", flush=True)
    sizes = [(t, n) for n in args.N for t in args.T]
    rows = run(neuron_cases(), sizes, repeats=args.repeats, loop_repeats=args.loop_repeats)
    print(format_table(rows), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""The neurons' rows of the benchmark: LIF forward, LIF and PLIF forward+backward, fused against the loop.

The rows are :func:`spikestep.bench.cases.neuron_cases` (part of ``default_cases()``, so of
``python -m spikestep.bench``); this module runs them on their own::

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

import torch

from .cases import neuron_cases
from .runner import format_table, run


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

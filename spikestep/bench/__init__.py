"""The benchmark: fused multi-step paths against the per-step loop and a memory-copy floor.

Run it with ``python -m spikestep.bench`` (``--help`` for options, ``--json PATH`` to save the rows).
From Python, :func:`run` times a list of :class:`Case` objects over ``(T, N)`` sizes and
:func:`format_table` prints the rows; :func:`main` is the command line (``spikestep bench`` calls it).
To add a case, see :mod:`spikestep.bench.cases`.

Example (``spikingjelly=False``: SpikingJelly's column, ``spikingjelly_ms``, is timed only where it is
installed, so the example leaves it out to print the same everywhere)::

    >>> from spikestep import bench
    >>> rows = bench.run(bench.default_cases()[:1], [(4, 10)], repeats=1, loop_repeats=1, spikingjelly=False)
    >>> sorted(k for k, v in rows[0].items() if k.endswith("_ms") and v is not None)
    ['floor_ms', 'fused_ms', 'loop_ms', 'torch_ms']
    >>> rows[0]["spikingjelly_ms"] is None  # a column not timed is None
    True
"""

from .cases import Case, default_cases, module_case
from .cli import main
from .runner import format_table, median_ms, run

__all__ = ["Case", "default_cases", "format_table", "main", "median_ms", "module_case", "run"]

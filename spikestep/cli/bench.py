"""``spikestep bench``: the benchmark table (forwards to :func:`spikestep.bench.main`)."""

from __future__ import annotations


def run(argv: list[str]) -> int:
    """Run the benchmark command line with ``argv`` (everything after ``bench``)."""
    from ..bench import main as bench_main

    return bench_main(argv)

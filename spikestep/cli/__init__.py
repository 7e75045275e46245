"""The ``spikestep`` command: ``train``, ``demo`` and ``bench`` subcommands.

``spikestep train`` trains a spiking classifier on an offline data set (digits or MNIST-1D), ``spikestep demo``
draws the specification's pictures, ``spikestep bench`` prints the benchmark table. ``python -m spikestep``
is the same command. Plotting and data packages come from the ``train`` extra and are imported only when
a subcommand needs them.
"""

from __future__ import annotations

import argparse
import sys

from ..data._optional import MissingExtraError
from . import bench, demo, train
from ._common import CLIError


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="spikestep",
        description="spikestep: spiking neural networks in PyTorch. Train a spiking classifier, draw the "
        "demo pictures, or time the fused kernels.",
    )
    sub = parser.add_subparsers(dest="command", metavar="{train,demo,bench}")
    train.add_parser(sub)
    demo.add_parser(sub)
    # Listed for --help only: 'bench' hands everything after it to spikestep.bench.main.
    sub.add_parser("bench", help="print the benchmark table (see 'spikestep bench --help')", add_help=False)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the ``spikestep`` command with ``argv`` (default ``sys.argv[1:]``); return the exit status.

    Example::

        >>> from spikestep.cli import main
        >>> main(["demo", "--help"])  # doctest: +ELLIPSIS
        usage: spikestep demo ...
        ...
        0
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        if argv[:1] == ["bench"]:
            return bench.run(argv[1:])
        parser = _parser()
        args = parser.parse_args(argv)
        if args.command is None:
            parser.print_help()
            return 2
        return args.run(args)
    except SystemExit as exc:  # argparse's --help (0) and usage errors (2)
        if exc.code is None or isinstance(exc.code, int):
            return exc.code or 0
        print(f"spikestep: error: {exc.code}", file=sys.stderr)
        return 1
    except CLIError as exc:
        print(f"spikestep: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except MissingExtraError as exc:
        print(f"spikestep: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("spikestep: interrupted", file=sys.stderr)
        return 130

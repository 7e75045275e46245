"""What the subcommands share: a clean error type, an output folder check, matplotlib, progress."""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

from ..data._optional import import_optional


class CLIError(Exception):
    """A user error: ``main`` prints the message (no traceback) and exits with ``exit_code``."""

    def __init__(self, message: str, exit_code: int = 2) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def _whole_number(text: str, wanted: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number {wanted}, got {text!r}") from None


def _real_number(text: str, wanted: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number {wanted}, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number {wanted}, got {text!r}")
    return value


def non_negative_int(text: str) -> int:
    """argparse type: an int ``>= 0``.

    Example::

        >>> non_negative_int("0")
        0
    """
    value = _whole_number(text, ">= 0")
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be a whole number >= 0, got {value}")
    return value


def positive_int(text: str) -> int:
    """argparse type: an int ``>= 1``.

    Example::

        >>> positive_int("3")
        3
        >>> positive_int("0")
        Traceback (most recent call last):
        ...
        argparse.ArgumentTypeError: must be a whole number >= 1, got 0
    """
    value = _whole_number(text, ">= 1")
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number >= 1, got {value}")
    return value


MAX_SEED = 2**63 - 1  # torch seeds take up to 2**64 - 1; the command also uses seed + 1


def seed(text: str) -> int:
    """argparse type: a random seed, an int in ``[0, 2**63 - 1]``."""
    value = _whole_number(text, f"in [0, {MAX_SEED}]")
    if not 0 <= value <= MAX_SEED:
        raise argparse.ArgumentTypeError(f"must be a whole number in [0, 2**63 - 1], got {value}")
    return value


def positive_float(text: str) -> float:
    """argparse type: a finite float ``> 0`` (``inf`` and ``nan`` are refused).

    Example::

        >>> positive_float("3e-3")
        0.003
        >>> positive_float("inf")
        Traceback (most recent call last):
        ...
        argparse.ArgumentTypeError: must be a finite number > 0, got 'inf'
    """
    value = _real_number(text, "> 0")
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be a finite number > 0, got {text!r}")
    return value


def time_constant(text: str) -> float:
    """argparse type: a time constant in steps, a finite float ``> 1`` (as the neurons and synapses check).

    Example::

        >>> time_constant("2")
        2.0
    """
    value = _real_number(text, "> 1 (time steps)")
    if not value > 1:
        raise argparse.ArgumentTypeError(
            f"must be a finite number > 1 (time steps), got {text!r}: the state keeps a fraction 1 - 1/tau "
            f"of itself per step"
        )
    return value


def probability(text: str) -> float:
    """argparse type: a float in ``[0, 1)``."""
    value = _real_number(text, "in [0, 1)")
    if not 0.0 <= value < 1.0:
        raise argparse.ArgumentTypeError(f"must be a number in [0, 1), got {text!r}")
    return value


def writable_dir(path: str | Path, option: str = "--out") -> Path:
    """Create ``path`` if needed and check that a file can be written in it; raise :class:`CLIError` if not."""
    out = Path(path)
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=out):
            pass
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise CLIError(f"cannot write to {option} {str(out)!r}: {reason}; pick another folder") from None
    return out


def pyplot(feature: str) -> ModuleType:
    """``matplotlib.pyplot`` on the Agg backend (files only, no window), or a :class:`MissingExtraError`."""
    matplotlib = import_optional("matplotlib", feature)
    matplotlib.use("Agg")
    return import_optional("matplotlib.pyplot", feature)


def progress(iterable: Iterable[Any], total: int, desc: str, enabled: bool) -> Iterator[Any]:
    """A tqdm bar over ``iterable`` when tqdm is installed, ``enabled`` and stdout is a terminal.

    Returns the bar (which has ``set_postfix``) or a plain iterator otherwise.
    """
    if enabled and sys.stdout.isatty():
        try:
            from tqdm.auto import tqdm
        except ImportError:
            pass
        else:
            return tqdm(iterable, total=total, desc=desc, leave=False, dynamic_ncols=True)
    return iter(iterable)

"""What the subcommands share: a clean error type, an output folder check, matplotlib, progress."""

from __future__ import annotations

import argparse
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


def non_negative_int(text: str) -> int:
    """argparse type: an int ``>= 0``."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 0, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {value}")
    return value


def positive_int(text: str) -> int:
    """argparse type: an int ``>= 1``."""
    value = non_negative_int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def positive_float(text: str) -> float:
    """argparse type: a float ``> 0``."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
    return value


def probability(text: str) -> float:
    """argparse type: a float in ``[0, 1)``."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1), got {text!r}") from None
    if not 0.0 <= value < 1.0:
        raise argparse.ArgumentTypeError(f"must be in [0, 1), got {text}")
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

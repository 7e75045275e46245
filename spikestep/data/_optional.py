"""Optional extras: import them when a feature needs them, and say how to install them when missing."""

from __future__ import annotations

import importlib
from types import ModuleType

# The pip name of each optional module, all in spikestep's ``train`` extra.
_PIP_NAMES = {"sklearn": "scikit-learn", "matplotlib": "matplotlib", "mnist1d": "mnist1d", "tqdm": "tqdm"}


class MissingExtraError(ImportError):
    """An optional package that a feature needs is not installed; the message says what to install."""


def import_optional(module: str, feature: str) -> ModuleType:
    """Import ``module`` or raise :class:`MissingExtraError` naming the extra that brings it.

    Example::

        >>> from spikestep.data._optional import import_optional
        >>> import_optional("math", "the doctest").__name__
        'math'
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        top = module.split(".")[0]
        pip_name = _PIP_NAMES.get(top, top)
        raise MissingExtraError(
            f"{feature} needs the optional package '{pip_name}', which is not installed. Install the "
            f"training extras with: pip install 'spikestep[train]' (or just: pip install {pip_name})"
        ) from exc

"""Data sets for the ``spikestep train`` command, loaded or generated offline.

The loaders need the ``train`` extra (scikit-learn, mnist1d); it is imported only when a loader runs, so
``import spikestep`` does not need it. A missing package raises :class:`MissingExtraError`, which says
what to install.
"""

from ._optional import MissingExtraError
from ._split import DataSplit
from .digits import load_digits
from .mnist1d import load_mnist1d

DATASETS = {"digits": load_digits, "mnist1d": load_mnist1d}

__all__ = ["DATASETS", "DataSplit", "MissingExtraError", "load_digits", "load_mnist1d"]

"""MNIST-1D: the ten digits drawn as 1-D signals of 40 samples, generated locally."""

from __future__ import annotations

import numbers
import random

import torch

from ._optional import import_optional
from ._split import DataSplit


def load_mnist1d(num_samples: int = 5000) -> DataSplit:
    """Generate MNIST-1D with the ``mnist1d`` package's default arguments and split it 80/20.

    Each sample is a sequence of 40 values (a digit template, padded, scaled, sheared, shifted by up to 48
    positions and given correlated noise); the label is the digit. With the default 5,000 samples the
    split is the standard one: 4,000 training and 1,000 test sequences.

    The data is made by ``mnist1d.data.make_dataset`` from ``get_dataset_args()`` (seed 42), never by
    ``get_dataset``, which downloads a pickle: nothing here touches the network or writes a file. The
    generator reseeds numpy's and ``random``'s global generators; they are put back as they were.

    Args:
        num_samples: how many sequences to generate (a multiple of 10 keeps the classes balanced); smaller
            values give a quick, smaller data set with the same recipe.

    Returns a :class:`DataSplit` with ``x`` ``[N, 40]`` (float32, time last) and ``y`` ``[N]``.

    Example::

        >>> from spikestep.data import load_mnist1d
        >>> data = load_mnist1d(num_samples=100)
        >>> data.x_train.shape, data.x_test.shape
        (torch.Size([80, 40]), torch.Size([20, 40]))
    """
    if isinstance(num_samples, bool) or not isinstance(num_samples, numbers.Integral):
        raise TypeError(f"num_samples must be an int >= 10, got {type(num_samples).__name__}")
    if num_samples < 10:
        raise ValueError(f"num_samples must be >= 10 (at least one sequence per digit), got {num_samples}")
    data_module = import_optional("mnist1d.data", "the MNIST-1D data set")
    np = import_optional("numpy", "the MNIST-1D data set")
    args = data_module.get_dataset_args()
    args.num_samples = int(num_samples)
    np_state, py_state = np.random.get_state(), random.getstate()
    try:
        raw = data_module.make_dataset(args)
    finally:
        np.random.set_state(np_state)
        random.setstate(py_state)
    return DataSplit(
        "mnist1d",
        torch.as_tensor(raw["x"], dtype=torch.float32),
        torch.as_tensor(raw["y"], dtype=torch.int64),
        torch.as_tensor(raw["x_test"], dtype=torch.float32),
        torch.as_tensor(raw["y_test"], dtype=torch.int64),
        num_classes=10,
    )

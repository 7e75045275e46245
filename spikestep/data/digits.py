"""The handwritten digits that ship inside scikit-learn: 1,797 grey 8x8 images of the digits 0-9."""

from __future__ import annotations

import numbers

import torch

from ._optional import import_optional
from ._split import DataSplit


def load_digits(test_fraction: float = 0.2, split_seed: int = 0) -> DataSplit:
    """Load scikit-learn's digits as 64 pixel intensities in ``[0, 1]``, split into train and test.

    The split is stratified (each digit keeps its share in both parts) and depends only on
    ``split_seed``, so runs that differ in their training seed are scored on the same test images.
    Nothing is downloaded: the images are part of the scikit-learn package (``train`` extra).

    Returns a :class:`DataSplit` with ``x`` ``[N, 64]`` (float32, row-major pixels) and ``y`` ``[N]``.
    With the defaults: 1,437 training and 360 test images.

    Example::

        >>> from spikestep.data import load_digits
        >>> data = load_digits()
        >>> data.x_train.shape, data.x_test.shape, data.num_classes
        (torch.Size([1437, 64]), torch.Size([360, 64]), 10)
    """
    if isinstance(test_fraction, bool) or not isinstance(test_fraction, numbers.Real):
        raise TypeError(f"test_fraction must be a float in (0, 1), got {type(test_fraction).__name__}")
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(
            f"test_fraction must be in (0, 1) (the share of images held out), got {test_fraction}"
        )
    datasets = import_optional("sklearn.datasets", "the digits data set")
    model_selection = import_optional("sklearn.model_selection", "the digits data set")
    bunch = datasets.load_digits()
    x = torch.as_tensor(bunch.data, dtype=torch.float32) / 16.0  # pixel counts 0..16 -> [0, 1]
    y = torch.as_tensor(bunch.target, dtype=torch.int64)
    index = torch.arange(len(y)).numpy()
    train_ix, test_ix = model_selection.train_test_split(
        index, test_size=test_fraction, random_state=split_seed, stratify=bunch.target
    )
    train_ix, test_ix = torch.as_tensor(train_ix), torch.as_tensor(test_ix)
    return DataSplit("digits", x[train_ix], y[train_ix], x[test_ix], y[test_ix], num_classes=10)

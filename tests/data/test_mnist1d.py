import random
import socket

import numpy as np
import pytest
import torch

from spikestep.data import MissingExtraError, load_digits, load_mnist1d


def test_mnist1d_small_split_has_sequences_of_40_and_ten_classes():
    data = load_mnist1d(num_samples=200)
    assert data.x_train.shape == (160, 40) and data.x_test.shape == (40, 40)
    assert data.x_train.dtype == torch.float32 and data.y_train.dtype == torch.int64
    assert set(data.y_train.tolist()) == set(range(10)) and data.num_classes == 10


def test_mnist1d_is_generated_without_the_network(monkeypatch):
    def no_network(*args, **kwargs):
        raise AssertionError("load_mnist1d opened a socket")

    monkeypatch.setattr(socket, "socket", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    assert load_mnist1d(num_samples=20).x_train.shape == (16, 40)


def test_mnist1d_is_the_same_every_time_and_leaves_global_generators_alone():
    np.random.seed(123)
    random.seed(123)
    expected_np, expected_py = np.random.rand(), random.random()
    np.random.seed(123)
    random.seed(123)
    a = load_mnist1d(num_samples=30)
    assert (np.random.rand(), random.random()) == (expected_np, expected_py)
    assert torch.equal(a.x_train, load_mnist1d(num_samples=30).x_train)


def test_mnist1d_rejects_fewer_than_ten_samples():
    with pytest.raises(ValueError, match="num_samples"):
        load_mnist1d(num_samples=5)


def test_missing_extra_names_the_extra_to_install(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)  # makes the import fail
    with pytest.raises(MissingExtraError, match=r"spikestep\[train\]"):
        load_digits()

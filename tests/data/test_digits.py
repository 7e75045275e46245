import pytest
import torch

from spikestep.data import DataSplit, load_digits


def test_digits_split_has_the_standard_sizes_and_pixels_in_unit_range():
    data = load_digits()
    assert isinstance(data, DataSplit)
    assert data.x_train.shape == (1437, 64) and data.x_test.shape == (360, 64)
    assert data.x_train.dtype == torch.float32 and data.y_train.dtype == torch.int64
    assert 0.0 <= float(data.x_train.min()) <= float(data.x_train.max()) <= 1.0
    assert data.num_classes == 10 and data.sample_shape == (64,)


def test_digits_split_is_stratified_and_disjoint():
    data = load_digits()
    counts = torch.bincount(data.y_test, minlength=10)
    assert int(counts.min()) >= 35 and int(counts.max()) <= 37  # 360 images, ~36 per digit
    train_rows = {tuple(row.tolist()) for row in data.x_train}
    shared = sum(tuple(row.tolist()) in train_rows for row in data.x_test)
    assert shared < 5  # a handful of identical images exist in the data itself, not a leaked split


def test_digits_split_depends_only_on_split_seed():
    a, b, c = load_digits(split_seed=0), load_digits(split_seed=0), load_digits(split_seed=1)
    assert torch.equal(a.y_test, b.y_test) and torch.equal(a.x_test, b.x_test)
    assert not torch.equal(a.x_test, c.x_test)


@pytest.mark.parametrize("bad", [0.0, 1.0, -0.1])
def test_digits_rejects_test_fraction_outside_open_unit_interval(bad):
    with pytest.raises(ValueError, match="test_fraction"):
        load_digits(test_fraction=bad)


def test_split_rejects_mismatched_samples_and_labels():
    with pytest.raises(ValueError, match="labels"):
        DataSplit("x", torch.zeros(3, 2), torch.zeros(2), torch.zeros(1, 2), torch.zeros(1), 2)

import pytest
import torch

from spikestep import layer


def reference_votes(x, v):
    """Mean of each run of v values on the last dimension, with plain loops."""
    flat = x.reshape(-1, x.shape[-1]).tolist()
    out = [[sum(row[c * v : (c + 1) * v]) / v for c in range(len(row) // v)] for row in flat]
    return torch.tensor(out, dtype=x.dtype).reshape(*x.shape[:-1], x.shape[-1] // v)


@pytest.mark.parametrize("v", [1, 2, 5, 10])
def test_voting_averages_each_run_of_voting_size(v):
    x = torch.rand(3, 4 * v, dtype=torch.float64)
    torch.testing.assert_close(layer.VotingLayer(v)(x), reference_votes(x, v))


def test_multi_step_votes_per_time_step():
    x = torch.rand(6, 3, 20)
    y = layer.VotingLayer(5, step_mode="m")(x)
    assert y.shape == (6, 3, 4)
    torch.testing.assert_close(y, torch.stack([layer.VotingLayer(5)(xt) for xt in x]))


def test_default_voting_size_is_ten():
    assert layer.VotingLayer().voting_size == 10
    assert "voting_size=10" in repr(layer.VotingLayer())


def test_last_dim_not_a_multiple_of_voting_size_names_both_numbers():
    with pytest.raises(ValueError, match=r"last dimension \(23\).*voting_size \(10\)"):
        layer.VotingLayer(10)(torch.rand(2, 23))


@pytest.mark.parametrize("bad", [0, -3])
def test_non_positive_voting_size_is_a_value_error(bad):
    with pytest.raises(ValueError, match="positive int"):
        layer.VotingLayer(bad)


@pytest.mark.parametrize("bad", [2.0, "10", True])
def test_non_int_voting_size_is_a_type_error(bad):
    with pytest.raises(TypeError, match="voting_size must be a positive int"):
        layer.VotingLayer(bad)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32, torch.float64])
def test_voting_keeps_the_dtype(dtype):
    assert layer.VotingLayer(2)(torch.rand(3, 4).to(dtype)).dtype == dtype


def test_voting_passes_gradients_evenly():
    x = torch.rand(2, 6, requires_grad=True)
    layer.VotingLayer(3)(x).sum().backward()
    torch.testing.assert_close(x.grad, torch.full((2, 6), 1 / 3))


@pytest.mark.parametrize("dtype", [torch.bool, torch.uint8, torch.int32, torch.int64], ids=str)
@pytest.mark.parametrize("step_mode", ["s", "m"])
def test_bool_and_integer_votes_are_averaged_in_the_default_float_dtype(dtype, step_mode):
    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, 2 if dtype == torch.bool else 5, (3, 2, 6), generator=g).to(dtype)
    y = layer.VotingLayer(3, step_mode=step_mode)(x if step_mode == "m" else x[0])
    assert y.dtype == torch.float32
    assert torch.equal(y, reference_votes(x.float() if step_mode == "m" else x[0].float(), 3))


@pytest.mark.parametrize("bad", [[1.0, 0.0], 1.0, None], ids=["list", "float", "None"])
def test_a_non_tensor_input_is_a_type_error_naming_the_layer(bad):
    with pytest.raises(TypeError, match=r"VotingLayer expects a torch\.Tensor"):
        layer.VotingLayer(2)(bad)


@pytest.mark.parametrize(
    ("bad", "error"), [(0, ValueError), (-2, ValueError), (2.0, TypeError), (True, TypeError)]
)
def test_voting_size_assignment_is_checked_like_the_constructor(bad, error):
    voting = layer.VotingLayer(2)
    with pytest.raises(error, match="voting_size must be a positive int"):
        voting.voting_size = bad
    assert voting.voting_size == 2
    voting.voting_size = 3
    assert voting(torch.ones(1, 6)).shape == (1, 2)

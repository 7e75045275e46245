import pytest
import torch
import torch.nn as nn

from spikestep import functional, layer
from spikestep.base import StepModule

T, B = 3, 2

# (factory, the torch class it extends, shape of one step [B, ...])
CASES = {
    "Linear": (lambda: layer.Linear(4, 3), nn.Linear, (B, 4)),
    "Linear_extra_dims": (lambda: layer.Linear(4, 3), nn.Linear, (B, 5, 4)),
    "Conv1d": (lambda: layer.Conv1d(2, 3, 3, padding=1), nn.Conv1d, (B, 2, 7)),
    "Conv2d": (lambda: layer.Conv2d(2, 3, 3, stride=2), nn.Conv2d, (B, 2, 7, 7)),
    "BatchNorm1d": (lambda: layer.BatchNorm1d(3), nn.BatchNorm1d, (B, 3)),
    "BatchNorm1d_length": (lambda: layer.BatchNorm1d(3), nn.BatchNorm1d, (B, 3, 5)),
    "BatchNorm2d": (lambda: layer.BatchNorm2d(3), nn.BatchNorm2d, (B, 3, 4, 4)),
    "MaxPool1d": (lambda: layer.MaxPool1d(2), nn.MaxPool1d, (B, 3, 8)),
    "MaxPool2d": (lambda: layer.MaxPool2d(2), nn.MaxPool2d, (B, 3, 6, 6)),
    "AvgPool1d": (lambda: layer.AvgPool1d(2), nn.AvgPool1d, (B, 3, 8)),
    "AvgPool2d": (lambda: layer.AvgPool2d(3, stride=1), nn.AvgPool2d, (B, 3, 6, 6)),
    "AdaptiveAvgPool1d": (lambda: layer.AdaptiveAvgPool1d(2), nn.AdaptiveAvgPool1d, (B, 3, 8)),
    "AdaptiveAvgPool2d": (lambda: layer.AdaptiveAvgPool2d(1), nn.AdaptiveAvgPool2d, (B, 3, 6, 6)),
    "Flatten": (lambda: layer.Flatten(), nn.Flatten, (B, 3, 2, 2)),
}


def _randomised(module):
    # BatchNorm's running stats start at (0, 1); give them values that make eval mode a real test.
    torch.manual_seed(0)
    if isinstance(module, nn.modules.batchnorm._BatchNorm):
        module.running_mean.uniform_(-1, 1)
        module.running_var.uniform_(0.5, 2)
        module.weight.data.uniform_(0.5, 2)
        module.bias.data.uniform_(-1, 1)
    return module


@pytest.mark.parametrize("name", CASES)
def test_multi_step_equals_the_layer_applied_to_each_step(name):
    factory, _, step_shape = CASES[name]
    m = _randomised(factory()).eval()
    x_seq = torch.rand(T, *step_shape)
    expected = torch.stack([m(x) for x in x_seq])
    m.step_mode = "m"
    torch.testing.assert_close(m(x_seq), expected)


@pytest.mark.parametrize("name", CASES)
def test_single_step_mode_is_the_torch_layer(name):
    factory, torch_cls, step_shape = CASES[name]
    m = _randomised(factory()).eval()
    assert isinstance(m, torch_cls) and isinstance(m, StepModule)
    x = torch.rand(*step_shape)
    torch.testing.assert_close(m(x), torch_cls.forward(m, x))


# A step [B, 5, 4] of Linear, [B, C, L] of BatchNorm1d, or any step of Flatten has as many dims as a valid
# sequence ([T, B, in], [T, B, C], [T, B, ...]): those cannot tell a missing time dimension, the others can.
AMBIGUOUS = ("Linear_extra_dims", "BatchNorm1d_length", "Flatten")


@pytest.mark.parametrize("name", [n for n in CASES if n not in AMBIGUOUS])
def test_multi_step_mode_rejects_a_single_step_input(name):
    factory, _, step_shape = CASES[name]
    m = factory()
    m.step_mode = "m"
    with pytest.raises(ValueError, match=r"multi-step mode expects \[T, B.*step_mode='s'"):
        m(torch.rand(*step_shape))


def test_flatten_in_multi_step_mode_rejects_an_input_without_time_and_batch():
    with pytest.raises(ValueError, match=r"expects \[T, B, \.\.\.\] \(at least 2-d"):
        layer.Flatten(step_mode="m")(torch.rand(5))


def test_conv2d_given_a_4d_input_in_multi_step_mode_says_it_wants_5d():
    conv = layer.Conv2d(1, 2, 3, step_mode="m")
    with pytest.raises(
        ValueError, match=r"expects \[T, B, C, H, W\] \(5-d, time first\), got shape \(2, 1, 6, 6\)"
    ):
        conv(torch.rand(2, 1, 6, 6))


def test_multi_step_gradients_match_per_step_gradients():
    torch.manual_seed(0)
    conv = layer.Conv1d(2, 3, 3)
    x_seq = torch.rand(T, B, 2, 6, requires_grad=True)
    torch.stack([conv(x) for x in x_seq]).square().sum().backward()
    grad_per_step, wgrad_per_step = x_seq.grad.clone(), conv.weight.grad.clone()
    x_seq.grad, conv.weight.grad = None, None
    conv.step_mode = "m"
    conv(x_seq).square().sum().backward()
    torch.testing.assert_close(x_seq.grad, grad_per_step)
    torch.testing.assert_close(conv.weight.grad, wgrad_per_step)


def test_batch_norm_in_multi_step_training_normalises_over_time_and_batch():
    bn = layer.BatchNorm2d(3, step_mode="m")
    ref = nn.BatchNorm2d(3)
    x_seq = torch.rand(T, B, 3, 4, 4) * 5 + 2
    torch.testing.assert_close(bn(x_seq), ref(x_seq.flatten(0, 1)).unflatten(0, (T, B)))
    torch.testing.assert_close(bn.running_mean, ref.running_mean)
    torch.testing.assert_close(bn.running_var, ref.running_var)


def test_state_dict_keys_are_the_torch_layers_so_weights_load_both_ways():
    ours, theirs = layer.Conv2d(2, 3, 3), nn.Conv2d(2, 3, 3)
    ours.load_state_dict(theirs.state_dict())
    assert ours.state_dict().keys() == theirs.state_dict().keys()
    torch.testing.assert_close(ours.weight, theirs.weight)


def test_set_step_mode_switches_a_network_of_stateless_layers():
    torch.manual_seed(0)
    net = nn.Sequential(
        layer.Conv2d(1, 4, 3, padding=1),
        layer.BatchNorm2d(4),
        layer.MaxPool2d(2),
        layer.Flatten(),
        layer.Linear(4 * 3 * 3, 5),
    ).eval()
    x_seq = torch.rand(T, B, 1, 6, 6)
    expected = torch.stack([net(x) for x in x_seq])
    functional.set_step_mode(net, "m")
    y = net(x_seq)
    assert y.shape == (T, B, 5)
    torch.testing.assert_close(y, expected)


@pytest.mark.parametrize(
    ("start_dim", "end_dim", "expected"),
    [
        (1, -1, (T, B, 60)),
        (0, -1, (T, B * 60)),
        (2, 3, (T, B, 3, 20)),
        (-2, -1, (T, B, 3, 20)),
        (1, 2, (T, B, 12, 5)),
    ],
)
def test_flatten_in_multi_step_mode_flattens_each_step_as_single_step_mode_would(
    start_dim, end_dim, expected
):
    x_seq = torch.rand(T, B, 3, 4, 5)
    flat = layer.Flatten(start_dim, end_dim, step_mode="m")
    y = flat(x_seq)
    assert y.shape == expected
    torch.testing.assert_close(y, torch.stack([x.flatten(start_dim, end_dim) for x in x_seq]))


def test_flatten_default_turns_t_b_c_h_w_into_t_b_features():
    assert layer.Flatten(step_mode="m")(torch.rand(4, 2, 3, 5, 5)).shape == (4, 2, 75)
    assert layer.Flatten()(torch.rand(2, 3, 5, 5)).shape == (2, 75)


def test_max_pool_with_indices_is_rejected_in_multi_step_mode_only():
    pool = layer.MaxPool2d(2, return_indices=True)
    out, idx = pool(torch.rand(B, 1, 4, 4))
    assert out.shape == idx.shape == (B, 1, 2, 2)
    pool.step_mode = "m"
    with pytest.raises(ValueError, match="return_indices=True is only supported in single-step mode"):
        pool(torch.rand(T, B, 1, 4, 4))


def test_invalid_step_mode_is_rejected():
    with pytest.raises(ValueError, match="step_mode must be one of"):
        layer.Linear(2, 2, step_mode="multi")


def test_repr_shows_the_step_mode():
    assert "step_mode=m" in repr(layer.Conv2d(1, 2, 3, step_mode="m"))
    assert repr(layer.AdaptiveAvgPool2d(1)) == "AdaptiveAvgPool2d(output_size=1, step_mode=s)"


SPIKE_DTYPES = [torch.bool, torch.uint8, torch.int32, torch.int64]
FLOAT_DTYPES = [torch.float16, torch.bfloat16, torch.float32, torch.float64]


def _values(dtype, shape):
    g = torch.Generator().manual_seed(0)
    low, high = {torch.bool: (0, 2), torch.uint8: (0, 4)}.get(dtype, (-2, 4))
    return torch.randint(low, high, shape, generator=g).to(dtype)


@pytest.mark.parametrize("name", CASES)
@pytest.mark.parametrize("dtype", SPIKE_DTYPES, ids=str)
@pytest.mark.parametrize("step_mode", ["s", "m"])
def test_bool_and_integer_spikes_give_exactly_what_the_same_values_as_floats_give(name, dtype, step_mode):
    factory, _, step_shape = CASES[name]
    m = _randomised(factory()).eval()
    m.step_mode = step_mode
    x = _values(dtype, (T, *step_shape) if step_mode == "m" else step_shape)
    y = m(x)
    assert y.dtype == torch.float32
    assert torch.equal(y, m(x.float()))


@pytest.mark.parametrize("name", CASES)
@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=str)
@pytest.mark.parametrize("step_mode", ["s", "m"])
def test_floating_spikes_are_computed_and_returned_in_their_own_dtype(name, dtype, step_mode):
    factory, _, step_shape = CASES[name]
    m = _randomised(factory()).eval().to(dtype)  # a layer with parameters computes in theirs: match them
    m.step_mode = step_mode
    x = _values(torch.uint8, (T, *step_shape) if step_mode == "m" else step_shape).to(dtype)
    assert m(x).dtype == dtype


@pytest.mark.parametrize("name", CASES)
@pytest.mark.parametrize("step_mode", ["s", "m"])
def test_a_non_tensor_input_is_a_type_error_naming_the_layer(name, step_mode):
    factory, _, _ = CASES[name]
    m = factory()
    m.step_mode = step_mode
    with pytest.raises(TypeError, match=f"{type(m).__name__} expects a torch.Tensor"):
        m([[1.0, 0.0]])

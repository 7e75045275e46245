import pytest
import torch

from spikestep import functional, layer


def test_multi_step_mode_uses_one_mask_for_all_time_steps():
    torch.manual_seed(0)
    drop = layer.Dropout(0.5, step_mode="m")
    y = drop(torch.ones(6, 4, 50))
    assert (y == y[0]).all()
    assert set(y.unique().tolist()) == {0.0, 2.0}


def test_kept_elements_are_scaled_by_one_over_one_minus_p():
    torch.manual_seed(0)
    x_seq = torch.rand(3, 2, 40)
    y = layer.Dropout(0.2, step_mode="m")(x_seq)
    kept = y != 0
    torch.testing.assert_close(y[kept], x_seq[kept] / 0.8)


def test_single_steps_equal_one_multi_step_call_under_the_same_mask():
    torch.manual_seed(0)
    x_seq = torch.rand(5, 3, 8)
    drop = layer.Dropout(0.5, step_mode="m")
    y_multi = drop(x_seq)
    drop.step_mode = "s"  # the mask is kept until reset
    torch.testing.assert_close(torch.stack([drop(x) for x in x_seq]), y_multi)


def test_single_step_mode_draws_the_mask_on_the_first_step_and_keeps_it():
    torch.manual_seed(0)
    drop = layer.Dropout(0.5)
    first = drop(torch.ones(4, 30))
    for _ in range(3):
        torch.testing.assert_close(drop(torch.ones(4, 30)), first)


def test_a_fresh_sequence_from_the_same_seed_gives_the_same_mask_in_both_modes():
    x_seq = torch.rand(4, 2, 10)
    torch.manual_seed(1)
    y_multi = layer.Dropout(0.3, step_mode="m")(x_seq)
    torch.manual_seed(1)
    drop = layer.Dropout(0.3)
    torch.testing.assert_close(torch.stack([drop(x) for x in x_seq]), y_multi)


def test_a_sequence_fed_in_chunks_equals_the_sequence_fed_whole():
    torch.manual_seed(0)
    x_seq = torch.rand(6, 2, 10)
    drop = layer.Dropout(0.5, step_mode="m")
    whole = drop(x_seq)
    torch.testing.assert_close(torch.cat([drop(x_seq[:2]), drop(x_seq[2:])]), whole)


def test_reset_draws_a_new_mask():
    torch.manual_seed(0)
    drop = layer.Dropout(0.5)
    before = drop(torch.ones(1, 200))
    functional.reset_net(drop)
    assert drop.mask is None
    after = drop(torch.ones(1, 200))
    assert not torch.equal(before, after)


def test_eval_mode_is_the_identity_and_draws_no_mask():
    drop = layer.Dropout(0.5, step_mode="m").eval()
    x_seq = torch.rand(3, 2, 5)
    assert drop(x_seq) is x_seq
    drop.step_mode = "s"
    x = x_seq[0]
    assert drop(x) is x
    assert drop.mask is None


def test_the_dropped_fraction_is_close_to_p_and_the_mean_is_kept():
    torch.manual_seed(0)
    y = layer.Dropout(0.3)(torch.ones(200, 500))
    assert abs((y == 0).float().mean().item() - 0.3) < 0.01
    assert abs(y.mean().item() - 1.0) < 0.02


def test_gradient_is_the_mask():
    torch.manual_seed(0)
    drop = layer.Dropout(0.5, step_mode="m")
    x_seq = torch.rand(3, 2, 6, requires_grad=True)
    drop(x_seq).sum().backward()
    torch.testing.assert_close(x_seq.grad, drop.mask.expand(3, 2, 6))


def test_p_zero_is_the_identity_in_training():
    x = torch.rand(2, 5)
    assert torch.equal(layer.Dropout(0.0)(x), x)


def test_an_input_of_a_new_shape_without_reset_asks_for_reset_net():
    drop = layer.Dropout(0.5)
    drop(torch.ones(2, 5))
    with pytest.raises(ValueError, match="reset_net"):
        drop(torch.ones(3, 5))


def test_multi_step_mode_rejects_an_input_without_time_and_batch():
    with pytest.raises(ValueError, match=r"\[T, B, \.\.\.\]"):
        layer.Dropout(0.5, step_mode="m")(torch.ones(5))


@pytest.mark.parametrize("p", [-0.1, 1.0, 1.5, float("nan")])
def test_p_outside_zero_to_one_is_rejected(p):
    with pytest.raises(ValueError, match=r"must be in \[0, 1\)"):
        layer.Dropout(p)


@pytest.mark.parametrize("p", [True, "0.5", None])
def test_p_that_is_not_a_number_is_rejected(p):
    with pytest.raises(TypeError, match="p must be a float"):
        layer.Dropout(p)


def test_setting_p_later_is_validated_too():
    drop = layer.Dropout(0.5)
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        drop.p = 1.0


@pytest.mark.parametrize("dtype", [torch.bool, torch.uint8, torch.int32, torch.int64], ids=str)
@pytest.mark.parametrize("step_mode", ["s", "m"])
@pytest.mark.parametrize("training", [True, False])
def test_bool_and_integer_spikes_give_exactly_what_the_same_values_as_floats_give(dtype, step_mode, training):
    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, 2 if dtype == torch.bool else 4, (3, 2, 8), generator=g).to(dtype)
    x = x if step_mode == "m" else x[0]
    outputs = []
    for given in (x, x.float()):
        torch.manual_seed(1)
        drop = layer.Dropout(0.5, step_mode=step_mode).train(training)
        outputs.append(drop(given))
    assert outputs[0].dtype == torch.float32
    assert torch.equal(outputs[0], outputs[1])


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float64], ids=str)
@pytest.mark.parametrize("step_mode", ["s", "m"])
def test_floating_spikes_keep_their_dtype(dtype, step_mode):
    x = torch.ones(3, 2, 8, dtype=dtype)
    assert layer.Dropout(0.5, step_mode=step_mode)(x if step_mode == "m" else x[0]).dtype == dtype


@pytest.mark.parametrize("step_mode", ["s", "m"])
def test_a_non_tensor_input_is_a_type_error_naming_the_layer(step_mode):
    with pytest.raises(TypeError, match=r"Dropout expects a torch\.Tensor"):
        layer.Dropout(0.5, step_mode=step_mode)([[1.0]])

import math

import pytest
import torch

from spikestep import surrogate

X = torch.tensor([-2.0, -0.7, -0.3, -1e-4, 0.0, 1e-4, 0.2, 0.6, 3.0], dtype=torch.float64)


def atan_grad(x, alpha):
    return alpha / (2 * (1 + (math.pi / 2 * alpha * x) ** 2))


def sigmoid_grad(x, alpha):
    s = torch.sigmoid(alpha * x)
    return alpha * s * (1 - s)


def triangle_grad(x, alpha):
    return torch.clamp(alpha - alpha**2 * x.abs(), min=0.0)


CASES = [
    (surrogate.ATan, surrogate.atan, atan_grad, 2.0),
    (surrogate.Sigmoid, surrogate.sigmoid, sigmoid_grad, 4.0),
    (surrogate.PiecewiseQuadratic, surrogate.piecewise_quadratic, triangle_grad, 1.0),
]
IDS = ["atan", "sigmoid", "piecewise_quadratic"]


@pytest.mark.parametrize(("cls", "fn", "grad", "default_alpha"), CASES, ids=IDS)
def test_forward_is_heaviside_with_one_at_zero(cls, fn, grad, default_alpha):
    expected = (X >= 0).double()
    assert torch.equal(cls()(X), expected)
    assert torch.equal(fn(X), expected)


@pytest.mark.parametrize(("cls", "fn", "grad", "default_alpha"), CASES, ids=IDS)
@pytest.mark.parametrize("alpha", [None, 0.5, 3.0])
def test_backward_is_the_closed_form_surrogate_gradient(cls, fn, grad, default_alpha, alpha):
    a = default_alpha if alpha is None else alpha
    for spike in (cls() if alpha is None else cls(alpha=a), lambda x: fn(x, a)):
        x = X.clone().requires_grad_(True)
        upstream = torch.linspace(0.5, 1.5, len(X), dtype=torch.float64)
        spike(x).backward(upstream)
        torch.testing.assert_close(x.grad, upstream * grad(X, a))


@pytest.mark.parametrize(("cls", "fn", "grad", "default_alpha"), CASES, ids=IDS)
def test_default_alpha_matches_spikingjelly(cls, fn, grad, default_alpha):
    assert cls().alpha == default_alpha


@pytest.mark.parametrize(("cls", "fn", "grad", "default_alpha"), CASES, ids=IDS)
def test_non_spiking_mode_returns_the_primitive_whose_derivative_is_the_surrogate(
    cls, fn, grad, default_alpha
):
    x = X.clone().requires_grad_(True)
    y = cls(spiking=False)(x)
    assert ((y >= 0) & (y <= 1)).all() and not torch.equal(y, (X >= 0).double())
    y.sum().backward()
    torch.testing.assert_close(x.grad, grad(X, default_alpha))


@pytest.mark.parametrize(("cls", "fn", "grad", "default_alpha"), CASES, ids=IDS)
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32])
def test_output_and_gradient_keep_the_input_dtype(cls, fn, grad, default_alpha, dtype):
    x = X.to(dtype).requires_grad_(True)
    y = cls()(x)
    y.sum().backward()
    assert y.dtype == dtype and x.grad.dtype == dtype


@pytest.mark.parametrize(("cls", "fn", "grad", "default_alpha"), CASES, ids=IDS)
@pytest.mark.parametrize("alpha", [0.0, -1.0, float("nan"), float("inf")])
def test_non_positive_or_non_finite_alpha_is_a_value_error(cls, fn, grad, default_alpha, alpha):
    with pytest.raises(ValueError, match="alpha must be a finite number > 0"):
        cls(alpha=alpha)
    with pytest.raises(ValueError, match="alpha"):
        fn(X, alpha)


@pytest.mark.parametrize("alpha", ["2", True, None])
def test_non_number_alpha_is_a_type_error(alpha):
    with pytest.raises(TypeError, match="alpha must be a real number"):
        surrogate.atan(X, alpha)


def test_spiking_flag_must_be_a_bool():
    with pytest.raises(TypeError, match="spiking must be True or False"):
        surrogate.ATan(spiking=1)


def test_function_form_rejects_non_tensors():
    with pytest.raises(TypeError, match=r"expects a torch\.Tensor"):
        surrogate.sigmoid([0.0, 1.0])


def test_repr_shows_alpha_and_spiking():
    assert repr(surrogate.Sigmoid(alpha=2.5)) == "Sigmoid(alpha=2.5, spiking=True)"


def test_no_gradient_is_computed_for_inputs_that_do_not_require_it():
    y = surrogate.ATan()(X)
    assert not y.requires_grad


def test_two_surrogate_classes_of_one_name_keep_their_own_gradients_in_the_kernels():
    def make(scale):
        class Flat(surrogate.SurrogateFunction):
            constants = staticmethod(lambda alpha: (alpha * scale, 0.0))

            @staticmethod
            def gradient(x, one, c1, c2):
                return c1 + x * (one - one)

            primitive = staticmethod(lambda x, alpha: x)

        return Flat

    first, second = make(1.0), make(5.0)
    name_1, name_2 = surrogate.kernel_form(first())[0], surrogate.kernel_form(second())[0]
    assert name_1 != name_2
    assert surrogate.lookup(name_1) is first and surrogate.lookup(name_2) is second

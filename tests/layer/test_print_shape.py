import pytest
import torch

from spikestep import layer


@pytest.mark.parametrize("shape", [(3,), (4, 2, 5)])
def test_prints_ext_str_and_shape_and_returns_the_input(capsys, shape):
    x = torch.rand(shape)
    y = layer.PrintShapeModule("probe")(x)
    assert y is x
    assert capsys.readouterr().out.strip() == f"probe {torch.Size(shape)}"


def test_default_ext_str_is_the_class_name(capsys):
    layer.PrintShapeModule()(torch.zeros(2))
    assert capsys.readouterr().out.startswith("PrintShapeModule torch.Size([2])")

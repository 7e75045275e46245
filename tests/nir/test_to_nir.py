"""Export refuses, naming the module and the reason, whatever NIR cannot express exactly."""

import pytest
import torch
from torch import nn

from spikestep import layer, neuron, surrogate
from spikestep.nir import export

nir = pytest.importorskip("nir.ir", reason="the nir package is not installed (pip install 'spikestep[nir]')")


class _OwnCharge(neuron.LIFNode):
    pass


class _NotAStep(surrogate.ATan):
    def forward(self, x):
        return torch.sigmoid(x)


@pytest.mark.parametrize(
    ("module", "x", "match"),
    [
        (neuron.IFNode(v_reset=None), torch.rand(2, 3), r"'1' \(IFNode\).*soft reset"),
        (neuron.LIFNode(v_reset=None), torch.rand(2, 3), r"LIFNode.*soft reset.*v_reset=0.0"),
        (layer.SynapseFilter(2.0), torch.rand(2, 3), r"SynapseFilter.*decays only at steps without"),
        (_OwnCharge(), torch.rand(2, 3), r"_OwnCharge.*its own charge"),
        (neuron.IFNode(surrogate_function=surrogate.ATan(spiking=False)), torch.rand(2, 3), "spiking=False"),
        (neuron.IFNode(surrogate_function=_NotAStep()), torch.rand(2, 3), "not known to be a Heaviside"),
        (layer.MaxPool2d(2), torch.rand(2, 3, 4, 4), "no max pooling"),
        (layer.BatchNorm2d(3).eval(), torch.rand(2, 3, 4, 4), "no batch norm"),
        (layer.AvgPool1d(2), torch.rand(2, 3, 4), "2-d"),
        (layer.AvgPool2d(2, ceil_mode=True), torch.rand(2, 3, 5, 5), "ceil_mode"),
        (layer.AvgPool2d(2, divisor_override=3), torch.rand(2, 3, 4, 4), "divisor_override=3"),
        (layer.AvgPool2d(3, padding=1, count_include_pad=False), torch.rand(2, 3, 4, 4), "count_include_pad"),
        (layer.Conv2d(4, 4, 3, groups=2), torch.rand(2, 4, 5, 5), "groups=2"),
        (
            layer.Conv2d(3, 4, 3, padding=1, padding_mode="reflect"),
            torch.rand(2, 3, 5, 5),
            "pads with 'reflect'",
        ),
        (layer.Flatten(start_dim=0), torch.rand(2, 3, 4), "flattens the batch"),
        (layer.Linear(4, 2), torch.rand(2, 3, 4), "maps vectors"),
        (nn.Conv2d(3, 4, 3), torch.rand(2, 3, 5, 5), r"plain torch layer.*spikestep.layer.Conv2d"),
        (layer.VotingLayer(2), torch.rand(2, 4), r"VotingLayer.*no node"),
    ],
)
def test_a_module_nir_cannot_express_is_refused_naming_it_and_why(module, x, match):
    net = nn.Sequential(nn.Identity(), module)  # named '1'
    with pytest.raises(ValueError, match=match):
        export(net, x)


def test_a_tau_that_differs_along_the_batch_is_refused():
    lif = neuron.LIFNode(tau=torch.tensor([[2.0], [3.0]]))
    with pytest.raises(ValueError, match="differs along the batch"):
        export(lif, torch.rand(2, 3))


def test_an_input_without_a_batch_dimension_is_refused():
    with pytest.raises(ValueError, match="batch dimension"):
        export(neuron.IFNode(), torch.rand(3))

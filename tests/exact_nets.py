"""Networks and inputs whose every sum is exact, so spikes compare bit for bit across frameworks."""

import torch
import torch.nn as nn


def quantized(net: nn.Module, seed: int = 0) -> nn.Module:
    """Weights and biases on a grid of 1/8: every sum is exact, whatever order a layer adds in."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in net.parameters():
            if p.dim() > 0:
                p.copy_(torch.randint(-6, 9, p.shape, generator=generator) / 8)
    return net


def spikes(*shape: int, seed: int = 1) -> torch.Tensor:
    """0/1 spikes at rate 0.5, reproducible."""
    return (torch.rand(shape, generator=torch.Generator().manual_seed(seed)) < 0.5).float()

"""The delayed linear map in pure PyTorch (any device and dtype): the dense kernel and one convolution.

Every kernel (``'gauss'``, and the sparse ``'linear'`` and ``'round'`` as a dense kernel with zeros) is
built as ``[O, I, D+1]`` and run as a 2-d convolution of height 1 over the held inputs followed by the
new ones, like ``dcls.Dcls1d``: the cost grows with ``max_delay`` whatever the kernel. Channels-last
layout (``[N, 1, L, I]`` in memory): measured about 25% faster than ``conv1d``'s ``[N, I, L]`` on a
2-core AVX-512 CPU for the DCLS-delays size (T=100, B=32, 256 -> 256, D=25), forward and backward, and
the ``[T, N, I]`` inputs copy into it in long rows.

Arrays: ``held [D, N, I]`` (the last ``D`` inputs, oldest first), ``x [T, N, I]``, ``weight`` and
``delay [O, I]``; the output is ``[T, N, O]``.
"""

from __future__ import annotations

import torch

from . import math as dl_math

_CONV = ([1, 1], [0, 0], [1, 1], False, [0, 0], 1)  # stride, padding, dilation, transposed, out pad, groups


def _conv_input(held: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """The held inputs then ``x`` as a channels-last ``[N, I, 1, D+T]`` image (memory ``[N, D+T, I]``)."""
    d, (t, n, i) = held.shape[0], x.shape
    buf = x.new_empty((n, d + t, i))
    buf[:, :d] = held.transpose(0, 1)
    buf[:, d:] = x.transpose(0, 1)
    return buf.unsqueeze(1).permute(0, 3, 1, 2)


def _conv_weight(kernel: torch.Tensor) -> torch.Tensor:
    """``[O, I, D+1]`` by lag -> the convolution's channels-last ``[O, I, 1, D+1]``: a convolution takes
    ``x[t - D + c]`` at tap ``c``, so tap ``c`` holds lag ``D - c`` (the kernel flipped)."""
    return kernel.flip(-1).transpose(1, 2).contiguous().unsqueeze(1).permute(0, 3, 1, 2)


def forward(
    held: torch.Tensor, x: torch.Tensor, weight: torch.Tensor, delay: torch.Tensor, sigma: float, kernel: str
) -> torch.Tensor:
    d = held.shape[0]
    k = dl_math.dense_kernel(weight, delay, sigma, kernel, d)
    y = torch.nn.functional.conv2d(_conv_input(held, x), _conv_weight(k))  # [N, O, 1, T]
    return y.squeeze(2).permute(2, 0, 1).contiguous()


def backward(
    grad_y: torch.Tensor,
    held: torch.Tensor,
    x: torch.Tensor,
    weight: torch.Tensor,
    delay: torch.Tensor,
    sigma: float,
    kernel: str,
    need_held: bool,
    need_x: bool,
    need_params: bool,
) -> tuple[torch.Tensor | None, torch.Tensor | None, torch.Tensor | None, torch.Tensor | None]:
    """``(grad_held, grad_x, grad_weight, grad_delay)``, None where not needed (``need_params``: the
    weight's and the delay's)."""
    d = held.shape[0]
    need_inputs = need_held or need_x
    k = dl_math.dense_kernel(weight, delay, sigma, kernel, d)
    grad4 = grad_y.transpose(0, 1).contiguous().unsqueeze(1).permute(0, 3, 1, 2)  # channels-last [N, O, 1, T]
    grad_in, grad_w, _ = torch.ops.aten.convolution_backward(
        grad4, _conv_input(held, x), _conv_weight(k), None, *_CONV, [need_inputs, need_params, False]
    )
    grad_held = grad_x = grad_weight = grad_delay = None
    if need_inputs:
        g = grad_in.squeeze(2).permute(2, 0, 1)  # [D+T, N, I]
        grad_held = g[:d].contiguous() if need_held else None
        grad_x = g[d:].contiguous() if need_x else None
    if need_params:
        grad_kernel = grad_w.squeeze(2).flip(-1)  # [O, I, D+1] by lag
        if kernel == "gauss":
            grad_weight, grad_delay = dl_math.gauss_param_grads(grad_kernel, weight, delay, sigma, d)
        else:
            lag, _, c1 = dl_math.sparse_taps(weight, delay, kernel, d)
            index = lag.long().unsqueeze(-1)
            s0 = grad_kernel.gather(-1, index).squeeze(-1)
            s1 = None if c1 is None else grad_kernel.gather(-1, index + 1).squeeze(-1)
            grad_weight, grad_delay = dl_math.sparse_param_grads(s0, s1, weight, delay, kernel, d)
    return grad_held, grad_x, grad_weight, grad_delay

"""Max pooling that gives ``nn.MaxPool2d``'s values, indices and gradients in less of a CPU's time.

PyTorch's CPU kernel for max pooling over batch-channel-height-width (NCHW) tensors walks each
plane's windows one output at a time; its kernel for channels-last tensors runs along the channels
with vector instructions. Copying an NCHW tensor to channels-last, pooling there and copying the
(smaller) result back: crossconv's largest pooling (16 x 16 x 128 x 128, 2x2) forward and backward
in 11.9 ms against 33.7, staticflow AlexNet's first (3x3, stride 2) in 1.6 ms against 6.2, one thread
(``benchmarks/bench_cpu_layers.py``, which also times whole demo training steps).

Both kernels scan a window in the same order and keep the first maximum, so the indices are the
same, ties included (flat backgrounds make many), and so is the gradient: the backward pass routes
it through the NCHW kernel with those indices (tested bitwise against ``nn.MaxPool2d`` in
``tests/test_max_pool.py``). A swapped module changes no number of the project, only its time.
Elsewhere (CUDA, channels-last or 3-d inputs, dilation, ``ceil_mode``, ``return_indices``) the
module is ``nn.MaxPool2d`` itself.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

_PAIR = tuple[int, int]


def _pair(value: int | tuple[int, ...]) -> _PAIR:
    return (value, value) if isinstance(value, int) else (int(value[0]), int(value[1]))


class _ChannelsLastMaxPool(torch.autograd.Function):
    """Forward through the channels-last kernel; backward through the NCHW one with the same indices."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, kernel: _PAIR, stride: _PAIR, padding: _PAIR) -> torch.Tensor:
        pooled, indices = F.max_pool2d_with_indices(x.contiguous(memory_format=torch.channels_last),
                                                    kernel, stride, padding)
        indices = indices.contiguous()
        ctx.save_for_backward(x, indices)
        ctx.window = (kernel, stride, padding)
        return pooled.contiguous()

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        x, indices = ctx.saved_tensors
        kernel, stride, padding = ctx.window
        grad_x = torch.ops.aten.max_pool2d_with_indices_backward(
            grad.contiguous(), x, list(kernel), list(stride), list(padding), [1, 1], False, indices)
        return grad_x, None, None, None


def max_pool2d(x: torch.Tensor, kernel: _PAIR, stride: _PAIR, padding: _PAIR) -> torch.Tensor:
    """``F.max_pool2d(x, kernel, stride, padding)`` of an NCHW-contiguous 4-d CPU tensor, faster."""
    if torch.is_grad_enabled() and x.requires_grad:
        return _ChannelsLastMaxPool.apply(x, kernel, stride, padding)
    return F.max_pool2d(x.contiguous(memory_format=torch.channels_last), kernel, stride, padding).contiguous()


class MaxPool2d(nn.MaxPool2d):
    """``nn.MaxPool2d`` (same arguments, no parameters, same checkpoints) through :func:`max_pool2d`
    where that gives the same result: NCHW-contiguous 4-d CPU input, no dilation, floor mode, no indices."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if (x.dim() != 4 or x.device.type != "cpu" or not x.is_contiguous() or self.ceil_mode
                or self.return_indices or _pair(self.dilation) != (1, 1)):
            return super().forward(x)
        return max_pool2d(x, _pair(self.kernel_size), _pair(self.stride), _pair(self.padding))  # stride: kernel by default

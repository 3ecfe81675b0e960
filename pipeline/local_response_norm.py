"""Local response normalisation with ``nn.LocalResponseNorm``'s values and gradients, faster on a CPU.

PyTorch sums the squares of ``size`` neighbouring channels through ``avg_pool3d`` with a
(size, 1, 1) window, a generic kernel that walks one window at a time: on walker's towers at the
demo size it took about a sixth of a training step. The same sum as ``size`` shifted slices of the
padded squares, added in the window's order, is a few whole-tensor additions
(``benchmarks/bench_cpu_layers.py`` times both with the poolings).

Added from the first channel of the window to the last, then divided by ``size``, it is
``avg_pool3d``'s own sum and mean to the bit, and autograd's gradient accumulates the same terms
in the same order as ``avg_pool3d_backward`` (tested bitwise against ``nn.LocalResponseNorm`` in
``tests/test_local_response_norm.py``): walker's and the detector's numbers do not change, only their time.
Off the CPU the module is ``nn.LocalResponseNorm`` itself.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def local_response_norm(x: torch.Tensor, size: int, alpha: float, beta: float, k: float) -> torch.Tensor:
    """``F.local_response_norm(x, size, alpha, beta, k)`` over dim 1 of an (N, C, ...) tensor."""
    channels = x.shape[1]
    squares = x.mul(x)
    padding = [0, 0] * (x.dim() - 2) + [size // 2, (size - 1) // 2]
    padded = F.pad(squares, padding)
    window = padded[:, :channels]
    for offset in range(1, size):
        window = window + padded[:, offset:offset + channels]
    div = (window / size).mul(alpha).add(k).pow(beta)
    return x / div


class LocalResponseNorm(nn.LocalResponseNorm):
    """``nn.LocalResponseNorm`` (same arguments, no parameters) through :func:`local_response_norm` on the CPU."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.device.type != "cpu" or x.dim() < 3 or x.numel() == 0:
            return super().forward(x)
        return local_response_norm(x, self.size, self.alpha, self.beta, self.k)

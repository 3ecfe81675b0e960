"""A "same" convolution of a nearest-neighbour-upsampled map, computed without upsampling it.

Why: crossconv's motion decoder (Xue et al., Fig. 3e) upsamples the cross-convolved maps of its
coarser scales by nearest neighbour to the finest scale's size, concatenates them and convolves
the result with 9x9 kernels: at the demo preset that convolution is ~45% of a training step, and
three quarters of its input are copies of coarser pixels. Upsampling by ``s`` and then
correlating with a k x k kernel is, for each of the s x s output phases, a correlation of the
coarse map with a smaller kernel (each of its taps the sum of the k x k taps that land on the same
coarse pixel): ``pixel_shuffle(conv2d(x, phase_kernels), s)``. The function is the same; only the
order of the float sums differs (float64 agrees to ~1e-12, tested in ``tests/test_upsampled_conv.py``),
the multiply-adds per coarse input channel drop by k^2 / T^2 (T = 2 ceil((k // 2) / s) + 1: 3.2x for a
9x9 kernel at s = 2, 9x at s = 4 and 8), and the upsampled copies are never made
(``benchmarks/bench_crossconv.py`` times it against the upsample-then-convolve path).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def phase_taps(kernel_size: int, factor: int) -> tuple[torch.Tensor, int]:
    """(A, pad): A[r, t, j] = 1 when tap j of a kernel centred on fine pixel s*q + r reads coarse
    pixel q + t - pad, so a phase kernel is A[r] @ w @ A[r']^T per (output, input) channel pair."""
    if kernel_size % 2 == 0 or kernel_size < 1 or factor < 1:
        raise ValueError(f"phase_taps needs an odd kernel and a positive factor, got {kernel_size}, {factor}")
    half = kernel_size // 2
    pad = half // factor + (half % factor > 0)  # coarse pixels reached before q: ceil(half / factor)
    taps = torch.zeros(factor, 2 * pad + 1, kernel_size, device="cpu")  # not a default device's (e.g. meta)
    for r in range(factor):
        for j in range(kernel_size):
            taps[r, (r + j - half) // factor + pad, j] = 1.0
    return taps, pad


def conv2d_nearest_upsampled(x: torch.Tensor, weight: torch.Tensor, factor: int) -> torch.Tensor:
    """``F.conv2d(F.interpolate(x, scale_factor=factor, mode="nearest"), weight, padding=k // 2)``.

    x (B, C, h, w), weight (O, C, k, k) with k odd -> (B, O, h * factor, w * factor); no bias.
    """
    out_channels, in_channels, k, k2 = weight.shape
    if k != k2 or k % 2 == 0 or x.dim() != 4 or x.shape[1] != in_channels:
        raise ValueError(f"conv2d_nearest_upsampled: input {tuple(x.shape)} and weight {tuple(weight.shape)} "
                         "must be (B, C, h, w) and (O, C, k, k) with k odd")
    if factor == 1:
        return F.conv2d(x, weight, padding=k // 2)
    taps, pad = phase_taps(k, factor)
    taps = taps.to(weight)
    # (O, s, s, C, T, T): one T x T kernel per output channel and output phase (row phase, column phase)
    phases = torch.einsum("atj,ocjk,buk->oabctu", taps, weight, taps)
    phases = phases.reshape(out_channels * factor * factor, in_channels, 2 * pad + 1, 2 * pad + 1)
    return F.pixel_shuffle(F.conv2d(x, phases, padding=pad), factor)

"""Batch norm at test time with the statistics of each sample's batch: the authors'
``generate_svg_lp.py`` draws one sample of all B sequences at a time with batch norm in training
mode; drawing S samples as one batch of S * B must normalise each sample's B rows apart, or the
samples would share statistics no run of the authors' code has."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import torch
from torch import nn


@contextmanager
def batch_statistics_per_sample(model: nn.Module, group: int, active: bool) -> Iterator[None]:
    """Inside: every BatchNorm2d of ``model`` normalises a batch (S * group, C, H, W), sample-major,
    with the biased mean and variance of each consecutive ``group`` items (one sample of every
    sequence), as ``BatchNorm2d`` in training mode does for a batch of ``group``; its running
    averages are neither used nor updated. Nothing changes when not ``active``."""
    norms = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)] if active else []

    def per_sample(bn: nn.BatchNorm2d) -> Callable[[torch.Tensor], torch.Tensor]:
        def forward(x: torch.Tensor) -> torch.Tensor:
            if x.shape[0] % group:
                raise ValueError(f"batch of {x.shape[0]} is not a whole number of samples of {group} sequences")
            xs = x.view(x.shape[0] // group, group, x.shape[1], -1)  # (S, B, C, H*W)
            # two passes (mean, then the centred squares) as BatchNorm2d's own; over this 4-d view
            # about as fast as its kernel (torch.var_mean over (1, 3, 4) of a 5-d view is ~3x slower)
            centred = xs - xs.mean(dim=(1, 3), keepdim=True)
            scale = torch.rsqrt(centred.square().mean(dim=(1, 3), keepdim=True) + bn.eps)
            if not bn.affine:
                return (centred * scale).view_as(x)
            scale = scale * bn.weight.view(1, 1, -1, 1)
            return torch.addcmul(bn.bias.view(1, 1, -1, 1), centred, scale).view_as(x)
        return forward

    for bn in norms:
        bn.forward = per_sample(bn)  # an instance attribute shadows the class's forward
    try:
        yield
    finally:
        for bn in norms:
            del bn.forward

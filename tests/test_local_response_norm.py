"""pipeline.local_response_norm gives nn.LocalResponseNorm's values and gradients to the bit."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from pipeline.local_response_norm import LocalResponseNorm


@pytest.mark.parametrize("size,alpha,beta,k", [(5, 1e-4, 0.75, 1.0), (4, 1e-2, 0.5, 2.0), (3, 1.0, 1.0, 0.5)])
@pytest.mark.parametrize("shape", [(4, 12, 9, 11), (2, 7, 5, 3), (3, 6, 10)])
def test_values_and_gradients_equal_nn_local_response_norm_to_the_bit(shape, size, alpha, beta, k):
    g = torch.Generator().manual_seed(sum(shape) + size)
    scale = torch.logspace(-2, 2, shape[1]).view(1, shape[1], *[1] * (len(shape) - 2))  # 0.01 .. 100
    x = torch.randn(shape, generator=g) * scale
    x[:, :, :1] = 0.0  # and a row of zeros
    upstream = torch.randn(shape, generator=g)
    results = []
    for norm in (nn.LocalResponseNorm(size, alpha, beta, k), LocalResponseNorm(size, alpha, beta, k)):
        xr = x.clone().requires_grad_()
        y = norm(xr)
        (grad,) = torch.autograd.grad(y, xr, upstream)
        results.append((y.detach(), grad))
    assert torch.equal(results[0][0], results[1][0])
    assert torch.equal(results[0][1], results[1][1])


def test_the_walker_towers_and_the_detector_use_it():
    from pipeline.papers.walker.detection.detector import Backbone, DetectorConfig
    from pipeline.papers.walker.model import WalkerConfig, WalkerNet

    for model in (WalkerNet(WalkerConfig(image_size=(120, 160), coarse_size=(8, 10), width=1 / 16, fine_levels=0)),
                  Backbone(DetectorConfig(n_classes=2, width=1 / 16))):
        norms = [m for m in model.modules() if isinstance(m, nn.LocalResponseNorm)]
        assert norms and all(type(m) is LocalResponseNorm for m in norms), type(model).__name__

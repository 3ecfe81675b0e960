"""pipeline.max_pool.MaxPool2d gives nn.MaxPool2d's values and gradients to the bit, ties included."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from pipeline.max_pool import MaxPool2d

WINDOWS = [(2, 2, 0), (3, 2, 1), (3, 1, 1), (3, 2, 0)]  # crossconv / svg VGG, walker, walker encoder, AlexNet


def _tied(shape: tuple[int, ...], seed: int) -> torch.Tensor:
    """Values from a handful of levels with flat blocks: most windows hold several equal maxima."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randint(0, 4, shape, generator=g).float()
    x[..., : shape[-2] // 2, :] = 1.0  # a flat half, as the Shapes backgrounds give after a conv
    return x


@pytest.mark.parametrize("kernel,stride,padding", WINDOWS)
@pytest.mark.parametrize("shape", [(3, 5, 16, 20), (2, 4, 15, 9)])
def test_values_and_gradients_equal_nn_max_pool_to_the_bit(shape, kernel, stride, padding):
    ours, reference = MaxPool2d(kernel, stride, padding), nn.MaxPool2d(kernel, stride, padding)
    x = _tied(shape, seed=sum(shape) + kernel + stride)
    grads, outputs = [], []
    for pool in (reference, ours):
        xr = x.clone().requires_grad_()
        y = pool(xr)
        upstream = torch.arange(y.numel(), dtype=torch.float32).reshape(y.shape)  # tells every output apart
        y.backward(upstream)
        outputs.append(y.detach())
        grads.append(xr.grad)
    assert torch.equal(outputs[0], outputs[1])
    assert torch.equal(grads[0], grads[1])  # the same argmax among ties: gradients land on the same inputs
    assert grads[1].is_contiguous()
    with torch.no_grad():
        assert torch.equal(ours(x), reference(x))
        assert ours(x).is_contiguous()


def test_a_network_trained_with_either_pool_ends_with_the_same_weights():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 6, 3, padding=1), nn.BatchNorm2d(6), MaxPool2d(2), nn.ReLU(),
                        nn.Conv2d(6, 4, 3, padding=1), MaxPool2d(3, 2, 1), nn.Flatten(), nn.LazyLinear(2))
    net(torch.zeros(1, 3, 16, 16))
    reference = nn.Sequential(*[nn.MaxPool2d(m.kernel_size, m.stride, m.padding) if isinstance(m, MaxPool2d) else
                                m for m in copy.deepcopy(net)])
    data = torch.rand(8, 3, 16, 16).round()  # 0/1 images: flat regions, ties
    for model in (net, reference):
        opt = torch.optim.SGD(model.parameters(), 0.01)
        for _ in range(5):
            opt.zero_grad()
            (model(data) - 1).pow(2).mean().backward()
            opt.step()
    weights = net.state_dict()
    assert all(torch.isfinite(w).all() for w in weights.values())
    for a, b in zip(weights.values(), reference.state_dict().values()):
        assert torch.equal(a, b)


@pytest.mark.parametrize("case", ["channels_last", "unbatched", "ceil_mode", "dilation", "return_indices"])
def test_other_inputs_and_options_get_nn_max_pool_itself(case):
    x = torch.randn(2, 3, 9, 11)
    kwargs = {"ceil_mode": True} if case == "ceil_mode" else {}
    kwargs |= {"dilation": 2} if case == "dilation" else {}
    kwargs |= {"return_indices": True} if case == "return_indices" else {}
    if case == "channels_last":
        x = x.contiguous(memory_format=torch.channels_last)
    if case == "unbatched":
        x = x[0]
    expected, got = nn.MaxPool2d(3, 2, **kwargs)(x), MaxPool2d(3, 2, **kwargs)(x)
    for e, g in zip(expected if isinstance(expected, tuple) else (expected,), got if isinstance(got, tuple) else (got,)):
        assert torch.equal(e, g)
    if case == "channels_last":
        assert got.is_contiguous(memory_format=torch.channels_last)  # the layout asked for is kept


def test_the_models_that_pool_use_it():
    from pipeline.papers.crossconv.model import CrossConvConfig, CrossConvNet
    from pipeline.papers.staticflow.model import StaticFlowConfig, StaticFlowNet
    from pipeline.papers.svg.backbones import VGGEncoder
    from pipeline.papers.walker.detection.detector import Backbone, DetectorConfig
    from pipeline.papers.walker.model import WalkerConfig, WalkerNet

    models = [
        CrossConvNet(CrossConvConfig(image_size=64, num_scales=2, top_scale=1.0, maps=4, width=1 / 16)),
        StaticFlowNet(StaticFlowConfig(arch="alexnet", image_size=120, out_size=8, width=1 / 16)),
        VGGEncoder(g_dim=8, channels=1, width=2),
        Backbone(DetectorConfig(n_classes=2, width=1 / 16)),
        WalkerNet(WalkerConfig(image_size=(120, 160), coarse_size=(8, 10), width=1 / 16, fine_levels=0)),
    ]
    for model in models:
        pools = [m for m in model.modules() if isinstance(m, nn.MaxPool2d)]
        assert pools, f"{type(model).__name__} has no pooling any more: update this test"
        assert all(type(m) is MaxPool2d for m in pools), type(model).__name__

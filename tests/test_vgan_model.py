"""VGAN networks: parameter counts at the paper preset (meta device), shapes on CPU at tiny width."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from pipeline.papers.vgan.model import (
    Autoencoder,
    Discriminator,
    FutureGenerator,
    Generator,
    VGANConfig,
)

PAPER = VGANConfig()  # z 100, 32 frames of 64x64, widths 64..512 (main.lua)
FUTURE = VGANConfig(base=128)  # widths 128..1024 (main_conditional.lua)
TINY = VGANConfig(z_dim=8, frames=16, size=16, width=1 / 16)  # widths 4, 8, 16, 32


def count(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def conv(c_in: int, c_out: int, *kernel: int) -> int:
    """Weights and bias of a (transposed) convolution."""
    k = 1
    for s in kernel:
        k *= s
    return c_in * c_out * k + c_out


def bn(c: int) -> int:
    return 2 * c


def build(cls, *args):
    with torch.device("meta"):
        return cls(*args)


# main.lua, foreground trunk: 100 -> 512 (2x4x4), 512 -> 256 -> 128 -> 64 (4x4x4), BN each.
TRUNK = conv(100, 512, 2, 4, 4) + bn(512) + sum(
    conv(a, b, 4, 4, 4) + bn(b) for a, b in ((512, 256), (256, 128), (128, 64))
)
VIDEO_OUT = conv(64, 3, 4, 4, 4)
MASK_OUT = conv(64, 1, 4, 4, 4)
# main.lua, static_net: 100 -> 512 (4x4), 512 -> 256 -> 128 -> 64 (4x4, BN), 64 -> 3.
BACKGROUND = (
    conv(100, 512, 4, 4)
    + bn(512)
    + sum(conv(a, b, 4, 4) + bn(b) for a, b in ((512, 256), (256, 128), (128, 64)))
    + conv(64, 3, 4, 4)
)
# main.lua, netD: 3 -> 64 (no BN), 64 -> 128 -> 256 -> 512 (BN), 512 -> 2 (2x4x4).
DISCRIMINATOR = (
    conv(3, 64, 4, 4, 4)
    + sum(conv(a, b, 4, 4, 4) + bn(b) for a, b in ((64, 128), (128, 256), (256, 512)))
    + conv(512, 2, 2, 4, 4)
)
# main_conditional.lua, encode_net: 3 -> 128 (no BN), 128 -> 256 -> 512 -> 1024 (BN).
ENCODER = conv(3, 128, 4, 4) + sum(
    conv(a, b, 4, 4) + bn(b) for a, b in ((128, 256), (256, 512), (512, 1024))
)


def test_one_stream_generator_count() -> None:
    g = build(Generator, VGANConfig(two_stream=False))
    assert count(g) == TRUNK + VIDEO_OUT == 12_663_619


def test_two_stream_generator_count() -> None:
    assert count(build(Generator, PAPER)) == TRUNK + VIDEO_OUT + MASK_OUT + BACKGROUND == 16_245_383


def test_discriminator_count() -> None:
    assert count(build(Discriminator, PAPER)) == DISCRIMINATOR == 11_057_858


def test_autoencoder_count() -> None:
    # Encoder = D with a 100-d last layer; decoder = the two-stream generator.
    encoder = DISCRIMINATOR - conv(512, 2, 2, 4, 4) + conv(512, 100, 2, 4, 4)
    decoder = TRUNK + VIDEO_OUT + MASK_OUT + BACKGROUND
    assert count(build(Autoencoder, PAPER)) == encoder + decoder == 28_908_971
    # The paper: "the baseline autoencoder network has a similar number of parameters".
    assert encoder + decoder == pytest.approx(DISCRIMINATOR + decoder, rel=0.1)


def test_future_generator_and_encoder_counts() -> None:
    g = build(FutureGenerator, FUTURE)
    assert count(g.encoder) == ENCODER == 11_021_696
    trunk = conv(1024, 1024, 2, 1, 1) + bn(1024) + sum(
        conv(a, b, 4, 4, 4) + bn(b) for a, b in ((1024, 512), (512, 256), (256, 128))
    )
    heads = conv(128, 3, 4, 4, 4) + conv(128, 1, 4, 4, 4)
    background = sum(conv(a, b, 4, 4) + bn(b) for a, b in ((1024, 512), (512, 256), (256, 128)))
    background += conv(128, 3, 4, 4)
    assert count(g) == ENCODER + trunk + heads + background


def test_paper_shapes_on_meta() -> None:
    g, f, d = build(Generator, PAPER), build(FutureGenerator, FUTURE), build(Discriminator, PAPER)
    with torch.device("meta"):
        out = g.decompose(torch.zeros(2, 100))
        assert out.video.shape == (2, 3, 32, 64, 64)
        assert out.mask.shape == (2, 1, 32, 64, 64)
        assert out.background.shape == (2, 3, 64, 64)
        assert f(torch.zeros(2, 3, 64, 64)).shape == (2, 3, 32, 64, 64)
        assert d(out.video).shape == (2, 2)


@pytest.mark.parametrize("two_stream", [False, True])
def test_tiny_generator_and_discriminator_on_cpu(two_stream: bool) -> None:
    torch.manual_seed(0)
    cfg = VGANConfig(z_dim=8, frames=16, size=16, width=1 / 16, two_stream=two_stream)
    out = Generator(cfg).decompose(torch.randn(3, 8))
    assert out.video.shape == (3, 3, 16, 16, 16)
    assert out.video.abs().max() <= 1
    if two_stream:
        assert out.mask.shape == (3, 1, 16, 16, 16) and out.background.shape == (3, 3, 16, 16)
        assert 0 < out.mask.min() and out.mask.max() < 1
        expected = out.mask * out.foreground + (1 - out.mask) * out.background[:, :, None]
        torch.testing.assert_close(out.video, expected)
    else:
        assert out.mask is None and out.background is None
    assert Discriminator(cfg)(out.video).shape == (3, 2)


def test_tiny_future_generator_and_autoencoder_on_cpu() -> None:
    torch.manual_seed(0)
    f = FutureGenerator(TINY)
    assert f.encoder(torch.randn(2, 3, 16, 16)).shape == (2, 32, 1, 1)
    assert f(torch.randn(2, 3, 16, 16)).shape == (2, 3, 16, 16, 16)
    ae = Autoencoder(TINY)
    video = torch.rand(2, 3, 16, 16, 16) * 2 - 1
    assert ae.encode(video).shape == (2, 8)
    assert ae(video).shape == video.shape


def test_initialisation_follows_the_authors_code() -> None:
    torch.manual_seed(0)
    g = Generator(VGANConfig(width=1 / 4))  # widths 16..128: enough weights for the moments
    w = g.trunk[1][0].weight.detach()
    assert abs(float(w.mean())) < 1e-3 and float(w.std()) == pytest.approx(0.01, rel=0.05)
    assert float(g.trunk[1][0].bias.detach().abs().max()) == 0
    bn_weight = torch.cat([m.weight.detach() for m in g.modules() if isinstance(m, nn.BatchNorm3d)])
    assert float(bn_weight.mean()) == pytest.approx(1.0, abs=0.01)
    assert float(bn_weight.std()) == pytest.approx(0.02, rel=0.2)
    d = Discriminator(PAPER)
    assert isinstance(d.features[0][1], nn.LeakyReLU)  # no BN on D's first layer
    assert d.features[1][1].eps == 1e-3 and d.features[1][2].negative_slope == 0.2


@pytest.mark.parametrize("bad", [{"frames": 24}, {"size": 8}, {"width": 0}])
def test_config_rejects_sizes_the_architecture_cannot_make(bad: dict) -> None:
    with pytest.raises(ValueError):
        VGANConfig(**bad)


def test_wrong_input_shapes_are_refused() -> None:
    with pytest.raises(ValueError, match="z must be"):
        Generator(TINY).decompose(torch.randn(2, 9))
    with pytest.raises(ValueError, match="video must be"):
        Discriminator(TINY)(torch.randn(2, 3, 8, 16, 16))

"""The convolution of a nearest-upsampled map computed at the coarse size: the same function as
upsampling first, values and gradients (float64), for every factor and kernel the models use."""

import pytest
import torch
import torch.nn.functional as F

from pipeline.papers.crossconv.model import CrossConvConfig, CrossConvNet
from pipeline.upsampled_conv import conv2d_nearest_upsampled, phase_taps


def upsample_then_convolve(x: torch.Tensor, weight: torch.Tensor, factor: int) -> torch.Tensor:
    return F.conv2d(F.interpolate(x, scale_factor=factor, mode="nearest"), weight, padding=weight.shape[-1] // 2)


@pytest.mark.parametrize("factor", [1, 2, 3, 4, 8])
@pytest.mark.parametrize("kernel", [1, 3, 5, 9])
def test_equals_upsampling_then_convolving(factor, kernel):
    g = torch.Generator().manual_seed(factor * 10 + kernel)
    x = torch.randn(2, 3, 5, 4, generator=g, dtype=torch.float64)  # not square: rows and columns kept apart
    w = torch.randn(4, 3, kernel, kernel, generator=g, dtype=torch.float64)
    out = conv2d_nearest_upsampled(x, w, factor)
    assert out.shape == (2, 4, 5 * factor, 4 * factor)
    torch.testing.assert_close(out, upsample_then_convolve(x, w, factor), rtol=1e-12, atol=1e-12)


def test_gradients_match_float64():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 2, 3, 3, generator=g, dtype=torch.float64, requires_grad=True)
    w = torch.randn(3, 2, 5, 5, generator=g, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a, b: conv2d_nearest_upsampled(a, b, 2), (x, w))
    ours = torch.autograd.grad(conv2d_nearest_upsampled(x, w, 4).pow(2).sum(), (x, w))
    ref = torch.autograd.grad(upsample_then_convolve(x, w, 4).pow(2).sum(), (x, w))
    for a, b in zip(ours, ref):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-10)


def test_phase_taps_route_every_tap_once():
    taps, pad = phase_taps(9, 4)
    assert taps.shape == (4, 3, 9) and pad == 1  # a 9x9 kernel over a 4x upsampled map reads 3 coarse pixels a row
    assert torch.equal(taps.sum(1), torch.ones(4, 9))  # each fine tap lands on exactly one coarse pixel per phase
    assert phase_taps(9, 2)[0].shape == (2, 5, 9)


def test_bad_shapes_are_refused():
    with pytest.raises(ValueError, match="k odd"):
        conv2d_nearest_upsampled(torch.zeros(1, 2, 4, 4), torch.zeros(3, 2, 4, 4), 2)
    with pytest.raises(ValueError, match="k odd"):
        conv2d_nearest_upsampled(torch.zeros(1, 3, 4, 4), torch.zeros(3, 2, 3, 3), 2)


def test_motion_decoder_equals_upsample_concatenate_convolve():
    """The decoder of the paper's description (Fig. 3e: every scale upsampled to the finest, concatenated,
    9x9 conv) and ours agree on the demo network's sizes, in float64."""
    torch.manual_seed(0)
    net = CrossConvNet(CrossConvConfig(image_size=64, num_scales=4, top_scale=2.0, maps=4, width=1 / 8)).double().eval()
    decoder = net.motion_decoder
    maps = [torch.randn(2, 4, 32 >> s, 32 >> s, dtype=torch.float64) for s in range(4)]
    up = torch.cat([F.interpolate(m, size=(32, 32), mode="nearest") for m in maps], 1)
    torch.testing.assert_close(decoder(maps), decoder.net(up), rtol=1e-10, atol=1e-10)

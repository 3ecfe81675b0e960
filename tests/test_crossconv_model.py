"""Cross convolutional network: the cross-convolution op, sizes at the paper preset, a tiny CPU run."""

import pytest
import torch
from torch.distributions import Normal, kl_divergence

from pipeline.papers.crossconv.model import (
    CrossConvConfig,
    CrossConvNet,
    ZBank,
    collect_z,
    cross_convolve,
    cross_convolve_loop,
    motion_layout,
    sample_empirical,
    sample_prior,
)

TINY = CrossConvConfig(image_size=32, num_scales=2, maps=4, width=0.125)


def test_cross_convolve_matches_per_sample_loop():
    g = torch.Generator().manual_seed(0)
    maps, kernels = torch.randn(4, 6, 9, 11, generator=g), torch.randn(4, 6, 5, 5, generator=g)
    torch.testing.assert_close(cross_convolve(maps, kernels), cross_convolve_loop(maps, kernels))


def test_cross_convolve_applies_each_samples_own_kernel():
    maps = torch.rand(2, 3, 8, 8)
    kernels = torch.zeros(2, 3, 5, 5)
    kernels[0, :, 2, 1] = 1.0  # sample 0: every map shifts right by one pixel
    kernels[1, :, 3, 2] = 2.0  # sample 1: every map shifts up by one pixel, doubled
    out = cross_convolve(maps, kernels)
    torch.testing.assert_close(out[0, :, :, 1:], maps[0, :, :, :-1])
    assert (out[0, :, :, 0] == 0).all()  # zero padding enters from the left
    torch.testing.assert_close(out[1, :, :-1], 2 * maps[1, :, 1:])


def test_cross_convolve_gradcheck_float64():
    g = torch.Generator().manual_seed(1)
    maps = torch.randn(2, 3, 6, 7, dtype=torch.float64, generator=g, requires_grad=True)
    kernels = torch.randn(2, 3, 3, 3, dtype=torch.float64, generator=g, requires_grad=True)
    assert torch.autograd.gradcheck(cross_convolve, (maps, kernels))
    # and the gradients are the loop's
    grads = torch.autograd.grad(cross_convolve(maps, kernels).pow(2).sum(), (maps, kernels))
    ref = torch.autograd.grad(cross_convolve_loop(maps, kernels).pow(2).sum(), (maps, kernels))
    for a, b in zip(grads, ref):
        torch.testing.assert_close(a, b)


def test_cross_convolve_rejects_mismatched_kernels():
    with pytest.raises(ValueError, match="do not match"):
        cross_convolve(torch.zeros(2, 3, 8, 8), torch.zeros(2, 4, 5, 5))


def _conv(cin, cout, k, bias=True):
    return cin * cout * k * k + (cout if bias else 0)


def _bn(c):
    return 2 * c  # weight and bias (running statistics are buffers)


def test_parameter_count_paper_preset():
    cfg = CrossConvConfig()
    with torch.device("meta"):
        net = CrossConvNet(cfg)
    # Motion encoder: six 5x5 convs {96, 96, 128, 128, 256, 256} on (I, v) = 6 channels, BN after
    # the first five (no conv bias before BN), the sixth the linear z_mean / z_logvar head.
    motion = (_conv(6, 96, 5, False) + _bn(96) + _conv(96, 96, 5, False) + _bn(96) + _conv(96, 128, 5, False)
              + _bn(128) + _conv(128, 128, 5, False) + _bn(128) + _conv(128, 256, 5, False) + _bn(256)
              + _conv(256, 256, 5))
    # Kernel decoder: z as 128x5x5 -> two 5x5 convs with 128 channels.
    kernel = _conv(128, 128, 5, False) + _bn(128) + _conv(128, 128, 5)
    # Image encoder, four scales, each four 5x5 conv+BN {64, 64, 64, 32} on RGB.
    image = 4 * (_conv(3, 64, 5, False) + _bn(64) + _conv(64, 64, 5, False) + _bn(64) + _conv(64, 64, 5, False)
                 + _bn(64) + _conv(64, 32, 5, False) + _bn(32))
    # Motion decoder: 4 x 32 maps -> 9x9 conv 128 + BN, 1x1 128 + BN, 1x1 3.
    decoder = _conv(128, 128, 9, False) + _bn(128) + _conv(128, 128, 1, False) + _bn(128) + _conv(128, 3, 1)

    def count(m):
        return sum(p.numel() for p in m.parameters())

    assert count(net.motion_encoder) == motion == 3_420_864
    assert count(net.kernel_decoder) == kernel
    assert count(net.image_encoders) == image
    assert count(net.motion_decoder) == decoder
    assert count(net) == motion + kernel + image + decoder == 6_629_827
    assert cfg.z_dim == 3_200 and cfg.output_size == 64 and cfg.scales == (2.0, 1.0, 0.5, 0.25)
    # The paper's footnote: five scales at a 128 input make a 4,000-dim motion vector.
    assert CrossConvConfig(num_scales=5, top_scale=2.0).z_dim == 4_000


def test_paper_preset_shapes_on_meta():
    cfg = CrossConvConfig()
    with torch.device("meta"):
        net = CrossConvNet(cfg)
        batch = torch.empty(2, 2, 3, 128, 128)
        mean, logvar = net.encode(batch[:, 0], batch[:, 1])
        kernels = net.kernel_decoder(mean)
        diff = net.decode(mean, batch[:, 0])
        maps = [enc(torch.empty(2, 3, s, s)) for enc, s in zip(net.image_encoders, (256, 128, 64, 32))]
    assert mean.shape == logvar.shape == (2, 3_200)
    assert kernels.shape == (2, 4, 32, 5, 5)
    assert [tuple(m.shape[1:]) for m in maps] == [(32, 64, 64), (32, 32, 32), (32, 16, 16), (32, 8, 8)]
    assert diff.shape == (2, 3, 64, 64)
    assert net.motion_encoder.net(torch.empty(2, 6, 128, 128, device="meta")).shape == (2, 256, 5, 5)


def test_motion_layout_ends_at_kernel_size():
    # 128 -> pool 64 -> pool 32 -> unpadded 28 -> pool 14 -> unpadded 10 -> pool 5 -> 5 -> 5
    assert motion_layout(128, 5) == ((True, True), (True, True), (False, True), (False, True),
                                     (True, False), (True, False))
    for size in (32, 64, 128, 256):
        s = size
        for padded, pooled in motion_layout(size, 5):
            s = (s if padded else s - 4) // (2 if pooled else 1)
        assert s == 5
    with pytest.raises(ValueError, match="no plan"):
        motion_layout(7, 5)


def test_tiny_forward_backward_and_loss_terms():
    torch.manual_seed(0)
    net = CrossConvNet(TINY)
    batch = torch.rand(3, 2, 3, 32, 32)
    mean, logvar = net.encode(batch[:, 0], batch[:, 1])
    assert mean.shape == (3, TINY.z_dim) == (3, 2 * 4 * 25)
    assert net.decode(mean, batch[:, 0]).shape == (3, 3, 16, 16)
    target = net.target(batch[:, 0], batch[:, 1])
    torch.testing.assert_close(target, 100 * torch.nn.functional.avg_pool2d(batch[:, 1] - batch[:, 0], 2))

    torch.manual_seed(5)
    out = net.losses(batch)
    assert set(out) == {"loss", "kl", "reconstruction"}
    expected_kl = kl_divergence(Normal(mean, (0.5 * logvar).exp()), Normal(0.0, 1.0)).sum(1).mean()
    torch.testing.assert_close(out["kl"], expected_kl)
    torch.manual_seed(5)  # the same reparameterisation noise
    z = mean + torch.randn_like(mean) * (0.5 * logvar).exp()
    recon = (net.decode(z, batch[:, 0]) - target).pow(2).sum((1, 2, 3)).mean()
    torch.testing.assert_close(out["reconstruction"], recon)
    torch.testing.assert_close(out["loss"], out["kl"] + TINY.recon_weight * recon)
    out["loss"].backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in net.parameters())


def test_kl_weight_scales_only_the_kl_term():
    from dataclasses import replace

    batch = torch.rand(2, 2, 3, 32, 32)
    losses = []
    for weight in (1.0, 10.0):
        torch.manual_seed(0)
        net = CrossConvNet(replace(TINY, kl_weight=weight))
        torch.manual_seed(1)
        losses.append(net.losses(batch))
    torch.testing.assert_close(losses[0]["kl"], losses[1]["kl"])
    torch.testing.assert_close(losses[1]["loss"], 10 * losses[1]["kl"] + losses[1]["reconstruction"])


@pytest.mark.parametrize("z_size", [8, 32])
def test_a_smaller_z_goes_through_linear_maps_to_the_kernel_code(z_size):
    from dataclasses import replace

    cfg = replace(TINY, z_size=z_size)
    net, full = CrossConvNet(cfg), CrossConvNet(TINY)
    batch = torch.rand(3, 2, 3, 32, 32)
    mean, logvar = net.encode(batch[:, 0], batch[:, 1])
    assert cfg.z_dim == z_size and cfg.code_dim == TINY.z_dim == 200
    assert mean.shape == logvar.shape == (3, z_size)
    assert net.decode(mean, batch[:, 0]).shape == (3, 3, 16, 16)
    assert net.sample(batch[:, 0], sample_prior(3, cfg.z_dim)).shape == (3, 3, 32, 32)
    extra = sum(p.numel() for p in net.parameters()) - sum(p.numel() for p in full.parameters())
    assert extra == (2 * 200 * 2 * z_size + 2 * z_size) + (z_size * 200 + 200)  # the two linear maps
    with pytest.raises(ValueError, match="z_size"):
        CrossConvConfig(image_size=32, num_scales=2, maps=4, width=0.125, z_size=-1)


def test_autoencoder_baseline_has_no_kl_and_no_sampling():
    from dataclasses import replace

    net = CrossConvNet(replace(TINY, variational=False))
    batch = torch.rand(2, 2, 3, 32, 32)
    z1, mean, _ = net.latent(batch[:, 0], batch[:, 1])
    z2, _, _ = net.latent(batch[:, 0], batch[:, 1])
    assert torch.equal(z1, mean) and torch.equal(z1, z2)
    out = net.losses(batch)
    assert set(out) == {"loss", "reconstruction"}
    torch.testing.assert_close(out["loss"], out["reconstruction"])


def test_a_few_steps_fit_one_batch():
    torch.manual_seed(0)
    net = CrossConvNet(TINY)
    image = torch.nn.functional.avg_pool2d(torch.rand(4, 3, 36, 36), 5, 1)  # smooth 32x32 frames
    batch = torch.stack([image, torch.roll(image, 2, -1)], 1)  # each moves 2 px right
    opt = torch.optim.Adam(net.parameters(), lr=3e-2)
    losses = []
    for _ in range(30):
        opt.zero_grad()
        loss = net.losses(batch)["reconstruction"]
        losses.append(loss.item())
        loss.backward()
        opt.step()
    assert losses[-1] < 0.8 * losses[0]


def test_empirical_and_prior_z():
    g = torch.Generator().manual_seed(0)
    means = torch.arange(5, dtype=torch.float32)[:, None].repeat(1, 3)  # row i is all i
    tight = ZBank(means, torch.full((5, 3), -40.0))
    z = sample_empirical(tight, 2000, g)
    assert z.shape == (2000, 3)
    rows = z[:, 0].round()
    assert torch.allclose(z, rows[:, None].expand(-1, 3), atol=1e-6)  # each draw is one training pair's z
    counts = torch.bincount(rows.long(), minlength=5)
    assert (counts > 300).all()  # every pair is drawn, about uniformly
    wide = sample_empirical(ZBank(means, torch.zeros(5, 3)), 20000, g)  # q(z|pair) = N(mean, 1)
    assert abs((wide - wide.round().clamp(0, 4)).std().item() - 0.8) < 0.3
    ae = sample_empirical(ZBank(means, torch.zeros(5, 3), variational=False), 100, g)
    assert torch.equal(ae, ae[:, :1].expand(-1, 3)) and set(ae[:, 0].tolist()) <= set(range(5))
    prior = sample_prior(20000, 4, g)
    assert prior.shape == (20000, 4) and abs(prior.mean().item()) < 0.03 and abs(prior.std().item() - 1) < 0.03


def test_collect_z_and_sample_frames():
    net = CrossConvNet(TINY)
    batches = [torch.rand(3, 2, 3, 32, 32), torch.rand(2, 2, 3, 32, 32)]
    bank = collect_z(net, batches)
    assert bank.mean.shape == bank.logvar.shape == (5, TINY.z_dim) and net.training
    image = torch.rand(4, 3, 32, 32)
    frames = net.sample(image, sample_empirical(bank, 4))
    assert frames.shape == (4, 3, 32, 32) and frames.min() >= 0 and frames.max() <= 1
    # A decoder output of exactly zero difference gives back the input frame.
    torch.testing.assert_close(net.future_frames(image, torch.zeros(4, 3, 16, 16)), image)


def test_samples_for_one_image_can_share_its_feature_maps():
    """network_frames computes an image's maps once for all its samples: the same frames as computing
    them per sample, and the maps passed are the ones used."""
    net = CrossConvNet(TINY).eval()
    image, other = torch.rand(4, 3, 32, 32), torch.rand(4, 3, 32, 32)
    z = sample_prior(4, TINY.z_dim, torch.Generator().manual_seed(0))
    assert torch.equal(net.sample(image, z, net.feature_maps(image)), net.sample(image, z))
    assert not torch.equal(net.sample(image, z, net.feature_maps(other)), net.sample(image, z))


def test_pooling_before_the_relu_gives_the_papers_values_and_gradients():
    """The encoders pool before their ReLU (cheaper); the paper's order (ReLU, then pool) must give the
    same output and the same weight gradients, in float64."""
    torch.manual_seed(0)
    net = CrossConvNet(TINY).double()
    encoder = net.image_encoders[0].net
    layers = list(encoder)
    pools = [i for i, m in enumerate(layers) if isinstance(m, torch.nn.MaxPool2d)]
    assert pools and all(isinstance(layers[i + 1], torch.nn.ReLU) for i in pools)
    papers_order = list(layers)
    for i in pools:
        papers_order[i], papers_order[i + 1] = papers_order[i + 1], papers_order[i]
    image = torch.rand(2, 3, 32, 32, dtype=torch.float64) - 0.5
    grads = []
    for order in (layers, papers_order):
        net.zero_grad()
        out = torch.nn.Sequential(*order)(image)
        (out * torch.linspace(-1, 1, out.numel(), dtype=torch.float64).view_as(out)).sum().backward()
        grads.append((out.detach(), [p.grad.clone() for p in encoder.parameters()]))
    (out_a, grad_a), (out_b, grad_b) = grads
    torch.testing.assert_close(out_a, out_b, rtol=0, atol=0)
    for a, b in zip(grad_a, grad_b):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)

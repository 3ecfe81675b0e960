"""walker CVAE and regressor: shapes at every head, paper-scale tower sizes, sampling, training."""

import numpy as np
import pytest
import torch

from pipeline.papers.walker.model import (
    WalkerConfig,
    WalkerNet,
    build_walker,
    downsample_trajectories,
    join_magnitude,
    split_magnitude,
    walker_model_config,
)

SMOKE = dict(image_size=(48, 64), coarse_size=(3, 4), width=1 / 16)


def _conv(cin: int, cout: int, k: int, bn: bool = True) -> int:
    return cin * cout * k * k + cout + (2 * cout if bn else 0)


def _count(module: torch.nn.Module | None) -> int:
    return 0 if module is None else sum(p.numel() for p in module.parameters())


def test_paper_scale_tower_sizes_follow_the_layer_lists():
    """C(96,11)-C(256,5)-C(384,3)-C(384,3)-C(256,3)x10; encoder on 256 + 10 + 2 channels; decoder."""
    image = _conv(3, 96, 11) + _conv(96, 256, 5) + _conv(256, 384, 3) + _conv(384, 384, 3) + _conv(384, 256, 3)
    image += 9 * _conv(256, 256, 3)
    encoder = _conv(256 + 12, 96, 11) + _conv(96, 256, 5) + _conv(256, 384, 3) + _conv(384, 384, 3) + _conv(384, 256, 3)
    encoder += 4 * _conv(256, 8, 1, bn=False)  # mu, log sigma of z and of z_mag
    modulation = 8 * 256 + 256  # z -> per-channel multiplier
    decoder = modulation + 4 * _conv(256, 256, 3) + _conv(256, 10, 3, bn=False)
    magnitude = modulation + 4 * _conv(256, 256, 3) + _conv(256, 2, 3, bn=False)
    fine = _conv(256 + 256, 256, 5) + _conv(256, 10, 5, bn=False) + _conv(256 + 96, 10, 5, bn=False)
    with torch.device("meta"):
        cvae, reg = WalkerNet(WalkerConfig()), WalkerNet(WalkerConfig(kind="regressor"))
    assert _count(cvae.image_tower) == image
    assert _count(cvae.encoder) == encoder
    assert _count(cvae.decoder) == decoder and _count(cvae.magnitude_decoder) == magnitude
    assert _count(cvae.mid) + _count(cvae.mid_out) + _count(cvae.fine_out) == fine
    assert _count(cvae) == image + encoder + decoder + magnitude + fine
    assert _count(reg) == image + (decoder - modulation) + (magnitude - modulation) + fine
    with torch.device("meta"):
        f, f2, f1 = cvae.image_tower(torch.empty(1, 3, 240, 320))
    assert f.shape == (1, 256, 16, 20) and f2.shape == (1, 256, 32, 40) and f1.shape == (1, 96, 64, 80)


def test_config_geometry():
    assert WalkerConfig().margin == (8, 0)
    assert WalkerConfig(**SMOKE).level_size(2) == (12, 16)
    with pytest.raises(ValueError, match="coarse H"):
        WalkerConfig(image_size=(240, 320), coarse_size=(14, 20))
    with pytest.raises(ValueError, match="kind"):
        WalkerConfig(kind="gan")
    cfg = WalkerConfig(**SMOKE)
    assert build_walker(walker_model_config(cfg)).cfg == cfg  # lists from a checkpoint or YAML


def test_magnitude_split_round_trip():
    y = torch.randn(3, 10, 4, 5) * torch.tensor([5.0] * 5 + [0.1] * 5)[None, :, None, None]
    ynorm, mag = split_magnitude(y, eps=1e-6)
    torch.testing.assert_close(join_magnitude(ynorm, mag), y)
    rms = ynorm.unflatten(1, (2, 5)).pow(2).mean(dim=(2, 3, 4)).sqrt()  # (B, 2)
    torch.testing.assert_close(rms, torch.ones(3, 2), atol=1e-5, rtol=0)
    assert torch.all(split_magnitude(torch.zeros(1, 10, 2, 2), eps=1e-3)[0] == 0)


def test_trajectory_downsampling_nests():
    cfg = WalkerConfig(image_size=(40, 64), coarse_size=(3, 4), width=1 / 16)  # 8 rows of margin
    traj = torch.randn(2, 10, 40, 64)
    levels = [downsample_trajectories(traj, cfg, level) for level in range(3)]
    assert [tuple(t.shape[2:]) for t in levels] == [(3, 4), (6, 8), (12, 16)]
    torch.testing.assert_close(torch.nn.functional.avg_pool2d(levels[2], 4), levels[0])
    const = downsample_trajectories(torch.full((1, 10, 40, 64), 2.5), cfg)
    torch.testing.assert_close(const, torch.full_like(const, 2.5))


@pytest.mark.parametrize("kind", ["cvae", "regressor"])
def test_training_step_trains_every_head_up_to_the_given_resolution(kind):
    cfg = WalkerConfig(kind=kind, **SMOKE)
    net = WalkerNet(cfg)
    image = torch.rand(2, 3, 48, 64) * 2 - 1
    for level in range(3):
        out = net.losses((image, torch.randn(2, 10, *cfg.level_size(level))))
        assert set(out) == {"loss", "coarse", "fine", "magnitude", "kl"}
        assert (float(out["fine"]) > 0) == (level > 0)
        assert (float(out["kl"]) > 0) == (kind == "cvae")
    with pytest.raises(ValueError, match="trajectories"):
        net.losses((image, torch.randn(2, 10, 5, 5)))
    ynorm, mag = net.predict_parts(image, level=2)
    assert ynorm.shape == (2, 10, 12, 16) and mag.shape == (2, 2)


def test_samples_shapes_seed_and_chunking():
    net = WalkerNet(WalkerConfig(**SMOKE))
    image = torch.rand(2, 3, 48, 64) * 2 - 1
    a = net.sample(image, 5, torch.Generator().manual_seed(0), chunk=2)
    b = net.sample(image, 5, torch.Generator().manual_seed(0), chunk=5)
    assert a.shape == (5, 2, 10, 3, 4)
    torch.testing.assert_close(a, b)
    coarse, _ = net.sample_parts(image, 3, torch.Generator().manual_seed(0))
    assert (coarse[0] - coarse[1]).abs().max() > 0.1 * coarse.abs().max()  # different z, futures
    ynorm, mag = net.sample_parts(image, 3, torch.Generator().manual_seed(0), level=1)
    assert ynorm.shape == (3, 2, 10, 6, 8) and mag.shape == (3, 2, 2) and torch.all(mag >= 0)
    assert net.training
    with pytest.raises(ValueError, match="regressor"):
        WalkerNet(WalkerConfig(kind="regressor", **SMOKE)).sample(image, 2)


@pytest.mark.parametrize("kind", ["cvae", "regressor"])
def test_training_steps_reduce_the_loss(kind):
    torch.manual_seed(0)
    cfg = WalkerConfig(kind=kind, **SMOKE)
    net = WalkerNet(cfg)
    image = torch.rand(4, 3, 48, 64) * 2 - 1
    # Smooth fields: each image moves as a whole, with its own direction and speed.
    direction = torch.randn(4, 10, 1, 1)
    traj = direction * torch.linspace(0.5, 1.5, 4)[None, None, None, :].expand(4, 10, 3, 4)
    opt = torch.optim.Adam(net.parameters(), lr=2e-3)
    losses = []
    for _ in range(30):
        out = net.losses((image, traj))
        opt.zero_grad()
        out["loss"].backward()
        opt.step()
        losses.append(float(out["loss"].detach()))
    assert np.mean(losses[-5:]) < 0.5 * np.mean(losses[:5])


TOY = dict(image_size=(32, 32), coarse_size=(2, 2), width=1 / 16, fine_levels=0)


def _two_mode_toy(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Noise frames whose whole field moves at (+1, 1) or (-1, 1) px/frame, even odds: the frame
    says it moves down, never which way sideways. -> images (n, 3, 32, 32), DCT (n, 10, 32, 32)."""
    from pipeline.trajectories import dct_encode

    rng = np.random.default_rng(seed)
    t = np.arange(1, 31, dtype=np.float32)
    coefs = {s: torch.from_numpy(dct_encode(0.05 * np.stack([s * t, t], axis=-1))) for s in (-1, 1)}  # (10,) each
    dct = torch.stack([coefs[int(s)] for s in rng.choice([-1, 1], size=n)])[:, :, None, None]
    images = torch.from_numpy(rng.uniform(-1, 1, (n, 3, 32, 32)).astype(np.float32))
    return images, dct.expand(-1, -1, 32, 32).contiguous()


def _train(cfg: WalkerConfig, steps: int) -> WalkerNet:
    torch.manual_seed(0)
    model = WalkerNet(cfg)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    for step in range(steps):
        images, dct = _two_mode_toy(8, step)
        loss = model.losses((images, downsample_trajectories(dct, cfg)))["loss"]
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model


def test_cvae_learns_both_futures_and_the_regressor_their_mean():
    """The paper's point on a toy: sampled CVAE futures cover both modes (a best-of-n sample
    reaches either), the regressor predicts the mean of the two."""
    torch.set_num_threads(1)
    cvae = _train(WalkerConfig(kind="cvae", **TOY), 175)
    regressor = _train(WalkerConfig(kind="regressor", **TOY), 60)
    image, truth = _two_mode_toy(1, 10_000)
    mode = split_magnitude(downsample_trajectories(truth, cvae.cfg))[0][0]  # (10, 2, 2), one of the two
    x, y = mode[:5].flatten(), mode[5:].flatten()  # the other mode is (-x, y)

    def along(field: torch.Tensor, axis: torch.Tensor, part: slice) -> torch.Tensor:
        """Projection of normalized fields (..., 10, 2, 2) on a mode's axis part: +-1 on a mode, 0 between."""
        return field[..., part, :, :].flatten(-3) @ axis / axis.dot(axis)

    ynorm, _ = cvae.sample_parts(image, 200, torch.Generator().manual_seed(1))  # (200, 1, 10, 2, 2)
    side = along(ynorm[:, 0], x, slice(0, 5))  # (200,)
    assert (side > 0.5).float().mean() > 0.2 and (side < -0.5).float().mean() > 0.2  # both modes sampled
    assert (side - 1).abs().min() < 0.15 and (side + 1).abs().min() < 0.15  # some samples reach each mode
    assert (along(ynorm[:, 0], y, slice(5, 10)) > 0.5).float().mean() > 0.9  # all go down
    reg, _ = regressor.predict_parts(image)
    assert along(reg[0], x, slice(0, 5)).abs() < 0.3  # sideways: the mean of the two modes
    assert along(reg[0], y, slice(5, 10)) > 0.5  # but it does know the field goes down

"""VGAN objectives: the GAN's two optimizers, future generation, the AE + GMM baseline, a toy game."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from pipeline.papers.vgan.gan import (
    AutoencoderObjective,
    CodeGMM,
    VideoGAN,
    average_exponent,
    encode_clips,
    sample_autoencoder,
)
from pipeline.papers.vgan.model import (
    Autoencoder,
    Discriminator,
    FutureGenerator,
    Generator,
    VGANConfig,
)

TINY = VGANConfig(z_dim=8, frames=16, size=16, width=1 / 16)


def clips(n: int, cfg: VGANConfig = TINY, seed: int = 0) -> torch.Tensor:
    """Random clips in the project layout (B, T, C, H, W), in [-1, 1]."""
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, cfg.frames, cfg.channels, cfg.size, cfg.size, generator=g) * 2 - 1


def flat_clips(n: int, cfg: VGANConfig = TINY, seed: int = 0) -> torch.Tensor:
    """Clips of one random colour each: easy to reconstruct through a tiny code."""
    g = torch.Generator().manual_seed(seed)
    colour = torch.rand(n, 1, cfg.channels, 1, 1, generator=g) * 1.6 - 0.8
    return colour.expand(n, cfg.frames, cfg.channels, cfg.size, cfg.size).contiguous()


def snapshot(module: torch.nn.Module) -> list[torch.Tensor]:
    return [p.detach().clone() for p in module.parameters()]


def changed(module: torch.nn.Module, before: list[torch.Tensor]) -> bool:
    return any(not torch.equal(p, q) for p, q in zip(module.parameters(), before, strict=True))


@pytest.mark.parametrize("two_stream", [False, True])
def test_gan_steps_are_finite_and_move_both_players(two_stream: bool) -> None:
    torch.manual_seed(0)
    cfg = VGANConfig(z_dim=8, frames=16, size=16, width=1 / 16, two_stream=two_stream)
    gan = VideoGAN(Generator(cfg), Discriminator(cfg))
    assert set(gan.modules()) == set(gan.optimizers()) == {"generator", "discriminator"}
    g0, d0 = snapshot(gan.generator), snapshot(gan.discriminator)
    for step in range(3):
        logs = gan.training_step(clips(4, cfg, seed=step), step)
        assert all(isinstance(v, float) and math.isfinite(v) for v in logs.values())
    assert changed(gan.generator, g0) and changed(gan.discriminator, d0)
    assert ("mask_l1" in logs) == two_stream and "first_frame" not in logs
    assert 0 <= logs["d_real_accuracy"] <= 1 and 0 <= logs["d_fake_accuracy"] <= 1


def test_generator_step_leaves_the_discriminator_gradient_alone() -> None:
    """D's gradients when G's optimizer steps are those D's optimizer stepped with: D first."""
    torch.manual_seed(0)
    gan = VideoGAN(Generator(TINY), Discriminator(TINY))
    seen: list[str] = []
    grads: dict[str, list[torch.Tensor]] = {}
    for name, opt in gan.optimizers().items():
        def step(_original=opt.step, _name=name) -> None:
            seen.append(_name)
            grads[_name] = [p.grad.clone() for p in gan.discriminator.parameters()]
            _original()

        opt.step = step
    gan.training_step(clips(4), 0)
    assert seen == ["discriminator", "generator"]
    for d_step, g_step in zip(grads["discriminator"], grads["generator"], strict=True):
        assert torch.equal(d_step, g_step)


def test_discriminator_step_uses_only_the_discriminator_optimizer() -> None:
    # With G's learning rate at zero, only D may change.
    torch.manual_seed(0)
    gan = VideoGAN(Generator(TINY), Discriminator(TINY))
    gan.optimizers()["generator"].param_groups[0]["lr"] = 0.0
    g0 = snapshot(gan.generator)
    gan.training_step(clips(4), 0)
    assert all(torch.equal(p, q) for p, q in zip(gan.generator.parameters(), g0, strict=True))


def test_mask_prior_pulls_the_mask_toward_the_background() -> None:
    def final_mask(weight: float) -> float:
        torch.manual_seed(0)
        gan = VideoGAN(Generator(TINY), Discriminator(TINY), lr=2e-3, mask_penalty=weight)
        for step in range(15):
            gan.training_step(clips(4, seed=step), step)
        with torch.no_grad():
            return float(gan.generator.decompose(torch.randn(8, TINY.z_dim)).mask.mean())

    assert final_mask(10.0) < final_mask(0.0) - 0.1


def test_future_generation_learns_the_first_frame() -> None:
    torch.manual_seed(0)
    gan = VideoGAN(FutureGenerator(TINY), Discriminator(TINY), lr=2e-3, mask_penalty=0.0)
    batch = flat_clips(8)
    errors = [gan.training_step(batch, step)["first_frame"] for step in range(25)]
    assert errors[-1] < 0.75 * errors[0]
    futures = gan.predict(batch[:, 0])
    assert futures.shape == batch.shape
    with pytest.raises(TypeError):
        gan.sample(2)


def test_averaged_generator_is_the_power_function_average_of_the_live_one() -> None:
    """After each step t (1-based) the average is decay * average + (1 - decay) * live with decay
    (1 - 1/t)^(gamma + 1), weights and batch-norm statistics alike; D plays the live generator
    (the game is the plain one's to the bit); samples come from the average."""
    torch.manual_seed(0)
    plain = VideoGAN(Generator(TINY), Discriminator(TINY))
    torch.manual_seed(0)
    gan = VideoGAN(Generator(TINY), Discriminator(TINY), average=0.15)
    gamma = average_exponent(0.15)
    assert "generator_average" not in plain.modules() and set(gan.optimizers()) == {"generator", "discriminator"}
    expected = {k: v.clone() for k, v in gan.generator.state_dict().items()}
    for step in range(12):
        torch.manual_seed(100 + step)
        plain.training_step(clips(4, seed=step), step)
        torch.manual_seed(100 + step)
        gan.training_step(clips(4, seed=step), step)
        decay = (1 - 1 / (step + 1)) ** (gamma + 1)
        for name, value in gan.generator.state_dict().items():
            expected[name] = decay * expected[name] + (1 - decay) * value if value.is_floating_point() else value
    for a, b in zip(plain.generator.parameters(), gan.generator.parameters(), strict=True):
        assert torch.equal(a, b)  # averaging leaves the game alone
    average = gan.modules()["generator_average"].state_dict()
    for name, value in expected.items():
        torch.testing.assert_close(average[name], value, rtol=1e-5, atol=1e-6)
    first = next(name for name, value in average.items() if value.is_floating_point())
    assert not torch.equal(average[first], gan.generator.state_dict()[first])  # an average, not a copy
    assert not any(p.requires_grad for p in gan.generator_average.parameters())
    assert torch.equal(gan.sample(2, seed=3), _eval_clips(gan.generator_average, 2, seed=3))


@pytest.mark.parametrize("gamma", [0.0, 2.0, 9.0])
def test_average_width_gives_the_exponent_whose_weights_have_that_width(gamma: float) -> None:
    """sigma_rel is the standard deviation of the weights ~ s^gamma over training time [0, 1]: computed
    here from the discrete weights the update gives after 2,000 steps."""
    steps = 2000
    weights = np.zeros(steps)  # weight of step s's iterate in the average after the last step
    for s in range(steps):
        decay = (1 - 1 / (s + 1)) ** (gamma + 1)
        weights *= decay
        weights[s] = 1 - decay
    t = (np.arange(steps) + 1) / steps
    mean = float((weights * t).sum())
    width = float(np.sqrt((weights * (t - mean) ** 2).sum()))
    assert weights.sum() == pytest.approx(1.0)
    assert average_exponent(width) == pytest.approx(gamma, abs=0.05)
    with pytest.raises(ValueError, match="average"):
        average_exponent(0.3)  # wider than a uniform mean


def _eval_clips(generator: Generator, n: int, seed: int) -> torch.Tensor:
    z = torch.randn(n, generator.cfg.z_dim, generator=torch.Generator().manual_seed(seed))
    generator.eval()
    with torch.no_grad():
        return generator(z).permute(0, 2, 1, 3, 4)


def test_samples_are_seeded_and_leave_training_mode_alone() -> None:
    torch.manual_seed(0)
    gan = VideoGAN(Generator(TINY), Discriminator(TINY))
    a, b = gan.sample(3, seed=1), gan.sample(3, seed=1)
    assert a.shape == (3, 16, 3, 16, 16) and torch.equal(a, b)
    assert not torch.equal(a, gan.sample(3, seed=2))
    assert gan.generator.training


def moving_squares(n: int, g: torch.Generator) -> torch.Tensor:
    """(n, 16, 1, 16, 16): a bright 4x4 square on black, moving right 1 px every 2 frames."""
    x = torch.full((n, 16, 1, 16, 16), -1.0)
    starts = torch.randint(0, 4, (n,), generator=g)
    rows = torch.randint(0, 12, (n,), generator=g)
    for i in range(n):
        for t in range(16):
            c = int(starts[i]) + t // 2
            x[i, t, 0, rows[i] : rows[i] + 4, c : c + 4] = 1
    return x


def test_toy_game_moves_the_generator_toward_the_data() -> None:
    """~100 steps (about 8 s on one core): per-clip contrast goes from ~0 toward the data's.

    Separate real/fake batches through D's batch norm hide a global brightness offset from D,
    so the statistic is the per-clip standard deviation, which D can see (real: 0.48).
    """
    torch.manual_seed(0)
    cfg = VGANConfig(z_dim=16, frames=16, size=16, channels=1, width=1 / 8)
    gan = VideoGAN(Generator(cfg), Discriminator(cfg), lr=1e-3)
    g = torch.Generator().manual_seed(0)

    def contrast(video: torch.Tensor) -> float:
        return float(video.flatten(1).std(1).mean())

    def fake_contrast() -> float:
        with torch.no_grad():
            return contrast(gan.generator(torch.randn(64, cfg.z_dim)))

    real = contrast(moving_squares(64, g))
    start = abs(fake_contrast() - real)
    logs = [gan.training_step(moving_squares(16, g), step) for step in range(100)]
    end = abs(fake_contrast() - real)
    assert end < 0.8 * start
    late = [(r["d_real_accuracy"] + r["d_fake_accuracy"]) / 2 for r in logs[-30:]]
    assert np.mean(late) < 0.97  # D has not simply won
    assert all(math.isfinite(r["loss_g"]) for r in logs)


def test_autoencoder_objective_reduces_reconstruction_error() -> None:
    torch.manual_seed(0)
    ae = Autoencoder(TINY)
    objective = AutoencoderObjective(ae, lr=2e-3)
    assert set(objective.modules()) == set(objective.optimizers()) == {"model"}
    batch = flat_clips(8)
    losses = [objective.training_step(batch, step)["reconstruction"] for step in range(20)]
    assert losses[-1] < 0.8 * losses[0]


def test_gmm_recovers_a_known_mixture_and_round_trips() -> None:
    rng = np.random.default_rng(0)
    centres = np.array([[-5.0, 0.0, 0.0], [5.0, 0.0, 0.0]])
    which = rng.random(600) < 0.25  # 25% in the first component
    codes = centres[which.astype(int) ^ 1] + rng.normal(0, 0.5, (600, 3))
    gmm = CodeGMM.fit(codes, components=2, seed=0)
    draws = gmm.sample(4000, seed=1)
    assert np.mean(draws[:, 0] < 0) == pytest.approx(0.25, abs=0.03)
    assert np.std(draws[draws[:, 0] > 0, 1]) == pytest.approx(0.5, abs=0.05)
    assert not np.all(np.diff(draws[:50, 0] < 0) == 0)  # shuffled, not grouped by component
    again = CodeGMM.from_state(gmm.state())
    np.testing.assert_array_equal(again.sample(10, seed=3), gmm.sample(10, seed=3))
    with pytest.raises(ValueError, match="components"):
        CodeGMM.fit(codes[:3], components=4)


def test_autoencoder_baseline_samples_through_the_decoder() -> None:
    torch.manual_seed(0)
    ae = Autoencoder(TINY)
    codes = encode_clips(ae, clips(12), batch_size=5)
    assert codes.shape == (12, TINY.z_dim)
    gmm = CodeGMM.fit(codes, components=2, seed=0)
    videos = sample_autoencoder(ae, gmm, 5, seed=0, batch_size=2)
    assert videos.shape == (5, 16, 3, 16, 16) and videos.abs().max() <= 1

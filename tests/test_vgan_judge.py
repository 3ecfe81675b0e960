"""The automatic Table 1 judge and the weight-free statistics, on inputs with known answers."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pipeline.papers.vgan.judge import (
    JudgeConfig,
    background_temporal_variance,
    diversity,
    flicker,
    frechet_distance,
    kernel_distance,
    mask_sparsity,
    pair_rate,
    panel_seeds,
    preference,
    real_vs_real_control,
    score_control,
    score_preference,
    stream_clips,
    train_judge,
    video_halves,
)
from pipeline.papers.vgan.model import Generator, VGANConfig


def squares(n: int, seed: int) -> torch.Tensor:
    """(n, 8, 1, 16, 16) "real" clips: a bright square drifting right on a dark background."""
    g = torch.Generator().manual_seed(seed)
    x = torch.full((n, 8, 1, 16, 16), -1.0)
    rows, cols = torch.randint(0, 10, (n,), generator=g), torch.randint(0, 4, (n,), generator=g)
    for i in range(n):
        for t in range(8):
            c = int(cols[i]) + t
            x[i, t, 0, rows[i] : rows[i] + 5, c : c + 5] = 1.0
    return x + 0.05 * torch.randn(x.shape, generator=g)


def noise(n: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, 8, 1, 16, 16, generator=g) * 2 - 1


@pytest.fixture(scope="module")
def judge():
    torch.manual_seed(0)
    return train_judge(squares(128, 1), noise(128, 2), JudgeConfig(width=8, steps=60, seed=0))


def test_judge_prefers_structured_clips_over_noise(judge) -> None:
    pref = preference(judge, squares(64, 3), noise(64, 4), n_boot=500)
    assert pref.rate > 0.9 and pref.pairs == 64 * 64 and pref.clips == (64, 64)
    assert pref.low <= pref.rate <= pref.high <= 1
    reverse = preference(judge, noise(64, 4), squares(64, 3), n_boot=500)
    assert reverse.rate == pytest.approx(1 - pref.rate)


def test_real_vs_real_control_is_near_chance(judge) -> None:
    control = real_vs_real_control(judge, squares(200, 5), n_boot=500)
    assert control.clips == (100, 100)
    assert abs(control.rate - 0.5) < 0.15
    assert control.low < 0.5 < control.high


def test_judge_features_feed_the_distances(judge) -> None:
    with torch.no_grad():
        real_a = judge.features(squares(64, 6)).numpy()
        real_b = judge.features(squares(64, 7)).numpy()
        fake = judge.features(noise(64, 8)).numpy()
    assert frechet_distance(real_a, fake) > 5 * frechet_distance(real_a, real_b)
    assert kernel_distance(real_a, fake) > 5 * abs(kernel_distance(real_a, real_b))


def test_frechet_distance_known_answers() -> None:
    rng = np.random.default_rng(0)
    a = rng.normal(size=(4000, 4))
    assert frechet_distance(a, a) == pytest.approx(0, abs=1e-6)
    shift = np.array([3.0, 0.0, 4.0, 0.0])  # |shift|^2 = 25, same covariance
    assert frechet_distance(a, a + shift) == pytest.approx(25, abs=1e-6)
    # N(0, I) vs N(0, 4I) in d dims: tr(I + 4I - 2 * 2I) = d.
    b = rng.normal(size=(4000, 4)) * 2
    assert frechet_distance(a, b) == pytest.approx(4, rel=0.1)


def test_kernel_distance_known_answers() -> None:
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(500, 8)), rng.normal(size=(500, 8))
    same = kernel_distance(a, b)
    assert abs(same) < 0.05
    assert kernel_distance(a, b + 1.0) > 20 * max(abs(same), 1e-3)
    assert kernel_distance(a, b + 1.0) < kernel_distance(a, b + 2.0)


def test_two_stream_background_is_still_by_construction() -> None:
    torch.manual_seed(0)
    g = Generator(VGANConfig(z_dim=8, frames=16, size=16, width=1 / 16))
    with torch.no_grad():
        streams = stream_clips(g.decompose(torch.randn(4, 8)))
    assert streams["background"].shape == streams["video"].shape == (4, 16, 3, 16, 16)
    assert background_temporal_variance(streams["background"]) == 0
    assert background_temporal_variance(streams["video"]) > 0  # the composed video moves
    assert 0 < mask_sparsity(streams["mask"]) < 1
    one = Generator(VGANConfig(z_dim=8, frames=16, size=16, width=1 / 16, two_stream=False))
    with torch.no_grad():
        assert set(stream_clips(one.decompose(torch.randn(2, 8)))) == {"video", "foreground"}


def test_flicker_diversity_and_mask_sparsity_known_answers() -> None:
    still = torch.rand(3, 1, 2, 4, 4).expand(3, 6, 2, 4, 4)
    assert flicker(still) == 0
    blink = torch.ones(2, 6, 1, 4, 4)
    blink[:, 1::2] = -1
    assert flicker(blink) == pytest.approx(2)
    assert diversity(still[:1].expand(5, 6, 2, 4, 4)) == pytest.approx(0, abs=1e-6)
    pair = torch.stack([torch.full((6, 1, 4, 4), -1.0), torch.full((6, 1, 4, 4), 1.0)])
    assert diversity(pair) == pytest.approx(2)
    mask = torch.zeros(2, 4, 1, 4, 4)
    mask[:, :, :, :2] = 1  # half the pixels
    assert mask_sparsity(mask) == pytest.approx(0.5)
    with pytest.raises(ValueError):
        flicker(torch.zeros(2, 1, 1, 4, 4))


def test_control_halves_are_whole_videos(judge) -> None:
    videos = [f"v{k}" for k in range(9) for _ in range(k + 1)]  # nine videos of 1..9 clips
    a, b = video_halves(videos, seed=3)
    side_a, side_b = {videos[i] for i in a}, {videos[i] for i in b}
    assert len(side_a) == len(side_b) == 4 and not side_a & side_b  # one odd video out
    assert len(a) == sum(videos.count(v) for v in side_a)  # every clip of a chosen video
    clips = squares(45, 9)
    control = real_vs_real_control(judge, clips, videos=videos, n_boot=100, seed=3)
    assert control.clips == (len(a), len(b))
    with pytest.raises(ValueError, match="video names"):
        real_vs_real_control(judge, clips, videos=videos[:5])
    with pytest.raises(ValueError, match="at least 2 videos, got 1"):  # one video cannot be split
        real_vs_real_control(judge, clips[:3], videos=["v0"] * 3)


def test_a_panel_rate_is_the_mean_of_its_judges_and_its_interval_holds_their_disagreement() -> None:
    rng = np.random.default_rng(0)
    sa, sb = rng.normal(size=(3, 40)), rng.normal(size=(3, 30))
    sa[0] += 3  # judge 0 finds A far more real; judges 1 and 2 see no difference
    per_judge = [pair_rate(sa[j], sb[j]) for j in range(3)]
    panel = score_preference(sa, sb, n_boot=400, seed=1)
    assert panel.rate == pytest.approx(np.mean(per_judge)) and panel.clips == (40, 30)
    assert per_judge[0] > 0.95 and abs(per_judge[1] - 0.5) < 0.2
    # resampling the judges spreads the interval over the disagreement; clips alone (one judge's scores
    # repeated) cannot
    same = score_preference(np.repeat(sa[:1], 3, axis=0), np.repeat(sb[:1], 3, axis=0), n_boot=400, seed=1)
    assert panel.high - panel.low > 2 * (same.high - same.low)
    # a panel of one is the single judge, to the bootstrap's draws
    single, one = score_preference(sa[1], sb[1], n_boot=300, seed=2), score_preference(sa[1:2], sb[1:2], n_boot=300, seed=2)
    assert (single.rate, single.low, single.high) == (one.rate, one.low, one.high)
    with pytest.raises(ValueError, match="same panel"):
        score_preference(sa, sb[:2])
    control = score_control(np.stack([sa[1], sa[2]]), [f"v{k // 4}" for k in range(40)], n_boot=100)
    assert control.clips == (20, 20)


def test_panel_seeds_start_with_the_graph_seed_and_never_repeat() -> None:
    assert panel_seeds(7, 1) == [7]
    seeds = panel_seeds(7, 5)
    assert seeds[0] == 7 and len(set(seeds)) == 5 and seeds == panel_seeds(7, 5)
    assert not set(seeds[1:]) & set(panel_seeds(8, 5))  # another graph seed's panel is another
    with pytest.raises(ValueError, match="panel must be at least 1"):
        panel_seeds(0, 0)


def test_real_clips_are_resampled_by_video_so_alike_clips_of_a_video_do_not_narrow_the_interval() -> None:
    rng = np.random.default_rng(3)
    videos = [f"v{k}" for k in range(10) for _ in range(8)]  # ten real videos of eight alike clips
    real = np.repeat(rng.normal(0, 1, 10), 8) + 0.05 * rng.normal(size=80)
    fake = rng.normal(0, 1, 60)
    by_clip = score_preference(fake, real, n_boot=500, seed=4)
    by_video = score_preference(fake, real, n_boot=500, seed=4, videos_b=videos)
    assert by_video.rate == by_clip.rate  # the rate is over every pair either way
    assert by_video.high - by_video.low > 1.5 * (by_clip.high - by_clip.low)  # 10 videos, not 80 clips (2.2x here)
    # one clip per video is the clip bootstrap (the same distribution of draws)
    single = score_preference(fake, real[::8], n_boot=2000, seed=5, videos_b=[f"v{k}" for k in range(10)])
    plain = score_preference(fake, real[::8], n_boot=2000, seed=5)
    assert abs((single.high - single.low) - (plain.high - plain.low)) < 0.03
    with pytest.raises(ValueError, match="79 video names for the 80 clips of side B"):
        score_preference(fake, real, videos_b=videos[:-1])

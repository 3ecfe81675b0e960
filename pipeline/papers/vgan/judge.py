"""An automatic stand-in for VGAN's Table 1 (people choosing the more realistic video), and
weight-free statistics of generated clips.

Table 1 asks people "which video is more realistic?" for pairs of clips. Here a small 3D CNN,
trained to tell held-out real clips from generated ones (samples that take no part in the
comparison), plays the worker: model A is preferred over model B on a pair when the judge
scores A's clip as more real, over every pair of clips. Several judges trained alike from other seeds
(a panel, ``panel_seeds``) play many workers: a rate is the mean of theirs. The real-vs-real control
(two halves of the same real videos) should give about 50% and bounds what the judge can tell apart by chance.

The statistics (flicker, diversity, mask sparsity, background temporal variance, Fréchet
distance and KID between feature sets) need no trained weights; FD and KID are written from
their formulas (FD with ``scipy.linalg.sqrtm``; KID as the unbiased MMD^2 under the cubic
polynomial kernel of Bińkowski et al. 2018), so no Inception weights or torchvision are needed:
the features are the caller's (e.g. ``VideoJudge.features``).

All clips are in the project layout ``(N, T, C, H, W)`` in [-1, 1].
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from scipy import linalg
from torch import nn

from pipeline.papers.vgan.model import GeneratorOutput
from pipeline.papers.vgan.spec import derived_seed


@dataclass(frozen=True)
class JudgeConfig:
    width: int = 16  # channels of the first conv; 2x and 4x after it
    steps: int = 300  # Adam steps over balanced real/fake minibatches
    batch_size: int = 32  # clips per step, half real, half generated
    lr: float = 1e-3
    seed: int = 0


class VideoJudge(nn.Module):
    """Three strided 3D convs, global average pooling, one "realness" logit.

    Small on purpose: it is trained on a few hundred clips, and no normalisation layer, so a
    clip's score does not depend on the other clips of its batch.
    """

    def __init__(self, channels: int, width: int = 16) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv3d(channels, width, 4, 2, 1),  # (N, w, T/2, H/2, W/2)
            nn.LeakyReLU(0.2),
            nn.Conv3d(width, 2 * width, 4, 2, 1),  # (N, 2w, T/4, H/4, W/4)
            nn.LeakyReLU(0.2),
            nn.Conv3d(2 * width, 4 * width, 4, 2, 1),  # (N, 4w, T/8, H/8, W/8)
            nn.LeakyReLU(0.2),
            nn.AdaptiveAvgPool3d(1),  # (N, 4w, 1, 1, 1)
            nn.Flatten(),  # (N, 4w)
        )
        self.head = nn.Linear(4 * width, 1)

    def features(self, clips: torch.Tensor) -> torch.Tensor:
        """Pooled features (N, 4w) of clips (N, T, C, H, W), e.g. for FD/KID."""
        if clips.dim() != 5:
            raise ValueError(f"clips must be (N, T, C, H, W), got {tuple(clips.shape)}")
        return self.net(clips.permute(0, 2, 1, 3, 4).float())

    def forward(self, clips: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(clips)).squeeze(1)  # (N,) logit of "real"


def train_judge(real: torch.Tensor, fake: torch.Tensor, cfg: JudgeConfig = JudgeConfig()) -> VideoJudge:
    """Fit a judge on held-out real clips versus generated clips not used in the comparison."""
    if real.shape[1:] != fake.shape[1:]:
        raise ValueError(f"real {tuple(real.shape)} and fake {tuple(fake.shape)} clips differ")
    gen = torch.Generator().manual_seed(cfg.seed)
    with torch.random.fork_rng():
        torch.manual_seed(cfg.seed)
        judge = VideoJudge(real.shape[2], cfg.width)
    opt = torch.optim.Adam(judge.parameters(), lr=cfg.lr)
    half = max(1, cfg.batch_size // 2)
    labels = torch.cat([torch.ones(half), torch.zeros(half)])
    for _ in range(cfg.steps):
        r = real[torch.randint(len(real), (half,), generator=gen)]
        f = fake[torch.randint(len(fake), (half,), generator=gen)]
        loss = F.binary_cross_entropy_with_logits(judge(torch.cat([r, f])), labels)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return judge.eval()


def panel_seeds(seed: int, judges: int) -> list[int]:
    """Training seeds of a panel of ``judges`` judges: the graph's seed first (a panel of one is the single
    judge), then hashes of (seed, k), apart from every other graph seed's panel."""
    if judges < 1:
        raise ValueError(f"vgan eval.judge.panel must be at least 1, got {judges}")
    return [seed] + [derived_seed(f"vgan judge {seed}/{k}") for k in range(1, judges)]


@torch.no_grad()
def realness(judge: VideoJudge, clips: torch.Tensor, batch_size: int = 64) -> np.ndarray:
    """The judge's logit of "real" for each clip, (N,)."""
    judge.eval()
    return torch.cat([judge(chunk) for chunk in clips.split(batch_size)]).numpy()


@dataclass(frozen=True)
class Preference:
    rate: float  # P(a judge scores a random clip of A above a random clip of B), ties half, mean over the panel
    low: float  # bootstrap percentile interval: clips of A, clips of B and the panel's judges resampled apart
    high: float
    pairs: int  # A x B pairs the rate is the mean over
    clips: tuple[int, int] = (0, 0)  # clips of A and of B


def pair_rate(sa: np.ndarray, sb: np.ndarray) -> float:
    """Share of all (a, b) pairs with score a > b, ties half: the rate people's random pairs estimate.

    Scores (N,) of one judge, or (J, N) of a panel of J judges: the mean of each judge's rate, as
    Table 1's rate is over the votes of many workers."""
    sa, sb = np.atleast_2d(sa), np.atleast_2d(sb)
    greater = (sa[:, :, None] > sb[:, None, :]).mean(axis=(1, 2))
    ties = (sa[:, :, None] == sb[:, None, :]).mean(axis=(1, 2))
    return float(np.mean(greater + 0.5 * ties))


def preference(
    judge: VideoJudge,
    a: torch.Tensor,
    b: torch.Tensor,
    *,
    n_boot: int = 2000,
    level: float = 0.95,
    seed: int = 0,
) -> Preference:
    """How often the judge prefers a clip of A over a clip of B, over every pair (a Mann-Whitney rate)."""
    if len(a) == 0 or len(b) == 0:
        raise ValueError("preference needs at least one clip on each side")
    return score_preference(realness(judge, a), realness(judge, b), n_boot=n_boot, level=level, seed=seed)


def _resampler(n: int, videos: Sequence[str] | None, side: str) -> Callable[[np.random.Generator], np.ndarray]:
    """Clip indices of one bootstrap draw of a side: n clips with replacement, or with ``videos`` (the video of
    each clip) as many videos with replacement, every clip of each."""
    if videos is None:
        return lambda rng: rng.integers(0, n, n)
    if len(videos) != n:
        raise ValueError(f"{len(videos)} video names for the {n} clips of side {side}")
    _, group = np.unique(np.asarray(videos), return_inverse=True)
    members = [np.flatnonzero(group == g) for g in range(group.max() + 1)]
    return lambda rng: np.concatenate([members[g] for g in rng.integers(0, len(members), len(members))])


def score_preference(sa: np.ndarray, sb: np.ndarray, *, n_boot: int = 2000, level: float = 0.95,
                     seed: int = 0, videos_a: Sequence[str] | None = None,
                     videos_b: Sequence[str] | None = None) -> Preference:
    """:func:`preference` from the scores of the two sides (each clip scored once, whatever it is paired with):
    (N,) of one judge or (J, N) of a panel of J judges, the same judges on both sides.

    Table 1 shows people random pairs; scoring every pair estimates the same rate with far less
    noise than one pairing of clip i with clip i (at the demo's 17 real-vs-real pairs one pairing
    alone ranged from 6% to 65%). The interval resamples the clips of A and of B independently and,
    with a panel, its judges: judges trained alike on the same clips but from other seeds disagree
    (one-stream over AE from 27% to 60% at the demo), and an interval over clips alone would hide it.
    ``videos_a`` / ``videos_b``: the video of each clip of a side of real clips, resampled by video: clips
    of one video are alike, and resampling them one by one made the control's interval too narrow
    (59.2% [52.7, 66.1] for two halves of real videos). Generated clips are independent draws.
    """
    sa, sb = np.atleast_2d(sa), np.atleast_2d(sb)
    if sa.shape[1] == 0 or sb.shape[1] == 0:
        raise ValueError("preference needs at least one clip on each side")
    if len(sa) != len(sb):
        raise ValueError(f"scores of {len(sa)} and {len(sb)} judges: both sides need the same panel")
    rng = np.random.default_rng(seed)
    judges, na, nb = len(sa), sa.shape[1], sb.shape[1]
    draw_a, draw_b = _resampler(na, videos_a, "A"), _resampler(nb, videos_b, "B")
    boots = []
    for _ in range(n_boot):
        # one judge draws nothing for the panel, so a panel of one keeps the single judge's draws
        panel = rng.integers(0, judges, judges) if judges > 1 else np.zeros(1, int)
        boots.append(pair_rate(sa[np.ix_(panel, draw_a(rng))], sb[np.ix_(panel, draw_b(rng))]))
    tail = (1 - level) / 2
    low, high = np.quantile(boots, [tail, 1 - tail])
    return Preference(pair_rate(sa, sb), float(low), float(high), na * nb, (na, nb))


def real_vs_real_control(
    judge: VideoJudge, real: torch.Tensor, *, videos: Sequence[str] | None = None, n_boot: int = 2000, seed: int = 0
) -> Preference:
    """Preference between two random halves of the same real clips: ~50% for a fair judge.

    With ``videos`` (the video of each clip) the halves are halves of the videos, so two clips of
    one video never stand on both sides.
    """
    return score_control(realness(judge, real), videos, n_boot=n_boot, seed=seed)


def score_control(scores: np.ndarray, videos: Sequence[str] | None = None, *, n_boot: int = 2000,
                  seed: int = 0) -> Preference:
    """:func:`real_vs_real_control` from the scores of the real clips, (N,) of one judge or (J, N) of a panel."""
    scores = np.atleast_2d(scores)
    groups = videos if videos is not None else [str(k) for k in range(scores.shape[1])]
    if len(groups) != scores.shape[1]:
        raise ValueError(f"{len(groups)} video names for {scores.shape[1]} clips")
    if len(set(groups)) < 2:
        raise ValueError(f"the real-vs-real control splits whole videos: it needs real compare clips of at least "
                         f"2 videos, got {len(set(groups))} (use more videos or a larger data.compare_fraction)")
    a, b = video_halves(groups, seed)
    names = np.asarray(groups)
    return score_preference(scores[:, a], scores[:, b], n_boot=n_boot, seed=seed, videos_a=names[a], videos_b=names[b])


def video_halves(videos: Sequence[str], seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Clip indices of two random halves of the videos (an odd video out), each video on one side only."""
    groups = np.asarray(videos)
    names = np.unique(groups)
    order = np.random.default_rng(seed).permutation(len(names))
    half = len(names) // 2
    first, second = names[order[:half]], names[order[half : 2 * half]]
    return np.flatnonzero(np.isin(groups, first)), np.flatnonzero(np.isin(groups, second))


def stream_clips(out: GeneratorOutput) -> dict[str, torch.Tensor]:
    """A generator's output as clips (N, T, C, H, W); the static background repeated over time."""
    clips = {"video": out.video, "foreground": out.foreground}
    if out.mask is not None and out.background is not None:
        clips["mask"] = out.mask
        clips["background"] = out.background.unsqueeze(2).expand_as(out.video)
    return {k: v.permute(0, 2, 1, 3, 4) for k, v in clips.items()}


def _check_clips(clips: torch.Tensor, min_frames: int = 1) -> torch.Tensor:
    if clips.dim() != 5 or clips.shape[1] < min_frames:
        raise ValueError(f"clips must be (N, T >= {min_frames}, C, H, W), got {tuple(clips.shape)}")
    return clips.double()


def background_temporal_variance(background: torch.Tensor) -> float:
    """Mean over pixels of the variance over time of a background stream (N, T, C, H, W).

    Zero by construction for the two-stream generator, whose background is one image; for
    other sources it measures the background flicker the paper sees in the one-stream model.
    """
    return float(_check_clips(background).var(dim=1, unbiased=False).mean())


def mask_sparsity(mask: torch.Tensor) -> float:
    """Mean |m| of a mask stream: the quantity the L1 prior (lambda 0.1) pushes down."""
    return float(mask.double().abs().mean())


def flicker(clips: torch.Tensor) -> float:
    """Mean absolute difference of consecutive frames: 0 for a still clip."""
    x = _check_clips(clips, min_frames=2)
    return float((x[:, 1:] - x[:, :-1]).abs().mean())


def diversity(clips: torch.Tensor) -> float:
    """Mean pairwise root-mean-square distance between clips: near 0 under mode collapse."""
    x = _check_clips(clips).flatten(1)  # (N, D)
    n = len(x)
    if n < 2:
        raise ValueError("diversity needs at least two clips")
    dist = torch.cdist(x, x) / x.shape[1] ** 0.5  # (N, N)
    return float(dist.sum() / (n * (n - 1)))


def _features(x: np.ndarray | torch.Tensor) -> np.ndarray:
    x = np.asarray(x.detach().cpu() if isinstance(x, torch.Tensor) else x, dtype=np.float64)
    if x.ndim != 2 or len(x) < 2:
        raise ValueError(f"features must be (N >= 2, F), got {x.shape}")
    return x


def frechet_distance(a: np.ndarray | torch.Tensor, b: np.ndarray | torch.Tensor) -> float:
    """||mu_a - mu_b||^2 + tr(S_a + S_b - 2 (S_a S_b)^(1/2)) between Gaussians fit to two sets."""
    a, b = _features(a), _features(b)
    mu = a.mean(0) - b.mean(0)
    sa, sb = np.atleast_2d(np.cov(a, rowvar=False)), np.atleast_2d(np.cov(b, rowvar=False))
    root = linalg.sqrtm(sa @ sb)
    if not np.isfinite(root).all():  # singular product: regularise as in the FID reference code
        eps = 1e-6 * np.eye(len(sa))
        root = linalg.sqrtm((sa + eps) @ (sb + eps))
    return float(mu @ mu + np.trace(sa) + np.trace(sb) - 2 * np.trace(root.real))


def kernel_distance(a: np.ndarray | torch.Tensor, b: np.ndarray | torch.Tensor) -> float:
    """KID: unbiased MMD^2 with k(x, y) = (x.y / d + 1)^3; unlike FD, unbiased for small sets."""
    a, b = _features(a), _features(b)
    d = a.shape[1]
    kaa, kbb, kab = ((x @ y.T / d + 1) ** 3 for x, y in ((a, a), (b, b), (a, b)))
    m, n = len(a), len(b)
    within_a = (kaa.sum() - np.trace(kaa)) / (m * (m - 1))
    within_b = (kbb.sum() - np.trace(kbb)) / (n * (n - 1))
    return float(within_a + within_b - 2 * kab.mean())

"""svg's statistics over scores, without torch: best of N samples, intervals, the ordering claim.

The evaluation (``metrics``) and the table jobs (``tables``) share them; the table jobs read
scores from disk and need no network, so they do not import torch (about 2 s a job).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import scipy.stats


def best_of_n(scores: np.ndarray, key: np.ndarray | None = None) -> np.ndarray:
    """scores (S, N, T) -> (N, T): for each sequence, the sample whose mean ``key`` over frames is largest.

    ``key`` defaults to ``scores`` itself (each metric picks its own best sample).
    """
    scores = np.asarray(scores)
    key = scores if key is None else np.asarray(key)
    if scores.shape != key.shape or scores.ndim != 3:
        raise ValueError(f"scores {scores.shape} and key {key.shape} must both be (S, N, T)")
    best = np.argmax(key.mean(axis=2), axis=0)  # (N,)
    return scores[best, np.arange(scores.shape[1])]  # (N, T)


def mean_ci(
    values: np.ndarray, confidence: float = 0.95, groups: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """values (N, T) -> per-frame mean, CI low, CI high.

    Without ``groups``: Student t interval over N independent sequences. With ``groups`` (N,)
    (the video each sequence was cut from; windows of one video are not independent), the
    standard error is cluster-robust: from the per-video sums of deviations from the mean, with
    G / (G - 1) and G - 1 degrees of freedom for G videos. One sequence per video gives the
    plain t interval back.
    """
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 2 or values.shape[0] < 2:
        raise ValueError(f"mean_ci needs (N >= 2, T) values, got {values.shape}")
    n = values.shape[0]
    mean = values.mean(axis=0)
    if groups is None:
        sem, df = values.std(axis=0, ddof=1) / np.sqrt(n), n - 1
    else:
        groups = np.asarray(groups)
        if groups.shape != (n,):
            raise ValueError(f"groups must be ({n},), got {groups.shape}")
        _, cluster = np.unique(groups, return_inverse=True)
        g = int(cluster.max()) + 1
        if g < 2:
            raise ValueError("mean_ci needs sequences from at least two groups (videos)")
        with np.errstate(invalid="ignore"):  # +inf PSNR of identical frames
            sums = np.zeros((g, values.shape[1]))
            np.add.at(sums, cluster, values - mean)
            sem, df = np.sqrt(g / (g - 1) * (sums**2).sum(axis=0)) / n, g - 1
    half = scipy.stats.t.ppf(0.5 + confidence / 2, df=df) * sem
    return mean, mean - half, mean + half


ORDERING_PAIRS: tuple[tuple[str, str], ...] = (
    ("lp", "fp"), ("fp", "deterministic"), ("lp", "deterministic"),
    ("lp", "copylast"), ("fp", "copylast"), ("deterministic", "copylast"),
)
"""(better, worse) pairs of the paper's claim SVG-LP >= SVG-FP >= deterministic, and each model
against copying the last frame."""


def ordering_table(
    scores: Mapping[str, Mapping[str, np.ndarray]], n_cond: int, first_bounce: np.ndarray | None = None,
    confidence: float = 0.95, pairs: Sequence[tuple[str, str]] = ORDERING_PAIRS, groups: np.ndarray | None = None,
) -> pd.DataFrame:
    """Paired differences between models on the same test sequences, with t intervals.

    scores: model -> {"ssim", "psnr"} (N, S, T) per sequence, sample and predicted frame (the
    best of the S samples per sequence is kept, as in the curves). Per sequence the scores are
    averaged over a scope of predicted frames: ``all`` of them, or ``after_bounce``: the frames
    after the sequence's first wall hit after conditioning (``first_bounce`` (N,) 0-based frame
    of that hit, -1 for none; the paper's claim is about these frames), and ``second_half``: the
    later half of the predicted frames, where copying the last frame has fallen behind the motion.
    ``verdict``: ``better`` when the interval of (better - worse) is above 0, ``worse`` when below,
    else ``tie``. ``groups`` (N,): the video of each sequence (KTH), for intervals clustered by
    video (``mean_ci``). Sequences whose score is not finite (PSNR of a perfect copy) are left out
    and counted.
    """
    rows = []
    n = len(next(iter(scores.values()))["ssim"])
    n_future = np.asarray(next(iter(scores.values()))["ssim"]).shape[2]
    # per scope and sequence, the 0-based frame after which frames count (-1: the sequence is left out)
    scopes = {"all": np.full(n, n_cond - 1), "second_half": np.full(n, n_cond - 1 + n_future // 2)}
    if first_bounce is not None:
        scopes["after_bounce"] = np.asarray(first_bounce)
    for metric in ("ssim", "psnr"):
        best = {m: best_of_n(np.asarray(v[metric]).transpose(1, 0, 2)) for m, v in scores.items()}  # (N, T)
        for scope, bounce in scopes.items():
            for better, worse in pairs:
                if better not in best or worse not in best:
                    continue
                a, b = best[better], best[worse]
                frame = np.arange(a.shape[1])[None, :] + n_cond  # 0-based frame index of each predicted frame
                mask = (bounce[:, None] >= 0) & (frame > bounce[:, None])
                with np.errstate(invalid="ignore"):
                    diff = np.where(mask, a - b, 0.0).sum(1) / np.maximum(mask.sum(1), 1)
                keep = mask.any(1) & np.isfinite(diff)
                kept_groups = None if groups is None else np.asarray(groups)[keep]
                if keep.sum() < 2 or (kept_groups is not None and len(np.unique(kept_groups)) < 2):
                    continue
                mean, low, high = (float(v[0]) for v in mean_ci(diff[keep, None], confidence, kept_groups))
                verdict = "better" if low > 0 else "worse" if high < 0 else "tie"
                rows.append((metric, scope, better, worse, mean, low, high, int(keep.sum()),
                             int((mask.any(1) & ~np.isfinite(diff)).sum()), verdict))
    return pd.DataFrame(rows, columns=["metric", "scope", "better", "worse", "mean_difference", "ci_low", "ci_high",
                                       "n_sequences", "n_not_finite", "verdict"])


def first_bounce_after(bounces: np.ndarray, n_cond: int) -> np.ndarray:
    """bounces (N, T, D) bool -> (N,) first frame >= n_cond - 1 where some digit hits a wall, -1 if none.

    A hit at the last conditioning frame already makes the first predicted frame unpredictable.
    """
    hit = np.asarray(bounces).any(-1)  # (N, T)
    hit[:, : max(0, n_cond - 1)] = False
    first = hit.argmax(1)
    return np.where(hit.any(1), first, -1)

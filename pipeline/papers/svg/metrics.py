"""Evaluation of SVG models (Denton & Fergus 2018, Sec. 4): everything the svg figures need.

* Fig. 7 / Fig. 8: per-frame SSIM and PSNR of generated futures against the truth. For a
  stochastic model, ``n_samples`` futures (100 in the paper) are drawn per test sequence and the
  best one kept ("picking the one with the best score with respect to the ground truth");
  curves are the mean over test sequences with a 95% confidence interval, over more frames
  than the model was trained to predict (the vertical bar of the paper's plots).
* Fig. 5: the distribution of a digit's velocity (dx, dy) at each step after a bounce, from
  samples of the model versus ground-truth continuations, digits located by template matching
  (cross-correlation with the digit seen in the conditioning frames).
* Fig. 6: the learned prior's sigma over time on sequences with synchronized trajectories,
  against the true collision times.

Outputs are arrays (Zarr shards) and long-format CSV tables; the figures read only those.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import scipy.stats
from skimage.feature import match_template
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from pipeline.atomic import write_csv
from pipeline.papers.svg.model import SVG, frames_to_batch
from pipeline.shards import write_shard

SELECTIONS: tuple[str, ...] = ("per_metric", "ssim")
EXAMPLE_ROWS: tuple[str, ...] = ("truth", "best", "random 1", "random 2", "random 3")
CURVE_COLUMNS: tuple[str, ...] = (
    "model", "metric", "frame", "mean", "ci_low", "ci_high", "n_sequences", "n_samples", "n_cond", "train_horizon",
)


def frame_scores(truth: np.ndarray, pred: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-frame SSIM and PSNR: truth, pred float (..., T, C, H, W) in [0, 1] -> two (..., T).

    As in the authors' ``eval_seq``, each channel is scored on its own and the channels are
    averaged (SSIM with skimage's default 7x7 window); the data range is 1.
    """
    truth = np.asarray(truth, dtype=np.float64)
    pred = np.asarray(pred, dtype=np.float64)
    if truth.shape != pred.shape or truth.ndim < 4:
        raise ValueError(f"truth {truth.shape} and pred {pred.shape} must match and be (..., T, C, H, W)")
    lead = truth.shape[:-3]
    flat_t = truth.reshape(-1, *truth.shape[-3:])  # (F, C, H, W)
    flat_p = pred.reshape(-1, *pred.shape[-3:])
    ssim = np.empty(len(flat_t))
    psnr = np.empty(len(flat_t))
    with np.errstate(divide="ignore"):  # identical frames: PSNR is +inf, kept as such
        for i, (a, b) in enumerate(zip(flat_t, flat_p)):
            ssim[i] = np.mean([structural_similarity(a[c], b[c], data_range=1.0) for c in range(len(a))])
            psnr[i] = np.mean([peak_signal_noise_ratio(a[c], b[c], data_range=1.0) for c in range(len(a))])
    return ssim.reshape(lead), psnr.reshape(lead)


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


def mean_ci(values: np.ndarray, confidence: float = 0.95) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """values (N, T) -> per-frame mean, CI low, CI high (Student t interval over the N sequences)."""
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 2 or values.shape[0] < 2:
        raise ValueError(f"mean_ci needs (N >= 2, T) values, got {values.shape}")
    n = values.shape[0]
    mean = values.mean(axis=0)
    sem = values.std(axis=0, ddof=1) / np.sqrt(n)
    half = scipy.stats.t.ppf(0.5 + confidence / 2, df=n - 1) * sem
    return mean, mean - half, mean + half


@dataclass
class SVGEvaluation:
    ssim: np.ndarray  # (N, S, T) per test sequence, sample and predicted frame
    psnr: np.ndarray  # (N, S, T)
    examples: np.ndarray  # (K, len(EXAMPLE_ROWS), n_cond + n_future, H, W, C) uint8
    n_cond: int
    n_future: int


def _batch_seed(seed: int, *index: int) -> int:
    return int(np.random.SeedSequence([seed, *index]).generate_state(1)[0])


def _sample_chunks(n_samples: int, sample_chunk: int) -> list[tuple[int, int]]:
    """(first sample, count) pairs; samples are drawn in chunks to bound memory at 100 samples."""
    step = max(1, sample_chunk)
    return [(c, min(step, n_samples - c)) for c in range(0, n_samples, step)]


def evaluate_svg(
    model: SVG,
    frames: np.ndarray,
    n_cond: int,
    n_future: int,
    n_samples: int,
    seed: int,
    batch_size: int = 16,
    sample_chunk: int = 10,
    n_examples: int = 4,
) -> SVGEvaluation:
    """Score ``n_samples`` futures of each test sequence (one for the deterministic model).

    frames: uint8 test sequences (N, T >= n_cond + n_future, H, W[, C]). Samples are generated
    ``sample_chunk`` at a time (each chunk with its own seed derived from ``seed``). Examples
    for the GIFs keep, for the first ``n_examples`` sequences, the truth, the best sample by
    mean SSIM and three random samples (conditioning frames included).
    """
    frames = np.asarray(frames)
    if frames.ndim not in (4, 5) or frames.shape[1] < n_cond + n_future:
        raise ValueError(
            f"test frames must be (N, T >= n_cond + n_future = {n_cond + n_future}, H, W[, C]), got {frames.shape}"
        )
    if model.cfg.variant == "deterministic":
        n_samples = 1
    rng = np.random.default_rng(np.random.SeedSequence([seed, 1]))
    n = len(frames)
    ssim = np.empty((n, n_samples, n_future))
    psnr = np.empty((n, n_samples, n_future))
    examples: list[np.ndarray] = []
    n_random = len(EXAMPLE_ROWS) - 2
    for b, start in enumerate(range(0, n, batch_size)):
        x = frames_to_batch(frames[start : start + batch_size, : n_cond + n_future])  # (B, T, C, H, W)
        truth = x[:, n_cond:].numpy()  # (B, n_future, C, H, W)
        n_ex = min(len(x), n_examples - len(examples))
        random_picks = rng.integers(0, n_samples, size=(n_ex, n_random))
        best_mean = np.full(n_ex, -np.inf)
        kept: dict[tuple[int, int], np.ndarray] = {}  # (sequence, row) -> (n_future, C, H, W)
        for first, count in _sample_chunks(n_samples, sample_chunk):
            samples = model.generate(x[:, :n_cond], n_future, count, seed=_batch_seed(seed, b, first))
            samples = samples.cpu().numpy()  # (k, B, n_future, C, H, W)
            s, p = frame_scores(np.broadcast_to(truth, samples.shape), samples)  # (k, B, n_future)
            ssim[start : start + len(x), first : first + count] = s.transpose(1, 0, 2)
            psnr[start : start + len(x), first : first + count] = p.transpose(1, 0, 2)
            for i in range(n_ex):
                means = s[:, i].mean(axis=1)  # (k,)
                j = int(np.argmax(means))
                if means[j] > best_mean[i]:
                    best_mean[i], kept[i, 0] = means[j], samples[j, i]
                for r, pick in enumerate(random_picks[i], start=1):
                    if first <= pick < first + count:
                        kept[i, r] = samples[pick - first, i]
        for i in range(n_ex):
            cond = x[i, :n_cond].numpy()  # (n_cond, C, H, W)
            rows = [x[i].numpy()] + [np.concatenate([cond, kept[i, r]]) for r in range(n_random + 1)]
            examples.append(np.stack(rows))  # (rows, T, C, H, W)
    channels = frames.shape[4] if frames.ndim == 5 else 1
    empty = (0, len(EXAMPLE_ROWS), n_cond + n_future, channels, *frames.shape[2:4])
    ex = np.stack(examples) if examples else np.zeros(empty)  # (K, R, T, C, H, W)
    ex = (np.clip(ex, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8).transpose(0, 1, 2, 4, 5, 3)  # (K, R, T, H, W, C)
    return SVGEvaluation(ssim=ssim, psnr=psnr, examples=ex, n_cond=n_cond, n_future=n_future)


def curve_table(
    result: SVGEvaluation, model_name: str, train_horizon: int, selection: str = "per_metric", confidence: float = 0.95
) -> pd.DataFrame:
    """Per-frame mean and CI of the best-of-N SSIM and PSNR, one row per (metric, frame).

    ``frame`` is the 1-based index of the predicted frame in the whole sequence (the paper's
    x axis); ``train_horizon`` is the last frame the model was trained to predict
    (n_past + n_future), where the paper draws its vertical bar. ``selection``: ``per_metric``
    keeps for each metric the sample best under that metric, ``ssim`` keeps the sample with the
    best mean SSIM for both.
    """
    if selection not in SELECTIONS:
        raise ValueError(f"selection must be one of {SELECTIONS}, got {selection!r}")
    ssim = result.ssim.transpose(1, 0, 2)  # (S, N, T)
    psnr = result.psnr.transpose(1, 0, 2)
    key_psnr = ssim if selection == "ssim" else psnr
    rows = []
    for metric, values in (("ssim", best_of_n(ssim)), ("psnr", best_of_n(psnr, key_psnr))):
        mean, low, high = mean_ci(values, confidence)
        for t in range(result.n_future):
            rows.append(
                (model_name, metric, result.n_cond + t + 1, mean[t], low[t], high[t],
                 values.shape[0], ssim.shape[0], result.n_cond, train_horizon)
            )
    return pd.DataFrame(rows, columns=list(CURVE_COLUMNS))


def save_evaluation(result: SVGEvaluation, out_dir: str | Path, model_name: str, train_horizon: int,
                    model_record: Mapping[str, Any] | None = None) -> Path:
    """Write ``scores`` and ``examples`` shards and ``curves.csv`` under ``out_dir``; returns the CSV.

    ``model_record``: the model's provenance, kept in the scores' attributes for the tables.
    """
    out_dir = Path(out_dir)
    attrs = {"model": model_name, "n_cond": result.n_cond, "n_future": result.n_future, "train_horizon": train_horizon}
    write_shard(out_dir / "scores.zarr", {"ssim": result.ssim, "psnr": result.psnr},
                {**attrs, "model_provenance": dict(model_record or {})})
    write_shard(out_dir / "examples.zarr", {"frames": result.examples}, {**attrs, "rows": list(EXAMPLE_ROWS)})
    path = out_dir / "curves.csv"
    write_csv(curve_table(result, model_name, train_horizon), path)
    return path


def combine_curves(paths: Sequence[str | Path], out_path: str | Path) -> pd.DataFrame:
    """Stack per-model ``curves.csv`` files into one dataset table (e.g. smmnist_ssim.csv)."""
    table = pd.concat([pd.read_csv(p) for p in paths], ignore_index=True)
    missing = set(CURVE_COLUMNS) - set(table.columns)
    if missing:
        raise ValueError(f"curve tables {list(paths)} lack columns {sorted(missing)}")
    write_csv(table, out_path)
    return table


# ----------------------------------------------------------------------------- Fig. 5


def locate_digit(frames: np.ndarray, template: np.ndarray) -> np.ndarray:
    """Top-left (x, y) of the best cross-correlation match of ``template`` in each frame (T, H, W) -> (T, 2)."""
    frames = np.asarray(frames, dtype=np.float64)
    template = np.asarray(template, dtype=np.float64)
    out = np.empty((len(frames), 2), dtype=np.int64)
    for t, frame in enumerate(frames):
        score = match_template(frame, template)  # (H - h + 1, W - w + 1)
        y, x = np.unravel_index(np.argmax(score), score.shape)
        out[t] = (x, y)
    return out


def digit_velocities(frames: np.ndarray, templates: np.ndarray) -> np.ndarray:
    """Velocities (M, T-1, 2) (dx, dy from frame t to t+1) of one digit per sequence (M, T, H, W)."""
    return np.stack([np.diff(locate_digit(f, tpl), axis=0) for f, tpl in zip(frames, templates)])


def velocity_table(
    model_velocities: np.ndarray, true_velocities: np.ndarray, first_step: int, max_speed: int
) -> pd.DataFrame:
    """Empirical distributions of (dx, dy) per step for model samples and ground truth.

    velocities (M, T, 2) with step index ``first_step + t``; speeds beyond ``2 * max_speed``
    (a lost digit) are clipped into the outermost bins. Long format: source, step, dx, dy,
    probability (only non-zero cells).
    """
    lim = 2 * max_speed
    rows = []
    for source, vel in (("model", model_velocities), ("truth", true_velocities)):
        vel = np.clip(np.asarray(vel), -lim, lim)
        for t in range(vel.shape[1]):
            cells, counts = np.unique(vel[:, t], axis=0, return_counts=True)
            for (dx, dy), c in zip(cells, counts):
                rows.append((source, first_step + t, int(dx), int(dy), c / len(vel)))
    return pd.DataFrame(rows, columns=["source", "step", "dx", "dy", "probability"])


def velocity_distance(table: pd.DataFrame) -> pd.DataFrame:
    """Total variation distance between the model's and the true (dx, dy) distribution per step."""
    wide = table.pivot_table(index=["step", "dx", "dy"], columns="source", values="probability", fill_value=0.0)
    for source in ("model", "truth"):
        if source not in wide:
            wide[source] = 0.0
    tv = (wide["model"] - wide["truth"]).abs().groupby(level="step").sum() / 2
    return tv.rename("total_variation").reset_index()


def fig5_velocities(
    model: SVG,
    frames: np.ndarray,
    positions: np.ndarray,
    n_cond: int,
    n_samples: int,
    seed: int,
    digit_size: int,
    batch_size: int = 16,
    sample_chunk: int = 10,
) -> tuple[np.ndarray, np.ndarray]:
    """Model and true velocities for single-digit sequences that share a trajectory (Fig. 5).

    frames uint8 (N, T, H, W) and positions (N, T, 1, 2) from SM-MNIST's shared-start set.
    Each sequence's digit, cut from its first frame, is the template. Returns model velocities
    (N * n_samples, T-1, 2) over conditioning + generated frames and true ones (N, T-1, 2),
    both measured by template matching.
    """
    frames = np.asarray(frames)
    positions = np.asarray(positions)
    if frames.ndim != 4 or positions.ndim != 4 or positions.shape[2] != 1:
        raise ValueError(
            f"Fig. 5 needs single-digit frames (N, T, H, W) and positions (N, T, 1, 2), "
            f"got {frames.shape} and {positions.shape}"
        )
    x0, y0 = positions[:, 0, 0, 0].astype(int), positions[:, 0, 0, 1].astype(int)
    templates = np.stack(
        [f[0, y : y + digit_size, x : x + digit_size] for f, x, y in zip(frames, x0, y0)]
    ).astype(np.float64) / 255.0  # (N, s, s)
    n_future = frames.shape[1] - n_cond
    model_vel = []
    for b, start in enumerate(range(0, len(frames), batch_size)):
        x = frames_to_batch(frames[start : start + batch_size])  # (B, T, 1, H, W)
        cond = x[:, :n_cond, 0].numpy()  # (B, n_cond, H, W)
        tpl = templates[start : start + len(x)]
        for first, count in _sample_chunks(n_samples, sample_chunk):
            gen = model.generate(x[:, :n_cond], n_future, count, seed=_batch_seed(seed, b, first))
            gen = gen[:, :, :, 0].cpu().numpy()  # (k, B, n_future, H, W)
            for k in range(count):
                model_vel.append(digit_velocities(np.concatenate([cond, gen[k]], axis=1), tpl))
    true_vel = digit_velocities(frames.astype(np.float64) / 255.0, templates)
    return np.concatenate(model_vel), true_vel


# ----------------------------------------------------------------------------- Fig. 6


def prior_sigma_table(model: SVG, frames: np.ndarray, batch_size: int = 32) -> pd.DataFrame:
    """Mean and std over sequences of sigma_psi (averaged over z dims) for each predicted frame.

    frames uint8 (N, T, H, W[, C]); ``frame`` t = 1..T-1 is the frame whose z the prior is
    predicting from frames 0..t-1.
    """
    sigmas = []
    for start in range(0, len(frames), batch_size):
        x = frames_to_batch(np.asarray(frames[start : start + batch_size]))
        sigmas.append(model.prior_sigma(x).mean(dim=2).cpu().numpy())  # (B, T-1)
    sig = np.concatenate(sigmas)  # (N, T-1)
    return pd.DataFrame(
        {
            "frame": np.arange(1, sig.shape[1] + 1),
            "sigma_mean": sig.mean(axis=0),
            "sigma_std": sig.std(axis=0),
            "n_sequences": len(sig),
        }
    )


def collision_table(bounces: np.ndarray) -> pd.DataFrame:
    """True wall hits of a synchronized set: bounces (T, D) bool of one sequence -> rows (digit, frame).

    A hit at frame t means the digit touched the wall in frame t and leaves with a new random
    velocity, so frame t + 1 is the first unpredictable one.
    """
    t_idx, d_idx = np.nonzero(np.asarray(bounces))
    return pd.DataFrame({"digit": d_idx, "frame": t_idx}).sort_values(["digit", "frame"], ignore_index=True)


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

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from skimage.metrics import peak_signal_noise_ratio, structural_similarity
from torchmetrics.functional.image import peak_signal_noise_ratio as tm_psnr
from torchmetrics.functional.image import structural_similarity_index_measure as tm_ssim

from pipeline.atomic import write_csv
from pipeline.papers.svg.model import SVG, frames_to_batch
from pipeline.papers.svg.spec import CURVE_COLUMNS, EXAMPLE_ROWS
from pipeline.papers.svg.statistics import best_of_n, mean_ci
from pipeline.shards import write_shard

SELECTIONS: tuple[str, ...] = ("per_metric", "ssim")


AUTHORS_SSIM_RANGE = 2.0
"""The authors' ``eval_seq`` called ``compare_ssim`` without ``data_range``; the scikit-image of
2018 then took ``dtype_range`` of float images, (-1, 1), so the range was 2."""
PSNR_RANGE = 1.0
"""``compare_psnr`` used ``dtype_range``'s maximum, 1, for non-negative float images."""
SSIM_WINDOW = 7  # scikit-image's default uniform window
SCORE_CHUNK = 128  # frame channels scored per call: bounds the filter's memory, and its moments stay in
# cache (benchmarks/bench_svg.py prints 128 beside 1024 on CPU); the scores do not depend on it (tested)


def frame_scores_torch(
    truth: torch.Tensor, pred: torch.Tensor, ssim_data_range: float = AUTHORS_SSIM_RANGE
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-frame SSIM and PSNR, batched on the tensors' device: (..., C, H, W) in [0, 1] -> two (...).

    torchmetrics with scikit-image's definition: 7x7 uniform window, statistics over the window
    with the sample covariance (skimage's ``use_sample_covariance``), the mean over the pixels
    whose window lies inside the frame; each channel scored on its own and the channels averaged,
    as the authors' ``eval_seq``. torchmetrics uses the population covariance; scaling every
    (co)variance by c = 49/48 equals dividing C2 by c, so k2 becomes 0.03 / sqrt(c) (exact).
    Identical frames have PSNR +inf, kept as such. float32 (float64 convolutions are ~15x slower on
    CPU; the difference to scikit-image's float64 stays below 1e-4, tested).
    """
    if truth.shape != pred.shape or truth.dim() < 3:
        raise ValueError(f"truth {tuple(truth.shape)} and pred {tuple(pred.shape)} must match and be (..., C, H, W)")
    lead, (c, h, w) = truth.shape[:-3], truth.shape[-3:]
    a_all = truth.reshape(-1, h, w)  # every channel of every frame on its own
    b_all = pred.reshape(-1, h, w)
    n_win = SSIM_WINDOW * SSIM_WINDOW
    pad = (SSIM_WINDOW - 1) // 2
    ssim, psnr = [], []
    for k in range(0, len(a_all), SCORE_CHUNK):
        # frames as the channels of one image: torchmetrics filters channels apart (a depthwise
        # convolution, several times faster on CPU than a batch of one-channel images)
        a, b = a_all[k : k + SCORE_CHUNK][None].float(), b_all[k : k + SCORE_CHUNK][None].float()
        _, full = tm_ssim(b, a, gaussian_kernel=False, kernel_size=SSIM_WINDOW, data_range=float(ssim_data_range),
                          k2=0.03 * math.sqrt((n_win - 1) / n_win), return_full_image=True)
        ssim.append(full[0, :, pad:-pad, pad:-pad].mean(dim=(1, 2)))
        psnr.append(tm_psnr(b[0], a[0], data_range=PSNR_RANGE, reduction="none", dim=(1, 2)))
    ssim, psnr = torch.cat(ssim).double(), torch.cat(psnr).double()
    return ssim.view(*lead, c).mean(-1), psnr.view(*lead, c).mean(-1)


def frame_scores(
    truth: np.ndarray, pred: np.ndarray, ssim_data_range: float = AUTHORS_SSIM_RANGE
) -> tuple[np.ndarray, np.ndarray]:
    """Per-frame SSIM and PSNR: truth, pred float (..., T, C, H, W) in [0, 1] -> two (..., T).

    NumPy in and out around :func:`frame_scores_torch`.
    """
    truth, pred = np.asarray(truth, dtype=np.float64), np.asarray(pred, dtype=np.float64)
    if truth.shape != pred.shape or truth.ndim < 4:
        raise ValueError(f"truth {truth.shape} and pred {pred.shape} must match and be (..., T, C, H, W)")
    ssim, psnr = frame_scores_torch(torch.from_numpy(truth), torch.from_numpy(pred), ssim_data_range)
    return ssim.numpy(), psnr.numpy()


def frame_scores_skimage(
    truth: np.ndarray, pred: np.ndarray, ssim_data_range: float = AUTHORS_SSIM_RANGE
) -> tuple[np.ndarray, np.ndarray]:
    """The reference: scikit-image per frame and channel in a Python loop, as the authors'
    ``eval_seq`` (this was the evaluation path before the batched one; tests and
    ``benchmarks/bench_svg.py`` compare against it)."""
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
            ssim[i] = np.mean([structural_similarity(a[c], b[c], data_range=ssim_data_range) for c in range(len(a))])
            psnr[i] = np.mean([peak_signal_noise_ratio(a[c], b[c], data_range=PSNR_RANGE) for c in range(len(a))])
    return ssim.reshape(lead), psnr.reshape(lead)


@dataclass
class SVGEvaluation:
    ssim: np.ndarray  # (N, S, T) per test sequence, sample and predicted frame
    psnr: np.ndarray  # (N, S, T)
    examples: np.ndarray  # (K, len(EXAMPLE_ROWS), n_cond + n_future, H, W, C) uint8
    n_cond: int
    n_future: int
    groups: np.ndarray | None = None  # (N,) video of each sequence (None: independent sequences)
    conventions: dict[str, Any] = field(default_factory=dict)  # how it was measured, for the tables
    sequences: np.ndarray | None = None  # (N,) index of each sequence in the test set


def _batch_seed(seed: int, *index: int) -> int:
    return int(np.random.SeedSequence([seed, *index]).generate_state(1)[0])


def _sample_chunks(n_samples: int, sample_chunk: int) -> list[tuple[int, int]]:
    """(first sample, count) pairs; 0 draws every sample in one batch."""
    step = n_samples if sample_chunk <= 0 else sample_chunk
    return [(c, min(step, n_samples - c)) for c in range(0, n_samples, step)]


def sample_chunks(
    model: SVG, cond: torch.Tensor, n_future: int, n_samples: int, *, seed: int, batch: int,
    sample_chunk: int, bn_mode: str,
) -> Iterator[tuple[int, torch.Tensor]]:
    """``(first sample, samples (k, B, n_future, C, H, W))`` for batch number ``batch`` of test
    sequences, ``sample_chunk`` samples per forward pass (0: all at once). Sample ``j`` of a batch
    gets the same noise however the samples are chunked, so the chunk size (a speed setting)
    changes no score, and every figure drawn from the same batch and seed sees the same samples."""
    for first, count in _sample_chunks(n_samples, sample_chunk):
        yield first, model.generate(cond, n_future, count, seed=_batch_seed(seed, batch), bn_mode=bn_mode,
                                    first_sample=first)


def sequence_batches(n: int, batch_size: int) -> list[tuple[int, int]]:
    """(start, stop) of batches over n sequences; a last batch of one joins the one before it,
    since batch statistics (``bn_at_test: train``) need two sequences."""
    bounds = [(a, min(n, a + batch_size)) for a in range(0, n, max(1, batch_size))]
    if len(bounds) > 1 and bounds[-1][1] - bounds[-1][0] == 1:
        bounds[-2:] = [(bounds[-2][0], n)]
    return bounds


def _check_test_frames(frames: np.ndarray, n_cond: int, n_future: int) -> None:
    if frames.ndim not in (4, 5) or frames.shape[1] < n_cond + n_future:
        raise ValueError(
            f"test frames must be (N, T >= n_cond + n_future = {n_cond + n_future}, H, W[, C]), got {frames.shape}"
        )


def evaluate_svg(
    model: SVG,
    frames: np.ndarray,
    n_cond: int,
    n_future: int,
    n_samples: int,
    seed: int,
    batch_size: int = 16,
    sample_chunk: int = 0,
    n_examples: int = 4,
    ssim_data_range: float = AUTHORS_SSIM_RANGE,
    bn_mode: str = "train",
    groups: np.ndarray | None = None,
) -> SVGEvaluation:
    """Score ``n_samples`` futures of each test sequence (one for the deterministic model).

    frames: uint8 test sequences (N, T >= n_cond + n_future, H, W[, C]). Per batch of sequences
    the conditioning frames are encoded once and the samples drawn as one batch, or
    ``sample_chunk`` at a time when > 0: on a CPU, forward passes of a few hundred futures run
    faster per frame than one of thousands. Sample k of a batch has its own noise stream and its
    own batch statistics (``SVG.generate``), so the chunk changes no score beyond float
    rounding. Scores are computed batched on the model's device. Examples for the GIFs keep,
    for the first ``n_examples`` sequences, the rows of ``EXAMPLE_ROWS`` (conditioning frames
    included). ``bn_mode``: batch norm at test (``model.BN_MODES``).
    """
    frames = np.asarray(frames)
    _check_test_frames(frames, n_cond, n_future)
    if model.cfg.variant == "deterministic":
        n_samples = 1
    rng = np.random.default_rng(np.random.SeedSequence([seed, 1]))
    n = len(frames)
    ssim = np.empty((n, n_samples, n_future))
    psnr = np.empty((n, n_samples, n_future))
    examples: list[np.ndarray] = []
    n_random = len(EXAMPLE_ROWS) - 3
    for b, (start, stop) in enumerate(sequence_batches(n, batch_size)):
        x = frames_to_batch(frames[start:stop, : n_cond + n_future]).to(model.device)  # (B, T, C, H, W)
        truth = x[:, n_cond:]  # (B, n_future, C, H, W)
        n_ex = min(len(x), n_examples - len(examples))
        random_picks = rng.integers(0, n_samples, size=(n_ex, n_random))
        best_mean = np.full(n_ex, -np.inf)
        kept: dict[tuple[int, int], torch.Tensor] = {}  # (sequence, row) -> (n_future, C, H, W)
        if n_ex:  # over the whole batch: batch statistics as the samples'
            posterior = model.posterior_future(x, n_cond, bn_mode=bn_mode)  # (B, n_future, C, H, W)
        for first, samples in sample_chunks(model, x[:, :n_cond], n_future, n_samples, seed=seed, batch=b,
                                            sample_chunk=sample_chunk, bn_mode=bn_mode):
            count = len(samples)  # (k, B, n_future, C, H, W)
            s, p = frame_scores_torch(truth.expand_as(samples), samples, ssim_data_range)  # (k, B, n_future)
            s, p = s.double().cpu().numpy(), p.double().cpu().numpy()
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
            cond = x[i, :n_cond]  # (n_cond, C, H, W)
            rows = [x[i], torch.cat([cond, posterior[i]])] + [torch.cat([cond, kept[i, r]]) for r in range(n_random + 1)]
            examples.append(torch.stack(rows).cpu().numpy())  # (rows, T, C, H, W)
    conventions = {"ssim_data_range": float(ssim_data_range), "bn_at_test": bn_mode,
                   "skip_frame": model.cfg.skip_frame, "backbone": model.cfg.backbone}
    return SVGEvaluation(ssim=ssim, psnr=psnr, examples=_examples_uint8(examples, frames, n_cond + n_future),
                         n_cond=n_cond, n_future=n_future, groups=groups, conventions=conventions)


def _examples_uint8(examples: list[np.ndarray], frames: np.ndarray, length: int) -> np.ndarray:
    """Float example rows (K of (R, T, C, H, W)) -> uint8 (K, R, T, H, W, C)."""
    channels = frames.shape[4] if frames.ndim == 5 else 1
    empty = (0, len(EXAMPLE_ROWS), length, channels, *frames.shape[2:4])
    ex = np.stack(examples) if examples else np.zeros(empty)  # (K, R, T, C, H, W)
    return (np.clip(ex, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8).transpose(0, 1, 2, 4, 5, 3)


def evaluate_copy_last(
    frames: np.ndarray, n_cond: int, n_future: int, ssim_data_range: float = AUTHORS_SSIM_RANGE,
    batch_size: int = 64, groups: np.ndarray | None = None,
) -> SVGEvaluation:
    """The "copy the last frame" baseline, scored by the same code: every predicted frame is the
    last conditioning frame. One "sample" per sequence; no examples."""
    frames = np.asarray(frames)
    _check_test_frames(frames, n_cond, n_future)
    ssim, psnr = [], []
    for start in range(0, len(frames), batch_size):
        x = frames_to_batch(frames[start : start + batch_size, : n_cond + n_future])  # (B, T, C, H, W)
        truth = x[:, n_cond:]
        s, p = frame_scores_torch(truth, x[:, n_cond - 1 : n_cond].expand_as(truth), ssim_data_range)
        ssim.append(s.double().numpy())
        psnr.append(p.double().numpy())
    return SVGEvaluation(
        ssim=np.concatenate(ssim)[:, None], psnr=np.concatenate(psnr)[:, None],
        examples=_examples_uint8([], frames, n_cond + n_future), n_cond=n_cond, n_future=n_future,
        groups=groups, conventions={"ssim_data_range": float(ssim_data_range), "bn_at_test": "", "skip_frame": ""},
    )


CONVENTION_COLUMNS: tuple[str, ...] = ("ssim_data_range", "bn_at_test", "skip_frame", "backbone", "test_windows", "interval")


def curve_table(
    result: SVGEvaluation, model_name: str, train_horizon: int, selection: str = "per_metric", confidence: float = 0.95
) -> pd.DataFrame:
    """Per-frame mean and CI of the best-of-N SSIM and PSNR, one row per (metric, frame).

    ``frame`` is the 1-based index of the predicted frame in the whole sequence (the paper's
    x axis); ``train_horizon`` is the last frame the model was trained to predict
    (n_past + n_future), where the paper draws its vertical bar. ``selection``: ``per_metric``
    keeps for each metric the sample best under that metric, ``ssim`` keeps the sample with the
    best mean SSIM for both. The convention columns say how the numbers were measured.
    """
    if selection not in SELECTIONS:
        raise ValueError(f"selection must be one of {SELECTIONS}, got {selection!r}")
    ssim = result.ssim.transpose(1, 0, 2)  # (S, N, T)
    psnr = result.psnr.transpose(1, 0, 2)
    key_psnr = ssim if selection == "ssim" else psnr
    groups = result.groups
    n_groups = len(np.unique(groups)) if groups is not None else ssim.shape[1]
    interval = f"t {confidence:.0%}, " + ("clustered by video" if groups is not None else "independent sequences")
    conv = [result.conventions.get(k, "") for k in CONVENTION_COLUMNS[:-1]] + [interval]
    rows = []
    for metric, values in (("ssim", best_of_n(ssim)), ("psnr", best_of_n(psnr, key_psnr))):
        mean, low, high = mean_ci(values, confidence, groups)
        for t in range(result.n_future):
            rows.append(
                (model_name, metric, result.n_cond + t + 1, mean[t], low[t], high[t],
                 values.shape[0], n_groups, ssim.shape[0], result.n_cond, train_horizon, *conv)
            )
    return pd.DataFrame(rows, columns=[*CURVE_COLUMNS, *CONVENTION_COLUMNS])


def save_evaluation(result: SVGEvaluation, out_dir: str | Path, model_name: str, train_horizon: int,
                    model_record: Mapping[str, Any] | None = None) -> Path:
    """Write ``scores`` and ``examples`` shards and ``curves.csv`` under ``out_dir``; returns the CSV.

    ``model_record``: the model's provenance, kept in the scores' attributes for the tables.
    """
    out_dir = Path(out_dir)
    attrs = {"model": model_name, "n_cond": result.n_cond, "n_future": result.n_future, "train_horizon": train_horizon,
             "conventions": dict(result.conventions)}
    arrays = {"ssim": result.ssim, "psnr": result.psnr}
    for name in ("groups", "sequences"):
        if getattr(result, name) is not None:
            arrays[name] = np.asarray(getattr(result, name))
    write_shard(out_dir / "scores.zarr", arrays, {**attrs, "model_provenance": dict(model_record or {})})
    write_shard(out_dir / "examples.zarr", {"frames": result.examples}, {**attrs, "rows": list(EXAMPLE_ROWS)})
    path = out_dir / "curves.csv"
    write_csv(curve_table(result, model_name, train_horizon), path)
    return path

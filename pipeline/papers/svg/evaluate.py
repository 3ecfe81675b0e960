"""svg's evaluation jobs: best-of-N per-frame scores (Figs. 7, 8), Fig. 5 and Fig. 6 data, rollouts.

Each function is called by one rule of ``workflow/rules/svg.smk`` and reads only files the graph
names; the scoring itself is in ``metrics``, the tables made from the scores in ``tables``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from pipeline.atomic import write_csv
from pipeline.papers.svg.data import kth_window_origin, smmnist_digits, test_frames
from pipeline.papers.svg.dynamics import (
    collision_table,
    fig5_velocities,
    prior_sigma_table,
    trivial_velocities,
    velocity_distance,
    velocity_table,
)
from pipeline.papers.svg.metrics import (
    evaluate_copy_last,
    evaluate_svg,
    save_evaluation,
)
from pipeline.papers.svg.model import frames_to_batch
from pipeline.papers.svg.spec import BASELINES
from pipeline.papers.svg.train import _load
from pipeline.saved_models import model_provenance
from pipeline.shards import open_shard, write_shard
from pipeline.synthetic import smmnist

log = logging.getLogger(__name__)


def evaluate(
    dataset: str,
    variant: str,
    model_path: str | Path | None,
    data: Mapping[str, str],
    out_dir: str | Path,
    sizes: Mapping[str, Any],
    seed: int,
    device: str,
) -> Path:
    """Best-of-N per-frame SSIM/PSNR on the test sequences, over all their frames after the
    conditioning ones (beyond the training horizon); writes curves.csv, scores.zarr, examples.zarr.

    ``variant`` may be a baseline (``spec.BASELINES``: ``copylast``), scored without a model.
    ``sizes`` holds the dataset's ``eval`` (and ``model`` for a baseline) and ``conventions``."""

    conv = sizes["conventions"]
    e = sizes[dataset]["eval"]
    if variant in BASELINES:
        m = sizes[dataset]["model"]
        n_past, horizon, model = int(m["n_past"]), int(m["n_past"]) + int(m["n_future"]), None
    else:
        model = _load(model_path, device)
        n_past, horizon = model.cfg.n_past, model.cfg.n_past + model.cfg.n_future
    frames, picks, groups = test_frames(dataset, data, int(e["sequences"]), str(conv["kth_test_windows"]))
    n_future = frames.shape[1] - n_past
    if n_future < 1:
        raise ValueError(f"{dataset} test sequences have {frames.shape[1]} frames, need more than n_past={n_past}")
    log.info("svg %s/%s: %d test sequences, %d -> %d frames, %d samples", dataset, variant, len(frames),
             n_past, n_future, e["samples"])
    if model is None:
        result = evaluate_copy_last(frames, n_past, n_future, float(conv["ssim_data_range"]), groups=groups)
        record = None
    else:
        result = evaluate_svg(model, frames, n_past, n_future, int(e["samples"]), seed,
                              batch_size=int(e["batch_size"]), sample_chunk=int(e["sample_chunk"]),
                              n_examples=int(e["examples"]), ssim_data_range=float(conv["ssim_data_range"]),
                              bn_mode=str(conv["bn_at_test"]), groups=groups)
        record = model_provenance(Path(model_path))
    result.sequences = picks
    if dataset == "kth":
        test_windows = f"{conv['kth_test_windows']} clips of the test videos, {kth_window_origin(data)}"
    else:
        test_windows = "frames 0.. of each test sequence" if dataset == "bair" else "saved test set"
    result.conventions["test_windows"] = test_windows
    return save_evaluation(result, out_dir, variant, train_horizon=horizon, model_record=record)


def bounce_velocities(
    model_path: str | Path, shared_start: str | Path, test_set: str | Path, out_table: str | Path,
    out_distance: str | Path, sizes: Mapping[str, Any], seed: int, device: str,
) -> pd.DataFrame:
    """Fig. 5: (dx, dy) distribution per step of SVG-LP samples and of the truth, by template
    matching, per trajectory of the shared-start set (the paper shows three, with different
    impact times); ``step`` t is the motion from frame t to t+1 (1-based). Also the total
    variation distance from the truth per trajectory and step, of the samples and of the trivial
    futures (``trivial_velocities``: constant velocity, no motion). With batch statistics
    (``bn_at_test: train``) each batch of a trajectory's sequences is filled up with ordinary
    single-digit sequences of the test digits (``fig5_velocities``' companions)."""

    model = _load(model_path, device)
    group = open_shard(shared_start)
    config = group.attrs["config"]
    f = sizes["fig5"]
    batch_size = int(sizes["smmnist"]["eval"]["batch_size"])
    companions = None
    if sizes["conventions"]["bn_at_test"] == "train":
        rng = np.random.default_rng(np.random.SeedSequence([seed, 5]))
        companions = smmnist.generate(smmnist.SMMNISTConfig(**config), smmnist_digits(test_set, "test"), batch_size,
                                      rng).frames  # (batch_size, T, H, W): random trajectories, one digit each
    frames, positions = np.asarray(group["frames"][:]), np.asarray(group["positions"][:])
    bounces = np.asarray(group["bounces"][:])
    trajectory = np.asarray(group["trajectory"][:]) if "trajectory" in group else np.zeros(len(frames), int)
    tables, distances = [], []
    for k in np.unique(trajectory):
        rows = np.flatnonzero(trajectory == k)
        model_vel, true_vel = fig5_velocities(
            model, frames[rows], positions[rows], n_cond=model.cfg.n_past, n_samples=int(f["samples"]),
            seed=int(np.random.SeedSequence([seed, int(k)]).generate_state(1)[0]),
            digit_size=int(config["digit_size"]), batch_size=batch_size,
            sample_chunk=int(sizes["smmnist"]["eval"]["sample_chunk"]),
            bn_mode=str(sizes["conventions"]["bn_at_test"]), companions=companions,
        )
        first_bounce = int(np.flatnonzero(bounces[rows[0]].any(-1))[0]) + 1  # 1-based frame of the wall hit
        table = velocity_table(model_vel, true_vel, first_step=1, max_speed=int(config["max_speed"]),
                               baselines=trivial_velocities(true_vel, model.cfg.n_past))
        distance = velocity_distance(table)
        for part in (table, distance):
            part.insert(0, "trajectory", int(k))
            part["first_bounce_frame"] = first_bounce
        distance["n_cond"] = model.cfg.n_past
        tables.append(table)
        distances.append(distance)
    table = pd.concat(tables, ignore_index=True)
    write_csv(table, out_table)
    write_csv(pd.concat(distances, ignore_index=True), out_distance)
    return table


def sigma_collision_summary(sigma: pd.DataFrame, hits: pd.DataFrame, lags: Sequence[int] = range(-2, 4)) -> pd.DataFrame:
    """How the prior's sigma lines up with the true wall hits, per lag.

    A hit at frame c makes frame c + 1 the first unpredictable one, and the prior's sigma at
    ``frame`` t has seen frames 0..t-1, so the paper's claim predicts a peak at lag t - c = 1.
    Per lag: Pearson correlation of sigma_mean(t) with "some digit hit a wall at t - lag", and
    the mean sigma at those frames and at the others.
    """

    frames = sigma["frame"].to_numpy()
    values = sigma["sigma_mean"].to_numpy()
    hit_frames = set(int(f) for f in hits["frame"])
    rows = []
    for lag in lags:
        marked = np.array([int(t) - lag in hit_frames for t in frames])
        if marked.all() or not marked.any():
            corr = np.nan
        else:
            corr = float(np.corrcoef(values, marked.astype(float))[0, 1])
        rows.append({
            "lag": lag,
            "pearson_r": corr,
            "sigma_at_hits": float(values[marked].mean()) if marked.any() else np.nan,
            "sigma_elsewhere": float(values[~marked].mean()) if (~marked).any() else np.nan,
            "n_hit_frames": int(marked.sum()),
        })
    return pd.DataFrame(rows)


def prior_sigma(
    model_path: str | Path, synchronized: str | Path, out_sigma: str | Path, out_collisions: str | Path,
    out_summary: str | Path, sizes: Mapping[str, Any], device: str,
) -> pd.DataFrame:
    """Fig. 6: mean and std over sequences of the learned prior's sigma per frame, the true wall
    hits of the shared trajectory, and their alignment (:func:`sigma_collision_summary`)."""

    model = _load(model_path, device)
    group = open_shard(synchronized)
    sigma = prior_sigma_table(model, np.asarray(group["frames"][:]), batch_size=int(sizes["smmnist"]["eval"]["batch_size"]))
    hits = collision_table(np.asarray(group["bounces"][0]))
    summary = sigma_collision_summary(sigma, hits)
    write_csv(sigma, out_sigma)
    write_csv(hits, out_collisions)
    write_csv(summary, out_summary)
    return summary




def rollout(
    dataset: str, model_path: str | Path, data: Mapping[str, str], out: str | Path, sizes: Mapping[str, Any],
    seed: int, device: str,
) -> Path:
    """Fig. 11: one future of ``rollout.steps`` frames per test sequence from its first n_past
    frames (the paper ran SVG-LP 100 steps on BAIR, whose test sequences have 30 frames), batch
    norm as in the evaluation. Writes ``frames`` (N, n_past + steps, H, W, C) uint8 and the
    ``truth`` (N, T, H, W, C) of ``rollout.sequences`` test sequences spread over the test set."""

    model = _load(model_path, device)
    r, conv = sizes["rollout"], sizes["conventions"]
    frames, picks, _ = test_frames(dataset, data, int(r["sequences"]), str(conv["kth_test_windows"]))
    if len(frames) < 2 and conv["bn_at_test"] == "train":
        raise ValueError(f"svg.rollout.sequences: batch statistics need 2 test sequences, {dataset} gave {len(frames)}")
    n_past = model.cfg.n_past
    x = frames_to_batch(frames[:, :n_past]).to(model.device)  # (N, n_past, C, H, W)
    future = model.generate(x, int(r["steps"]), 1, seed=seed, bn_mode=str(conv["bn_at_test"]))[0]
    video = torch.cat([x, future], dim=1).clamp(0, 1).mul(255).round().byte().permute(0, 1, 3, 4, 2).cpu().numpy()
    truth = frames if frames.ndim == 5 else frames[..., None]
    log.info("svg %s rollout: %d sequences, %d -> %d frames", dataset, len(frames), n_past, int(r["steps"]))
    return write_shard(out, {"frames": video, "truth": truth, "sequences": np.asarray(picks)},
                       {"dataset": dataset, "n_cond": n_past, "steps": int(r["steps"]),
                        "bn_at_test": str(conv["bn_at_test"]), "model_provenance": model_provenance(Path(model_path))})

"""svg's digit dynamics (Fig. 5 and the prior's sigma around wall hits): where the digits are and how they move.

Kept apart from the frame scores (``metrics``): these read positions and velocities off the
frames by template matching, and the uncertainty of the prior off the model, to show that SVG-LP
samples the bounce rather than blur it.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
import torch
from skimage.feature import match_template

from pipeline.papers.svg.metrics import sample_chunks, sequence_batches
from pipeline.papers.svg.model import SVG, frames_to_batch


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
    model_velocities: np.ndarray,
    true_velocities: np.ndarray,
    first_step: int,
    max_speed: int,
    baselines: Mapping[str, np.ndarray] | None = None,
) -> pd.DataFrame:
    """Empirical distributions of (dx, dy) per step for model samples, ground truth and trivial futures.

    velocities (M, T, 2) with step index ``first_step + t``; speeds beyond ``2 * max_speed``
    (a lost digit) are clipped into the outermost bins. ``baselines``: further sources by name
    (``trivial_velocities``), so the model's distance from the truth stands beside theirs.
    Long format: source, step, dx, dy, probability (only non-zero cells).
    """
    lim = 2 * max_speed
    rows = []
    sources = {"model": model_velocities, "truth": true_velocities, **(baselines or {})}
    for source, vel in sources.items():
        vel = np.clip(np.asarray(vel), -lim, lim)
        for t in range(vel.shape[1]):
            cells, counts = np.unique(vel[:, t], axis=0, return_counts=True)
            for (dx, dy), c in zip(cells, counts):
                rows.append((source, first_step + t, int(dx), int(dy), c / len(vel)))
    return pd.DataFrame(rows, columns=["source", "step", "dx", "dy", "probability"])


def trivial_velocities(true_velocities: np.ndarray, n_cond: int) -> dict[str, np.ndarray]:
    """The futures a model must beat, as velocities (N, T-1, 2) beside the true ones.

    Over the conditioning frames every source sees the truth (index t is the motion from frame t
    to t + 1, so the last one known is ``n_cond - 2``). ``constant velocity`` carries that last
    known motion on through the wall hit; ``no motion`` stops the digit at the last conditioning
    frame. Before a hit the first is the truth itself, so a model that samples the bounce must
    match it there and beat it after.
    """
    true_velocities = np.asarray(true_velocities)
    if not 2 <= n_cond <= true_velocities.shape[1]:
        raise ValueError(f"trivial velocities need 2 <= n_cond <= {true_velocities.shape[1]} (the steps), got {n_cond}")
    constant = true_velocities.copy()
    constant[:, n_cond - 1 :] = true_velocities[:, n_cond - 2 : n_cond - 1]
    still = true_velocities.copy()
    still[:, n_cond - 1 :] = 0
    return {"constant velocity": constant, "no motion": still}


def velocity_distance(table: pd.DataFrame) -> pd.DataFrame:
    """Total variation distance from the true (dx, dy) distribution per source (model, trivial futures) and step."""
    wide = table.pivot_table(index=["step", "dx", "dy"], columns="source", values="probability", fill_value=0.0)
    if "truth" not in wide:
        wide["truth"] = 0.0
    parts = []
    for source in [s for s in dict.fromkeys(table["source"]) if s != "truth"] or ["model"]:
        tv = (wide.get(source, 0.0) - wide["truth"]).abs().groupby(level="step").sum() / 2
        parts.append(tv.rename("total_variation").reset_index().assign(source=source))
    return pd.concat(parts, ignore_index=True)[["source", "step", "total_variation"]]


def fig5_velocities(
    model: SVG,
    frames: np.ndarray,
    positions: np.ndarray,
    n_cond: int,
    n_samples: int,
    seed: int,
    digit_size: int,
    batch_size: int = 16,
    sample_chunk: int = 0,
    bn_mode: str = "train",
    companions: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Model and true velocities for single-digit sequences that share a trajectory (Fig. 5).

    frames uint8 (N, T, H, W) and positions (N, T, 1, 2) from SM-MNIST's shared-start set.
    Each sequence's digit, cut from its first frame, is the template. Returns model velocities
    (N * n_samples, T-1, 2) over conditioning + generated frames and true ones (N, T-1, 2),
    both measured by template matching.

    ``companions`` (M, >= n_cond, H, W): ordinary test sequences drawn in the same batches, for
    batch statistics (``bn_mode`` "train"). Sequences that share a start have their digit at the
    same place in every conditioning frame, so a batch of them alone gives batch norm statistics
    no test batch has: the demo's single-digit model, fed such batches, drew another digit
    somewhere else in its first generated frame, and with running averages it did not. Each
    batch then holds at most a quarter of shared-start sequences and ``batch_size`` in all, as
    the batches of ordinary test sequences the authors' generation script draws; the companions'
    futures are dropped.
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
    batches = sequence_batches(len(frames), batch_size)
    if companions is not None:
        shared_per_batch = max(1, batch_size // 4)  # the companions hold the statistics: no batch of one to avoid
        batches = [(a, min(len(frames), a + shared_per_batch)) for a in range(0, len(frames), shared_per_batch)]
        if len(companions) < batch_size - 1 or companions.shape[1] < n_cond:
            raise ValueError(f"Fig. 5 needs {batch_size - 1} companion sequences of {n_cond} frames, "
                             f"got {companions.shape[:2]}")
    model_vel = []
    for b, (start, stop) in enumerate(batches):
        n = stop - start
        cond = frames_to_batch(frames[start:stop, :n_cond])  # (n, n_cond, 1, H, W)
        if companions is not None:  # filled up to batch_size
            cond = torch.cat([cond, frames_to_batch(companions[: batch_size - n, :n_cond])])
        tpl = templates[start:stop]
        for _, gen in sample_chunks(model, cond, n_future, n_samples, seed=seed, batch=b,
                                    sample_chunk=sample_chunk, bn_mode=bn_mode):
            gen = gen[:, :n, :, 0].cpu().numpy()  # (k, n, n_future, H, W): the shared-start sequences
            for k in range(len(gen)):
                model_vel.append(digit_velocities(np.concatenate([cond[:n, :, 0].numpy(), gen[k]], axis=1), tpl))
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


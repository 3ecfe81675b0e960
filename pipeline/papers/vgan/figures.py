"""vgan's figures: generations beside real clips, the two-stream model's streams, training curves.

Each is drawn from files earlier jobs saved (the samples shards of ``evaluate.write_samples``,
the training logs beside the weights, the stabilized real clips), so one figure regenerates alone.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from pipeline.atomic import save_figure
from pipeline.papers.vgan.data import to_frames, vgan_clips
from pipeline.papers.vgan.evaluate import COMPARE, read_samples
from pipeline.papers.vgan.spec import NAMES


def _strip(frames: np.ndarray, k: int) -> np.ndarray:
    """``k`` evenly spaced frames of a clip (T, H, W, C) side by side -> (H, k*W, C)."""
    picks = np.linspace(0, len(frames) - 1, k).round().astype(int)
    return np.concatenate(list(frames[picks]), axis=1)


def generations_figure(samples: Mapping[str, Path], real_frames: np.ndarray, path: str | Path,
                       n: int = 4, k: int = 6) -> Path:
    """Fig. 2 of the paper (generations): ``n`` clips of each model and of real video, ``k`` frames each, one row a clip."""
    sources = {NAMES[v]: read_samples(p)[:n] for v, p in samples.items()}
    sources["real"] = np.asarray(real_frames)[:n]
    rows = sum(len(f) for f in sources.values())
    fig = Figure(figsize=(1.1 * k, 1.15 * rows), dpi=100, layout="constrained")
    axes = np.atleast_1d(fig.subplots(rows, 1))
    i = 0
    for name, clips in sources.items():
        for j, clip in enumerate(clips):
            axes[i].imshow(_strip(clip, k))
            axes[i].set_axis_off()
            if j == 0:
                axes[i].set_title(f"{name} (frames left to right in time)", fontsize=8, loc="left")
            i += 1
    return save_figure(fig, path)


def streams_figure(twostream_samples: Path, path: str | Path, n: int = 4, k: int = 6) -> Path:
    """Fig. 3 of the paper (streams): the two-stream model's static background, foreground, mask (white = foreground) and video."""
    video = read_samples(twostream_samples)[:n]
    foreground = read_samples(twostream_samples, COMPARE, "foreground")[:n]
    mask = read_samples(twostream_samples, COMPARE, "mask")[:n]  # (n, T, H, W) uint8
    background = read_samples(twostream_samples, COMPARE, "background")[:n]  # (n, H, W, 3)
    fig = Figure(figsize=(1.1 * (k + 1), 1.2 * 3 * len(video)), dpi=100, layout="constrained")
    axes = fig.subplots(3 * len(video), 2, width_ratios=[1, k], squeeze=False)
    for i in range(len(video)):
        for r, (name, clip) in enumerate((("video", video[i]), ("foreground", foreground[i]),
                                          ("mask", np.repeat(mask[i][..., None], 3, axis=-1)))):
            ax_b, ax = axes[3 * i + r]
            ax.imshow(_strip(clip, k))
            ax.set_title(name, fontsize=7, loc="left")
            ax_b.imshow(background[i] if r == 0 else np.ones_like(background[i]) * 255)
            if r == 0:
                ax_b.set_title("background", fontsize=7)
            for a in (ax, ax_b):
                a.set_axis_off()
    return save_figure(fig, path)


def training_figure(model_dirs: Mapping[str, Path], path: str | Path) -> Path:
    """GAN losses (D's mean cross-entropy, G's adversarial term) and D's accuracy; the AE's reconstruction."""
    fig = Figure(figsize=(12, 3.4), dpi=100, layout="constrained")
    ax_loss, ax_acc, ax_ae = fig.subplots(1, 3)
    for i, (variant, folder) in enumerate(model_dirs.items()):
        log = pd.read_csv(Path(folder) / "log.csv")
        colour, name = f"C{i}", NAMES[variant]
        if variant == "ae":
            ax_ae.plot(log["step"], log["reconstruction"], color=colour, label=name)
            continue
        ax_loss.plot(log["step"], log["loss_d"], color=colour, label=f"{name} D")
        ax_loss.plot(log["step"], log["loss_g"], color=colour, ls="--", label=f"{name} G")
        ax_acc.plot(log["step"], 100 * log["d_real_accuracy"], color=colour, label=f"{name} real")
        ax_acc.plot(log["step"], 100 * log["d_fake_accuracy"], color=colour, ls="--", label=f"{name} generated")
    ax_loss.set(xlabel="step", ylabel="cross-entropy", title="GAN losses")
    ax_acc.set(xlabel="step", ylabel="%", title="discriminator accuracy")
    ax_ae.set(xlabel="step", ylabel="mean squared error", title="autoencoder reconstruction")
    for ax in (ax_loss, ax_acc, ax_ae):
        ax.legend(fontsize=7)
        ax.grid(alpha=0.3)
    return save_figure(fig, path)


def generations_from_files(samples: Mapping[str, Path], summary: Path, data_sizes: Mapping[str, Any],
                           path: str | Path, n: int = 4) -> Path:
    """:func:`generations_figure` with the first real compare clips of the stabilized data."""
    real = vgan_clips(summary, data_sizes)
    real.rows["compare"] = real.rows["compare"][:n]
    return generations_figure(samples, to_frames(real.read("compare")), path, n)

"""Figures of the crossconv paper, drawn only from saved evaluation outputs.

Samples (Fig. 4: input, true next frame, sampled next frames), feature maps (Fig. 8), the
extrapolation by one repeated z (Sec. 7.2, a GIF), z statistics (Fig. 10: per dimension, mean +-
std of z_mean and z_logvar over training pairs) and the motion distributions of Fig. 5 (left: per
shape, measured motions of the samples against the resampled truth).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from pipeline.atomic import save_figure
from pipeline.gifs import sample_gif
from pipeline.papers.crossconv.kl import EDGES, motion_histogram
from pipeline.shards import open_shard

SHAPES = ("circles", "squares", "triangles")


def _save(fig: plt.Figure, out_path: str | Path) -> Path:
    save_figure(fig, out_path, dpi=120, bbox_inches="tight")
    plt.close(fig)
    return Path(out_path)


def samples_figure(examples: str | Path, out_path: str | Path) -> Path:
    """One row per test pair: input, truth, then the sampled next frames (and their difference to the input)."""
    group = open_shard(examples)
    image, truth, samples = (np.asarray(group[k][:]) for k in ("image", "truth", "samples"))
    n, s = samples.shape[:2]
    fig, axes = plt.subplots(2 * n, 2 + s, figsize=(1.6 * (2 + s), 3.2 * n), squeeze=False)
    for i in range(n):
        frames = [image[i], truth[i], *samples[i]]
        titles = ["input", "truth", *[f"sample {k + 1}" for k in range(s)]]
        for j, (frame, title) in enumerate(zip(frames, titles)):
            axes[2 * i, j].imshow(frame)
            diff = frame.astype(np.float32).mean(-1) - image[i].astype(np.float32).mean(-1)
            axes[2 * i + 1, j].imshow(diff, cmap="RdBu", vmin=-128, vmax=128)
            axes[2 * i, j].set_title(title, fontsize=8)
    for ax in axes.ravel():
        ax.set_axis_off()
    fig.suptitle("Shapes: sampled next frames (second rows: difference to the input)", fontsize=9)
    return _save(fig, out_path)


def feature_maps_figure(examples: str | Path, out_path: str | Path, shown: int = 8) -> Path:
    """Fig. 8: for two test inputs, the first ``shown`` feature maps of every scale of the image encoder."""
    group = open_shard(examples)
    image = np.asarray(group["image"][:])
    scales = list(group.attrs["scales"])
    inputs = min(2, len(image))
    maps = [np.asarray(group[f"maps_{s}"][:inputs]) for s in range(len(scales))]  # (n, maps, h, w) each
    shown = min(shown, maps[0].shape[1])
    fig, axes = plt.subplots(inputs * len(scales), shown + 1, figsize=(1.1 * (shown + 1), 1.15 * inputs * len(scales)),
                             squeeze=False)
    for i in range(inputs):
        for s, level in enumerate(maps):
            row = i * len(scales) + s
            axes[row, 0].imshow(image[i])
            axes[row, 0].set_ylabel(f"x{scales[s]:g}", fontsize=7)
            for k in range(shown):
                axes[row, k + 1].imshow(level[i, k], cmap="viridis")
    for ax in axes.ravel():
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle("Image encoder feature maps per scale (rows) for two test inputs: what the kernels move",
                 fontsize=9)
    return _save(fig, out_path)


def extrapolation_gif(examples: str | Path, out_path: str | Path) -> Path:
    """Sec. 7.2: each test input (green border) then the frames made by applying one z again (red)."""
    group = open_shard(examples)
    video = np.asarray(group["extrapolation"][:])  # (N, T, H, W, 3)
    return sample_gif(video, 1, out_path, [f"input {i + 1}" for i in range(len(video))], truth_rows=())


def z_statistics_figure(stats_csv: str | Path, out_path: str | Path) -> Path:
    """Fig. 10: per z dimension, the band mean +- std of z_mean and of z_logvar over training pairs."""
    t = pd.read_csv(stats_csv)
    fig, axes = plt.subplots(2, 1, figsize=(9, 4.5), sharex=True)
    for ax, name, label in ((axes[0], "mean", "z_mean"), (axes[1], "logvar", "z_logvar")):
        m, s = t[f"{name}_mean"].to_numpy(), t[f"{name}_std"].to_numpy()
        ax.vlines(t["dim"], m - s, m + s, color="tab:blue", linewidth=0.6)
        ax.axhline(0.0, color="k", linewidth=0.5)
        ax.set_ylabel(label)
    axes[1].set_xlabel(f"dimension of z ({len(t)}; {int(t['nonzero'].sum())} non-zero)")
    fig.suptitle("z statistics over training pairs: mean +- std per dimension", fontsize=9)
    return _save(fig, out_path)


def motion_histograms_figure(motions: Mapping[str, str | Path], out_path: str | Path) -> Path:
    """Fig. 5 left: per shape (columns) the 2D histogram of measured motion of each predictor (rows)."""
    names = list(motions)
    fig, axes = plt.subplots(len(names), 4, figsize=(9, 2.3 * len(names)), squeeze=False)
    extent = (EDGES[0], EDGES[-1], EDGES[-1], EDGES[0])
    for r, name in enumerate(names):
        t = pd.read_csv(motions[name])
        for c, code in enumerate(range(3)):
            sel = t[t["shape"] == code]
            axes[r, c].imshow(np.log1p(motion_histogram(sel[["dx", "dy"]].to_numpy())), extent=extent, cmap="magma")
            axes[0, c].set_title(f"{SHAPES[c]}: (dx, dy)", fontsize=8)
        circles = t[t["shape"] == 0].set_index(["pair", "sample"])["dy"]
        triangles = t[t["shape"] == 2].set_index(["pair", "sample"])["dy"]
        joint = pd.concat([circles, triangles], axis=1, join="inner").to_numpy()
        axes[r, 3].imshow(np.log1p(motion_histogram(joint)), extent=extent, cmap="magma")
        axes[0, 3].set_title("circle dy vs triangle dy", fontsize=8)
        axes[r, 0].set_ylabel(name, fontsize=8)
    for ax in axes.ravel():
        ax.set_xticks([-5, 0, 5])
        ax.set_yticks([-5, 0, 5])
        ax.tick_params(labelsize=6)
    fig.suptitle("Measured per-object motion of sampled next frames (log counts, px)", fontsize=9)
    return _save(fig, out_path)

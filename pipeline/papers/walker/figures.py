"""walker's figures: min-Euclidean curves (Fig. 5), clustered CVAE samples on the image (Fig. 3),
training losses. Drawn from saved evaluation outputs and training logs only.

Trajectories are coloured by the direction of each segment (the colour wheel of
:mod:`pipeline.plots`), as the paper's Figs. 1, 3 and 4.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure

from pipeline.atomic import save_figure
from pipeline.plots import colour_wheel, trajectory_segments
from pipeline.shards import open_shard
from pipeline.trajectories import dct_decode

STYLES = {
    "Ours (CVAE)": dict(color="C3", ls="-"),
    "Regressor (sampled)": dict(color="C0", ls="-"),
    "Regressor (mean)": dict(color="C0", ls="--"),
    "Optical Flow": dict(color="C2", ls="-"),
    "No motion": dict(color="0.4", ls=":"),
    "Mean training motion": dict(color="0.6", ls="-."),
}


def min_euclidean_figure(scores: Mapping[str, Path], path: str | Path) -> Path:
    """Mean over test images of the distance of the closest of n samples, against n (Fig. 5)."""
    fig = Figure(figsize=(5.6, 4.0), dpi=100, layout="constrained")
    ax = fig.subplots()
    images, still, names = None, None, set()
    for file in scores.values():
        record = json.loads(Path(file).read_text())
        images, still = record["test_images"], record.get("no_motion_distance")
        for name, curve in record["curves"].items():
            n = np.arange(1, len(curve) + 1)
            ax.plot(n, curve, label=name, lw=1.6, **STYLES.get(name, {}))
            names.add(name)
    if still is not None and "No motion" not in names:
        ax.axhline(still, color="0.5", ls=":", lw=1.2, label="no motion (reference)")
    ax.set_xscale("log")
    ax.set(xlabel="samples per image n", ylabel="mean min. Euclidean distance (px)",
           title=f"THUMOS, {images} test images, coarse DCT trajectories")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    return save_figure(fig, path)


def coarse_offsets(dct: np.ndarray, image_size: tuple[int, int], margin: tuple[int, int]) -> np.ndarray:
    """A field of DCT trajectories on a grid (10, h, w) -> per-pixel offsets (H, W, 30, 2), each
    pixel carrying its cell's track (cells tile the frame with the model's margin)."""

    _, h, w = dct.shape
    offsets = dct_decode(np.ascontiguousarray(dct.transpose(1, 2, 0)))  # (h, w, 30, 2)
    (height, width), (mh, mw) = image_size, margin
    cell_y = (height + 2 * mh) // h
    cell_x = (width + 2 * mw) // w
    full = np.repeat(np.repeat(offsets, cell_y, axis=0), cell_x, axis=1)
    return full[mh : mh + height, mw : mw + width]


def _draw_tracks(ax, image: np.ndarray, offsets: np.ndarray, step: int, title: str) -> None:
    height, width = image.shape[:2]
    ax.imshow(image, alpha=0.7)
    segments, colours = trajectory_segments(offsets, step=step, min_length=0.5)
    ax.add_collection(LineCollection(segments, colors=colours, linewidths=1.2))
    ax.set_xlim(-0.5, width - 0.5)
    ax.set_ylim(height - 0.5, -0.5)
    ax.set_title(title, fontsize=8)
    ax.set_axis_off()


def samples_figure(examples: Path, path: str | Path) -> Path:
    """Per test frame: the true trajectories and the largest moving k-means clusters of the CVAE's
    samples, drawn on the frame (Fig. 3)."""

    group = open_shard(examples)
    attrs = dict(group.attrs)
    image_size, margin = tuple(attrs["image_size"]), tuple(attrs["margin"])
    images, truth = np.asarray(group["image"]), np.asarray(group["truth"])
    centres, fractions, shown = (np.asarray(group[k]) for k in ("centres", "fractions", "shown"))
    cell = (image_size[0] + 2 * margin[0]) // attrs["grid"][0]  # pixels per grid cell
    step = max(cell, image_size[0] // 30)  # one track per cell, at most ~30 rows of them
    n, k = len(images), shown.shape[1]
    fig = Figure(figsize=(3.0 * (k + 1) + 1.0, 2.4 * n * image_size[0] / image_size[1] + 0.8), dpi=100,
                 layout="constrained")
    axes = fig.subplots(n, k + 2, squeeze=False, width_ratios=[1] * (k + 1) + [0.35])
    for i in range(n):
        _draw_tracks(axes[i, 0], images[i], coarse_offsets(truth[i], image_size, margin), step, "ground truth")
        for j, c in enumerate(shown[i]):
            offsets = coarse_offsets(centres[i, c], image_size, margin)
            _draw_tracks(axes[i, j + 1], images[i], offsets, step,
                         f"cluster {int(c) + 1} of {centres.shape[1]}: {100 * fractions[i, c]:.0f}% of samples")
        axes[i, -1].imshow(colour_wheel())
        axes[i, -1].set_axis_off()
    fig.suptitle(f"CVAE: {attrs['samples']} samples per frame, k-means into {attrs['clusters']} clusters; "
                 f"the largest clusters with significant motion", fontsize=9)
    return save_figure(fig, path)


def training_figure(model_dirs: Mapping[str, Path], path: str | Path) -> Path:
    """Training losses of the CVAE (and its terms), the regressor and the flow net, from ``log.csv``,
    with the hold-out losses (``val_log.csv``) dashed where they were logged."""
    fig = Figure(figsize=(12, 3.4), dpi=100, layout="constrained")
    axes = fig.subplots(1, len(model_dirs))
    for ax, (name, folder) in zip(np.atleast_1d(axes), model_dirs.items()):
        log = pd.read_csv(Path(folder) / "log.csv")
        held = Path(folder) / "val_log.csv"
        val = pd.read_csv(held) if held.exists() else None
        for i, column in enumerate(c for c in log.columns if c not in ("step", "wall_seconds")):
            ax.plot(log["step"], log[column], lw=1, color=f"C{i}", label=column)
            if val is not None and column in val.columns:
                ax.plot(val["step"], val[column], lw=1.2, ls="--", marker=".", color=f"C{i}", label=f"{column} (hold-out)")
        ax.set_yscale("symlog", linthresh=1.0)
        ax.set(xlabel="step", title=name)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    return save_figure(fig, path)

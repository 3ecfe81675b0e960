"""walker's figures: min-Euclidean curves (Fig. 5), clustered CVAE samples on the image and in
space-time (Figs. 3-4), latent interpolation (Fig. 6), training losses. Drawn from saved evaluation outputs and training logs only.

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
from mpl_toolkits.mplot3d.art3d import Line3DCollection

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


def _draw_space_time(ax, offsets: np.ndarray, step: int, image_size: tuple[int, int], title: str) -> None:
    """Tracks (H, W, T-1, 2) in 3D space-time (x, time, y), coloured by direction (Figs. 1b, 3b, 4b)."""
    segments, colours = trajectory_segments(offsets, step=step, min_length=0.5)  # (K*(T-1), 2, 2)
    t = np.arange(len(segments)) % offsets.shape[2]  # each track's segments come in time order
    xyz = np.stack([segments[..., 0], np.stack([t, t + 1], axis=1), segments[..., 1]], axis=-1)  # (N, 2, 3)
    if len(xyz):  # a still cluster has no track to draw
        ax.add_collection3d(Line3DCollection(xyz, colors=colours, linewidths=0.8), autolim=False)
    height, width = image_size
    ax.set(xlim=(0, width), ylim=(0, offsets.shape[2]), zlim=(height, 0), xlabel="x", ylabel="frame", zlabel="y")
    ax.tick_params(labelsize=6)
    ax.set_title(title, fontsize=8)


def _examples(examples: Path) -> tuple[dict, dict[str, np.ndarray], int]:
    """The saved examples, their attributes and the drawing step (one track per grid cell, <= ~30 rows)."""
    group = open_shard(examples)
    attrs = dict(group.attrs)
    arrays = {k: np.asarray(group[k]) for k in group.array_keys()}
    cell = (attrs["image_size"][0] + 2 * attrs["margin"][0]) // attrs["grid"][0]  # pixels per grid cell
    return attrs, arrays, max(cell, attrs["image_size"][0] // 30)


def _label_name(attrs: dict, label: int) -> str:
    names = attrs.get("labels", [])
    return names[label] if 0 <= label < len(names) else f"class {label}"


def samples_figure(examples: Path, path: str | Path) -> Path:
    """Figs. 3-4: per test frame, the true trajectories, the largest moving k-means clusters of the
    CVAE's samples drawn on the frame, and the first of them in space-time."""

    attrs, a, step = _examples(examples)
    image_size, margin = tuple(attrs["image_size"]), tuple(attrs["margin"])
    images, truth, centres, fractions, shown = (a[k] for k in ("image", "truth", "centres", "fractions", "shown"))
    n, k = len(images), shown.shape[1]
    fig = Figure(figsize=(3.0 * (k + 2) + 1.0, 2.6 * n * image_size[0] / image_size[1] + 0.8), dpi=100,
                 layout="constrained")
    grid = fig.add_gridspec(n, k + 3, width_ratios=[1] * (k + 2) + [0.35])
    for i in range(n):
        ax = fig.add_subplot(grid[i, 0])
        _draw_tracks(ax, images[i], coarse_offsets(truth[i], image_size, margin), step,
                     f"ground truth ({_label_name(attrs, int(a['label'][i]))})")
        for j, c in enumerate(shown[i]):
            offsets = coarse_offsets(centres[i, c], image_size, margin)
            _draw_tracks(fig.add_subplot(grid[i, j + 1]), images[i], offsets, step,
                         f"cluster {int(c) + 1} of {centres.shape[1]}: {100 * fractions[i, c]:.0f}% of samples")
        first = int(shown[i][0])
        _draw_space_time(fig.add_subplot(grid[i, k + 1], projection="3d"),
                         coarse_offsets(centres[i, first], image_size, margin), step, image_size,
                         f"cluster {first + 1} in space-time")
        legend = fig.add_subplot(grid[i, -1])
        legend.imshow(colour_wheel())
        legend.set_axis_off()
    fig.suptitle(f"CVAE: {attrs['samples']} samples per frame, k-means into {attrs['clusters']} clusters; "
                 f"the largest clusters with significant motion", fontsize=9)
    return save_figure(fig, path)


def interpolation_figure(examples: Path, path: str | Path) -> Path:
    """Fig. 6: per test frame, the futures decoded along a straight line in latent space (left to
    right) between the latents of two samples from different predicted motions."""

    attrs, a, step = _examples(examples)
    image_size, margin = tuple(attrs["image_size"]), tuple(attrs["margin"])
    images, walks = a["image"], a["interpolation"]  # (E, H, W, 3), (E, S, 10, h, w)
    n, steps = walks.shape[:2]
    fig = Figure(figsize=(2.2 * (steps + 1) + 0.8, 2.0 * n * image_size[0] / image_size[1] + 0.8), dpi=100,
                 layout="constrained")
    axes = fig.subplots(n, steps + 2, squeeze=False, width_ratios=[1] * (steps + 1) + [0.35])
    for i in range(n):
        axes[i, 0].imshow(images[i])
        axes[i, 0].set_title(f"input ({_label_name(attrs, int(a['label'][i]))})", fontsize=8)
        axes[i, 0].set_axis_off()
        for j in range(steps):
            _draw_tracks(axes[i, j + 1], images[i], coarse_offsets(walks[i, j], image_size, margin), step,
                         f"t = {j / max(steps - 1, 1):.2f}")
        axes[i, -1].imshow(colour_wheel())
        axes[i, -1].set_axis_off()
    fig.suptitle("CVAE latent interpolation: (1 - t) z_a + t z_b, z_a and z_b the latents of the samples nearest "
                 "the two largest moving clusters", fontsize=9)
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

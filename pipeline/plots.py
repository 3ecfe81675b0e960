"""Figures of the preprocessing stages: flow colour coding, trajectories on the image, stabilization.

Each public ``*_figure`` function draws from arrays a stage saved and writes one PNG. Figures
are built on ``matplotlib.figure.Figure`` with the Agg canvas directly, so no GUI backend or
pyplot global state is involved.

Flow colours follow the Middlebury coding of Baker et al. (2011) through the ``flow_vis``
package: hue = direction, saturation = magnitude relative to the largest drawn; the legend is
the same coding sampled on a disc. Trajectories are coloured with that wheel by the
direction of each segment, as walker's Fig. 1 and 3 colour each point in time by its
direction of motion.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from flow_vis import flow_uv_to_colors
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure

from pipeline.atomic import save_figure
from pipeline.shards import open_shard, shard_length
from pipeline.trajectories import dct_decode


def flow_to_rgb(flow: np.ndarray, max_magnitude: float | None = None) -> np.ndarray:
    """Middlebury colour image of a flow (H, W, 2). (H, W, 3) uint8 RGB.

    Vectors are divided by ``max_magnitude`` (default: the largest in the field) and those
    longer than it are shortened to it, so several fields can share one scale.
    """
    u, v = flow[..., 0].astype(np.float64), flow[..., 1].astype(np.float64)
    radius = np.hypot(u, v)
    scale = float(radius.max()) if max_magnitude is None else float(max_magnitude)
    scale = max(scale, 1e-6)
    shrink = np.minimum(1.0, scale / np.maximum(radius, 1e-12))  # clip to the wheel's rim
    return flow_uv_to_colors(u * shrink / scale, v * shrink / scale)


def colour_wheel(size: int = 101) -> np.ndarray:
    """The flow colour legend: unit-disc flows coloured, white outside. (size, size, 3) uint8."""
    axis = np.linspace(-1.0, 1.0, size)
    u, v = np.meshgrid(axis, axis)  # image axes: +x right, +y down, as flow
    wheel = flow_to_rgb(np.stack([u, v], axis=-1), max_magnitude=1.0)
    wheel[np.hypot(u, v) > 1.0] = 255
    return wheel


def _legend(ax, max_magnitude: float | None) -> None:
    ax.imshow(colour_wheel(), extent=(-1, 1, 1, -1))
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title("direction" if max_magnitude is None else f"rim = {max_magnitude:.1f} px", fontsize=8)
    for spine in ax.spines.values():
        spine.set_visible(False)


def flow_figure(
    path: str | Path,
    frame: np.ndarray,
    flows: dict[str, np.ndarray],
    max_magnitude: float | None = None,
    title: str = "",
) -> Path:
    """The frame (H, W, 3), each named flow (H, W, 2) in Middlebury colours, and the wheel legend.

    All flows share one colour scale (default: the largest vector among them) so the panels
    are comparable, e.g. truth vs DeepFlow vs DIS, or a 200x200 flow vs its 20x20 resizing.
    """
    if max_magnitude is None:
        max_magnitude = max(float(np.hypot(f[..., 0], f[..., 1]).max()) for f in flows.values())
    n = len(flows) + 2
    fig = Figure(figsize=(2.4 * n, 2.6), dpi=100, layout="constrained")
    axes = fig.subplots(1, n)
    axes[0].imshow(frame)
    axes[0].set_title("frame", fontsize=9)
    for ax, (name, flow) in zip(axes[1:-1], flows.items()):
        ax.imshow(flow_to_rgb(flow, max_magnitude), interpolation="nearest")
        ax.set_title(name, fontsize=9)
    for ax in axes[:-1]:
        ax.set_axis_off()
    _legend(axes[-1], max_magnitude)
    if title:
        fig.suptitle(title, fontsize=10)
    return save_figure(fig, path)


def trajectory_segments(
    offsets: np.ndarray, step: int = 8, reliable: np.ndarray | None = None, min_length: float = 0.5
) -> tuple[np.ndarray, np.ndarray]:
    """Polyline segments of a grid of tracks and their direction colours.

    offsets (H, W, T-1, 2); every ``step``-th pixel in both axes, tracks reliable at their
    end (if ``reliable`` (H, W, T-1) is given) and moving at least ``min_length`` px.
    Returns segments (N, 2, 2) as ((x0, y0), (x1, y1)) and colours (N, 3) in [0, 1].
    """
    height, width = offsets.shape[:2]
    ys, xs = np.mgrid[step // 2 : height : step, step // 2 : width : step]
    track = offsets[ys, xs]  # (gy, gx, T-1, 2)
    keep = np.linalg.norm(track[..., -1, :], axis=-1) >= min_length
    if reliable is not None:
        keep &= reliable[ys, xs, -1]
    start = np.stack([xs, ys], axis=-1)[keep].astype(np.float64)  # (K, 2)
    track = track[keep]  # (K, T-1, 2)
    points = np.concatenate([start[:, None], start[:, None] + track], axis=1)  # (K, T, 2)
    segments = np.stack([points[:, :-1], points[:, 1:]], axis=2).reshape(-1, 2, 2)  # (K*(T-1), 2, 2)
    steps = (segments[:, 1] - segments[:, 0]).reshape(-1, 1, 2)
    colours = flow_to_rgb(steps / np.maximum(np.linalg.norm(steps, axis=-1, keepdims=True), 1e-9), 1.0)
    return segments, colours.reshape(-1, 3) / 255.0


def trajectories_figure(
    path: str | Path,
    frame: np.ndarray,
    offsets: np.ndarray | dict[str, np.ndarray],
    reliable: np.ndarray | None = None,
    step: int = 8,
    title: str = "",
) -> Path:
    """Tracks drawn on the first frame, each segment coloured by its direction (walker Fig. 1, 3).

    ``offsets`` (H, W, T-1, 2), or a dict of several (e.g. truth and estimate, or samples of a
    model) drawn side by side on the same frame; a direction wheel is the legend.
    """
    panels = offsets if isinstance(offsets, dict) else {"trajectories": offsets}
    n = len(panels) + 1
    height, width = frame.shape[:2]
    fig = Figure(figsize=(3.2 * (n - 1) + 1.4, 3.2 * height / width + 0.5), dpi=100, layout="constrained")
    axes = fig.subplots(1, n, width_ratios=[1.0] * (n - 1) + [0.4])
    for ax, (name, field) in zip(axes[:-1], panels.items()):
        ax.imshow(frame, alpha=0.75)
        segments, colours = trajectory_segments(field, step, reliable)
        ax.add_collection(LineCollection(segments, colors=colours, linewidths=1.0))
        starts = segments[:: max(1, field.shape[2]), 0] if len(segments) else np.zeros((0, 2))
        ax.scatter(starts[:, 0], starts[:, 1], s=2, c="k")
        ax.set_xlim(-0.5, width - 0.5)
        ax.set_ylim(height - 0.5, -0.5)
        ax.set_title(name, fontsize=9)
        ax.set_axis_off()
    _legend(axes[-1], None)
    if title:
        fig.suptitle(title, fontsize=10)
    return save_figure(fig, path)


def stabilization_figure(
    path: str | Path, before: np.ndarray, after: np.ndarray, n_show: int = 4, title: str = ""
) -> Path:
    """A clip before (top) and after (bottom) stabilization: a few frames and the mean frame.

    The mean over all frames is blurred where the camera shook and sharp on a static
    background once stabilized, which shows the effect at a glance.
    """
    if before.shape != after.shape:
        raise ValueError(f"stabilization_figure: before {before.shape} and after {after.shape} differ")
    index = np.linspace(0, len(before) - 1, n_show).round().astype(int)
    fig = Figure(figsize=(2.0 * (n_show + 1), 2.0 * 2 * before.shape[1] / before.shape[2] + 0.6), dpi=100)
    fig.set_layout_engine("constrained")
    axes = fig.subplots(2, n_show + 1)
    for row, (name, clip) in enumerate((("before", before), ("after", after))):
        for col, t in enumerate(index):
            axes[row, col].imshow(clip[t])
            axes[row, col].set_title(f"{name} t={t}", fontsize=8)
        axes[row, -1].imshow(clip.astype(np.float32).mean(axis=0).round().astype(np.uint8))
        axes[row, -1].set_title(f"{name}: mean frame", fontsize=8)
    for ax in axes.ravel():
        ax.set_axis_off()
    if title:
        fig.suptitle(title, fontsize=10)
    return save_figure(fig, path)


# ---------------------------------------------------------------- drawn from saved stage outputs


def _first_items(path: Path, names: tuple[str, ...], n: int = 1) -> dict[str, np.ndarray]:

    group = open_shard(path)
    if shard_length(group) == 0:
        raise ValueError(f"{path} holds no items to draw (every clip was skipped or dropped upstream)")
    return {name: np.asarray(group[name][:n]) for name in names}


def stabilization_figure_from_shards(clip_shard: Path, stabilized_shard: Path, path: Path) -> Path:
    """The first kept clip of a shard before and after stabilization."""

    after = _first_items(stabilized_shard, ("frames", "source_item"))
    before = np.asarray(open_shard(clip_shard)["frames"][int(after["source_item"][0])])
    return stabilization_figure(path, before, after["frames"][0], title=f"{Path(clip_shard).parent.parent.name}")


def flow_figure_from_shard(flow_shard: Path, path: Path) -> Path:
    """The first frame of a shard with its staticflow target at full resolution and on the label grid."""

    item = _first_items(flow_shard, ("image", "flow", "flow_grid"))
    image, flow, grid = item["image"][0], item["flow"][0].astype(np.float32), item["flow_grid"][0]
    height, width = flow.shape[:2]
    # the grid field shown at full size, its vectors back in full-resolution pixels
    grid_full = cv2.resize(grid, (width, height), interpolation=cv2.INTER_NEAREST) * (height / grid.shape[0])
    return flow_figure(path, image, {"flow (mean of 0->1, 0->2, 0->3)": flow, f"on the {grid.shape[0]}x{grid.shape[1]} label grid": grid_full},
                       title=f"staticflow target, {Path(flow_shard).parent.parent.name}")


def trajectories_figure_from_shard(trajectory_shard: Path, path: Path, step: int = 8) -> Path:
    """Tracks of the first clip of a shard, reconstructed from their 10 DCT coefficients."""

    item = _first_items(trajectory_shard, ("image", "dct", "reliable"))
    offsets = dct_decode(item["dct"][0].astype(np.float32))  # (H, W, 30, 2)
    return trajectories_figure(path, item["image"][0], offsets, reliable=None, step=step,
                               title=f"trajectories (5+5 DCT coefficients), {Path(trajectory_shard).parent.parent.name}")

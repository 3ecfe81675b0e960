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

import logging
from collections.abc import Callable, Sequence
from pathlib import Path

import cv2
import numpy as np
import zarr
from flow_vis import flow_uv_to_colors
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure

from pipeline.atomic import save_figure
from pipeline.shards import open_shard, shard_length
from pipeline.trajectories import dct_decode

log = logging.getLogger(__name__)
TRAJECTORY_STEPS = 30  # walker's tracks: one second at 30 fps after the first frame


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

MAX_CANDIDATES = 24  # items scored when choosing what a preprocessing figure shows
DARK_LEVEL = 16.0  # mean grey level (0-255) below which a frame counts as black (a fade)
FLAT_LEVEL = 6.0  # grey-level spread below which a frame shows nothing (a fade, a blank card)
MOVING_PX = 1.0  # a pixel moves when it goes this far (px) over what the figure draws
CHANGED_LEVEL = 24  # a pixel changed when a channel differs by more than this (0-255)


def _paths(shards: Path | str | Sequence[Path | str]) -> list[Path]:
    return [Path(shards)] if isinstance(shards, (str, Path)) else [Path(p) for p in shards]


def candidate_items(shards: Sequence[Path]) -> list[tuple[int, int]]:
    """(shard, item) pairs spread evenly over every item of the shards, at most ``MAX_CANDIDATES``."""
    items = [(s, i) for s, path in enumerate(shards) for i in range(shard_length(open_shard(path)))]
    if len(items) > MAX_CANDIDATES:
        items = [items[k] for k in np.linspace(0, len(items) - 1, MAX_CANDIDATES).round().astype(int)]
    return items


def visible(image: np.ndarray) -> bool:
    """Not black and not flat: a frame a reader can see something in."""
    grey = cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2GRAY).astype(np.float32)
    return float(grey.mean()) > DARK_LEVEL and float(grey.std()) > FLAT_LEVEL


def pick_item(
    shards: Sequence[Path], look: Callable[[int, zarr.Group, int], tuple[np.ndarray, float]], stage: str
) -> tuple[int, int]:
    """The (shard, item) a figure should show: of the candidates (``candidate_items``) whose
    frame is ``visible``, the one with the most motion; ``look(shard, group, item)`` gives the
    item's frame and its share of moving pixels. Deterministic: ties go to the earlier item. The first
    clip of the first shard is often a fade-in from black or a still title; a figure of it
    shows nothing.
    """
    candidates = candidate_items(shards)
    if not candidates:
        raise ValueError(f"{stage}: {', '.join(map(str, shards))} hold no items to draw "
                         f"(every clip was skipped or dropped upstream)")
    groups = [open_shard(p) for p in shards]
    scored = []
    for shard, item in candidates:
        frame, motion = look(shard, groups[shard], item)
        scored.append((visible(frame), motion, -shard, -item))
    best = max(range(len(scored)), key=lambda k: scored[k])
    if not scored[best][0]:
        log.warning("%s: no candidate clip is visible (all dark or flat); drawing the one that moves most", stage)
    return candidates[best]


def _clip_name(group: zarr.Group, item: int) -> str:
    """The video an item was cut from, for a figure's title."""
    videos = list(group.attrs.get("videos", []))
    index = int(group["video_index"][item]) if "video_index" in group else -1
    return videos[index] if 0 <= index < len(videos) else f"item {item}"


def stabilization_look(clips: Sequence[zarr.Group]) -> Callable[[int, zarr.Group, int], tuple[np.ndarray, float]]:
    """``pick_item``'s look at a stabilized item: the first frame of the clip it came from
    (shard k of ``clips``), and the share of pixels that changed by its last frame (the
    camera or the scene moved: what the figure is there to show)."""

    def look(shard: int, group: zarr.Group, item: int) -> tuple[np.ndarray, float]:
        before = np.asarray(clips[shard]["frames"][int(group["source_item"][item])])  # (T, H, W, 3)
        change = np.abs(before[-1].astype(np.int16) - before[0].astype(np.int16)).max(axis=-1)
        return before[0], float((change > CHANGED_LEVEL).mean())

    return look


def stabilization_figure_from_shards(
    clip_shards: Path | Sequence[Path], stabilized_shards: Path | Sequence[Path], path: Path
) -> Path:
    """A clip worth looking at (visible, moving: see ``pick_item``) before and after stabilization;
    the k-th stabilized shard comes from the k-th clip shard."""

    clip_paths, stable_paths = _paths(clip_shards), _paths(stabilized_shards)
    if len(clip_paths) != len(stable_paths):
        raise ValueError(f"stabilization figure: {len(clip_paths)} clip shards but {len(stable_paths)} stabilized")
    clips = [open_shard(p) for p in clip_paths]
    shard, item = pick_item(stable_paths, stabilization_look(clips), "stabilization figure")
    after = open_shard(stable_paths[shard])
    before = np.asarray(clips[shard]["frames"][int(after["source_item"][item])])
    return stabilization_figure(path, before, np.asarray(after["frames"][item]),
                                title=f"{clip_paths[shard].parent.parent.name}: {_clip_name(after, item)}")


def _flow_look(shard: int, group: zarr.Group, item: int) -> tuple[np.ndarray, float]:
    flow = np.asarray(group["flow"][item], np.float32)
    return np.asarray(group["image"][item]), float((np.hypot(flow[..., 0], flow[..., 1]) > MOVING_PX).mean())


def flow_figure_from_shard(flow_shards: Path | Sequence[Path], path: Path) -> Path:
    """A frame worth looking at (``pick_item``) with its staticflow target at full resolution and
    on the label grid."""

    shards = _paths(flow_shards)
    shard, index = pick_item(shards, _flow_look, "flow figure")
    group = open_shard(shards[shard])
    image, flow, grid = (np.asarray(group[name][index]) for name in ("image", "flow", "flow_grid"))
    flow = flow.astype(np.float32)
    height, width = flow.shape[:2]
    # the grid field shown at full size, its vectors back in full-resolution pixels
    grid_full = cv2.resize(grid, (width, height), interpolation=cv2.INTER_NEAREST) * (height / grid.shape[0])
    return flow_figure(path, image, {"flow (mean of 0->1, 0->2, 0->3)": flow, f"on the {grid.shape[0]}x{grid.shape[1]} label grid": grid_full},
                       title=f"staticflow target, {shards[shard].parent.parent.name}: {_clip_name(group, index)}")


def _trajectory_look(shard: int, group: zarr.Group, item: int) -> tuple[np.ndarray, float]:
    # the DCT is orthonormal: the kept coefficients' energy is the track's summed squared offset
    dct = np.asarray(group["dct"][item], np.float32)  # (H, W, 2k)
    rms = np.sqrt(np.sum(dct**2, axis=-1) / TRAJECTORY_STEPS)
    return np.asarray(group["image"][item]), float((rms > MOVING_PX).mean())


def trajectories_figure_from_shard(trajectory_shards: Path | Sequence[Path], path: Path, step: int = 8) -> Path:
    """Tracks of a clip worth looking at (``pick_item``), reconstructed from their 10 DCT coefficients."""

    shards = _paths(trajectory_shards)
    shard, index = pick_item(shards, _trajectory_look, "trajectories figure")
    group = open_shard(shards[shard])
    offsets = dct_decode(np.asarray(group["dct"][index], np.float32), TRAJECTORY_STEPS)  # (H, W, 30, 2)
    return trajectories_figure(path, np.asarray(group["image"][index]), offsets, reliable=None, step=step,
                               title=f"trajectories (5+5 DCT coefficients), {shards[shard].parent.parent.name}: "
                                     f"{_clip_name(group, index)}")

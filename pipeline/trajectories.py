"""Dense pixel trajectories (walker's labels): tracks, multi-scale averaging, DCT encoding.

walker: "use [Wang & Schmid's improved trajectories] to stabilize them respective to the
first frame, and generate the trajectories ... As the implementation tracks pixels over
different scales, we take the average trajectory over all scales for a given pixel. For each
pixel in the first frame of a clip, we encode its trajectory via an x- and y-offset relative
to the pixel's start location for each subsequent frame (a 60-dimensional vector). We perform
a discrete cosine transform separately for the x and y offsets and take only the first 5
components of each."

Here, as in improved trajectories, a point is tracked by following the dense flow
(P_{t+1} = P_t + w_t(P_t)); the flow is sampled bilinearly at the sub-pixel position (the
reference median-filters it instead). The scale pyramid is the reference's: scale factor
1/sqrt(2) per level, as many levels as fit while the short side stays >= 32 px (8 at most).
Every pixel of every level is tracked (dense, not the reference's 5 px grid), the offsets
are brought back to full-resolution pixels and interpolated to every full-resolution start
pixel, and the levels are averaged. A track is unreliable from the frame where it leaves the
image, where forward and backward flows disagree, or where it crosses a motion boundary
(Sundaram et al. 2010's two criteria, the standard occlusion tests of dense point tracking).

Offsets are stored (H, W, T-1, 2): offsets[y, x, t-1] = position at frame t minus (x, y);
``offsets.reshape(H, W, 2 * (T-1))`` is walker's 60-vector (x and y interleaved per frame).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np
import scipy.fft

from pipeline.flow import compute_clip_flow, still_pixels
from pipeline.shards import map_shard

# Output grids of walker's coarse-to-fine heads for a 320x240 input: 1/16, 1/8, 1/4 (H, W).
WALKER_SIZES = ((16, 20), (32, 40), (64, 80))


@dataclass(frozen=True)
class TrajectoryConfig:
    """Flow, pyramid and reliability thresholds for dense tracking."""

    flow_method: str = "deepflow"  # "deepflow" (the papers) or "dis"
    dis_preset: str = "medium"
    n_scales: int = 8  # pyramid levels at most (improved trajectories' default)
    scale_stride: float = math.sqrt(2.0)  # size ratio between levels
    min_size: int = 32  # a level's short side must stay >= this (reference's patch size)
    fb_alpha: float = 0.01  # forward-backward check: |w + w_b|^2 <= alpha (|w|^2 + |w_b|^2) + beta
    fb_beta: float = 0.5  # px^2
    mb_alpha: float = 0.01  # motion-boundary check: |grad u|^2 + |grad v|^2 <= alpha |w|^2 + beta
    mb_beta: float = 0.002
    n_coefficients: int = 5  # DCT coefficients kept per axis
    still_test: bool = True  # tracks of pixels no later frame sees move stay put (see pipeline.flow.still_pixels)

    def __post_init__(self) -> None:
        if self.n_scales < 1 or self.scale_stride <= 1.0:
            raise ValueError(
                f"trajectories: n_scales >= 1 and scale_stride > 1 needed, got {self.n_scales}, {self.scale_stride}"
            )


@dataclass
class Trajectories:
    """Dense tracks of a clip's first-frame pixels."""

    offsets: np.ndarray  # (H, W, T-1, 2) float32, px, position at frame t minus start
    reliable: np.ndarray  # (H, W, T-1) bool, the track is trustworthy up to and including frame t
    scales: tuple[float, ...]  # size factor of each pyramid level used (1.0 first)


def track_flow(
    forward: np.ndarray,
    backward: np.ndarray | None = None,
    fb_alpha: float = 0.01,
    fb_beta: float = 0.5,
    mb_alpha: float = 0.01,
    mb_beta: float = 0.002,
) -> tuple[np.ndarray, np.ndarray]:
    """Follow every pixel of frame 0 through the flows.

    forward: (T-1, H, W, 2), flow t -> t+1; backward: (T-1, H, W, 2), flow t+1 -> t stored at
    index t, or None to skip the reliability checks (e.g. integrating a true flow).
    Sundaram et al.'s two tests end a track: forward and backward flows disagree (it became
    occluded), or it sits on a motion boundary (where a smooth flow estimate drags background
    points along with an occluder consistently in both directions, which the first test
    cannot see).
    Returns offsets (H, W, T-1, 2) float32 and reliable (H, W, T-1) bool. A track stays
    unreliable once it has failed; its position is still propagated (flow sampled with the
    border replicated) so every pixel has a full-length offset vector.
    """
    steps, height, width = forward.shape[:3]
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    px, py = xs.copy(), ys.copy()  # (H, W) current positions
    offsets = np.empty((height, width, steps, 2), np.float32)
    reliable = np.empty((height, width, steps), bool)
    alive = np.ones((height, width), bool)
    for t in range(steps):
        w = cv2.remap(forward[t], px, py, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)  # (H, W, 2)
        if backward is not None:
            grad = _flow_gradient(forward[t])  # (H, W)
            boundary = cv2.remap(grad, px, py, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
            alive &= boundary <= mb_alpha * np.sum(w**2, axis=-1) + mb_beta
        px, py = px + w[..., 0], py + w[..., 1]
        alive &= (px >= 0) & (px <= width - 1) & (py >= 0) & (py <= height - 1)
        if backward is not None:
            wb = cv2.remap(backward[t], px, py, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
            mismatch = np.sum((w + wb) ** 2, axis=-1)
            alive &= mismatch <= fb_alpha * (np.sum(w**2, axis=-1) + np.sum(wb**2, axis=-1)) + fb_beta
        offsets[..., t, 0] = px - xs
        offsets[..., t, 1] = py - ys
        reliable[..., t] = alive
    return offsets, reliable


def track_true_flow(flow: np.ndarray, occlusion: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Ground-truth tracks from a true flow (T-1, H, W, 2) and occlusion map (T-1, H, W) bool.

    The same integration as :func:`track_flow`, with visibility from the truth: a track is
    visible through frame t while it stays inside the image and the pixel it occupies at
    each earlier frame is not marked occluded (its flow target hidden in the next frame).
    For synthetic scenes this gives exact labels, and the reference the estimated tracks
    are scored against. Returns offsets (H, W, T-1, 2) float32 and visible (H, W, T-1) bool.
    """
    offsets, inside = track_flow(flow)
    if occlusion is None:
        return offsets, inside
    steps, height, width = flow.shape[:3]
    ys, xs = np.mgrid[0:height, 0:width]
    visible = np.empty((height, width, steps), bool)
    alive = np.ones((height, width), bool)
    px, py = xs, ys  # (H, W) positions at frame t, rounded to the pixel read in occlusion[t]
    for t in range(steps):
        alive &= ~occlusion[t][np.clip(py, 0, height - 1), np.clip(px, 0, width - 1)]
        alive &= inside[..., t]
        visible[..., t] = alive
        px = np.round(xs + offsets[..., t, 0]).astype(int)
        py = np.round(ys + offsets[..., t, 1]).astype(int)
    return offsets, visible


def _flow_gradient(flow: np.ndarray) -> np.ndarray:
    """|grad u|^2 + |grad v|^2 of a (H, W, 2) flow, central differences. (H, W) float32"""
    du_y, du_x = np.gradient(flow[..., 0])
    dv_y, dv_x = np.gradient(flow[..., 1])
    return (du_x**2 + du_y**2 + dv_x**2 + dv_y**2).astype(np.float32)


def pyramid_scales(height: int, width: int, cfg: TrajectoryConfig) -> tuple[float, ...]:
    """Size factors 1, 1/s, 1/s^2, ... while the short side stays >= min_size (at least one)."""
    scales = [1.0]
    while len(scales) < cfg.n_scales and min(height, width) * scales[-1] / cfg.scale_stride >= cfg.min_size:
        scales.append(scales[-1] / cfg.scale_stride)
    return tuple(scales)


def _resize_stack(frames: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    height, width = size
    return np.stack([cv2.resize(f, (width, height), interpolation=cv2.INTER_AREA) for f in frames])


def _resize_channels(field: np.ndarray, size: tuple[int, int], interpolation: int) -> np.ndarray:
    """cv2.resize of a (h, w, ...) field to (H, W, ...), 4 channels at a time (OpenCV's limit for INTER_AREA)."""
    height, width = size
    flat = field.reshape(*field.shape[:2], -1).astype(np.float32)  # (h, w, C)
    chunks = [
        cv2.resize(flat[..., i : i + 4], (width, height), interpolation=interpolation).reshape(height, width, -1)
        for i in range(0, flat.shape[2], 4)
    ]
    return np.concatenate(chunks, axis=2).reshape(height, width, *field.shape[2:])


def _to_full(field: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Bilinear resize of a pyramid level's (h, w, ...) field to the full grid (H, W, ...)."""
    return _resize_channels(field, size, cv2.INTER_LINEAR)


def compute_trajectories(frames: np.ndarray, cfg: TrajectoryConfig, progress: bool = False) -> Trajectories:
    """Tracks of every pixel of frames[0] through a (stabilized) clip (T, H, W, 3) uint8, averaged over scales.

    At each level the forward and backward flows are computed on the resized clip, every
    pixel is tracked, offsets are rescaled to full-resolution pixels and interpolated to the
    full grid. The levels where a track is reliable at frame t are averaged (all levels when
    none is), and the track counts as reliable where at least half of the levels agree it is
    (a coarse level blurs a small occluder away, so "any level" would hide occlusions).
    With ``cfg.still_test``, the track of a pixel that standing put explains in every later
    frame as well as its track does is set to zero (``pipeline.flow.still_pixels``): the flow
    fields, and the coarse levels most, spread a walker's motion onto the still ground around it.
    """
    if frames.ndim != 4 or frames.dtype != np.uint8 or len(frames) < 2:
        raise ValueError(f"compute_trajectories: expected uint8 (T>=2, H, W, 3), got {frames.dtype} {frames.shape}")
    n, height, width = frames.shape[:3]
    scales = pyramid_scales(height, width, cfg)
    total = np.zeros((height, width, n - 1, 2), np.float64)
    weight = np.zeros((height, width, n - 1), np.float64)
    plain = np.zeros_like(total)
    for scale in scales:
        size = (max(1, round(height * scale)), max(1, round(width * scale)))
        clip = frames if size == (height, width) else _resize_stack(frames, size)
        forward = compute_clip_flow(clip, cfg.flow_method, cfg.dis_preset, progress=progress)
        backward = compute_clip_flow(clip, cfg.flow_method, cfg.dis_preset, backward=True, progress=progress)
        offsets, reliable = track_flow(  # (h, w, T-1, 2), (h, w, T-1)
            forward, backward, cfg.fb_alpha, cfg.fb_beta, cfg.mb_alpha, cfg.mb_beta
        )
        offsets[..., 0] *= width / size[1]
        offsets[..., 1] *= height / size[0]
        offsets = _to_full(offsets, (height, width))  # (H, W, T-1, 2)
        good = _to_full(reliable.astype(np.float32), (height, width)) > 0.5  # (H, W, T-1)
        total += offsets * good[..., None]
        weight += good
        plain += offsets
    mean = np.where(weight[..., None] > 0, total / np.maximum(weight, 1)[..., None], plain / len(scales))
    mean = mean.astype(np.float32)
    if cfg.still_test:
        mean[still_pixels(frames[0], frames[1:], mean.transpose(2, 0, 1, 3))] = 0.0
    return Trajectories(mean, weight >= len(scales) / 2, scales)


def dct_encode(offsets: np.ndarray, k: int = 5) -> np.ndarray:
    """Orthonormal DCT-II over time of x and of y offsets, first k coefficients each.

    offsets (..., T-1, 2) -> (..., 2k): x coefficients then y coefficients. Smooth tracks
    put almost all their energy in the low frequencies, hence walker's 10 numbers per pixel.
    """
    if offsets.shape[-1] != 2 or not 1 <= k <= offsets.shape[-2]:
        raise ValueError(f"dct_encode: expected (..., T-1, 2) offsets and 1 <= k <= T-1, got {offsets.shape}, k={k}")
    coefs = scipy.fft.dct(offsets, type=2, norm="ortho", axis=-2)[..., :k, :]  # (..., k, 2)
    return np.concatenate([coefs[..., 0], coefs[..., 1]], axis=-1).astype(np.float32)


def dct_decode(coefficients: np.ndarray, n_steps: int = 30) -> np.ndarray:
    """Inverse of :func:`dct_encode`: (..., 2k) -> offsets (..., n_steps, 2), missing coefficients = 0."""
    k = coefficients.shape[-1] // 2
    if coefficients.shape[-1] != 2 * k or k > n_steps:
        raise ValueError(f"dct_decode: expected (..., 2k) with k <= {n_steps}, got {coefficients.shape}")
    full = np.zeros((*coefficients.shape[:-1], n_steps, 2), np.float64)
    full[..., :k, 0] = coefficients[..., :k]
    full[..., :k, 1] = coefficients[..., k:]
    return scipy.fft.idct(full, type=2, norm="ortho", axis=-2).astype(np.float32)


def downsample(field: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Area-average a per-pixel field (H, W, C) to ``size = (height, width)``, values unchanged.

    For walker's targets (DCT coefficients or offsets) at the network's output grids
    (:data:`WALKER_SIZES` for 320x240): the values stay in input-image pixels, so the three
    heads predict the same quantity at different densities; the DCT is linear, so averaging
    coefficients equals the coefficients of the averaged trajectories.
    """
    return _resize_channels(field, size, cv2.INTER_AREA)


def trajectory_shard(src: Path, dst: Path, cfg: TrajectoryConfig) -> tuple[int, int]:
    """Walker's inputs and targets from a shard of stabilized clips: each clip's first frame, the
    DCT of every pixel's trajectory (H, W, 2k) float16 and where the track stayed reliable."""
    def one(item: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        frames = item["frames"]  # (T, H, W, 3)
        tracks = compute_trajectories(frames, cfg)
        return {
            "image": frames[0],
            "dct": dct_encode(tracks.offsets, cfg.n_coefficients).astype(np.float16),  # (H, W, 2k)
            "reliable": tracks.reliable.all(axis=-1),  # (H, W): reliable over the whole second
        }

    return map_shard(src, dst, one, attrs={"trajectories": asdict(cfg)}, desc=f"trajectories {Path(dst).name}")

"""Shot cuts: where a video jumps to another camera, so each shot is stabilized on its own.

Without this, a video with cuts is either dropped whole (no keypoints match across a cut) or,
as with vidstab, the stabilizer "corrects" the cut as a huge camera jump. A cut is a frame
whose colour layout differs from the previous frame's far more than neighbouring frame pairs
differ from each other: HSV histograms of a 2x2 grid of blocks on a small copy of the frame,
compared with the Bhattacharyya distance, against a threshold that is both absolute and
relative to the local median (fast pans and flashes raise the median, not the peak ratio).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class CutConfig:
    """Thresholds of the cut detector (distances are Bhattacharyya, 0 = same, 1 = disjoint)."""

    min_distance: float = 0.35  # a cut differs at least this much from the previous frame
    ratio: float = 3.0  # ...and this many times more than the median of nearby frame pairs
    window: int = 5  # frames each side giving that median
    min_shot: int = 2  # frames; a cut closer than this to the previous one is ignored (flashes)


def _signature(frame: np.ndarray) -> list[np.ndarray]:
    """Normalised hue-saturation-value histograms of the 4 blocks of a 64-px-wide copy."""
    height, width = frame.shape[:2]
    small = cv2.resize(frame, (64, max(2, round(64 * height / width))), interpolation=cv2.INTER_AREA)
    hsv = cv2.cvtColor(small, cv2.COLOR_RGB2HSV)
    h, w = hsv.shape[:2]
    blocks = [hsv[: h // 2, : w // 2], hsv[: h // 2, w // 2 :], hsv[h // 2 :, : w // 2], hsv[h // 2 :, w // 2 :]]
    out = []
    for block in blocks:
        hist = cv2.calcHist([block], [0, 1, 2], None, [8, 4, 4], [0, 180, 0, 256, 0, 256])
        out.append(cv2.normalize(hist, None, norm_type=cv2.NORM_L1).astype(np.float32))
    return out


def frame_distances(frames: np.ndarray) -> np.ndarray:
    """Distance between each frame and the previous one (T,), 0 for the first frame."""
    signatures = [_signature(f) for f in frames]
    out = np.zeros(len(frames), np.float64)
    for t in range(1, len(frames)):
        out[t] = np.mean(
            [cv2.compareHist(a, b, cv2.HISTCMP_BHATTACHARYYA) for a, b in zip(signatures[t - 1], signatures[t])]
        )
    return out


def detect_cuts(frames: np.ndarray, cfg: CutConfig = CutConfig()) -> list[int]:
    """Indices of the first frame of every new shot (frames (T, H, W, 3) uint8 RGB), ascending."""
    d = frame_distances(frames)
    cuts: list[int] = []
    for t in range(1, len(d)):
        lo, hi = max(1, t - cfg.window), min(len(d), t + cfg.window + 1)
        nearby = np.concatenate([d[lo:t], d[t + 1 : hi]])
        local = float(np.median(nearby)) if len(nearby) else 0.0
        peak = d[t] >= cfg.min_distance and d[t] >= cfg.ratio * local
        if peak and (not cuts or t - cuts[-1] >= cfg.min_shot):
            cuts.append(t)
    return cuts


def shots(n_frames: int, cuts: list[int]) -> list[tuple[int, int]]:
    """(start, stop) of every shot between the cuts, covering all ``n_frames``."""
    edges = [0] + [c for c in cuts if 0 < c < n_frames] + [n_frames]
    return [(a, b) for a, b in itertools.pairwise(edges) if b > a]

"""Robust stabilization (``preprocess.stabilization: robust``, the default): warps that follow the background.

Camera motion of the background (:mod:`pipeline.camera_motion`), videos split at shot cuts
(:mod:`pipeline.shot_cuts`), every published warp checked
(:func:`pipeline.camera_motion.warp_problem`); nothing is dropped, each frame whose estimate
was not trusted is recorded with its reason, and a shot whose camera did not move is published
untouched. On real footage the papers' procedure (:mod:`pipeline.stabilize`) follows the object
with most keypoints and can do worse than no stabilization at all;
``benchmarks/bench_stabilization.py`` shows this mode not worse than the untouched input on any
clip, at least as stable as vidstab on the shaky ones and faster. Homographies follow
:mod:`pipeline.stabilize`'s convention.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import cv2
import numpy as np

from pipeline.camera_motion import (
    CameraMotion,
    MotionConfig,
    corners,
    estimate_camera,
    project,
    warp_problem,
)
from pipeline.shot_cuts import CutConfig, detect_cuts, shots
from pipeline.stabilize import _check_frames


@dataclass(frozen=True)
class RobustConfig:
    """The robust default: what to hold still, and the limits a published warp must respect."""

    motion: MotionConfig = field(default_factory=MotionConfig)
    cuts: CutConfig = field(default_factory=CutConfig)
    path: str = "auto"  # "tripod" (hold each shot's first frame), "smooth" (remove shake only), "auto"
    smooth_sigma: float = 15.0  # frames, Gaussian smoothing of the camera path in "smooth" mode
    max_fill_fraction: float = 0.15  # "auto": tripod while no frame is more than this share uncovered (else smooth)
    max_warp_shift: float = 0.35  # fraction of the diagonal a published warp may move a corner
    detect_cuts: bool = True  # split at shot cuts (off for clips known to be one shot)

    def __post_init__(self) -> None:
        if self.path not in ("tripod", "smooth", "auto"):
            raise ValueError(f"stabilize.path must be 'tripod', 'smooth' or 'auto', got {self.path!r}")


@dataclass
class RobustStabilized:
    """A stabilized video: every frame is published; what could not be trusted is recorded."""

    frames: np.ndarray  # (T, H, W, 3) uint8
    homographies: np.ndarray  # (T, 3, 3) float64, the warp applied: output pixel -> source frame pixel
    fill_fraction: np.ndarray  # (T,) float32, share of each output frame filled from earlier frames
    fallback: np.ndarray  # (T,) bool, the frame's own estimate was not used
    reasons: list[str]  # (T,) "" or a camera_motion.FALLBACK_REASONS entry
    details: list[str]  # (T,) the numbers behind each reason
    cuts: list[int]  # first frame of every new shot
    shot_paths: list[str]  # per shot: "still" (left untouched), "tripod" or "smooth"

    def fallback_counts(self) -> dict[str, int]:
        return dict(Counter(r for r in self.reasons if r))


def smooth_path(path: np.ndarray, shape: tuple[int, int], sigma: float) -> np.ndarray:
    """Low-pass camera path (T, 3, 3): image corners' trajectories smoothed with a Gaussian.

    Smoothing the corners rather than matrix entries keeps every smoothed homography a valid
    view of the frame, whatever mix of rotation, zoom and perspective the shake has.
    """
    from scipy.ndimage import gaussian_filter1d

    c = corners(shape).astype(np.float32)
    positions = np.stack([project(h, c) for h in path])  # (T, 4, 2)
    smoothed = gaussian_filter1d(positions, sigma, axis=0, mode="nearest") if len(path) > 1 else positions
    return np.stack([cv2.getPerspectiveTransform(c, s.astype(np.float32)) for s in smoothed])


_IDENTITY = np.eye(3)


def warp_frames(
    frames: np.ndarray, warps: np.ndarray, shot_starts: list[int] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """out[t](x) = frames[t](warps[t] x); uncovered pixels keep the previous output (the first
    frame of the video and of every shot in ``shot_starts`` keep the frame itself, never another
    shot's pixels). Returns frames (T, H, W, 3) and uncovered share (T,).

    One warp per frame onto a copy of the previous output with a transparent border (pixels
    with no source are not written), so filling costs no mask warp and no select.
    """
    n, height, width = frames.shape[:3]
    out = np.empty_like(frames)
    fill = np.zeros(n, np.float32)
    flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
    previous = frames[0]
    starts = set(shot_starts or [])
    for t in range(n):
        if t in starts:
            previous = frames[t]
        if not np.any(warps[t] - _IDENTITY):
            out[t] = frames[t]
        else:
            out[t] = previous
            cv2.warpPerspective(frames[t], warps[t], (width, height), dst=out[t], flags=flags,
                                borderMode=cv2.BORDER_TRANSPARENT)
            fill[t] = 1.0 - _coverage(warps[t], (height, width))
        previous = out[t]
    return out, fill


def _coverage(warp: np.ndarray, shape: tuple[int, int]) -> float:
    """Share of the output covered by the source frame under ``warp`` (out(x) = frame(warp x)).

    The covered set is the source frame's quadrilateral mapped back by ``warp``^-1, clipped to
    the output rectangle: an exact polygon intersection, no mask to warp. Assumes a plausible
    warp (:func:`pipeline.camera_motion.warp_problem` is "").
    """
    c = corners(shape).astype(np.float32)
    back = project(np.linalg.inv(warp), c).astype(np.float32)
    area, _ = cv2.intersectConvexConvex(c, back)
    height, width = shape
    return float(np.clip(area / ((width - 1) * (height - 1)), 0.0, 1.0))


def _shot_warps(camera: CameraMotion, shape: tuple[int, int], cfg: RobustConfig) -> tuple[np.ndarray, str]:
    """Warps for one shot from its camera path: "still" (no warp: the camera did not move),
    tripod (the path itself) or smooth (path @ smoothed^-1)."""
    tripod = camera.path
    if camera.still:
        return tripod, "still"
    if cfg.path == "tripod":
        return tripod, "tripod"
    smooth = camera.path @ np.linalg.inv(smooth_path(camera.path, shape, cfg.smooth_sigma))
    if cfg.path == "smooth":
        return smooth, "smooth"
    sample = list(tripod[:: max(1, len(tripod) // 16)]) + [tripod[-1]]
    worst = min(_coverage(w, shape) for w in sample)
    return (tripod, "tripod") if 1.0 - worst <= cfg.max_fill_fraction else (smooth, "smooth")


def stabilize_robust(frames: np.ndarray, cfg: RobustConfig = RobustConfig()) -> RobustStabilized:
    """Robust default: split at shot cuts, follow the background, publish only plausible warps.

    Every frame comes out (nothing is dropped). A shot whose camera did not move comes out
    exactly as it went in (a sub-pixel correction would only add interpolation blur and the
    estimate's own noise). A frame whose camera estimate was not trusted keeps its
    neighbours' position; a warp that would throw a corner away, fold or rescale the
    frame is replaced by the smoothed path's warp or, failing that, by no warp; each case is
    recorded per frame with its reason.
    """
    _check_frames(frames, "stabilize_robust")
    n, shape = len(frames), frames.shape[1:3]
    cuts = detect_cuts(frames, cfg.cuts) if cfg.detect_cuts else []
    warps = np.tile(np.eye(3), (n, 1, 1))
    reasons, details, paths = [""] * n, [""] * n, []
    for start, stop in shots(n, cuts):
        if stop - start < 2:
            paths.append("tripod")
            continue
        camera = estimate_camera(frames[start:stop], cfg.motion)
        shot, kind = _shot_warps(camera, shape, cfg)
        paths.append(kind)
        smooth = None
        for t, warp in enumerate(shot):
            problem = warp_problem(warp, shape, max_shift=cfg.max_warp_shift)
            if problem:
                if smooth is None:
                    smooth = camera.path @ np.linalg.inv(smooth_path(camera.path, shape, cfg.smooth_sigma))
                alternative = smooth[t] if not warp_problem(smooth[t], shape, max_shift=cfg.max_warp_shift) else np.eye(3)
                reasons[start + t] = "implausible_warp"
                details[start + t] = f"frame {start + t}: {problem}"
                warp = alternative
            elif camera.reasons[t]:
                reasons[start + t] = camera.reasons[t]
                details[start + t] = f"frame {start + t} (shot from {start}): {camera.details[t]}"
            warps[start + t] = warp
    out, fill = warp_frames(frames, warps, cuts)
    fallback = np.array([bool(r) for r in reasons])
    return RobustStabilized(out, warps, fill, fallback, reasons, details, cuts, paths)

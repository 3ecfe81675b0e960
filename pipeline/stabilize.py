"""Camera stabilization: frames warped to a reference frame, in two modes.

Both walker and vgan remove camera motion before anything learns from a clip, so that the
motion left in the pixels is the motion of the objects. Two modes (``preprocess.stabilization``):

* ``robust`` (the default, :func:`stabilize_robust`): camera motion of the background
  (:mod:`pipeline.camera_motion`), videos split at shot cuts (:mod:`pipeline.shot_cuts`),
  every published warp checked (:func:`pipeline.camera_motion.warp_problem`); nothing is
  dropped, each frame whose estimate was not trusted is recorded with its reason, and a shot
  whose camera did not move is published untouched. On real footage the papers' procedure
  follows the object with most keypoints and can do worse than no stabilization at all;
  ``benchmarks/bench_stabilization.py`` shows the robust mode not worse than the untouched
  input on any clip, at least as stable as vidstab on the shaky ones and faster;
* ``paper`` (below): the papers' keypoints + RANSAC, failing clips dropped, so the tables
  can follow the papers.

The paper mode's protocols:

* walker: each 31-frame clip is stabilized with respect to its own first frame
  (:func:`stabilize_clip`);
* vgan: a continuous video is cut into segments (32 frames), each stabilized with respect to
  its first frame, and segments whose homographies are unreliable ("too large a re-projection
  error", about 3% of the data in the paper) are dropped (:func:`stabilize_video`).

Homography convention (COMMON.md): ``H[t]`` maps pixel coordinates ``(x, y, 1)`` of the
reference frame 0 to frame t, ``H[0] = I``. The stabilized frame t is therefore
``out_t(x) = frame_t(H[t] x)``, i.e. frame t resampled on the reference frame's grid.

Adjacent-frame fits are chained to the reference, then (``refine_to_reference``) each frame is
re-fitted directly against the reference with the chain as a guide, which removes the drift a
30-step chain accumulates. Pixels the warp leaves uncovered are filled from the previous
stabilized frame. The keep/drop decision uses the adjacent-frame fits, as in vgan.

The per-pair diagnostics (inlier ratio, reprojection error, inlier count, filled fraction) are
kept for every frame so that a stage can write them beside the frames and so that the drop
rate is explained by a reason, not just a count.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np

from pipeline.camera_motion import (
    FALLBACK_REASONS,
    CameraMotion,
    MotionConfig,
    corners,
    estimate_camera,
    project,
    warp_problem,
)
from pipeline.shards import map_shard, open_shard, summarize_shards
from pipeline.shot_cuts import CutConfig, detect_cuts, shots

if TYPE_CHECKING:
    import pandas as pd

# Reasons a segment is dropped; stable strings so a stage can count them.
REASONS = (
    "few_matches",  # too few ratio-test matches between two adjacent frames (blank, blur, cut)
    "no_model",  # RANSAC could not fit a model at all
    "few_inliers",  # the fit is supported by too few keypoints
    "low_inlier_ratio",  # most matches disagree with the fit (moving objects dominate, noise)
    "reprojection_error",  # the inliers themselves are fitted poorly (non-planar, rolling shutter)
    "implausible_motion",  # adjacent-frame warp moves corners too far or folds the image
    "excessive_fill",  # too much of a stabilized frame would be invented from earlier frames
)


@dataclass(frozen=True)
class StabilizeConfig:
    """Keypoints, matching, RANSAC and the thresholds that decide whether a segment is kept."""

    detector: str = "sift"  # "sift" (vgan: SIFT keypoints) or "orb" (faster, binary)
    n_features: int = 1000  # keypoints per frame (0 = unlimited for SIFT)
    ratio: float = 0.75  # Lowe's ratio test: best / second-best descriptor distance
    motion_model: str = "homography"  # or "similarity" (vgan: "rotation, translation, scale")
    contrast_threshold: float = 0.01  # SIFT contrast threshold (OpenCV default 0.04 finds few points at 64-160 px)
    ransac_threshold: float = 1.0  # px, inlier distance in RANSAC
    min_matches: int = 12  # ratio-test matches needed between adjacent frames
    min_inliers: int = 10  # RANSAC inliers needed
    min_inlier_ratio: float = 0.25  # inliers / matches needed
    max_reprojection_error: float = 1.0  # px, RMS error of the inliers under the fitted model
    max_pair_shift: float = 0.25  # fraction of the image diagonal a corner may move between frames
    max_fill_fraction: float = 0.5  # fraction of a stabilized frame allowed to come from fill
    max_warp_shift: float = 0.5  # fraction of the diagonal a frame's warp to the reference may move a corner
    refine_to_reference: bool = True  # re-fit each frame directly against the reference (no drift)
    guide_radius: float = 4.0  # px, a reference match must land this close to the chained estimate
    warp_dropped: bool = False  # also warp frames of dropped segments (for inspection)

    def __post_init__(self) -> None:
        if self.detector not in ("sift", "orb"):
            raise ValueError(f"stabilize.detector must be 'sift' or 'orb', got {self.detector!r}")
        if self.motion_model not in ("homography", "similarity"):
            raise ValueError(
                f"stabilize.motion_model must be 'homography' or 'similarity', got {self.motion_model!r}"
            )
        if not 0.0 < self.ratio <= 1.0:
            raise ValueError(f"stabilize.ratio must be in (0, 1], got {self.ratio}")


@dataclass
class Stabilized:
    """One stabilized clip/segment with its per-frame diagnostics (index 0 is the reference)."""

    frames: np.ndarray | None  # (T, H, W, 3) uint8; None when dropped (unless warp_dropped)
    homographies: np.ndarray  # (T, 3, 3) float64, H[t]: reference coords -> frame t coords
    inlier_ratio: np.ndarray  # (T,) float32, pair (t-1, t); 1 at t=0
    reprojection_error: np.ndarray  # (T,) float32, px, RMS over inliers; 0 at t=0
    n_inliers: np.ndarray  # (T,) int32, pair (t-1, t)
    fill_fraction: np.ndarray  # (T,) float32, share of frame t filled from earlier frames
    ok: bool
    reason: str = ""  # one of REASONS when dropped, "" when kept
    detail: str = ""  # human-readable explanation naming the frame pair
    start: int = 0  # index of the first frame in the source video

    def diagnostics(self) -> dict[str, np.ndarray]:
        """Arrays to write beside the frames (everything except the frames themselves)."""
        return {
            "homographies": self.homographies,
            "inlier_ratio": self.inlier_ratio,
            "reprojection_error": self.reprojection_error,
            "n_inliers": self.n_inliers,
            "fill_fraction": self.fill_fraction,
        }


@dataclass
class _PairFit:
    """Fit between frames t-1 and t: ``model`` maps frame t-1 coords to frame t coords."""

    model: np.ndarray  # (3, 3) float64; identity when the fit failed
    n_matches: int
    n_inliers: int
    inlier_ratio: float
    error: float  # px
    reason: str = ""
    detail: str = ""


@dataclass
class _Features:
    points: np.ndarray  # (N, 2) float32
    descriptors: np.ndarray | None  # (N, D)
    binary: bool = False


def _to_grey(frame: np.ndarray) -> np.ndarray:
    if frame.ndim == 2:
        return frame
    return cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)


def _detect(frames: np.ndarray, cfg: StabilizeConfig) -> list[_Features]:
    """Keypoints of every frame once: each frame takes part in two adjacent pairs."""
    if cfg.detector == "sift":
        detector = cv2.SIFT_create(nfeatures=cfg.n_features, contrastThreshold=cfg.contrast_threshold)
    else:
        # ORB ignores a border of edgeThreshold (default 31) px at every pyramid level, which
        # leaves almost nothing of a 96x72 frame: shrink the patch with the frame (31 from 155 px).
        patch = int(np.clip(min(frames.shape[1:3]) // 5, 11, 31))
        detector = cv2.ORB_create(nfeatures=cfg.n_features or 1000, edgeThreshold=patch, patchSize=patch)
    out = []
    for frame in frames:
        keypoints, descriptors = detector.detectAndCompute(_to_grey(frame), None)
        points = np.array([k.pt for k in keypoints], np.float32).reshape(-1, 2)
        out.append(_Features(points, descriptors, binary=cfg.detector == "orb"))
    return out


def _match(a: _Features, b: _Features, ratio: float) -> tuple[np.ndarray, np.ndarray]:
    """Ratio-test matches; returns matched points (M, 2) in a and in b."""
    empty = np.zeros((0, 2), np.float32)
    if a.descriptors is None or b.descriptors is None or len(a.points) < 2 or len(b.points) < 2:
        return empty, empty
    matcher = cv2.BFMatcher(cv2.NORM_HAMMING if a.binary else cv2.NORM_L2)
    pairs = matcher.knnMatch(a.descriptors, b.descriptors, k=2)
    good = [p[0] for p in pairs if len(p) == 2 and p[0].distance < ratio * p[1].distance]
    if not good:
        return empty, empty
    ia = np.array([m.queryIdx for m in good])
    ib = np.array([m.trainIdx for m in good])
    return a.points[ia], b.points[ib]


def _fit_points(src: np.ndarray, dst: np.ndarray, shape: tuple[int, int], cfg: StabilizeConfig) -> _PairFit:
    """RANSAC model src -> dst from matched points (M, 2), with the checks that decide a drop."""
    identity = np.eye(3)
    n = len(src)
    if n < max(cfg.min_matches, 4):
        return _PairFit(identity, n, 0, 0.0, np.inf, "few_matches", f"{n} matches < {cfg.min_matches}")
    if cfg.motion_model == "homography":
        model, mask = cv2.findHomography(src, dst, cv2.RANSAC, cfg.ransac_threshold)
    else:
        affine, mask = cv2.estimateAffinePartial2D(
            src, dst, method=cv2.RANSAC, ransacReprojThreshold=cfg.ransac_threshold
        )
        model = None if affine is None else np.vstack([affine, [0.0, 0.0, 1.0]])
    if model is None or mask is None:
        return _PairFit(identity, n, 0, 0.0, np.inf, "no_model", f"RANSAC found no model from {n} matches")
    inliers = mask.ravel().astype(bool)
    n_in = int(inliers.sum())
    ratio = n_in / n
    residual = np.linalg.norm(project(model, src[inliers]) - dst[inliers], axis=1)
    error = float(np.sqrt(np.mean(residual**2))) if n_in else np.inf
    fit = _PairFit(model / model[2, 2], n, n_in, ratio, error)
    height, width = shape
    diagonal = float(np.hypot(width, height))
    shift = float(np.max(np.linalg.norm(project(model, corners(shape)) - corners(shape), axis=1)))
    det = float(np.linalg.det(fit.model[:2, :2]))
    if n_in < cfg.min_inliers:
        fit.reason, fit.detail = "few_inliers", f"{n_in} inliers < {cfg.min_inliers}"
    elif ratio < cfg.min_inlier_ratio:
        fit.reason, fit.detail = "low_inlier_ratio", f"inlier ratio {ratio:.2f} < {cfg.min_inlier_ratio}"
    elif error > cfg.max_reprojection_error:
        fit.reason = "reprojection_error"
        fit.detail = f"reprojection error {error:.2f} px > {cfg.max_reprojection_error}"
    elif shift > cfg.max_pair_shift * diagonal or not 0.5 < det < 2.0:
        fit.reason = "implausible_motion"
        fit.detail = f"corner shift {shift:.1f} px (limit {cfg.max_pair_shift * diagonal:.1f}), det {det:.2f}"
    if fit.reason:
        fit.model = identity
    return fit


def _fit_pairs(features: list[_Features], shape: tuple[int, int], cfg: StabilizeConfig) -> list[_PairFit]:
    """Fits for (0,1), (1,2), ...: one per adjacent pair."""
    fits = []
    for t in range(1, len(features)):
        src, dst = _match(features[t - 1], features[t], cfg.ratio)
        fits.append(_fit_points(src, dst, shape, cfg))
    return fits


def _chain(fits: list[_PairFit]) -> np.ndarray:
    """Compose adjacent models into H[t] (reference -> frame t). (T, 3, 3)"""
    chained = [np.eye(3)]
    for fit in fits:
        h = fit.model @ chained[-1]
        chained.append(h / h[2, 2])
    return np.stack(chained)


def _refine(
    fits: list[_PairFit], features: list[_Features], shape: tuple[int, int], cfg: StabilizeConfig
) -> np.ndarray:
    """H[t] re-fitted on matches between the reference and frame t directly. (T, 3, 3)

    A chain of adjacent fits accumulates their errors (a random walk: several pixels after
    30 frames of a small, weakly textured frame). Here the chain only guides matching: the
    guess for frame t is the adjacent fit applied to the refined H[t-1]; reference keypoints
    whose match lands farther than ``guide_radius`` from that guess are discarded, then
    RANSAC fits reference -> frame t. Where the direct fit fails its checks (frame t has
    drifted out of overlap with the reference) the guess is kept.
    """
    refined = [np.eye(3)]
    for t in range(1, len(features)):
        guess = fits[t - 1].model @ refined[-1]
        guess = guess / guess[2, 2]
        src, dst = _match(features[0], features[t], cfg.ratio)
        if len(src):
            near = np.linalg.norm(project(guess, src) - dst, axis=1) < cfg.guide_radius
            src, dst = src[near], dst[near]
        fit = _fit_points(src, dst, shape, replace(cfg, max_pair_shift=np.inf))
        refined.append(guess if fit.reason else fit.model)
    return np.stack(refined)


def warp_to_reference(frames: np.ndarray, homographies: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Resample every frame on the reference grid; pixels with no source keep the previous output.

    Filling from the previous *stabilized* frame (not a blank border) is vgan's choice: the
    networks then never see an artificial black edge that moves with the camera. A pixel
    counts as covered only if its whole bilinear footprint lies inside the source frame, so
    border pixels half-blended with black are filled too. Returns the frames (T, H, W, 3)
    and the filled fraction of each frame (T,).
    """
    n, height, width = frames.shape[:3]
    out = np.empty_like(frames)
    out[0] = frames[0]
    fill = np.zeros(n, np.float32)
    full = np.full((height, width), 255, np.uint8)
    flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP  # dst(x) = src(H x)
    for t in range(1, n):
        warped = cv2.warpPerspective(frames[t], homographies[t], (width, height), flags=flags)
        covered = cv2.warpPerspective(full, homographies[t], (width, height), flags=flags) == 255
        out[t] = np.where(covered[..., None], warped, out[t - 1])
        fill[t] = 1.0 - covered.mean()
    return out, fill


def _assemble(
    frames: np.ndarray, features: list[_Features], fits: list[_PairFit], cfg: StabilizeConfig, start: int
) -> Stabilized:
    n = len(frames)
    homographies = _chain(fits)
    inlier_ratio = np.array([1.0] + [f.inlier_ratio for f in fits], np.float32)
    error = np.array([0.0] + [f.error for f in fits], np.float32)
    n_inliers = np.array([0] + [f.n_inliers for f in fits], np.int32)
    failed = [(t + 1, f) for t, f in enumerate(fits) if f.reason]
    ok, reason, detail = True, "", ""
    if failed:
        t, fit = failed[0]
        ok, reason = False, fit.reason
        detail = f"frames {start + t - 1}->{start + t}: {fit.detail}"
    warped, fill = None, np.zeros(n, np.float32)
    if ok and cfg.refine_to_reference:
        homographies = _refine(fits, features, frames.shape[1:3], cfg)
    if ok:  # the chained or re-fitted warps themselves: a corner thrown away is never published
        for t, h in enumerate(homographies):
            problem = warp_problem(h, frames.shape[1:3], max_shift=cfg.max_warp_shift)
            if problem:
                ok, reason, detail = False, "implausible_motion", f"frame {start + t} warp: {problem}"
                break
    if ok or cfg.warp_dropped:
        warped, fill = warp_to_reference(frames, homographies)
        worst = int(np.argmax(fill))
        if ok and fill[worst] > cfg.max_fill_fraction:
            ok, reason = False, "excessive_fill"
            detail = f"frame {start + worst}: {fill[worst]:.2f} filled > {cfg.max_fill_fraction}"
            if not cfg.warp_dropped:
                warped = None
    return Stabilized(warped, homographies, inlier_ratio, error, n_inliers, fill, ok, reason, detail, start)


def _check_frames(frames: np.ndarray, what: str) -> None:
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise ValueError(f"{what}: expected uint8 frames (T, H, W, 3), got {frames.dtype} {frames.shape}")
    if len(frames) < 2:
        raise ValueError(f"{what}: need at least 2 frames, got {len(frames)}")


def stabilize_clip(frames: np.ndarray, cfg: StabilizeConfig) -> Stabilized:
    """walker mode: one clip (T, H, W, 3) uint8 stabilized w.r.t. its own first frame."""
    _check_frames(frames, "stabilize_clip")
    features = _detect(frames, cfg)
    return _assemble(frames, features, _fit_pairs(features, frames.shape[1:3], cfg), cfg, start=0)


def stabilize_video(
    frames: np.ndarray, cfg: StabilizeConfig, segment_len: int, stride: int | None = None
) -> list[Stabilized]:
    """vgan mode: cut a continuous video (T, H, W, 3) into segments, stabilize each to its first frame.

    Adjacent-frame fits are computed once for the whole video and shared by the segments
    (a pair is fitted once even when segments overlap). Every segment is returned, kept or
    dropped, so the stage can count drops by reason; a trailing part shorter than
    ``segment_len`` is not a segment.
    """
    _check_frames(frames, "stabilize_video")
    stride = stride or segment_len
    if segment_len < 2 or stride < 1:
        raise ValueError(f"stabilize_video: segment_len >= 2 and stride >= 1 needed, got {segment_len}, {stride}")
    starts = list(range(0, len(frames) - segment_len + 1, stride))
    if not starts:
        return []
    features = _detect(frames[: starts[-1] + segment_len], cfg)
    fits = _fit_pairs(features, frames.shape[1:3], cfg)  # fits[t-1]: pair (t-1, t)
    return [
        _assemble(
            frames[s : s + segment_len], features[s : s + segment_len], fits[s : s + segment_len - 1], cfg, start=s
        )
        for s in starts
    ]


def drop_counts(results: list[Stabilized]) -> dict[str, int]:
    """Segments per outcome: ``{"kept": n, "<reason>": n, ...}`` for a stage's log and table."""
    counts = Counter("kept" if r.ok else r.reason for r in results)
    return dict(counts)


def corner_error(estimated: np.ndarray, truth: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Largest displacement (px) between the image corners mapped by two homography stacks. (T,)

    The standard way to compare homographies in pixels rather than in matrix entries, which
    mix rotation, translation and perspective on different scales.
    """
    c = corners(shape)
    return np.array(
        [np.max(np.linalg.norm(project(e, c) - project(g, c), axis=1)) for e, g in zip(estimated, truth)]
    )


def reference_residual(estimated: np.ndarray, truth: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Where each reference pixel of the static background lands in the stabilized frames, minus itself.

    With true camera homographies ``truth`` (reference -> frame t), a background point at
    reference pixel p is at truth[t] p in frame t, and the stabilized frame t shows frame-t
    pixel estimated[t] x at x, so the point appears at estimated[t]^-1 truth[t] p. Perfect
    stabilization leaves it at p. Returns (T, H, W, 2) float32 displacements in pixels: the
    exact residual background motion relative to the reference (drift included).
    """
    height, width = shape
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float64)
    grid = np.stack([xs, ys], axis=-1).reshape(-1, 2)  # (H*W, 2)
    out = np.empty((len(truth), height, width, 2), np.float32)
    for t, (e, g) in enumerate(zip(estimated, truth)):
        out[t] = (project(np.linalg.inv(e) @ g, grid) - grid).reshape(height, width, 2)
    return out


# ---------------------------------------------------------------------------------------------
# Robust mode (the default): background camera motion, shot cuts, warps checked before use.


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


# ---------------------------------------------------------------------------------------------
# The stage: one clip shard in, one stabilized shard out.


def stabilize_shard(src: Path, dst: Path, cfg: StabilizeConfig | RobustConfig) -> tuple[int, int]:
    """Stabilize every clip of a clip shard relative to its own first frame (walker; vgan's
    32-frame segments are its clips), keeping per-frame homographies beside the frames.

    ``StabilizeConfig`` (mode "paper", the papers' procedure): clips that fail the thresholds
    are dropped with their reason. ``RobustConfig`` (mode "robust", the default): every clip is
    kept; per frame ``fallback_reason`` (index into the ``fallback_reasons`` attribute, -1 when
    the frame's own estimate was used) and ``shot_start`` (a cut: the frame starts a new shot,
    stabilized to itself), ``smoothed`` (the shot drifted too far for its first frame to be
    held, so only its shake was removed) and ``still`` (the camera did not move in the shot: its
    frames are published as they are) are written beside ``homographies`` and ``fill_fraction``.
    """
    if isinstance(cfg, RobustConfig):
        def one(item: dict[str, np.ndarray]) -> dict[str, np.ndarray] | tuple[str, str]:
            result = stabilize_robust(item["frames"], cfg)
            codes = np.array([FALLBACK_REASONS.index(r) if r else -1 for r in result.reasons], np.int8)
            starts = np.zeros(len(codes), bool)
            starts[result.cuts] = True
            smoothed, still = np.zeros(len(codes), bool), np.zeros(len(codes), bool)
            for (a, b), kind in zip(shots(len(codes), result.cuts), result.shot_paths):
                smoothed[a:b], still[a:b] = kind == "smooth", kind == "still"
            return {"frames": result.frames, "homographies": result.homographies.astype(np.float32),
                    "fill_fraction": result.fill_fraction, "fallback_reason": codes, "shot_start": starts,
                    "smoothed": smoothed, "still": still}

        attrs = {"stabilize": {"mode": "robust", **asdict(cfg)}, "fallback_reasons": list(FALLBACK_REASONS)}
        return map_shard(src, dst, one, attrs=attrs, desc=f"stabilize {Path(dst).name}")

    def paper(item: dict[str, np.ndarray]) -> dict[str, np.ndarray] | tuple[str, str]:
        result = stabilize_clip(item["frames"], cfg)
        if not result.ok:
            return result.reason, result.detail
        diagnostics = {k: v.astype(np.float32) if v.dtype == np.float64 else v for k, v in result.diagnostics().items()}
        return {"frames": result.frames, **diagnostics}

    attrs = {"stabilize": {"mode": "paper", **asdict(cfg)}}
    return map_shard(src, dst, paper, attrs=attrs, desc=f"stabilize {Path(dst).name}")


def stage_config(mode: str, keypoints: str = "sift") -> StabilizeConfig | RobustConfig:
    """The configuration for ``preprocess.stabilization`` (robust | paper) and ``preprocess.keypoints``."""
    if mode == "robust":
        return RobustConfig()
    if mode == "paper":
        return StabilizeConfig(detector=keypoints)
    raise ValueError(f"preprocess.stabilization must be 'robust' or 'paper', got {mode!r}")


def summarize_stabilized(paths: list[Path], out_csv: Path) -> pd.DataFrame:
    """The stage's ``summary.csv``: kept/dropped clips with drop reasons (as every stage), plus
    the robust mode's frames that fell back, by reason, the shot cuts found and the frames of
    shots left untouched because their camera did not move."""
    table = summarize_shards(paths, out_csv)
    fallbacks, cuts, still = [], [], []
    for path in paths:
        group = open_shard(path)
        names = list(group.attrs.get("fallback_reasons", []))
        counts: Counter[str] = Counter()
        n_cuts, n_still = 0, 0
        if "fallback_reason" in group:
            codes = np.asarray(group["fallback_reason"][:])
            counts.update(names[c] for c in codes[codes >= 0].tolist())
            n_cuts = int(np.asarray(group["shot_start"][:]).sum())
            n_still = int(np.asarray(group["still"][:]).sum()) if "still" in group else 0
        fallbacks.append("; ".join(f"{k}: {v}" for k, v in sorted(counts.items())))
        cuts.append(n_cuts)
        still.append(n_still)
    table["fallback_frames"] = fallbacks
    table["shot_cuts"] = cuts
    table["still_frames"] = still
    tmp = Path(out_csv).with_name(Path(out_csv).name + ".tmp")
    table.to_csv(tmp, index=False)
    tmp.replace(out_csv)
    return table

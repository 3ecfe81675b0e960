"""Camera stabilization, the papers' procedure (``preprocess.stabilization: paper``): frames warped
to a reference frame with keypoints + RANSAC, failing clips dropped, so the tables can follow
the papers.

Both walker and vgan remove camera motion before anything learns from a clip, so that the
motion left in the pixels is the motion of the objects. The default mode is
:mod:`pipeline.stabilize_robust` (it follows the background; on real footage this procedure
follows the object with most keypoints); :mod:`pipeline.stabilize_stage` runs either over a
clip shard.

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
from dataclasses import dataclass, replace

import cv2
import numpy as np

from pipeline.camera_motion import corners, project, warp_problem

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

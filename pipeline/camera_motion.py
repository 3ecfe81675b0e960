"""Camera motion that follows the background: KLT tracks from a keyframe, spread over the frame.

The paper mode (SIFT + RANSAC per frame pair) fits whatever has the most keypoints, so on real
footage it holds a talking head or a cartoon character still and swings the background around.
Here the estimate is built so that the *background* wins:

* first, the whole shot is tested for a camera that does not move (:func:`is_still`): the
  first frame's points tracked into every frame, a spread-out part of them never moving. Such
  a shot gets the identity path exactly and is published untouched. Per-frame fits cannot
  make this call (a still car interior with a talking passenger: a homography that splits the
  difference fits both within a pixel; on carphone, chained over 96 frames, the corners drift
  8-20 px while the interior stays within 0.3 px);
* keypoints are detected once per keyframe on a downscaled grey frame and capped per grid
  cell, so a textured face cannot outvote a plain wall by keypoint count;
* they are tracked with pyramidal Lucas-Kanade from the keyframe to every later frame
  (``cv2.calcOpticalFlowPyrLK``, forward-backward checked): no per-frame detection and
  matching, and no drift from chaining frame pairs;
* the keyframe -> frame homography is fitted with OpenCV's USAC MAGSAC++; a second model is
  fitted on the points the first leaves out, and a third candidate is "the camera has not
  moved since the previous frame". The candidate whose inliers cover the most grid cells wins
  (spatial extent, not point count), and "not moved" wins near-ties;
* tracks that disagreed with the chosen motion in recent frames (moving foreground) are left
  out of the next fits;
* every frame-to-frame motion is checked against limits on rotation, zoom, perspective and
  shift, and every camera position against its neighbours; what fails falls back (the
  previous position, or the neighbours' interpolation) with the reason recorded.

Homography convention as in :mod:`pipeline.stabilize`: ``C[t]`` maps pixel coordinates of the
shot's first frame to frame ``t``, ``C[0] = I``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

# Reasons a frame's estimate was not trusted; stable strings so a stage can count them.
FALLBACK_REASONS = (
    "few_tracks",  # too few keyframe points tracked into this frame (blank, blur, occlusion)
    "no_model",  # MAGSAC found no homography
    "implausible_rotation",  # frame-to-frame rotation above the limit
    "implausible_zoom",  # frame-to-frame scale change above the limit
    "implausible_perspective",  # frame-to-frame perspective terms above the limit
    "implausible_shift",  # a corner moved more than the limit between frames
    "disagrees_with_neighbours",  # camera position far from the neighbouring frames' estimates
    "implausible_warp",  # the stabilizing warp throws a corner away, folds or rescales the frame
)


@dataclass(frozen=True)
class MotionConfig:
    """Tracking, fitting and plausibility limits for the background camera motion."""

    work_width: int = 320  # frames wider than this are tracked on a downscaled copy (speed)
    grid: tuple[int, int] = (8, 6)  # cells (columns, rows): keypoint spread and the spread score
    per_cell: int = 3  # keypoints kept per cell (KLT's cost grows with the points)
    min_distance: float = 5.0  # px at work scale between keypoints
    quality: float = 0.001  # corner quality relative to the strongest corner (low: plain backgrounds count)
    window: int = 9  # KLT window, px at work scale (cost grows with its area; accuracy measured unchanged)
    levels: int = 2  # KLT pyramid levels
    fb_threshold: float = 0.5  # px, forward-backward disagreement that rejects a track
    magsac_threshold: float = 1.0  # px at work scale, MAGSAC++ inlier threshold
    static_threshold: float = 0.75  # px, a point this close to its position in the previous frame has "not moved"
    static_preference: float = 0.8  # "not moved" wins when its cell spread is this share of the best
    min_points: int = 12  # tracked points needed for a fit
    rekey_fraction: float = 0.5  # new keyframe when fewer inliers than this share of the keyframe's points
    max_key_gap: int = 60  # frames; new keyframe at the latest after this many
    max_rotation_deg: float = 5.0  # per frame
    max_zoom: float = 1.1  # per-frame scale change (and its inverse)
    max_perspective: float = 0.05  # per frame: |h20| * width + |h21| * height
    max_shift: float = 0.2  # fraction of the diagonal a corner may move between frames
    neighbour_tolerance: float = 0.05  # fraction of the diagonal a position may sit off its neighbours' mean
    still_threshold: float = 1.0  # px at work scale: a point this close to its first-frame position has not moved
    still_fraction: float = 0.3  # still shot: in every frame, unmoved points cover this share of the tracked cells


@dataclass
class CameraMotion:
    """Camera path of one shot with a reason for every frame whose estimate was not trusted."""

    path: np.ndarray  # (T, 3, 3) float64, first frame -> frame t (full-resolution pixels)
    reasons: list[str] = field(default_factory=list)  # (T,) "" when trusted, else a FALLBACK_REASONS entry
    details: list[str] = field(default_factory=list)  # (T,) human-readable, naming the numbers
    inliers: np.ndarray | None = None  # (T,) int32 points supporting each estimate
    keyframes: list[int] = field(default_factory=list)  # frames where keypoints were detected
    still: bool = False  # the camera did not move in this shot: the path is the identity exactly


def to_grey(frames: np.ndarray, width: int) -> tuple[np.ndarray, float]:
    """Grey frames (T, h, w) uint8 at most ``width`` wide, and the scale factor applied (<= 1)."""
    n, height, full_width = frames.shape[:3]
    scale = min(1.0, width / full_width)
    size = (max(8, round(full_width * scale)), max(8, round(height * scale)))
    out = np.empty((n, size[1], size[0]), np.uint8)
    for t, frame in enumerate(frames):
        grey = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY) if frame.ndim == 3 else frame
        out[t] = grey if scale == 1.0 else cv2.resize(grey, size, interpolation=cv2.INTER_AREA)
    return out, size[0] / full_width


def project(model: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Apply a 3x3 homography to (N, 2) points."""
    return cv2.perspectiveTransform(points.reshape(-1, 1, 2).astype(np.float64), model).reshape(-1, 2)


def corners(shape: tuple[int, int]) -> np.ndarray:
    """The four image corners (4, 2) of a (height, width) frame."""
    height, width = shape
    return np.array([[0, 0], [width - 1, 0], [width - 1, height - 1], [0, height - 1]], np.float64)


def warp_problem(
    model: np.ndarray, shape: tuple[int, int], max_shift: float = 0.5, max_area_ratio: float = 2.0
) -> str:
    """Why a warp (reference -> frame coordinates) must not be published, or "" when it may.

    A homography can look fine in its 2x2 block and still send a corner to infinity (the
    denominator ``h20 x + h21 y + 1`` crosses zero inside the frame) or fold the frame. Checked
    on the four corners: positive denominators, a convex quadrilateral with the frame's
    orientation, an area within ``max_area_ratio`` of the frame's, and no corner moved by more
    than ``max_shift`` times the diagonal.
    """
    if not np.all(np.isfinite(model)):
        return "non-finite homography"
    c = corners(shape)
    height, width = shape
    denominators = model[2, 0] * c[:, 0] + model[2, 1] * c[:, 1] + model[2, 2]
    if np.any(denominators <= 1e-6 * abs(model[2, 2] or 1.0)):
        return "a corner is sent to infinity (perspective denominator <= 0)"
    mapped = project(model, c)
    shifts = np.linalg.norm(mapped - c, axis=1)
    worst = int(np.argmax(shifts))
    diagonal = float(np.hypot(width, height))
    if shifts[worst] > max_shift * diagonal:
        x, y = c[worst]
        u, v = mapped[worst]
        return f"corner ({x:.0f}, {y:.0f}) -> ({u:.0f}, {v:.0f}), {shifts[worst]:.0f} px > {max_shift * diagonal:.0f}"
    following = mapped[[1, 2, 3, 0]]
    edges = following - mapped
    turns = edges[:, 0] * edges[[1, 2, 3, 0], 1] - edges[:, 1] * edges[[1, 2, 3, 0], 0]
    if not np.all(turns > 0):
        return "the warped frame folds (corners not convex in the frame's orientation)"
    area = 0.5 * abs(float(np.sum(mapped[:, 0] * following[:, 1] - mapped[:, 1] * following[:, 0])))
    ratio = area / ((width - 1) * (height - 1))
    if not 1.0 / max_area_ratio <= ratio <= max_area_ratio:
        return f"area ratio {ratio:.2f} outside [{1 / max_area_ratio:.2f}, {max_area_ratio:.2f}]"
    return ""


def _pair_problem(pair: np.ndarray, shape: tuple[int, int], cfg: MotionConfig) -> tuple[str, str]:
    """Frame-to-frame motion against the per-frame limits: (reason, detail) or ("", "")."""
    height, width = shape
    a = pair[:2, :2] / pair[2, 2]
    rotation = np.degrees(np.arctan2(a[1, 0] - a[0, 1], a[0, 0] + a[1, 1]))
    zoom = np.sqrt(abs(np.linalg.det(a)))
    perspective = abs(pair[2, 0] / pair[2, 2]) * width + abs(pair[2, 1] / pair[2, 2]) * height
    problem = warp_problem(pair, shape, max_shift=cfg.max_shift, max_area_ratio=cfg.max_zoom**2)
    if abs(rotation) > cfg.max_rotation_deg:
        return "implausible_rotation", f"rotation {rotation:.1f} deg > {cfg.max_rotation_deg}"
    if not 1.0 / cfg.max_zoom <= zoom <= cfg.max_zoom:
        return "implausible_zoom", f"zoom {zoom:.3f} outside 1/{cfg.max_zoom}..{cfg.max_zoom}"
    if perspective > cfg.max_perspective:
        return "implausible_perspective", f"perspective {perspective:.3f} > {cfg.max_perspective}"
    if problem:
        return "implausible_shift", problem
    return "", ""


def _detect(grey: np.ndarray, cfg: MotionConfig) -> np.ndarray:
    """Corners (N, 2) float32 capped at ``per_cell`` per grid cell, strongest first."""
    cols, rows = cfg.grid
    found = cv2.goodFeaturesToTrack(
        grey, maxCorners=4 * cols * rows * cfg.per_cell, qualityLevel=cfg.quality, minDistance=cfg.min_distance,
        blockSize=5,
    )
    if found is None:
        return np.zeros((0, 2), np.float32)
    points = found.reshape(-1, 2)
    cells = _cells(points, grey.shape, cfg.grid)
    keep = np.zeros(len(points), bool)
    counts = np.zeros(cols * rows, int)
    for i, cell in enumerate(cells):  # goodFeaturesToTrack returns the strongest first
        if counts[cell] < cfg.per_cell:
            counts[cell] += 1
            keep[i] = True
    return points[keep].astype(np.float32)


def _cells(points: np.ndarray, shape: tuple[int, int], grid: tuple[int, int]) -> np.ndarray:
    """Grid cell index of every point. (N,)"""
    cols, rows = grid
    height, width = shape
    cx = np.minimum(np.maximum((points[:, 0] * (cols / width)).astype(np.intp), 0), cols - 1)
    cy = np.minimum(np.maximum((points[:, 1] * (rows / height)).astype(np.intp), 0), rows - 1)
    return cy * cols + cx


def _cell_weights(grid: tuple[int, int]) -> np.ndarray:
    """Weight of every grid cell in the spread score: 2 on the outer ring, 1 inside. (cols * rows,)"""
    cols, rows = grid
    x, y = np.arange(cols * rows) % cols, np.arange(cols * rows) // cols
    return 1 + ((x == 0) | (y == 0) | (x == cols - 1) | (y == rows - 1)).astype(np.intp)


def _spread(points: np.ndarray, shape: tuple[int, int], grid: tuple[int, int]) -> int:
    """Grid cells holding at least one of the points, the outer ring counted twice.

    The spatial extent of a motion, not its point count; the ring weighs double because the
    background is what reaches the frame's edges, while a subject is usually framed inside.
    """
    if not len(points):
        return 0
    weights = _cell_weights(grid)
    occupied = np.bincount(_cells(points, shape, grid), minlength=len(weights)) > 0
    return int(weights[occupied].sum())


def _track(
    key_grey: np.ndarray, grey: np.ndarray, key_points: np.ndarray, guess: np.ndarray, cfg: MotionConfig
) -> tuple[np.ndarray, np.ndarray]:
    """KLT keyframe -> frame from a guess, forward-backward checked: (points (N, 2), ok (N,))."""
    params = {
        "winSize": (cfg.window, cfg.window), "maxLevel": cfg.levels, "flags": cv2.OPTFLOW_USE_INITIAL_FLOW,
        "criteria": (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 20, 0.01),
    }
    forward, status, _ = cv2.calcOpticalFlowPyrLK(
        key_grey, grey, key_points, guess.astype(np.float32).copy(), **params
    )
    ok = status.ravel() == 1
    if cfg.fb_threshold <= 0:
        return forward, ok
    back, status_back, _ = cv2.calcOpticalFlowPyrLK(grey, key_grey, forward, key_points.copy(), **params)
    ok &= (status_back.ravel() == 1) & (np.linalg.norm(back - key_points, axis=1) < cfg.fb_threshold)
    return forward, ok


@dataclass
class _Fit:
    model: np.ndarray | None
    inliers: np.ndarray  # (N,) bool over the points given
    reason: str = ""
    detail: str = ""


def _magsac(src: np.ndarray, dst: np.ndarray, threshold: float) -> tuple[np.ndarray | None, np.ndarray]:
    if len(src) < 4:
        return None, np.zeros(len(src), bool)
    model, mask = cv2.findHomography(src, dst, cv2.USAC_MAGSAC, threshold, maxIters=500, confidence=0.995)
    if model is None or mask is None:
        return None, np.zeros(len(src), bool)
    return model / model[2, 2], mask.ravel().astype(bool)


def _motions(
    src: np.ndarray, dst: np.ndarray, shape: tuple[int, int], cfg: MotionConfig, all_spread: int
) -> list[np.ndarray]:
    """Inlier masks (N,) of MAGSAC++ on all points and, when the first motion leaves cells to
    another, on the points it leaves out."""
    first, in_first = _magsac(src, dst, cfg.magsac_threshold)
    if first is None:
        return []
    out = [in_first]
    rest = ~in_first
    if rest.sum() >= cfg.min_points and _spread(src[in_first], shape, cfg.grid) < all_spread:
        second, in_rest = _magsac(src[rest], dst[rest], cfg.magsac_threshold)
        if second is not None:
            in_second = np.zeros(len(src), bool)
            in_second[np.flatnonzero(rest)[in_rest]] = True
            out.append(in_second)
    return out


def fit_background(
    src: np.ndarray, dst: np.ndarray, shape: tuple[int, int], cfg: MotionConfig, previous: np.ndarray | None = None
) -> _Fit:
    """Homography src -> dst of the background among points (N, 2): the motion covering most cells.

    Candidates: "not moved" since the previous frame (``previous``: the points' positions
    there, default ``src``), MAGSAC++ on all points, and MAGSAC++ on the points the first
    leaves out (the background when a textured foreground holds most keypoints). Each is
    scored by the grid cells its inliers cover; "not moved" wins near-ties. When the unmoved
    points alone cover nearly as many cells as all points, no fit can beat them and MAGSAC is
    not run. The winner is refitted by least squares on its inliers (for "not moved" too: a
    slow drift below ``static_threshold`` per frame is still followed).
    """
    n = len(src)
    if n < cfg.min_points:
        return _Fit(None, np.zeros(n, bool), "few_tracks", f"{n} tracked points < {cfg.min_points}")
    static = np.linalg.norm(dst - (src if previous is None else previous), axis=1) < cfg.static_threshold
    static_spread = _spread(src[static], shape, cfg.grid) if static.sum() >= cfg.min_points else 0
    all_spread = _spread(src, shape, cfg.grid)
    if static_spread and static_spread >= cfg.static_preference * all_spread:
        best = static  # no fit can cover more cells than all the points: MAGSAC would not change the choice
    else:
        candidates = _motions(src, dst, shape, cfg, all_spread)
        spreads = [_spread(src[c], shape, cfg.grid) for c in candidates]
        best = candidates[int(np.argmax(spreads))] if candidates else None
        if static_spread and static_spread >= cfg.static_preference * max(spreads, default=0):
            best = static
    if best is None or best.sum() < cfg.min_points:
        return _Fit(None, np.zeros(n, bool), "no_model", f"no homography supported by {cfg.min_points} of {n} points")
    model, _ = cv2.findHomography(src[best], dst[best], 0)
    if model is None:
        return _Fit(None, best, "no_model", "least-squares refit failed")
    model = model / model[2, 2]
    residual = np.linalg.norm(project(model, src) - dst, axis=1)
    return _Fit(model, residual < cfg.magsac_threshold)


def is_still(grey: np.ndarray, cfg: MotionConfig, points: np.ndarray | None = None) -> bool:
    """Whether the camera stays where it was in the first frame for the whole shot (grey (T, h, w)).

    The first frame's keypoints are tracked into every frame with no motion as the guess;
    the shot is still when, in every frame, the points that stayed within ``still_threshold``
    of their first position cover at least ``still_fraction`` of the cells the tracked points
    cover. A still camera filming a large moving subject (a talking head, a passing bus)
    keeps a spread-out unmoved part; a moving camera moves every background point, so the
    test fails within a few frames and costs little. Per-frame fits cannot make this call:
    with a still camera and a moving subject, a homography that splits the difference between
    the two fits both within a pixel, and chained over the shot such fits drift by pixels.
    Frames with too few tracked points (occlusion, blur) give no evidence either way.
    ``points``: the first frame's keypoints when already detected.
    """
    points = _detect(grey[0], cfg) if points is None else points
    if len(points) < cfg.min_points:
        return False
    shape = grey.shape[1:3]
    for frame in grey[1:]:
        tracked, ok = _track(grey[0], frame, points, points, cfg)
        if ok.sum() < cfg.min_points:
            continue
        src, dst = points[ok], tracked[ok]
        unmoved = np.linalg.norm(dst - src, axis=1) < cfg.still_threshold
        if _spread(src[unmoved], shape, cfg.grid) < cfg.still_fraction * _spread(src, shape, cfg.grid):
            return False
    return True


def estimate_camera(frames: np.ndarray, cfg: MotionConfig) -> CameraMotion:
    """Camera path of one shot (frames (T, H, W, 3) uint8 or grey (T, H, W)), first frame -> frame t.

    Frames are tracked on a copy at most ``cfg.work_width`` wide; the path is returned in
    full-resolution pixels. A frame whose estimate fails or breaks a limit holds the previous
    position (its reason recorded) and becomes a keyframe, so one bad frame never bends the
    rest of the shot.
    """
    grey, scale = to_grey(frames, cfg.work_width)
    n, shape = len(grey), grey.shape[1:3]
    path = np.tile(np.eye(3), (n, 1, 1))
    reasons, details = [""] * n, [""] * n
    key, key_points = 0, _detect(grey[0], cfg)
    if is_still(grey, cfg, key_points):
        return CameraMotion(path, reasons, details, np.zeros(n, np.int32), [0], still=True)
    inliers = np.zeros(n, np.int32)
    guess, suspicion = key_points.copy(), np.zeros(len(key_points))
    keyframes, key_count = [0], len(key_points)
    for t in range(1, n):
        fit = _Fit(None, np.zeros(0, bool), "few_tracks", f"{len(key_points)} keypoints in keyframe {key}")
        if len(key_points) >= cfg.min_points:
            points, ok = _track(grey[key], grey[t], key_points, guess, cfg)
            use = ok & (suspicion < 0.9)
            if use.sum() < cfg.min_points:
                use = ok
            fit = fit_background(key_points[use], points[use], shape, cfg, previous=guess[use])
        reason, detail = fit.reason, fit.detail
        if fit.model is not None:
            current = fit.model @ path[key]
            current /= current[2, 2]
            reason, detail = _pair_problem(current @ np.linalg.inv(path[t - 1]), shape, cfg)
        if reason:
            reasons[t], details[t] = reason, f"frame {t}: {detail}"
            path[t] = path[t - 1]
        else:
            path[t] = current
            inliers[t] = int(fit.inliers.sum())
            residual = np.linalg.norm(project(fit.model, key_points) - points, axis=1)
            outlier = ok & (residual > cfg.magsac_threshold)
            suspicion = 0.5 * suspicion + outlier  # > 0.9: disagreed in the last two frames
            guess = np.where(ok[:, None], points, project(fit.model, key_points)).astype(np.float32)
            if t == key + 1:
                key_count = inliers[t]  # what the keyframe's points can support at best
        if reason or inliers[t] < cfg.rekey_fraction * key_count or t - key >= cfg.max_key_gap:
            key, key_points = t, _detect(grey[t], cfg)
            guess, suspicion, key_count = key_points.copy(), np.zeros(len(key_points)), len(key_points)
            keyframes.append(t)
    _check_neighbours(path, reasons, details, shape, cfg)
    to_full = np.diag([scale, scale, 1.0])
    full = np.linalg.inv(to_full) @ path @ to_full
    return CameraMotion(full / full[:, 2:3, 2:3], reasons, details, inliers, keyframes)


def _check_neighbours(
    path: np.ndarray, reasons: list[str], details: list[str], shape: tuple[int, int], cfg: MotionConfig
) -> None:
    """Replace positions far from the mean of their two neighbours by that mean (in place).

    A wrong fit shows as a one-frame spike in the corner trajectories; real camera motion,
    even shake, moves far less than ``neighbour_tolerance`` of the diagonal off the line
    through its neighbours.
    """
    c = corners(shape)
    positions = np.stack([project(h, c) for h in path])  # (T, 4, 2)
    limit = cfg.neighbour_tolerance * float(np.hypot(*shape))
    for t in range(1, len(path) - 1):
        middle = 0.5 * (positions[t - 1] + positions[t + 1])
        off = float(np.max(np.linalg.norm(positions[t] - middle, axis=1)))
        if off > limit and not reasons[t]:
            reasons[t] = "disagrees_with_neighbours"
            details[t] = f"frame {t}: {off:.1f} px off its neighbours' mean (limit {limit:.1f})"
            path[t] = cv2.getPerspectiveTransform(c.astype(np.float32), middle.astype(np.float32))
            positions[t] = middle

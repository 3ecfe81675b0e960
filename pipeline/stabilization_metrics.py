"""Stabilization scored as the field scores it, and clips whose true shake is known.

Cropping ratio, distortion and stability score follow Liu et al. 2013 ("Bundled camera paths
for video stabilization", SIGGRAPH) as implemented in the public evaluation script of DIFRINT
(Choi & Kweon 2020, github.com/jinsc37/DIFRINT ``metrics.py``), which later papers reuse:

* a homography input frame -> output frame is fitted on matched keypoints (ratio test 0.7,
  RANSAC 5 px, more than 10 matches); **cropping ratio** is the mean of its scale
  ``sqrt(M00 * M11)`` (capped at 1), **distortion** the smallest ratio of the two eigenvalues
  of its 2x2 block over the video;
* homographies between consecutive output frames are chained into a path; the translation
  magnitude ``sqrt(c^2 + f^2)`` and the angle ``atan2(M00, M11)`` of each path element form
  two signals, and the **stability score** of each is the share of the spectral energy
  (DC removed, positive half) in the 5 lowest frequencies; the score is their mean.

DIFRINT uses SURF (patented, absent from OpenCV's default build); SIFT takes its place here.

Beside those: the mean shift between consecutive output frames (mean displacement of the
pixel grid under their homography), PSNR between consecutive output frames on the pixels both
cover (scikit-image), the uncovered share, and on clips with known shake the residual motion
against the unshaken video (median KLT displacement between output and truth frames).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import cv2
import numpy as np
from skimage.metrics import peak_signal_noise_ratio

from pipeline.camera_motion import project


@dataclass
class _Keypoints:
    points: np.ndarray
    descriptors: np.ndarray | None


def _sift(grey: np.ndarray, sift: cv2.SIFT) -> _Keypoints:
    keypoints, descriptors = sift.detectAndCompute(grey, None)
    return _Keypoints(np.array([k.pt for k in keypoints], np.float32).reshape(-1, 2), descriptors)


def _homography(a: _Keypoints, b: _Keypoints) -> np.ndarray | None:
    """DIFRINT's fit a -> b: ratio test 0.7, RANSAC 5 px, more than 10 good matches."""
    if a.descriptors is None or b.descriptors is None or len(a.points) < 3 or len(b.points) < 3:
        return None
    pairs = cv2.BFMatcher().knnMatch(a.descriptors, b.descriptors, k=2)
    good = [p[0] for p in pairs if len(p) == 2 and p[0].distance < 0.7 * p[1].distance]
    if len(good) <= 10:
        return None
    src = a.points[[m.queryIdx for m in good]]
    dst = b.points[[m.trainIdx for m in good]]
    model, _ = cv2.findHomography(src, dst, cv2.RANSAC, 5.0)
    return None if model is None else model / model[2, 2]


def _grey(frames: np.ndarray) -> list[np.ndarray]:
    return [cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in frames]


def _chain_signals(pairs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Chained path of consecutive-frame homographies (..., m, 3, 3) -> DIFRINT's translation
    ``sqrt(c^2 + f^2)`` and angle ``atan2(M00, M11)`` (degrees) signals, each (..., m)."""
    chained = np.empty_like(pairs)
    p = np.broadcast_to(np.eye(3), pairs.shape[:-3] + (3, 3))
    for k in range(pairs.shape[-3]):
        p = p @ pairs[..., k, :, :]
        chained[..., k, :, :] = p
    translation = np.hypot(chained[..., 0, 2], chained[..., 1, 2])
    rotation = np.degrees(np.arctan2(chained[..., 0, 0], chained[..., 1, 1]))  # as DIFRINT's metrics.py
    return translation, rotation


def _low_share(signal: np.ndarray) -> np.ndarray:
    """Share of the spectral energy (DC removed, positive half) in the 5 lowest frequencies. (...,)

    A constant signal (no motion of that kind at all) is perfectly stable: 1, not the ratio of
    rounding errors."""
    energy = np.abs(np.fft.fft(signal, axis=-1)) ** 2
    varying = energy[..., 1:].sum(-1) > 1e-12 * energy[..., 0] + 1e-300
    energy = energy[..., 1:][..., : (signal.shape[-1] - 1) // 2]
    total = np.where(varying, energy.sum(-1), 1.0)
    return np.where(varying, energy[..., :5].sum(-1) / total, 1.0)


def stability_score(path: list[np.ndarray] | np.ndarray) -> tuple[float, float, float]:
    """(mean, translation, rotation) stability from consecutive-frame homographies, DIFRINT's way."""
    pairs = np.asarray(path, np.float64).reshape(-1, 3, 3)
    if len(pairs) < 4:
        return np.nan, np.nan, np.nan
    translation, rotation = _chain_signals(pairs)
    st, sr = float(_low_share(translation)), float(_low_share(rotation))
    return (st + sr) / 2, st, sr


def mean_grid_shift(model: np.ndarray, shape: tuple[int, int], step: int = 8) -> float:
    """Mean displacement (px) of a pixel grid under a homography."""
    height, width = shape
    ys, xs = np.mgrid[0:height:step, 0:width:step]
    grid = np.stack([xs.ravel(), ys.ravel()], axis=1).astype(np.float64)
    return float(np.mean(np.linalg.norm(project(model, grid) - grid, axis=1)))


def _pair_psnr(a: np.ndarray, b: np.ndarray, both: np.ndarray) -> float:
    """PSNR (dB) between two frames on the pixels both cover; nan when too few or identical."""
    if both.sum() < 16:
        return np.nan
    value = peak_signal_noise_ratio(a[both], b[both], data_range=255)
    return float(value) if np.isfinite(value) else np.nan


@dataclass
class Scored:
    """One video's scores (``row``) and the per-frame-pair values they average, for intervals.

    Pairs are (t-1, t) for t = 1..T-1; a pair that straddles a shot cut is no consecutive view
    of one scene (no homography, no PSNR means anything there) and belongs to no shot.
    """

    row: dict[str, float]
    pairs: np.ndarray  # (T-1, 3, 3) homographies between consecutive outputs (identity where no fit)
    shift: np.ndarray  # (T-1,) px, mean grid displacement of each pair
    psnr: np.ndarray  # (T-1,) dB on covered pixels, nan where not computable
    shots: list[tuple[int, int]]  # pair-index ranges [a, b) of each shot


def shot_pairs(n_frames: int, cuts: list[int] | tuple[int, ...] = ()) -> list[tuple[int, int]]:
    """Pair-index ranges of the shots between ``cuts`` (first frames of new shots)."""
    edges = [0] + sorted(c for c in cuts if 0 < c < n_frames) + [n_frames]
    return [(a, b - 1) for a, b in itertools.pairwise(edges) if b - 1 > a]


def _shots_stability(pairs: np.ndarray, shots: list[tuple[int, int]]) -> np.ndarray:
    """Stability (mean, translation, rotation) per shot, averaged with the shots' pair counts as
    weights; ``pairs`` (..., T-1, 3, 3). Shots under 4 pairs have no spectrum and are left out. (..., 3)"""
    values, weights = [], []
    for a, b in shots:
        if b - a < 4:
            continue
        translation, rotation = _chain_signals(pairs[..., a:b, :, :])
        st, sr = _low_share(translation), _low_share(rotation)
        values.append(np.stack([(st + sr) / 2, st, sr], -1))
        weights.append(b - a)
    if not values:
        return np.full(pairs.shape[:-3] + (3,), np.nan)
    return np.tensordot(np.asarray(weights, float) / sum(weights), np.stack(values), axes=(0, 0))


def score(
    inputs: np.ndarray, outputs: np.ndarray, covered: np.ndarray | None = None, cuts: list[int] | tuple[int, ...] = ()
) -> Scored:
    """All scores of one stabilized video against its input (both (T, H, W, 3) uint8).

    ``covered`` (T, H, W) bool marks output pixels that come from their own input frame (not
    filled or black); None means all. ``cuts`` (first frames of new shots, known for the clip)
    split the video: stability is computed per shot (a path chained across a cut is
    meaningless) and averaged with the shots' lengths as weights; shift and PSNR average the
    pairs inside shots.
    """
    sift = cv2.SIFT_create()
    shape = outputs.shape[1:3]
    features_in = [_sift(g, sift) for g in _grey(inputs)]
    features_out = [_sift(g, sift) for g in _grey(outputs)]
    crop, distortion = [], []
    for a, b in zip(features_in, features_out):
        m = _homography(a, b)
        if m is None:
            continue
        crop.append(np.sqrt(abs(m[0, 0] * m[1, 1])))
        eig = np.sort(np.abs(np.linalg.eigvals(m[:2, :2])))[::-1]
        distortion.append(eig[1] / eig[0])
    shots = shot_pairs(len(outputs), cuts)
    inside = np.zeros(len(outputs) - 1, bool)
    for a, b in shots:
        inside[a:b] = True
    covered = np.ones(outputs.shape[:3], bool) if covered is None else covered
    pairs, shifts, psnr = [], [], []
    for t, (a, b) in enumerate(itertools.pairwise(features_out), start=1):
        m = _homography(a, b) if inside[t - 1] else None
        m = np.eye(3) if m is None else m  # DIFRINT keeps the last fit; no fit -> no motion is kinder to nobody
        pairs.append(m)
        shifts.append(mean_grid_shift(m, shape))
        psnr.append(_pair_psnr(outputs[t - 1], outputs[t], covered[t - 1] & covered[t]) if inside[t - 1] else np.nan)
    pairs_arr = np.stack(pairs) if pairs else np.zeros((0, 3, 3))
    shift_arr, psnr_arr = np.asarray(shifts), np.asarray(psnr)
    stability, st, sr = _shots_stability(pairs_arr, shots)
    row = {
        "cropping": min(float(np.mean(crop)), 1.0) if crop else np.nan,
        "distortion": float(np.min(distortion)) if distortion else np.nan,
        "stability": float(stability),
        "stab. trans": float(st),
        "stab. rot": float(sr),
        "shift px/frame": float(np.mean(shift_arr[inside])) if inside.any() else np.nan,
        "PSNR covered dB": float(np.nanmean(psnr_arr[inside])) if np.isfinite(psnr_arr[inside]).any() else np.nan,
        "uncovered %": 100.0 * float(1.0 - covered.mean()),
    }
    return Scored(row, pairs_arr, shift_arr, psnr_arr, shots)


def _block_indices(shots: list[tuple[int, int]], rng: np.random.Generator, draws: int, block: int) -> np.ndarray:
    """Moving-block resamples of pair indices, shot by shot (each shot keeps its length). (draws, T-1)"""
    n = max((b for _, b in shots), default=0)
    out = np.tile(np.arange(n), (draws, 1))
    for a, b in shots:
        m = b - a
        length = min(block, m)
        starts = rng.integers(a, b - length + 1, size=(draws, -(-m // length)))
        out[:, a:b] = (starts[..., None] + np.arange(length)).reshape(draws, -1)[:, :m]
    return out


def paired_difference(
    ours: Scored, other: Scored, key: str, rng: np.random.Generator, draws: int = 1000, block: int = 8
) -> tuple[float, float, float]:
    """``ours.row[key] - other.row[key]`` and its 95% interval: (difference, low, high).

    The noise of a score on one clip is which frames it happened to contain. Frames are
    resampled in moving blocks of ``block`` consecutive pairs (camera paths and content are
    correlated in time; single-frame resampling would destroy the very spectrum the stability
    score measures), shot by shot, the same draws for both videos (paired). Basic bootstrap
    interval (2 d - q97.5, 2 d - q2.5): block joins bias each resample's stability down, and
    the basic interval reflects that shift back as in the crossconv KL intervals.
    Keys: "stability", "shift px/frame", "PSNR covered dB".
    """
    if ours.shots != other.shots:
        raise ValueError("paired_difference: the two videos are split into different shots")
    difference = ours.row[key] - other.row[key]
    idx = _block_indices(ours.shots, rng, draws, block)
    if key == "stability":
        def values(s: Scored) -> np.ndarray:
            return _shots_stability(s.pairs[idx], s.shots)[:, 0]
    elif key in ("shift px/frame", "PSNR covered dB"):
        inside = np.zeros(len(ours.shift), bool)
        for a, b in ours.shots:
            inside[a:b] = True

        def values(s: Scored) -> np.ndarray:
            per_pair = (s.shift if key == "shift px/frame" else s.psnr)[idx]
            return np.nanmean(np.where(inside[idx], per_pair, np.nan), axis=1)
    else:
        raise KeyError(f"paired_difference: no per-pair values for {key!r}")
    boot = values(ours) - values(other)
    lo, hi = np.nanpercentile(boot, [2.5, 97.5])
    return float(difference), float(2 * difference - hi), float(2 * difference - lo)


def residual_to_truth(outputs: np.ndarray, truth: np.ndarray, covered: np.ndarray | None = None) -> float:
    """Median displacement (px) between output frames and the unshaken frames, from KLT on a grid.

    A perfect tripod stabilizer reproduces the unshaken video (up to interpolation): every
    grid point tracks to itself. Points on uncovered (filled) pixels are left out.
    """
    height, width = outputs.shape[1:3]
    margin = 12
    ys, xs = np.mgrid[margin : height - margin : 6, margin : width - margin : 6]
    grid = np.stack([xs.ravel(), ys.ravel()], axis=1).astype(np.float32)
    out_grey, truth_grey = _grey(outputs), _grey(truth)
    values = []
    for t in range(1, len(outputs)):
        points = grid
        if covered is not None:
            points = grid[covered[t][grid[:, 1].astype(int), grid[:, 0].astype(int)]]
        if len(points) < 10:
            continue
        found, status, _ = cv2.calcOpticalFlowPyrLK(
            truth_grey[t], out_grey[t], points, None, winSize=(21, 21), maxLevel=3,
            criteria=(cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 30, 0.01),
        )
        ok = status.ravel() == 1
        if ok.sum() >= 10:
            values.append(np.median(np.linalg.norm(found[ok] - points[ok], axis=1)))
    return float(np.mean(values)) if values else np.nan


def known_shake(
    frames: np.ndarray, rng: np.random.Generator, margin: float = 0.1, drift: float = 6.0, jitter: float = 1.5,
    rotation_deg: float = 1.0, zoom: float = 0.015,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Shake a still-camera video with recorded random homographies: (shaken, truth, H).

    Each homography is a smooth drift (Gaussian-filtered random walk) plus per-frame jitter of
    translation, rotation and zoom about the frame centre, ``H[0] = I``. The frames are
    warped and then both the shaken and the untouched videos are cropped by ``margin`` of
    their size on each side, so the shaken frames never show an empty border. Returns the
    shaken crop (T, h, w, 3), the unshaken crop and ``H`` (T, 3, 3) mapping unshaken crop
    pixels to shaken crop pixels.
    """
    from scipy.ndimage import gaussian_filter1d

    n, height, width = frames.shape[:3]
    steps = rng.normal(size=(n, 4))
    smooth = gaussian_filter1d(np.cumsum(steps, axis=0), 6.0, axis=0)
    smooth /= np.maximum(np.abs(smooth).max(axis=0), 1e-9)
    shake = smooth + 0.5 * np.clip(rng.normal(size=(n, 4)), -2, 2)
    shake -= shake[0]
    tx, ty = drift * smooth[:, 0] + jitter * (shake[:, 0] - smooth[:, 0]), drift * smooth[:, 1] + jitter * (shake[:, 1] - smooth[:, 1])
    angle = np.radians(rotation_deg) * shake[:, 2] / 1.5
    scale = 1.0 + zoom * shake[:, 3] / 1.5
    tx, ty = tx - tx[0], ty - ty[0]
    cx, cy = (width - 1) / 2, (height - 1) / 2
    mx, my = round(margin * width), round(margin * height)
    offset = np.array([[1.0, 0, mx], [0, 1, my], [0, 0, 1]])
    homographies, shaken = [], []
    for t in range(n):
        c, s = scale[t] * np.cos(angle[t]), scale[t] * np.sin(angle[t])
        about = np.array([[c, -s, cx - c * cx + s * cy + tx[t]], [s, c, cy - s * cx - c * cy + ty[t]], [0, 0, 1]])
        if t == 0:
            about = np.eye(3)
        warped = cv2.warpPerspective(frames[t], about, (width, height), flags=cv2.INTER_LINEAR)
        shaken.append(warped[my : height - my, mx : width - mx])
        homographies.append(np.linalg.inv(offset) @ about @ offset)
    truth = frames[:, my : height - my, mx : width - mx]
    return np.ascontiguousarray(np.stack(shaken)), np.ascontiguousarray(truth), np.stack(homographies)

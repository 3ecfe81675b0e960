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


def stability_score(path: list[np.ndarray]) -> tuple[float, float, float]:
    """(mean, translation, rotation) stability from consecutive-frame homographies, DIFRINT's way."""
    if len(path) < 4:
        return np.nan, np.nan, np.nan
    chained, p = [], np.eye(3)
    for m in path:
        p = p @ m
        chained.append(p)
    translation = np.array([np.hypot(m[0, 2], m[1, 2]) for m in chained])
    rotation = np.array([np.degrees(np.arctan2(m[0, 0], m[1, 1])) for m in chained])

    def low_share(signal: np.ndarray) -> float:
        energy = np.abs(np.fft.fft(signal)) ** 2
        energy = energy[1:][: (len(energy) - 1) // 2]
        total = energy.sum()
        return float(energy[:5].sum() / total) if total > 0 else 1.0

    st, sr = low_share(translation), low_share(rotation)
    return (st + sr) / 2, st, sr


def mean_grid_shift(model: np.ndarray, shape: tuple[int, int], step: int = 8) -> float:
    """Mean displacement (px) of a pixel grid under a homography."""
    height, width = shape
    ys, xs = np.mgrid[0:height:step, 0:width:step]
    grid = np.stack([xs.ravel(), ys.ravel()], axis=1).astype(np.float64)
    return float(np.mean(np.linalg.norm(project(model, grid) - grid, axis=1)))


def covered_psnr(frames: np.ndarray, covered: np.ndarray) -> float:
    """Mean PSNR (dB) between consecutive frames on the pixels both frames cover (skimage)."""
    values = []
    for t in range(1, len(frames)):
        both = covered[t - 1] & covered[t]
        if both.sum() < 16:
            continue
        values.append(peak_signal_noise_ratio(frames[t - 1][both], frames[t][both], data_range=255))
    finite = [v for v in values if np.isfinite(v)]
    return float(np.mean(finite)) if finite else np.nan


def score(inputs: np.ndarray, outputs: np.ndarray, covered: np.ndarray | None = None) -> dict[str, float]:
    """All scores of one stabilized video against its input (both (T, H, W, 3) uint8).

    ``covered`` (T, H, W) bool marks output pixels that come from their own input frame (not
    filled or black); None means all.
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
    path, shifts = [], []
    for a, b in itertools.pairwise(features_out):
        m = _homography(a, b)
        m = np.eye(3) if m is None else m  # DIFRINT keeps the last fit; no fit -> no motion is kinder to nobody
        path.append(m)
        shifts.append(mean_grid_shift(m, shape))
    stability, st, sr = stability_score(path)
    covered = np.ones(outputs.shape[:3], bool) if covered is None else covered
    return {
        "cropping": min(float(np.mean(crop)), 1.0) if crop else np.nan,
        "distortion": float(np.min(distortion)) if distortion else np.nan,
        "stability": stability,
        "stab. trans": st,
        "stab. rot": sr,
        "shift px/frame": float(np.mean(shifts)),
        "PSNR covered dB": covered_psnr(outputs, covered),
        "uncovered %": 100.0 * float(1.0 - covered.mean()),
    }


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

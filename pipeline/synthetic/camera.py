"""The synthetic scenes' shaking camera: homographies about the frame centre and the margin they need.

Frame ``t`` sees the scene's plane through ``H[t]`` (reference-frame-0 pixels -> frame-t pixels,
``H[0] = I``): a smooth random translation, rotation, zoom and perspective tilt, each soft-clipped so
the background margin that keeps every frame covered can be computed in advance.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from scipy.ndimage import gaussian_filter1d

if TYPE_CHECKING:
    from pipeline.synthetic.scenes import SceneConfig

TRAJECTORY_CLIP = 2.0
"""Camera parameters are soft-clipped to this many amplitudes, which bounds the margin needed."""


def translation(tx: float, ty: float) -> np.ndarray:
    return np.array([[1.0, 0.0, tx], [0.0, 1.0, ty], [0.0, 0.0, 1.0]])


def to_hires(s: int) -> np.ndarray:
    """Output pixel coordinates -> supersampled pixel coordinates (pixel centres at integers).

    Output pixel x is the box average of supersampled pixels s*x .. s*x + s-1, whose centre
    is s*x + (s-1)/2.
    """
    c = (s - 1) / 2.0
    return np.array([[s, 0.0, c], [0.0, s, c], [0.0, 0.0, 1.0]])


def apply_homography(h: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Apply a homography to (N, 2) points."""
    p = points @ h[:, :2].T + h[:, 2]  # (N, 3)
    return p[:, :2] / p[:, 2:3]


def smooth_trajectory(rng: np.random.Generator, frames: int, sigma: float) -> np.ndarray:
    """A smooth zero-start random signal of unit scale, soft-clipped to +-2*TRAJECTORY_CLIP."""
    pad = int(np.ceil(3 * sigma))
    noise = rng.standard_normal(frames + 2 * pad)
    if sigma > 0:
        # Filtered white noise has std 1 / sqrt(2 sqrt(pi) sigma); rescale to unit std.
        noise = gaussian_filter1d(noise, sigma, mode="reflect") * np.sqrt(
            2.0 * np.sqrt(np.pi) * sigma
        )
    g = TRAJECTORY_CLIP * np.tanh(noise[pad : pad + frames] / TRAJECTORY_CLIP)
    return g - g[0]


def camera_homographies(
    cfg: SceneConfig, rng: np.random.Generator, moving: bool
) -> np.ndarray:
    """(T, 3, 3) shake homographies about the frame centre, H[0] = I."""
    t = cfg.frames
    if not moving:
        return np.repeat(np.eye(3)[None], t, axis=0)
    half = np.array([cfg.width - 1, cfg.height - 1]) / 2.0
    tr = [smooth_trajectory(rng, t, cfg.shake_smoothness) * cfg.shake_translation for _ in "xy"]
    rot = np.deg2rad(smooth_trajectory(rng, t, cfg.shake_smoothness) * cfg.shake_rotation)
    zoom = np.exp(smooth_trajectory(rng, t, cfg.shake_smoothness) * cfg.shake_zoom)
    persp = [
        smooth_trajectory(rng, t, cfg.shake_smoothness) * cfg.shake_perspective / half[i]
        for i in range(2)
    ]
    hs = np.empty((t, 3, 3))
    for i in range(t):
        c, s_ = np.cos(rot[i]) * zoom[i], np.sin(rot[i]) * zoom[i]
        similarity = np.array([[c, -s_, 0.0], [s_, c, 0.0], [0.0, 0.0, 1.0]])
        tilt = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [persp[0][i], persp[1][i], 1.0]])
        hs[i] = (
            translation(half[0] + tr[0][i], half[1] + tr[1][i])
            @ tilt
            @ similarity
            @ translation(-half[0], -half[1])
        )
        hs[i] /= hs[i][2, 2]
    hs[0] = np.eye(3)
    return hs


def background_margin(cfg: SceneConfig) -> int:
    """Pixels of background needed around the frame so no shake ever shows an empty border."""
    k = 2 * TRAJECTORY_CLIP  # trajectories start at 0 and stay within +-clip: span 2*clip
    half_diag = 0.5 * float(np.hypot(cfg.width, cfg.height))
    rel = (
        np.deg2rad(k * cfg.shake_rotation)
        + (np.exp(k * cfg.shake_zoom) - 1.0)
        + 2.0 * k * cfg.shake_perspective
    )
    return int(np.ceil(k * cfg.shake_translation * np.sqrt(2) + 1.5 * rel * half_diag)) + 3

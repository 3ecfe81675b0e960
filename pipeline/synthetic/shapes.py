"""Shapes and Shapes+Texture (Xue et al., Visual Dynamics, Sec. 5.1 and 6.5): frame pairs.

What the paper fixes: circles always move vertically, squares horizontally, triangles
diagonally; circle and square motions are independent; circle and triangle motions are
correlated ("when the triangle moves up, the circle moves down"); sizes, positions and
colours are random and shapes can be heavily occluded. Shapes+Texture: squares carry
horizontal stripes, triangles vertical stripes, circles a checkerboard.

What the paper leaves open, and what we chose (all in ShapesConfig):
* One circle, one square and one triangle per image (Fig. 4 shows one of each; the
  "circles-triangles" KL needs a circle and a triangle in the same image), each present
  with probability `present_prob` (default 1).
* Motion magnitudes: circle dy ~ U(-m, m), square dx ~ U(-m, m), triangle (dx, dy) = (s, s)
  (the down-right / up-left diagonal) with |s| ~ U(0, m) independent of the circle and
  sign(s) = -sign(circle dy), so every moving component is uniform over [-m, m]. m =
  `max_motion` = 5 px: the paper's KL histograms cover exactly [-5, 5]^2 (Fig. 5), so the
  motions fill that range and none falls outside it. Continuous (sub-pixel) motions, so the
  41x41-bin histograms of the ground truth are not comb-like.
* Sizes: radius (circle radius, square half-side, triangle circumradius; upright
  equilateral triangles) ~ U(radius_range) x image size. Centres uniform over positions that
  keep the object wholly inside both frames. Depth order a random permutation, the same in
  both frames. Black background; colours random with saturation and value >= 0.5 so every
  shape stands out from the background.
* Rendering is anti-aliased from the exact signed distance to the shape's boundary (coverage =
  clip(0.5 - distance, 0, 1)), so sub-pixel motions move the pixels' mass exactly.
* Textures are attached to the object (they move with it), period `texture_period` x size
  (at least 4 px), mixing the object's colour with a darker copy (0.35x) through a soft square wave.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import cv2
import numpy as np

SHAPE_NAMES = ("circle", "square", "triangle")
CIRCLE, SQUARE, TRIANGLE = 0, 1, 2
_SQRT3_2 = np.sqrt(3.0) / 2.0
_DARK = 0.35  # second texture colour = this fraction of the object's colour
_SHARPNESS = 2.0  # soft square wave: clip(0.5 + _SHARPNESS * sin(.), 0, 1)


@dataclass(frozen=True)
class ShapesConfig:
    size: int = 128  # frames are size x size RGB (paper: 128)
    textured: bool = False  # Shapes+Texture instead of Shapes
    shapes: tuple[str, ...] = SHAPE_NAMES  # object slots, one object of each listed type per image
    max_motion: float = 5.0  # pixels; bound of each motion component (the paper's histogram range)
    radius_range: tuple[float, float] = (0.1, 0.25)  # object radius as a fraction of size (overlaps are common)
    present_prob: float = 1.0  # probability that each object slot is filled
    texture_period: float = 1 / 16  # stripe / checker period as a fraction of size (8 px at 128)

    def __post_init__(self) -> None:
        unknown = [s for s in self.shapes if s not in SHAPE_NAMES]
        if unknown or not self.shapes:
            raise ValueError(f"shapes must be a non-empty subset of {SHAPE_NAMES}, got {self.shapes}")
        lo, hi = self.radius_range
        if not 0 < lo <= hi or 2 * (hi * self.size + self.max_motion + 1) >= self.size:
            raise ValueError(f"radius_range {self.radius_range} and max_motion {self.max_motion} do not fit a "
                             f"{self.size}x{self.size} frame")
        if not 0.0 <= self.present_prob <= 1.0:
            raise ValueError(f"present_prob must be in [0, 1], got {self.present_prob}")


@dataclass
class ShapesPairs:
    frame1: np.ndarray  # (N, H, W, 3) uint8
    frame2: np.ndarray  # (N, H, W, 3) uint8
    shape: np.ndarray  # (N, K) int8, index into SHAPE_NAMES
    present: np.ndarray  # (N, K) bool
    motion: np.ndarray  # (N, K, 2) float32, (dx, dy) in pixels from frame1 to frame2; 0 if absent
    center: np.ndarray  # (N, K, 2) float32, (x, y) in frame1, pixel centres at integer coordinates
    radius: np.ndarray  # (N, K) float32, pixels
    color: np.ndarray  # (N, K, 3) uint8 RGB
    depth: np.ndarray  # (N, K) int8, drawing order: larger is nearer the viewer
    phase: np.ndarray  # (N, K, 2) float32, texture phases (radians) along x and y

    def arrays(self) -> dict[str, np.ndarray]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}

    def slot(self, k: int) -> ShapesPairs:
        """The per-object fields of object slot k alone (frames unchanged): e.g. its unoccluded
        mask from `visible_masks` with a one-shape config."""
        per_object = {f: getattr(self, f)[:, k : k + 1] for f in self.__dataclass_fields__ if f not in ("frame1", "frame2")}
        return ShapesPairs(frame1=self.frame1, frame2=self.frame2, **per_object)


def sample_motions(cfg: ShapesConfig, n: int, rng: np.random.Generator) -> np.ndarray:
    """(n, K, 2) motions (dx, dy) for the slots of cfg.shapes, before presence is applied."""
    m = cfg.max_motion
    circle_dy = rng.uniform(-m, m, n)
    square_dx = rng.uniform(-m, m, n)
    # Triangle up (dy < 0) exactly when the circle goes down (dy > 0); magnitude independent.
    tri = rng.uniform(0.0, m, n) * np.where(circle_dy > 0, -1.0, 1.0)
    by_type = {
        "circle": np.stack([np.zeros(n), circle_dy], -1),
        "square": np.stack([square_dx, np.zeros(n)], -1),
        "triangle": np.stack([tri, tri], -1),
    }
    return np.stack([by_type[s] for s in cfg.shapes], 1).astype(np.float32)


def _random_colors(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    hsv = np.stack(
        [rng.uniform(0, 360, shape), rng.uniform(0.5, 1.0, shape), rng.uniform(0.5, 1.0, shape)], -1
    ).astype(np.float32)
    rgb = cv2.cvtColor(hsv.reshape(-1, 1, 3), cv2.COLOR_HSV2RGB).reshape(hsv.shape)
    return np.round(rgb * 255).astype(np.uint8)


def _signed_distance(code: int, u: np.ndarray, v: np.ndarray, r: float) -> np.ndarray:
    """Distance (px) outside the shape boundary (negative inside); u, v relative to the centre."""
    if code == CIRCLE:
        return np.hypot(u, v) - r
    if code == SQUARE:  # exact box distance, so corners are not over-blurred
        du, dv = np.abs(u) - r, np.abs(v) - r
        return np.hypot(np.maximum(du, 0), np.maximum(dv, 0)) + np.minimum(np.maximum(du, dv), 0)
    # Upright equilateral triangle, centroid at the centre, circumradius r (exact distance,
    # after Quilez's sdEquilateralTriangle, written for y pointing down).
    half = _SQRT3_2 * r  # half the side
    k = np.sqrt(3.0)
    x, y = np.abs(u) - half, -v + half / k  # y up, base on y = 0
    fold = x + k * y > 0  # reflect points beyond the slanted edge onto its normal frame
    x, y = np.where(fold, (x - k * y) / 2, x), np.where(fold, (-k * x - y) / 2, y)
    x = x - np.clip(x, -2 * half, 0)
    return -np.hypot(x, y) * np.sign(y)


def _texture(code: int, u: np.ndarray, v: np.ndarray, period: float, phase: np.ndarray) -> np.ndarray:
    """Weight of the bright colour in [0, 1]: stripes across y (square), across x (triangle), checks."""
    k = 2 * np.pi / period
    if code == SQUARE:  # horizontal stripes: intensity varies along y only
        wave = np.sin(k * v + phase[1])
    elif code == TRIANGLE:  # vertical stripes: varies along x only
        wave = np.sin(k * u + phase[0])
    else:  # checkerboard: sign(sin x sin y) alternates in both directions
        wave = 2.0 * np.sin(k * u + phase[0]) * np.sin(k * v + phase[1])
    return np.clip(0.5 + _SHARPNESS * wave, 0.0, 1.0)


def _coverage(
    cfg: ShapesConfig, code: int, center: np.ndarray, r: float
) -> tuple[tuple[slice, slice], np.ndarray, np.ndarray, np.ndarray]:
    """Anti-aliased coverage of one object inside its bounding box, and box coordinates."""
    x0, x1 = int(np.floor(center[0] - r - 2)), int(np.ceil(center[0] + r + 2)) + 1
    y0, y1 = int(np.floor(center[1] - r - 2)), int(np.ceil(center[1] + r + 2)) + 1
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, cfg.size), min(y1, cfg.size)
    u = np.arange(x0, x1, dtype=np.float32)[None, :] - center[0]  # (1, w)
    v = np.arange(y0, y1, dtype=np.float32)[:, None] - center[1]  # (h, 1)
    alpha = np.clip(0.5 - _signed_distance(code, u, v, r), 0.0, 1.0)  # (h, w)
    return (slice(y0, y1), slice(x0, x1)), alpha, u, v


def _render(cfg: ShapesConfig, p: ShapesPairs, i: int, offset: np.ndarray) -> np.ndarray:
    """Image i with every object moved by offset[k] (zeros: frame1, motion: frame2) -> (H, W, 3)."""
    img = np.zeros((cfg.size, cfg.size, 3), np.float32)
    period = max(4.0, cfg.texture_period * cfg.size)  # below 4 px the pattern would alias
    for k in np.argsort(p.depth[i]):  # back to front
        if not p.present[i, k]:
            continue
        code = int(p.shape[i, k])
        box, alpha, u, v = _coverage(cfg, code, p.center[i, k] + offset[k], float(p.radius[i, k]))
        color = p.color[i, k].astype(np.float32)  # (3,)
        if cfg.textured:
            w = _texture(code, u, v, period, p.phase[i, k])[..., None]  # (h, w, 1)
            paint = color * (_DARK + (1.0 - _DARK) * w)  # (h, w, 3)
        else:
            paint = color
        a = alpha[..., None]
        img[box] = img[box] * (1.0 - a) + paint * a
    return np.round(np.clip(img, 0, 255)).astype(np.uint8)


def generate_pairs(cfg: ShapesConfig, n: int, rng: np.random.Generator) -> ShapesPairs:
    """n (frame1, frame2) pairs with the per-object ground truth that made them."""
    k = len(cfg.shapes)
    codes = np.array([SHAPE_NAMES.index(s) for s in cfg.shapes], np.int8)
    motion = sample_motions(cfg, n, rng)  # (n, K, 2)
    present = rng.random((n, k)) < cfg.present_prob
    radius = rng.uniform(*cfg.radius_range, (n, k)) * cfg.size
    margin = radius + cfg.max_motion + 1.0  # whole object inside both frames
    center = margin[..., None] + rng.random((n, k, 2)) * (cfg.size - 2 * margin)[..., None]
    depth = np.argsort(rng.random((n, k)), axis=1).astype(np.int8)
    pairs = ShapesPairs(
        frame1=np.empty((n, cfg.size, cfg.size, 3), np.uint8),
        frame2=np.empty((n, cfg.size, cfg.size, 3), np.uint8),
        shape=np.broadcast_to(codes, (n, k)).copy(),
        present=present,
        motion=np.where(present[..., None], motion, 0.0).astype(np.float32),
        center=center.astype(np.float32),
        radius=radius.astype(np.float32),
        color=_random_colors(rng, (n, k)),
        depth=depth,
        phase=rng.uniform(0, 2 * np.pi, (n, k, 2)).astype(np.float32),
    )
    still = np.zeros((k, 2), np.float32)
    for i in range(n):
        pairs.frame1[i] = _render(cfg, pairs, i, still)
        pairs.frame2[i] = _render(cfg, pairs, i, pairs.motion[i])
    return pairs


def visible_masks(cfg: ShapesConfig, pairs: ShapesPairs, frame: int = 1) -> np.ndarray:
    """(N, K, H, W) bool: pixels where object k is the nearest one covering more than half.

    For measuring each object's motion in predicted frames (the paper averages optical flow
    over each object), without storing masks beside the pairs.
    """
    n, k = pairs.present.shape
    out = np.zeros((n, k, cfg.size, cfg.size), bool)
    for i in range(n):
        offset = pairs.motion[i] if frame == 2 else np.zeros((k, 2), np.float32)
        covered = np.zeros((cfg.size, cfg.size), bool)
        for j in np.argsort(pairs.depth[i])[::-1]:  # front to back
            if not pairs.present[i, j]:
                continue
            box, alpha, _, _ = _coverage(cfg, int(pairs.shape[i, j]), pairs.center[i, j] + offset[j],
                                         float(pairs.radius[i, j]))
            mask = np.zeros((cfg.size, cfg.size), bool)
            mask[box] = alpha > 0.5
            out[i, j] = mask & ~covered
            covered |= mask
    return out


def make_split(cfg: ShapesConfig, n: int, seed: int) -> tuple[dict[str, np.ndarray], dict]:
    """A train or test split: arrays (axis 0 = pair) and attrs, ready for write_shard."""
    pairs = generate_pairs(cfg, n, np.random.default_rng(np.random.SeedSequence([seed])))
    attrs = {
        "dataset": "shapes_texture" if cfg.textured else "shapes",
        "config": asdict(cfg),
        "n": n,
        "seed": seed,
        "shape_names": list(SHAPE_NAMES),
        "motion_convention": "(dx, dy) pixels from frame1 to frame2",
    }
    return pairs.arrays(), attrs


def pairs_from_arrays(arrays: dict[str, np.ndarray]) -> ShapesPairs:
    """The ShapesPairs a split was written from (its shard's arrays), to re-render or mask it."""
    return ShapesPairs(**{name: np.asarray(arrays[name]) for name in ShapesPairs.__dataclass_fields__})


def render_moved(cfg: ShapesConfig, pairs: ShapesPairs, motion: np.ndarray) -> np.ndarray:
    """Frame 1 of every pair re-rendered with its objects moved by ``motion`` (N, K, 2) -> (N, H, W, 3).

    Why: the resampled-truth and mean-motion references of the crossconv KL table are next frames
    drawn exactly as the generator draws them, from other motions than the stored ones.
    """
    return np.stack([_render(cfg, pairs, i, np.asarray(motion[i], np.float32)) for i in range(len(motion))])


def shapes_split_sizes(sizes: Mapping[str, Any], split: str) -> dict[str, Any]:
    """The Shapes sizes one split is generated from: the frame size and that split's own pair count,
    so that changing the test set's count neither regenerates the training pairs nor retrains the
    networks that read them (a rule's params are one of Snakemake's rerun triggers)."""
    return {"size": sizes["size"], f"{split}_pairs": sizes[f"{split}_pairs"]}

"""How a synthetic scene looks: background textures and actor sprites, drawn at a supersampled density.

``pipeline.synthetic.scenes`` moves them (camera, actors, ground-truth flow); this module only
paints: smooth noise fields, a cluttered background of noise, blobs, polygons and lines (or a
homogeneous one, as KTH was filmed), and textured actor sprites with an alpha mask.
"""

from __future__ import annotations

import cv2
import numpy as np


def noise_field(rng: np.random.Generator, h: int, w: int, cell: float) -> np.ndarray:
    """Smooth noise with features of about ``cell`` pixels, (h, w) float32 roughly in [-2, 2]."""
    gh, gw = int(np.ceil(h / cell)) + 3, int(np.ceil(w / cell)) + 3
    coarse = rng.standard_normal((gh, gw)).astype(np.float32)
    big = cv2.resize(coarse, (int(gw * cell), int(gh * cell)), interpolation=cv2.INTER_CUBIC)
    return big[int(cell) : int(cell) + h, int(cell) : int(cell) + w]


def random_colour(rng: np.random.Generator) -> tuple[float, float, float]:
    return tuple(float(v) for v in rng.uniform(0, 255, size=3))


def background_texture(
    rng: np.random.Generator, h: int, w: int, *, background: str, scale: float, supersample: int
) -> np.ndarray:
    """(h, w, 3) float32 texture at supersampled density: noise, blobs, polygons, lines
    (``cluttered``), or a plain colour with faint large-scale shading (``homogeneous``)."""
    s = supersample
    cell = scale * s
    tex = np.zeros((h, w, 3), np.float32)
    base = rng.uniform(60, 190, size=3).astype(np.float32)
    if background == "homogeneous":
        shading = noise_field(rng, h, w, 0.5 * min(h, w))
        return np.clip(base + 6.0 * shading[..., None], 0, 255).astype(np.float32)
    for octave, weight in ((1, 0.3), (2, 0.4), (4, 0.6), (8, 0.8)):
        n = noise_field(rng, h, w, cell * octave)
        colour = rng.normal(0, 25, size=3).astype(np.float32)
        tex += weight * n[..., None] * colour
    tex += base
    area_ref = (h / s) * (w / s)
    n_shapes = int(area_ref / (scale**2) * 0.6) + 4
    for _ in range(n_shapes):
        kind = rng.integers(4)
        colour = random_colour(rng)
        cx, cy = rng.uniform(0, w), rng.uniform(0, h)
        size = rng.uniform(0.5, 2.0) * cell
        if kind == 0:  # rectangle, rotated: four strong corners
            box = ((cx, cy), (size * rng.uniform(0.6, 1.6), size), rng.uniform(0, 180))
            pts = cv2.boxPoints(box)
            cv2.fillPoly(tex, [np.round(pts * 16).astype(np.int32)], colour, cv2.LINE_AA, 4)
        elif kind == 1:  # triangle
            pts = np.array([cx, cy]) + rng.uniform(-size, size, size=(3, 2))
            cv2.fillPoly(tex, [np.round(pts * 16).astype(np.int32)], colour, cv2.LINE_AA, 4)
        elif kind == 2:  # disc
            centre = (int(round(cx * 16)), int(round(cy * 16)))
            cv2.circle(tex, centre, int(size * 0.6 * 16), colour, -1, cv2.LINE_AA, 4)
        else:  # line segment
            p0 = np.array([cx, cy])
            p1 = p0 + rng.uniform(-3 * size, 3 * size, size=2)
            thickness = max(1, int(round(rng.uniform(0.6, 1.5) * s)))
            cv2.line(
                tex,
                tuple(int(v) for v in np.round(p0 * 16)),
                tuple(int(v) for v in np.round(p1 * 16)),
                colour,
                thickness,
                cv2.LINE_AA,
                4,
            )
    # Band-limit to about half an output pixel: keeps corners sharp for SIFT/ORB, and keeps
    # bilinear interpolation of the output frames close to the truth.
    tex = cv2.GaussianBlur(tex, (0, 0), 0.5 * s)
    return np.clip(tex, 0, 255)


def shape_alpha(shape: str, h: int, w: int, s: int) -> np.ndarray:
    """(h*s, w*s) float32 alpha of a centred outline filling most of an h x w box."""
    hh, ww = h * s, w * s
    canvas = np.zeros((hh, ww), np.float32)
    cx, cy = (ww - 1) / 2.0, (hh - 1) / 2.0
    rx, ry = (ww - 2 * s) / 2.0, (hh - 2 * s) / 2.0  # leave one output pixel of margin

    def poly(points: list[tuple[float, float]]) -> None:
        pts = np.round(np.array(points) * 16).astype(np.int32)
        cv2.fillPoly(canvas, [pts], 1.0, cv2.LINE_AA, 4)

    if shape == "ellipse":
        centre = (int(round(cx * 16)), int(round(cy * 16)))
        axes = (int(rx * 16), int(ry * 16))
        cv2.ellipse(canvas, centre, axes, 0, 0, 360, 1.0, -1, cv2.LINE_AA, 4)
    elif shape in ("square", "rectangle"):
        poly([(cx - rx, cy - ry), (cx + rx, cy - ry), (cx + rx, cy + ry), (cx - rx, cy + ry)])
    elif shape == "triangle":  # symmetric up/down: a diamond would do too; apex up
        poly([(cx, cy - ry), (cx + rx, cy + ry), (cx - rx, cy + ry)])
    elif shape == "arrow":  # a pentagon pointing right (+x)
        poly([(cx - rx, cy - ry), (cx + 0.2 * rx, cy - ry), (cx + rx, cy), (cx + 0.2 * rx, cy + ry), (cx - rx, cy + ry)])
    elif shape == "cross":
        a, b = rx / 3.0, ry / 3.0
        poly([(cx - a, cy - ry), (cx + a, cy - ry), (cx + a, cy + ry), (cx - a, cy + ry)])
        poly([(cx - rx, cy - b), (cx + rx, cy - b), (cx + rx, cy + b), (cx - rx, cy + b)])
    else:
        raise ValueError(f"unknown actor shape {shape!r}")
    return cv2.GaussianBlur(canvas, (0, 0), 0.35 * s)


def sprite(
    rng: np.random.Generator, shape: str, h: int, w: int, s: int, cell: float,
    uniform: tuple[float, float, float] | None = None,
) -> np.ndarray:
    """(h*s, w*s, 4) float32 textured sprite: colour 0..255, alpha 0..1.

    ``uniform``: the body's base colour, with its spots in darker shades of it (random otherwise).
    """
    alpha = shape_alpha(shape, h, w, s)
    hh, ww = alpha.shape
    base = np.asarray(uniform, np.float32) if uniform is not None else rng.uniform(30, 225, size=3).astype(np.float32)
    colour = np.zeros((hh, ww, 3), np.float32) + base
    for octave in (1.0, 2.0):
        n = noise_field(rng, hh, ww, cell * octave)
        colour += n[..., None] * rng.normal(0, 35 if uniform is None else 15, size=3).astype(np.float32)
    for _ in range(int(rng.integers(2, 6))):  # spots: corners and blobs to track
        centre = (int(rng.uniform(0, ww) * 16), int(rng.uniform(0, hh) * 16))
        spot = random_colour(rng) if uniform is None else tuple(float(v) for v in base * rng.uniform(0.35, 0.7))
        cv2.circle(colour, centre, int(rng.uniform(0.1, 0.25) * min(hh, ww) * 16), spot, -1, cv2.LINE_AA, 4)
    # A dark rim so the outline stands out from any background.
    rim = np.clip(alpha - cv2.erode(alpha, np.ones((2 * s + 1, 2 * s + 1), np.uint8)), 0, 1)
    colour = colour * (1.0 - 0.7 * rim[..., None])
    colour = cv2.GaussianBlur(np.clip(colour, 0, 255), (0, 0), 0.5 * s)
    return np.dstack([colour, alpha]).astype(np.float32)

"""Synthetic scenes: rendered videos whose camera motion, optical flow and actors are known.

They stand in offline for UCF101, THUMOS, HMDB-51, KTH and Flickr, and they are the ground
truth every later stage is tested against (stabilization against the homographies, optical
flow against the flow, trajectories against the actors' positions).

The world is a plane. A textured background sits in it, and actors (textured sprites) slide
across it at constant velocity; a shaking camera looks at the plane, so frame ``t`` is the
plane seen through the homography ``H[t]`` (reference-frame-0 pixels -> frame-t pixels,
``H[0] = I``). Because everything is planar, the true flow of every pixel is analytic:
``x -> H[t+1] (H[t]^-1 x + d)`` where ``d`` is the displacement in the plane of whatever
surface is on top at ``x`` (zero for the background).

Frames are rendered at ``supersample`` times the output resolution (bilinear warps of
textures drawn at that density by ``pipeline.synthetic.textures``) and box-averaged down, so edges are anti-aliased and a
pixel is the true average of the scene over its footprint; that keeps "warp frame t by the
flow" within a few grey levels of frame t+1.

Each action class fixes which directions its actors may take, with which probabilities,
and how its actors look (so the class is visible in a frame). The look never depends on the
direction drawn, and start positions are drawn before and independently of the direction,
so a single frame says which class but not which way: the future is ambiguous, which is
what Walker et al. and Xue et al. need. The first classes are symmetric (their mean displacement
is zero), so the best single guess of their flow is "no motion"; the ``walk`` class is the
exception a static-frame flow predictor needs: its arrow-shaped actors mostly go the way they
point. The four "lean" classes (``climb``, ``dive``, ``push``, ``pull``) are what the walker and
staticflow demos are made of: a big actor always moves along one of two diagonals that share one
axis (``climb`` always rises, and goes right three times in four, left otherwise), so a single
frame predicts part of the motion (a regressor beats "no motion"), the rest is a two-way gamble
(a model of the distribution beats the regressor), and every scene moves on both axes (walker
normalizes each axis by its own RMS, which would blow noise up on an axis that does not move).
Lean actors wear their class's colour: told only by its outline among a cluttered background, the
demo's small nets memorised the ~140 training scenes (hold-out loss no better than predicting zero)
instead of learning the class.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from pipeline.synthetic.camera import (
    apply_homography,
    background_margin,
    camera_homographies,
    to_hires,
    translation,
)
from pipeline.synthetic.textures import background_texture, sprite

_COVERAGE_EPS = 0.02
"""A layer covering less than this fraction of a pixel counts as absent, more than 1 - this as full."""

@dataclass(frozen=True)
class ActionClass:
    """How actors of one class look and move."""

    name: str
    directions: tuple[tuple[float, float], ...]  # unit (dx, dy), image axes (y down); () = any angle
    probabilities: tuple[float, ...]  # one per direction, sums to 1
    speed_factor: float  # multiplies SceneConfig.speed_range (small = barely moving)
    shape: str  # body outline: ellipse, square, triangle, cross, rectangle, arrow (points right)
    waves: bool = False  # a second part (arm) oscillates vertically with a random phase
    size_factor: float = 1.0  # multiplies SceneConfig.actor_size
    colour: tuple[float, float, float] | None = None  # body colour (RGB) worn by every actor; None: random


_S = float(np.sqrt(0.5))
ACTION_CLASSES: dict[str, ActionClass] = {
    c.name: c
    for c in (
        ActionClass("updown", ((0.0, -1.0), (0.0, 1.0)), (0.5, 0.5), 1.0, "ellipse"),
        ActionClass("leftright", ((-1.0, 0.0), (1.0, 0.0)), (0.5, 0.5), 1.0, "square"),
        ActionClass(
            "diagonal",
            ((_S, -_S), (-_S, _S), (_S, _S), (-_S, -_S)),
            (0.4, 0.4, 0.1, 0.1),
            1.0,
            "triangle",
        ),
        ActionClass("stand", (), (), 0.05, "cross"),
        ActionClass("wave", (), (), 0.05, "rectangle", waves=True),
        # Mostly forward: the one class whose mean flow is not zero, visible from the arrow.
        ActionClass("walk", ((1.0, 0.0), (-1.0, 0.0)), (0.85, 0.15), 1.0, "arrow"),
        # Lean classes: one axis certain, the other a 3:1 gamble; big, moderately fast actors in
        # their class's colour (a uniform), so a small net tells the class from one frame.
        ActionClass("climb", ((0.6, -0.8), (-0.6, -0.8)), (0.75, 0.25), 0.7, "ellipse", size_factor=1.4,
                    colour=(225.0, 45.0, 40.0)),
        ActionClass("dive", ((-0.6, 0.8), (0.6, 0.8)), (0.75, 0.25), 0.7, "triangle", size_factor=1.4,
                    colour=(40.0, 80.0, 225.0)),
        ActionClass("push", ((0.8, 0.6), (0.8, -0.6)), (0.75, 0.25), 0.7, "arrow", size_factor=1.4,
                    colour=(240.0, 205.0, 30.0)),
        ActionClass("pull", ((-0.8, -0.6), (-0.8, 0.6)), (0.75, 0.25), 0.7, "square", size_factor=1.4,
                    colour=(40.0, 190.0, 70.0)),
        # KTH's people: tall dark figures that walk or run across (either way) or wave in place
        ActionClass("walking", ((-1.0, 0.0), (1.0, 0.0)), (0.5, 0.5), 1.0, "ellipse", size_factor=1.6,
                    colour=(60.0, 60.0, 60.0)),
        ActionClass("running", ((-1.0, 0.0), (1.0, 0.0)), (0.5, 0.5), 2.0, "ellipse", size_factor=1.6,
                    colour=(60.0, 60.0, 60.0)),
        ActionClass("handwaving", (), (), 0.05, "rectangle", waves=True, size_factor=1.6, colour=(60.0, 60.0, 60.0)),
    )
}
"""The action classes a scene can show; SceneConfig.classes picks a subset."""


BACKGROUNDS: tuple[str, ...] = ("cluttered", "homogeneous")
"""``cluttered`` gives stabilization and flow corners to lock on; ``homogeneous`` is KTH's
"homogeneous backgrounds with a static camera" (Schuldt et al. 2004), where the actor is the
only thing that changes."""


@dataclass(frozen=True)
class SceneConfig:
    """Sizes and motion statistics of one family of scenes (a dataset stand-in)."""

    width: int = 64  # output frame width, pixels
    height: int = 48  # output frame height, pixels
    frames: int = 12  # frames per scene
    fps: float = 25.0  # frame rate written to video files
    n_actors: int = 1  # actors per scene, all of the scene's class
    camera_motion_prob: float = 1.0  # fraction of scenes with a shaking camera (HMDB tags cm/nm)
    shake_translation: float = 1.5  # camera translation amplitude, pixels
    shake_rotation: float = 0.5  # camera roll amplitude, degrees
    shake_zoom: float = 0.01  # relative zoom amplitude
    shake_perspective: float = 0.005  # relative scale change at the frame edge from tilt
    shake_smoothness: float = 3.0  # Gaussian smoothing of the shake, frames (larger = slower)
    speed_range: tuple[float, float] = (1.0, 2.5)  # actor speed in the plane, pixels/frame
    actor_size: tuple[float, float] = (0.3, 0.45)  # actor height as a fraction of frame height
    texture_scale: float = 6.0  # typical size of background shapes, pixels
    background: str = "cluttered"  # "cluttered": noise, blobs, polygons, lines; "homogeneous": faint smooth shading only
    wave_period: tuple[float, float] = (6.0, 12.0)  # arm oscillation period, frames
    bounce: bool = False  # actors bounce inside the central 80% of the plane instead of leaving
    supersample: int = 4  # rendering resolution factor before box-averaging down
    classes: tuple[str, ...] = ("updown", "leftright", "diagonal", "stand", "wave")

    def __post_init__(self) -> None:
        unknown = [c for c in self.classes if c not in ACTION_CLASSES]
        if unknown or not self.classes:
            raise ValueError(
                f"SceneConfig.classes: unknown or empty {unknown or list(self.classes)}; "
                f"known classes are {sorted(ACTION_CLASSES)}"
            )
        if self.width < 8 or self.height < 8 or self.frames < 2:
            raise ValueError(
                f"SceneConfig: need width, height >= 8 and frames >= 2, got "
                f"{self.width}x{self.height}x{self.frames}"
            )
        if self.background not in BACKGROUNDS:
            raise ValueError(f"SceneConfig.background: {self.background!r} is not one of {BACKGROUNDS}")
        if self.n_actors < 0 or self.supersample < 1:
            raise ValueError("SceneConfig: n_actors must be >= 0 and supersample >= 1")
        if len(self.speed_range) != 2 or not 0 <= self.speed_range[0] <= self.speed_range[1]:
            raise ValueError(f"SceneConfig.speed_range: need 0 <= min <= max pixels per frame, got {self.speed_range}")


@dataclass
class Scene:
    """One rendered scene and its ground truth (array shapes in the comments)."""

    frames: np.ndarray  # (T, H, W, 3) uint8 RGB
    homographies: np.ndarray  # (T, 3, 3) float64, frame-0 pixels -> frame-t pixels, H[0] = I
    flow: np.ndarray  # (T-1, H, W, 2) float32, true forward flow t -> t+1 (dx, dy)
    masks: np.ndarray  # (T, H, W) uint8, actor id on top (1..n_actors), 0 = background
    occlusion: np.ndarray  # (T-1, H, W) bool, flow target not (purely) visible in t+1
    label: str
    directions: np.ndarray  # (n_actors, 2) float64 unit (dx, dy) of motion in the plane
    positions: np.ndarray  # (T, n_actors, 2) float64 actor centres in frame-t pixels
    fps: float
    camera_motion: bool  # False: H[t] = I for all t
    speeds: np.ndarray = field(default_factory=lambda: np.zeros(0))  # (n_actors,) px/frame
    phases: np.ndarray = field(default_factory=lambda: np.zeros(0))  # (n_actors,) arm phase, NaN if none


@dataclass
class _Layer:
    """A textured RGBA sprite translating in the reference plane."""

    rgba: np.ndarray  # (h*s, w*s, 4) float32, colour 0..255 and alpha 0..1
    offsets: np.ndarray  # (T, 2) centre of the sprite in reference-frame pixels
    actor: int  # actor id written to the mask


def sample_directions(
    label: str, n: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Draw ``n`` motion directions of class ``label``: (n, 2) unit vectors and their indices.

    The index is into ``ACTION_CLASSES[label].directions`` (-1 for classes with any angle).
    """
    cls = _action_class(label)
    if cls.directions:
        idx = rng.choice(len(cls.directions), size=n, p=np.asarray(cls.probabilities))
        return np.asarray(cls.directions, dtype=np.float64)[idx].reshape(n, 2), idx
    angle = rng.uniform(0.0, 2.0 * np.pi, size=n)
    return np.stack([np.cos(angle), np.sin(angle)], axis=1), np.full(n, -1)


def _action_class(label: str) -> ActionClass:
    if label not in ACTION_CLASSES:
        raise ValueError(f"unknown action class {label!r}; known: {sorted(ACTION_CLASSES)}")
    return ACTION_CLASSES[label]


# ----------------------------------------------------------------------------- rendering


def _warp_matrix(
    a: np.ndarray, h_t: np.ndarray, origin: np.ndarray, s: int
) -> np.ndarray:
    """Texture pixels (supersampled, top-left pixel centre at ``origin`` in the reference
    plane) -> supersampled pixels of frame t."""
    return a @ h_t @ translation(origin[0], origin[1]) @ np.linalg.inv(a)


def _footprint(
    m: np.ndarray, shape: tuple[int, int], s: int, size: tuple[int, int]
) -> tuple[int, int, int, int] | None:
    """Bounding box (x0, y0, x1, y1) of a warped sprite in the supersampled frame, aligned to
    whole output pixels (multiples of ``s``) so its coverage box-averages exactly; None if
    it misses the frame."""
    h, w = shape
    corners = np.array([[-1, -1], [w, -1], [w, h], [-1, h]], dtype=np.float64)
    p = apply_homography(m, corners)
    x0 = max(0, int(np.floor(p[:, 0].min() / s)) * s)
    y0 = max(0, int(np.floor(p[:, 1].min() / s)) * s)
    x1 = min(size[0], int(np.ceil((p[:, 0].max() + 1) / s)) * s)
    y1 = min(size[1], int(np.ceil((p[:, 1].max() + 1) / s)) * s)
    if x1 <= x0 or y1 <= y0:
        return None
    return x0, y0, x1, y1


def _layer_origin(layer: _Layer, t: int, s: int) -> np.ndarray:
    h, w = layer.rgba.shape[0] // s, layer.rgba.shape[1] // s
    return layer.offsets[t] - np.array([(w - 1) / 2.0, (h - 1) / 2.0])


def render_scene(
    cfg: SceneConfig,
    label: str,
    rng: np.random.Generator,
    *,
    directions: np.ndarray | None = None,
) -> Scene:
    """Render one scene of class ``label`` with its ground truth.

    ``directions`` (n_actors, 2) overrides the drawn directions (everything else, including
    the first frame, stays as drawn): used to show the first frame does not tell the direction.
    """
    cls = _action_class(label)
    if label not in cfg.classes:
        raise ValueError(f"label {label!r} is not among SceneConfig.classes {cfg.classes}")
    s, big_w, big_h, n_t = cfg.supersample, cfg.width, cfg.height, cfg.frames
    # Independent streams, so drawing a direction never changes how a scene looks.
    look_rng, camera_rng, motion_rng = (
        np.random.default_rng(int(v)) for v in rng.integers(0, 2**63, size=3)
    )

    # ---- motion (drawn first from its own stream; the look does not depend on it)
    drawn, _ = sample_directions(label, cfg.n_actors, motion_rng)
    speeds = motion_rng.uniform(*cfg.speed_range, size=cfg.n_actors) * cls.speed_factor
    phases = motion_rng.uniform(0, 2 * np.pi, size=cfg.n_actors)
    periods = motion_rng.uniform(*cfg.wave_period, size=cfg.n_actors)
    if directions is not None:
        drawn = np.asarray(directions, dtype=np.float64).reshape(cfg.n_actors, 2)
        drawn = drawn / np.linalg.norm(drawn, axis=1, keepdims=True)
    moving = bool(camera_rng.random() < cfg.camera_motion_prob)
    homographies = camera_homographies(cfg, camera_rng, moving)

    # ---- look: background, sprites, start positions
    margin = background_margin(cfg)
    tex_w, tex_h = (big_w + 2 * margin) * s, (big_h + 2 * margin) * s
    background = background_texture(look_rng, tex_h, tex_w, background=cfg.background, scale=cfg.texture_scale,
                                    supersample=cfg.supersample)
    bg_origin = np.array([-margin, -margin], dtype=np.float64)
    times = np.arange(n_t, dtype=np.float64)
    layers: list[_Layer] = []
    for k in range(cfg.n_actors):
        h_a = max(4, int(round(look_rng.uniform(*cfg.actor_size) * cls.size_factor * big_h)))
        aspect = {"ellipse": 0.6, "rectangle": 0.5}.get(cls.shape, 1.0)
        w_a = max(4, int(round(h_a * aspect)))
        cell = max(2.0, cfg.texture_scale * s * 0.5)
        rgba = sprite(look_rng, cls.shape, h_a, w_a, s, cell, cls.colour)
        start = look_rng.uniform([0.15 * big_w, 0.15 * big_h], [0.85 * big_w, 0.85 * big_h])
        centres = start + times[:, None] * speeds[k] * drawn[k]  # (T, 2)
        if cfg.bounce:
            centres = _reflect(centres, np.array([big_w, big_h], dtype=np.float64))
        layers.append(_Layer(rgba, centres, k + 1))
        if cls.waves:
            arm_h, arm_w = max(2, h_a // 5), max(4, int(round(h_a * 0.6)))
            arm = sprite(look_rng, "rectangle", arm_h, arm_w, s, cell)
            side = 1.0 if look_rng.random() < 0.5 else -1.0
            amp = 0.3 * h_a
            swing = amp * np.sin(2 * np.pi * times / periods[k] + phases[k])
            attach = np.array([side * (w_a / 2.0 + arm_w / 2.0 - 1.0), -0.15 * h_a])
            arm_centres = centres + attach + np.stack([np.zeros(n_t), swing], axis=1)
            layers.append(_Layer(arm, arm_centres, k + 1))
    if not cls.waves:
        phases = np.full(cfg.n_actors, np.nan)

    # ---- render
    a = to_hires(s)
    hi_size = (big_w * s, big_h * s)
    frames = np.empty((n_t, big_h, big_w, 3), np.uint8)
    coverage = np.zeros((n_t, len(layers), big_h, big_w), np.float32)
    for t in range(n_t):
        hi = cv2.warpPerspective(
            background,
            _warp_matrix(a, homographies[t], bg_origin, s),
            hi_size,
            flags=cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_REFLECT,
        )
        for i, layer in enumerate(layers):
            m = _warp_matrix(a, homographies[t], _layer_origin(layer, t, s), s)
            roi = _footprint(m, layer.rgba.shape[:2], s, hi_size)
            if roi is None:  # entirely outside the frame
                continue
            x0, y0, x1, y1 = roi
            warped = cv2.warpPerspective(
                layer.rgba,
                translation(-x0, -y0) @ m,
                (x1 - x0, y1 - y0),
                flags=cv2.INTER_LINEAR,
                borderMode=cv2.BORDER_CONSTANT,
                borderValue=0,
            )
            alpha = warped[..., 3:4]
            window = hi[y0:y1, x0:x1]
            window += alpha * (warped[..., :3] - window)
            coverage[t, i, y0 // s : y1 // s, x0 // s : x1 // s] = cv2.resize(
                alpha[..., 0], ((x1 - x0) // s, (y1 - y0) // s), interpolation=cv2.INTER_AREA
            )
        frames[t] = np.clip(
            np.round(cv2.resize(hi, (big_w, big_h), interpolation=cv2.INTER_AREA)), 0, 255
        )

    # ---- truth: top layer, masks, flow, occlusion
    actor_of_layer = np.array([0] + [layer.actor for layer in layers], np.uint8)
    top = np.zeros((n_t, big_h, big_w), np.int64)  # 0 = background, i+1 = layers[i]
    for i in range(len(layers)):
        top[coverage[:, i] >= 0.5] = i + 1
    masks = actor_of_layer[top]
    flow, occlusion = _flow_and_occlusion(homographies, layers, coverage, top)

    body = [layer for layer in layers if _is_body(layers, layer)]  # one per actor, in order
    positions = np.zeros((n_t, cfg.n_actors, 2))
    for k, layer in enumerate(body):
        for t in range(n_t):
            positions[t, k] = apply_homography(homographies[t], layer.offsets[t : t + 1])[0]
    return Scene(
        frames=frames,
        homographies=homographies,
        flow=flow,
        masks=masks,
        occlusion=occlusion,
        label=label,
        directions=drawn,
        positions=positions,
        fps=float(cfg.fps),
        camera_motion=moving,
        speeds=speeds,
        phases=phases,
    )


def _reflect(centres: np.ndarray, size: np.ndarray) -> np.ndarray:
    """Fold straight paths (T, 2) into [10%, 90%] of the plane: a bounce off each wall.

    Long videos keep their actors in view; per-frame displacements stay pure translations, so
    the analytic flow holds through a bounce.
    """
    lo, span = 0.1 * size, 0.8 * size
    u = np.mod(centres - lo, 2 * span)
    return lo + span - np.abs(u - span)


def _is_body(layers: list[_Layer], layer: _Layer) -> bool:
    """The first layer of each actor is its body (an arm, if any, follows it)."""
    return next(lay for lay in layers if lay.actor == layer.actor) is layer


def _flow_and_occlusion(
    homographies: np.ndarray,
    layers: list[_Layer],
    coverage: np.ndarray,
    top: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Analytic forward flow of the top surface of every pixel and where it is not visible.

    A pixel counts as occluded when its target leaves the frame, when a layer in front of
    its surface covers the target in t+1, or when the pixel (or its target) mixes two
    surfaces at a layer's anti-aliased edge: there no single flow explains the colour.
    """
    n_t, n_layers, h, w = coverage.shape
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float64)
    grid = np.stack([xs.ravel(), ys.ravel()], axis=1)  # (H*W, 2)
    flow = np.empty((n_t - 1, h, w, 2), np.float32)
    occlusion = np.empty((n_t - 1, h, w), bool)
    lo, hi = _COVERAGE_EPS, 1.0 - _COVERAGE_EPS
    for t in range(n_t - 1):
        ref = apply_homography(np.linalg.inv(homographies[t]), grid)  # (H*W, 2) in the plane
        per_layer = np.empty((n_layers + 1, h * w, 2))
        per_layer[0] = apply_homography(homographies[t + 1], ref) - grid
        for i, layer in enumerate(layers):
            shift = layer.offsets[t + 1] - layer.offsets[t]
            per_layer[i + 1] = apply_homography(homographies[t + 1], ref + shift) - grid
        idx = top[t].ravel()
        f = per_layer[idx, np.arange(h * w)].reshape(h, w, 2)
        flow[t] = f

        # Mixed pixel in t: the front-most layer present is only partly there.
        mixed = np.zeros((h, w), bool)
        seen = np.zeros((h, w), bool)
        for i in reversed(range(n_layers)):
            c = coverage[t, i]
            present = (c > lo) & ~seen
            mixed |= present & (c < hi)
            seen |= present
        target_x = (xs + f[..., 0]).astype(np.float32)
        target_y = (ys + f[..., 1]).astype(np.float32)
        outside = (target_x < 0) | (target_x > w - 1) | (target_y < 0) | (target_y > h - 1)
        blocked = np.zeros((h, w), bool)
        for i in range(n_layers):
            sampled = cv2.remap(
                coverage[t + 1, i], target_x, target_y, cv2.INTER_LINEAR,
                borderMode=cv2.BORDER_CONSTANT, borderValue=0,
            )
            in_front = top[t] < i + 1  # layer i is above the pixel's surface
            own = top[t] == i + 1
            blocked |= (in_front & (sampled > lo)) | (own & (sampled < hi))
        occlusion[t] = mixed | outside | blocked
    return flow, occlusion

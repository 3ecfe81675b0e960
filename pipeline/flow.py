"""Dense optical flow between frames (OpenCV), and the staticflow paper's training target.

Convention (COMMON.md): flow is (H, W, 2) float32, (dx, dy) in pixels, forward from frame0
to frame1: the content at pixel x in frame0 is at x + flow[x] in frame1.

Methods:
* ``deepflow``: DeepFlow (Weinzaepfel et al. 2013), what walker and staticflow used, via
  ``cv2.optflow.createOptFlow_DeepFlow`` on greyscale frames with its default parameters.
* ``dis``: Dense Inverse Search (Kroeger et al. 2016), ``cv2.DISOpticalFlow_create`` with a
  preset (default ``medium``: ``ultrafast`` skips most refinement and is visibly coarser on
  small frames, ``fast`` is between). Tens of times faster than DeepFlow on CPU: the fast
  option for the demo scale.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from pipeline.shards import map_shard

METHODS = ("deepflow", "dis")
DIS_PRESETS = {
    "ultrafast": cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST,
    "fast": cv2.DISOPTICAL_FLOW_PRESET_FAST,
    "medium": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM,
}


def configured_method(method: str, scale: str) -> str:
    """``preprocess.flow`` as a method: ``auto`` is DeepFlow at the paper preset (what walker
    and staticflow used, for their targets, trajectories and the flow baseline's labels) and
    DIS at smoke and demo scale (about 30x faster on CPU)."""
    if method == "auto":
        return "deepflow" if scale == "paper" else "dis"
    if method not in METHODS:
        raise ValueError(f"preprocess.flow must be auto or one of {METHODS}, got {method!r}")
    return method


def _grey(frame: np.ndarray) -> np.ndarray:
    if frame.dtype != np.uint8:
        raise ValueError(f"compute_flow: expected uint8 frames, got {frame.dtype}")
    if frame.ndim == 2:
        return frame
    if frame.ndim == 3 and frame.shape[2] == 3:
        return cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
    raise ValueError(f"compute_flow: expected (H, W, 3) RGB or (H, W) grey, got {frame.shape}")


def _estimator(method: str, dis_preset: str) -> cv2.DenseOpticalFlow:
    if method == "deepflow":
        return cv2.optflow.createOptFlow_DeepFlow()
    if method == "dis":
        if dis_preset not in DIS_PRESETS:
            raise ValueError(f"flow.dis_preset must be one of {sorted(DIS_PRESETS)}, got {dis_preset!r}")
        return cv2.DISOpticalFlow_create(DIS_PRESETS[dis_preset])
    raise ValueError(f"flow.method must be one of {METHODS}, got {method!r}")


def compute_flow(
    frame0: np.ndarray, frame1: np.ndarray, method: str = "deepflow", dis_preset: str = "medium"
) -> np.ndarray:
    """Forward flow frame0 -> frame1 of two uint8 frames (RGB or grey). (H, W, 2) float32."""
    a, b = _grey(frame0), _grey(frame1)
    if a.shape != b.shape:
        raise ValueError(f"compute_flow: frames differ in size, {a.shape} vs {b.shape}")
    return _estimator(method, dis_preset).calc(a, b, None).astype(np.float32, copy=False)


STILL_PATCH = 7  # px, side of the patch the still test compares
STILL_NOISE = 3.0  # grey levels of sensor/compression noise a still patch may differ by
STILL_MARGIN = 0.25  # standing still must explain the patch within this factor of the flow's error


def still_mask(
    frame0: np.ndarray,
    frame1: np.ndarray,
    flow: np.ndarray,
    patch: int = STILL_PATCH,
    noise: float = STILL_NOISE,
    margin: float = STILL_MARGIN,
) -> np.ndarray:
    """Pixels where standing still explains frame1 as well as ``flow`` does. (H, W) bool.

    Dense flow estimators fill in motion smoothly from where it is observed: DIS densifies
    overlapping patches and refines variationally, DeepFlow's smoothness term does the same,
    so a walker's motion spreads 20-40 px onto the still road around it. A pixel's patch
    (``patch`` x ``patch``) is compared between the frames at zero displacement and after
    warping by the flow (mean squared grey-level difference): where staying put fits within
    ``(1 + margin)`` times the flow's error plus ``noise**2``, nothing there is seen to move.
    Untextured patches pass too (no observation says they move), textured moving ones do not.
    Works on greyscale or RGB uint8 frames (H, W[, 3]) and a (H, W, 2) flow frame0 -> frame1.
    """
    a, b = _grey(frame0).astype(np.float32), _grey(frame1).astype(np.float32)
    height, width = a.shape
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    warped = cv2.remap(b, xs + flow[..., 0], ys + flow[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    size = (patch, patch)
    staying = cv2.blur((b - a) ** 2, size, borderType=cv2.BORDER_REFLECT)
    moving = cv2.blur((warped - a) ** 2, size, borderType=cv2.BORDER_REFLECT)
    return staying <= (1.0 + margin) * moving + noise**2


def still_pixels(first: np.ndarray, later: np.ndarray, displacements: np.ndarray, **test: float) -> np.ndarray:
    """Pixels of ``first`` that no later frame sees move. (H, W) bool.

    ``later`` (K, H, W[, 3]) frames and ``displacements`` (K, H, W, 2) of first's pixels into
    each (a flow first -> later[k], or a track's offsets). A pixel is still where standing put
    explains every later frame as well as its displacement does (:func:`still_mask`; ``test``
    passes its thresholds). Judged from the first frame to each later one, not between
    consecutive frames, so a slow but steady motion, too small to see in one step, is seen once
    it adds up; and every frame must agree, since the flat inside of a moving body looks still
    until the body has moved by its own width.
    """
    still = np.ones(first.shape[:2], bool)
    for frame, shift in zip(later, displacements, strict=True):
        still &= still_mask(first, frame, shift, **test)
    return still


def compute_pairs(
    frames: np.ndarray,
    pairs: list[tuple[int, int]],
    method: str = "deepflow",
    dis_preset: str = "medium",
    progress: bool = False,
) -> np.ndarray:
    """Flow for each (i, j) pair of frame indices of one clip (T, H, W, 3). (P, H, W, 2) float32.

    One estimator object and one greyscale conversion per frame serve every pair.
    """
    grey = [_grey(f) for f in frames]
    estimator = _estimator(method, dis_preset)
    out = np.empty((len(pairs), *grey[0].shape, 2), np.float32)
    for k, (i, j) in enumerate(tqdm(pairs, desc=f"flow ({method})", disable=not progress, leave=False)):
        out[k] = estimator.calc(grey[i], grey[j], None)
    return out


def compute_clip_flow(
    frames: np.ndarray,
    method: str = "deepflow",
    dis_preset: str = "medium",
    backward: bool = False,
    progress: bool = False,
) -> np.ndarray:
    """Flow between consecutive frames of a clip (T, H, W, 3). (T-1, H, W, 2) float32.

    Forward (t -> t+1) by default; ``backward=True`` gives t+1 -> t, stored at index t, which
    is what the trajectory forward-backward check needs.
    """
    n = len(frames)
    pairs = [(t + 1, t) if backward else (t, t + 1) for t in range(n - 1)]
    return compute_pairs(frames, pairs, method, dis_preset, progress)


def staticflow_target(
    frames: np.ndarray,
    method: str = "deepflow",
    dis_preset: str = "medium",
    per_frame: bool = False,
    still_test: bool = True,
) -> np.ndarray:
    """The staticflow label of frames[0]: flow averaged between it and each of the next three frames.

    The paper: "the optical flow for each frame was then computed using DeepFlow, averaging
    the flow between the frame and the subsequent three frames to mitigate the effects of
    noise". Read literally, the label is mean_k flow(0 -> k) for k = 1, 2, 3: a displacement
    over about two frames, always anchored on the input frame's pixels (so it stays aligned
    with the image the network sees, unlike averaging consecutive flows 1->2, 2->3 which live
    on other frames' grids). ``per_frame=True`` divides flow(0 -> k) by k first, i.e. averages
    velocities (one-frame displacement units) instead. Frames (4, H, W, 3), at paper scale
    200x200 centre crops. ``still_test`` (default) zeroes the label where none of the three
    frames sees the pixel move (:func:`still_pixels`): the estimators spread a moving person's
    flow over the still ground around them. Returns (H, W, 2) float32.
    """
    if len(frames) < 4:
        raise ValueError(f"staticflow_target: needs the frame and the next three (4 frames), got {len(frames)}")
    flows = compute_pairs(frames[:4], [(0, 1), (0, 2), (0, 3)], method, dis_preset)  # (3, H, W, 2)
    still = still_pixels(frames[0], frames[1:4], flows) if still_test else None
    if per_frame:
        flows = flows / np.array([1.0, 2.0, 3.0], np.float32)[:, None, None, None]
    target = flows.mean(axis=0)
    if still is not None:
        target[still] = 0.0
    return target


def resize_flow(flow: np.ndarray, size: tuple[int, int], scale_vectors: bool = True) -> np.ndarray:
    """Area-average a flow field (H, W, 2) to ``size = (height, width)``. (h, w, 2) float32.

    With ``scale_vectors`` (default) the vectors are expressed in pixels of the new grid:
    dx is multiplied by w / W and dy by h / H, so a 10 px displacement at 200x200 becomes
    1 px at 20x20, and the flow still says where each coarse cell's content goes on the
    coarse grid. ``scale_vectors=False`` keeps input-pixel units (the staticflow paper's
    "flow at pixels spaced 10 units apart in the ground truth").
    """
    if flow.ndim != 3 or flow.shape[2] != 2:
        raise ValueError(f"resize_flow: expected (H, W, 2) flow, got {flow.shape}")
    height, width = size
    # INTER_AREA averages for shrinking; for enlarging OpenCV falls back to bilinear.
    out = cv2.resize(flow.astype(np.float32), (width, height), interpolation=cv2.INTER_AREA)
    if scale_vectors:
        out[..., 0] *= width / flow.shape[1]
        out[..., 1] *= height / flow.shape[0]
    return out


def endpoint_error(flow: np.ndarray, truth: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Mean end-point error (px): Euclidean distance between estimated and true vectors."""
    err = np.linalg.norm(flow - truth, axis=-1)
    return float(err[mask].mean() if mask is not None else err.mean())


def staticflow_shard(src: Path, dst: Path, grid: int, method: str = "deepflow", dis_preset: str = "medium") -> tuple[int, int]:
    """The staticflow targets of a clip shard: each clip's first frame, its averaged flow at the
    clip's resolution (float16) and that flow resized to the ``grid`` x ``grid`` label field."""
    def one(item: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        frames = item["frames"]  # (4, H, W, 3)
        flow = staticflow_target(frames, method, dis_preset)  # (H, W, 2)
        return {"image": frames[0], "flow": flow.astype(np.float16), "flow_grid": resize_flow(flow, (grid, grid))}

    attrs = {"flow": {"method": method, "dis_preset": dis_preset, "grid": grid, "target": "mean of flow 0->1, 0->2, 0->3",
                      "still_test": {"patch": STILL_PATCH, "noise": STILL_NOISE, "margin": STILL_MARGIN}}}
    return map_shard(src, dst, one, attrs=attrs, desc=f"flow {Path(dst).name}")

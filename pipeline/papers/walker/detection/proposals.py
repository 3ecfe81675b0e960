"""Region proposals by selective search (Uijlings et al.), as Fast R-CNN used them.

OpenCV contrib's implementation (``cv2.ximgproc.segmentation``) in its "fast" mode, the mode
R-CNN and Fast R-CNN ran (about 2,000 boxes per VOC image). Duplicates and boxes narrower
than ``min_size`` pixels are dropped and at most ``max_boxes`` kept (a fixed random subset).
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import numpy as np


def selective_search(image_bgr: np.ndarray, max_boxes: int, min_size: int, mode: str = "fast") -> np.ndarray:
    """(H, W, 3) uint8 BGR image -> (n, 4) float32 proposals (x1, y1, x2, y2), inclusive pixels."""
    if mode not in ("fast", "quality", "single"):
        raise ValueError(f"selective search mode {mode!r}: expected fast, quality or single")
    search = cv2.ximgproc.segmentation.createSelectiveSearchSegmentation()
    search.setBaseImage(image_bgr)
    {"fast": search.switchToSelectiveSearchFast, "quality": search.switchToSelectiveSearchQuality,
     "single": search.switchToSingleStrategy}[mode]()
    rects = np.asarray(search.process(), np.int64).reshape(-1, 4)  # (x, y, w, h)
    rects = rects[(rects[:, 2] >= min_size) & (rects[:, 3] >= min_size)]
    # OpenCV ranks regions with an unseeded random factor: the set is reproducible, its order is
    # not. Sorted, and thinned by a fixed draw when capped, the proposals are a function of the image.
    rects = np.unique(rects, axis=0)
    if len(rects) > max_boxes:
        rects = rects[np.sort(np.random.default_rng(0).choice(len(rects), max_boxes, replace=False))]
    boxes = np.stack([rects[:, 0], rects[:, 1], rects[:, 0] + rects[:, 2] - 1, rects[:, 1] + rects[:, 3] - 1], axis=1)
    return boxes.astype(np.float32).reshape(-1, 4)


def _propose(args: tuple[str, int, int, str]) -> np.ndarray:
    path, max_boxes, min_size, mode = args
    image = cv2.imread(path, cv2.IMREAD_COLOR)
    if image is None:
        raise ValueError(f"{path}: not a readable image")
    return selective_search(image, max_boxes, min_size, mode)


def propose_all(paths: Sequence[str | Path], max_boxes: int, min_size: int, mode: str = "fast",
                workers: int = 1) -> list[np.ndarray]:
    """Proposals of every image file, in order (``workers`` threads; the result does not depend on them)."""
    jobs = [(str(p), int(max_boxes), int(min_size), mode) for p in paths]
    if workers <= 1:
        return [_propose(job) for job in jobs]
    # Threads, not processes: OpenCV releases the GIL while it segments and groups, and a forked
    # child of a process holding OpenCV's and torch's thread pools can hang.
    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(_propose, jobs))

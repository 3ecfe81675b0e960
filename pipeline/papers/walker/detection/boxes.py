"""Box arithmetic of Fast R-CNN and the VOC devkit, on (x1, y1, x2, y2) inclusive pixel boxes.

Areas count pixels (``x2 - x1 + 1``), as the devkit and Fast R-CNN do, so IoU here is the IoU
the VOC evaluation uses. Box regression targets are Fast R-CNN's (dx, dy, log dw, log dh),
divided by the standard deviations Fast R-CNN normalises them with.
"""

from __future__ import annotations

import cv2
import numpy as np

TARGET_STDS = np.array([0.1, 0.1, 0.2, 0.2], np.float32)
"""Fast R-CNN's BBOX_NORMALIZE_STDS: regression targets are divided by these."""


def iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(n, 4), (m, 4) -> (n, m) intersection over union, pixel-inclusive areas."""
    a, b = np.asarray(a, np.float64).reshape(-1, 4), np.asarray(b, np.float64).reshape(-1, 4)
    iw = np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0]) + 1
    ih = np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1]) + 1
    inter = np.clip(iw, 0, None) * np.clip(ih, 0, None)
    area_a = (a[:, 2] - a[:, 0] + 1) * (a[:, 3] - a[:, 1] + 1)
    area_b = (b[:, 2] - b[:, 0] + 1) * (b[:, 3] - b[:, 1] + 1)
    return inter / (area_a[:, None] + area_b[None, :] - inter)


def _centres(boxes: np.ndarray) -> tuple[np.ndarray, ...]:
    w = boxes[:, 2] - boxes[:, 0] + 1.0
    h = boxes[:, 3] - boxes[:, 1] + 1.0
    return boxes[:, 0] + 0.5 * w, boxes[:, 1] + 0.5 * h, w, h


def encode(rois: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """Regression targets (n, 4) taking each RoI to its ground-truth box, normalised by TARGET_STDS."""
    rx, ry, rw, rh = _centres(np.asarray(rois, np.float64))
    gx, gy, gw, gh = _centres(np.asarray(gt, np.float64))
    deltas = np.stack([(gx - rx) / rw, (gy - ry) / rh, np.log(gw / rw), np.log(gh / rh)], axis=1)
    return (deltas / TARGET_STDS).astype(np.float32)


def decode(rois: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Inverse of :func:`encode`: (n, 4) RoIs and normalised deltas -> boxes (n, 4)."""
    rx, ry, rw, rh = _centres(np.asarray(rois, np.float64))
    d = np.asarray(targets, np.float64) * TARGET_STDS
    cx, cy = rx + d[:, 0] * rw, ry + d[:, 1] * rh
    w, h = rw * np.exp(np.minimum(d[:, 2], 10.0)), rh * np.exp(np.minimum(d[:, 3], 10.0))
    return np.stack([cx - 0.5 * w, cy - 0.5 * h, cx + 0.5 * w - 1.0, cy + 0.5 * h - 1.0], axis=1)


def clip(boxes: np.ndarray, width: int, height: int) -> np.ndarray:
    """Boxes clipped to the image."""
    out = np.array(boxes, np.float64, copy=True)
    out[:, 0::2] = np.clip(out[:, 0::2], 0, width - 1)
    out[:, 1::2] = np.clip(out[:, 1::2], 0, height - 1)
    return out


def nms(boxes: np.ndarray, scores: np.ndarray, threshold: float) -> np.ndarray:
    """Indices kept by greedy non-maximum suppression (OpenCV's), highest score first."""
    if len(boxes) == 0:
        return np.zeros(0, np.int64)
    rects = [(float(x1), float(y1), float(x2 - x1 + 1), float(y2 - y1 + 1)) for x1, y1, x2, y2 in boxes]
    keep = cv2.dnn.NMSBoxes(rects, [float(s) for s in scores], 0.0, float(threshold))  # drops score 0
    return np.asarray(keep, np.int64).reshape(-1)


def flip(boxes: np.ndarray, width: int) -> np.ndarray:
    """Boxes of the horizontally mirrored image."""
    out = np.array(boxes, copy=True)
    out[:, 0], out[:, 2] = width - 1 - boxes[:, 2], width - 1 - boxes[:, 0]
    return out

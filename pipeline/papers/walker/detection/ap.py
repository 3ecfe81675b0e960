"""VOC average precision, as the VOC 2012 devkit computes it (VOCevaldet.m, VOCap.m).

Matching, per class: detections in decreasing score; each takes the ground-truth box of its
image it overlaps most (IoU with pixel-inclusive areas); at IoU >= 0.5 it is ignored if that
box is difficult, a true positive if the box is not yet taken, else a false positive (so is
anything under 0.5). Difficult boxes never count as positives. AP is the area under the
precision-recall curve after precision is made monotone (each point takes the best precision
at any higher recall): the VOC 2010-2012 measure, not VOC 2007's 11-point one.

Whether a detection is a true or false positive depends only on its own image's detections,
so :func:`match` runs once and a bootstrap over images only reweights (``image_weight``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from pipeline.papers.walker.detection.boxes import iou

TRUE, FALSE, IGNORED = 1, 0, -1


@dataclass
class Detections:
    """Flat detections of a split: image index, class index, score, box (x1, y1, x2, y2)."""

    image: np.ndarray  # (D,) int64
    label: np.ndarray  # (D,) int64
    score: np.ndarray  # (D,) float
    box: np.ndarray  # (D, 4) float

    def __len__(self) -> int:
        return len(self.image)


def match(det: Detections, gt_boxes: Sequence[np.ndarray], gt_labels: Sequence[np.ndarray],
          gt_difficult: Sequence[np.ndarray], n_classes: int, threshold: float = 0.5
          ) -> tuple[np.ndarray, np.ndarray]:
    """-> status (D,) of each detection (TRUE, FALSE, IGNORED) and positives (N_images, K) per image and class."""
    positives = np.zeros((len(gt_boxes), n_classes), np.int64)
    for i, (labels, difficult) in enumerate(zip(gt_labels, gt_difficult, strict=True)):
        np.add.at(positives[i], labels[~difficult], 1)
    status = np.full(len(det), FALSE, np.int64)
    order = np.argsort(-det.score, kind="stable")
    taken = [np.zeros(len(b), bool) for b in gt_boxes]
    for d in order:
        i, c = int(det.image[d]), int(det.label[d])
        same = np.flatnonzero(gt_labels[i] == c)
        if len(same) == 0:
            continue
        overlaps = iou(det.box[d : d + 1], gt_boxes[i][same])[0]
        j = int(np.argmax(overlaps))
        if overlaps[j] < threshold:
            continue
        g = same[j]
        if gt_difficult[i][g]:
            status[d] = IGNORED
        elif not taken[i][g]:
            status[d], taken[i][g] = TRUE, True
    return status, positives


def voc_ap(recall: np.ndarray, precision: np.ndarray) -> float:
    """Area under the monotone (interpolated) precision-recall curve (VOCap.m)."""
    mrec = np.concatenate([[0.0], recall, [1.0]])
    mpre = np.concatenate([[0.0], precision, [0.0]])
    mpre = np.maximum.accumulate(mpre[::-1])[::-1]
    steps = np.flatnonzero(mrec[1:] != mrec[:-1])
    return float(np.sum((mrec[steps + 1] - mrec[steps]) * mpre[steps + 1]))


def class_ap(score: np.ndarray, status: np.ndarray, n_positive: float, weight: np.ndarray | None = None) -> float:
    """AP of one class's detections (``weight``: how many times each counts, for the bootstrap); NaN if no positives."""
    if n_positive <= 0:
        return float("nan")
    kept = status != IGNORED
    score, status = score[kept], status[kept]
    w = np.ones(len(score)) if weight is None else np.asarray(weight, float)[kept]
    order = np.argsort(-score, kind="stable")
    tp = np.cumsum(w[order] * (status[order] == TRUE))
    fp = np.cumsum(w[order] * (status[order] == FALSE))
    present = w[order] > 0
    tp, fp = tp[present], fp[present]
    if len(tp) == 0:
        return 0.0
    return voc_ap(tp / n_positive, tp / np.maximum(tp + fp, np.finfo(float).eps))


def per_class_ap(det: Detections, status: np.ndarray, positives: np.ndarray,
                 image_weight: np.ndarray | None = None) -> np.ndarray:
    """(K,) AP of every class; ``image_weight`` (N_images,) counts each image that many times."""
    n_classes = positives.shape[1]
    w_img = np.ones(positives.shape[0]) if image_weight is None else np.asarray(image_weight, float)
    n_pos = w_img @ positives  # (K,)
    out = np.empty(n_classes)
    for c in range(n_classes):
        sel = det.label == c
        out[c] = class_ap(det.score[sel], status[sel], n_pos[c], w_img[det.image[sel]])
    return out


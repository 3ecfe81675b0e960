"""Prepared VOC splits (images, ground truth, selective-search proposals) and Fast R-CNN minibatches.

:func:`prepare_split` reads one split in the VOC layout, runs selective search on every image
and saves everything later jobs need in one ``.npz`` (ragged arrays as concatenations plus
offsets; no pickles). Images stay where they are (JPEGImages/) and are read per batch.

Minibatches follow Fast R-CNN: ``images_per_batch`` images (an epoch is a seeded shuffle),
each mirrored with probability 1/2 and rescaled so its shorter side is ``min_side`` (longer
side at most ``max_side``); per image ``rois_per_image`` RoIs from its proposals plus its
ground-truth boxes, a quarter foreground (IoU >= 0.5 with a ground-truth box, labelled with its
class) and the rest background (IoU in [0.1, 0.5), label 0; [0, 0.5) when there are none).
Difficult objects are left out of training, as Fast R-CNN does by default. Every batch is a
function of (seed, step), so a resumed job sees the batches an uninterrupted one would.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch

from pipeline.atomic import publishing
from pipeline.papers.walker.detection.boxes import encode, flip, iou
from pipeline.papers.walker.detection.proposals import propose_all
from pipeline.papers.walker.detection.voc import read_split, voc_classes

log = logging.getLogger(__name__)

FG_THRESHOLD = 0.5
BG_RANGE = (0.1, 0.5)


def _ragged(parts: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    offsets = np.cumsum([0] + [len(p) for p in parts]).astype(np.int64)
    return (np.concatenate(parts) if parts else np.zeros((0,))), offsets


@dataclass
class DetectionSet:
    """One prepared split: per image its file, size, ground truth and proposals."""

    root: str  # the VOC folder
    split: str
    classes: tuple[str, ...]
    image_ids: np.ndarray  # (N,) str
    sizes: np.ndarray  # (N, 2) int (width, height)
    gt_boxes: list[np.ndarray]  # per image (n, 4) float32, 0-based inclusive pixels
    gt_labels: list[np.ndarray]  # per image (n,) int64 class index
    gt_difficult: list[np.ndarray]  # per image (n,) bool
    proposals: list[np.ndarray]  # per image (p, 4) float32
    channel_mean: np.ndarray  # (3,) float32 RGB mean pixel of the split's images

    def __len__(self) -> int:
        return len(self.image_ids)

    def path(self, i: int) -> Path:
        return Path(self.root) / "JPEGImages" / f"{self.image_ids[i]}.jpg"

    def image(self, i: int) -> np.ndarray:
        """(H, W, 3) uint8 RGB."""
        bgr = cv2.imread(str(self.path(i)), cv2.IMREAD_COLOR)
        if bgr is None:
            raise ValueError(f"{self.path(i)}: not a readable image")
        return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)

    def save(self, path: str | Path) -> Path:
        arrays: dict[str, Any] = {
            "root": np.array(self.root), "split": np.array(self.split), "classes": np.array(self.classes),
            "image_ids": np.asarray(self.image_ids, str), "sizes": self.sizes, "channel_mean": self.channel_mean,
        }
        for name in ("gt_boxes", "gt_labels", "gt_difficult", "proposals"):
            values, offsets = _ragged(getattr(self, name))
            arrays[name], arrays[f"{name}_offsets"] = values, offsets
        with publishing(path) as tmp, open(tmp, "wb") as handle:
            np.savez_compressed(handle, **arrays)
        return Path(path)

    @classmethod
    def load(cls, path: str | Path) -> DetectionSet:
        with np.load(path, allow_pickle=False) as data:
            def split(name: str, shape: tuple[int, ...], dtype: Any) -> list[np.ndarray]:
                values, offsets = data[name], data[f"{name}_offsets"]
                return [values[a:b].reshape((-1, *shape)).astype(dtype) for a, b in zip(offsets[:-1], offsets[1:])]

            return cls(str(data["root"]), str(data["split"]), tuple(str(c) for c in data["classes"]),
                       data["image_ids"], data["sizes"], split("gt_boxes", (4,), np.float32),
                       split("gt_labels", (), np.int64), split("gt_difficult", (), bool),
                       split("proposals", (4,), np.float32), data["channel_mean"].astype(np.float32))


def prepare_split(root: str | Path, split: str, sizes: Mapping[str, Any], out: str | Path,
                  workers: int = 1) -> DetectionSet:
    """Read ``split`` of the VOC copy at ``root``, propose regions, save to ``out``."""
    classes = voc_classes(root)
    images = read_split(root, split, classes)
    if not images:
        raise ValueError(f"{root}: the {split} split lists no images")
    p = sizes["proposals"]
    proposals = propose_all([im.path for im in images], int(p["max_boxes"]), int(p["min_size"]), str(p["mode"]),
                            workers)
    total = np.zeros(3)
    for im in images:
        rgb = cv2.cvtColor(cv2.imread(str(im.path), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
        total += rgb.reshape(-1, 3).mean(axis=0)
    folder = images[0].path.parent.parent
    data = DetectionSet(str(folder), split, classes, np.array([im.image_id for im in images]),
                        np.array([(im.width, im.height) for im in images], np.int64),
                        [im.boxes for im in images], [im.labels for im in images], [im.difficult for im in images],
                        proposals, (total / len(images)).astype(np.float32))
    recall = proposal_recall(data)
    log.info("%s %s: %d images, %d objects, %.0f proposals per image, recall at IoU 0.5: %.3f",
             root, split, len(images), sum(len(b) for b in data.gt_boxes), np.mean([len(q) for q in proposals]), recall)
    data.save(out)
    return data


def proposal_recall(data: DetectionSet, threshold: float = FG_THRESHOLD) -> float:
    """Fraction of non-difficult objects some proposal covers with IoU >= threshold."""
    hit = total = 0
    for gt, diff, props in zip(data.gt_boxes, data.gt_difficult, data.proposals, strict=True):
        gt = gt[~diff]
        total += len(gt)
        if len(gt) and len(props):
            hit += int((iou(gt, props).max(axis=1) >= threshold).sum())
    return hit / max(total, 1)


def image_scale(width: int, height: int, min_side: int, max_side: int) -> float:
    """Fast R-CNN's rescaling: shorter side to ``min_side`` unless the longer then exceeds ``max_side``."""
    scale = min_side / min(width, height)
    return min(scale, max_side / max(width, height))


def to_input(image: np.ndarray, scale: float, mean: np.ndarray) -> np.ndarray:
    """RGB uint8 (H, W, 3) -> (3, h, w) float32: rescaled, mean pixel subtracted, /255 (walker's range)."""
    h, w = image.shape[:2]
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    resized = cv2.resize(image, size, interpolation=cv2.INTER_LINEAR if scale > 1 else cv2.INTER_AREA)
    return ((resized.astype(np.float32) - mean) / 255.0).transpose(2, 0, 1)


def stack_images(images: list[np.ndarray]) -> torch.Tensor:
    """(3, h_i, w_i) arrays -> (B, 3, H, W), zero-padded bottom/right (zero = the mean pixel)."""
    height, width = max(i.shape[1] for i in images), max(i.shape[2] for i in images)
    out = np.zeros((len(images), 3, height, width), np.float32)
    for k, image in enumerate(images):
        out[k, :, : image.shape[1], : image.shape[2]] = image
    return torch.from_numpy(out)


def sample_rois(proposals: np.ndarray, gt_boxes: np.ndarray, gt_labels: np.ndarray, n: int, fg_fraction: float,
                rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Fast R-CNN's RoI sampling for one image -> rois (r, 4), labels (r,) (0 = background), targets (r, 4)."""
    boxes = np.concatenate([proposals, gt_boxes]).astype(np.float32)  # ground truth joins the candidates
    if len(gt_boxes):
        overlaps = iou(boxes, gt_boxes)
        best, match = overlaps.max(axis=1), overlaps.argmax(axis=1)
    else:
        best, match = np.zeros(len(boxes)), np.zeros(len(boxes), np.int64)
    fg = np.flatnonzero(best >= FG_THRESHOLD)
    bg = np.flatnonzero((best >= BG_RANGE[0]) & (best < BG_RANGE[1]))
    if len(bg) == 0:
        bg = np.flatnonzero(best < BG_RANGE[1])
    n_fg = min(int(round(fg_fraction * n)), len(fg))
    fg = rng.choice(fg, n_fg, replace=False) if n_fg else fg[:0]
    n_bg = min(n - n_fg, len(bg))
    bg = rng.choice(bg, n_bg, replace=False) if n_bg else bg[:0]
    keep = np.concatenate([fg, bg]).astype(np.int64)
    labels = np.zeros(len(keep), np.int64)
    labels[: len(fg)] = gt_labels[match[fg]] + 1
    targets = np.zeros((len(keep), 4), np.float32)
    if len(fg):
        targets[: len(fg)] = encode(boxes[fg], gt_boxes[match[fg]])
    return boxes[keep], labels, targets


class Minibatches:
    """The Fast R-CNN minibatch of every training step, as a function of (seed, step)."""

    def __init__(self, data: DetectionSet, sizes: Mapping[str, Any], seed: int) -> None:
        t = sizes["train"]
        self.data, self.seed = data, int(seed)
        self.images_per_batch = min(int(t["images_per_batch"]), len(data))
        self.rois_per_image, self.fg_fraction = int(t["rois_per_image"]), float(t["fg_fraction"])
        self.min_side, self.max_side = int(sizes["image"]["min_side"]), int(sizes["image"]["max_side"])
        self.per_epoch = max(1, len(data) // self.images_per_batch)

    def images_of(self, step: int) -> np.ndarray:
        epoch, k = divmod(step, self.per_epoch)
        order = np.random.default_rng([self.seed, epoch]).permutation(len(self.data))
        return order[k * self.images_per_batch : (k + 1) * self.images_per_batch]

    def batch(self, step: int, indices: np.ndarray | None = None) -> dict[str, torch.Tensor]:
        """The minibatch of ``step``, or of the given images (its own random stream: the calibration batch)."""
        rng = np.random.default_rng([self.seed, step, 1 if indices is None else 2])
        images, rois, labels, targets = [], [], [], []
        for b, i in enumerate(self.images_of(step) if indices is None else indices):
            width, height = (int(v) for v in self.data.sizes[i])
            keep = ~self.data.gt_difficult[i]
            gt, gt_labels, props = self.data.gt_boxes[i][keep], self.data.gt_labels[i][keep], self.data.proposals[i]
            image = self.data.image(i)
            if rng.random() < 0.5:
                image, gt, props = image[:, ::-1], flip(gt, width), flip(props, width)
            scale = image_scale(width, height, self.min_side, self.max_side)
            images.append(to_input(np.ascontiguousarray(image), scale, self.data.channel_mean))
            r, lab, tgt = sample_rois(props, gt, gt_labels, self.rois_per_image, self.fg_fraction, rng)
            rois.append(np.concatenate([np.full((len(r), 1), b, np.float32), r * scale], axis=1))
            labels.append(lab)
            targets.append(tgt)
        return {"images": stack_images(images), "rois": torch.from_numpy(np.concatenate(rois)),
                "labels": torch.from_numpy(np.concatenate(labels)), "targets": torch.from_numpy(np.concatenate(targets))}

    def from_step(self, start: int) -> Iterator[dict[str, torch.Tensor]]:
        step = start
        while True:
            yield self.batch(step)
            step += 1

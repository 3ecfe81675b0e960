"""Detections on VOC val, the trivial detectors, and Table 2 (``voc2012_detection.csv``).

Test time is Fast R-CNN's: every proposal of an image scored at once, boxes regressed per
class, per-class NMS at IoU 0.3, at most ``max_per_image`` detections per image (the highest).
The trivial detectors look at no pixel, only at training statistics, and are scored by the
same AP code: "whole image, class prior" (one whole-image box per class, scored by the class's
share of training objects) and "proposals, class x box prior" (every selective-search
proposal, each class, scored by that class's share times the fraction of training proposals
of the same shape, i.e. relative size and aspect, that cover an object at IoU >= 0.5).

Every mAP has a 95% bootstrap interval over val images (images resampled with replacement,
all models on the same resamples); the two initialisations are compared by their mean over
seeds, with the paired bootstrap interval of the difference and the spread over seeds.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from pipeline.atomic import publishing
from pipeline.papers.walker.detection.ap import Detections, match, per_class_ap
from pipeline.papers.walker.detection.boxes import clip, decode, iou, nms
from pipeline.papers.walker.detection.data import FG_THRESHOLD, DetectionSet, image_scale, stack_images, to_input
from pipeline.papers.walker.detection.detector import FastRCNN, build_detector
from pipeline.papers.walker.spec import REFERENCE
from pipeline.saved_models import load_model, model_provenance
from pipeline.tables import provenance, write_table

log = logging.getLogger(__name__)

TABLE = "voc2012_detection"
ROWS = {"cvae": "ours+cal", "scratch": "scratch+cal"}
"""Initialisation -> row of Table 2 (``spec.REFERENCE``)."""
NMS_THRESHOLD = 0.3  # Fast R-CNN's test NMS
SHAPE_BINS = 8  # per axis of the box prior: log relative area x log aspect


def _keep_best(parts: list[tuple[int, np.ndarray, np.ndarray]], image: int, max_per_image: int) -> Detections:
    """Per-class (class, scores, boxes) after NMS -> this image's top ``max_per_image`` detections."""
    labels = np.concatenate([np.full(len(s), c) for c, s, _ in parts]) if parts else np.zeros(0, np.int64)
    scores = np.concatenate([s for _, s, _ in parts]) if parts else np.zeros(0)
    boxes = np.concatenate([b for _, _, b in parts]).reshape(-1, 4) if parts else np.zeros((0, 4))
    top = np.argsort(-scores, kind="stable")[:max_per_image]
    return Detections(np.full(len(top), image, np.int64), labels[top].astype(np.int64), scores[top], boxes[top])


def concat(parts: Sequence[Detections]) -> Detections:
    return Detections(*(np.concatenate([getattr(p, k) for p in parts]) if parts else np.zeros(0)
                        for k in ("image", "label", "score", "box")))


def suppress(image: int, scores: np.ndarray, boxes: np.ndarray, max_per_image: int) -> Detections:
    """Scores (P, K) and boxes (P, K, 4) of one image -> its detections after per-class NMS."""
    parts = []
    for c in range(scores.shape[1]):
        keep = nms(boxes[:, c], scores[:, c], NMS_THRESHOLD)
        parts.append((c, scores[keep, c], boxes[keep, c]))
    return _keep_best(parts, image, max_per_image)


@torch.no_grad()
def detect(model: FastRCNN, data: DetectionSet, sizes: Mapping[str, Any]) -> Detections:
    """Detections of ``model`` on every image of ``data``."""
    model.eval()
    min_side, max_side = int(sizes["image"]["min_side"]), int(sizes["image"]["max_side"])
    chunk, max_per_image = int(sizes["test"]["roi_chunk"]), int(sizes["test"]["max_per_image"])
    mean = np.asarray(model.cfg.channel_mean, np.float32)
    out = []
    for i in range(len(data)):
        width, height = (int(v) for v in data.sizes[i])
        scale = image_scale(width, height, min_side, max_side)
        images = stack_images([to_input(data.image(i), scale, mean)]).to(model.device)
        props = data.proposals[i]
        feats = model.backbone(images)
        probs, deltas = [], []
        for start in range(0, len(props), chunk):
            p = props[start : start + chunk]
            rois = torch.from_numpy(np.concatenate([np.zeros((len(p), 1), np.float32), p * scale], axis=1))
            logits, d = model.head(feats, rois.to(model.device))
            probs.append(torch.softmax(logits, 1).cpu().numpy())
            deltas.append(d.cpu().numpy())
        probs = np.concatenate(probs)[:, 1:]  # (P, K) without background
        deltas = np.concatenate(deltas)[:, 1:]  # (P, K, 4)
        boxes = np.stack([clip(decode(props, deltas[:, c]), width, height) for c in range(deltas.shape[1])], axis=1)
        out.append(suppress(i, probs, boxes, max_per_image))
    return concat(out)


def save_detections(det: Detections, path: str | Path, **attrs: Any) -> Path:
    with publishing(path) as tmp, open(tmp, "wb") as handle:
        np.savez_compressed(handle, image=det.image, label=det.label, score=det.score, box=det.box,
                            **{k: np.array(v) for k, v in attrs.items()})
    return Path(path)


def load_detections(path: str | Path) -> Detections:
    with np.load(path, allow_pickle=False) as data:
        return Detections(data["image"], data["label"], data["score"], data["box"].reshape(-1, 4))


def evaluate_model(model_path: Path, val: Path, sizes: Mapping[str, Any], out: Path) -> Path:
    """Detections of one trained detector on the prepared val split, saved to ``out``."""
    data = DetectionSet.load(val)
    model = load_model(model_path, build_detector)
    det = detect(model, data, sizes)
    status, positives = match(det, data.gt_boxes, data.gt_labels, data.gt_difficult, len(data.classes))
    ap = per_class_ap(det, status, positives)
    log.info("%s: %d detections on %d images, mAP %.2f (%s)", model_path, len(det), len(data), 100 * np.nanmean(ap),
             " ".join(f"{c} {100 * a:.1f}" for c, a in zip(data.classes, ap, strict=True)))
    return save_detections(det, out, model=str(model_path))


# ---------------------------------------------------------------------------- trivial detectors


def class_prior(train: DetectionSet) -> np.ndarray:
    """(K,) share of each class among the non-difficult training objects."""
    counts = np.zeros(len(train.classes))
    for labels, difficult in zip(train.gt_labels, train.gt_difficult, strict=True):
        np.add.at(counts, labels[~difficult], 1)
    return counts / max(counts.sum(), 1)


def _shape_bin(boxes: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """Bin of each box's log relative area and log aspect ((n,) ints in [0, SHAPE_BINS^2))."""
    w = boxes[:, 2] - boxes[:, 0] + 1
    h = boxes[:, 3] - boxes[:, 1] + 1
    area = np.log(np.clip(w * h / (sizes[:, 0] * sizes[:, 1]), 1e-4, 1.0))  # [log 1e-4, 0]
    aspect = np.log(np.clip(w / h, 1 / 8, 8))  # [-log 8, log 8]
    a = np.clip(((area - np.log(1e-4)) / -np.log(1e-4) * SHAPE_BINS).astype(int), 0, SHAPE_BINS - 1)
    r = np.clip(((aspect + np.log(8)) / (2 * np.log(8)) * SHAPE_BINS).astype(int), 0, SHAPE_BINS - 1)
    return a * SHAPE_BINS + r


def box_prior(train: DetectionSet) -> np.ndarray:
    """(SHAPE_BINS^2,) fraction of training proposals of each shape that cover an object (IoU >= 0.5)."""
    hits, totals = np.zeros(SHAPE_BINS**2), np.zeros(SHAPE_BINS**2)
    for i, props in enumerate(train.proposals):
        if not len(props):
            continue
        gt = train.gt_boxes[i][~train.gt_difficult[i]]
        covered = iou(props, gt).max(axis=1) >= FG_THRESHOLD if len(gt) else np.zeros(len(props), bool)
        bins = _shape_bin(props, np.repeat(train.sizes[i : i + 1], len(props), axis=0))
        np.add.at(totals, bins, 1)
        np.add.at(hits, bins, covered)
    return (hits + 1e-3) / (totals + 1.0)  # a bin never seen scores (almost) nothing


def trivial_detections(kind: str, train: DetectionSet, val: DetectionSet, max_per_image: int) -> Detections:
    """The image-blind detectors: ``whole_image`` or ``proposals`` (see the module docstring)."""
    prior = class_prior(train)
    out = []
    if kind == "whole_image":
        for i, (w, h) in enumerate(val.sizes):
            box = np.array([[0, 0, w - 1, h - 1]], float)
            out.append(Detections(np.full(len(prior), i), np.arange(len(prior)), prior.copy(),
                                  np.repeat(box, len(prior), axis=0)))
        return concat(out)
    if kind != "proposals":
        raise ValueError(f"trivial detector {kind!r}: expected whole_image or proposals")
    shape = box_prior(train)
    for i, props in enumerate(val.proposals):
        p_box = shape[_shape_bin(props, np.repeat(val.sizes[i : i + 1], len(props), axis=0))]  # (P,)
        scores = p_box[:, None] * prior[None, :]  # (P, K)
        out.append(suppress(i, scores, np.repeat(props[:, None], len(prior), axis=1), max_per_image))
    return concat(out)


# ---------------------------------------------------------------------------- the table


def _interval(samples: np.ndarray) -> tuple[float, float]:
    return float(np.nanpercentile(samples, 2.5)), float(np.nanpercentile(samples, 97.5))


def detection_table(detections: Mapping[str, Sequence[Path]], train_path: Path, val_path: Path,
                    sizes: Mapping[str, Any], seed: int) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Rows of Table 2: both initialisations over seeds, their difference, the trivial detectors."""
    train, val = DetectionSet.load(train_path), DetectionSet.load(val_path)
    n_boot, max_per_image = int(sizes["test"]["bootstrap"]), int(sizes["test"]["max_per_image"])
    k = len(val.classes)
    resamples = np.random.default_rng([seed, 3]).integers(0, len(val), (n_boot, len(val)))
    counts = np.stack([np.bincount(r, minlength=len(val)) for r in resamples])  # (n_boot, N)

    def scored(det: Detections) -> tuple[np.ndarray, np.ndarray]:
        status, positives = match(det, val.gt_boxes, val.gt_labels, val.gt_difficult, k)
        full = per_class_ap(det, status, positives)
        boot = np.stack([per_class_ap(det, status, positives, c) for c in counts])
        return 100 * full, 100 * boot  # (K,), (n_boot, K) in percent

    rows: list[dict[str, Any]] = []
    summary: dict[str, Any] = {}

    def add(row: str, ap: np.ndarray, boot_map: np.ndarray, **extra: Any) -> None:
        low, high = _interval(boot_map)
        rows.append({"row": row, "column": "mAP", "ours": float(np.nanmean(ap)), "ci95_low": low, "ci95_high": high,
                     **extra})
        for c, name in enumerate(val.classes):
            rows.append({"row": row, "column": f"AP {name}", "ours": float(ap[c]), **extra})

    means = {}
    for init, paths in detections.items():
        per_seed = [scored(load_detections(p)) for p in paths]
        ap = np.mean([a for a, _ in per_seed], axis=0)
        boot_map = np.mean([np.nanmean(b, axis=1) for _, b in per_seed], axis=0)  # mean over seeds, per resample
        seed_maps = [float(np.nanmean(a)) for a, _ in per_seed]
        means[init] = (float(np.nanmean(ap)), boot_map, seed_maps)
        add(ROWS[init], ap, boot_map, seeds=" ".join(f"{m:.2f}" for m in seed_maps),
            seed_sd=float(np.std(seed_maps, ddof=1)) if len(seed_maps) > 1 else None, n_seeds=len(seed_maps))
        summary[init] = {"mAP_mean": means[init][0], "mAP_per_seed": seed_maps}
    if {"cvae", "scratch"} <= set(means):
        (m_c, b_c, s_c), (m_s, b_s, s_s) = means["cvae"], means["scratch"]
        low, high = _interval(b_c - b_s)
        spread = max(max(s_c) - min(s_c), max(s_s) - min(s_s))
        rows.append({"row": "ours+cal - scratch+cal", "column": "mAP", "ours": m_c - m_s, "ci95_low": low,
                     "ci95_high": high, "seed_range": spread})
        summary["difference"] = {"mAP": m_c - m_s, "ci95": [low, high], "largest_seed_range": spread,
                                 "beats_scratch_beyond_seed_spread": bool(m_c - m_s > spread)}
    for kind, row in (("whole_image", "trivial: whole image, class prior"),
                      ("proposals", "trivial: proposals, class x box prior")):
        ap, boot = scored(trivial_detections(kind, train, val, max_per_image))
        add(row, ap, np.nanmean(boot, axis=1))
        summary[kind] = float(np.nanmean(ap))
    for row in rows:
        row["n_images"] = len(val)
    return rows, summary


def write_detection_table(detections: Mapping[str, Sequence[Path]], models: Mapping[str, Sequence[Path]],
                          train_path: Path, val_path: Path, sizes: Mapping[str, Any], config: Mapping[str, Any],
                          sources: Sequence[Path], out: Path) -> pd.DataFrame:
    """Table 2 with its provenance sidecar."""
    rows, summary = detection_table(detections, train_path, val_path, sizes, int(config.get("seed", 0)))
    val = DetectionSet.load(val_path)
    records = [model_provenance(p) for paths in models.values() for p in paths]
    record = provenance(
        config, sources, models=records, summary=summary,
        evaluated_on=f"VOC-layout '{val.split}' split of {val.root} ({len(val)} images): VOC 2012 test labels are "
                     "not public, so Table 2's protocol is run on val; the paper's numbers are on test",
        units="AP and mAP in percent, VOC 2010-2012 AP (area under the interpolated PR curve), IoU 0.5, "
              "difficult objects ignored; ci95 = 2.5/97.5 percentiles of the bootstrap over val images; "
              "model rows are means over seeds (per-seed mAPs in `seeds`)",
        classes=list(val.classes))
    return write_table(out, TABLE, rows, record, REFERENCE[TABLE])

"""Metrics of the static-frame flow predictors (staticflow Tables 3 and 4, Figs. 9 and 11).

Classification metrics on the codebook labels: recall and precision averaged over the classes
(macro average over the classes present in the labels or the predictions), top-1/5/10
accuracy over all grid positions, the confusion matrix and the per-position top-1 accuracy.
Flow metrics on the decoded flow (softmax-weighted sum of centroids) against the true coarse
flow, for predicted vectors u_i and true vectors v_i:

    L2  = mean ||u_i - v_i||                 (lower is better)
    Dir = mean u_i.v_i / (||u_i|| ||v_i||)   (direction)
    Ori = mean |u_i.v_i| / (||u_i|| ||v_i||) (orientation: left/right ambiguity forgiven)

A position where either vector has zero length has no direction; it counts as cosine 0.
About three quarters of all positions do not move, so every number here is read against
the constant predictors below ("no motion" everywhere, or the training class frequencies).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from sklearn.metrics import (
    confusion_matrix,
    precision_recall_fscore_support,
    top_k_accuracy_score,
)

from pipeline.papers.staticflow.codebook import decode_softmax, no_motion_class

TOP_K: tuple[int, ...] = (1, 5, 10)


@dataclass
class StaticFlowScores:
    recall: float  # mean per-class recall
    precision: float  # mean per-class precision
    top_k: dict[int, float]  # k -> fraction of positions whose true class is in the k best
    l2: float
    dir: float
    ori: float
    confusion: np.ndarray = field(repr=False)  # (K, K) counts, rows = true class
    pixel_top1: np.ndarray = field(repr=False)  # (S, S) top-1 accuracy of each grid position

    def row(self) -> dict[str, float]:
        """The scalar columns of Tables 3 and 4 (fractions, not percent)."""
        out = {"recall": self.recall, "precision": self.precision}
        out.update({f"top{k}": v for k, v in self.top_k.items()})
        out.update({"l2": self.l2, "dir": self.dir, "ori": self.ori})
        return out


def flow_metrics(pred: np.ndarray, true: np.ndarray, eps: float = 1e-8) -> dict[str, float]:
    """L2, Dir, Ori of predicted flow (..., 2) against true flow (..., 2)."""
    u = np.asarray(pred, np.float64).reshape(-1, 2)
    v = np.asarray(true, np.float64).reshape(-1, 2)
    if u.shape != v.shape:
        raise ValueError(f"predicted flow {np.shape(pred)} and true flow {np.shape(true)} differ")
    norms = np.linalg.norm(u, axis=1) * np.linalg.norm(v, axis=1)
    dots = np.einsum("nd,nd->n", u, v)
    cos = np.where(norms > eps, dots / np.maximum(norms, eps), 0.0)
    return {
        "l2": float(np.linalg.norm(u - v, axis=1).mean()),
        "dir": float(cos.mean()),
        "ori": float(np.abs(cos).mean()),
    }


def evaluate_staticflow(
    probs: np.ndarray,
    labels: np.ndarray,
    true_flow: np.ndarray,
    centroids: np.ndarray,
    ks: tuple[int, ...] = TOP_K,
    chunk: int = 256,
) -> StaticFlowScores:
    """Every staticflow metric for softmax outputs probs (N, K, S, S).

    labels (N, S, S) are the codebook classes of the true flow true_flow (N, S, S, 2) (the
    coarse flow, not its quantisation). Images are processed ``chunk`` at a time, so probs may
    be a memory-mapped or broadcast array.
    """
    n, k_classes, s, _ = probs.shape
    if labels.shape != (n, s, s) or true_flow.shape != (n, s, s, 2):
        raise ValueError(
            f"probs {probs.shape} need labels (N, S, S) and flow (N, S, S, 2); got {labels.shape}, "
            f"{true_flow.shape}"
        )
    if len(centroids) != k_classes:
        raise ValueError(f"softmax has {k_classes} classes but the codebook {len(centroids)}")
    all_classes = np.arange(k_classes)
    hits = {k: 0 for k in ks}
    preds = np.empty((n, s, s), np.int64)
    flow_sums = {"l2": 0.0, "dir": 0.0, "ori": 0.0}
    for start in range(0, n, chunk):
        p = np.asarray(probs[start : start + chunk], np.float32)  # (b, K, S, S)
        y = np.asarray(labels[start : start + chunk])  # (b, S, S)
        preds[start : start + len(p)] = p.argmax(axis=1)
        scores = p.transpose(0, 2, 3, 1).reshape(-1, k_classes)  # (b*S*S, K)
        for k in ks:
            hits[k] += top_k_accuracy_score(
                y.reshape(-1), scores, k=k, labels=all_classes, normalize=False
            )
        m = flow_metrics(decode_softmax(p, centroids), true_flow[start : start + chunk])
        for key in flow_sums:
            flow_sums[key] += m[key] * len(p)
    y_true, y_pred = np.asarray(labels).reshape(-1), preds.reshape(-1)
    precision, recall, _, _ = precision_recall_fscore_support(
        y_true, y_pred, average="macro", zero_division=0
    )
    return StaticFlowScores(
        recall=float(recall),
        precision=float(precision),
        top_k={k: hits[k] / y_true.size for k in ks},
        l2=flow_sums["l2"] / n,
        dir=flow_sums["dir"] / n,
        ori=flow_sums["ori"] / n,
        confusion=confusion_matrix(y_true, y_pred, labels=all_classes),
        pixel_top1=(preds == labels).mean(axis=0),
    )


def class_frequencies(labels: np.ndarray, n_classes: int) -> np.ndarray:
    """Fraction of training positions in each class: labels (N, S, S) -> (K,) summing to 1."""
    counts = np.bincount(np.asarray(labels).reshape(-1), minlength=n_classes)[:n_classes]
    return (counts / counts.sum()).astype(np.float32)


def no_motion_probs(centroids: np.ndarray) -> np.ndarray:
    """One-hot (K,) on the shortest centroid: "nothing moves" as a softmax."""
    probs = np.zeros(len(centroids), np.float32)
    probs[no_motion_class(centroids)] = 1.0
    return probs


def constant_prediction(class_probs: np.ndarray, n_images: int, size: int) -> np.ndarray:
    """The same softmax at every position of every image: (K,) -> read-only (N, K, S, S) view."""
    p = np.asarray(class_probs, np.float32)
    return np.broadcast_to(p[None, :, None, None], (n_images, len(p), size, size))


def sample_flow(
    probs: np.ndarray, centroids: np.ndarray, n: int, rng: np.random.Generator
) -> np.ndarray:
    """n flow fields drawn from the per-position softmax: (B, K, S, S) -> (n, B, S, S, 2).

    Positions are drawn independently, which is all a per-position softmax says; this is how
    walker samples the flow network as a baseline.
    """
    p = np.asarray(probs, np.float64)
    cdf = np.cumsum(p.transpose(0, 2, 3, 1), axis=-1)  # (B, S, S, K)
    cdf /= cdf[..., -1:]
    u = rng.random((n, *cdf.shape[:-1], 1))  # (n, B, S, S, 1)
    classes = np.minimum((u > cdf[None]).sum(axis=-1), len(centroids) - 1)  # (n, B, S, S)
    return np.asarray(centroids, np.float32)[classes]

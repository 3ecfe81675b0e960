"""Metrics of the static-frame flow predictors (staticflow Tables 3 and 4, Figs. 9 and 11).

Classification metrics on the codebook labels: recall and precision averaged over all K classes
of the codebook as the paper does (a class absent from the labels and never predicted has no
recall or precision and counts as 0, so the mean is always over K = 40), top-1/5/10
accuracy over all grid positions, the confusion matrix and the per-position top-1 accuracy.
Flow metrics on the decoded flow (softmax-weighted sum of centroids) against the true coarse
flow, for predicted vectors u_i and true vectors v_i:

    L2  = mean ||u_i - v_i||                 (lower is better)
    Dir = mean u_i.v_i / (||u_i|| ||v_i||)   (direction)
    Ori = mean |u_i.v_i| / (||u_i|| ||v_i||) (orientation: left/right ambiguity forgiven)

A position where either vector has zero length has no direction; it counts as cosine 0.
About three quarters of all positions do not move, so every number here is read against
the constant predictors below ("no motion" everywhere, the training class frequencies, or their
frequencies at each grid position: the mean training flow). Every per-position metric is also
kept per frame, so tables can put a bootstrap interval over test frames on it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from sklearn.metrics import (
    confusion_matrix,
    precision_recall_fscore_support,
    top_k_accuracy_score,
)

from pipeline.intervals import INTERVAL, mean_interval  # noqa: F401 (staticflow's public names)
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
    per_frame: dict[str, np.ndarray] = field(default_factory=dict, repr=False)  # column -> (N,) frame means

    def row(self) -> dict[str, float]:
        """The scalar columns of Tables 3 and 4 (fractions, not percent)."""
        out = {"recall": self.recall, "precision": self.precision}
        out.update({f"top{k}": v for k, v in self.top_k.items()})
        out.update({"l2": self.l2, "dir": self.dir, "ori": self.ori})
        return out


def flow_metrics_per_frame(pred: np.ndarray, true: np.ndarray, eps: float = 1e-8) -> dict[str, np.ndarray]:
    """L2, Dir, Ori of predicted flow (N, ..., 2) against true flow (N, ..., 2), each averaged per frame (N,)."""
    if np.shape(pred) != np.shape(true):
        raise ValueError(f"predicted flow {np.shape(pred)} and true flow {np.shape(true)} differ")
    n = np.shape(pred)[0] if np.ndim(pred) > 1 else 1
    u = np.asarray(pred, np.float64).reshape(n, -1, 2)
    v = np.asarray(true, np.float64).reshape(n, -1, 2)
    norms = np.linalg.norm(u, axis=-1) * np.linalg.norm(v, axis=-1)
    dots = np.einsum("npd,npd->np", u, v)
    cos = np.where(norms > eps, dots / np.maximum(norms, eps), 0.0)
    return {"l2": np.linalg.norm(u - v, axis=-1).mean(axis=1), "dir": cos.mean(axis=1), "ori": np.abs(cos).mean(axis=1)}


def flow_metrics(pred: np.ndarray, true: np.ndarray, eps: float = 1e-8) -> dict[str, float]:
    """L2, Dir, Ori of predicted flow (..., 2) against true flow (..., 2)."""
    u = np.asarray(pred, np.float64).reshape(1, -1, 2)
    v = np.asarray(true, np.float64).reshape(1, -1, 2)
    if u.shape != v.shape:
        raise ValueError(f"predicted flow {np.shape(pred)} and true flow {np.shape(true)} differ")
    return {k: float(m[0]) for k, m in flow_metrics_per_frame(u, v, eps).items()}


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
    per_frame = {f"top{k}": np.empty(n) for k in ks} | {key: np.empty(n) for key in ("l2", "dir", "ori")}
    preds = np.empty((n, s, s), np.int64)
    for start in range(0, n, chunk):
        p = np.asarray(probs[start : start + chunk], np.float32)  # (b, K, S, S)
        y = np.asarray(labels[start : start + chunk])  # (b, S, S)
        preds[start : start + len(p)] = p.argmax(axis=1)
        scores = p.transpose(0, 2, 3, 1).reshape(len(p), -1, k_classes)  # (b, S*S, K)
        for k in ks:
            per_frame[f"top{k}"][start : start + len(p)] = [
                top_k_accuracy_score(y[i].reshape(-1), scores[i], k=k, labels=all_classes) for i in range(len(p))
            ]
        m = flow_metrics_per_frame(decode_softmax(p, centroids), true_flow[start : start + chunk])
        for key, values in m.items():
            per_frame[key][start : start + len(p)] = values
    y_true, y_pred = np.asarray(labels).reshape(-1), preds.reshape(-1)
    precision, recall, _, _ = precision_recall_fscore_support(
        y_true, y_pred, labels=all_classes, average="macro", zero_division=0
    )
    mean = {key: float(v.mean()) for key, v in per_frame.items()}  # every frame has S*S positions
    return StaticFlowScores(
        recall=float(recall),
        precision=float(precision),
        top_k={k: mean[f"top{k}"] for k in ks},
        l2=mean["l2"],
        dir=mean["dir"],
        ori=mean["ori"],
        confusion=confusion_matrix(y_true, y_pred, labels=all_classes),
        pixel_top1=(preds == labels).mean(axis=0),
        per_frame=per_frame,
    )


def class_frequencies(labels: np.ndarray, n_classes: int) -> np.ndarray:
    """Fraction of training positions in each class: labels (N, S, S) -> (K,) summing to 1."""
    counts = np.bincount(np.asarray(labels).reshape(-1), minlength=n_classes)[:n_classes]
    return (counts / counts.sum()).astype(np.float32)


def position_frequencies(labels: np.ndarray, n_classes: int) -> np.ndarray:
    """Fraction of training frames in each class at each grid position: (N, S, S) -> (K, S, S).

    As a softmax it predicts the mean training flow of each position (decoded: the frequency-
    weighted centroids) and ranks the classes by how often each position showed them.
    """
    y = np.asarray(labels)
    counts = np.stack([(y == c).sum(axis=0) for c in range(n_classes)]).astype(np.float64)  # (K, S, S)
    return (counts / counts.sum(axis=0, keepdims=True)).astype(np.float32)


def no_motion_probs(centroids: np.ndarray) -> np.ndarray:
    """One-hot (K,) on the shortest centroid: "nothing moves" as a softmax."""
    probs = np.zeros(len(centroids), np.float32)
    probs[no_motion_class(centroids)] = 1.0
    return probs


def constant_prediction(class_probs: np.ndarray, n_images: int, size: int) -> np.ndarray:
    """The same softmax for every image: (K,) at every position, or (K, S, S) per position ->
    read-only (N, K, S, S) view."""
    p = np.asarray(class_probs, np.float32)
    if p.ndim == 1:
        p = np.broadcast_to(p[:, None, None], (len(p), size, size))
    return np.broadcast_to(p[None], (n_images, *p.shape))


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



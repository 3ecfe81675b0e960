"""The 40-word flow codebook of staticflow: flow prediction as per-position classification.

The paper clusters every training flow vector of the coarse (20x20) flow fields with
minibatch k-means into 40 centroids, labels each position with its nearest centroid, trains
a spatial softmax over the 40 classes, and at test time turns the softmax back into a flow
vector as the probability-weighted sum of centroids. Classification instead of regression
keeps the multi-modal "left or right" ambiguity of a still frame instead of averaging it away.

Centroids are stored sorted by length (then angle), so class 0 is the slowest cluster — the
"no motion" class that holds about three quarters of all vectors — whatever the seed.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np

from pipeline.atomic import write_with

if TYPE_CHECKING:  # the figures read codebooks without torch (~2.5 s of import per job)
    import torch

# scikit-learn (1.7 s of import) is loaded by the two functions that cluster or assign, not by the
# figure jobs, which only turn labels back into flow (`labels_to_flow`).

CODEBOOK_KEY = "centroids"


def resize_flow(flow: np.ndarray, size: int) -> np.ndarray:
    """Flow fields (N, H, W, 2) or (H, W, 2) -> (N, size, size, 2) by area averaging.

    Vectors keep the pixel units of the original frame: the coarse field is "the flow at
    pixels spaced H/size apart", as the paper defines its 20x20 target.
    """
    flow = np.asarray(flow, dtype=np.float32)
    if flow.ndim == 3:
        flow = flow[None]
    if flow.ndim != 4 or flow.shape[-1] != 2:
        raise ValueError(f"flow must be (N, H, W, 2) or (H, W, 2), got {flow.shape}")
    out = np.empty((flow.shape[0], size, size, 2), np.float32)
    for i, field in enumerate(flow):
        out[i] = cv2.resize(field, (size, size), interpolation=cv2.INTER_AREA)
    return out


def _vectors(flows: np.ndarray) -> np.ndarray:
    flows = np.asarray(flows, dtype=np.float32)
    if flows.ndim < 2 or flows.shape[-1] != 2:
        raise ValueError(f"flow fields must end in a (dx, dy) axis of 2, got shape {flows.shape}")
    return flows.reshape(-1, 2)  # (M, 2)


def fit_codebook(
    flows: np.ndarray,
    n_clusters: int = 40,
    seed: int = 0,
    batch_size: int = 4096,
    n_init: int = 3,
) -> np.ndarray:
    """Minibatch k-means over every flow vector of flows (N, S, S, 2) -> centroids (K, 2).

    Deterministic given ``seed``; centroids come back sorted by length, then angle.
    """
    from sklearn.cluster import MiniBatchKMeans

    vectors = _vectors(flows)  # (M, 2)
    if len(vectors) < n_clusters:
        raise ValueError(f"fit_codebook needs at least {n_clusters} flow vectors, got {len(vectors)}")
    # No random reassignment of small clusters: it moves them onto random vectors, which are
    # almost all "no motion", and piles dozens of centroids onto zero (11x the inertia of k-means
    # on static-camera flow, the no-motion word holding 13% of vectors instead of ~85%).
    kmeans = MiniBatchKMeans(
        n_clusters=n_clusters, random_state=seed, batch_size=batch_size, n_init=n_init,
        reassignment_ratio=0.0,
    ).fit(vectors)
    centroids = kmeans.cluster_centers_.astype(np.float32)  # (K, 2)
    order = np.lexsort((np.arctan2(centroids[:, 1], centroids[:, 0]), np.hypot(*centroids.T)))
    return centroids[order]


def assign_labels(flows: np.ndarray, centroids: np.ndarray) -> np.ndarray:
    """Nearest-centroid class of every position: flows (N, S, S, 2) -> labels (N, S, S) int64."""
    from sklearn.metrics import pairwise_distances_argmin

    flows = np.asarray(flows, dtype=np.float32)
    labels = pairwise_distances_argmin(_vectors(flows), np.asarray(centroids, np.float32))
    return labels.reshape(flows.shape[:-1]).astype(np.int64)


def decode_softmax(
    probs: np.ndarray | torch.Tensor, centroids: np.ndarray | torch.Tensor
) -> np.ndarray | torch.Tensor:
    """Expected flow under the softmax: probs (N, K, S, S) -> flow (N, S, S, 2), same array type."""
    if probs.shape[1] != len(centroids):
        raise ValueError(f"softmax has {probs.shape[1]} classes but the codebook {len(centroids)}")
    torch = sys.modules.get("torch")  # a tensor means torch is loaded; without it, probs is an array
    if torch is not None and isinstance(probs, torch.Tensor):
        c = torch.as_tensor(centroids, dtype=probs.dtype, device=probs.device)
        return torch.einsum("nkhw,kd->nhwd", probs, c)
    return np.einsum("nkhw,kd->nhwd", np.asarray(probs), np.asarray(centroids, dtype=np.float32))


def labels_to_flow(labels: np.ndarray, centroids: np.ndarray) -> np.ndarray:
    """Quantised flow of a label map (N, S, S) -> (N, S, S, 2): what the classifier can express."""
    return np.asarray(centroids, np.float32)[np.asarray(labels)]


def no_motion_class(centroids: np.ndarray) -> int:
    """Index of the shortest centroid (0 for a codebook from :func:`fit_codebook`)."""
    return int(np.argmin(np.hypot(*np.asarray(centroids).T)))


def save_codebook(path: str | Path, centroids: np.ndarray) -> None:
    """Write centroids (K, 2) to an ``.npz`` file atomically (temp file, then rename)."""
    path = Path(path)
    centroids = np.asarray(centroids, np.float32)
    if centroids.ndim != 2 or centroids.shape[1] != 2:
        raise ValueError(f"centroids must be (K, 2), got {centroids.shape}")
    write_with(path, lambda handle: np.savez(handle, **{CODEBOOK_KEY: centroids}), mode="wb")


def load_codebook(path: str | Path) -> np.ndarray:
    """Centroids (K, 2) float32 saved by :func:`save_codebook`."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no flow codebook at {path}")
    with np.load(path) as data:
        if CODEBOOK_KEY not in data:
            raise KeyError(f"{path} has no '{CODEBOOK_KEY}' array (keys: {sorted(data.files)})")
        centroids = data[CODEBOOK_KEY].astype(np.float32)
    if centroids.ndim != 2 or centroids.shape[1] != 2:
        raise ValueError(f"{path}: '{CODEBOOK_KEY}' must be (K, 2), got {centroids.shape}")
    return centroids

"""Next-frame predictors of the Shapes KL table: the two networks and the references beside them.

Each predictor maps the test pairs to ``samples`` predicted next frames per pair, (N, S, H, W, 3)
uint8, drawn as the paper does or as stated here:

* ``ours`` / ``ae``: z from the empirical distribution of training z (the paper's choice, Sec.
  4.2): a random training pair's posterior for the VAE, its z_mean for the AE (the same
  distribution for both, so the rows compare the networks, not the sampling); ``ours_prior`` and
  ``ae_prior`` draw z from N(0, I) instead (which only the VAE was trained to match);
* ``flow``: nearest-neighbour flow transfer (Fig. 5's "Flow"): the 10 training frames nearest
  to the test frame in L2 over pixels, the optical flow of each one's pair, and the test frame
  warped by one of those flows drawn at random per sample;
* ``nomotion``: the input frame itself; ``meanmotion``: every object moved by the mean training
  motion of its shape (both deterministic, so their samples repeat);
* ``truth``: the input re-rendered by the generator with motions drawn from its own law: the
  floor the measurement and the finite sample give a perfect predictor.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import torch

from pipeline.flow import compute_flow
from pipeline.papers.crossconv.data import FramePairs, ShapesSplit
from pipeline.papers.crossconv.model import (
    CrossConvNet,
    ZBank,
    collect_z,
    sample_empirical,
    sample_prior,
)
from pipeline.papers.crossconv.train import load_crossconv
from pipeline.synthetic.shapes import render_moved, sample_motions

log = logging.getLogger(__name__)

Frames = Callable[[np.ndarray], np.ndarray]
"""A predictor after setup: test rows -> (len(rows), S, H, W, 3) uint8 next frames."""


def _to_uint8(frames: torch.Tensor) -> np.ndarray:
    return (frames.clamp(0, 1) * 255).round().byte().permute(0, 2, 3, 1).numpy()  # (B, H, W, 3)


def training_bank(model: CrossConvNet, train: ShapesSplit | FramePairs, n: int, batch_size: int,
                  seed: int) -> ZBank:
    """Posteriors of ``n`` training pairs drawn by the seed: the empirical z distribution (and Fig. 10's sample)."""
    rows = np.random.default_rng([seed, 1]).permutation(len(train))[: max(1, min(n, len(train)))]
    return collect_z(model, [train.tensor(rows[i : i + batch_size]) for i in range(0, len(rows), batch_size)])


def network_frames(model_path: Path, train: ShapesSplit, test: ShapesSplit, samples: int, z_source: str,
                   z_bank: int, batch_size: int, seed: int) -> np.ndarray:
    """(N, S, H, W, 3) next frames of a trained network, z from ``z_source`` (empirical | prior)."""
    model = load_crossconv(model_path)
    generator = torch.Generator().manual_seed(seed)
    bank = training_bank(model, train, z_bank, batch_size, seed)
    n = len(test)
    out = np.empty((n, samples, test.size, test.size, 3), np.uint8)
    with torch.no_grad():
        for start in range(0, n, batch_size):
            rows = np.arange(start, min(n, start + batch_size))
            image = test.tensor(rows)[:, 0]  # (B, 3, H, W)
            maps = model.feature_maps(image)  # once for all samples: the image encoder is half the cost
            for s in range(samples):
                if z_source == "prior":
                    z = sample_prior(len(rows), model.cfg.z_dim, generator)
                else:
                    z = sample_empirical(bank, len(rows), generator)
                out[rows, s] = _to_uint8(model.sample(image, z, maps))
    return out


def nearest_training_pairs(train: ShapesSplit, test: ShapesSplit, k: int, chunk: int = 2000) -> np.ndarray:
    """(N, k) training rows nearest to each test frame in L2 over pixels (the paper's retrieval)."""
    queries = test.pairs.frame1.reshape(len(test), -1).astype(np.float32)  # (N, D)
    q_norm = (queries**2).sum(1)
    best_d = np.full((len(test), 0), np.inf, np.float32)
    best_i = np.zeros((len(test), 0), np.int64)
    for start in range(0, len(train), chunk):
        block = train.pairs.frame1[start : start + chunk].reshape(-1, queries.shape[1]).astype(np.float32)
        d = q_norm[:, None] + (block**2).sum(1)[None] - 2 * queries @ block.T  # (N, chunk)
        best_d = np.concatenate([best_d, d], 1)
        best_i = np.concatenate([best_i, np.arange(start, start + len(block))[None].repeat(len(test), 0)], 1)
        keep = np.argsort(best_d, 1, kind="stable")[:, :k]
        best_d, best_i = np.take_along_axis(best_d, keep, 1), np.take_along_axis(best_i, keep, 1)
    return best_i


def warp(frame: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """Backward warp: J(x) = I(x - flow(x)), bilinear, borders black (the Shapes background)."""
    h, w = flow.shape[:2]
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    return cv2.remap(frame, xs - flow[..., 0], ys - flow[..., 1], cv2.INTER_LINEAR,
                     borderMode=cv2.BORDER_CONSTANT, borderValue=0)


def flow_transfer_frames(train: ShapesSplit, test: ShapesSplit, neighbours: int, method: str,
                         dis_preset: str) -> tuple[np.ndarray, np.ndarray]:
    """(N, k, H, W, 3) the test frames warped by each of their k neighbours' flows, and (N, k) the rows."""
    rows = nearest_training_pairs(train, test, neighbours)
    flows = {int(j): compute_flow(train.pairs.frame1[j], train.pairs.frame2[j], method, dis_preset)
             for j in np.unique(rows)}
    log.info("flow transfer: %d distinct training flows (%s) for %d test frames", len(flows), method, len(test))
    frames = np.stack([[warp(test.pairs.frame1[i], flows[int(j)]) for j in rows[i]] for i in range(len(test))])
    return frames, rows


def mean_training_motion(train: ShapesSplit) -> np.ndarray:
    """(K, 2) mean motion of each object slot over the training pairs where it is present."""
    p = train.pairs
    weight = p.present[..., None].astype(np.float64)
    return (p.motion * weight).sum(0) / np.maximum(weight.sum(0), 1)


def moved_frames(test: ShapesSplit, motion: np.ndarray) -> np.ndarray:
    """(N, H, W, 3): each test frame with its objects moved by motion (N, K, 2), absent ones ignored."""
    return render_moved(test.config, test.pairs, np.where(test.pairs.present[..., None], motion, 0.0))


def resampled_truth(test: ShapesSplit, samples: int, seed: int) -> np.ndarray:
    """(N, S, K, 2) motions drawn from the generator's law, one independent draw per pair and sample."""
    rng = np.random.default_rng([seed, 2])
    return np.stack([sample_motions(test.config, len(test), rng) for _ in range(samples)], 1)

"""How the crossconv networks train: one job per (dataset, variant) through the one loop.

"ours" is the cross convolutional VAE (KL + lambda * squared error of the difference image),
"ae" the same network with ``variational=False`` (Fig. 5's AE: no KL, no sampling layer). Both
minimise ``CrossConvNet.losses`` with Adam; the paper gives no optimiser settings, the preset's
``train.lr`` is ours. Batches are a function of (seed, step) alone, so a killed job resumes to the
same weights. TensorBoard previews show, for fixed test pairs, the input, the true next frame and
next frames sampled with z from the prior.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from pipeline.papers.crossconv.data import read_split, training_batches
from pipeline.papers.crossconv.model import CrossConvConfig, CrossConvNet, sample_prior
from pipeline.papers.crossconv.spec import check, is_variational
from pipeline.saved_models import load_model
from pipeline.training import Minimize, TrainConfig, TrainingJob, fit

log = logging.getLogger(__name__)

PREVIEW_PAIRS = 4
PREVIEW_SAMPLES = 3


def model_config(variant: str, image_size: int, model_sizes: Mapping[str, Any]) -> CrossConvConfig:
    """The network of ``variant`` (ours, ae or an ablation VAE) for ``image_size`` frames at a preset's model sizes."""
    return CrossConvConfig(image_size=int(image_size), num_scales=int(model_sizes["num_scales"]),
                           top_scale=float(model_sizes["top_scale"]), maps=int(model_sizes["maps"]),
                           width=float(model_sizes["width"]), recon_weight=float(model_sizes["recon_weight"]),
                           kl_weight=float(model_sizes["kl_weight"]), z_size=int(model_sizes["z_size"]),
                           variational=is_variational(variant))


def crossconv_model_config(cfg: CrossConvConfig) -> dict[str, Any]:
    """What ``model.pt`` stores to rebuild the network (plain JSON-able values)."""
    return dataclasses.asdict(cfg)


def build_crossconv(saved: Mapping[str, Any]) -> CrossConvNet:
    """The network of a ``model.pt``'s model_config (tuples come back as lists)."""
    values = {k: tuple(v) if isinstance(v, list) else v for k, v in saved.items()}
    return CrossConvNet(CrossConvConfig(**values))


def load_crossconv(path: str | Path) -> CrossConvNet:
    """A trained network, on CPU, in eval mode."""
    return load_model(Path(path), build_crossconv)


def preview_strip(model: CrossConvNet, pairs: torch.Tensor, seed: int) -> np.ndarray:
    """Per pair: input, true next frame, then sampled next frames (z ~ N(0, I)): (N, H, (2+S)*W, 3) uint8."""
    generator = torch.Generator().manual_seed(seed)
    image, future = pairs[:, 0], pairs[:, 1]  # (N, 3, H, W) each
    device = next(model.parameters()).device
    columns = [image, future]
    for _ in range(PREVIEW_SAMPLES):
        z = sample_prior(len(image), model.cfg.z_dim, generator).to(device)
        columns.append(model.sample(image.to(device), z).cpu())
    strip = torch.cat(columns, dim=3)  # (N, 3, H, (2+S)*W)
    return (strip.clamp(0, 1) * 255).round().byte().permute(0, 2, 3, 1).numpy()


def train(job: TrainingJob) -> Path:
    """Train ``job.variant`` (ours | ae) on ``job.dataset``'s training pairs; returns model.pt."""
    check(job.dataset, job.variant)
    split = read_split(job.inputs["train"])
    t = job.sizes["train"]
    cfg = model_config(job.variant, split.size, job.sizes["model"])
    torch.manual_seed(job.seed)  # the initial weights (a resumed job loads them from its checkpoint)
    model = CrossConvNet(cfg)
    optimizer = torch.optim.Adam(model.parameters(), lr=float(t["lr"]))
    run = TrainConfig(steps=int(t["steps"][job.variant]), checkpoint_every=int(t["checkpoint_every"]),
                      log_every=int(t["log_every"]), preview_every=int(t["checkpoint_every"]))
    shown = read_split(job.inputs["test"]).tensor(np.arange(PREVIEW_PAIRS))  # the same pairs at every preview
    log.info("crossconv %s/%s: %d training pairs, %s, z %d, %d steps of %d", job.dataset, job.variant, len(split),
             cfg, cfg.z_dim, run.steps, int(t["batch_size"]))
    return fit(Minimize(model, optimizer), training_batches(split, int(t["batch_size"]), job.seed), run, job,
               crossconv_model_config(cfg), preview=lambda: {"samples": preview_strip(model, shown, job.seed)})

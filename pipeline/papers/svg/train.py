"""How an svg model trains: one job per (dataset, variant) through the one loop."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from pipeline.papers.svg.data import training_batches
from pipeline.papers.svg.model import (
    SVG,
    SVGConfig,
    build_svg,
    make_optimizer,
    svg_model_config,
)
from pipeline.papers.svg.spec import AUTHORS_CONVENTIONS, BACKBONES, VARIANTS, check
from pipeline.saved_models import load_model
from pipeline.training import Minimize, TrainConfig, TrainingJob, fit, resolve_device

log = logging.getLogger(__name__)


def model_config(dataset: str, variant: str, sizes: Mapping[str, Any]) -> SVGConfig:
    """The SVGConfig of one (dataset, variant) at the sizes of a scale (``SIZES['svg']``)."""

    check(dataset, variant)
    channels = BACKBONES[dataset][1]
    m = sizes[dataset]["model"]
    backbone = str(m["backbone"])  # the paper's family (spec.BACKBONES) unless overridden
    skip_frame = sizes.get("conventions", AUTHORS_CONVENTIONS)["skip_frame"]
    return SVGConfig(skip_frame=str(skip_frame),
        variant=VARIANTS[variant][0], backbone=backbone, channels=channels,
        width=int(m["width"]), g_dim=int(m["g_dim"]), z_dim=int(m["z_dim"]), rnn_size=int(m["rnn_size"]),
        n_past=int(m["n_past"]), n_future=int(m["n_future"]), beta=float(m["beta"]), lr=float(m["lr"]),
        image_size=int(m.get("image_size", 64)),
    )


def _load(model_path: str | Path, device: str) -> SVG:

    return load_model(Path(model_path), build_svg).to(resolve_device(device))


def train(job: TrainingJob) -> Path:
    """Train one svg model through the one loop (resumes from its checkpoint); returns model.pt."""
    cfg = model_config(job.dataset, job.variant, job.sizes)
    t = job.sizes[job.dataset]["train"]
    torch.manual_seed(job.seed)  # the initial weights (a resumed job loads them from its checkpoint)
    model = SVG(cfg)
    run = TrainConfig(steps=int(t["steps"]), checkpoint_every=int(t["checkpoint_every"]),
                      log_every=int(t["log_every"]), preview_every=int(t["checkpoint_every"]))
    windows = job.sizes.get("conventions", AUTHORS_CONVENTIONS)["bair_train_windows"]
    data = training_batches(job.dataset, job.variant, job.inputs, cfg, int(t["batch_size"]), job.seed,
                            bair_windows=str(windows))
    shown = next(iter(data(0)))[:PREVIEW_SEQUENCES]  # (B, T, C, H, W): the same sequences at every preview
    log.info("svg %s/%s: %s, %d steps of %d sequences", job.dataset, job.variant, cfg, run.steps, t["batch_size"])
    return fit(Minimize(model, make_optimizer(model)), data, run, job, svg_model_config(cfg),
               preview=lambda: {"samples": sample_strip(model, shown, job.seed)})


PREVIEW_SEQUENCES = 4


def sample_strip(model: SVG, x: torch.Tensor, seed: int) -> np.ndarray:
    """Per sequence, the truth above one sampled future (conditioning frames shared): (N, 2H, T*W, C) uint8."""
    n_past = model.cfg.n_past
    x = x.to(model.device)
    future = model.generate(x[:, :n_past], x.shape[1] - n_past, n_samples=1, seed=seed)[0]  # (N, F, C, H, W)
    sample = torch.cat([x[:, :n_past], future], dim=1)
    rows = torch.cat([x, sample], dim=3)  # (N, T, C, 2H, W)
    strip = torch.cat(list(rows.unbind(1)), dim=3)  # (N, C, 2H, T*W)
    return (strip.clamp(0, 1) * 255).round().byte().permute(0, 2, 3, 1).cpu().numpy()

"""How walker's three models train, one job each, through the one loop.

* ``cvae`` and ``regressor`` (``model.WalkerNet``): image (mean frame subtracted, in [-1, 1]) ->
  DCT trajectories on the 1/16 grid, then every head up to 1/4 (coarse-to-fine:
  ``coarse_steps`` on the coarse output, then ``fine_steps`` on all of them); the loss on the
  hold-out clips is logged every ``validate_every`` steps (``val_log.csv``);
* ``flownet``: the staticflow AlexNet on the same clips (``data.flownet_data``), trained by
  staticflow's own schedule.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from pipeline.batches import batch_loader, step_batches
from pipeline.papers.staticflow import FlowSchedule, StaticFlowConfig, train_flow_net
from pipeline.papers.walker.data import WalkerData, flownet_data, walker_data
from pipeline.papers.walker.model import (
    WalkerConfig,
    WalkerNet,
    downsample_trajectories,
    make_optimizer,
    walker_model_config,
)
from pipeline.training import Evaluation, Minimize, TrainConfig, TrainingJob, fit

log = logging.getLogger(__name__)

VALIDATION_LOG = "val_log.csv"
"""Hold-out losses every ``validate_every`` steps, beside the loop's log.csv (shows overfitting)."""


def model_config(kind: str, image_size: tuple[int, int], model_sizes: Mapping[str, Any]) -> WalkerConfig:
    """The CVAE or regressor for frames of ``image_size`` (H, W) at the sizes of a scale."""

    return WalkerConfig(
        kind=kind,
        image_size=tuple(int(v) for v in image_size),
        coarse_size=tuple(int(v) for v in model_sizes["coarse_size"]),
        width=float(model_sizes["width"]),
        latent_dim=int(model_sizes["latent_dim"]),
        magnitude_latent_dim=int(model_sizes["magnitude_latent_dim"]),
        fine_levels=int(model_sizes["fine_levels"]),
    )


def flownet_config(flownet_sizes: Mapping[str, Any]) -> StaticFlowConfig:
    """The staticflow AlexNet of the optical-flow baseline."""

    return StaticFlowConfig(arch="alexnet", image_size=int(flownet_sizes["image_size"]),
                            out_size=int(flownet_sizes["out_size"]), n_clusters=int(flownet_sizes["n_clusters"]),
                            width=float(flownet_sizes["width"]))


class _TrajectoryBatches:
    """(images, full-resolution DCT) batches -> (images, DCT on the grid of the step's stage).

    Steps before ``coarse_steps`` train the coarse head only; later steps every head up to
    ``fine_level`` (coarse-to-fine). The level is a function of the step, so a resumed job
    trains as an uninterrupted one.
    """

    def __init__(self, batches: Iterator[Any], cfg: WalkerConfig, start: int, coarse_steps: int) -> None:
        self.batches, self.cfg, self.step, self.coarse_steps = batches, cfg, start, coarse_steps

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:

        for images, dct in self.batches:
            level = 0 if self.step < self.coarse_steps else self.cfg.fine_levels
            yield images, downsample_trajectories(dct, self.cfg, level)  # (B, 10, h, w)
            self.step += 1


def train(job: TrainingJob) -> Path:
    """Train the CVAE, the regressor or the flow-net baseline of ``job`` (on UCF101)."""
    sizes, inputs = job.sizes, job.inputs
    if job.variant == "flownet":
        f, t = sizes["flownet"], sizes["train"]
        cfg = flownet_config(f)
        data = flownet_data(inputs, cfg.image_size, cfg.out_size)
        schedule = FlowSchedule(batch_size=int(f["batch_size"]), epochs=int(f["epochs"]), decay_after_epochs=0,
                                epoch_eval_images=int(f["epoch_eval_images"]),
                                checkpoint_every=int(t["checkpoint_every"]), log_every=int(t["log_every"]),
                                workers=int(t["workers"]))
        return train_flow_net(cfg, data, schedule, job)

    t = sizes["train"]
    data = walker_data(inputs["summary"], inputs["mean_image"], inputs["split"])
    cfg = model_config(job.variant, data.image_size, sizes["model"])
    coarse, fine = int(t["coarse_steps"]), int(t["fine_steps"]) if cfg.fine_levels else 0
    train_rows = data.rows["train"]
    batch = min(int(t["batch_size"]), len(train_rows))
    torch.manual_seed(job.seed)  # the initial weights are a function of the seed
    model = WalkerNet(cfg)
    optimizer = make_optimizer(model, float(t["lr"]))

    def batches(start: int) -> Iterator[Any]:
        loader = batch_loader(data.dataset, step_batches(train_rows, batch, job.seed, start), int(t["workers"]))
        return iter(_TrajectoryBatches(loader, cfg, start, coarse))

    log.info("walker %s: %d training clips of %s, coarse grid %s, %d coarse + %d fine steps of %d",
             job.variant, len(train_rows), data.image_size, cfg.coarse_size, coarse, fine, batch)
    total, every = coarse + fine, int(t["validate_every"])
    ends = sorted({*range(every, total, every), total}) if every > 0 and len(data.rows["val"]) else []
    evaluations = []
    if len(ends) > 1:
        def validate(step: int) -> list[dict[str, float]]:
            level = 0 if step <= coarse else cfg.fine_levels
            scores = holdout_losses(model, data, batch, level, job.seed)
            log.info("step %d: hold-out %s", step, {k: round(v, 3) for k, v in scores.items()})
            return [scores]

        evaluations.append(Evaluation(VALIDATION_LOG, at=set(ends).__contains__, run=validate))
    run = TrainConfig(steps=total, checkpoint_every=int(t["checkpoint_every"]), log_every=int(t["log_every"]))
    return fit(Minimize(model, optimizer, lr_drop(optimizer, float(t["lr_decay_at"]), total)), batches, run, job,
               walker_model_config(cfg), evaluations)


def lr_drop(optimizer: torch.optim.Optimizer, at: float, total: int) -> torch.optim.lr_scheduler.MultiStepLR | None:
    """lr / 10 after ``at`` x ``total`` steps (``train.lr_decay_at``; 0 = a constant lr)."""
    if not 0.0 <= at < 1.0:
        raise ValueError(f"walker train.lr_decay_at must be in [0, 1) (a share of the steps), got {at}")
    step = round(at * total)
    return torch.optim.lr_scheduler.MultiStepLR(optimizer, [step], gamma=0.1) if 0 < step < total else None


def holdout_losses(model: Any, data: WalkerData, batch_size: int, level: int, seed: int) -> dict[str, float]:
    """The training loss and its terms on the hold-out clips (eval mode), a point of the validation curve.

    Run under a forked RNG seeded with ``seed``: the CVAE's posterior sample draws from it, and
    the training run must not see those draws.
    """


    rows = data.rows["val"]
    sums: dict[str, float] = {}
    was_training = model.training
    model.eval()
    try:
        with torch.random.fork_rng(devices=[]), torch.no_grad():
            torch.manual_seed(seed)
            for start in range(0, len(rows), batch_size):
                items = [data.dataset[int(r)] for r in rows[start : start + batch_size]]
                images = torch.from_numpy(np.stack([i[0] for i in items]))
                dct = torch.from_numpy(np.stack([i[1] for i in items]))
                out = model.losses((images, downsample_trajectories(dct, model.cfg, level)))
                for key, value in out.items():
                    sums[key] = sums.get(key, 0.0) + float(value) * len(items)
    finally:
        model.train(was_training)
    return {key: total / len(rows) for key, total in sums.items()}



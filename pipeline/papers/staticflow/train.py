"""How the two staticflow nets train: the paper's optimiser, in epochs, scored after each epoch.

Training follows the paper (spatial softmax cross-entropy summed over the grid, Adam, the
per-net lr / L2 / decay schedule). After each epoch the validation set and a fixed slice of the
training set are scored (``epoch_log.csv`` beside ``log.csv``: the curves of the paper's
Figs. 6-8). walker's optical-flow baseline trains through :func:`train_flow_net` too.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from pipeline.batches import batch_loader, spread, step_batches, steps_per_epoch
from pipeline.papers.staticflow.codebook import assign_labels
from pipeline.papers.staticflow.data import FlowNetData, staticflow_data
from pipeline.papers.staticflow.metrics import evaluate_staticflow
from pipeline.papers.staticflow.model import (
    StaticFlowConfig,
    StaticFlowNet,
    make_optimizer,
    paper_optim,
    staticflow_model_config,
)
from pipeline.training import (
    Evaluation,
    Minimize,
    TrainConfig,
    TrainingJob,
    fit,
    resolve_device,
)

log = logging.getLogger(__name__)

EPOCH_LOG = "epoch_log.csv"
"""Per-epoch scores of the training slice and the validation set, beside the loop's log.csv."""


@dataclass
class FlowSchedule:
    """How long and in which batches a flow net trains (sizes of a scale)."""

    batch_size: int
    epochs: int
    decay_after_epochs: int  # all-conv lr / 10 after this many epochs (paper: 3)
    epoch_eval_images: int  # training frames re-scored after each epoch (curves)
    checkpoint_every: int
    log_every: int
    workers: int = 0


def model_config(arch: str, image_size: int, grid: int, model_sizes: Mapping[str, Any]) -> StaticFlowConfig:
    """The net of ``arch`` for square inputs of ``image_size`` and a ``grid`` x ``grid`` label field."""

    return StaticFlowConfig(arch=arch, image_size=int(image_size), out_size=int(grid),
                            n_clusters=int(model_sizes["n_clusters"]), width=float(model_sizes["width"]))


def predict_probs(
    model: StaticFlowNet, dataset: Any, rows: np.ndarray, batch_size: int, device: torch.device | str = "cpu"
) -> tuple[np.ndarray, np.ndarray]:
    """Softmax of the net over dataset rows: -> probs (N, K, g, g) float32, true flow (N, g, g, 2)."""

    model = model.to(device)
    probs, flows = [], []
    rows = np.asarray(rows, np.int64)
    for start in range(0, len(rows), batch_size):
        batch = [dataset[int(r)] for r in rows[start : start + batch_size]]
        images = torch.from_numpy(np.stack([b[0] for b in batch]))  # (b, 3, S, S)
        probs.append(model.predict(images).cpu().numpy())  # (b, K, g, g)
        flows.append(np.stack([b[1] for b in batch]))  # (b, g, g, 2)
    return np.concatenate(probs), np.concatenate(flows)


def cross_entropy(probs: np.ndarray, labels: np.ndarray) -> float:
    """The training loss on scored frames: -log p(true class) summed over the grid, mean over frames."""
    p = np.take_along_axis(probs, labels[:, None], axis=1)[:, 0]  # (N, g, g)
    return float(-np.log(np.maximum(p, 1e-12)).sum(axis=(1, 2)).mean())


def epoch_scores(
    model: StaticFlowNet, data: FlowNetData, rows: np.ndarray, batch_size: int, device: torch.device | str
) -> dict[str, float]:
    """Loss and every scalar metric of Tables 3-4 on ``rows`` (one point of the Figs. 6-8 curves)."""

    probs, flow = predict_probs(model, data.dataset, rows, batch_size, device)
    labels = assign_labels(flow, data.centroids)
    scores = evaluate_staticflow(probs, labels, flow, data.centroids)
    return {"loss": cross_entropy(probs, labels), **scores.row()}


class _LabelledBatches:
    """(images, flow) batches -> (images, codebook labels) as ``StaticFlowNet.losses`` takes."""

    def __init__(self, batches: Iterator[Any], centroids: np.ndarray) -> None:
        self.batches, self.centroids = batches, centroids

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:


        for images, flow in self.batches:
            yield images, torch.from_numpy(assign_labels(flow.numpy(), self.centroids))


def train_flow_net(cfg: StaticFlowConfig, data: FlowNetData, schedule: FlowSchedule, job: TrainingJob) -> Path:
    """Train a flow net with the paper's optimiser for ``schedule.epochs``, scoring after each epoch."""
    train_rows = data.rows["train"]
    batch = min(schedule.batch_size, len(train_rows))
    per_epoch = steps_per_epoch(len(train_rows), batch)
    opt = paper_optim(cfg.arch, per_epoch)
    if opt.decay_after_steps is not None:
        opt = dataclasses.replace(opt, decay_after_steps=schedule.decay_after_epochs * per_epoch)
    torch.manual_seed(job.seed)  # the initial weights are a function of the seed
    model = StaticFlowNet(cfg)
    optimizer, scheduler = make_optimizer(model, opt)
    device = resolve_device(job.device)
    eval_sets = {"train": spread(train_rows, schedule.epoch_eval_images), "val": data.rows["val"]}

    def batches(start: int) -> Iterator[Any]:
        loader = batch_loader(data.dataset, step_batches(train_rows, batch, job.seed, start), schedule.workers)
        return iter(_LabelledBatches(loader, data.centroids))

    def score_epoch(step: int) -> list[dict[str, Any]]:
        epoch = step // per_epoch
        rows = [{"epoch": epoch, "set": name, **epoch_scores(model, data, r, max(batch, 16), device)}
                for name, r in eval_sets.items() if len(r)]
        log.info("epoch %d: %s", epoch, {r["set"]: f"loss {r['loss']:.3g} top1 {r['top1']:.3f} recall {r['recall']:.3f}"
                                         for r in rows})
        return rows

    log.info("%s: %d training frames, %d steps per epoch of %d, %d epochs, optimiser %s",
             cfg.arch, len(train_rows), per_epoch, batch, schedule.epochs, opt)
    run = TrainConfig(steps=schedule.epochs * per_epoch, checkpoint_every=schedule.checkpoint_every,
                      log_every=schedule.log_every)
    epoch_ends = Evaluation(EPOCH_LOG, at=lambda step: step % per_epoch == 0, run=score_epoch)
    return fit(Minimize(model, optimizer, scheduler), batches, run, job, staticflow_model_config(cfg), [epoch_ends])


def schedule_of(sizes: Mapping[str, Any], arch: str) -> FlowSchedule:
    t = sizes["train"]
    return FlowSchedule(batch_size=int(t["batch_size"]), epochs=int(t["epochs"][arch]),
                        decay_after_epochs=int(t["decay_after_epochs"]),
                        epoch_eval_images=int(t["epoch_eval_images"]),
                        checkpoint_every=int(t["checkpoint_every"]), log_every=int(t["log_every"]),
                        workers=int(t.get("workers", 0)))


def train(job: TrainingJob) -> Path:
    """Train the ``job.variant`` net (alexnet | allconv) on ``job.dataset``."""
    data = staticflow_data(job.inputs)
    cfg = model_config(job.variant, data.image_size, data.grid, job.sizes["model"])
    if len(data.centroids) != cfg.n_clusters:
        raise ValueError(f"{job.inputs['codebook']} has {len(data.centroids)} words, the model {cfg.n_clusters}")
    return train_flow_net(cfg, data, schedule_of(job.sizes, job.variant), job)


def param_count(model: torch.nn.Module) -> int:
    return int(sum(p.numel() for p in model.parameters()))



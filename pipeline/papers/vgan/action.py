"""Video representation learning (paper Sec. 3.3, Fig. 4): the discriminator as an action classifier.

As ``main_ucf.lua`` of the authors' code: D's last layer (a 2-way volumetric conv) is replaced by
3D dropout (0.5, "to the penultimate layer") and a K-way volumetric conv of the same kernel, trained
with cross-entropy under Adam (lr 2e-4, beta1 0.5). Three ways to start, the rows of Fig. 4a:

* ``random``: the same network from the paper's N(0, 0.01) initialisation, every layer trained;
* ``finetune``: D's trunk from the trained two-stream GAN, every layer trained;
* logistic regression on the frozen trunk's features (the "logistic regression on only the last
  layer" of the text), fit by scikit-learn in :mod:`pipeline.papers.vgan.action_eval`.

Fig. 4b/c repeat the first two with a share of the labelled training videos (1/8, 1/4, ...).
The random-init classifier on all the labelled videos is also the 3D CNN "trained on the action
data" whose pooled features the FD / KID of the generated clips are measured in.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from pipeline.batches import (
    batch_loader,
    holdout_videos,
    item_table,
    preload_if_small,
    shards_of,
    stable_rank,
    step_batches,
)
from pipeline.papers.vgan.data import PRELOAD_BYTES, ClipTransform
from pipeline.papers.vgan.gan import to_network_layout
from pipeline.papers.vgan.model import Discriminator, VGANConfig, init_weights
from pipeline.saved_models import load_model
from pipeline.shards import ShardDataset
from pipeline.training import Minimize, TrainConfig, TrainingJob, fit

log = logging.getLogger(__name__)

INITS: tuple[str, ...] = ("random", "finetune")
"""How a classifier's trunk starts: the paper's random initialisation, or the trained GAN's D."""


class ActionClassifier(nn.Module):
    """D's trunk, 3D dropout, a K-way volumetric conv: clips (B, C, T, H, W) -> logits (B, K)."""

    def __init__(self, cfg: VGANConfig, classes: int, dropout: float = 0.5) -> None:
        super().__init__()
        if classes < 2:
            raise ValueError(f"an action classifier needs at least 2 classes, got {classes}")
        self.cfg, self.classes = cfg, classes
        self.features = Discriminator(cfg).features  # (B, 512, 2, 4, 4) at paper size
        self.dropout = nn.Dropout3d(dropout)
        self.head = nn.Conv3d(cfg.widths[-1], classes, cfg.first_kernel)  # (B, K, 1, 1, 1)
        init_weights(self)

    def forward(self, video: torch.Tensor) -> torch.Tensor:
        return self.head(self.dropout(self.features(video))).flatten(1)  # (B, K)

    def losses(self, batch: tuple[torch.Tensor, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Cross-entropy of a batch (clips (B, T, C, H, W), labels (B,)); accuracy logged beside it."""
        clips, labels = batch
        device = self.head.weight.device
        logits = self(to_network_layout(clips).to(device, torch.float32))
        labels = labels.to(device)
        return {"loss": F.cross_entropy(logits, labels),
                "accuracy": (logits.argmax(1) == labels).float().mean().detach()}

    def trunk_from(self, discriminator: Discriminator) -> None:
        """Start from a trained discriminator's trunk (its 2-way head is dropped)."""
        self.features.load_state_dict(discriminator.features.state_dict())


def build_classifier(config: Mapping[str, Any]) -> ActionClassifier:
    """A classifier from its saved config (``VGANConfig`` fields plus ``classes``)."""
    config = dict(config)
    classes = int(config.pop("classes"))
    return ActionClassifier(VGANConfig(**config), classes)


def build_discriminator(config: Mapping[str, Any]) -> Discriminator:
    return Discriminator(VGANConfig(**config))


@torch.no_grad()
def trunk_features(network: ActionClassifier | Discriminator, clips: torch.Tensor, *, pooled: bool,
                   batch_size: int = 64) -> np.ndarray:
    """The trunk's output for clips (N, T, C, H, W): flattened (N, 512*2*4*4, the last layer's input)
    or averaged over its volume (N, 512: a compact embedding for FD / KID)."""
    network.eval()
    out = []
    for chunk in clips.split(batch_size):
        h = network.features(to_network_layout(chunk).float())  # (b, 512, 2, 4, 4)
        out.append(h.mean(dim=(2, 3, 4)) if pooled else h.flatten(1))
    return torch.cat(out).numpy().astype(np.float64)


# ----------------------------------------------------------------------------- data


@dataclass
class ActionClips:
    """Labelled clips of the action dataset, the class names, and the rows of each set."""

    dataset: ShardDataset  # row -> clip (T, 3, H, W) in [-1, 1]
    table: pd.DataFrame  # row -> video_id, label, split
    classes: list[str]
    labels: np.ndarray  # (rows,) class index of each row
    rows: dict[str, np.ndarray]  # "train" (every labelled training clip), "test"
    test_from: str  # "official test split" or how the test videos were held out

    def labelled(self, share: int) -> np.ndarray:
        """Training rows of 1/``share`` of the training videos of every class (nested: 1/8 is in 1/4)."""
        if share < 1:
            raise ValueError(f"share must be >= 1 (1/share of the labelled videos), got {share}")
        train = self.table.iloc[self.rows["train"]]
        keep: list[str] = []
        for _, group in train.groupby("label", sort=True):
            videos = sorted(set(group["video_id"]), key=stable_rank)
            keep += videos[: max(1, -(-len(videos) // share))]
        return self.rows["train"][train["video_id"].isin(keep).to_numpy()]

    def videos(self, rows: np.ndarray) -> int:
        return int(self.table.iloc[rows]["video_id"].nunique())

    def read(self, rows: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        """Clips (N, T, 3, H, W) and labels (N,) of some rows."""
        clips = np.stack([self.dataset[int(r)] for r in rows])
        return torch.from_numpy(clips), torch.from_numpy(self.labels[rows])

    def batches(self, rows: np.ndarray, size: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """:meth:`read` a batch at a time, so evaluating UCF101's clips never holds them all."""
        for start in range(0, len(rows), max(1, size)):
            yield self.read(rows[start : start + size])


class _LabelledDataset:
    """Row -> (clip, class index) for the training loop's batches."""

    def __init__(self, clips: ActionClips) -> None:
        self.clips = clips

    def __getitem__(self, row: int) -> tuple[np.ndarray, int]:
        return self.clips.dataset[int(row)], int(self.clips.labels[int(row)])


def action_clips(summary: str | Path, data_sizes: Mapping[str, Any], test_fraction: float) -> ActionClips:
    """The stabilized action clips at the model's frames and size, split into train and test videos.

    The official test split when the dataset has one (UCF101's split 1); otherwise (the synthetic
    stand-in brings training videos only) ``test_fraction`` of the training videos of every class,
    chosen by a hash of their id, and the record says so.
    """
    paths = shards_of(summary)
    table = item_table(paths)
    if (table["split"] == "test").any():
        train_rows = np.flatnonzero((table["split"] == "train").to_numpy())
        test_rows = np.flatnonzero((table["split"] == "test").to_numpy())
        test_from = "the dataset's official test split"
    else:
        held = set(holdout_videos(table, test_fraction))
        is_held = table["video_id"].isin(held).to_numpy()
        train_rows = np.flatnonzero((table["split"] == "train").to_numpy() & ~is_held)
        test_rows = np.flatnonzero(is_held)
        test_from = (f"no official test split: {len(held)} training videos ({test_fraction:.0%}, spread over the "
                     "classes, chosen by a hash of their id) held out as test")
    classes = sorted(set(table.iloc[train_rows]["label"].astype(str)))
    index = {c: k for k, c in enumerate(classes)}
    unknown = sorted(set(table.iloc[test_rows]["label"].astype(str)) - set(classes))
    if unknown:
        raise ValueError(f"{summary}: test classes {unknown} have no training clip")
    if len(classes) < 2 or len(test_rows) == 0:
        raise ValueError(f"{summary}: action recognition needs 2+ classes and test clips; got {len(classes)} "
                         f"classes, {len(test_rows)} test clips")
    labels = table["label"].astype(str).map(index).fillna(-1).to_numpy(np.int64)
    dataset = ShardDataset(paths, arrays=("frames",),
                           transform=ClipTransform(int(data_sizes["frames"]), int(data_sizes["size"])))
    return ActionClips(dataset, table, classes, labels, {"train": train_rows, "test": test_rows}, test_from)


# ----------------------------------------------------------------------------- training


def train_classifier(job: TrainingJob, init: str, share: int) -> Path:
    """Train one classifier of Fig. 4 (``init`` random | finetune, 1/``share`` of the labelled videos)."""
    if init not in INITS:
        raise KeyError(f"action classifier init must be one of {', '.join(INITS)}, not {init!r}")
    s = job.sizes
    clips = action_clips(job.inputs["summary"], s["data"], float(s["action"]["test_fraction"]))
    cfg = VGANConfig(z_dim=int(s["model"]["z_dim"]), frames=int(s["data"]["frames"]), size=int(s["data"]["size"]),
                     width=float(s["model"]["width"]))
    torch.manual_seed(job.seed)
    classifier = ActionClassifier(cfg, len(clips.classes), float(s["action"]["dropout"]))
    if init == "finetune":
        discriminator: Discriminator = load_model(job.inputs["discriminator"], build_discriminator,
                                                  module="discriminator")
        if discriminator.cfg != cfg:
            raise ValueError(f"{job.inputs['discriminator']}: its D was trained at {discriminator.cfg}, "
                             f"the classifier needs {cfg}")
        classifier.trunk_from(discriminator)
    rows = clips.labelled(share)
    a = s["action"]
    optimizer = torch.optim.Adam(classifier.parameters(), lr=float(a["lr"]), betas=(float(a["beta1"]), 0.999))
    batch = min(int(a["batch_size"]), len(rows))
    dataset = preload_if_small(_LabelledDataset(clips), rows, PRELOAD_BYTES)

    def batches(start: int) -> Iterator[Any]:
        return batch_loader(dataset, step_batches(rows, batch, job.seed, start), int(a.get("workers", 0)))

    log.info("vgan action classifier (%s, 1/%d of the labelled videos): %d clips of %d videos, %d classes, %s",
             init, share, len(rows), clips.videos(rows), len(clips.classes), clips.test_from)
    return fit(Minimize(classifier, optimizer), batches,
               TrainConfig(steps=int(a["steps"]), checkpoint_every=int(a["checkpoint_every"]),
                           log_every=int(a["log_every"])),
               job, {**dataclasses.asdict(cfg), "classes": len(clips.classes)})

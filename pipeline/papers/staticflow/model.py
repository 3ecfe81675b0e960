"""Optical flow from a static frame (staticflow): AlexNet-like and all-convolutional nets.

Both map a mean-subtracted RGB frame in [-1, 1] to a spatial softmax over the 40 flow-codebook
classes (:mod:`pipeline.papers.staticflow.codebook`) at every position of a coarse grid (20x20 for the
paper's 200x200 input). The loss is the cross-entropy summed over the grid positions.

* ``alexnet`` (paper Table 1): ConvBN 96/11/s4/p2, pool, ConvBN 256/5/p2, pool, ConvBN 384,
  384, 256 (3/p1), pool, FC 4096 + dropout .5, FC 4096 + dropout .5, FC S*S*40 split into
  S*S groups of 40.
* ``allconv`` (paper Table 2): ConvBN 96/7/s4/p2, 128/3/s2/p1, 256/4/s1, ConvBND 256/3/p1,
  512/3, 512/3/p1 (dropout .3), ConvBN 512/3/p1, ConvBN 40/1; no pooling, no FC.

Two readings of the tables: Table 2 lists stride 2 for the 256/4 layer, but its own output
sizes (25 -> 22 -> 20) need stride 1, which is used here (parameters do not depend on it).
The last ConvBN of the all-conv net keeps its batch norm but not its ReLU: it produces the
softmax logits (no parameter is involved). ConvBN = conv (with bias) + BN + ReLU, ConvBND adds
dropout after the BN, as the paper's Torch7 layers; weights use Xavier (Glorot uniform) init.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from pipeline.max_pool import MaxPool2d
from pipeline.papers.staticflow.geometry import (
    ALEXNET_CONVS,
    ALEXNET_FC,
    ALEXNET_POOL_AFTER,
    ALLCONV_CONVS,
    alexnet_feature_size,
    allconv_output_size,
)

ARCHS: tuple[str, ...] = ("alexnet", "allconv")


def _scaled(channels: int, width: float) -> int:
    return max(1, round(channels * width))


@dataclass
class StaticFlowConfig:
    arch: str = "allconv"  # alexnet (Table 1) | allconv (Table 2)
    image_size: int = 200  # side of the square input frame (paper: 200)
    out_size: int = 20  # side of the label grid (paper: 20); allconv: must equal its output
    n_clusters: int = 40  # flow-codebook classes (paper: 40)
    width: float = 1.0  # multiplier on every hidden width, conv and FC (paper: 1.0)
    fc_dropout: float = 0.5  # alexnet FC dropout (paper: .5)
    conv_dropout: float = 0.3  # allconv ConvBND dropout (paper: .3)

    def __post_init__(self) -> None:
        if self.arch not in ARCHS:
            raise ValueError(f"StaticFlowConfig.arch must be one of {ARCHS}, got {self.arch!r}")
        if self.arch == "allconv" and allconv_output_size(self.image_size) != self.out_size:
            raise ValueError(
                f"StaticFlowConfig: the all-conv net maps {self.image_size}x{self.image_size} to "
                f"{allconv_output_size(self.image_size)}x{allconv_output_size(self.image_size)}, "
                f"not out_size={self.out_size}; set out_size to that or change image_size"
            )
        if self.arch == "alexnet" and alexnet_feature_size(self.image_size) < 1:
            raise ValueError(f"StaticFlowConfig: image_size {self.image_size} is too small for the AlexNet")


class ConvBN(nn.Sequential):
    """Conv -> BN -> [dropout] -> [ReLU]: the paper's ConvBN / ConvBND blocks."""

    def __init__(
        self, cin: int, cout: int, k: int, s: int, p: int, dropout: float = 0.0, relu: bool = True
    ) -> None:
        layers: list[nn.Module] = [nn.Conv2d(cin, cout, k, s, p), nn.BatchNorm2d(cout)]
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
        if relu:
            layers.append(nn.ReLU(inplace=True))
        super().__init__(*layers)


class AlexNetFlow(nn.Module):
    """Table 1: images (B, 3, 200, 200) -> logits (B, 40, 20, 20) through a 16,000-wide FC."""

    def __init__(self, cfg: StaticFlowConfig) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        cin = 3
        for i, (f, k, s, p) in enumerate(ALEXNET_CONVS):
            cout = _scaled(f, cfg.width)
            layers.append(ConvBN(cin, cout, k, s, p))
            if i in ALEXNET_POOL_AFTER:
                layers.append(MaxPool2d(3, 2))
            cin = cout
        self.features = nn.Sequential(*layers)  # (B, 256, 5, 5) at paper scale
        fc = _scaled(ALEXNET_FC, cfg.width)
        side = alexnet_feature_size(cfg.image_size)
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(cin * side * side, fc),
            nn.ReLU(inplace=True),
            nn.Dropout(cfg.fc_dropout),
            nn.Linear(fc, fc),
            nn.ReLU(inplace=True),
            nn.Dropout(cfg.fc_dropout),
            nn.Linear(fc, cfg.out_size * cfg.out_size * cfg.n_clusters),
        )
        self.grid = (cfg.n_clusters, cfg.out_size, cfg.out_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.features(x)  # (B, 256, 5, 5)
        out = self.classifier(h)  # (B, 20*20*40)
        # 400 groups of 40 class scores, one group per grid position.
        s = self.grid[1]
        return out.view(-1, s, s, self.grid[0]).permute(0, 3, 1, 2)  # (B, 40, 20, 20)


class AllConvFlow(nn.Module):
    """Table 2: images (B, 3, 200, 200) -> logits (B, 40, 20, 20), no pooling and no FC."""

    def __init__(self, cfg: StaticFlowConfig) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        cin = 3
        for f, k, s, p, drop in ALLCONV_CONVS:
            cout = _scaled(f, cfg.width)
            layers.append(ConvBN(cin, cout, k, s, p, dropout=cfg.conv_dropout if drop > 0 else 0.0))
            cin = cout
        # 50x50x96 -> 25x25x128 -> 22x22x256 -> 22 -> 20x20x512 -> 20 -> 20 at paper scale
        layers.append(ConvBN(cin, cfg.n_clusters, 1, 1, 0, relu=False))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)  # (B, 40, 20, 20)


def _xavier(module: nn.Module) -> None:
    if isinstance(module, (nn.Conv2d, nn.Linear)):
        nn.init.xavier_uniform_(module.weight)
        nn.init.zeros_(module.bias)


class StaticFlowNet(nn.Module):
    """Either architecture behind one interface: ``losses``, ``predict``."""

    def __init__(self, cfg: StaticFlowConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.net = AlexNetFlow(cfg) if cfg.arch == "alexnet" else AllConvFlow(cfg)
        self.apply(_xavier)

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """images (B, 3, H, W) in [-1, 1] -> logits (B, K, S, S)."""
        return self.net(images)

    def losses(self, batch: tuple[torch.Tensor, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Spatial softmax cross-entropy summed over the S*S positions, mean over the batch.

        batch = (images (B, 3, H, W) float in [-1, 1], labels (B, S, S) int64 codebook classes).
        """
        images, labels = batch
        s = self.cfg.out_size
        if images.dim() != 4 or images.shape[1:] != (3, self.cfg.image_size, self.cfg.image_size):
            raise ValueError(
                f"staticflow images must be (B, 3, {self.cfg.image_size}, {self.cfg.image_size}), "
                f"got {tuple(images.shape)}"
            )
        if labels.shape != (images.shape[0], s, s):
            raise ValueError(f"staticflow labels must be (B, {s}, {s}), got {tuple(labels.shape)}")
        images = images.to(self.device, torch.float32)
        labels = labels.to(self.device, torch.int64)
        logits = self(images)  # (B, K, S, S)
        loss = F.cross_entropy(logits, labels, reduction="sum") / images.shape[0]
        top1 = (logits.detach().argmax(dim=1) == labels).float().mean()
        return {"loss": loss, "top1": top1}

    @torch.no_grad()
    def predict(self, images: torch.Tensor) -> torch.Tensor:
        """Per-position class probabilities, in eval mode: images (B, 3, H, W) -> (B, K, S, S)."""
        was_training = self.training
        self.eval()
        try:
            return F.softmax(self(images.to(self.device, torch.float32)), dim=1)
        finally:
            self.train(was_training)


@dataclass
class StaticFlowOptim:
    lr: float  # Adam learning rate: 1e-4 alexnet, 1e-3 allconv
    weight_decay: float  # L2 added to the gradient: 0 alexnet, 1e-5 allconv
    decay_after_steps: int | None = None  # allconv: lr / 10 after 3 epochs' worth of steps
    decay_factor: float = 0.1
    beta1: float = 0.9
    beta2: float = 0.999


def paper_optim(arch: str, steps_per_epoch: int) -> StaticFlowOptim:
    """The paper's optimiser settings for ``arch``, the decay point expressed in steps."""
    if arch == "alexnet":
        return StaticFlowOptim(lr=1e-4, weight_decay=0.0)
    if arch == "allconv":
        return StaticFlowOptim(lr=1e-3, weight_decay=1e-5, decay_after_steps=3 * steps_per_epoch)
    raise ValueError(f"arch must be one of {ARCHS}, got {arch!r}")


def make_optimizer(
    model: nn.Module, opt: StaticFlowOptim
) -> tuple[torch.optim.Adam, torch.optim.lr_scheduler.LRScheduler | None]:
    """Adam (.9, .999) with coupled L2 (Torch7-style weight decay) and the step-wise lr drop.

    The scheduler is stepped once per optimisation step (as ``pipeline.training.fit`` does).
    """
    optimizer = torch.optim.Adam(
        model.parameters(), lr=opt.lr, betas=(opt.beta1, opt.beta2), weight_decay=opt.weight_decay
    )
    if opt.decay_after_steps is None:
        return optimizer, None
    scheduler = torch.optim.lr_scheduler.MultiStepLR(
        optimizer, milestones=[opt.decay_after_steps], gamma=opt.decay_factor
    )
    return optimizer, scheduler


def build_staticflow(model_config: dict) -> StaticFlowNet:
    """Rebuild from the plain dict saved beside the weights (``pipeline.saved_models.load_model``)."""
    return StaticFlowNet(StaticFlowConfig(**model_config))


def staticflow_model_config(cfg: StaticFlowConfig) -> dict:
    """The plain dict stored in checkpoints (never a pickled dataclass)."""
    return asdict(cfg)

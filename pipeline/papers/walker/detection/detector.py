"""Fast R-CNN (Girshick 2015) on walker's image tower.

    image (B, 3, H, W) -> conv1-conv5 of the walker image tower (stride 16)     (B, C5, H/16, W/16)
    RoI max pooling to 6x6 per proposal                                          (R, C5, 6, 6)
    fc6 (4096) - ReLU - dropout - fc7 (4096) - ReLU - dropout                    (R, 4096)
    cls_score (K + 1, background first) and bbox_pred (4 (K + 1))

The backbone is the first five convolutions of walker's image tower (C(96,11)-LRN-P-C(256,5)
-LRN-P-C(384,3)-C(384,3)-C(256,3), the AlexNet part every other row of Table 2 fine-tunes
too); the paper does not say how many of the tower's 14 layers it took. The tower trains
with batch norm; here each BN is folded into its convolution (eval-mode statistics), so the
detector starts from exactly the function the CVAE learned and, like the Caffe networks of
Table 2, has no batch statistics (Fast R-CNN's minibatches are two images). fc6/fc7 are new,
as in every row of Table 2. The loss is Fast R-CNN's: softmax cross-entropy over K + 1 classes
plus smooth L1 on the true class's normalised box deltas for foreground RoIs (divided by the
number of RoIs).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from pipeline.max_pool import MaxPool2d
from pipeline.papers.walker.detection.roi_pool import roi_max_pool
from pipeline.papers.walker.model import ALEXNET_WIDTHS, alexnet_lrn

STRIDE = 16  # image pixels per conv5 cell
TOWER_LAYERS = ("conv1", "conv2", "conv3", "conv4", "conv5")
_TOWER_KEYS = {"conv1": "conv1", "conv2": "conv2", "conv3": "trunk.0", "conv4": "trunk.1", "conv5": "trunk.2"}
"""Backbone conv -> its conv+BN+ReLU block in walker's ImageTower (``model.ImageTower``)."""


@dataclass
class DetectorConfig:
    n_classes: int  # object classes; the network scores n_classes + 1 (background = 0)
    width: float = 1.0  # walker tower width multiplier (the CVAE's; paper 1.0)
    fc_width: int = 4096  # fc6, fc7 (Fast R-CNN on AlexNet: 4096)
    roi_size: int = 6  # RoI pooling output (AlexNet's pool5: 6x6)
    dropout: float = 0.5
    channel_mean: tuple[float, float, float] = (0.0, 0.0, 0.0)  # RGB pixel mean subtracted (0..255)

    def __post_init__(self) -> None:
        self.channel_mean = tuple(float(v) for v in self.channel_mean)
        if self.n_classes < 1 or self.fc_width < 1 or self.roi_size < 1:
            raise ValueError(f"DetectorConfig: n_classes, fc_width and roi_size must be positive, got {self}")

    @property
    def channels(self) -> tuple[int, ...]:
        return tuple(max(1, round(c * self.width)) for c in ALEXNET_WIDTHS)


class Backbone(nn.Module):
    """conv1-conv5 of walker's image tower without batch norm: (B, 3, H, W) -> (B, C5, ~H/16, ~W/16)."""

    def __init__(self, cfg: DetectorConfig) -> None:
        super().__init__()
        c1, c2, c3, c4, c5 = cfg.channels
        self.conv1 = nn.Conv2d(3, c1, 11, 4, 5)  # cell i centred on pixel 4i
        self.conv2 = nn.Conv2d(c1, c2, 5, 1, 2)
        self.conv3 = nn.Conv2d(c2, c3, 3, 1, 1)
        self.conv4 = nn.Conv2d(c3, c4, 3, 1, 1)
        self.conv5 = nn.Conv2d(c4, c5, 3, 1, 1)
        self.lrn, self.pool = alexnet_lrn(), MaxPool2d(3, 2, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(self.lrn(F.relu(self.conv1(x))))  # (B, 96, H/8, W/8)
        x = self.pool(self.lrn(F.relu(self.conv2(x))))  # (B, 256, H/16, W/16)
        x = F.relu(self.conv3(x))  # (B, 384, H/16, W/16)
        x = F.relu(self.conv4(x))
        return F.relu(self.conv5(x))  # (B, 256, H/16, W/16)

    def load_walker_tower(self, state: dict[str, torch.Tensor], prefix: str = "image_tower.") -> None:
        """Take conv1-conv5 from a walker model's state dict, each BN folded into its conv."""
        for name, key in _TOWER_KEYS.items():
            conv: nn.Conv2d = getattr(self, name)
            base = f"{prefix}{key}"
            try:
                weight, bias = state[f"{base}.0.weight"], state[f"{base}.0.bias"]
                gamma, beta = state[f"{base}.1.weight"], state[f"{base}.1.bias"]
                mean, var = state[f"{base}.1.running_mean"], state[f"{base}.1.running_var"]
            except KeyError as missing:
                raise KeyError(f"walker state dict has no {missing} (is it a walker CVAE/regressor model?)") from None
            if weight.shape != conv.weight.shape:
                raise ValueError(f"{name}: walker tower weights {tuple(weight.shape)} do not fit the detector's "
                                 f"{tuple(conv.weight.shape)} (different width)")
            scale = gamma / torch.sqrt(var + 1e-5)  # nn.BatchNorm2d's eps
            with torch.no_grad():
                conv.weight.copy_(weight * scale[:, None, None, None])
                conv.bias.copy_((bias - mean) * scale + beta)


class FastRCNN(nn.Module):
    def __init__(self, cfg: DetectorConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.backbone = Backbone(cfg)
        c5 = cfg.channels[-1]
        self.fc6 = nn.Linear(c5 * cfg.roi_size**2, cfg.fc_width)
        self.fc7 = nn.Linear(cfg.fc_width, cfg.fc_width)
        self.cls_score = nn.Linear(cfg.fc_width, cfg.n_classes + 1)
        self.bbox_pred = nn.Linear(cfg.fc_width, 4 * (cfg.n_classes + 1))
        self.drop = nn.Dropout(cfg.dropout)
        for layer in (*self.parameter_layers(), self.cls_score, self.bbox_pred):
            nn.init.zeros_(layer.bias)
        nn.init.normal_(self.cls_score.weight, std=0.01)  # Fast R-CNN's initialisation of its heads
        nn.init.normal_(self.bbox_pred.weight, std=0.001)

    def parameter_layers(self) -> list[nn.Module]:
        """conv1 ... conv5, fc6, fc7: the layers the scale calibration rescales, input to output."""
        return [*(getattr(self.backbone, n) for n in TOWER_LAYERS), self.fc6, self.fc7]

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def pooled_fc7(self, feats: torch.Tensor, rois: torch.Tensor) -> torch.Tensor:
        """conv5 maps (B, C5, h, w), rois (R, 5) [b, x1, y1, x2, y2] in input pixels -> fc7 (R, fc_width)."""
        pooled = roi_max_pool(feats, rois, self.cfg.roi_size, 1.0 / STRIDE)  # (R, C5, 6, 6)
        h = self.drop(F.relu(self.fc6(pooled.flatten(1))))  # (R, fc)
        return self.drop(F.relu(self.fc7(h)))  # (R, fc)

    def fc7_features(self, images: torch.Tensor, rois: torch.Tensor) -> torch.Tensor:
        """images (B, 3, H, W), rois (R, 5) -> (R, fc_width): the top the calibration measures."""
        return self.pooled_fc7(self.backbone(images), rois)

    def head(self, feats: torch.Tensor, rois: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """conv5 maps and RoIs -> class logits (R, K + 1), normalised box deltas (R, K + 1, 4)."""
        h = self.pooled_fc7(feats, rois)
        return self.cls_score(h), self.bbox_pred(h).unflatten(1, (self.cfg.n_classes + 1, 4))

    def forward(self, images: torch.Tensor, rois: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.head(self.backbone(images), rois)

    def losses(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """batch: images, rois, labels (R,) 0 = background, targets (R, 4) deltas to the RoI's box."""
        device = self.device
        images, rois = batch["images"].to(device), batch["rois"].to(device)
        labels, targets = batch["labels"].to(device), batch["targets"].to(device)
        logits, deltas = self(images, rois)
        cls = F.cross_entropy(logits, labels)
        fg = labels > 0
        chosen = deltas[torch.arange(len(labels), device=device), labels]  # (R, 4) the true class's
        box = F.smooth_l1_loss(chosen[fg], targets[fg], reduction="sum", beta=1.0) / max(1, len(labels))
        accuracy = (logits.argmax(1) == labels).float().mean()
        return {"loss": cls + box, "cls": cls.detach(), "box": box.detach(), "accuracy": accuracy.detach(),
                "foreground": fg.float().mean()}


def detector_config_dict(cfg: DetectorConfig) -> dict[str, Any]:
    """The plain dict stored beside the weights (tuples as lists)."""
    return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(cfg).items()}


def build_detector(config: dict[str, Any]) -> FastRCNN:
    """Rebuild from the dict saved in ``model.pt`` (``pipeline.saved_models.load_model``)."""
    return FastRCNN(DetectorConfig(**config))

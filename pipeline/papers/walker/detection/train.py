"""Fine-tuning the detector through the one training loop (``pipeline.training.fit``).

Two initialisations, each with the scale calibration ("+cal"):

* ``cvae``: conv1-conv5 from the trained walker CVAE's image tower (BN folded), fc6/fc7 by the
  data-dependent init, then every layer calibrated;
* ``scratch``: every layer by the data-dependent init, then calibrated.

SGD with momentum 0.9 and weight decay 5e-4 on weights, biases at twice the learning rate and
without decay, the learning rate divided by 10 after ``lr_step`` steps: Fast R-CNN's recipe
(the paper states no other).
"""

from __future__ import annotations

import logging
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch

from pipeline.atomic import write_json
from pipeline.papers.walker.detection.calibration import calibrate_between_layers, init_within_layers
from pipeline.papers.walker.detection.data import DetectionSet, Minibatches
from pipeline.papers.walker.detection.detector import DetectorConfig, FastRCNN, detector_config_dict
from pipeline.training import Minimize, TrainConfig, TrainingJob, fit

log = logging.getLogger(__name__)

INITS: tuple[str, ...] = ("cvae", "scratch")
CALIBRATION_LOG = "calibration.json"


def walker_tower_state(path: str | Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """The state dict and model config of a trained walker model.pt."""
    saved = torch.load(Path(path), map_location="cpu", weights_only=True)
    if "state_dicts" not in saved or "model" not in saved["state_dicts"]:
        raise KeyError(f"{path} is not a walker model written by pipeline.training.fit")
    return saved["state_dicts"]["model"], saved["model_config"]


def detector_config(sizes: dict[str, Any], data: DetectionSet, width: float) -> DetectorConfig:
    m = sizes["model"]
    return DetectorConfig(n_classes=len(data.classes), width=float(width), fc_width=int(m["fc_width"]),
                          roi_size=int(m["roi_size"]), dropout=float(m["dropout"]),
                          channel_mean=tuple(float(v) for v in data.channel_mean))


def initialise(model: FastRCNN, init: str, batches: Minibatches, sizes: dict[str, Any], seed: int,
               cvae: str | Path | None = None) -> list[dict[str, float]]:
    """Load the CVAE tower (``init == "cvae"``), data-dependent init of the rest, calibrate all layers."""
    if init not in INITS:
        raise ValueError(f"detector initialisation {init!r}: expected one of {INITS}")
    cal = sizes["calibration"]
    images = np.random.default_rng([seed, 2]).choice(len(batches.data), min(int(cal["images"]), len(batches.data)),
                                                     replace=False)
    batch = batches.batch(0, images)  # one fixed batch of training images and their RoIs
    generator = torch.Generator().manual_seed(int(seed))
    layers = model.parameter_layers()
    if init == "cvae":
        if cvae is None:
            raise ValueError("the cvae initialisation needs the CVAE's model.pt")
        state, config = walker_tower_state(cvae)
        model.backbone.load_walker_tower(state)
        fresh = layers[5:]  # fc6, fc7
        log.info("conv1-conv5 from %s (width %s)", cvae, config.get("width"))
    else:
        fresh = layers
    was_training = model.training
    model.eval()  # no dropout while measuring

    def run() -> torch.Tensor:
        return model.fc7_features(batch["images"], batch["rois"])

    init_within_layers(fresh, run, generator)
    history = calibrate_between_layers(layers, run, generator, int(cal["iterations"]), float(cal["tolerance"]))
    model.train(was_training)
    return history


def make_optimizer(model: FastRCNN, t: dict[str, Any]) -> tuple[torch.optim.SGD, torch.optim.lr_scheduler.StepLR]:
    """Fast R-CNN's SGD: weights at lr with decay, biases at 2 lr without."""
    weights = [p for n, p in model.named_parameters() if not n.endswith("bias")]
    biases = [p for n, p in model.named_parameters() if n.endswith("bias")]
    lr = float(t["lr"])
    optimizer = torch.optim.SGD([{"params": weights, "lr": lr, "weight_decay": float(t["weight_decay"])},
                                 {"params": biases, "lr": 2 * lr, "weight_decay": 0.0}],
                                lr=lr, momentum=float(t["momentum"]))
    return optimizer, torch.optim.lr_scheduler.StepLR(optimizer, int(t["lr_step"]), gamma=0.1)


def train_detector(job: TrainingJob, init: str) -> Path:
    """Fine-tune one detector (``job.inputs``: ``train`` prepared split, and ``cvae`` for that init)."""
    sizes = dict(job.sizes)
    data = DetectionSet.load(job.inputs["train"])
    cfg = detector_config(sizes, data, sizes["width"])
    torch.manual_seed(job.seed)
    model = FastRCNN(cfg)
    batches = Minibatches(data, sizes, job.seed)
    history = initialise(model, init, batches, sizes, job.seed, job.inputs.get("cvae"))
    write_json(Path(job.out_dir) / CALIBRATION_LOG, {"init": init, "rounds": history, "config": asdict(cfg)})
    t = sizes["train"]
    optimizer, scheduler = make_optimizer(model, t)
    log.info("detector %s seed %d: %d training images, %d classes, %d steps of %d images x %d RoIs",
             init, job.seed, len(data), len(data.classes), int(t["steps"]), batches.images_per_batch,
             batches.rois_per_image)
    run = TrainConfig(steps=int(t["steps"]), checkpoint_every=int(t["checkpoint_every"]),
                      log_every=int(t["log_every"]))
    return fit(Minimize(model, optimizer, scheduler), batches.from_step, run, job, detector_config_dict(cfg))

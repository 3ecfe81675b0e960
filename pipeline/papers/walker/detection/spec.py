"""Table 2's sizes per preset (torch-free; merged into walker's ``SIZES`` under ``detection``).

Paper values are Fast R-CNN's (Girshick 2015) on VOC 2012, since Walker et al. give no schedule
of their own: images rescaled to a shorter side of 600 (longer at most 1000), about 2,000
selective-search proposals per image (fast mode), minibatches of 2 images x 64 RoIs (a
quarter foreground), fc6/fc7 of 4096, RoI pooling to 6x6, SGD lr 1e-3 for 30k steps then 1e-4
for 10k, momentum 0.9, weight decay 5e-4; test NMS 0.3, at most 100 detections per image. The
calibration uses a batch of training images (Krähenbühl et al. use a few batches). Three seeds
per initialisation at every scale: the spread over seeds is what "better than scratch" is
measured against.
"""

from __future__ import annotations

from typing import Any

INITS: tuple[str, ...] = ("cvae", "scratch")
DATASET = "voc2012"

SIZES: dict[str, dict[str, Any]] = {
    "smoke": {
        "image": {"min_side": 48, "max_side": 64},  # Fast R-CNN's rescaling (shorter side, cap on longer)
        "proposals": {"max_boxes": 100, "min_size": 4, "mode": "fast", "workers": 1},
        "model": {"fc_width": 16, "roi_size": 6, "dropout": 0.5},
        # images: calibration batch; iterations/tolerance: between-layer rounds and stop criterion
        "calibration": {"images": 2, "iterations": 3, "tolerance": 0.01},
        "train": {"steps": 4, "images_per_batch": 2, "rois_per_image": 16, "fg_fraction": 0.25, "lr": 1e-3,
                  "lr_step": 3, "momentum": 0.9, "weight_decay": 5e-4, "checkpoint_every": 2, "log_every": 1},
        # roi_chunk: proposals scored at once; bootstrap: resamples of val images for the intervals
        "test": {"roi_chunk": 256, "max_per_image": 100, "bootstrap": 50},
        "seeds": 3,
    },
    "demo": {
        "image": {"min_side": 120, "max_side": 200},
        "proposals": {"max_boxes": 500, "min_size": 6, "mode": "fast", "workers": 2},
        "model": {"fc_width": 256, "roi_size": 6, "dropout": 0.5},
        "calibration": {"images": 8, "iterations": 10, "tolerance": 0.01},
        # lr: ten times Fast R-CNN's; at 1e-3 the small demo network barely leaves the class prior in 1,000 steps
        "train": {"steps": 1500, "images_per_batch": 2, "rois_per_image": 64, "fg_fraction": 0.25, "lr": 1e-2,
                  "lr_step": 1200, "momentum": 0.9, "weight_decay": 5e-4, "checkpoint_every": 250, "log_every": 50},
        "test": {"roi_chunk": 1024, "max_per_image": 100, "bootstrap": 500},
        "seeds": 3,
    },
    "paper": {
        "image": {"min_side": 600, "max_side": 1000},
        "proposals": {"max_boxes": 2000, "min_size": 16, "mode": "fast", "workers": 4},
        "model": {"fc_width": 4096, "roi_size": 6, "dropout": 0.5},
        "calibration": {"images": 16, "iterations": 10, "tolerance": 0.01},
        "train": {"steps": 40000, "images_per_batch": 2, "rois_per_image": 64, "fg_fraction": 0.25, "lr": 1e-3,
                  "lr_step": 30000, "momentum": 0.9, "weight_decay": 5e-4, "checkpoint_every": 1000,
                  "log_every": 100},
        "test": {"roi_chunk": 2048, "max_per_image": 100, "bootstrap": 1000},
        "seeds": 3,
    },
}


def seeds(sizes: dict[str, Any], seed: int) -> list[int]:
    """The training seeds of each initialisation: the config's seed and the next ones."""
    return [int(seed) + k for k in range(int(sizes["detection"]["seeds"]))]

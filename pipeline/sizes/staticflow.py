"""Sizes of staticflow (optical flow from a static frame) per scale: widths, schedules, counts.

The input side and the label grid are not here: they are the clip size of the staticflow
protocol (``clips.staticflow.size``: 64 / 120 / 200) and the all-conv net's output grid for it
(3 / 10 / 20), read from the data. Paper values (Sec. 2-4): 40 flow clusters, batch 125, Adam
(.9, .999), AlexNet lr 1e-4 for 55 epochs, all-conv lr 1e-3 divided by 10 after 3 epochs,
L2 1e-5, 81 epochs; the lrs and L2 are the algorithm (``pipeline.models.staticflow.paper_optim``).
"""

from __future__ import annotations

SIZES = {
    "smoke": {
        # width: multiplier on every hidden width (paper 1.0); n_clusters: flow codebook size
        "model": {"width": 1 / 16, "n_clusters": 12},
        # val_fraction: training videos held out per class for validation (by video, not frame);
        # mean_images: training images averaged into the mean frame (0 = all)
        "data": {"val_fraction": 0.25, "mean_images": 0, "codebook_batch": 1024, "codebook_init": 1},
        # epochs per net; decay_after_epochs: all-conv lr / 10 point; epoch_eval_images: training
        # images re-scored after each epoch for the curves (the validation set is scored whole)
        "train": {"batch_size": 4, "epochs": {"alexnet": 2, "allconv": 2}, "decay_after_epochs": 1,
                  "epoch_eval_images": 8, "checkpoint_every": 2, "log_every": 1, "workers": 0},
        # examples: test frames in the flow figure; video: iterated prediction and warping
        "eval": {"batch_size": 16, "examples": 2,
                 "video": {"arch": "alexnet", "predictions": 2, "frames_per_prediction": 2, "fps": 8}},
    },
    "demo": {
        "model": {"width": 1 / 4, "n_clusters": 40},
        "data": {"val_fraction": 0.15, "mean_images": 0, "codebook_batch": 4096, "codebook_init": 3},
        "train": {"batch_size": 32, "epochs": {"alexnet": 30, "allconv": 30}, "decay_after_epochs": 20,
                  "epoch_eval_images": 64, "checkpoint_every": 50, "log_every": 5, "workers": 0},
        "eval": {"batch_size": 64, "examples": 4,
                 "video": {"arch": "alexnet", "predictions": 5, "frames_per_prediction": 5, "fps": 8}},
    },
    "paper": {
        "model": {"width": 1.0, "n_clusters": 40},
        "data": {"val_fraction": 0.1, "mean_images": 0, "codebook_batch": 4096, "codebook_init": 3},
        "train": {"batch_size": 125, "epochs": {"alexnet": 55, "allconv": 81}, "decay_after_epochs": 3,
                  "epoch_eval_images": 4000, "checkpoint_every": 500, "log_every": 50, "workers": 4},
        "eval": {"batch_size": 250, "examples": 6,
                 "video": {"arch": "alexnet", "predictions": 5, "frames_per_prediction": 5, "fps": 8}},
    },
}

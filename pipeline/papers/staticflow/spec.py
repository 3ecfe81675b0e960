"""staticflow (optical flow from a static frame): what the graph needs to know, without torch.

The paper's sizes per preset, the nets it trains, the files each job reads, the tables and
figures it produces, and the numbers the paper reports (``REFERENCE``: the ``paper`` column only).

Sizes: widths, schedules, counts.

The input side and the label grid are not here: they are the clip size of the staticflow
protocol (``clips.staticflow.size``: 64 / 120 / 200) and the all-conv net's output grid for it
(3 / 10 / 20), read from the data. Paper values (Sec. 2-4): 40 flow clusters, batch 125, Adam
(.9, .999), AlexNet lr 1e-4 for 55 epochs, all-conv lr 1e-3 divided by 10 after 3 epochs,
L2 1e-5, 81 epochs; the lrs and L2 are the algorithm (``pipeline.papers.staticflow.model.paper_optim``).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

PAPER = "staticflow"
DATASETS: tuple[str, ...] = ("hmdb51",)
ARCHS: tuple[str, ...] = ("alexnet", "allconv")
BASELINES: tuple[str, ...] = ("nomotion", "prior", "meanflow")
PREDICTORS: tuple[str, ...] = ARCHS + BASELINES
"""Scored predictors: the two nets, "no motion" everywhere, the training class frequencies (the
most frequent cluster at top-1) and the class frequencies of each grid position (mean flow)."""
CLIP_SETS: tuple[tuple[str, str], ...] = (("hmdb51", "staticflow"),)

SIZES = {
    "smoke": {
        # width: multiplier on every hidden width (paper 1.0); n_clusters: flow codebook size
        "model": {"width": 1 / 16, "n_clusters": 12},
        # split: "frames" (the paper: every frame of every video shuffled into train / val / test,
        # val_fraction and test_fraction of the frames) or "videos" (official test videos; val_fraction
        # of the training videos held out per class; test_fraction unused); the same at every preset.
        # mean_images: training images averaged into the mean frame (0 = all)
        "data": {"split": "frames", "val_fraction": 0.25, "test_fraction": 0.25, "mean_images": 0,
                 "codebook_batch": 1024, "codebook_init": 1},
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
        "data": {"split": "frames", "val_fraction": 0.15, "test_fraction": 0.15, "mean_images": 0,
                 "codebook_batch": 4096, "codebook_init": 3},
        "train": {"batch_size": 32, "epochs": {"alexnet": 60, "allconv": 30}, "decay_after_epochs": 20,
                  "epoch_eval_images": 64, "checkpoint_every": 50, "log_every": 5, "workers": 0},
        "eval": {"batch_size": 64, "examples": 4,
                 "video": {"arch": "alexnet", "predictions": 5, "frames_per_prediction": 5, "fps": 8}},
    },
    "paper": {
        "model": {"width": 1.0, "n_clusters": 40},
        # the paper gives no fractions for its frame split
        "data": {"split": "frames", "val_fraction": 0.1, "test_fraction": 0.1, "mean_images": 0,
                 "codebook_batch": 4096, "codebook_init": 3},
        "train": {"batch_size": 125, "epochs": {"alexnet": 55, "allconv": 81}, "decay_after_epochs": 3,
                  "epoch_eval_images": 4000, "checkpoint_every": 500, "log_every": 50, "workers": 4},
        "eval": {"batch_size": 250, "examples": 6,
                 "video": {"arch": "alexnet", "predictions": 5, "frames_per_prediction": 5, "fps": 8}},
    },
}


REFERENCE: dict[str, dict[str, dict[str, float]]] = {
    # Static-frame flow prediction, Table 3: validation (%).
    "hmdb51_flow_validation": {
        "AlexNet": {"recall": 11.12, "precision": 15.88, "top1": 76.67, "top5": 91.9, "top10": 96.5},
        "All-Conv": {"recall": 9.44, "precision": 12.73, "top1": 75.89, "top5": 90.7, "top10": 96.3},
    },
    # Static-frame flow prediction, Table 4: test.
    "hmdb51_flow_test": {
        "[11]": {"L2": 1.23, "Dir": 0.000, "Ori": 0.461},
        "[18]": {"L2": 1.21, "Dir": 0.016, "Ori": 0.636, "top5": 90.2, "top10": 95.9, "params": 112e6},
        "All-Conv": {"L2": 1.12, "Dir": 0.036, "Ori": 0.664, "top5": 90.7, "top10": 96.3, "params": 7.16e6},
        "AlexNet": {"L2": 1.10, "Dir": 0.096, "Ori": 0.676, "top5": 91.9, "top10": 96.5, "params": 112e6},
    },
}
"""The paper's numbers, table -> row -> column -> value, as printed."""


def models(sources: Mapping[str, str], sizes: Mapping[str, Any] | None = None) -> list[tuple[str, str]]:
    """(dataset, variant) pairs to train: both nets on HMDB-51 unless it is off."""
    return [(d, arch) for d in DATASETS if sources.get(d, "off") != "off" for arch in ARCHS]


def targets(sources: Mapping[str, str], results: Path, sizes: Mapping[str, Any]) -> list[Path]:
    """Tables 3-4, Figs. 6-11 and the video from one frame (none when HMDB-51 is off)."""
    if sources.get(DATASETS[0], "off") == "off":
        return []
    tables = [results / "tables" / f"hmdb51_flow_{s}.csv" for s in ("validation", "test")]
    figures = [results / "figures" / f"hmdb51_flow_{n}.png"
               for n in ("training", "confusion", "pixel_accuracy", "examples", "video")]
    return tables + figures + [results / "figures" / "hmdb51_flow_video.mp4"]


def prepared_files(data_root: Path, dataset: str) -> dict[str, str]:
    """Training-set statistics every later job reads: hold-out videos, mean frame, flow codebook."""
    folder = Path(data_root) / "prepared" / PAPER / dataset
    return {
        "codebook": str(folder / "codebook.npz"),
        "mean_image": str(folder / "mean_image.npy"),
        "split": str(folder / "split.json"),
    }


def flow_summary(data_root: Path, dataset: str) -> str:
    """The flow stage's summary: written once every flow shard of the dataset exists."""
    return str(Path(data_root) / "flow" / dataset / "staticflow" / "summary.csv")


def inputs(dataset: str, variant: str, data_root: Path) -> dict[str, str]:
    """Files a training job reads."""
    check(dataset, variant)
    return {"summary": flow_summary(data_root, dataset), **prepared_files(data_root, dataset)}


def training_sizes(sizes: Mapping[str, Any], dataset: str, variant: str) -> dict[str, Any]:
    """A net reads the model widths and its own schedule: the other net's epochs never retrain it."""
    return {"model": sizes["model"], "train": {**sizes["train"], "epochs": {variant: sizes["train"]["epochs"][variant]}}}


def check(dataset: str, variant: str) -> None:
    if dataset not in DATASETS:
        raise KeyError(f"staticflow has no dataset {dataset!r}; known: {', '.join(DATASETS)}")
    if variant not in ARCHS:
        raise KeyError(f"staticflow has no variant {variant!r}; known: {', '.join(ARCHS)}")

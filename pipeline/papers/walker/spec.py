"""walker (Walker et al. 2016, trajectory CVAE): what the graph needs to know, without torch.

The paper's sizes per preset, the datasets and variants it trains, the files each job reads,
the tables and figures it produces, and the numbers the paper reports (``REFERENCE``, the only
place they live: they fill the ``paper`` column of our tables and nothing else).

Sizes: widths, schedules, sample counts.

The input size is not here: it is the walker clips' (``clips.walker``: 64x48 / 160x120 /
320x240), read from the data. The coarse grid (stride 16) must cover it with an even margin:
3x4 / 8x10 / 16x20 (the paper's 16x20 for 240 rows has 8 rows of padding top and bottom).
Paper values (Sec. 3.4, 4.1): 8 latent dims, coarse 16x20 output with 32x40 and 64x80 heads
trained after the coarse one converges, 800 samples per test image for the Parzen window,
bandwidths grid-searched on training data, 2,800 THUMOS test frames, 10 k-means clusters of
800 samples for Figs. 3-4, a linear walk between two latent points for Fig. 6. The paper gives
no optimiser or schedule: Adam and the step counts below are this project's choice. The
optical-flow baseline is the staticflow AlexNet ([4] in the paper) trained on the same UCF101 clips (``flownet``, staticflow's paper schedule).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pipeline.papers.walker.detection.spec import SIZES as DETECTION_SIZES

PAPER = "walker"
DATASETS: tuple[str, ...] = ("ucf101",)
TEST_DATASET = "thumos"
VARIANTS: tuple[str, ...] = ("cvae", "regressor", "flownet")
BASELINES: tuple[str, ...] = ("nomotion", "meanmotion")
PREDICTORS: tuple[str, ...] = VARIANTS + BASELINES
"""Scored predictors: the three trained models and two without a model ("no motion" everywhere,
the mean training motion), scored by the same code."""
CLIP_SETS: tuple[tuple[str, str], ...] = (("ucf101", "walker"), ("thumos", "walker"))
"""The (video dataset, clip protocol) pairs walker reads: UCF101 to train, THUMOS to test."""

SIZES = {
    "smoke": {
        # coarse_size: (rows, cols) of the 1/16 output; width: multiplier on every hidden width
        # (paper 1.0); fine_levels: coarse-to-fine heads (1/8, 1/4)
        "model": {"coarse_size": [3, 4], "width": 1 / 16, "latent_dim": 8, "magnitude_latent_dim": 8, "fine_levels": 1},
        # coarse_steps on the 1/16 output, then fine_steps on every head (coarse-to-fine);
        # validate_every: steps between hold-out losses (0: never); lr_decay_at: share of all steps
        # after which lr drops tenfold (0: never; the paper states no optimiser: Adam with one drop is
        # ours, so the last weights are not wherever a noisy constant-lr walk happened to stop)
        "train": {"batch_size": 2, "coarse_steps": 4, "fine_steps": 2, "lr": 1e-3, "lr_decay_at": 0.75,
                  "validate_every": 3, "checkpoint_every": 2, "log_every": 1, "workers": 0},
        # holdout_fraction: training videos held out per class (Parzen bandwidths, flow-net curves);
        # statistics_images: training frames the mean frame and the flow-net codebook use (0 = all)
        "data": {"holdout_fraction": 0.25, "statistics_images": 0},
        # the staticflow AlexNet on the same clips, resized to image_size^2 -> out_size^2 grid
        "flownet": {"image_size": 64, "out_size": 4, "width": 1 / 16, "n_clusters": 12, "batch_size": 4,
                    "epochs": 1, "epoch_eval_images": 4, "codebook_batch": 1024, "codebook_init": 1},
        # test_images: THUMOS test frames scored (0 = all); bandwidth_images: held-out training
        # frames for the bandwidth grid search; samples: per image (Parzen and min-Euclidean);
        # mean_images: training frames averaged for the mean-motion baseline (0 = all)
        "eval": {"test_images": 0, "bandwidth_images": 4, "samples": 8, "sample_chunk": 4, "batch_size": 2,
                 "grid_points": 13, "refine_points": 5, "mean_images": 0},
        # Figs. 3-4: examples drawn, samples per example clustered into `clusters` by k-means;
        # Fig. 6: futures along the latent segment between the two largest moving clusters
        "examples": {"images": 2, "samples": 8, "clusters": 3, "shown": 2, "interpolation_steps": 3},
    },
    "demo": {
        "model": {"coarse_size": [8, 10], "width": 1 / 8, "latent_dim": 8, "magnitude_latent_dim": 8, "fine_levels": 0},
        "train": {"batch_size": 16, "coarse_steps": 1000, "fine_steps": 0, "lr": 1e-3, "lr_decay_at": 0.75,
                  "validate_every": 50, "checkpoint_every": 50, "log_every": 10, "workers": 0},
        "data": {"holdout_fraction": 0.15, "statistics_images": 0},
        # out_size: one softmax per coarse row (8; the paper's 20 sits just above its 16 coarse rows).
        # Sampled once per position, a coarser grid gives more coherent samples: the flow net's
        # place in Table 1 moves with it (measured in workflow/report/walker/thumos_nll.rst)
        "flownet": {"image_size": 120, "out_size": 8, "width": 1 / 4, "n_clusters": 40, "batch_size": 32,
                    "epochs": 30, "epoch_eval_images": 64, "codebook_batch": 4096, "codebook_init": 3},
        "eval": {"test_images": 0, "bandwidth_images": 64, "samples": 100, "sample_chunk": 50, "batch_size": 16,
                 "grid_points": 29, "refine_points": 11, "mean_images": 0},
        "examples": {"images": 4, "samples": 100, "clusters": 10, "shown": 2, "interpolation_steps": 7},
    },
    "paper": {
        "model": {"coarse_size": [16, 20], "width": 1.0, "latent_dim": 8, "magnitude_latent_dim": 8, "fine_levels": 2},
        "train": {"batch_size": 32, "coarse_steps": 150_000, "fine_steps": 50_000, "lr": 1e-4, "lr_decay_at": 0.75,
                  "validate_every": 5000, "checkpoint_every": 1000, "log_every": 100, "workers": 4},
        "data": {"holdout_fraction": 0.02, "statistics_images": 20000},
        "flownet": {"image_size": 200, "out_size": 20, "width": 1.0, "n_clusters": 40, "batch_size": 125,
                    "epochs": 55, "epoch_eval_images": 4000, "codebook_batch": 4096, "codebook_init": 3},
        "eval": {"test_images": 2800, "bandwidth_images": 500, "samples": 800, "sample_chunk": 100,
                 "batch_size": 8, "grid_points": 29, "refine_points": 11, "mean_images": 20000},
        "examples": {"images": 8, "samples": 800, "clusters": 10, "shown": 2, "interpolation_steps": 7},
    },
}

for _scale, _detection in DETECTION_SIZES.items():  # Table 2 (detection transfer): its own module's sizes
    SIZES[_scale]["detection"] = _detection


REFERENCE: dict[str, dict[str, dict[str, float]]] = {
    # Walker et al. 2016, Table 1: negative log-likelihood on THUMOS 2015 (lower is better).
    "thumos_nll": {
        "Regressor": {"nll": 11463},
        "Optical Flow": {"nll": 11734},
        "Ours (CVAE)": {"nll": 11082},
    },
    # Walker et al. 2016, Table 2: VOC 2012 detection mAP (per-class columns garbled in our copy).
    "voc2012_detection": {
        "scratch+cal": {"mAP": 40.6},
        "kmeans+cal": {"mAP": 46.1},
        "rel. pos.+cal": {"mAP": 52.3},
        "egomotion+cal": {"mAP": 44.9},
        "vid. embed (1.5M)": {"mAP": 46.2},
        "vid. embed (5M)": {"mAP": 47.0},
        "vid. embed (8M)": {"mAP": 47.5},
        "vid. embed (8M)+cal": {"mAP": 42.2},
        "ours+cal": {"mAP": 47.3},
    },
}
"""The paper's numbers, table -> row -> column -> value, as printed."""


def models(sources: Mapping[str, str], sizes: Mapping[str, Any] | None = None) -> list[tuple[str, str]]:
    """(dataset, variant) pairs to train: the CVAE and both baselines on UCF101 unless it is off."""
    return [(d, v) for d in DATASETS if sources.get(d, "off") != "off" for v in VARIANTS]


def targets(sources: Mapping[str, str], results: Path, sizes: Mapping[str, Any]) -> list[Path]:
    """The tables and figures walker produces (none when UCF101 or THUMOS is off)."""
    if sources.get(DATASETS[0], "off") == "off" or sources.get(TEST_DATASET, "off") == "off":
        return []
    if sources.get(TEST_DATASET) == "url":
        # fail at parse time, not after hours of training: the url source has no test videos
        raise ValueError(
            "datasets.thumos.source: url brings only THUMOS 2015's validation videos, and walker tests on its "
            "test videos, which thumos.info hands out after registration: download them there and set "
            "datasets: {thumos: {source: path, path: <folder>}} (or leave walker out of `papers`)")
    return [results / "tables" / "thumos_nll.csv", results / "figures" / "thumos_min_euclidean.png",
            results / "figures" / "thumos_trajectory_samples.png", results / "figures" / "thumos_latent_interpolation.png",
            results / "figures" / "walker_training.png",
            *([results / "tables" / "voc2012_detection.csv"] if sources.get("voc2012", "off") != "off" else [])]


PREPARE_FLOWNET_KEYS: tuple[str, ...] = ("out_size", "n_clusters", "codebook_batch", "codebook_init")


def prepare_sizes(sizes: Mapping[str, Any]) -> dict[str, Any]:
    """The sizes :func:`pipeline.papers.walker.data.prepare` reads, and nothing else: a changed
    schedule of the flow net (its epochs, batch, width) must not redo the hold-out split, the mean
    frame and the codebook, and with them retrain every walker model."""
    return {"data": dict(sizes["data"]), "flownet": {k: sizes["flownet"][k] for k in PREPARE_FLOWNET_KEYS}}


def trajectory_summary(data_root: Path, dataset: str) -> str:
    """The trajectory stage's summary: written once every trajectory shard of the dataset exists."""
    return str(Path(data_root) / "trajectories" / dataset / "walker" / "summary.csv")


def prepared_files(data_root: Path, dataset: str = "ucf101") -> dict[str, str]:
    """Training-set statistics every later job reads: hold-out videos, mean frame, flow codebook."""
    folder = Path(data_root) / "prepared" / PAPER / dataset
    return {
        "mean_image": str(folder / "mean_image.npy"),
        "split": str(folder / "split.json"),
        "flow_codebook": str(folder / "flow_codebook.npz"),
    }


def inputs(dataset: str, variant: str, data_root: Path) -> dict[str, str]:
    """Files a training job reads."""
    check(dataset, variant)
    files = prepared_files(data_root, dataset)
    if variant != "flownet":
        files.pop("flow_codebook")
    return {"summary": trajectory_summary(data_root, dataset), **files}


def training_sizes(sizes: Mapping[str, Any], dataset: str, variant: str) -> dict[str, Any]:
    """The flow-net baseline reads ``flownet``, the CVAE and regressor ``model``: nothing else retrains them."""
    key = "flownet" if variant == "flownet" else "model"
    return {key: sizes[key], "train": sizes["train"]}


def check(dataset: str, variant: str) -> None:
    if dataset not in DATASETS:
        raise KeyError(f"walker trains on {', '.join(DATASETS)}, not {dataset!r}")
    if variant not in VARIANTS:
        raise KeyError(f"walker has no variant {variant!r}; known: {', '.join(VARIANTS)}")

"""staticflow's figures: training curves (Figs. 6-8), confusion matrices (Fig. 9), per-position
top-1 accuracy (Fig. 11), predicted flows in colour (Figs. 1, 10) and the generated video's strip.

Each is drawn from files earlier jobs saved (training logs beside the weights, evaluation JSON,
example shards), so one figure regenerates alone. Flow colours are the Middlebury coding of
:mod:`pipeline.plots`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from pipeline.atomic import save_figure
from pipeline.papers.staticflow.codebook import labels_to_flow
from pipeline.plots import colour_wheel, flow_to_rgb
from pipeline.shards import open_shard

NAMES = {"alexnet": "AlexNet", "allconv": "All-Conv", "nomotion": "No motion", "prior": "Class prior",
         "meanflow": "Mean training flow"}


def training_curves_figure(model_dirs: Mapping[str, Path], path: str | Path) -> Path:
    """Training loss per step and, per epoch, top-1 and mean recall on the training slice and validation.

    ``model_dirs``: arch -> folder of its model.pt, holding ``log.csv`` (the loop's) and
    ``epoch_log.csv`` (the per-epoch scores).
    """
    fig = Figure(figsize=(12, 3.4), dpi=100, layout="constrained")
    ax_loss, ax_top1, ax_recall = fig.subplots(1, 3)
    for i, (arch, folder) in enumerate(model_dirs.items()):
        colour = f"C{i}"
        steps = pd.read_csv(Path(folder) / "log.csv")
        epochs = pd.read_csv(Path(folder) / "epoch_log.csv")
        per_epoch = float(epochs["step"].iloc[0] / epochs["epoch"].iloc[0])
        ax_loss.plot(steps["step"] / per_epoch, steps["loss"], color=colour, lw=1, label=f"{NAMES.get(arch, arch)} train")
        val = epochs[epochs["set"] == "val"]
        ax_loss.plot(val["epoch"], val["loss"], color=colour, ls="--", marker=".", label=f"{NAMES.get(arch, arch)} val")
        for ax, key in ((ax_top1, "top1"), (ax_recall, "recall")):
            for name, style in (("train", "-"), ("val", "--")):
                part = epochs[epochs["set"] == name]
                ax.plot(part["epoch"], 100 * part[key], color=colour, ls=style, marker=".",
                        label=f"{NAMES.get(arch, arch)} {name}")
    ax_loss.set(xlabel="epoch", ylabel="cross-entropy summed over the grid", title="loss (Fig. 6)")
    ax_top1.set(xlabel="epoch", ylabel="%", title="top-1 accuracy over positions (Fig. 7)")
    ax_recall.set(xlabel="epoch", ylabel="%", title="mean per-cluster recall (Fig. 8)")
    for ax in (ax_loss, ax_top1, ax_recall):
        ax.legend(fontsize=7)
        ax.grid(alpha=0.3)
    return save_figure(fig, path)


def _scores(path: Path) -> dict:
    return json.loads(Path(path).read_text())


def confusion_figure(scores: Mapping[str, Path], path: str | Path, split: str = "val") -> Path:
    """Row-normalised confusion matrices (rows: true cluster, columns: predicted), Fig. 9."""
    fig = Figure(figsize=(4.2 * len(scores), 4.0), dpi=100, layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(scores)))
    for ax, (name, file) in zip(axes, scores.items()):
        conf = np.asarray(_scores(file)[split]["confusion"], np.float64)
        rows = conf / np.maximum(conf.sum(axis=1, keepdims=True), 1)
        im = ax.imshow(rows, vmin=0, vmax=1, cmap="gray", interpolation="nearest")
        ax.set(title=f"{NAMES.get(name, name)} ({'validation' if split == 'val' else split})",
               xlabel="predicted cluster", ylabel="true cluster (0 = slowest)")
    fig.colorbar(im, ax=axes.tolist(), shrink=0.8, label="fraction of the true cluster's positions")
    return save_figure(fig, path)


def pixel_accuracy_figure(scores: Mapping[str, Path], path: str | Path, split: str = "val") -> Path:
    """Top-1 accuracy of every grid position (Fig. 11), beside the no-motion predictor's."""
    fig = Figure(figsize=(3.4 * len(scores), 3.2), dpi=100, layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(scores)))
    for ax, (name, file) in zip(axes, scores.items()):
        acc = np.asarray(_scores(file)[split]["pixel_top1"])
        im = ax.imshow(acc, vmin=0, vmax=1, cmap="viridis", interpolation="nearest")
        ax.set_title(f"{NAMES.get(name, name)}: mean {acc.mean():.2f}", fontsize=9)
        ax.set_axis_off()
    fig.colorbar(im, ax=axes.tolist(), shrink=0.8, label="top-1 accuracy")
    return save_figure(fig, path)


def flow_examples_figure(examples: Mapping[str, Path], path: str | Path) -> Path:
    """Test frames, their flow, its clustering and each net's expected flow (Figs. 1, 2, 10).

    Every flow panel is upsampled from the label grid and shares one colour scale per row.
    """


    groups = {name: open_shard(p) for name, p in examples.items()}
    first = next(iter(groups.values()))
    images, flows, labels = (np.asarray(first[k]) for k in ("image", "flow", "labels"))
    centroids = np.asarray(first.attrs["centroids"], np.float32)
    columns = ["frame", "true flow", "clustered"] + [NAMES.get(n, n) for n in groups]
    n = len(images)
    fig = Figure(figsize=(2.1 * (len(columns) + 0.6), 2.1 * n + 0.3), dpi=100, layout="constrained")
    axes = fig.subplots(n, len(columns) + 1, squeeze=False, width_ratios=[1] * len(columns) + [0.6])
    size = images.shape[1]
    for i in range(n):
        panels = [flows[i], labels_to_flow(labels[i], centroids)]
        panels += [np.asarray(g["predicted_flow"][i]) for g in groups.values()]
        top = max(float(np.hypot(*f.reshape(-1, 2).T).max()) for f in panels[:2]) or 1.0
        axes[i, 0].imshow(images[i])
        for j, field in enumerate(panels, start=1):
            big = cv2.resize(field.astype(np.float32), (size, size), interpolation=cv2.INTER_NEAREST)
            axes[i, j].imshow(images[i], alpha=0.35)
            axes[i, j].imshow(flow_to_rgb(big, top), alpha=0.75)
        axes[i, -1].imshow(colour_wheel())
        axes[i, -1].set_title(f"rim {top:.1f} px", fontsize=7)
        for ax in axes[i]:
            ax.set_axis_off()
    for j, name in enumerate(columns):
        axes[0, j].set_title(name, fontsize=9)
    return save_figure(fig, path)


def video_strip_figure(
    path: str | Path, frames: np.ndarray, flows: np.ndarray, per_prediction: int, arch: str
) -> Path:
    """The generated video as a strip: the input, each predicted flow and the frames it warps to."""
    predictions = len(flows)
    fig = Figure(figsize=(1.6 * (per_prediction + 2), 1.7 * predictions + 0.4), dpi=100, layout="constrained")
    axes = fig.subplots(predictions, per_prediction + 2, squeeze=False)
    top = float(np.hypot(*flows.reshape(-1, 2).T).max()) or 1.0
    for p in range(predictions):
        axes[p, 0].imshow(frames[p * per_prediction])
        axes[p, 0].set_title("input" if p == 0 else f"input = frame {p * per_prediction}", fontsize=8)
        axes[p, 1].imshow(flow_to_rgb(flows[p], top))
        axes[p, 1].set_title(f"predicted flow {p + 1}", fontsize=8)
        for k in range(per_prediction):
            axes[p, k + 2].imshow(frames[1 + p * per_prediction + k])
            axes[p, k + 2].set_title(f"frame {1 + p * per_prediction + k}", fontsize=8)
    for ax in axes.ravel():
        ax.set_axis_off()
    fig.suptitle(f"{NAMES.get(arch, arch)}: {predictions} predictions x {per_prediction} frames from one frame "
                 f"(flow rim {top:.1f} px)", fontsize=9)
    return save_figure(fig, path)

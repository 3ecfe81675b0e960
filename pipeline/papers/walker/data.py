"""walker's data: UCF101 / THUMOS trajectory shards as the items its models train and are scored on.

Training data is all of UCF101, official test list included ("all the videos except for a small
hold out set for every action");
the test set is THUMOS. :func:`prepare` fixes that per-class video hold-out, the mean training
frame and the flow codebook of the optical-flow baseline, once, as files every later job reads.

The optical-flow baseline (staticflow's AlexNet, "[4] ... trained on the same dataset") reads
the frame resized to a square and predicts a softmax over a flow codebook on a square grid. Its
flow label is the staticflow target (mean displacement from the frame to each of the next three)
read off the pixel trajectories, so no second flow computation is needed; vectors are in pixels
of the walker frame.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from pipeline.atomic import load_array, read_json, save_array, write_json
from pipeline.batches import (
    item_table,
    map_rows,
    mean_frame,
    normalize_image,
    shards_of,
    split_by_video,
    split_rows,
    spread,
)
from pipeline.papers.staticflow import (
    FlowNetData,
    fit_codebook,
    load_codebook,
    save_codebook,
)
from pipeline.shards import ShardDataset
from pipeline.trajectories import dct_decode, dct_encode

log = logging.getLogger(__name__)

TRAIN_SPLITS = ("train", "test")
"""UCF101 splits walker trains on: "all the videos except for a small hold out set for every
action" (sec. 4), so the official test list trains too (about 650,000 frames at every 3rd frame)."""
FLOW_FRAMES = 3  # the staticflow label: mean displacement to each of the next three frames
TRAJECTORY_STEPS = 30  # offsets of frames 1..30 of the one-second clip


def flow_weights(n_coefficients: int = 5) -> np.ndarray:
    """(k,) weights w with sum_k w_k c_k = mean offset over frames 1..3 of a track with DCT coefs c."""

    eye = np.eye(2 * n_coefficients, dtype=np.float32)[:n_coefficients]  # unit x coefficients
    basis = dct_decode(eye, TRAJECTORY_STEPS)[..., 0]  # (k, 30) x offsets of each basis track
    return basis[:, :FLOW_FRAMES].mean(axis=1)


def ramp_coefficients(n_coefficients: int = 5) -> np.ndarray:
    """(k,) DCT coefficients of the track t -> t (t = 1..30): constant unit velocity over the second."""

    t = np.arange(1, TRAJECTORY_STEPS + 1, dtype=np.float32)
    track = np.stack([t, np.zeros_like(t)], axis=-1)  # (30, 2), moving along x
    return dct_encode(track, n_coefficients)[:n_coefficients]


def trajectory_flow(dct: np.ndarray) -> np.ndarray:
    """DCT trajectories (..., 10) -> the staticflow label of each pixel (..., 2), in pixels."""
    dct = np.asarray(dct, np.float32)
    w = flow_weights(dct.shape[-1] // 2)
    k = len(w)
    return np.stack([dct[..., :k] @ w, dct[..., k:] @ w], axis=-1)


def flow_label_grid(dct: np.ndarray, grid: int) -> np.ndarray:
    """Per-pixel DCT (H, W, 10) -> the flow net's label field (grid, grid, 2), walker-frame pixels.

    The whole frame is area-averaged onto the square grid (cells are wider than tall at 4:3),
    as the frame itself is resized to the square input.
    """

    flow = trajectory_flow(dct)  # (H, W, 2)
    return cv2.resize(flow, (grid, grid), interpolation=cv2.INTER_AREA)


class WalkerFrames:
    """Trajectory shard item {"image", "dct"} -> (image (3, H, W) float32, DCT (10, H, W) float32)."""

    arrays = ("image", "dct")

    def __init__(self, mean: np.ndarray) -> None:
        self.mean = np.asarray(mean, np.float32)

    def __call__(self, item: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        dct = np.asarray(item["dct"], np.float32).transpose(2, 0, 1)  # (10, H, W)
        return normalize_image(item["image"], self.mean), dct


class FlowNetFrames:
    """Trajectory shard item -> (frame resized to (3, S, S) float32, flow label (g, g, 2) px)."""

    arrays = ("image", "dct")

    def __init__(self, mean: np.ndarray, image_size: int, grid: int) -> None:

        self.size, self.grid = int(image_size), int(grid)
        self.mean = cv2.resize(np.asarray(mean, np.float32), (self.size, self.size), interpolation=cv2.INTER_AREA)

    def __call__(self, item: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:

        image = cv2.resize(item["image"], (self.size, self.size), interpolation=cv2.INTER_AREA)
        return normalize_image(image, self.mean), flow_label_grid(item["dct"], self.grid)


@dataclass
class WalkerData:
    """The clips of one walker dataset: a map-style dataset, its rows per split, sizes."""

    dataset: Any  # row -> (image (3, H, W) float32, DCT (10, H, W) float32)
    rows: dict[str, np.ndarray]  # train / val (the per-class hold-out) / test
    image_size: tuple[int, int]
    paths: list[Path]


def walker_data(summary: str | Path, mean_image: str | Path, split: str | Path | None = None) -> WalkerData:
    """Trajectory shards of a dataset, normalised with the (UCF101) mean frame.

    ``split``: the prepared hold-out record; without it nothing is held out (THUMOS).
    """

    paths = shards_of(summary)
    table = item_table(paths)
    record = read_json(split) if split is not None else {"holdout_videos": [], "train_splits": ["train"]}
    dataset = ShardDataset(paths, arrays=WalkerFrames.arrays, transform=WalkerFrames(load_array(mean_image)))
    if len(dataset) != len(table):
        raise ValueError(f"{summary}: dataset of {len(dataset)} items but {len(table)} listed")
    image = dataset[0][0]
    return WalkerData(dataset, _rows(table, record), tuple(image.shape[1:]), paths)


def _rows(table: Any, record: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """Rows per split as :func:`prepare` fixed them (hold-out videos, splits that train)."""
    return split_rows(table, record["holdout_videos"], tuple(record.get("train_splits", ["train"])))


def flownet_data(inputs: Mapping[str, Any], image_size: int, grid: int, summary: str | None = None) -> FlowNetData:
    """The walker clips as (square frame, flow label) pairs for the flow-net baseline."""

    summary = summary or inputs["summary"]
    paths = shards_of(summary)
    table = item_table(paths)
    record = read_json(inputs["split"])
    transform = FlowNetFrames(load_array(inputs["mean_image"]), image_size, grid)
    dataset = ShardDataset(paths, arrays=FlowNetFrames.arrays, transform=transform)
    return FlowNetData(dataset, _rows(table, record), load_codebook(inputs["flow_codebook"]), image_size, grid)


def prepare(summary: Path, out: Mapping[str, Path], sizes: Mapping[str, Any], seed: int) -> dict[str, Any]:
    """Per-class hold-out videos, mean training frame and the flow-net codebook of UCF101."""

    data, flownet = sizes["data"], sizes["flownet"]
    split = split_by_video(summary, float(data["holdout_fraction"]), TRAIN_SPLITS)
    paths, table, held, rows = split.paths, split.table, split.held, split.rows
    write_json(out["split"], {"holdout_videos": held, "holdout_fraction": float(data["holdout_fraction"]),
                             "train_splits": list(TRAIN_SPLITS),
                             **{f"{name}_clips": int(len(r)) for name, r in rows.items()}})
    chosen = spread(rows["train"], int(data["statistics_images"]))
    save_array(out["mean_image"], mean_frame(paths, table, chosen))
    grid = int(flownet["out_size"])
    flows = map_rows(paths, table, chosen, "dct", lambda d: flow_label_grid(d, grid))  # (N, g, g, 2)
    centroids = fit_codebook(flows, int(flownet["n_clusters"]), seed,
                             int(flownet["codebook_batch"]), int(flownet["codebook_init"]))
    save_codebook(out["flow_codebook"], centroids)
    log.info("walker: %s clips, %d hold-out videos, flow codebook of %d words (slowest %.3f px)",
             {n: len(r) for n, r in rows.items()}, len(held), len(centroids), float(np.hypot(*centroids[0])))
    return {"rows": {n: len(r) for n, r in rows.items()}, "holdout_videos": len(held)}



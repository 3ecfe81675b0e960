"""staticflow's data: HMDB-51 flow shards as (frame, flow label) items, with the training-set statistics.

``data.split`` chooses the sets. ``frames`` (the paper, the default): "the resulting 48,000
frames and their corresponding optical flows were shuffled and split into training, validation,
and test sets", official splits ignored; neighbouring frames of one video (5 frames apart) then
sit on both sides, so test frames have near-duplicates in training. ``videos``: the test set is
the official test videos and the validation set a small hold-out of whole training videos per
class, so frames of one video never straddle two sets. :func:`prepare` fixes the split, the mean
training frame and the 40-word flow codebook once, as files every later job reads.

Labels live on the all-conv output grid (``flow_grid`` of the flow shards, 20x20 at the paper's
200x200), with vectors in input-image pixels: "the flow at pixels spaced 10 units apart".
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pipeline.atomic import load_array, read_json, save_array, write_json
from pipeline.batches import (
    item_table,
    mean_frame,
    normalize_image,
    read_rows,
    shards_of,
    split_by_frame,
    split_by_video,
    split_rows,
)
from pipeline.papers.staticflow.codebook import (
    fit_codebook,
    load_codebook,
    save_codebook,
)
from pipeline.shards import ShardDataset, open_shard

log = logging.getLogger(__name__)


def label_flow(flow_grid: np.ndarray, image_size: int) -> np.ndarray:
    """Flow shard's label-grid flow (grid pixels) -> input-image pixels, (..., g, g, 2) float32."""
    flow_grid = np.asarray(flow_grid, np.float32)
    return flow_grid * (image_size / flow_grid.shape[-2])


class FlowFrames:
    """Shard item {"image", "flow_grid"} -> (image (3, S, S) float32, flow (g, g, 2) px float32)."""

    arrays = ("image", "flow_grid")

    def __init__(self, mean: np.ndarray) -> None:
        self.mean = np.asarray(mean, np.float32)

    def __call__(self, item: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        image = item["image"]
        return normalize_image(image, self.mean), label_flow(item["flow_grid"], image.shape[0])


@dataclass
class FlowNetData:
    """What a flow net trains and is scored on: a dataset of (image, flow) pairs and its rows."""

    dataset: Any  # map-style: row -> (image (3, S, S) float32, flow (g, g, 2) float32 px)
    rows: dict[str, np.ndarray]  # train / val (/ test) dataset rows
    centroids: np.ndarray  # (K, 2) flow codebook, px
    image_size: int
    grid: int


def staticflow_data(inputs: Mapping[str, Any]) -> FlowNetData:
    """The HMDB-51 flow shards with the prepared hold-out, mean frame and codebook."""

    paths = shards_of(inputs["summary"])
    table = item_table(paths)
    rows = prepared_rows(table, read_json(inputs["split"]))
    first = open_shard(paths[int(table["shard"].iloc[0])])
    image_size, grid = int(first["image"].shape[1]), int(first["flow_grid"].shape[1])
    dataset = ShardDataset(paths, arrays=FlowFrames.arrays, transform=FlowFrames(load_array(inputs["mean_image"])))
    if len(dataset) != len(table):
        raise ValueError(f"{inputs['summary']}: dataset of {len(dataset)} items but {len(table)} listed")
    return FlowNetData(dataset, rows, load_codebook(inputs["codebook"]), image_size, grid)


SPLITS_BY = ("frames", "videos")
"""``data.split`` choices: the paper's frame shuffle first."""


def prepared_rows(table: pd.DataFrame, record: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """Dataset rows per set as :func:`prepare` fixed them (its ``split.json`` record)."""
    if record.get("split", "videos") == "frames":
        return split_by_frame(table, float(record["val_fraction"]), float(record["test_fraction"]))
    return split_rows(table, record["val_videos"])


def prepare(summary: Path, out: Mapping[str, Path], sizes: Mapping[str, Any], seed: int) -> dict[str, Any]:
    """The split, mean training frame and flow codebook of the staticflow training set.

    The codebook is minibatch k-means over every training flow vector of the label grid.
    """

    data, k = sizes["data"], int(sizes["model"]["n_clusters"])
    by = str(data.get("split", "videos"))
    if by not in SPLITS_BY:
        raise ValueError(f"staticflow.data.split: {by!r} is not one of {', '.join(SPLITS_BY)}")
    if by == "frames":
        paths = shards_of(summary)
        table, held = item_table(paths), []
        record = {"split": "frames", "val_fraction": float(data["val_fraction"]),
                  "test_fraction": float(data["test_fraction"])}
    else:
        split = split_by_video(summary, float(data["val_fraction"]))
        paths, table, held = split.paths, split.table, split.held
        record = {"split": "videos", "val_videos": held, "val_fraction": float(data["val_fraction"])}
    rows = prepared_rows(table, record)
    if len(rows["train"]) == 0:
        raise ValueError(f"{summary}: no training frames left after the {by} split")
    write_json(out["split"], {**record, **{f"{name}_frames": int(len(r)) for name, r in rows.items()}})
    save_array(out["mean_image"], mean_frame(paths, table, rows["train"], int(data["mean_images"])))
    grids = read_rows(paths, table, rows["train"], "flow_grid")  # (N, g, g, 2) grid px
    image_size = int(np.asarray(_first_image_shape(paths, table))[0])
    centroids = fit_codebook(label_flow(grids, image_size), k, seed,
                             int(data["codebook_batch"]), int(data["codebook_init"]))
    save_codebook(out["codebook"], centroids)
    log.info("staticflow: %s frames (split by %s); %d val videos; codebook of %d words, slowest %.3f px",
             {n: len(r) for n, r in rows.items()}, by, len(held), k, float(np.hypot(*centroids[0])))
    return {"rows": {n: len(r) for n, r in rows.items()}, "val_videos": len(held), "split": by}


def _first_image_shape(paths: Sequence[Path], table: pd.DataFrame) -> tuple[int, ...]:

    return tuple(open_shard(paths[int(table["shard"].iloc[0])])["image"].shape[1:])



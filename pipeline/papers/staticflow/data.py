"""staticflow's data: HMDB-51 flow shards as (frame, flow label) items, with the training-set statistics.

The paper shuffles every frame into train / validation / test. Our manifest already splits
HMDB-51 by video (official split: train / test), so the test set is the official test videos
and the validation set is a small hold-out of whole training videos per class: frames of one
video never straddle two sets (the paper's frame shuffle would put near-duplicate neighbouring
frames on both sides). :func:`prepare` fixes that hold-out, the mean training frame and the
40-word flow codebook once, as files every later job reads.

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
    split = read_json(inputs["split"])
    rows = split_rows(table, split["val_videos"])
    first = open_shard(paths[int(table["shard"].iloc[0])])
    image_size, grid = int(first["image"].shape[1]), int(first["flow_grid"].shape[1])
    dataset = ShardDataset(paths, arrays=FlowFrames.arrays, transform=FlowFrames(load_array(inputs["mean_image"])))
    if len(dataset) != len(table):
        raise ValueError(f"{inputs['summary']}: dataset of {len(dataset)} items but {len(table)} listed")
    return FlowNetData(dataset, rows, load_codebook(inputs["codebook"]), image_size, grid)


def prepare(summary: Path, out: Mapping[str, Path], sizes: Mapping[str, Any], seed: int) -> dict[str, Any]:
    """Hold-out videos, mean training frame and flow codebook of the staticflow training set.

    The codebook is minibatch k-means over every training flow vector of the label grid.
    """

    data, k = sizes["data"], int(sizes["model"]["n_clusters"])
    split = split_by_video(summary, float(data["val_fraction"]))
    paths, table, held, rows = split.paths, split.table, split.held, split.rows
    write_json(out["split"], {"val_videos": held, "val_fraction": float(data["val_fraction"]),
                             **{f"{name}_frames": int(len(r)) for name, r in rows.items()}})
    save_array(out["mean_image"], mean_frame(paths, table, rows["train"], int(data["mean_images"])))
    grids = read_rows(paths, table, rows["train"], "flow_grid")  # (N, g, g, 2) grid px
    image_size = int(np.asarray(_first_image_shape(paths, table))[0])
    centroids = fit_codebook(label_flow(grids, image_size), k, seed,
                             int(data["codebook_batch"]), int(data["codebook_init"]))
    save_codebook(out["codebook"], centroids)
    log.info("staticflow: %s frames; %d val videos; codebook of %d words, slowest %.3f px",
             {n: len(r) for n, r in rows.items()}, len(held), k, float(np.hypot(*centroids[0])))
    return {"rows": {n: len(r) for n, r in rows.items()}, "val_videos": len(held)}


def _first_image_shape(paths: Sequence[Path], table: pd.DataFrame) -> tuple[int, ...]:

    return tuple(open_shard(paths[int(table["shard"].iloc[0])])["image"].shape[1:])



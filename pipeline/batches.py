"""Datasets and batches over shards, shared by every paper.

A stage summary lists its shards; :func:`item_table` turns them into one row per item (clip,
frame) with its video, label and split, so papers choose training, hold-out and test rows by
video, never by position in a shard. Batches are a function of (seed, step) alone
(:func:`step_batches`), so a training job killed at step k and resumed sees exactly the
batches an uninterrupted one would have.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch.utils.data import DataLoader

from pipeline.shards import SPLITS, open_shard, shard_length


def shards_of(summary_csv: str | Path) -> list[Path]:
    """Shard paths a stage summary lists (the summary sits beside its shards)."""
    summary_csv = Path(summary_csv)
    table = pd.read_csv(summary_csv)
    if "shard" not in table.columns:
        raise KeyError(f"{summary_csv} has no 'shard' column; is it a stage summary?")
    return [summary_csv.parent / str(name) for name in table["shard"]]


def item_table(paths: Sequence[Path]) -> pd.DataFrame:
    """One row per item of the shards, in ``ShardDataset(paths)`` order (row = dataset index).

    Columns: shard, item, video_id, label, split (name), start (the clip's first frame, -1 when
    the shard does not say).
    """

    frames = []
    for shard_id, path in enumerate(paths):
        group = open_shard(path)
        n = shard_length(group)
        if n == 0:
            continue
        videos = list(group.attrs.get("videos", []))
        video_index = np.asarray(group["video_index"][:])
        names = [videos[v] if 0 <= v < len(videos) else f"{Path(path).name}:{v}" for v in video_index]
        frames.append(pd.DataFrame({
            "shard": shard_id,
            "item": np.arange(n),
            "video_id": names,
            "label": np.asarray(group["label"][:]),
            "split": [SPLITS[s] for s in np.asarray(group["split"][:])],
            "start": np.asarray(group["start"][:]) if "start" in group else np.full(n, -1),
        }))
    if not frames:
        raise ValueError(f"no items in any of the {len(paths)} shards (first: {paths[0] if paths else None})")
    return pd.concat(frames, ignore_index=True)


def stable_rank(name: str) -> str:
    """A video's place in a hold-out queue: a hash of its id, so no seed or shard layout moves it."""
    return hashlib.md5(name.encode()).hexdigest()


def holdout_videos(table: pd.DataFrame, fraction: float, train_splits: Sequence[str] = ("train",)) -> list[str]:
    """A small hold-out of whole training videos, spread over the classes ("a small hold out set
    for every action"): ``round(fraction * n)`` of the n training videos (at least one), taken
    class by class in turn so every class gives one before any gives two, never a class's last
    video. Within a class videos are ranked by a hash of their id, so the choice depends neither
    on the shard layout nor on the seed. ``train_splits``: the splits whose videos train (walker
    trains on all of UCF101, its official test videos too)."""
    train = table[table["split"].isin(list(train_splits))]
    queues = [sorted(set(g["video_id"]), key=stable_rank) for _, g in train.groupby("label", sort=True)]
    total = sum(len(q) for q in queues)
    k = min(max(int(round(fraction * total)), 1), total - 1) if fraction > 0 and total >= 2 else 0
    held: list[str] = []
    depth = 0
    while len(held) < k and any(depth < len(q) - 1 for q in queues):
        for queue in queues:
            if depth < len(queue) - 1 and len(held) < k:
                held.append(queue[depth])
        depth += 1
    return sorted(held)


def split_rows(table: pd.DataFrame, held: Sequence[str], train_splits: Sequence[str] = ("train",)) -> dict[str, np.ndarray]:
    """Dataset rows of train (minus the hold-out), val (the hold-out) and test (the test split
    when it does not train)."""
    is_held = table["video_id"].isin(set(held)).to_numpy()
    is_train = table["split"].isin(list(train_splits)).to_numpy()
    return {
        "train": np.flatnonzero(is_train & ~is_held),
        "val": np.flatnonzero(is_train & is_held),
        "test": np.flatnonzero((table["split"] == "test").to_numpy() & ~is_train),
    }


def split_by_frame(table: pd.DataFrame, val_fraction: float, test_fraction: float) -> dict[str, np.ndarray]:
    """Rows of train / val / test with every frame of every video shuffled together, as the
    staticflow paper ("the resulting 48,000 frames ... were shuffled and split into training,
    validation, and test sets"); official splits are ignored. Neighbouring frames of one video
    land on both sides, so test frames have near-duplicates in training (:func:`split_rows` is
    the by-video alternative). Frames are ranked by a hash of (video, start), so the split depends
    neither on the shard layout nor on the seed; ``round(fraction * n)`` frames go to test, then
    to val, from the front of that order."""
    if not (0 <= val_fraction and 0 <= test_fraction and val_fraction + test_fraction < 1):
        raise ValueError(f"frame split: val_fraction {val_fraction} and test_fraction {test_fraction} "
                         "must be >= 0 and leave frames to train")
    ranks = [stable_rank(f"{v}:{s}") for v, s in zip(table["video_id"], table["start"], strict=True)]
    order = np.argsort(np.asarray(ranks), kind="stable")
    n_test, n_val = int(round(test_fraction * len(order))), int(round(val_fraction * len(order)))
    return {"train": np.sort(order[n_test + n_val:]), "val": np.sort(order[n_test : n_test + n_val]),
            "test": np.sort(order[:n_test])}


@dataclass
class VideoSplit:
    """A stage's shards, their items, and the rows of train / val (whole held-out videos) / test."""

    paths: list[Path]
    table: pd.DataFrame
    held: list[str]  # held-out training videos
    rows: dict[str, np.ndarray]


def split_by_video(summary: str | Path, holdout_fraction: float, train_splits: Sequence[str] = ("train",)) -> VideoSplit:
    """The shards a stage summary lists, split by whole videos with a per-class hold-out.

    A split with no training rows left fails here, naming the summary: every later statistic
    (mean frame, codebook, training) would be empty.
    """
    paths = shards_of(summary)
    table = item_table(paths)
    held = holdout_videos(table, float(holdout_fraction), train_splits)
    rows = split_rows(table, held, train_splits)
    if len(rows["train"]) == 0:
        raise ValueError(f"{summary}: no training items left after holding out {len(held)} videos")
    return VideoSplit(paths, table, held, rows)


def read_rows(paths: Sequence[Path], table: pd.DataFrame, rows: np.ndarray, name: str) -> np.ndarray:
    """Array ``name`` of the given dataset rows, read shard by shard (rows keep their order).

    A shard whose rows are a small part of it is read item by item, not whole.
    """

    rows = np.asarray(rows, np.int64)
    sub = table.iloc[rows]
    out: np.ndarray | None = None
    for shard_id, group in sub.groupby("shard", sort=False):
        array = open_shard(paths[int(shard_id)])[name]
        items = group["item"].to_numpy()
        if 4 * len(items) >= array.shape[0]:
            data = np.asarray(array[:])[items]
        else:
            data = np.stack([np.asarray(array[int(i)]) for i in items])
        if out is None:
            out = np.empty((len(rows), *data.shape[1:]), data.dtype)
        out[np.flatnonzero(sub["shard"].to_numpy() == shard_id)] = data
    if out is None:
        raise ValueError(f"read_rows: no rows to read for {name!r}")
    return out


def map_rows(
    paths: Sequence[Path], table: pd.DataFrame, rows: np.ndarray, name: str, fn: Callable[[np.ndarray], np.ndarray]
) -> np.ndarray:
    """``fn`` of array ``name`` of each dataset row, one item in memory at a time, stacked in row order."""

    rows = np.asarray(rows, np.int64)
    out: list[np.ndarray | None] = [None] * len(rows)
    sub = table.iloc[rows].assign(position=np.arange(len(rows)))
    for shard_id, group in sub.groupby("shard", sort=True):
        array = open_shard(paths[int(shard_id)])[name]
        for item, position in zip(group["item"].to_numpy(), group["position"].to_numpy()):
            out[int(position)] = fn(np.asarray(array[int(item)]))
    if not out:
        raise ValueError(f"map_rows: no rows to read for {name!r}")
    return np.stack(out)


def spread(rows: np.ndarray, n: int) -> np.ndarray:
    """At most ``n`` rows evenly spread over ``rows`` (all when n is 0 or larger than len)."""
    rows = np.asarray(rows)
    if n <= 0 or n >= len(rows):
        return rows
    return rows[np.linspace(0, len(rows) - 1, n).round().astype(int)]


def mean_frame(paths: Sequence[Path], table: pd.DataFrame, rows: np.ndarray, max_images: int = 0) -> np.ndarray:
    """The mean training frame (H, W, 3) float32 in 0..255, over at most ``max_images`` frames."""

    chosen = spread(rows, max_images)
    total, count = None, 0
    sub = table.iloc[chosen]
    for shard_id, group in sub.groupby("shard", sort=True):
        images = open_shard(paths[int(shard_id)])["image"]
        for item in group["item"].to_numpy():
            image = np.asarray(images[int(item)], np.float64)
            total = image if total is None else total + image
            count += 1
    if total is None:
        raise ValueError("mean_frame: no training frames")
    return (total / count).astype(np.float32)


def normalize_image(image: np.ndarray, mean: np.ndarray) -> np.ndarray:
    """uint8 frame (H, W, 3) -> (3, H, W) float32: mean frame subtracted, in [-1, 1]."""
    return ((np.asarray(image, np.float32) - mean) / 255.0).transpose(2, 0, 1)


def steps_per_epoch(n_items: int, batch_size: int) -> int:
    """Full batches per pass over the items (the last partial batch is dropped), at least 1."""
    return max(1, n_items // max(1, batch_size))


def step_batches(rows: np.ndarray, batch_size: int, seed: int, start_step: int = 0) -> Iterator[list[int]]:
    """Dataset rows of the batches of steps ``start_step``, ``start_step + 1``, ... (endless).

    Epoch e visits the rows in a permutation drawn from (seed, e) alone, so the batches of any
    step are known without replaying the ones before: what a resumed training job needs.
    """
    rows = np.asarray(rows, np.int64)
    if len(rows) == 0:
        raise ValueError("step_batches: no training rows")
    size = min(batch_size, len(rows))
    per_epoch = steps_per_epoch(len(rows), size)
    step = start_step
    while True:
        epoch, k = divmod(step, per_epoch)
        order = np.random.default_rng([seed, epoch]).permutation(rows)
        yield order[k * size : (k + 1) * size].tolist()
        step += 1


def batch_loader(dataset: Any, batches: Iterator[list[int]], workers: int = 0) -> Iterator[Any]:
    """Collated batches of a map-style dataset in the given index order (workers read ahead).

    The loader gets a generator of its own: otherwise starting it draws from the global torch RNG,
    and a resumed job (which starts one more loader) would draw other dropout masks and latents.
    """
    return iter(DataLoader(dataset, batch_sampler=batches, num_workers=workers, generator=torch.Generator(),
                           persistent_workers=False, prefetch_factor=2 if workers else None))




class PreloadedItems:
    """Some rows of a map-style dataset held in memory, served by the same row numbers.

    Reading a clip from a Zarr shard and resampling it costs several times a small model's step
    (88 ms against 13 ms a batch for vgan's demo classifier), so small training sets are read once.
    """

    def __init__(self, dataset: Any, rows: Sequence[int]) -> None:
        self.items = {int(r): dataset[int(r)] for r in rows}

    def __getitem__(self, row: int) -> Any:
        return self.items[int(row)]

    def __len__(self) -> int:
        return len(self.items)


def preload_if_small(dataset: Any, rows: Sequence[int], max_bytes: int) -> Any:
    """The rows in memory (:class:`PreloadedItems`) when they take at most ``max_bytes``, else ``dataset``.

    The size is estimated from the first row's arrays; at paper scale the budget is exceeded and
    batches stream from the shards as before (same rows, same order: the batches do not change).
    """
    if len(rows) == 0 or max_bytes <= 0:
        return dataset
    first = dataset[int(rows[0])]
    arrays = first if isinstance(first, (tuple, list)) else (first,)
    item_bytes = sum(np.asarray(a).nbytes for a in arrays)
    if item_bytes * len(rows) > max_bytes:
        return dataset
    return PreloadedItems(dataset, rows)

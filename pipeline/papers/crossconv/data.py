"""crossconv's data: Shapes pairs from the data stage's Zarr splits, as tensors and as ground truth.

A split (``data/clips/<shapes|shapestexture>/crossconv/<train|test>.zarr``, written by
``pipeline.data.write_shapes_split``) holds frame1 / frame2 (N, H, W, 3) uint8 and every
object's true shape, presence, motion (dx, dy), centre, radius, colour, depth and texture phase;
its attrs hold the generator's ``ShapesConfig``. The whole split is read into memory (20,000
pairs at 128x128 are under 2 GB of uint8), so batches are plain indexing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from pipeline.batches import step_batches
from pipeline.shards import open_shard, write_shard
from pipeline.synthetic.shapes import ShapesConfig, ShapesPairs, pairs_from_arrays


@dataclass
class ShapesSplit:
    """One split in memory: the pairs with their ground truth and the generator config."""

    pairs: ShapesPairs
    config: ShapesConfig

    def __len__(self) -> int:
        return len(self.pairs.frame1)

    @property
    def size(self) -> int:
        return self.config.size

    def tensor(self, rows: np.ndarray | list[int]) -> torch.Tensor:
        """(B, 2, 3, H, W) float32 pairs in [0, 1], as ``CrossConvNet.losses`` takes them."""
        return FramePairs(self.pairs.frame1, self.pairs.frame2).tensor(rows)

    def subset(self, rows: np.ndarray) -> ShapesSplit:
        rows = np.asarray(rows, np.int64)
        fields = {name: getattr(self.pairs, name)[rows] for name in ShapesPairs.__dataclass_fields__}
        return ShapesSplit(ShapesPairs(**fields), self.config)


@dataclass
class FramePairs:
    """Frame pairs with no per-object truth (Sprites): all that training and the z statistics read."""

    frame1: np.ndarray  # (N, H, W, 3) uint8
    frame2: np.ndarray  # (N, H, W, 3) uint8

    def __len__(self) -> int:
        return len(self.frame1)

    @property
    def size(self) -> int:
        return self.frame1.shape[1]

    def tensor(self, rows: np.ndarray | list[int]) -> torch.Tensor:
        """(B, 2, 3, H, W) float32 pairs in [0, 1], as ``CrossConvNet.losses`` takes them."""
        rows = np.asarray(rows, np.int64)
        frames = np.stack([self.frame1[rows], self.frame2[rows]], 1)  # (B, 2, H, W, 3)
        return torch.from_numpy(frames).permute(0, 1, 4, 2, 3).float().div_(255.0)


def read_split(path: str | Path) -> ShapesSplit | FramePairs:
    """A split written by the data stage, whole: Shapes (with its truth) or plain frame pairs."""
    group = open_shard(path)
    attrs = dict(group.attrs)
    if "config" not in attrs:  # no generator config: pairs cut from real frames (Sprites)
        return FramePairs(np.asarray(group["frame1"][:]), np.asarray(group["frame2"][:]))
    cfg = dict(attrs["config"])
    cfg["shapes"] = tuple(cfg["shapes"])
    cfg["radius_range"] = tuple(cfg["radius_range"])
    arrays = {name: np.asarray(group[name][:]) for name in ShapesPairs.__dataclass_fields__}
    return ShapesSplit(pairs_from_arrays(arrays), ShapesConfig(**cfg))


def first_rows(n_items: int, n: int) -> np.ndarray:
    """The first ``n`` rows (all when n is 0 or too large): the evaluated test pairs, fixed by the count."""
    return np.arange(n_items if n <= 0 else min(n, n_items))


def training_batches(split: ShapesSplit | FramePairs, batch_size: int,
                     seed: int) -> Callable[[int], Iterator[torch.Tensor]]:
    """``data(start_step)`` for ``fit``: each step's batch is a function of (seed, step) alone."""

    def data(start: int) -> Iterator[torch.Tensor]:
        for rows in step_batches(np.arange(len(split)), batch_size, seed, start):
            yield split.tensor(rows)

    return data


def write_clip_pairs(index_csv: str | Path, out: dict[str, str | Path]) -> dict[str, int]:
    """Gather a video dataset's crossconv clips (2 neighbouring frames each), listed by the clip
    stage's ``index.csv``, into one pair split per name in ``out`` (the clips' own split codes)."""
    index_csv = Path(index_csv)
    shards = sorted(set(pd.read_csv(index_csv).query("status == 'ok'")["shard"].dropna()))
    if not shards:
        raise ValueError(f"{index_csv}: no clip shard holds a clip")
    frames = {split: [] for split in out}
    for name in shards:
        group = open_shard(index_csv.parent / name)
        names = list(group.attrs["splits"])
        clips, codes = np.asarray(group["frames"][:]), np.asarray(group["split"][:])  # (N, 2, H, W, 3), (N,)
        if clips.shape[1] != 2:
            raise ValueError(f"{index_csv.parent / name}: clips of {clips.shape[1]} frames, crossconv pairs need 2")
        for split in out:
            frames[split].append(clips[codes == names.index(split)])
    counts = {}
    for split, path in out.items():
        pairs = np.concatenate(frames[split])
        if not len(pairs):
            raise ValueError(f"{index_csv}: no {split} clip to make pairs of")
        write_shard(path, {"frame1": pairs[:, 0], "frame2": pairs[:, 1]},
                    {"dataset": index_csv.parent.parent.name, "split": split, "shards": shards})
        counts[split] = len(pairs)
    return counts

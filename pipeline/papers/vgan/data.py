"""vgan's data: stabilized 32-frame clips as (T, C, H, W) in [-1, 1], split by whole videos.

Table 1 needs real clips the models never saw, twice: one set trains the automatic judge, the
other is the real side of the comparison (and of the real-vs-real control). Both are held out
from the training videos by :func:`held_out_videos` (whole videos, spread over the classes,
chosen by a hash of the video id so the choice depends on neither the seed nor the shard
layout); the official test videos, when a dataset has any, join the comparison set.
Every model and every evaluation computes the same split from the same summary and fractions.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from pipeline.batches import (
    batch_loader,
    item_table,
    preload_if_small,
    read_rows,
    shards_of,
    stable_rank,
    step_batches,
)
from pipeline.shards import ShardDataset, open_shard

SETS: tuple[str, ...] = ("train", "judge", "compare")


def to_clip(frames: np.ndarray) -> np.ndarray:
    """uint8 frames (T, H, W, 3) -> float32 (T, 3, H, W) in [-1, 1] (the paper's value range)."""
    return (np.asarray(frames, np.float32) / 127.5 - 1.0).transpose(0, 3, 1, 2)


def to_frames(clips: torch.Tensor | np.ndarray) -> np.ndarray:
    """Clips (N, T, C, H, W) in [-1, 1] -> uint8 frames (N, T, H, W, C), as a video file would store them."""
    x = clips.detach().cpu().numpy() if isinstance(clips, torch.Tensor) else np.asarray(clips)
    return np.clip(np.round((x + 1.0) * 127.5), 0, 255).astype(np.uint8).transpose(0, 1, 3, 4, 2)


def resample(frames: np.ndarray, n_frames: int, size: int) -> np.ndarray:
    """uint8 frames (T, H, W, 3) -> (n_frames, size, size, 3): every (T / n_frames)-th frame, area-averaged.

    The small presets train at a lower resolution than the data's 32 x 64 x 64 (same clip
    duration, half the frame rate); at the paper preset this is the identity.
    """
    t, h, w, c = frames.shape
    if t % n_frames or h % size or w % size:
        raise ValueError(f"cannot resample clips of {t} x {h} x {w} to {n_frames} x {size} x {size}: "
                         "the model's frames and size must divide the data's")
    x = frames[:: t // n_frames]  # (n_frames, H, W, 3)
    if h == size and w == size:
        return x
    fh, fw = h // size, w // size
    x = x.reshape(n_frames, size, fh, size, fw, c).astype(np.float32).mean(axis=(2, 4))
    return np.round(x).astype(np.uint8)


class ClipTransform:
    """Shard item {"frames"} -> clip (T, 3, H, W) float32 in [-1, 1] at the model's frames and size."""

    def __init__(self, frames: int, size: int) -> None:
        self.frames, self.size = int(frames), int(size)

    def __call__(self, item: dict[str, np.ndarray]) -> np.ndarray:
        return to_clip(resample(np.asarray(item["frames"]), self.frames, self.size))


@dataclass
class VganClips:
    """The stabilized clips of one dataset and which rows belong to which set."""

    dataset: ShardDataset  # row -> clip (T, 3, H, W) float32 in [-1, 1]
    rows: dict[str, np.ndarray]  # train / judge / compare dataset rows
    frames: int
    size: int
    video_ids: np.ndarray | None = None  # (dataset rows,) the video of each clip

    def videos(self, name: str) -> list[str]:
        """The video of each clip of set ``name``, in :meth:`read` order."""
        if self.video_ids is None:
            raise ValueError("these clips were made without their video names")
        return [str(v) for v in self.video_ids[self.rows[name]]]

    def read(self, name: str) -> torch.Tensor:
        """Every clip of set ``name`` as one tensor (N, T, 3, H, W) in [-1, 1]."""
        paths = self.dataset.paths
        frames = read_rows(paths, item_table(paths), self.rows[name], "frames")  # (N, T, H, W, 3)
        return torch.from_numpy(np.stack([self.dataset.transform({"frames": f}) for f in frames]))


def held_out_videos(table: pd.DataFrame, judge_fraction: float, compare_fraction: float) -> dict[str, list[str]]:
    """Training videos held out for the judge and for the comparison, whole videos, spread over classes.

    Videos are ranked by a hash of their id within their class and taken class by class in
    turn (one of every class before two of any), so the choice depends neither on the seed nor
    on the shard layout. Each hold-out gets at least one video and training keeps at least one;
    unlike ``pipeline.batches.holdout_videos`` a class may lose its last video, since no model
    here is conditioned on the class.
    """
    train = table[table["split"] == "train"]
    queues = [sorted(set(g["video_id"]), key=stable_rank) for _, g in train.groupby("label", sort=True)]
    order = [q[depth] for depth in range(max(map(len, queues), default=0)) for q in queues if depth < len(q)]
    if len(order) < 3:
        raise ValueError(f"vgan needs clips of at least 3 training videos (train, judge, compare), got {len(order)}")
    n_judge = max(1, round(judge_fraction * len(order)))
    n_compare = max(1, min(round(compare_fraction * len(order)), len(order) - n_judge - 1))
    n_judge = min(n_judge, len(order) - n_compare - 1)
    return {"judge": sorted(order[:n_judge]), "compare": sorted(order[n_judge : n_judge + n_compare])}


def split_sets(table: pd.DataFrame, judge_fraction: float, compare_fraction: float) -> dict[str, np.ndarray]:
    """Dataset rows of the training clips and of the two real hold-outs; test videos join ``compare``."""
    held = held_out_videos(table, judge_fraction, compare_fraction)
    video = table["video_id"]
    judge, compare = video.isin(held["judge"]).to_numpy(), video.isin(held["compare"]).to_numpy()
    is_train = (table["split"] == "train").to_numpy()
    return {
        "train": np.flatnonzero(is_train & ~judge & ~compare),
        "judge": np.flatnonzero(judge),
        "compare": np.flatnonzero(compare | (table["split"] == "test").to_numpy()),
    }


def vgan_clips(summary: str | Path, data_sizes: Mapping[str, Any]) -> VganClips:
    """The stabilized clips a summary lists at the preset's frames and size, split into the
    training set and the two hold-outs; only one scene's (class label's) clips when ``data_sizes``
    names a ``scene``.

    The hold-outs are chosen over every scene at once (whole videos, class by class in turn), so a
    scene's model and the models over every scene never train on a video the judge or the
    comparison uses.
    """
    paths = shards_of(summary)
    table = item_table(paths)
    rows = split_sets(table, float(data_sizes["judge_fraction"]), float(data_sizes["compare_fraction"]))
    scene = data_sizes.get("scene")
    what = f"{len(table)} clips of {table['video_id'].nunique()} videos"
    if scene:
        labels = [str(name) for name in open_shard(paths[0]).attrs["labels"]]  # the listing's classes, by index
        if scene not in labels:
            raise ValueError(f"{summary}: no scene {scene!r} (datasets.flickr.scenes) in these clips; "
                             f"their classes are: {', '.join(labels)}")
        in_scene = (table["label"] == labels.index(scene)).to_numpy()
        rows = {name: r[in_scene[r]] for name, r in rows.items()}
        what = f"{int(in_scene.sum())} clips of {table.loc[in_scene, 'video_id'].nunique()} videos of scene {scene!r}"
    for name in SETS:
        if len(rows[name]) == 0:
            raise ValueError(f"{summary}: the {name} set is empty ({what}); "
                             "use more videos or other hold-out fractions")
    dataset = ShardDataset(paths, arrays=("frames",),
                           transform=ClipTransform(int(data_sizes["frames"]), int(data_sizes["size"])))
    if len(dataset) != len(table):
        raise ValueError(f"{summary}: dataset of {len(dataset)} clips but {len(table)} listed")
    t, _, h, _ = dataset[0].shape
    return VganClips(dataset, rows, frames=int(t), size=int(h), video_ids=table["video_id"].to_numpy())


def real_frames(summary: Path, data_sizes: Mapping[str, Any], n: int) -> np.ndarray:
    """The first ``n`` real compare clips of the stabilized data, uint8 (n, T, H, W, 3) at the models' size."""
    real = vgan_clips(summary, data_sizes)
    real.rows["compare"] = real.rows["compare"][:n]
    return to_frames(real.read("compare"))


PRELOAD_BYTES = 1 << 30
"""Training sets up to 1 GiB of float clips are read into memory once (the demo's are ~10 MB);
larger ones, as at paper scale, stream from the shards with the loader's workers."""


def training_batches(clips: VganClips, batch_size: int, seed: int, workers: int = 0) -> Any:
    """``data(start_step)`` for the training loop: batches (B, T, 3, H, W) that depend on (seed, step) only."""
    rows = clips.rows["train"]
    size = min(batch_size, len(rows))
    dataset = preload_if_small(clips.dataset, rows, PRELOAD_BYTES)

    def batches(start: int) -> Iterator[torch.Tensor]:
        return batch_loader(dataset, step_batches(rows, size, seed, start), workers)

    return batches

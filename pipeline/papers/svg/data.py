"""svg's data: SM-MNIST generated on the fly, KTH and BAIR windows from their shards, test sequences.

SM-MNIST trains on sequences generated on the fly (as the paper does), batch k a function of
(seed, k) only, so a resumed job sees the batches the killed one would have; KTH and BAIR train
on random windows of the training clips of their Zarr shards, also drawn from (seed, step).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from skimage.color import rgb2gray

from pipeline.atomic import write_csv
from pipeline.bair import bair_files, read_bair_sequences
from pipeline.data import digit_pool
from pipeline.papers.svg.model import SVGConfig, frames_to_batch
from pipeline.papers.svg.spec import BACKBONES, SMMNIST_SETS, VARIANTS
from pipeline.shards import SPLITS, ShardDataset, open_shard, write_shard
from pipeline.synthetic import smmnist
from pipeline.synthetic.smmnist import (
    SMMNISTConfig,
    make_shared_start_set,
    make_synchronized_set,
)

log = logging.getLogger(__name__)


def smmnist_digits(test_set: str | Path, split: str) -> np.ndarray:
    """Digit pool (M, 32, 32) of the source the saved test set was made from (its ``source`` attr).

    The data stage fetched that source already, so this only reads it.
    """

    test_set = Path(test_set)
    attrs = open_shard(test_set).attrs
    data_root = test_set.parents[3]  # <data_root>/clips/smmnist/svg/test.zarr
    return digit_pool({"source": attrs.get("source", "synthetic")}, data_root, split, int(attrs["config"]["digit_size"]))


def smmnist_config(test_set: str | Path, seq_len: int, num_digits: int | None = None) -> SMMNISTConfig:
    """The test set's SM-MNIST definition with another length (and digit count)."""

    saved = dict(open_shard(test_set).attrs["config"])
    saved["seq_len"] = int(seq_len)
    if num_digits is not None:
        saved["num_digits"] = int(num_digits)
    return SMMNISTConfig(**saved)


def to_channels(frames: np.ndarray, channels: int) -> np.ndarray:
    """uint8 clips (..., H, W, 3) -> (..., H, W) grey (1 channel, luminance) or unchanged RGB."""
    if channels == 3:
        return frames

    return np.round(rgb2gray(frames) * 255.0).astype(np.uint8)


def clip_dataset(data: Mapping[str, str], split: str, arrays: tuple[str, ...] = ("frames",)) -> ShardDataset:
    """The ``split`` clips of a KTH (clip index) or BAIR (shard folder) input, as a ShardDataset."""
    index = Path(data["index"]) if "index" in data else Path(data["shards"]) / "index.csv"
    table = pd.read_csv(index, keep_default_na=False)
    names = sorted({str(s) for s in table["shard"] if str(s)})
    if not names:
        raise FileNotFoundError(f"{index} lists no clip shard")
    dataset = ShardDataset([index.parent / n for n in names], arrays=arrays, split=split)
    if len(dataset) == 0:
        raise ValueError(f"no {split} clips in the shards listed by {index}")
    return dataset


def kth_window_origin(data: Mapping[str, str], split: str = "test") -> str:
    """Where the KTH clips of ``split`` were cut, for the tables: inside the subsequences of
    ``00sequences.txt`` (the authors' windows) for how many of the videos, or anywhere."""
    clips = clip_dataset(data, split, arrays=("video_index",))
    videos = listed = 0
    for path in clips.paths:
        group = open_shard(path)
        in_split = group["split"][:] == SPLITS.index(split)
        names = [group.attrs["videos"][i] for i in np.unique(group["video_index"][:][in_split])]
        videos += len(names)
        listed += len(set(names) & set(group.attrs.get("segmented", [])))
    if not listed:
        return "clips anywhere in the video"
    return f"clips inside the 00sequences.txt subsequences ({listed} of {videos} videos listed)"


def _spread(n: int, k: int) -> np.ndarray:
    """k indices spread evenly over range(n) (all of them when k is 0 or >= n)."""
    if k <= 0 or k >= n:
        return np.arange(n)
    return np.unique(np.linspace(0, n - 1, k).round().astype(int))


def disjoint_windows(groups: np.ndarray, starts: np.ndarray, span: int) -> np.ndarray:
    """Indices of clips that share no frame with another kept clip of the same video.

    groups (N,) video ids, starts (N,) first frames; within each video the earliest clip is kept,
    then the next one starting at least ``span`` frames later, and so on. Overlapping test
    windows repeat frames, so intervals computed as if they were independent are too narrow.
    """
    order = np.lexsort((starts, groups))
    keep: list[int] = []
    last: dict[int, int] = {}
    for i in order:
        g, st = int(groups[i]), int(starts[i])
        if g not in last or st >= last[g] + span:
            keep.append(int(i))
            last[g] = st
    return np.sort(np.asarray(keep, dtype=np.int64))


def test_frames(dataset: str, data: Mapping[str, str], max_sequences: int,
                kth_windows: str = "disjoint") -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """uint8 test sequences (N, T, 64, 64[, 3]) in the model's channels, spread over the test set,
    their indices in the test set (N,), and for KTH the video each comes from (N,) (None where
    every sequence is its own video).

    BAIR's test sequences start at frame 0 as the authors' ``data/bair.py`` reads them; KTH's are
    ``kth_windows`` ``disjoint`` (no two windows of a video share a frame) or ``all`` clips.
    """
    if dataset == "smmnist":
        frames = open_shard(data["test_set"])["frames"]
        picks = _spread(frames.shape[0], max_sequences)
        return np.asarray(frames.get_orthogonal_selection((picks,))), picks, None
    if dataset == "kth":
        clips = clip_dataset(data, "test")
        info = clip_dataset(data, "test", arrays=("video_index", "start"))  # same items, no frames read
        meta = [(info.index[i][0], info[i]["video_index"], info[i]["start"]) for i in range(len(info))]
        shard_ids, video, starts = (np.asarray(c, dtype=np.int64) for c in zip(*meta))
        groups = np.unique(np.stack([shard_ids, video], 1), axis=0, return_inverse=True)[1].ravel()
        if kth_windows == "disjoint":
            span = int(clips[0]["frames"].shape[0])
            candidates = disjoint_windows(groups, starts, span)
        elif kth_windows == "all":
            candidates = np.arange(len(clips))
        else:
            raise ValueError(f"kth_test_windows must be 'disjoint' or 'all', got {kth_windows!r}")
        picks = candidates[_spread(len(candidates), max_sequences)]
        frames = np.stack([clips[int(i)]["frames"] for i in picks])
        return to_channels(frames, BACKBONES[dataset][1]), picks, groups[picks]
    clips = clip_dataset(data, "test")
    picks = _spread(len(clips), max_sequences)
    return to_channels(np.stack([clips[int(i)]["frames"] for i in picks]), BACKBONES[dataset][1]), picks, None


def training_batches(
    dataset: str, variant: str, data: Mapping[str, str], cfg: SVGConfig, batch_size: int, seed: int,
    bair_windows: str = "start",
) -> Callable[[int], Iterator[torch.Tensor]]:
    """``data(start_step)`` for ``pipeline.training.fit``: batches (B, n_past + n_future, C, 64, 64).

    KTH windows start anywhere in a training clip (the authors' ``data/kth.py``); BAIR's start at
    frame 0 (``bair_windows='start'``, the authors' ``data/bair.py``) or anywhere (``random``).
    """
    if bair_windows not in ("start", "random"):
        raise ValueError(f"bair_train_windows must be 'start' or 'random', got {bair_windows!r}")

    length = cfg.n_past + cfg.n_future
    if dataset == "smmnist":

        digits = smmnist_digits(data["test_set"], "train")
        sm_cfg = smmnist_config(data["test_set"], length, VARIANTS[variant][1])

        def generated(start_step: int) -> Iterator[torch.Tensor]:
            for frames in smmnist.training_batches(sm_cfg, digits, batch_size, seed, start_step):
                yield frames_to_batch(frames)

        return generated

    clips = clip_dataset(data, "train")
    channels = BACKBONES[dataset][1]

    def windows(start_step: int) -> Iterator[torch.Tensor]:
        step = start_step
        while True:
            rng = np.random.default_rng(np.random.SeedSequence([seed, step]))
            batch = []
            for i in rng.integers(0, len(clips), size=batch_size):
                frames = clips[int(i)]["frames"]  # (T, H, W, 3)
                if len(frames) < length:
                    raise ValueError(f"{dataset} clips have {len(frames)} frames, training needs {length}")
                last = 0 if dataset == "bair" and bair_windows == "start" else len(frames) - length
                start = int(rng.integers(0, last + 1))
                batch.append(frames[start : start + length])
            yield frames_to_batch(to_channels(np.stack(batch), channels))
            step += 1

    return windows


def write_smmnist_set(kind: str, test_set: str | Path, out: str | Path, sizes: Mapping[str, Any], seed: int) -> Path:
    """Fig. 6's synchronized set (the test set's digit count, ``fig6.frames`` frames) or Fig. 5's
    single-digit shared-start set (``fig5.sequences`` per trajectory, one trajectory per first-bounce
    frame of ``fig5.first_bounces``), test digits."""

    digits = smmnist_digits(test_set, "test")
    if kind == "synchronized":
        f = sizes["fig6"]
        arrays, attrs = make_synchronized_set(smmnist_config(test_set, f["frames"]), digits, int(f["sequences"]), seed)
    elif kind == "sharedstart":
        f = sizes["fig5"]
        cfg = smmnist_config(test_set, f["frames"], num_digits=1)
        arrays, attrs = make_shared_start_set(cfg, digits, int(f["sequences"]), seed,
                                              [int(v) for v in f["first_bounces"]])
    else:
        raise KeyError(f"no SM-MNIST set {kind!r}; known: {', '.join(SMMNIST_SETS)}")
    attrs["source"] = open_shard(test_set).attrs.get("source", "synthetic")
    return write_shard(out, arrays, attrs)


def write_bair_shards(source_record: str | Path, out_dir: str | Path, sequences_per_shard: int,
                      max_sequences: int = 0) -> Path:
    """BAIR TFRecords (train and test splits) -> Zarr shards of (N, 30, 64, 64, 3) frames with a
    ``split`` array, plus ``index.csv`` (shard, split, sequences); memory holds one shard at a time.

    ``max_sequences`` (0: all) caps each split, for small runs.
    """



    record = json.loads(Path(source_record).read_text())
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rows: list[dict[str, Any]] = []

    def flush(buffer: list[np.ndarray], split: str, files: list[str]) -> None:
        name = f"shard-{len(rows):05d}.zarr"
        frames = np.stack(buffer)  # (N, 30, 64, 64, 3)
        write_shard(out_dir / name, {"frames": frames, "split": np.full(len(frames), SPLITS.index(split), np.uint8)},
                    {"dataset": "bair", "protocol": "svg", "source": record.get("source"), "files": files,
                     "splits": list(SPLITS)})
        rows.append({"shard": name, "split": split, "sequences": len(frames), "files": " ".join(files)})

    for split in ("train", "test"):
        buffer: list[np.ndarray] = []
        files: list[str] = []
        count = 0
        for path in bair_files(record["root"], split):
            for seq in read_bair_sequences(path):
                if files[-1:] != [path.name]:
                    files.append(path.name)
                buffer.append(seq)
                count += 1
                if len(buffer) == sequences_per_shard:
                    flush(buffer, split, files)
                    buffer, files = [], []
                if max_sequences and count >= max_sequences:
                    break
            if max_sequences and count >= max_sequences:
                break
        if buffer:
            flush(buffer, split, files)
        log.info("BAIR %s: %d sequences", split, count)
    index = out_dir / "index.csv"
    write_csv(pd.DataFrame(rows, columns=["shard", "split", "sequences", "files"]), index)
    return index



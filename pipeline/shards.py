"""Zarr v3 shards: the one way stages hand arrays to each other.

A *shard* is a Zarr v3 group written whole by one job. Every array in it has the item (clip,
frame pair, sequence) on axis 0, chunked one item per chunk so a reader gets any clip without
decoding its neighbours, and packed with Zarr's sharding codec so a shard of thousands of clips
is a handful of files rather than thousands. A shard is written into a temporary directory
beside its destination and renamed into place, so a reader (or Snakemake after a crash) never
sees a half-written shard under its final name.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import zarr

from pipeline.atomic import publishing_dir, write_csv

if TYPE_CHECKING:
    import pandas as pd

# Snakemake stamps directory outputs with a .snakemake_timestamp file; it is not part of the shard.
warnings.filterwarnings("ignore", message="Object at .snakemake_timestamp is not recognized")

SPLITS: tuple[str, ...] = ("train", "val", "test")
"""Split names; per-item ``split`` arrays store the index into this tuple."""

_TARGET_FILE_BYTES = 256 * 2**20  # aim for Zarr shard files of about this size


def _items_per_file(shape: tuple[int, ...], itemsize: int) -> int:
    """Items per Zarr shard file: a few hundred MB per file keeps file counts low on clusters."""
    item_bytes = max(1, int(np.prod(shape[1:], dtype=np.int64)) * itemsize)
    return max(1, min(shape[0], _TARGET_FILE_BYTES // item_bytes))


def write_shard(
    path: str | Path,
    arrays: Mapping[str, np.ndarray],
    attrs: Mapping[str, Any] | None = None,
) -> Path:
    """Write ``arrays`` (all sharing axis 0) and JSON ``attrs`` as one shard, atomically.

    An existing shard at ``path`` is replaced only once the new one is complete.
    """
    path = Path(path)
    lengths = {name: np.asarray(a).shape[0] for name, a in arrays.items() if np.ndim(a) > 0}
    if len(set(lengths.values())) > 1:
        raise ValueError(f"shard {path}: arrays disagree on the item count (axis 0): {lengths}")
    with publishing_dir(path) as tmp:
        group = zarr.open_group(tmp, mode="w")
        group.attrs.update(dict(attrs or {}))
        for name, data in arrays.items():
            data = np.ascontiguousarray(data)
            if data.ndim == 0:
                raise ValueError(f"shard {path}: array {name!r} is a scalar; put scalars in attrs")
            if data.ndim == 1:
                chunks = shards = (max(1, data.shape[0]),)
            else:
                chunks = (1, *data.shape[1:])
                per_file = _items_per_file(data.shape, data.dtype.itemsize)
                shards = (max(1, per_file), *data.shape[1:])
            arr = group.create_array(name, shape=data.shape, chunks=chunks, shards=shards, dtype=data.dtype)
            if data.size:
                arr[...] = data
    return path


def open_shard(path: str | Path) -> zarr.Group:
    """Open a published shard read-only, with an error that names a missing or partial one."""
    path = Path(path)
    if not (path / "zarr.json").is_file():
        raise FileNotFoundError(f"no complete shard at {path} (missing zarr.json)")
    return zarr.open_group(path, mode="r")


def shard_length(group: zarr.Group) -> int:
    """Number of items in a shard (0 for a shard whose every video was skipped)."""
    lengths = [arr.shape[0] for _, arr in group.arrays()]
    return lengths[0] if lengths else 0


CLIP_METADATA: tuple[str, ...] = ("video_index", "start", "label", "split")
"""Per-item arrays every stage carries from clips to its output, so an item's origin is never lost."""


def map_shard(
    src: str | Path,
    dst: str | Path,
    per_item: Callable[[dict[str, np.ndarray]], dict[str, np.ndarray] | tuple[str, str]],
    read: Sequence[str] = ("frames",),
    attrs: Mapping[str, Any] | None = None,
    desc: str = "",
) -> tuple[int, int]:
    """Apply ``per_item`` to every item of shard ``src`` and publish the results as shard ``dst``.

    ``per_item`` gets the arrays named in ``read`` for one item and returns either a dict of
    output arrays or ``(reason, detail)`` when the item is dropped (kept in the ``dropped``
    attribute, with the item's origin). Clip metadata and the source item index are carried
    along. Returns (kept, dropped).
    """
    from tqdm import tqdm

    group = open_shard(src)
    n = shard_length(group)
    outputs: dict[str, list[np.ndarray]] = {}
    kept_items: list[int] = []
    dropped: list[dict[str, Any]] = []
    videos = list(group.attrs.get("videos", []))
    for item in tqdm(range(n), desc=desc or Path(dst).name, unit="clip", mininterval=2.0):
        result = per_item({name: np.asarray(group[name][item]) for name in read})
        if isinstance(result, tuple):
            video = int(group["video_index"][item]) if "video_index" in group else -1
            dropped.append({"item": item, "video_id": videos[video] if 0 <= video < len(videos) else "",
                            "start": int(group["start"][item]) if "start" in group else -1,
                            "reason": result[0], "detail": result[1]})
            continue
        kept_items.append(item)
        for name, value in result.items():
            outputs.setdefault(name, []).append(np.asarray(value))
    arrays = {name: np.stack(values) for name, values in outputs.items()}
    index = np.asarray(kept_items, np.int64)
    for name in CLIP_METADATA:
        if name in group:
            arrays[name] = group[name][:][index] if n else group[name][:]
    arrays["source_item"] = index.astype(np.int32)
    merged = {**dict(group.attrs), **dict(attrs or {}), "dropped": dropped, "source_shard": str(src)}
    write_shard(dst, arrays, merged)
    return len(kept_items), len(dropped)


class ShardDataset:
    """Random access to items across shards, as a PyTorch map-style dataset.

    Zarr groups are opened lazily in each process, so the dataset pickles cheaply into
    DataLoader workers and every worker holds its own file handles.
    """

    def __init__(
        self,
        paths: Sequence[str | Path],
        arrays: Sequence[str] = ("frames",),
        split: str | None = None,
        transform: Callable[[dict[str, np.ndarray]], Any] | None = None,
    ) -> None:
        self.paths = [Path(p) for p in paths]
        self.arrays = tuple(arrays)
        self.transform = transform
        if split is not None and split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
        index = []
        for shard_id, path in enumerate(self.paths):
            group = open_shard(path)
            if shard_length(group) == 0:
                continue  # every item of this shard was skipped or dropped upstream
            missing = [name for name in self.arrays if name not in group]
            if missing:
                raise KeyError(f"shard {path} has no array(s) {missing}")
            items = np.arange(shard_length(group))
            if split is not None:
                items = items[group["split"][:] == SPLITS.index(split)]
            index.extend((shard_id, int(i)) for i in items)
        self.index = index
        self._groups: dict[int, zarr.Group] = {}
        self._pid = os.getpid()

    def __len__(self) -> int:
        return len(self.index)

    def _group(self, shard_id: int) -> zarr.Group:
        if self._pid != os.getpid():  # forked into a DataLoader worker: don't share handles
            self._groups, self._pid = {}, os.getpid()
        if shard_id not in self._groups:
            self._groups[shard_id] = open_shard(self.paths[shard_id])
        return self._groups[shard_id]

    def __getitem__(self, i: int) -> Any:
        shard_id, item = self.index[i]
        group = self._group(shard_id)
        sample = {name: np.asarray(group[name][item]) for name in self.arrays}
        return self.transform(sample) if self.transform else sample

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_groups"] = {}
        return state


def summarize_shards(paths: Sequence[str | Path], out_csv: str | Path) -> pd.DataFrame:
    """One row per shard of a stage: items kept, items dropped and the drop reasons, so a person
    sees at a glance what a stage threw away (vgan drops about 3% of its segments)."""
    import pandas as pd

    rows = []
    for path in paths:
        group = open_shard(path)
        dropped = list(group.attrs.get("dropped", []))
        reasons: dict[str, int] = {}
        for item in dropped:
            reasons[item["reason"]] = reasons.get(item["reason"], 0) + 1
        rows.append({"shard": Path(path).name, "kept": shard_length(group), "dropped": len(dropped),
                     "reasons": "; ".join(f"{k}: {v}" for k, v in sorted(reasons.items()))})
    table = pd.DataFrame(rows, columns=["shard", "kept", "dropped", "reasons"])
    out_csv = Path(out_csv)
    write_csv(table, out_csv)
    return table

"""Zarr v3 shards: the one way stages hand arrays to each other.

A *shard* is a Zarr v3 group written whole by one job. Every array in it has the item (clip,
frame pair, sequence) on axis 0, chunked one item per chunk so a reader gets any clip without
decoding its neighbours, and packed with Zarr's sharding codec so a shard of thousands of clips
is a handful of files rather than thousands. Per-item metadata (a label, an object's motion:
items of at most ``_SMALL_ITEM_BYTES``) is chunked by up to 64 KiB instead: Zarr pays about
0.2 ms per chunk, so one chunk per item made reading 4,000 motions take as long as 4,000 frames.
A shard is written item by item through :class:`ShardWriter` (a job holds at most one shard
file's worth of frames, and its small metadata whole, whatever the length of its videos) into a
temporary directory beside its destination and renamed into place, so a reader (or Snakemake
after a crash) never sees a half-written shard under its final name.
"""

from __future__ import annotations

import os
import sys
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
_SMALL_ITEM_BYTES = 512  # items up to this size are per-item metadata: kept whole, chunked together
_SMALL_CHUNK_BYTES = 64 * 2**10  # chunk size of such metadata (a single item's read decodes one chunk)


def _items_per_file(item_shape: tuple[int, ...], itemsize: int) -> int:
    """Items per Zarr shard file: a few hundred MB per file keeps file counts low on clusters."""
    item_bytes = max(1, int(np.prod(item_shape, dtype=np.int64)) * itemsize)
    return max(1, _TARGET_FILE_BYTES // item_bytes)


class _Column:
    """One array of a shard being written: its item shape, dtype and the items not yet stored.

    A column of small items (per-item metadata: a label, a start, an object's motion) is kept
    whole until the writer closes and stored in chunks of many items. A column of large items
    (frames) goes to Zarr in blocks of whole shard files, one item per chunk, so a shard file is
    written once, never read back and rewritten, and at most one file's worth of items waits in
    memory.
    """

    def __init__(self, name: str, item_shape: tuple[int, ...], dtype: np.dtype) -> None:
        self.name, self.item_shape, self.dtype = name, item_shape, dtype
        self.item_bytes = max(1, int(np.prod(item_shape, dtype=np.int64)) * dtype.itemsize)
        self.whole = self.item_bytes <= _SMALL_ITEM_BYTES
        self.per_file = 0 if self.whole else _items_per_file(item_shape, dtype.itemsize)
        self.pending: list[np.ndarray] = []
        self.n_pending = 0
        self.written = 0  # items already in the Zarr array
        self.array: zarr.Array | None = None

    @property
    def length(self) -> int:
        return self.written + self.n_pending

    def take(self, block: np.ndarray, where: str) -> None:
        if block.shape[1:] != self.item_shape:
            raise ValueError(f"shard {where}: array {self.name!r} items are {self.item_shape}, "
                             f"got a block of {block.shape[1:]}")
        if block.dtype != self.dtype:
            if not np.can_cast(block.dtype, self.dtype, "safe"):
                raise ValueError(f"shard {where}: array {self.name!r} is {self.dtype}, got {block.dtype}")
            block = block.astype(self.dtype)
        if len(block):
            self.pending.append(block)
            self.n_pending += len(block)

    def _joined(self) -> np.ndarray:
        if len(self.pending) == 1:
            return self.pending[0]
        if not self.pending:
            return np.zeros((0, *self.item_shape), self.dtype)
        return np.concatenate(self.pending)

    def _create(self, group: zarr.Group, n_items: int) -> zarr.Array:
        if not self.whole:
            chunks = (1, *self.item_shape)
            shards = (max(1, min(n_items, self.per_file)), *self.item_shape)
        else:  # every item known: one shard file of chunks of up to _SMALL_CHUNK_BYTES
            per_chunk = max(1, min(n_items, _SMALL_CHUNK_BYTES // self.item_bytes))
            chunks = (per_chunk, *self.item_shape)
            shards = (-(-max(1, n_items) // per_chunk) * per_chunk, *self.item_shape)
        return group.create_array(self.name, shape=(0, *self.item_shape), chunks=chunks,
                                  shards=shards, dtype=self.dtype)

    def flush(self, group: zarr.Group, final: bool) -> None:
        """Store the pending items that fill whole shard files (all of them when ``final``)."""
        if not final and (self.whole or self.n_pending < self.per_file):
            return
        data = self._joined()
        n = len(data) if final else (len(data) // self.per_file) * self.per_file
        if self.array is None:
            self.array = self._create(group, self.written + len(data))
        if n:
            self.array.append(np.ascontiguousarray(data[:n]))
        rest = data[n:]
        self.pending, self.n_pending, self.written = ([rest] if len(rest) else []), len(rest), self.written + n

    def truncate(self, n: int) -> None:
        """Forget the items from ``n`` on. Items already stored past the last whole shard file
        before ``n`` are read back (at most one file's worth) so later writes stay file-aligned."""
        if n >= self.length:
            return
        if n >= self.written:
            self.pending, self.n_pending = [self._joined()[: n - self.written]], n - self.written
            return
        aligned = (n // self.per_file) * self.per_file if self.per_file else 0
        kept = np.asarray(self.array[aligned:n])
        self.array.resize((aligned, *self.item_shape))
        self.pending, self.n_pending, self.written = [kept], len(kept), aligned


class ShardWriter:
    """Write a shard item by item, with memory bounded whatever the number of items.

    Use as a context manager; the shard is published (atomically, through
    :func:`publishing_dir`) only when the block ends without an exception, so a writer that
    raises, or a job killed halfway, leaves nothing under the final name. Arrays are created
    by their first :meth:`append` (a block with 0 items declares an array's item shape and
    dtype); every array must hold the same number of items when the writer closes. ``attrs``
    can be updated until then.

    The stored arrays are those :func:`write_shard` would write from the whole arrays: one
    item per chunk (metadata: up to 64 KiB per chunk), packed into Zarr shard files of about
    ``_TARGET_FILE_BYTES``.
    """

    def __init__(self, path: str | Path, attrs: Mapping[str, Any] | None = None) -> None:
        self.path = Path(path)
        self.attrs: dict[str, Any] = dict(attrs or {})
        self._columns: dict[str, _Column] = {}
        self._publish = None
        self._group: zarr.Group | None = None

    def __enter__(self) -> ShardWriter:
        self._publish = publishing_dir(self.path)
        tmp = self._publish.__enter__()
        self._group = zarr.open_group(tmp, mode="w")
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        try:
            if exc_type is None:
                self._close()
        except BaseException:
            self._publish.__exit__(*sys.exc_info())
            raise
        return bool(self._publish.__exit__(exc_type, exc, tb))

    def append(self, name: str, block: np.ndarray) -> None:
        """Append ``block`` (items on axis 0) to array ``name``."""
        block = np.asarray(block)
        if block.ndim == 0:
            raise ValueError(f"shard {self.path}: array {name!r} is a scalar; put scalars in attrs")
        column = self._columns.get(name)
        if column is None:
            column = self._columns[name] = _Column(name, tuple(block.shape[1:]), block.dtype)
        column.take(block, str(self.path))
        column.flush(self._group, final=False)

    def add(self, item: Mapping[str, np.ndarray]) -> None:
        """Append one item: one value per named array."""
        for name, value in item.items():
            self.append(name, np.asarray(value)[None])

    def __len__(self) -> int:
        """Items in the longest array so far."""
        return max((c.length for c in self._columns.values()), default=0)

    def truncate(self, n: int) -> None:
        """Drop every array's items from ``n`` on (a video that failed halfway through)."""
        for column in self._columns.values():
            column.truncate(n)

    def _close(self) -> None:
        lengths = {name: c.length for name, c in self._columns.items()}
        if len(set(lengths.values())) > 1:
            raise ValueError(f"shard {self.path}: arrays disagree on the item count (axis 0): {lengths}")
        for column in self._columns.values():
            column.flush(self._group, final=True)
        self._group.attrs.update(self.attrs)


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
    with ShardWriter(path, attrs) as writer:
        for name, data in arrays.items():
            writer.append(name, data)
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
    kept_items: list[int] = []
    dropped: list[dict[str, Any]] = []
    videos = list(group.attrs.get("videos", []))
    with ShardWriter(dst, {**dict(group.attrs), **dict(attrs or {})}) as writer:
        for item in tqdm(range(n), desc=desc or Path(dst).name, unit="clip", mininterval=2.0):
            result = per_item({name: np.asarray(group[name][item]) for name in read})
            if isinstance(result, tuple):
                video = int(group["video_index"][item]) if "video_index" in group else -1
                dropped.append({"item": item, "video_id": videos[video] if 0 <= video < len(videos) else "",
                                "start": int(group["start"][item]) if "start" in group else -1,
                                "reason": result[0], "detail": result[1]})
                continue
            kept_items.append(item)
            writer.add(result)
        index = np.asarray(kept_items, np.int64)
        for name in CLIP_METADATA:
            if name in group:
                writer.append(name, group[name][:][index] if n else group[name][:])
        writer.append("source_item", index.astype(np.int32))
        writer.attrs.update({"dropped": dropped, "source_shard": str(src)})
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

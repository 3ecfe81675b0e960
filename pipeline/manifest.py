"""The per-dataset listing (manifest): one row per video file found, readable or not.

The list stage walks a copy of a dataset in one of a few known layouts, probes every video
(container headers and a packet count, no decoding) in a thread pool, and writes one table.
A file is never dropped: an unreadable one stays with ``status = "skipped"`` and a short
``reason``, so a user can see what was left out and why, and later stages filter on ``status``.

Paths: ``path`` is absolute (the raw folder as given, made absolute; symlinks kept), so a
later stage opens a video without knowing where the copy lives; ``relpath`` is the same file
relative to ``raw_dir`` in POSIX form, so a manifest stays meaningful if the copy moves
(``read_manifest(..., raw_dir=new_place)`` rebuilds ``path`` from it).

Splits use the words of ``pipeline.shards.SPLITS`` (``train``, ``val``, ``test``), plus
``unused`` (HMDB-51 split code 0) and ``""`` (the layout has no split for this file).
The readers of each layout (where a dataset keeps its videos, labels and splits) are ``pipeline.layouts``.
"""

from __future__ import annotations

import dataclasses
import os
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

import pandas as pd
from tqdm import tqdm

from pipeline.atomic import write_csv
from pipeline.layouts import (
    KTH_TRAIN_PERSONS,
    LAYOUT_READERS,
    UCF101_CLASSES,
    VIDEO_EXTENSIONS,
    Entry,
)
from pipeline.video_probe import UnreadableVideo, VideoInfo, probe

__all__ = [
    "MANIFEST_COLUMNS",
    "LAYOUT_COLUMNS",
    "HMDB_COLUMNS",
    "LAYOUTS",
    "VIDEO_EXTENSIONS",
    "UCF101_CLASSES",
    "KTH_TRAIN_PERSONS",
    "list_videos",
    "write_manifest",
    "read_manifest",
    "why_split_is_empty",
    "listed_info",
]

MANIFEST_COLUMNS: tuple[str, ...] = (
    "video_id",  # unique in the manifest: the file stem, or relpath without suffix if stems clash
    "path",  # absolute path of the file
    "label",  # class name ("" when the layout gives none)
    "split",  # train / val / test / unused / ""
    "frames",  # frames at the native rate
    "fps",  # average frame rate
    "width",  # displayed size (rotation applied)
    "height",
    "duration",  # seconds
    "status",  # ok / skipped
    "reason",  # why skipped ("" when ok)
    "note",  # what a reader should know about a kept file (dropped-frame entries), else ""
    "codec",
    "variable_frame_rate",
    "relpath",  # path relative to raw_dir, POSIX separators
    "rotation",  # display rotation found in the file, degrees clockwise (already applied to width/height)
    "stream_index",  # the decoded video stream of the container
    "empty_slots",  # frame slots stored empty (dropped frames), read as the frame before
)

# HMDB-51 file names end in meta tags: <source>_<class>_<body>_<cm|nm>_<npK>_<view>_<quality>_<n>
HMDB_COLUMNS: tuple[str, ...] = (
    "source",  # the film or web video the clip was cut from (everything before the class)
    "body_part",  # visible body part: f full, u upper, h head, l lower
    "camera_motion",  # cm (camera moves) / nm (static camera)
    "people",  # number of people in the action (np1, np2, np3)
    "viewpoint",  # fr front, ba back, le left, ri right
    "quality",  # bad / med / goo(d)
    "clip",  # index of the clip within its source
)

LAYOUT_COLUMNS: dict[str, tuple[str, ...]] = {
    "synthetic": ("groundtruth",),  # plus HMDB_COLUMNS when the ids carry HMDB-51 tags
    "ucf101": ("class_index", "group", "clip"),  # classInd.txt index (1-based), gXX, cYY
    "hmdb51": HMDB_COLUMNS,
    "kth": ("person", "scenario", "segments"),  # personNN, dK, the 00sequences.txt frame ranges
    "thumos": (),
    "folder": (),
}
LAYOUTS: tuple[str, ...] = tuple(LAYOUT_COLUMNS)

_INT_COLUMNS = {"frames", "width", "height", "rotation", "stream_index", "empty_slots", "class_index", "group", "clip",
                "person", "people"}
_FLOAT_COLUMNS = {"fps", "duration"}
_BOOL_COLUMNS = {"variable_frame_rate"}


# ----------------------------------------------------------------------------- listing


_PROBED: dict[str, type] = {f.name: {"int": int, "float": float, "str": str, "bool": bool}[f.type]
                           for f in dataclasses.fields(VideoInfo) if f.name != "path"}
"""The probe's findings a manifest keeps (every ``VideoInfo`` field but the path, which the row has): column -> type."""


def _probed(info: VideoInfo) -> dict[str, object]:
    return {name: getattr(info, name) for name in _PROBED}


def _probe_row(entry: Entry, count_packets: bool = True) -> dict[str, object]:
    """The probe's columns for one entry: measurements, and status/reason."""
    if "missing" in entry:
        return {"status": "skipped", "reason": entry["missing"]}
    try:
        info: VideoInfo = probe(entry["file"], count_packets=count_packets)
    except UnreadableVideo as error:
        return {"status": "skipped", "reason": error.reason}
    row = {**_probed(info), "status": "ok", "reason": "", "note": ""}
    if info.empty_slots:
        row["note"] = (f"{info.empty_slots} of {info.frames} frame slots are empty (dropped frames); "
                       f"read as played, each repeating the frame before")
    if info.frames < 2:  # nothing moves in a single frame: no clip, no flow
        row.update(status="skipped", reason=f"{info.frames} frame")
    return row


def _unique_ids(entries: list[Entry]) -> list[str]:
    stems = [Path(str(e["relpath"])).stem for e in entries]
    counts = pd.Series(stems).value_counts()
    return [
        stem if counts[stem] == 1 else str(Path(str(e["relpath"])).with_suffix(""))
        for stem, e in zip(stems, entries, strict=True)
    ]


def list_videos(
    raw_dir: str | os.PathLike,
    layout: str,
    *,
    split_index: int = 1,
    workers: int = 4,
    count_packets: bool = True,
    progress: bool = True,
) -> pd.DataFrame:
    """List every video file of a dataset copy, probed, one row per file.

    ``raw_dir`` is read where it is (a user's own copy need not live under the data root).
    ``layout`` is one of ``LAYOUTS``; ``split_index`` picks the official split (1-3) for
    ucf101 and hmdb51. Probing runs ``workers`` ffprobe processes at a time; nothing is
    decoded, so a 13,320-video UCF101 lists in minutes. ``count_packets=False`` trusts the
    container headers instead of reading each file through (for hour-long videos on slow
    disks); a truncated file whose header is intact is then only caught when decoded.
    Columns: ``MANIFEST_COLUMNS`` then the layout's own (``LAYOUT_COLUMNS``); rows sorted
    by ``relpath``.
    """
    if layout not in LAYOUT_READERS:
        raise ValueError(f"unknown manifest layout {layout!r}; expected one of {LAYOUTS}")
    raw = Path(os.path.abspath(os.path.expanduser(os.fspath(raw_dir))))
    if not raw.is_dir():
        raise FileNotFoundError(f"{layout} listing: raw folder {raw} does not exist")
    entries = sorted(LAYOUT_READERS[layout](raw, split_index), key=lambda e: str(e["relpath"]))
    if not entries:
        raise FileNotFoundError(
            f"{layout} listing: no video files ({', '.join(sorted(VIDEO_EXTENSIONS))}) under {raw}"
        )

    probed: list[dict[str, object]] = [{} for _ in entries]
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        futures = {pool.submit(_probe_row, entry, count_packets): i for i, entry in enumerate(entries)}
        bar = tqdm(as_completed(futures), total=len(futures), desc=f"list {layout}",
                   unit="video", disable=not progress, mininterval=1.0)
        for future in bar:
            probed[futures[future]] = future.result()

    extra = list(LAYOUT_COLUMNS[layout])
    if layout == "synthetic" and any("quality" in e for e in entries):
        extra += list(HMDB_COLUMNS)
    rows = []
    for entry, video_id, measured in zip(entries, _unique_ids(entries), probed, strict=True):
        row = {column: entry.get(column) for column in extra}
        row.update(
            video_id=video_id, path=str(entry["file"]), relpath=entry["relpath"],
            label=entry.get("label", ""), split=entry.get("split", ""), **measured,
        )
        rows.append(row)
    frame = pd.DataFrame(rows, columns=list(MANIFEST_COLUMNS) + extra)
    return _coerce(frame)


# ----------------------------------------------------------------------------- files


def _coerce(frame: pd.DataFrame) -> pd.DataFrame:
    """One dtype per column whatever the source (a fresh listing or a CSV): nullable ints
    and booleans so a skipped row's missing size stays missing, "" for missing text."""
    frame = frame.copy()
    for column in frame.columns:
        values = frame[column]
        if column in _INT_COLUMNS:
            frame[column] = pd.to_numeric(values.replace("", None), errors="raise").astype("Int64")
        elif column in _FLOAT_COLUMNS:
            frame[column] = pd.to_numeric(values.replace("", None), errors="raise").astype("float64")
        elif column in _BOOL_COLUMNS:
            mapped = values.map(lambda v: _to_bool(v), na_action="ignore")
            frame[column] = mapped.astype("boolean")
        else:
            frame[column] = values.map(_to_text).astype(str)
    return frame


def _to_text(value: object) -> str:
    return "" if value is None or value is pd.NA or (isinstance(value, float) and value != value) else str(value)


def _to_bool(value: object) -> bool | None:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1"):
        return True
    if text in ("false", "0"):
        return False
    return None


_ADDED_COLUMNS = {"note": "", "rotation": "", "stream_index": "", "empty_slots": ""}
"""Columns newer than some manifests on disk, filled when read (the probe's three: unknown, so the clip
stage probes such a file again: ``listed_info``)."""


def _check_columns(frame: pd.DataFrame, where: str) -> None:
    missing = [c for c in MANIFEST_COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(f"{where}: manifest lacks columns {missing}")


def write_manifest(frame: pd.DataFrame, path: str | os.PathLike) -> None:
    """Write the manifest as CSV atomically: a reader sees the old file or the whole new one."""
    path = Path(path)
    _check_columns(frame, str(path))
    write_csv(frame, path)


def read_manifest(path: str | os.PathLike, *, raw_dir: str | os.PathLike | None = None) -> pd.DataFrame:
    """Read a manifest back with the dtypes ``list_videos`` gives.

    ``raw_dir`` relocates it: ``path`` is rebuilt from ``relpath`` under the given folder,
    for a copy of the dataset that has moved since it was listed.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"manifest {path} does not exist; run the list stage first")
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    for column, default in _ADDED_COLUMNS.items():
        if column not in frame.columns:
            frame.insert(list(MANIFEST_COLUMNS).index(column), column, default)
    _check_columns(frame, str(path))
    frame = _coerce(frame)
    if raw_dir is not None:
        root = os.path.abspath(os.path.expanduser(os.fspath(raw_dir)))
        frame["path"] = [os.path.normpath(os.path.join(root, rel)) for rel in frame["relpath"]]
    return frame


def listed_info(row: pd.Series) -> VideoInfo | None:
    """What the listing's probe found for a kept video (``read_manifest``'s row), for decoding it.

    Decoding needs the probe's findings (displayed size, stream, dropped-frame slots); the listing
    already has them, and probing again, packets counted, costs about as much as decoding a short
    clip. None for a row the listing did not measure or a manifest older than these columns: the
    caller probes the file then.
    """
    values = {name: row.get(name, pd.NA) for name in _PROBED}
    if row.get("status") != "ok" or any(pd.isna(v) for v in values.values()):
        return None
    return VideoInfo(path=str(row["path"]), **{name: _PROBED[name](v) for name, v in values.items()})


# Where each layout's split column comes from, for messages about a split.
_SPLIT_ORIGIN = {
    "hmdb51": "the split lists <class>_test_split<N>.txt (code 1 = train, 2 = test)",
    "ucf101": "the split lists ucfTrainTestlist/trainlist0<N>.txt and testlist0<N>.txt",
    "kth": "the persons (1-20 train, 21-25 test)",
    "thumos": "the validation/ and test/ folders or file names",
    "synthetic": "the stand-in's splits/<split>.txt lists",
}


# What to do when a split cannot come from the configured download (layout, split -> advice).
_MISSING_SPLIT = {
    ("thumos", "test"): ("the THUMOS 2015 test videos are not downloadable by url (`source: url` brings the "
                         "public validation videos only): register at http://www.thumos.info/download.html, "
                         "download the test set, and set `datasets: {thumos: {source: path, path: <folder>}}` "
                         "with the folder holding thumos15_video_test_*.mp4 (or a test/ folder)"),
}


def why_split_is_empty(
    manifest_path: str | os.PathLike, split: str, clip_index: str | os.PathLike | None = None, limit: int = 4
) -> str:
    """Why no video of ``split`` reached a later stage, for an error message: how many videos
    the listing put in it (and from which split lists), and what dropped each of them, read
    from the clip stage's index (``clips/<dataset>/<protocol>/index.csv``) when given."""
    manifest = read_manifest(manifest_path)
    layout = Path(manifest_path).stem
    origin = _SPLIT_ORIGIN.get(layout, "the dataset's split lists")
    members = manifest[manifest["split"] == split]
    if members.empty:
        present = manifest["split"].replace("", "(none)").value_counts().to_dict()
        advice = _MISSING_SPLIT.get((layout, split), "check that the lists name the files there")
        return (f"the listing {manifest_path} puts no video in {split!r} (its split column comes from "
                f"{origin}; splits present: {present}): {advice}")
    fates: pd.Series
    index = Path(clip_index) if clip_index is not None else None
    if index is not None and index.is_file():
        table = pd.read_csv(index, dtype=str, keep_default_na=False).set_index("video_id")
        table = table.reindex(members["video_id"]).fillna({"status": "not in the clip index", "reason": ""})
        status = table["status"].where(~((table["status"] == "ok") & (table["clips"] == "0")), "no clip")
        reason = table["reason"].where(status != "no clip", "too short for one clip")
        fates = (status + ": " + reason).str.rstrip(": ")
    else:
        fates = (members["status"] + ": " + members["reason"]).str.rstrip(": ")
    counts = fates.value_counts()
    shown = "; ".join(f"{n} {fate}" for fate, n in counts.head(limit).items())
    more = f"; {counts.iloc[limit:].sum()} other" if len(counts) > limit else ""
    return (f"{len(members)} videos of {manifest_path} are in {split!r} (from {origin}), and none "
            f"survived to this stage: {shown}{more}")

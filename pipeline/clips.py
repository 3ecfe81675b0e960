"""Cutting videos into clips per paper protocol, one shard of videos per job.

Each paper samples its training examples differently (SPEC section 6): walker takes one-second
31-frame clips at 30 fps, staticflow a frame every 5 frames with the next three, vgan 32 frames
at 25 fps, svg fixed-length sequences, crossconv pairs of neighbouring frames. A
:class:`ClipProtocol` captures one of these as frame offsets within a clip, a stride between
clip starts, a frame rate and a geometry; sizes come from the scale preset.

Videos are assigned to shards deterministically from the manifest, so Snakemake can name every
shard as soon as the manifest exists, and a rerun writes the same shards.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from tqdm import tqdm

from pipeline.atomic import write_csv
from pipeline.layouts import parse_segments
from pipeline.manifest import listed_info, read_manifest
from pipeline.shards import SPLITS, ShardWriter, open_shard, shard_length
from pipeline.video_probe import UnreadableVideo
from pipeline.video_read import iter_frames

log = logging.getLogger(__name__)

@dataclass(frozen=True)
class ClipProtocol:
    """How one paper samples clips from a video."""

    name: str
    offsets: tuple[int, ...]  # frame offsets of a clip relative to its start
    stride: int  # frames between consecutive clip starts
    fps: float | None  # resample to this constant rate; None keeps the video's own rate
    width: int
    height: int
    max_clips_per_video: int  # 0: every start the stride allows
    videos_per_shard: int
    static_camera_only: bool = False  # keep videos without camera motion (staticflow)
    min_quality: str | None = None  # keep HMDB-51 quality at least this ("med": med and goo)
    fit: str = "cover"  # "cover": scale to cover, centre crop; "squash": resize to width x height
    total_clips: int = 0  # >0: this many clip starts drawn at random per split (stride, max per video unused)
    windows: str = "anywhere"  # "segments": clips inside a video's listed segments (KTH's 00sequences.txt)

    @property
    def span(self) -> int:
        """Frames from a clip's first to its last frame, inclusive."""
        return max(self.offsets) + 1


WINDOWS: tuple[str, ...] = ("anywhere", "segments")
"""Where clips may start: anywhere in a video, or only inside the frame ranges its dataset lists
(the manifest's ``segments``: KTH's subsequences, where the authors of svg sample), a video
without listed ranges counting as one range."""


def protocol(name: str, sizes: dict[str, Any], dataset: str | None = None) -> ClipProtocol:
    """Build the protocol ``name`` with the sizes of the chosen preset (``presets['clips'][name]``).

    ``sizes['datasets'][dataset]``, when present, replaces sizes for that dataset only (walker
    samples 2,800 random THUMOS test frames but every 3rd frame of UCF101).
    """
    sizes = {**{k: v for k, v in sizes.items() if k != "datasets"}, **dict(sizes.get("datasets", {})).get(dataset, {})}
    common = {
        "max_clips_per_video": int(sizes["max_clips_per_video"]),
        "videos_per_shard": int(sizes["videos_per_shard"]),
        "total_clips": int(sizes.get("total_clips", 0)),
        "windows": str(sizes.get("windows", "anywhere")),
    }
    if common["windows"] not in WINDOWS:
        raise ValueError(f"clips.{name}.windows: {common['windows']!r} is not one of {list(WINDOWS)}")
    if common["windows"] == "segments" and common["total_clips"]:
        raise ValueError(f"clips.{name}: windows 'segments' and total_clips > 0 do not combine "
                         "(the random draw spans whole videos)")
    if name == "walker":
        # one-second clips at 30 fps, a clip every 3rd frame (walker sec. 5)
        return ClipProtocol(name, tuple(range(sizes["frames"])), sizes["stride"], 30.0,
                            sizes["width"], sizes["height"], **common)
    if name == "staticflow":
        # a frame and its next three, every 5th frame, height-then-centre-crop square
        return ClipProtocol(name, (0, 1, 2, 3), sizes["stride"], None, sizes["size"],
                            sizes["size"], static_camera_only=True, min_quality="med",
                            **common)
    if name == "vgan":
        # 32 frames at 25 fps, non-overlapping, square crop (vgan sec. 4)
        frames = sizes["frames"]
        return ClipProtocol(name, tuple(range(frames)), frames, 25.0, sizes["size"],
                            sizes["size"], **common)
    if name == "svg":
        # KTH: the authors' convert_kth.lua squashes 160x120 to 64x64 (ffmpeg -s 64x64)
        return ClipProtocol(name, tuple(range(sizes["frames"])), sizes["stride"], None,
                            sizes["size"], sizes["size"], fit=str(sizes.get("fit", "cover")), **common)
    if name == "crossconv":
        # pairs of neighbouring frames (Xue et al. sec. 5)
        return ClipProtocol(name, (0, sizes["gap"]), sizes["stride"], None, sizes["size"],
                            sizes["size"], **common)
    raise KeyError(f"no clip protocol named {name!r}; known: walker, staticflow, vgan, svg, crossconv")


_QUALITY_ORDER = ("bad", "med", "goo")


def effective_split(row: pd.Series) -> str:
    """The split a video's clips go to: its official split, or train where the dataset has none
    (a folder of Flickr videos); HMDB-51's "unused" (code 0) stays excluded."""
    return str(row["split"]) or "train"


def exclusion_reason(row: pd.Series, proto: ClipProtocol) -> str | None:
    """Why a listed video does not feed ``proto`` (None when it does)."""
    if row["status"] != "ok":
        return f"unreadable: {row['reason']}"
    if effective_split(row) not in SPLITS:
        return f"not in the official split ({row['split']})"
    if proto.static_camera_only and str(row.get("camera_motion", "")) == "cm":
        return "camera motion (protocol keeps static-camera videos)"
    quality = str(row.get("quality", ""))
    if proto.min_quality and quality in _QUALITY_ORDER:
        if _QUALITY_ORDER.index(quality) < _QUALITY_ORDER.index(proto.min_quality):
            return f"quality {quality} (protocol keeps {proto.min_quality} and better)"
    return None


def eligible_mask(manifest: pd.DataFrame, proto: ClipProtocol) -> pd.Series:
    """Per listed video, whether it feeds ``proto``: :func:`exclusion_reason` is None, computed on
    whole columns (a row-by-row apply was a second of every 13,320-video dry run)."""
    def column(name: str) -> pd.Series:
        return (manifest[name] if name in manifest else pd.Series("", index=manifest.index)).astype(str)

    split = column("split").replace("", "train")
    keep = (column("status") == "ok") & split.isin(SPLITS)
    if proto.static_camera_only:
        keep &= column("camera_motion") != "cm"
    if proto.min_quality:
        too_low = _QUALITY_ORDER[: _QUALITY_ORDER.index(proto.min_quality)]
        keep &= ~column("quality").isin(too_low)
    return keep


def eligible_videos(manifest: pd.DataFrame, proto: ClipProtocol) -> pd.DataFrame:
    """Videos that feed ``proto``, in the fixed order that assigns them to shards."""
    return manifest[eligible_mask(manifest, proto)].sort_values("video_id", kind="stable")


def shard_count(manifest: pd.DataFrame, proto: ClipProtocol) -> int:
    """How many clip shards ``proto`` cuts from this manifest (known before any decoding)."""
    return math.ceil(len(eligible_videos(manifest, proto)) / proto.videos_per_shard)


def clip_starts(n_frames: int, proto: ClipProtocol, segments: Sequence[tuple[int, int]] = ()) -> list[int]:
    """Clip starts on the stride grid, thinned evenly to ``max_clips_per_video`` when set.

    With ``segments`` (0-based half-open frame ranges) the grid restarts at each range and no
    clip crosses a range's end, so a clip never joins two takes of an action."""
    starts = [start for first, stop in (segments or [(0, n_frames)])
              for start in range(first, min(stop, n_frames) - proto.span + 1, proto.stride)]
    limit = proto.max_clips_per_video
    if limit and len(starts) > limit:
        picks = np.linspace(0, len(starts) - 1, limit).round().astype(int)
        starts = [starts[i] for i in picks]
    return starts


_DRAW_SEED = 0
"""Seed of the ``total_clips`` draw: part of the data, like an official split, so every training
seed (and every rerun) scores the same frames."""


def drawn_starts(manifest: pd.DataFrame, proto: ClipProtocol) -> dict[str, list[int]]:
    """video_id -> sorted clip starts, ``proto.total_clips`` of them per split, drawn uniformly
    without replacement over every frame of every eligible video where a whole clip fits (the
    walker paper's "2,800 random frames" of the THUMOS test set), so a video gets its share by
    its length. Computed from the manifest alone (frame counts or durations), so every shard job
    agrees on the draw and a shard's contents are known before decoding."""
    videos = eligible_videos(manifest, proto)
    drawn: dict[str, list[int]] = {}
    for code, split in enumerate(SPLITS):
        part = videos[videos.apply(effective_split, axis=1) == split] if len(videos) else videos
        room = np.array([max(0, _expected_frames(row, proto) - proto.span + 1) for _, row in part.iterrows()], np.int64)
        total = int(room.sum())
        if not total:
            continue
        rng = np.random.default_rng([_DRAW_SEED, code])
        picks = np.sort(rng.choice(total, size=min(proto.total_clips, total), replace=False))
        ends = np.cumsum(room)
        owners = np.searchsorted(ends, picks, side="right")
        for owner, pick in zip(owners, picks, strict=True):
            drawn.setdefault(str(part.iloc[owner]["video_id"]), []).append(int(pick - ends[owner] + room[owner]))
    return drawn


def clip_count(manifest: pd.DataFrame, proto: ClipProtocol) -> int:
    """Clips ``proto`` cuts from a manifest's eligible videos, known before any decoding (a plan's
    disk estimate): the stride grid per video, or the ``total_clips`` draw."""
    if proto.total_clips:
        return sum(len(starts) for starts in drawn_starts(manifest, proto).values())
    videos = eligible_videos(manifest, proto)
    return sum(len(video_starts(row, proto)) for _, row in videos.iterrows())


def _expected_frames(row: pd.Series, proto: ClipProtocol) -> int:
    if proto.fps is None:
        return int(row["frames"])
    return int(math.floor(float(row["duration"]) * proto.fps + 1e-6))


def video_segments(row: pd.Series, proto: ClipProtocol) -> list[tuple[int, int]]:
    """The frame ranges ``proto`` cuts a video's clips from, in the frames it decodes (ranges
    listed at the video's own rate are rescaled when the protocol resamples); [] for anywhere."""
    if proto.windows != "segments":
        return []
    segments = parse_segments(str(row.get("segments", "")))
    if proto.fps is None or not segments:
        return segments
    ratio = proto.fps / float(row["fps"])
    return [(math.ceil(first * ratio - 1e-6), math.floor(stop * ratio + 1e-6)) for first, stop in segments]


def video_starts(row: pd.Series, proto: ClipProtocol) -> list[int]:
    """The stride grid of one listed video (its segments' grids with ``windows='segments'``)."""
    return clip_starts(_expected_frames(row, proto), proto, video_segments(row, proto))


def decode_options(proto: ClipProtocol, width: int, height: int) -> dict[str, Any]:
    """ffmpeg resamples, scales and crops while decoding: the frame is scaled to cover the
    protocol's size, keeping its aspect ratio, then centre-cropped (staticflow's "height 200,
    centre crop 200x200" for landscape video; the same rule serves portrait video and 16:9 clips
    cut to 4:3). ``fit='squash'`` resizes to the protocol's size, aspect ratio not kept (svg's KTH,
    as the authors' ffmpeg ``-s 64x64``). Sizes are (H, W) for ``iter_frames``."""
    if proto.fit == "squash":
        return {"fps": proto.fps, "size": (proto.height, proto.width), "center_crop": None}
    if proto.fit != "cover":
        raise ValueError(f"clip protocol {proto.name}: fit must be 'cover' or 'squash', got {proto.fit!r}")
    scale = max(proto.width / width, proto.height / height)
    scaled = (max(proto.height, round(height * scale)), max(proto.width, round(width * scale)))
    return {"fps": proto.fps, "size": scaled, "center_crop": (proto.height, proto.width)}


def cut_video(path: Path, row: pd.Series, proto: ClipProtocol,
              starts: Sequence[int] | None = None) -> Iterator[tuple[int, np.ndarray]]:
    """Decode one video once, streaming, and yield its clips as ``(start, clip (T, H, W, 3))``.

    Frames are buffered only as far back as the longest clip reaches and each clip is handed
    on as soon as it is complete, so a long video (an hour of Flickr or exercise footage, a
    THUMOS test video) never sits in memory whole, neither as frames nor as clips. ``starts``
    (sorted) replaces the protocol's stride grid. The listing's probe of the file (``listed_info``)
    is used rather than probing it again (a third of the cutting time of a short video).
    """
    wanted = video_starts(row, proto) if starts is None else list(starts)
    buffer: dict[int, np.ndarray] = {}
    pending = iter(wanted)
    next_start = next(pending, None)
    frames = iter_frames(path, **decode_options(proto, int(row["width"]), int(row["height"])),
                         info=listed_info(row))
    try:
        for index, frame in enumerate(frames):
            if next_start is None:
                break  # every wanted clip is cut: stop decoding the rest
            buffer[index] = frame
            while next_start is not None and index >= next_start + proto.span - 1:
                yield next_start, np.stack([buffer[next_start + o] for o in proto.offsets])
                next_start = next(pending, None)
            keep_from = next_start if next_start is not None else index + 1
            for old in [k for k in buffer if k < keep_from]:
                del buffer[old]
    finally:
        frames.close()  # ends ffmpeg when the caller stops early or every clip is cut


def shard_videos(manifest: pd.DataFrame, proto: ClipProtocol, shard: int) -> pd.DataFrame:
    """The videos of shard number ``shard``."""
    videos = eligible_videos(manifest, proto)
    per = proto.videos_per_shard
    if not 0 <= shard < max(1, math.ceil(len(videos) / per)):
        raise IndexError(f"shard {shard} out of range for {len(videos)} videos at {per} per shard")
    return videos.iloc[shard * per : (shard + 1) * per]


_CLIP_METADATA_DTYPES = {"video_index": np.int32, "start": np.int32, "label": np.int16, "split": np.uint8}
"""The per-clip arrays of a clip shard beside ``frames``."""


def cut_shard(
    manifest_path: Path,
    raw_dir: Path | None,
    proto: ClipProtocol,
    shard: int,
    out_path: Path,
    provenance: dict[str, Any],
) -> Path:
    """Cut the clips of one shard of videos and publish them as one Zarr shard.

    A video that fails to decode or is too short for one clip is recorded in the shard's
    ``skipped`` attribute with its reason; the others go on. Clips go to the shard as they are
    cut (:class:`ShardWriter`), so memory does not grow with the length of a video. With
    ``proto.total_clips`` the clips are those :func:`drawn_starts` draws, not the stride grid.
    """
    manifest = read_manifest(manifest_path, raw_dir=raw_dir)
    labels = sorted(set(manifest["label"].astype(str)))
    videos = shard_videos(manifest, proto, shard)
    kept: list[str] = []
    segmented: list[str] = []  # kept videos whose clips come from listed segments only
    skipped: list[dict[str, str]] = []
    # kept and skipped fill in as the videos are cut; the writer stores attrs when it closes
    attrs = {"protocol": proto.name, "offsets": list(proto.offsets), "fps": proto.fps,
             "windows": proto.windows, "segmented": segmented, "videos": kept,
             "labels": labels, "splits": list(SPLITS), "skipped": skipped, **provenance}
    bar = tqdm(videos.iterrows(), total=len(videos), desc=f"{proto.name} shard {shard}", unit="video")
    with ShardWriter(out_path, attrs) as writer:
        writer.append("frames", np.zeros((0, len(proto.offsets), proto.height, proto.width, 3), np.uint8))
        for name, dtype in _CLIP_METADATA_DTYPES.items():
            writer.append(name, np.zeros(0, dtype))
        drawn = drawn_starts(manifest, proto) if proto.total_clips else None
        for _, row in bar:
            before = len(writer)
            starts = None if drawn is None else drawn.get(str(row["video_id"]), [])
            if starts == []:
                reason = f"none of the {proto.total_clips} clips drawn at random over its split falls in it"
                skipped.append({"video_id": row["video_id"], "reason": reason})
                continue
            metadata = {"video_index": np.int32(len(kept)),
                        "label": np.int16(labels.index(str(row["label"]))),
                        "split": np.uint8(SPLITS.index(effective_split(row)))}
            segments = video_segments(row, proto)
            try:
                for start, clip in cut_video(Path(row["path"]), row, proto, starts):
                    writer.add({"frames": clip, "start": np.int32(start), **metadata})
            except UnreadableVideo as error:
                writer.truncate(before)  # a video that fails halfway gives no clips at all
                skipped.append({"video_id": row["video_id"], "reason": str(error)})
                log.warning("skipping %s: %s", row["video_id"], error)
                continue
            if len(writer) == before:
                reason = f"too short for one {proto.span}-frame clip ({row['frames']} frames)"
                if segments:
                    reason = (f"no listed segment ({row['segments']}) holds one {proto.span}-frame clip "
                              f"({row['frames']} frames)")
                skipped.append({"video_id": row["video_id"], "reason": reason})
                continue
            kept.append(str(row["video_id"]))
            if segments:
                segmented.append(str(row["video_id"]))
    return out_path


def write_clip_index(manifest_path: Path, shard_paths: list[Path], proto: ClipProtocol, out_csv: Path) -> pd.DataFrame:
    """One row per listed video: which shard holds its clips and how many, or why it has none.

    This is the table a person reads to see what the clip stage kept and dropped.
    """
    manifest = read_manifest(manifest_path)
    rows: dict[str, dict[str, Any]] = {}
    for _, row in manifest.iterrows():
        reason = exclusion_reason(row, proto)
        if reason:
            rows[row["video_id"]] = {"video_id": row["video_id"], "shard": "", "clips": 0,
                                     "status": "excluded", "reason": reason}
    for path in shard_paths:
        group = open_shard(path)
        counts = np.bincount(group["video_index"][:], minlength=len(group.attrs["videos"]))
        for vid, n in zip(group.attrs["videos"], counts, strict=True):
            rows[vid] = {"video_id": vid, "shard": Path(path).name, "clips": int(n), "status": "ok", "reason": ""}
        for item in group.attrs["skipped"]:
            rows[item["video_id"]] = {"video_id": item["video_id"], "shard": Path(path).name,
                                      "clips": 0, "status": "skipped", "reason": item["reason"]}
    table = pd.DataFrame(list(rows.values()), columns=["video_id", "shard", "clips", "status", "reason"])
    out_csv.parent.mkdir(parents=True, exist_ok=True)
    write_csv(table.sort_values("video_id"), out_csv)
    return table


def total_clips(shard_paths: list[Path]) -> int:
    """Clips across shards (for logs and benchmarks)."""
    return sum(shard_length(open_shard(p)) for p in shard_paths)

"""Probe video files with ffprobe, failing with a short reason on bad input.

Every stage that reads a raw video learns what it holds here first (frames, rate, size,
rotation, dropped-frame slots, variable frame rate), so a broken file (empty, truncated,
audio only, not a video at all) is reported once, the same way, as ``UnreadableVideo``
with a human reason that the manifest stores beside the file. ``pipeline.video_read``
decodes what a probe accepted.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

__all__ = ["UnreadableVideo", "VideoInfo", "probe"]

PROBE_TIMEOUT_S = 120.0  # a probe that hangs (dead network mount, FIFO) must not stall a listing
_VFR_TOLERANCE = 0.01  # relative gap between r_frame_rate and avg_frame_rate that means VFR
_JITTER = 0.05  # a frame interval this far (relative) from the median one is irregular...
_JITTER_TICKS = 1.5  # ...and farther than this many time-base ticks (a 1 ms base rounds 33.37 ms)
_IRREGULAR_SHARE = 0.02  # more irregular intervals than this share (and more than one) means VFR
_TRUNCATION_TOLERANCE = 0.02  # fraction of the declared frames allowed to be missing


class UnreadableVideo(Exception):
    """A file that cannot be read as a video; ``reason`` is short enough for a table cell."""

    def __init__(self, path: str | os.PathLike, reason: str) -> None:
        super().__init__(str(path), reason)
        self.path = str(path)
        self.reason = reason

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


@dataclass(frozen=True)
class VideoInfo:
    """What a listing needs to know about a video, read from its container without decoding.

    ``width`` and ``height`` are the displayed size: a rotation flag (phone videos) is
    already applied, as ffmpeg applies it when decoding.
    """

    path: str
    frames: int  # frames the decoder will return at the native rate
    fps: float  # average frame rate (frames / duration)
    width: int
    height: int
    duration: float  # seconds
    codec: str
    variable_frame_rate: bool
    rotation: int = 0  # degrees, clockwise display rotation found in the file
    stream_index: int = 0  # index of the decoded video stream in the container
    empty_slots: int = 0  # frame slots stored empty (dropped frames); each shows the frame before


def _rate(text: str | None) -> float:
    """ffprobe's ``"30000/1001"`` as a float; 0.0 when absent or ``0/0``."""
    if not text or text in ("0/0", "N/A"):
        return 0.0
    try:
        value = Fraction(text)
    except (ValueError, ZeroDivisionError):
        return 0.0
    return float(value) if value > 0 else 0.0


def _number(text: object) -> float | None:
    try:
        value = float(text)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return value if np.isfinite(value) else None


def _stderr_reason(stderr: str) -> str:
    """Turn ffprobe's error output into a short reason a person can act on."""
    lowered = stderr.lower()
    known = [
        ("moov atom not found", "truncated or incomplete file (moov atom not found)"),
        ("no such file or directory", "file not found"),
        ("permission denied", "permission denied"),
        ("invalid data found when processing input", "not a media file (invalid data)"),
        ("end of file", "truncated file (unexpected end of file)"),
    ]
    for needle, reason in known:
        if needle in lowered:
            return reason
    return "ffprobe failed: " + _last_line(stderr)


def _last_line(stderr: str, limit: int = 160) -> str:
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip()]
    if not lines:
        return "no message"
    # Drop ffmpeg's "[mov,mp4 @ 0x55..] " context prefix, which says nothing to a user.
    line = re.sub(r"^\[[^\]]*@ 0x[0-9a-f]+\]\s*", "", lines[-1])
    return line[:limit]


def _ffprobe_json(path: str, count_packets: bool, timeout: float) -> dict:
    """Run ffprobe; ffmpeg-python 0.2's ``probe`` has no timeout, which a listing needs.

    ``count_packets`` also lists every packet's timestamps and size (one demuxing pass, no
    decoding): what tells a truncated file from one with dropped-frame entries, and a
    variable frame rate from a constant one.
    """
    args = ["ffprobe", "-v", "error", "-show_format", "-show_streams", "-of", "json=compact=1"]
    if count_packets:
        args += ["-show_entries", "packet=stream_index,pts,dts,size"]
    args.append(path)
    try:
        proc = subprocess.run(args, capture_output=True, timeout=timeout, stdin=subprocess.DEVNULL)
    except FileNotFoundError as exc:
        raise RuntimeError("ffprobe is not on PATH; install ffmpeg (>= 4.4)") from exc
    except subprocess.TimeoutExpired as exc:
        raise UnreadableVideo(path, f"ffprobe timed out after {timeout:.0f} s") from exc
    stderr = proc.stderr.decode("utf-8", errors="replace")
    if proc.returncode != 0:
        raise UnreadableVideo(path, _stderr_reason(stderr))
    try:
        return json.loads(proc.stdout.decode("utf-8", errors="replace"))
    except json.JSONDecodeError as exc:
        raise UnreadableVideo(path, "ffprobe returned unparseable output") from exc


def _rotation(stream: dict) -> int:
    """Clockwise display rotation in degrees (side data in ffmpeg >= 5, a tag before)."""
    for side in stream.get("side_data_list", []) or []:
        if "rotation" in side:
            value = _number(side["rotation"])
            if value is not None:
                return int(round(value)) % 360
    value = _number((stream.get("tags") or {}).get("rotate"))
    return int(round(value)) % 360 if value is not None else 0


def _pick_video_stream(path: str, streams: list[dict]) -> dict:
    videos = [s for s in streams if s.get("codec_type") == "video"]
    real = [s for s in videos if not (s.get("disposition") or {}).get("attached_pic")]
    if real:
        default = [s for s in real if (s.get("disposition") or {}).get("default")]
        return (default or real)[0]
    if videos:
        raise UnreadableVideo(path, "no video stream (only cover art)")
    if any(s.get("codec_type") == "audio" for s in streams):
        raise UnreadableVideo(path, "no video stream (audio only)")
    raise UnreadableVideo(path, "no video stream")


def _packet_times(packets: list[dict], index: int, time_base: str | None) -> tuple[int, int, np.ndarray | None]:
    """(packets of the stream, those with data, sorted presentation times in seconds of the
    latter; None when the stream has no usable time base or timestamps)."""
    mine = [p for p in packets if int(p.get("stream_index", -1)) == index]
    coded = [p for p in mine if (_number(p.get("size")) or 0) > 0]
    try:
        tick = Fraction(time_base) if time_base else None
    except (ValueError, ZeroDivisionError):
        tick = None
    stamps = [p.get("pts") if p.get("pts") not in (None, "N/A") else p.get("dts") for p in coded]
    if tick is None or tick <= 0 or not coded or any(t in (None, "N/A") for t in stamps):
        return len(mine), len(coded), None
    return len(mine), len(coded), np.sort(np.array([int(t) for t in stamps], np.float64)) * float(tick)


def _irregular_timing(times: np.ndarray, tick: float) -> bool:
    """True when the intervals between frames vary more than timestamp rounding explains."""
    gaps = np.diff(times)
    if len(gaps) < 2:
        return False
    typical = float(np.median(gaps))
    off = np.abs(gaps - typical) > max(_JITTER * typical, _JITTER_TICKS * tick)
    return int(off.sum()) > max(1.0, _IRREGULAR_SHARE * len(gaps))


def _slots_spanned(times: np.ndarray | None, rate: float) -> int | None:
    """Frame slots from the first to the last coded frame at the nominal ``rate``."""
    if times is None or rate <= 0 or len(times) == 0:
        return None
    return int(round((times[-1] - times[0]) * rate)) + 1


def probe(
    path: str | os.PathLike, *, count_packets: bool = True, timeout: float = PROBE_TIMEOUT_S
) -> VideoInfo:
    """Read a video's size, rate and frame count from its container (no decoding).

    The frame count is the container's ``nb_frames`` when present and consistent with the
    duration and with the packets actually present, else the number of packets counted.
    Counting packets (``count_packets=True``) reads the file through the demuxer only; it
    costs about as much as starting ffprobe and is what reveals a truncated file whose
    header still promises every frame. The packets' timestamps say more: a file whose coded
    frames are far fewer than its slots but whose timestamps still run to the last slot
    stores dropped frames as empty entries (AVI captures do); it is counted as a player shows
    it, every slot, an empty one repeating the frame before (``empty_slots``, and ``decode``
    does the same). Frame intervals that vary beyond timestamp rounding mark a variable
    frame rate (without packets, only a gap between the nominal and average rates can).

    Raises ``UnreadableVideo`` with a short reason for anything that is not a readable video.
    """
    path = os.path.abspath(os.fspath(path))  # an absolute path is never taken for an option or URL
    if not os.path.exists(path):
        raise UnreadableVideo(path, "file not found")
    if os.path.isdir(path):
        raise UnreadableVideo(path, "is a directory, not a file")
    if os.path.getsize(path) == 0:
        raise UnreadableVideo(path, "empty file (0 bytes)")

    meta = _ffprobe_json(path, count_packets, timeout)
    stream = _pick_video_stream(path, meta.get("streams", []))
    fmt = meta.get("format", {})

    width, height = int(stream.get("width") or 0), int(stream.get("height") or 0)
    if width <= 0 or height <= 0:
        raise UnreadableVideo(path, "unknown frame size (corrupt or unsupported video stream)")
    rotation = _rotation(stream)
    if rotation in (90, 270):
        width, height = height, width

    avg_rate, base_rate = _rate(stream.get("avg_frame_rate")), _rate(stream.get("r_frame_rate"))
    duration = _number(stream.get("duration")) or _number(fmt.get("duration")) or 0.0
    declared = _number(stream.get("nb_frames"))
    index = int(stream.get("index", 0))
    counted: float | None = None
    times: np.ndarray | None = None
    if count_packets:
        entries, coded, times = _packet_times(meta.get("packets", []), index, stream.get("time_base"))
        counted = float(coded)
        if declared is None and entries > coded:  # empty packets of their own (mkv, mp4)
            declared = float(entries)

    if counted is not None and counted <= 0:
        raise UnreadableVideo(path, "no video frames (0 packets)")
    empty = 0
    if declared is not None and declared > 0 and counted is not None:
        missing = declared - counted
        allowed = max(1.0, _TRUNCATION_TOLERANCE * declared)
        if missing > allowed:
            slots = _slots_spanned(times, base_rate)
            if slots is None or slots < declared - allowed:  # the frames stop early: cut short
                raise UnreadableVideo(
                    path, f"truncated: only {int(counted)} of {int(declared)} frames present"
                )
            empty = int(declared - counted)  # coded frames run to the end: dropped-frame entries

    fps = base_rate if empty else (avg_rate or base_rate)
    sane = declared is not None and declared > 0
    if sane and duration > 0 and fps > 0:
        expected = duration * fps
        sane = abs(declared - expected) <= max(2.0, 0.1 * expected)
    if sane and counted is not None and not empty:
        sane = declared <= counted
    if sane:
        frames = int(declared)
    elif counted is not None:
        frames = int(counted)
    elif duration > 0 and fps > 0:
        frames = int(round(duration * fps))  # header-only probe of a file without nb_frames
    else:
        raise UnreadableVideo(path, "frame count unknown (no nb_frames, duration or rate)")

    if duration <= 0 and fps > 0:
        duration = frames / fps
    if fps <= 0 and duration > 0:
        fps = frames / duration
    if empty:
        vfr = False  # the slots keep a constant rate; only their content repeats
    elif times is not None and len(times) >= 3:
        vfr = _irregular_timing(times, float(Fraction(stream["time_base"])))
    else:
        vfr = bool(avg_rate and base_rate and abs(avg_rate - base_rate) > _VFR_TOLERANCE * base_rate)

    return VideoInfo(
        path=path,
        frames=frames,
        fps=float(fps),
        width=width,
        height=height,
        duration=float(duration),
        codec=str(stream.get("codec_name", "unknown")),
        variable_frame_rate=vfr,
        rotation=rotation,
        stream_index=index,
        empty_slots=empty,
    )

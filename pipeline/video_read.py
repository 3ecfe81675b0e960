"""Probe and decode video files with ffmpeg, failing with a short reason on bad input.

Every stage that reads a raw video goes through here, so a broken file (empty, truncated,
audio only, not a video at all) is reported once, the same way, as ``UnreadableVideo``
with a human reason that the manifest stores beside the file.

Decoding runs one ``ffmpeg`` process per call, built with ffmpeg-python, that does the
resampling in time (``fps`` filter), resizing and cropping itself and writes raw ``rgb24``
frames to a pipe. Its stderr is drained by a thread so a chatty ffmpeg never fills the
pipe and deadlocks, and the process is always reaped, even if the caller stops early.

Sizes are given as ``(height, width)``, the order of the ``(T, H, W, 3)`` arrays returned.
"""

from __future__ import annotations

import collections
import json
import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache

import ffmpeg
import numpy as np

__all__ = ["UnreadableVideo", "VideoInfo", "probe", "decode", "iter_frames"]

PROBE_TIMEOUT_S = 120.0  # a probe that hangs (dead network mount, FIFO) must not stall a listing
_STDERR_TAIL_LINES = 8  # ffmpeg lines kept for the error message; the rest is drained and dropped
_VFR_TOLERANCE = 0.01  # relative gap between r_frame_rate and avg_frame_rate that means VFR
_JITTER = 0.05  # a frame interval this far (relative) from the median one is irregular...
_JITTER_TICKS = 1.5  # ...and farther than this many time-base ticks (a 1 ms base rounds 33.37 ms)
_IRREGULAR_SHARE = 0.02  # more irregular intervals than this share (and more than one) means VFR
_TRUNCATION_TOLERANCE = 0.02  # fraction of the declared frames allowed to be missing
_SHORTFALL = 0.9  # a decode giving fewer than this fraction of the expected frames failed


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


# ----------------------------------------------------------------------------- probe


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


# ----------------------------------------------------------------------------- decode


def _pair(value: int | tuple[int, int], name: str) -> tuple[int, int]:
    """An int means a square; a pair is ``(height, width)``."""
    pair = (value, value) if isinstance(value, (int, np.integer)) else tuple(value)
    if len(pair) != 2 or min(pair) <= 0:
        raise ValueError(f"{name} must be a positive int or (height, width), got {value!r}")
    return int(pair[0]), int(pair[1])


def _output_plan(
    info: VideoInfo,
    size: tuple[int, int] | None,
    resize_height: int | None,
    center_crop: int | tuple[int, int] | None,
) -> tuple[list[tuple[str, dict]], int, int]:
    """The filters after ``fps`` and the final frame size, computed here rather than
    guessed from ffmpeg's rounding so the byte stream can be cut into frames exactly."""
    if size is not None and resize_height is not None:
        raise ValueError("give either size or resize_height, not both")
    height, width = info.height, info.width
    filters: list[tuple[str, dict]] = []
    if size is not None:
        height, width = _pair(size, "size")
        filters.append(("scale", {"w": width, "h": height}))
    elif resize_height is not None:
        if resize_height <= 0:
            raise ValueError(f"resize_height must be positive, got {resize_height}")
        width = max(1, int(info.width * resize_height / info.height + 0.5))
        height = int(resize_height)
        filters.append(("scale", {"w": width, "h": height}))
    if center_crop is not None:
        crop_h, crop_w = _pair(center_crop, "center_crop")
        if crop_h > height or crop_w > width:
            raise ValueError(
                f"{info.path}: center_crop {crop_h}x{crop_w} (HxW) is larger than the "
                f"{height}x{width} frame it is taken from"
            )
        x, y = (width - crop_w) // 2, (height - crop_h) // 2
        filters.append(("crop", {"w": crop_w, "h": crop_h, "x": x, "y": y}))
        height, width = crop_h, crop_w
    return filters, height, width


@lru_cache(maxsize=1)
def _passthrough_args() -> tuple[str, ...]:
    """Output options that stop ffmpeg from duplicating/dropping frames to a nominal rate.

    ``-fps_mode`` replaced ``-vsync`` in ffmpeg 5.1; use whichever this ffmpeg has.
    """
    try:
        out = subprocess.run(["ffmpeg", "-version"], capture_output=True, timeout=30).stdout
    except (FileNotFoundError, subprocess.TimeoutExpired) as exc:
        raise RuntimeError("ffmpeg is not on PATH; install ffmpeg (>= 4.4)") from exc
    match = re.search(rb"ffmpeg version n?(\d+)\.(\d+)", out)
    if match and (int(match.group(1)), int(match.group(2))) < (5, 1):
        return ("-vsync", "passthrough")
    return ("-fps_mode", "passthrough")  # 5.1+, and git builds ("version N-...")


def _read_exact(stream, view: memoryview) -> bool:
    """Fill ``view`` from the pipe; False at end of stream (a partial last frame is dropped)."""
    filled = 0
    while filled < len(view):
        n = stream.readinto(view[filled:])
        if not n:
            return False
        filled += n
    return True


def _drain(stream, tail: collections.deque) -> None:
    """Read ffmpeg's stderr to the end, keeping only the last lines."""
    for raw in iter(stream.readline, b""):
        line = raw.decode("utf-8", errors="replace").rstrip()
        if line:
            tail.append(line)


def iter_frames(
    path: str | os.PathLike,
    *,
    fps: float | None = None,
    size: tuple[int, int] | None = None,
    resize_height: int | None = None,
    center_crop: int | tuple[int, int] | None = None,
    start: float = 0.0,
    max_frames: int | None = None,
    info: VideoInfo | None = None,
    loglevel: str = "error",
) -> Iterator[np.ndarray]:
    """Yield frames one at a time as ``(H, W, 3)`` uint8 RGB, for videos too long to hold.

    ``fps`` resamples to a constant rate with ffmpeg's ``fps`` filter (frames are dropped or
    repeated by timestamp), which is what turns a variable-frame-rate video into a fixed
    number of frames per second. Without it every decoded frame is returned once
    (passthrough: no duplication to a nominal rate), except in a file with dropped-frame
    entries (``info.empty_slots``), which is read at its slot rate as a player shows it.
    Then ``size`` = (height, width) or ``resize_height`` (width keeps the aspect ratio),
    then ``center_crop`` = int or (height, width). ``start`` is in seconds (frame ``k``
    starts at ``k / info.fps``); ``info`` (this file's ``probe``) skips probing again;
    ``loglevel`` is ffmpeg's.

    Raises ``UnreadableVideo`` if probing fails or ffmpeg fails, with its last stderr lines.
    """
    info = info if info is not None else probe(path)
    src = os.path.abspath(os.fspath(path))
    filters, height, width = _output_plan(info, size, resize_height, center_crop)
    if fps is not None and fps <= 0:
        raise ValueError(f"fps must be positive, got {fps}")
    if max_frames is not None and max_frames <= 0:
        return
    if start < 0:
        raise ValueError(f"start must be >= 0 seconds, got {start}")

    if fps is None and info.empty_slots:
        fps = info.fps  # every slot, an empty one repeating the frame before
    # a seek lands on the next coded frame, so in a file with empty slots the frames are counted
    # off after the fps filter instead (the slots between lie before that coded frame)
    seek = start > 0 and not info.empty_slots
    input_kwargs = {"ss": f"{start:.6f}"} if seek else {}
    stream = ffmpeg.input(src, **input_kwargs)[str(info.stream_index)]
    if fps is not None:
        stream = stream.filter("fps", fps=fps)
    if start > 0 and not seek:
        stream = stream.filter("trim", start_frame=int(round(start * fps)))
    # RGB first: chroma is upsampled at native size, and a crop at an odd offset is exact
    # (a crop of subsampled YUV would be moved to an even column).
    stream = stream.filter("format", "rgb24")
    for name, kwargs in filters:
        stream = stream.filter(name, **kwargs)
    output_kwargs = {"format": "rawvideo", "pix_fmt": "rgb24"}
    if max_frames is not None:
        output_kwargs["frames:v"] = int(max_frames)
    compiled = stream.output("pipe:", **output_kwargs).compile()  # ["ffmpeg", ..., "pipe:"]
    args = (
        [compiled[0], "-nostdin", "-hide_banner", "-loglevel", loglevel]
        + compiled[1:-1]
        + list(_passthrough_args())  # output options go before the output "pipe:"
        + compiled[-1:]
    )

    tail: collections.deque[str] = collections.deque(maxlen=_STDERR_TAIL_LINES)
    try:
        proc = subprocess.Popen(
            args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
    except FileNotFoundError as exc:
        raise RuntimeError("ffmpeg is not on PATH; install ffmpeg (>= 4.4)") from exc
    drainer = threading.Thread(target=_drain, args=(proc.stderr, tail), daemon=True)
    drainer.start()
    produced = 0
    finished = False
    try:
        while max_frames is None or produced < max_frames:
            frame = np.empty((height, width, 3), np.uint8)  # (H, W, 3), writable, no extra copy
            if not _read_exact(proc.stdout, memoryview(frame).cast("B")):
                break
            produced += 1
            yield frame
        finished = True
    finally:
        if not finished and proc.poll() is None:
            proc.kill()  # the caller stopped early (generator closed); nothing more to read
        returncode = proc.wait()
        if not sys.is_finalizing():  # at exit the drainer is frozen holding the stderr lock
            drainer.join()
            proc.stdout.close()
            proc.stderr.close()
    detail = " | ".join(tail) or "no message"
    if returncode != 0:
        raise UnreadableVideo(src, f"decode failed (ffmpeg exit {returncode}): {detail}")
    if produced == 0 and start == 0:
        raise UnreadableVideo(src, f"decoded no frames: {detail}")
    if max_frames is None or produced < max_frames:
        # ffmpeg conceals damage and exits 0 on a file cut short behind an intact header;
        # far fewer frames than the header promises is the sign
        expected = _expected_count(info, fps, start, max_frames)
        if produced < _SHORTFALL * expected - 2:
            raise UnreadableVideo(src, f"decoded only {produced} of ~{expected} frames: {detail}")


def _expected_count(info: VideoInfo, fps: float | None, start: float, max_frames: int | None) -> int:
    """Roughly how many frames a decode from ``start`` should give (a floor for a sanity check)."""
    if fps is None:
        expected = info.frames - int(round(start * info.fps))
    else:
        expected = int((info.duration - start) * fps)
    if max_frames is not None:
        expected = min(expected, max_frames)
    return max(expected, 0)


def decode(
    path: str | os.PathLike,
    *,
    fps: float | None = None,
    size: tuple[int, int] | None = None,
    resize_height: int | None = None,
    center_crop: int | tuple[int, int] | None = None,
    start: float = 0.0,
    max_frames: int | None = None,
    info: VideoInfo | None = None,
    loglevel: str = "error",
) -> np.ndarray:
    """Decode a whole video (or ``max_frames`` of it) into ``(T, H, W, 3)`` uint8 RGB.

    Same options as ``iter_frames``; ``T`` may be 0 when ``start`` is past the end.
    """
    info = info if info is not None else probe(path)
    _, height, width = _output_plan(info, size, resize_height, center_crop)
    frames = list(
        iter_frames(
            path,
            fps=fps,
            size=size,
            resize_height=resize_height,
            center_crop=center_crop,
            start=start,
            max_frames=max_frames,
            info=info,
            loglevel=loglevel,
        )
    )
    if not frames:
        return np.zeros((0, height, width, 3), np.uint8)
    return np.stack(frames)  # (T, H, W, 3)

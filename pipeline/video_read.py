"""Decode video files with ffmpeg into (T, H, W, 3) uint8 arrays, failing with a short reason.

A file is probed first (``pipeline.video_probe``), so a broken one is reported as
``UnreadableVideo`` with the same reason wherever it is read.

Decoding runs one ``ffmpeg`` process per call, built with ffmpeg-python, that does the
resampling in time (``fps`` filter), resizing and cropping itself and writes raw ``rgb24``
frames to a pipe. Its stderr is drained by a thread so a chatty ffmpeg never fills the
pipe and deadlocks, and the process is always reaped, even if the caller stops early.

Sizes are given as ``(height, width)``, the order of the ``(T, H, W, 3)`` arrays returned.
"""

from __future__ import annotations

import collections
import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from functools import lru_cache

import ffmpeg
import numpy as np

from pipeline.video_probe import UnreadableVideo, VideoInfo, probe

__all__ = ["decode", "iter_frames"]

_STDERR_TAIL_LINES = 8  # ffmpeg lines kept for the error message; the rest is drained and dropped
_SHORTFALL = 0.9  # a decode giving fewer than this fraction of the expected frames failed



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

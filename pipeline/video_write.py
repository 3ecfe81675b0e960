"""Write RGB frames as an H.264 video file, the format every dataset stage decodes.

Frames are piped raw to ffmpeg (libx264, yuv420p: what every decoder and the real datasets'
transcodes use), so no intermediate images touch the disk. ffmpeg's stderr is drained on a
thread while frames are written: a full stderr pipe would otherwise block ffmpeg, which would
stop reading stdin and deadlock the writer. The file is written under a temporary name in the
destination folder and renamed at the end, so a killed run never leaves a truncated video
under its final name.
"""

from __future__ import annotations

import re
import threading
from fractions import Fraction
from pathlib import Path
from typing import Any

import ffmpeg
import numpy as np

from pipeline.atomic import publishing

_X264_BUILD = re.compile(rb"x264 - core (\d+)(?: (r\d+) ?([0-9a-f]+)?)?")


def encoder_build(path: str | Path) -> str | None:
    """The x264 build that encoded ``path`` ("x264 core 164 r3095 baee400"), from the settings
    string x264 writes into the stream's first SEI; None when the file has none.

    The same frames encode to other bytes under another x264 build, so a stand-in dataset
    records the build beside its content digest: two runs whose tables differ can be told
    apart by their data.
    """
    with open(path, "rb") as handle:
        head = handle.read(1 << 16)
    found = _X264_BUILD.search(head)
    if found is None:
        return None
    return " ".join(["x264 core", *(part.decode() for part in found.groups() if part)])


def _fps_fraction(fps: float) -> Fraction:
    """29.97 -> 30000/1001; 25.0 -> 25: the rational rate ffmpeg stores in the container."""
    return Fraction(fps).limit_denominator(1001)


def write_video(
    path: str | Path,
    frames: np.ndarray,
    fps: float,
    crf: int = 18,
    preset: str = "medium",
) -> Path:
    """Encode ``frames`` (T, H, W, 3) uint8 RGB to an H.264 file at ``path``; returns the path.

    ``crf`` is x264's constant-rate factor (0 lossless .. 51 worst; 18 is visually lossless).
    H and W must be even (yuv420p subsamples chroma by two); odd sizes raise rather than
    being silently cropped, so the file's size is the array's size.
    """
    path = Path(path)
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise ValueError(
            f"write_video({path}): frames must be (T, H, W, 3) uint8, got "
            f"{frames.shape} {frames.dtype}"
        )
    n_frames, height, width, _ = frames.shape
    if n_frames == 0:
        raise ValueError(f"write_video({path}): no frames to write")
    if height % 2 or width % 2:
        raise ValueError(
            f"write_video({path}): H.264 yuv420p needs even sizes, got {width}x{height}"
        )
    if fps <= 0:
        raise ValueError(f"write_video({path}): fps must be positive, got {fps}")
    rate = _fps_fraction(fps)
    with publishing(path) as tmp:
        _encode(frames, tmp, path, width, height, rate, crf, preset)
    return path


def _encode(frames: Any, tmp: Path, path: Path, width: int, height: int, rate: Fraction, crf: int, preset: str) -> None:
    """Pipe ``frames`` through ffmpeg into ``tmp``; an ffmpeg failure raises naming ``path``."""
    process = (
        ffmpeg.input(
            "pipe:", format="rawvideo", pix_fmt="rgb24", s=f"{width}x{height}", framerate=str(rate)
        )
        .output(
            str(tmp),
            vcodec="libx264",
            pix_fmt="yuv420p",
            crf=int(crf),
            preset=preset,
            # one encoder thread: x264's frame threads made the same frames encode two ways under
            # load (measured: 2 distinct files in 40 concurrent encodes), so a stand-in's bytes
            # depended on what else the machine ran; a single thread is deterministic
            threads=1,
            r=str(rate),
            movflags="+faststart",
            format="mp4",
        )
        .global_args("-hide_banner", "-loglevel", "error", "-nostdin")
        .overwrite_output()
        .run_async(pipe_stdin=True, pipe_stderr=True, quiet=False)
    )
    stderr_chunks: list[bytes] = []

    def drain() -> None:
        for chunk in iter(lambda: process.stderr.read(4096), b""):
            stderr_chunks.append(chunk)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    try:
        try:
            for frame in frames:
                process.stdin.write(np.ascontiguousarray(frame).tobytes())
        except BrokenPipeError:
            pass  # ffmpeg died; its exit code and stderr below say why
        finally:
            process.stdin.close()
        code = process.wait()
        reader.join()
        if code != 0:
            message = b"".join(stderr_chunks).decode(errors="replace").strip()
            raise RuntimeError(f"ffmpeg failed writing {path} (exit {code}): {message[-2000:]}")
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()

"""Small test videos, good and broken, made with ffmpeg (through ffmpeg-python).

Shared by the reading, listing and clip-stage tests. Every maker writes one file at ``path``
(parents created) and returns it as a ``Path``. Good videos show ffmpeg's ``testsrc2``
pattern, which is deterministic and changes visibly from frame to frame, so a decoded frame
can be checked against ``reference_frames`` (the same pattern rendered losslessly).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import cv2
import ffmpeg
import numpy as np

PATTERN = "testsrc2"


def _lavfi(width: int, height: int, fps: float, pattern: str = PATTERN):
    return ffmpeg.input(f"{pattern}=size={width}x{height}:rate={fps}", f="lavfi")


def _run(stream) -> None:
    stream.global_args("-nostdin", "-hide_banner", "-loglevel", "error").overwrite_output().run(
        capture_stdout=True, capture_stderr=True
    )


def _prepare(path: str | os.PathLike) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def reference_frames(*, width: int, height: int, frames: int, fps: float = 25.0) -> np.ndarray:
    """The pattern itself, never encoded: ``(frames, height, width, 3)`` uint8 RGB."""
    source = _lavfi(width + width % 2, height + height % 2, fps)
    if width % 2 or height % 2:
        source = source.filter("scale", width, height)  # as make_mpeg4 draws odd sizes
    out, _ = (
        source
        .output("pipe:", format="rawvideo", pix_fmt="rgb24", **{"frames:v": frames})
        .global_args("-nostdin", "-loglevel", "error")
        .run(capture_stdout=True, capture_stderr=True)
    )
    return np.frombuffer(out, np.uint8).reshape(frames, height, width, 3)


def make_good(
    path: str | os.PathLike,
    *,
    width: int = 96,
    height: int = 72,
    frames: int = 30,
    fps: float = 25.0,
    faststart: bool = False,
) -> Path:
    """H.264 (yuv420p, crf 18) in whatever container the suffix names (.mp4, .avi, .mkv).

    ``faststart`` moves the mp4 index (moov atom) to the front, as web videos have it.
    """
    path = _prepare(path)
    if width % 2 or height % 2:
        raise ValueError("yuv420p H.264 needs even sizes; use make_odd_size for odd ones")
    extra = {"movflags": "+faststart"} if faststart else {}
    _run(
        _lavfi(width, height, fps).output(
            str(path), vcodec="libx264", pix_fmt="yuv420p", crf=18, **{"frames:v": frames}, **extra
        )
    )
    return path


def make_mpeg4(
    path: str | os.PathLike, *, width: int = 64, height: int = 48, frames: int = 12, fps: float = 25.0
) -> Path:
    """MPEG-4 part 2 (the codec of UCF101/HMDB-51 .avi files); allows odd sizes."""
    path = _prepare(path)
    source = _lavfi(width + width % 2, height + height % 2, fps)
    if width % 2 or height % 2:
        # testsrc2 only draws even sizes: draw one pixel larger and scale to the exact size
        source = source.filter("scale", width, height)
    _run(source.output(str(path), vcodec="mpeg4", pix_fmt="yuv420p", **{"q:v": 2, "frames:v": frames}))
    return path


def make_odd_size(path: str | os.PathLike, *, width: int = 161, height: int = 121, frames: int = 10) -> Path:
    """Odd width and height, which yuv420p H.264 refuses and real datasets still contain."""
    return make_mpeg4(path, width=width, height=height, frames=frames)


def make_zero_bytes(path: str | os.PathLike) -> Path:
    path = _prepare(path)
    path.write_bytes(b"")
    return path


def make_truncated(path: str | os.PathLike, *, faststart: bool = False, **good) -> Path:
    """A good mp4 cut in half, as an interrupted download leaves it.

    Without ``faststart`` the index sits at the end and is lost ("moov atom not found");
    with it the header survives and still promises every frame.
    """
    path = _prepare(path)
    whole = make_good(path.with_name(path.stem + ".whole.mp4"), faststart=faststart, **good)
    data = whole.read_bytes()
    whole.unlink()
    path.write_bytes(data[: len(data) // 2])
    return path


def make_text_file(path: str | os.PathLike) -> Path:
    """Not a video at all, but named like one (e.g. an HTML error page saved as .avi)."""
    path = _prepare(path)
    path.write_text("<html><body>404 Not Found</body></html>\n" * 20)
    return path


def make_audio_only(path: str | os.PathLike, *, seconds: float = 1.0) -> Path:
    """A sine tone in AAC: a real media file with no video stream."""
    path = _prepare(path)
    _run(
        ffmpeg.input(f"sine=frequency=440:duration={seconds}", f="lavfi").output(
            str(path), acodec="aac"
        )
    )
    return path


def make_one_frame(path: str | os.PathLike, *, width: int = 64, height: int = 48) -> Path:
    return make_good(path, width=width, height=height, frames=1)


def make_vfr(path: str | os.PathLike, *, width: int = 64, height: int = 48) -> Path:
    """Variable frame rate: 2 s at 10 fps (frames 0-19) then 2 s at 30 fps (frames 20-79).

    80 frames over 4 s. Source frame ``n`` of the pattern is shown at
    ``n / 10`` s for n < 20 and ``2 + (n - 20) / 30`` s after, so at 10 fps frame ``j >= 20``
    of a constant-rate decode is source frame ``20 + 3 (j - 20)``.
    """
    path = _prepare(path)
    stream = (
        _lavfi(width, height, 10)
        .filter("settb", "1/1000")
        .filter("setpts", "if(lt(N,20),N*0.1,2+(N-20)/30)/TB")
    )
    _run(
        stream.output(
            str(path),
            vcodec="libx264",
            pix_fmt="yuv420p",
            crf=18,
            fps_mode="vfr",
            enc_time_base="1:1000",  # fine timestamps; the default 1/10 would round them to CFR
            **{"frames:v": 80},
        )
    )
    return path


def make_dropped_frames_avi(
    path: str | os.PathLike, *, every: int = 4, coded: int = 20, width: int = 64, height: int = 48
) -> Path:
    """An AVI that stores dropped frames as empty entries, as capture software writes them.

    Of a 25 fps pattern only every ``every``-th frame is coded (``coded`` of them); the
    timestamps keep their gaps (passthrough) and the AVI muxer fills each gap with a
    zero-size index entry, so the header counts ``every * (coded - 1) + 1`` frame slots. A
    player shows slot ``k`` as pattern frame ``every * (k // every)``.
    """
    path = _prepare(path)
    stream = _lavfi(width, height, 25).filter("select", f"not(mod(n,{every}))")
    _run(stream.output(str(path), vcodec="mpeg4", pix_fmt="yuv420p", fps_mode="passthrough",
                       **{"q:v": 2, "frames:v": coded}))
    return path


def make_jittery_vfr(path: str | os.PathLike, *, frames: int = 60, width: int = 64, height: int = 48) -> Path:
    """Variable frame rate that the container's rates hide: intervals alternate 30 and 50 ms.

    The average is exactly 25 fps, and Matroska reports ``r_frame_rate`` = ``avg_frame_rate``
    = 25/1 for it, so only the packet timestamps show the rate varies (as phone recordings do).
    """
    path = _prepare(path)
    stream = (
        _lavfi(width, height, 25)
        .filter("settb", "1/1000")
        .filter("setpts", "(N*40-10*mod(N,2))/1000/TB")
    )
    _run(stream.output(str(path), vcodec="libx264", pix_fmt="yuv420p", crf=18, fps_mode="vfr",
                       enc_time_base="1:1000", **{"frames:v": frames}))
    return path


def make_rotated(path: str | os.PathLike, *, width: int = 64, height: int = 48, frames: int = 8) -> Path:
    """A phone-style video: stored landscape, flagged to display rotated by 90 degrees."""
    path = _prepare(path)
    plain = make_good(path.with_name(path.stem + ".plain.mp4"), width=width, height=height, frames=frames)
    _run(ffmpeg.input(str(plain)).output(str(path), c="copy", **{"metadata:s:v": "rotate=90"}))
    plain.unlink()
    return path


def make_long(path: str | os.PathLike, *, frames: int = 300, width: int = 64, height: int = 48) -> Path:
    """Many small frames: enough for ffmpeg's trace log to overflow a pipe buffer."""
    return make_good(path, width=width, height=height, frames=frames)


def street_scene(
    *, frames: int = 31, height: int = 72, width: int = 96, size: int = 16, step: tuple[int, int] = (2, 0), seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """A static camera on a still, nearly flat road (grey 110, sensor noise sd 1.5 drawn anew per
    frame) and one textured walker ``size`` px square moving ``step`` = (dx, dy) px per frame.

    Returns frames (T, H, W, 3) uint8 and the walker's masks (T, H, W) bool: the truth of what
    moves (only the walker; the road never does), as on real street footage where dense flow
    spreads the walker's motion over the flat road around it.
    """
    rng = np.random.default_rng(seed)
    walker = cv2.GaussianBlur(rng.integers(30, 230, (size, size, 3)).astype(np.float32), (3, 3), 0)
    video = np.empty((frames, height, width, 3), np.uint8)
    masks = np.zeros((frames, height, width), bool)
    top, left = (height - size) // 2, 10
    for t in range(frames):
        image = np.full((height, width, 3), 110.0) + rng.normal(0.0, 1.5, (height, width, 3))
        y, x = top + step[1] * t, left + step[0] * t
        image[y : y + size, x : x + size] = walker
        masks[t, y : y + size, x : x + size] = True
        video[t] = np.clip(image, 0, 255).round()
    return video, masks


def far_from(masks: np.ndarray, radius: int = 5) -> np.ndarray:
    """(H, W) bool: pixels never within ``radius`` px of any of the masks (T, H, W)."""
    disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    return ~(cv2.dilate(masks.any(axis=0).astype(np.uint8), disc) > 0)


BAD_KINDS = ("zero_bytes", "truncated", "text_file", "audio_only")


def make_bad_set(folder: str | os.PathLike) -> dict[str, Path]:
    """One file of each kind of bad input, named like videos."""
    folder = Path(folder)
    return {
        "zero_bytes": make_zero_bytes(folder / "zero_bytes.mp4"),
        "truncated": make_truncated(folder / "truncated.mp4"),
        "text_file": make_text_file(folder / "text_file.avi"),
        "audio_only": make_audio_only(folder / "audio_only.mp4"),
    }


def copy_video(src: str | os.PathLike, dst: str | os.PathLike) -> Path:
    """A tiny valid video under another name (cheaper than encoding one per fake tree entry)."""
    dst = _prepare(dst)
    shutil.copyfile(src, dst)
    return dst

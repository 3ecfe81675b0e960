"""Writing frames as real H.264 video files, so synthetic data goes through the same decoder as real data."""

from __future__ import annotations

import collections
import os
import threading
from pathlib import Path

import ffmpeg
import numpy as np


def write_video(path: str | os.PathLike, frames: np.ndarray, fps: float, crf: int = 18) -> Path:
    """Encode (T, H, W, 3) uint8 RGB frames as H.264 (yuv420p) at ``fps``, written atomically.

    yuv420p is what every player and dataset uses, and it needs even sizes: odd ones are refused
    with an error rather than silently padded (which would shift the ground truth).
    """
    path = Path(path)
    frames = np.ascontiguousarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8 or len(frames) == 0:
        raise ValueError(f"{path}: expected uint8 frames (T>0, H, W, 3), got {frames.dtype} {frames.shape}")
    height, width = frames.shape[1:3]
    if height % 2 or width % 2:
        raise ValueError(f"{path}: H.264 yuv420p needs even width and height, got {width}x{height}")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.partial{path.suffix}")
    process = (
        ffmpeg.input("pipe:", format="rawvideo", pix_fmt="rgb24", s=f"{width}x{height}", r=fps)
        .output(str(tmp), vcodec="libx264", pix_fmt="yuv420p", crf=crf, preset="medium", r=fps,
                movflags="+faststart", **{"x264-params": "log-level=error"})
        .global_args("-nostdin", "-hide_banner", "-loglevel", "error")
        .overwrite_output()
        .run_async(pipe_stdin=True, pipe_stderr=True)
    )
    tail: collections.deque[str] = collections.deque(maxlen=20)
    drainer = threading.Thread(
        target=lambda: tail.extend(line.decode(errors="replace").rstrip() for line in process.stderr), daemon=True
    )
    drainer.start()
    try:
        process.stdin.write(frames.tobytes())
    except BrokenPipeError:
        pass  # ffmpeg died; its exit code and stderr say why
    finally:
        process.stdin.close()
        code = process.wait()
        drainer.join()
    if code != 0:
        tmp.unlink(missing_ok=True)
        raise RuntimeError(f"ffmpeg failed writing {path} (exit {code}): {' | '.join(tail)}")
    os.replace(tmp, path)
    return path

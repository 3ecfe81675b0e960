"""How generated clips move, against real ones: optical-flow magnitude histograms (no trained weights).

A generator that copies a still frame has no motion; one that flickers has motion everywhere. The
histogram of per-pixel flow magnitudes between consecutive frames (OpenCV's DIS flow, as the
project's other fast flow) shows both at a glance, beside the real clips' histogram. Flow is
measured at the clips' own size; magnitudes are in pixels per frame of that size.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from pipeline.flow import compute_clip_flow

BINS = np.array([0.0, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0, np.inf])
"""Bin edges of flow magnitude, pixels per frame: log-spaced, so still and fast motion both show."""
MOVING = 0.5
"""A pixel moves when its flow is at least this long (pixels per frame)."""


def flow_magnitudes(frames: np.ndarray, method: str = "dis", dis_preset: str = "medium") -> np.ndarray:
    """Per-pixel flow magnitude between consecutive frames of every clip, uint8 (N, T, H, W, 3) -> (N, T-1, H, W)."""
    frames = np.asarray(frames)
    if frames.ndim != 5 or frames.dtype != np.uint8 or frames.shape[1] < 2:
        raise ValueError(f"clips must be uint8 (N, T >= 2, H, W, 3), got {frames.shape} {frames.dtype}")
    flows = np.stack([compute_clip_flow(clip, method, dis_preset) for clip in frames])  # (N, T-1, H, W, 2)
    return np.linalg.norm(flows, axis=-1)


def bin_name(low: float, high: float) -> str:
    return f"{low:g}-{high:g} px/frame" if np.isfinite(high) else f">= {low:g} px/frame"


def magnitude_rows(sources: Mapping[str, np.ndarray], method: str = "dis") -> list[dict[str, float | str]]:
    """Rows (row = source, column = magnitude bin, ours = share of pixels in the bin), with each source's
    bin edges, mean magnitude and share of moving pixels."""
    rows: list[dict[str, float | str]] = []
    for name, frames in sources.items():
        magnitude = flow_magnitudes(frames, method).ravel()
        counts, _ = np.histogram(magnitude, BINS)
        share = counts / max(1, magnitude.size)
        for low, high, s in zip(BINS[:-1], BINS[1:], share, strict=True):
            rows.append({"row": name, "column": bin_name(low, high), "ours": float(s), "low": float(low),
                         "high": float(high), "mean_magnitude": float(magnitude.mean()),
                         "moving": float((magnitude >= MOVING).mean()), "clips": len(frames)})
    return rows

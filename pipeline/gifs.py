"""Animated GIFs of frame sequences side by side (svg's samples, crossconv's extrapolations)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from pipeline.atomic import publishing


def sample_gif(
    examples: np.ndarray,
    n_cond: int,
    out_path: str | Path,
    labels: Sequence[str],
    scale: int = 2,
    frame_ms: int = 250,
    truth_rows: Sequence[int] = (0,),
) -> Path:
    """Animated GIF of one test sequence: side by side the rows ``labels`` names.

    examples uint8 (R, T, H, W, C) as saved by the evaluation. Borders are green on
    conditioning frames and true ones (``truth_rows``), red on generated ones (the authors' convention).
    """
    examples = np.asarray(examples)
    if examples.ndim != 5 or examples.dtype != np.uint8 or len(labels) != examples.shape[0]:
        raise ValueError(f"examples must be uint8 (R={len(labels)}, T, H, W, C), got {examples.shape} {examples.dtype}")
    r, t, h, w, c = examples.shape
    pad, text_h = 2, 14
    cell_w, cell_h = w * scale + 2 * pad, h * scale + 2 * pad
    images = []
    for step in range(t):
        canvas = Image.new("RGB", (r * cell_w, cell_h + text_h), "white")
        draw = ImageDraw.Draw(canvas)
        for row in range(r):
            frame = examples[row, step]
            frame = np.repeat(frame, 3, axis=2) if c == 1 else frame
            tile = Image.fromarray(frame).resize((w * scale, h * scale), Image.NEAREST)
            border = (0, 170, 0) if step < n_cond or row in truth_rows else (200, 0, 0)
            x0 = row * cell_w
            draw.rectangle([x0, 0, x0 + cell_w - 1, cell_h - 1], fill=border)
            canvas.paste(tile, (x0 + pad, pad))
            draw.text((x0 + 2, cell_h + 1), labels[row], fill=(0, 0, 0))
        images.append(canvas)
    with publishing(out_path) as tmp:  # a killed job leaves the old GIF or none, never half of one
        images[0].save(tmp, format="GIF", save_all=True, append_images=images[1:], duration=frame_ms, loop=0)
    return Path(out_path)

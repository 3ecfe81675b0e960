"""Future generation (paper Sec. 3.4, Fig. 5): futures of real held-out clips' first frames.

The conditional generator (``model.FutureGenerator``, trained by ``train.py`` as variant
``future``) sees only a clip's first frame; its futures are kept beside the real clips so the
figure shows both, and the flow statistics (``motion.py``) measure how much the futures move.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from pipeline.intervals import mean_interval
from pipeline.papers.vgan.data import to_frames, vgan_clips
from pipeline.papers.vgan.gan import to_clip_layout
from pipeline.papers.vgan.model import FutureGenerator
from pipeline.papers.vgan.samples import COMPARE
from pipeline.papers.vgan.train import build_future_generator
from pipeline.saved_models import load_model, model_provenance
from pipeline.shards import write_shard

log = logging.getLogger(__name__)


def _interval(values: np.ndarray) -> list[float | None]:
    """A bootstrap interval as JSON can hold it (NaN, from fewer than two clips, as null)."""
    return [None if np.isnan(x) else x for x in mean_interval(values)]


@torch.no_grad()
def write_futures(model_path: Path, summary: Path, data_sizes: Mapping[str, Any], batch_size: int, out: Path) -> Path:
    """Futures of the real compare clips' first frames, beside those clips, as one shard.

    Also measured: the first-frame L1 distance (what Eq. 3's extra term pulls down), against the
    L1 distance of each first frame to another clip's (what an unconditioned generator would score).
    """
    generator: FutureGenerator = load_model(model_path, build_future_generator, module="generator")
    real = vgan_clips(summary, data_sizes).read("compare")  # (N, T, 3, H, W) in [-1, 1]
    futures = torch.cat([to_clip_layout(generator(chunk[:, 0].float())) for chunk in real.split(batch_size)])
    first_l1 = (futures[:, 0] - real[:, 0]).abs().mean(dim=(1, 2, 3)).double().numpy()  # (N,)
    other_l1 = (real.roll(max(1, len(real) // 2), 0)[:, 0] - real[:, 0]).abs().mean(dim=(1, 2, 3)).double().numpy()
    record = {"first_frame_l1": float(first_l1.mean()), "first_frame_l1_interval": _interval(first_l1),
              "other_clip_first_frame_l1": float(other_l1.mean()),
              "other_clip_first_frame_l1_interval": _interval(other_l1),
              "model_provenance": model_provenance(Path(model_path))}
    log.info("futures of %d first frames: first-frame L1 %.3f (another clip's first frame: %.3f), [-1, 1] scale",
             len(real), record["first_frame_l1"], record["other_clip_first_frame_l1"])
    arrays = {"frames": to_frames(futures), "real": to_frames(real),
              "set": np.full(len(real), COMPARE, np.uint8)}
    return write_shard(out, arrays, record)

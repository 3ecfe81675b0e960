"""Zero-shot visual analogies on Sprites (Xue et al., Sec. 7.1, Table 2).

For a quadruple (A_t, A_t+1, B_t, B_t+1) of two distinct test characters in the same animation,
viewpoint and frame: z = z_mean of the motion encoder on the reference pair (A_t, A_t+1), the
network's next frame for the query B_t with that z, scored against B_t+1. The network never saw
a quadruple in training (zero-shot), nor either character (test split).

The error's unit: the paper's "mean squared pixel error" does not say over what. Its values
(9.5-56) fit a sum over one 60x60x3 image of squared errors with pixels in [0, 1] (a per-pixel
mean in [0, 1] would be about 1e-3, one in [0, 255] about 70-350), so ``ours`` is that per-image
sum; ``per_pixel_255`` gives the same errors as a per-pixel mean with pixels in [0, 255].
Beside the network, the trivial answer by the same code: "no motion" predicts B_t+1 = B_t.
Reed et al.'s rows (Add, Dis, Dis+Cls) appear with their paper values only.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from pipeline.intervals import INTERVAL, mean_interval
from pipeline.papers.crossconv.spec import REFERENCE
from pipeline.papers.crossconv.sprites import (
    ANIMATIONS,
    analogy_quadruples,
    crop,
    load_split,
    pad,
    source_folder,
)
from pipeline.papers.crossconv.train import load_crossconv
from pipeline.saved_models import model_provenance
from pipeline.tables import provenance, write_table

log = logging.getLogger(__name__)

ROWS = {"ours": "Ours", "nomotion": "No motion (copy the query frame)"}


def _tensor(frames: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(pad(frames)).permute(0, 3, 1, 2).float()  # (B, 3, 64, 64) in [0, 1]


@torch.no_grad()
def analogy_predictions(model_path: Path | str, frames: np.ndarray, batch_size: int = 64) -> np.ndarray:
    """(N, 60, 60, 3) predicted B_t+1 for quadruples (N, 4, 60, 60, 3) in [0, 1], z from (A_t, A_t+1)."""
    model = load_crossconv(model_path)
    out = np.empty((len(frames), *frames.shape[2:]), np.float32)
    for start in range(0, len(frames), batch_size):
        q = frames[start : start + batch_size]
        z, _ = model.encode(_tensor(q[:, 0]), _tensor(q[:, 1]))  # the reference pair's z_mean
        predicted = model.sample(_tensor(q[:, 2]), z).permute(0, 2, 3, 1).numpy()  # (B, 64, 64, 3)
        out[start : start + len(q)] = crop(predicted)
    return out


def squared_errors(predicted: np.ndarray, target: np.ndarray) -> np.ndarray:
    """(N,) sums over each 60x60x3 image of squared errors, pixels in [0, 1]."""
    return ((predicted.astype(np.float64) - target) ** 2).reshape(len(target), -1).sum(1)


def write_analogy_table(model_path: Path | str, source_record: Path | str, out_csv: Path | str,
                        config: Mapping[str, Any], max_per_animation: int | None = None,
                        seed: int = 0) -> Any:
    """Table 2: per animation and on average, the analogy error of the network and of "no motion"."""
    characters = load_split(source_folder(source_record), "test")
    quads = analogy_quadruples(characters, max_per_animation, seed)
    pixels = float(np.prod(quads.frames.shape[2:]))
    errors = {"ours": squared_errors(analogy_predictions(model_path, quads.frames), quads.frames[:, 3]),
              "nomotion": squared_errors(quads.frames[:, 2], quads.frames[:, 3])}
    rows = []
    for key, err in errors.items():
        for a, column in [*enumerate(ANIMATIONS), (None, "average")]:
            sel = err if a is None else err[quads.animation == a]
            lo, hi = mean_interval(sel, seed)
            rows.append({"row": ROWS[key], "column": column, "ours": float(sel.mean()), "ci_low": lo, "ci_high": hi,
                         "per_pixel_255": float(sel.mean()) / pixels * 255**2, "quadruples": len(sel)})
        log.info("%s: analogy error %.2f (per image, [0, 1] pixels) over %d quadruples", key, err.mean(), len(err))
    record = provenance(config, [str(source_record)], models=[model_provenance(Path(model_path))], units={
        "ours": "sum over a 60x60x3 image of squared errors, pixels in [0, 1], mean over quadruples",
        "per_pixel_255": "the same errors as a mean per pixel and channel, pixels in [0, 255]",
        "ci_low/ci_high": INTERVAL.replace("test images", "quadruples"),
        "quadruples": f"ordered pairs of distinct test characters ({', '.join(str(c.id) for c in characters)}) "
                      "x viewpoints x frames, per animation"})
    return write_table(Path(out_csv), "sprites_analogy_mse", rows, record, REFERENCE["sprites_analogy_mse"])


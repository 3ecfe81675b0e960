"""The stabilize stage: one clip shard in, one stabilized shard out, in either mode, and the summary.

The mode (``preprocess.stabilization``) picks :func:`pipeline.stabilize_robust.stabilize_robust`
(the default) or the papers' :func:`pipeline.stabilize.stabilize_clip`; per-frame homographies
and the mode's diagnostics are written beside the frames.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from pipeline.camera_motion import FALLBACK_REASONS
from pipeline.shards import map_shard, open_shard, summarize_shards
from pipeline.shot_cuts import shots
from pipeline.stabilize import StabilizeConfig, stabilize_clip
from pipeline.stabilize_robust import RobustConfig, stabilize_robust

if TYPE_CHECKING:
    import pandas as pd


def stabilize_shard(src: Path, dst: Path, cfg: StabilizeConfig | RobustConfig) -> tuple[int, int]:
    """Stabilize every clip of a clip shard relative to its own first frame (walker; vgan's
    32-frame segments are its clips), keeping per-frame homographies beside the frames.

    ``StabilizeConfig`` (mode "paper", the papers' procedure): clips that fail the thresholds
    are dropped with their reason. ``RobustConfig`` (mode "robust", the default): every clip is
    kept; per frame ``fallback_reason`` (index into the ``fallback_reasons`` attribute, -1 when
    the frame's own estimate was used) and ``shot_start`` (a cut: the frame starts a new shot,
    stabilized to itself), ``smoothed`` (the shot drifted too far for its first frame to be
    held, so only its shake was removed) and ``still`` (the camera did not move in the shot: its
    frames are published as they are) are written beside ``homographies`` and ``fill_fraction``.
    """
    if isinstance(cfg, RobustConfig):
        def one(item: dict[str, np.ndarray]) -> dict[str, np.ndarray] | tuple[str, str]:
            result = stabilize_robust(item["frames"], cfg)
            codes = np.array([FALLBACK_REASONS.index(r) if r else -1 for r in result.reasons], np.int8)
            starts = np.zeros(len(codes), bool)
            starts[result.cuts] = True
            smoothed, still = np.zeros(len(codes), bool), np.zeros(len(codes), bool)
            for (a, b), kind in zip(shots(len(codes), result.cuts), result.shot_paths):
                smoothed[a:b], still[a:b] = kind == "smooth", kind == "still"
            return {"frames": result.frames, "homographies": result.homographies.astype(np.float32),
                    "fill_fraction": result.fill_fraction, "fallback_reason": codes, "shot_start": starts,
                    "smoothed": smoothed, "still": still}

        attrs = {"stabilize": {"mode": "robust", **asdict(cfg)}, "fallback_reasons": list(FALLBACK_REASONS)}
        return map_shard(src, dst, one, attrs=attrs, desc=f"stabilize {Path(dst).name}")

    def paper(item: dict[str, np.ndarray]) -> dict[str, np.ndarray] | tuple[str, str]:
        result = stabilize_clip(item["frames"], cfg)
        if not result.ok:
            return result.reason, result.detail
        diagnostics = {k: v.astype(np.float32) if v.dtype == np.float64 else v for k, v in result.diagnostics().items()}
        return {"frames": result.frames, **diagnostics}

    attrs = {"stabilize": {"mode": "paper", **asdict(cfg)}}
    return map_shard(src, dst, paper, attrs=attrs, desc=f"stabilize {Path(dst).name}")


def stage_config(mode: str, keypoints: str = "sift") -> StabilizeConfig | RobustConfig:
    """The configuration for ``preprocess.stabilization`` (robust | paper) and ``preprocess.keypoints``."""
    if mode == "robust":
        return RobustConfig()
    if mode == "paper":
        return StabilizeConfig(detector=keypoints)
    raise ValueError(f"preprocess.stabilization must be 'robust' or 'paper', got {mode!r}")


def summarize_stabilized(paths: list[Path], out_csv: Path) -> pd.DataFrame:
    """The stage's ``summary.csv``: kept/dropped clips with drop reasons (as every stage), plus
    the robust mode's frames that fell back, by reason, the shot cuts found and the frames of
    shots left untouched because their camera did not move."""
    table = summarize_shards(paths, out_csv)
    fallbacks, cuts, still = [], [], []
    for path in paths:
        group = open_shard(path)
        names = list(group.attrs.get("fallback_reasons", []))
        counts: Counter[str] = Counter()
        n_cuts, n_still = 0, 0
        if "fallback_reason" in group:
            codes = np.asarray(group["fallback_reason"][:])
            counts.update(names[c] for c in codes[codes >= 0].tolist())
            n_cuts = int(np.asarray(group["shot_start"][:]).sum())
            n_still = int(np.asarray(group["still"][:]).sum()) if "still" in group else 0
        fallbacks.append("; ".join(f"{k}: {v}" for k, v in sorted(counts.items())))
        cuts.append(n_cuts)
        still.append(n_still)
    table["fallback_frames"] = fallbacks
    table["shot_cuts"] = cuts
    table["still_frames"] = still
    tmp = Path(out_csv).with_name(Path(out_csv).name + ".tmp")
    table.to_csv(tmp, index=False)
    tmp.replace(out_csv)
    return table

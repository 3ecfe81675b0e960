"""The Shapes KL evaluation (Xue et al., Fig. 5): sampled next frames -> measured motion -> KL.

Per predictor (``pipeline.papers.crossconv.predictors``): S next frames for each of N test
pairs; every object's motion measured from the pixels (``kl.measure_motions``, objects found by
their visible pixels and colour in the input frame); then KL(p_gt || p_pred) per shape and for
the circles-triangles joint, with 41x41 histograms over [-5, 5]^2.

* p_gt: ``truth_draws`` motions drawn from the generator's own law (``sample_motions``, the
  exact ground-truth distribution; 50,000 as the paper's sample count), the same for every row;
* p_pred: the N x S measured motions (the paper: 500 test pairs x 100 = 50,000 samples);
* interval: 95% basic bootstrap over test pairs (each resample draws N pairs with replacement,
  with all S samples of each; p_gt held fixed). Basic rather than percentile: a resample holds
  fewer distinct pairs, so its KL is biased upwards and the percentile interval would sit above
  the estimate; the basic interval (2 KL - q97.5, 2 KL - q2.5) reflects that shift back, and
  where the bias is large (sparse histograms: the circles-triangles joint) it lies below the
  plug-in estimate, as the KL the same predictor would reach with more pairs. The KL of a histogram estimate is
  biased upwards by a small sample, so compare rows at equal N x S (every row here has it), and
  read the "Truth (resampled motion)" row as the floor this measurement and sample size give.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pipeline.atomic import write_csv, write_json
from pipeline.papers.crossconv.data import ShapesSplit, first_rows, read_split
from pipeline.papers.crossconv.kl import (
    kl_divergence,
    measure_motions,
    shape_histograms,
)
from pipeline.papers.crossconv.predictors import (
    flow_transfer_frames,
    mean_training_motion,
    moved_frames,
    network_frames,
    resampled_truth,
)
from pipeline.papers.crossconv.spec import KL_KEYS, MODEL_OF, PREDICTORS
from pipeline.saved_models import model_provenance
from pipeline.synthetic.shapes import sample_motions, visible_masks

log = logging.getLogger(__name__)


def measure_frames(test: ShapesSplit, frames: np.ndarray) -> np.ndarray:
    """(N, S, K, 2) measured motions (dx, dy) of every object in (N, S, H, W, 3) predicted frames."""
    masks = visible_masks(test.config, test.pairs)  # (N, K, H, W) in the input frames
    p = test.pairs
    return np.stack([measure_motions(p.frame1[i], frames[i], masks[i], p.color[i]) for i in range(len(test))])


def predicted_motion(predictor: str, test: ShapesSplit, train: ShapesSplit, e: Mapping[str, Any], seed: int,
                     model_path: Path | None, flow_method: str, dis_preset: str) -> np.ndarray:
    """(N, S, K, 2) measured motions of ``predictor``'s samples; distinct frames are measured once."""
    samples = int(e["samples_per_pair"])
    rng = np.random.default_rng([seed, 3])
    if predictor in MODEL_OF:
        z_source = "prior" if predictor.endswith("_prior") else "empirical"
        frames = network_frames(Path(model_path), train, test, samples, z_source, int(e["z_bank"]),
                                int(e["batch_size"]), seed)
        return measure_frames(test, frames)
    if predictor == "flow":  # S draws among the k neighbours' warps, each warp measured once
        frames, _ = flow_transfer_frames(train, test, int(e["neighbours"]), flow_method, dis_preset)
        measured = measure_frames(test, frames)  # (N, k, K, 2)
        pick = rng.integers(0, frames.shape[1], (len(test), samples))
        return np.take_along_axis(measured, pick[:, :, None, None], 1)
    if predictor in ("nomotion", "meanmotion"):
        if predictor == "nomotion":
            frames = test.pairs.frame1
        else:
            frames = moved_frames(test, np.broadcast_to(mean_training_motion(train), test.pairs.motion.shape))
        return measure_frames(test, frames[:, None]).repeat(samples, 1)
    if predictor == "truth":
        motion = resampled_truth(test, samples, seed)  # (N, S, K, 2)
        frames = np.stack([moved_frames(test, motion[:, s]) for s in range(samples)], 1)
        return measure_frames(test, frames)
    raise KeyError(f"crossconv predictors are {', '.join(PREDICTORS)}, not {predictor!r}")


def kl_with_intervals(test: ShapesSplit, motion: np.ndarray, truth_draws: int, bootstrap: int,
                      seed: int) -> dict[str, Any]:
    """KL per key, its 95% bootstrap interval over test pairs, and the fraction of objects measured."""
    n, s, k, _ = motion.shape
    truth = sample_motions(test.config, truth_draws, np.random.default_rng([seed, 4]))
    truth_hist = shape_histograms(truth, np.broadcast_to(test.pairs.shape[:1], (truth_draws, k)),
                                  np.ones((truth_draws, k), bool))
    shape, present = test.pairs.shape, test.pairs.present
    per_pair = {key: np.stack([shape_histograms(motion[i], np.broadcast_to(shape[i], (s, k)),
                                                np.broadcast_to(present[i], (s, k)))[key] for i in range(n)])
                for key in KL_KEYS}  # key -> (N, 41, 41)
    rng = np.random.default_rng([seed, 5])
    counts = np.stack([np.bincount(rng.integers(0, n, n), minlength=n) for _ in range(bootstrap)])  # (B, N)
    out: dict[str, Any] = {"kl": {}, "interval": {}, "measured": {}, "bootstrap_kl": {}}
    for key in KL_KEYS:
        out["kl"][key] = kl_divergence(truth_hist[key], per_pair[key].sum(0))
        boot = [kl_divergence(truth_hist[key], np.tensordot(c, per_pair[key], 1)) for c in counts]
        lo, hi = np.percentile(boot, [2.5, 97.5])  # basic bootstrap: resamples' upward bias reflected back
        out["interval"][key] = [max(0.0, 2 * out["kl"][key] - float(hi)), max(0.0, 2 * out["kl"][key] - float(lo))]
        out["bootstrap_kl"][key] = [float(b) for b in boot]  # the same resamples for every predictor: paired
    for key, code in (("circles", 0), ("squares", 1), ("triangles", 2)):
        sel = present & (shape == code)  # (N, K)
        found = ~np.isnan(motion).any(-1)  # (N, S, K)
        out["measured"][key] = float(found[np.broadcast_to(sel[:, None], found.shape)].mean()) if sel.any() else None
    return out


def motion_table(test: ShapesSplit, motion: np.ndarray) -> pd.DataFrame:
    """Long form of (N, S, K, 2) motions with each object's shape and true motion (for figures)."""
    n, s, k, _ = motion.shape
    pair, sample, slot = np.meshgrid(np.arange(n), np.arange(s), np.arange(k), indexing="ij")
    p = test.pairs
    frame = pd.DataFrame({"pair": pair.ravel(), "sample": sample.ravel(), "slot": slot.ravel(),
                          "shape": p.shape[pair, slot].ravel(), "present": p.present[pair, slot].ravel(),
                          "dx": motion[..., 0].ravel(), "dy": motion[..., 1].ravel(),
                          "true_dx": p.motion[pair, slot, 0].ravel(), "true_dy": p.motion[pair, slot, 1].ravel()})
    return frame[frame["present"]].drop(columns="present")


def evaluate_predictor(predictor: str, inputs: Mapping[str, Any], sizes: Mapping[str, Any], seed: int,
                       out_json: Path, out_csv: Path, flow: Mapping[str, str] | None = None) -> dict[str, Any]:
    """One row of the KL table -> JSON (KL, intervals, counts, model provenance) and the motions CSV."""
    if predictor not in PREDICTORS:
        raise KeyError(f"crossconv predictors are {', '.join(PREDICTORS)}, not {predictor!r}")
    e = sizes["eval"]
    test = read_split(inputs["test"])
    test = test.subset(first_rows(len(test), int(e["test_pairs"])))
    train = read_split(inputs["train"])
    model_path = Path(inputs["model"]) if predictor in MODEL_OF else None
    flow = dict(flow or {})
    motion = predicted_motion(predictor, test, train, e, seed, model_path, flow.get("method", "dis"),
                              flow.get("dis_preset", "medium"))
    scores = kl_with_intervals(test, motion, int(e["truth_draws"]), int(e["bootstrap"]), seed)
    record = {"predictor": predictor, "row": PREDICTORS[predictor], "pairs": len(test), "seed": seed,
              "samples_per_pair": int(e["samples_per_pair"]), "truth_draws": int(e["truth_draws"]),
              "bootstrap": int(e["bootstrap"]), "interval": "95% basic bootstrap over test pairs",
              "z_source": "prior" if predictor.endswith("_prior") else "empirical" if predictor in MODEL_OF else None,
              "flow": flow if predictor == "flow" else None, **scores,
              "model_provenance": model_provenance(model_path) if model_path is not None else None}
    write_csv(motion_table(test, motion), out_csv)
    write_json(out_json, record)
    log.info("%s: KL %s (measured %s)", predictor, {k: round(v, 3) for k, v in scores["kl"].items()},
             scores["measured"])
    return record

"""What the VAE's z holds (Xue et al., Sec. 6.2): Table 1's sparsity, Fig. 10's statistics, samples.

z statistics come from ``z_bank`` training pairs (the paper: 1,000), encoded in eval mode:

* non-zero elements of z_mean: dimensions k whose mean |z_mean_k| over the pairs exceeds
  ``NONZERO_THRESHOLD`` (0.1, in units of the prior's standard deviation). The paper does not
  state its threshold; a dimension the KL has pushed to the prior sits at 0 with no spread;
* PCA components for 95% variance: of the z_mean vectors (centred), the smallest number of
  principal components whose explained variance reaches 95%;
* per dimension, mean and standard deviation of z_mean and z_logvar (Fig. 10's bands).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from pipeline.atomic import write_csv, write_json
from pipeline.papers.crossconv.data import read_split
from pipeline.papers.crossconv.model import sample_empirical
from pipeline.papers.crossconv.predictors import training_bank
from pipeline.papers.crossconv.spec import REFERENCE
from pipeline.papers.crossconv.train import load_crossconv
from pipeline.shards import write_shard
from pipeline.tables import provenance, write_table
from pipeline.training import model_provenance

log = logging.getLogger(__name__)

NONZERO_THRESHOLD = 0.1
"""A z_mean dimension is non-zero when its mean absolute value over the pairs exceeds this."""
VARIANCE = 0.95


def pca_components(z: np.ndarray, variance: float = VARIANCE) -> int:
    """Principal components of the rows of z (centred) needed to explain ``variance`` of it."""
    centred = z - z.mean(0)
    s = np.linalg.svd(centred, compute_uv=False) ** 2
    if s.sum() <= 0:
        return 0
    return int(np.searchsorted(np.cumsum(s) / s.sum(), variance) + 1)


def latent_statistics(model_path: Path, train_path: Path, sizes: Mapping[str, Any], seed: int, out_csv: Path,
                      out_json: Path, dataset: str = "shapes", variant: str = "ours") -> dict[str, Any]:
    """Encode training pairs -> per-dimension statistics (CSV) and the Table 1 numbers (JSON)."""
    e = sizes["eval"]
    model = load_crossconv(model_path)
    bank = training_bank(model, read_split(train_path), int(e["z_bank"]), int(e["batch_size"]), seed)
    mean, logvar = bank.mean.numpy().astype(np.float64), bank.logvar.numpy().astype(np.float64)
    nonzero = np.abs(mean).mean(0) > NONZERO_THRESHOLD
    write_csv(pd.DataFrame({"dim": np.arange(mean.shape[1]), "mean_mean": mean.mean(0), "mean_std": mean.std(0),
                            "logvar_mean": logvar.mean(0), "logvar_std": logvar.std(0), "nonzero": nonzero}), out_csv)
    kl = 0.5 * (np.exp(logvar) + mean**2 - 1.0 - logvar).sum(1)  # KL(q(z | pair) || N(0, I)) per pair, nats
    record = {"dataset": dataset, "variant": variant, "pairs": len(mean), "z_dim": int(mean.shape[1]),
              "kl_weight": model.cfg.kl_weight, "nonzero": int(nonzero.sum()), "nonzero_threshold": NONZERO_THRESHOLD,
              "pca95": pca_components(mean), "variance": VARIANCE, "kl_nats": float(kl.mean()),
              "model_provenance": model_provenance(model_path)}
    write_json(out_json, record)
    log.info("z of %s: %d of %d dimensions non-zero, %d PCA components for 95%%", dataset, record["nonzero"],
             record["z_dim"], record["pca95"])
    return record


def write_sparsity_table(stats: Sequence[Path], out_csv: Path, config: Mapping[str, Any],
                         source_records: Sequence[Path]) -> pd.DataFrame:
    """Table 1: non-zero z_mean elements and PCA components for 95% variance, per dataset."""
    rows, models = [], []
    for path in stats:
        r = json.loads(Path(path).read_text())
        models.append(r["model_provenance"])
        extra = {"pairs": r["pairs"], "z_dim": r["z_dim"]}
        rows += [{"row": r["dataset"].capitalize(), "column": "nonzero", "ours": r["nonzero"], **extra},
                 {"row": r["dataset"].capitalize(), "column": "pca95", "ours": r["pca95"], **extra}]
    record = provenance(config, list(source_records), models=models, units={
        "nonzero": f"dimensions with mean |z_mean| > {NONZERO_THRESHOLD} over the training pairs",
        "pca95": "principal components of z_mean explaining 95% of its variance"})
    return write_table(Path(out_csv), "latent_sparsity", rows, record, REFERENCE["latent_sparsity"])


ABLATION_UNITS = {
    "nonzero": f"dimensions with mean |z_mean| > {NONZERO_THRESHOLD} over the training pairs",
    "pca_components": f"principal components of z_mean explaining {VARIANCE:.0%} of its variance",
    "kl_nats": "mean KL(q(z | I, v) || N(0, I)) over the training pairs, nats (the code's length)"}


def write_ablation_table(stats: Sequence[Path], out_csv: Path, table: str, config: Mapping[str, Any],
                         source_records: Sequence[Path]) -> pd.DataFrame:
    """Fig. 12 (``shapes_zdim_ablation``: a row per z size) or Fig. 11's sweep (``shapes_kl_weight_sweep``:
    a row per KL weight): how many z dimensions each VAE uses and how many components carry 95% of z."""
    if table not in ("shapes_zdim_ablation", "shapes_kl_weight_sweep"):
        raise KeyError(f"no crossconv ablation table {table!r}")
    rows, models = [], []
    for path in stats:
        r = json.loads(Path(path).read_text())
        models.append(r["model_provenance"])
        name = str(r["z_dim"]) if table == "shapes_zdim_ablation" else f"{r['kl_weight']:g}"
        extra = {"variant": r["variant"], "pairs": r["pairs"], "z_dim": r["z_dim"], "kl_weight": r["kl_weight"]}
        rows += [{"row": name, "column": column, "ours": r[key], **extra}
                 for column, key in (("pca_components", "pca95"), ("nonzero", "nonzero"), ("kl_nats", "kl_nats"))]
    rows.sort(key=lambda row: float(row["row"]))
    record = provenance(config, list(source_records), models=models, units=ABLATION_UNITS)
    return write_table(Path(out_csv), table, rows, record, REFERENCE.get(table, {}))


EXTRAPOLATION_STEPS = 8
"""Frames generated by applying one z again and again (Sec. 7.2's extrapolation)."""


def _uint8(frames: torch.Tensor) -> np.ndarray:
    """(..., 3, H, W) in [0, 1] -> (..., H, W, 3) uint8."""
    return (frames.clamp(0, 1) * 255).round().byte().movedim(-3, -1).numpy()


@torch.no_grad()
def sample_examples(model_path: Path, inputs: Mapping[str, Any], sizes: Mapping[str, Any], seed: int, out: Path,
                    samples: int = 4) -> Path:
    """Test pairs with ``samples`` next frames each (z from the empirical distribution, Fig. 4), the
    image encoder's feature maps at every scale (Fig. 8: ``maps_<scale>``) and an extrapolation
    that applies one sampled z ``EXTRAPOLATION_STEPS`` times, each output the next input."""
    e = sizes["eval"]
    model = load_crossconv(model_path)
    train, test = read_split(inputs["train"]), read_split(inputs["test"])
    rows = np.arange(min(int(e["examples"]), len(test)))
    bank = training_bank(model, train, int(e["z_bank"]), int(e["batch_size"]), seed)
    generator = torch.Generator().manual_seed(seed)
    image = test.tensor(rows)[:, 0]  # (N, 3, H, W)
    frames = [model.sample(image, sample_empirical(bank, len(rows), generator)) for _ in range(samples)]
    levels = model.feature_maps(image)  # per scale (N, maps, h, w)
    z = sample_empirical(bank, len(rows), generator)
    video = [image]
    for _ in range(EXTRAPOLATION_STEPS):
        video.append(model.sample(video[-1], z))
    arrays = {"image": _uint8(image), "truth": _uint8(test.tensor(rows)[:, 1]),
              "samples": _uint8(torch.stack(frames, 1)), "extrapolation": _uint8(torch.stack(video, 1)),
              **{f"maps_{s}": m.numpy() for s, m in enumerate(levels)}}
    return write_shard(out, arrays, {"rows": rows.tolist(), "z_source": "empirical", "scales": list(model.cfg.scales),
                                     "model_provenance": model_provenance(model_path)})

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
                      out_json: Path, dataset: str = "shapes") -> dict[str, Any]:
    """Encode training pairs -> per-dimension statistics (CSV) and the Table 1 numbers (JSON)."""
    e = sizes["eval"]
    model = load_crossconv(model_path)
    bank = training_bank(model, read_split(train_path), int(e["z_bank"]), int(e["batch_size"]), seed)
    mean, logvar = bank.mean.numpy().astype(np.float64), bank.logvar.numpy().astype(np.float64)
    nonzero = np.abs(mean).mean(0) > NONZERO_THRESHOLD
    write_csv(pd.DataFrame({"dim": np.arange(mean.shape[1]), "mean_mean": mean.mean(0), "mean_std": mean.std(0),
                            "logvar_mean": logvar.mean(0), "logvar_std": logvar.std(0), "nonzero": nonzero}), out_csv)
    record = {"dataset": dataset, "pairs": len(mean), "z_dim": int(mean.shape[1]), "nonzero": int(nonzero.sum()),
              "nonzero_threshold": NONZERO_THRESHOLD, "pca95": pca_components(mean), "variance": VARIANCE,
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


def sample_examples(model_path: Path, inputs: Mapping[str, Any], sizes: Mapping[str, Any], seed: int, out: Path,
                    samples: int = 4) -> Path:
    """Test pairs with ``samples`` next frames each (z from the empirical distribution), for Fig. 4-style strips."""
    e = sizes["eval"]
    model = load_crossconv(model_path)
    train, test = read_split(inputs["train"]), read_split(inputs["test"])
    rows = np.arange(min(int(e["examples"]), len(test)))
    bank = training_bank(model, train, int(e["z_bank"]), int(e["batch_size"]), seed)
    generator = torch.Generator().manual_seed(seed)
    image = test.tensor(rows)[:, 0]
    frames = [model.sample(image, sample_empirical(bank, len(rows), generator)) for _ in range(samples)]
    sampled = (torch.stack(frames, 1).clamp(0, 1) * 255).round().byte().permute(0, 1, 3, 4, 2).numpy()
    return write_shard(out, {"image": test.pairs.frame1[rows], "truth": test.pairs.frame2[rows], "samples": sampled},
                       {"rows": rows.tolist(), "z_source": "empirical", "model_provenance": model_provenance(model_path)})

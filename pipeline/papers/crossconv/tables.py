"""crossconv's result tables from the evaluation jobs' records: Fig. 5's KLs and their paired
differences, Table 1's latent sparsity, Figs. 11-12's ablations.

The records are JSON written by ``evaluate`` and ``latent``; the table jobs run no network, so
this module does not import torch (about 2 s a job).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pipeline.papers.crossconv.spec import (
    KL_KEYS,
    NONZERO_THRESHOLD,
    PREDICTORS,
    REFERENCE,
    VARIANCE,
)
from pipeline.tables import provenance, write_table

DIFFERENCES: tuple[tuple[str, str], ...] = (("ours", "flow"), ("ours", "ae_prior"), ("ours", "ae"),
                                            ("ae", "flow"), ("ours", "nomotion"))
"""(a, b) pairs of the difference table: the paper's claims (Ours below Flow and AE) and the like-for-like AE."""


def kl_differences(a: Mapping[str, Any], b: Mapping[str, Any]) -> list[dict[str, Any]]:
    """KL(a) - KL(b) per key with a 95% basic bootstrap interval over test pairs, paired: both
    evaluations resampled the same test pairs (one seed, one count), checked here."""
    if (a["pairs"], a["bootstrap"], a["seed"]) != (b["pairs"], b["bootstrap"], b["seed"]):
        raise ValueError(f"{a['predictor']} and {b['predictor']} were not resampled alike: no paired difference")
    rows = []
    for key in KL_KEYS:
        diff = a["kl"][key] - b["kl"][key]
        boot = np.asarray(a["bootstrap_kl"][key]) - np.asarray(b["bootstrap_kl"][key])
        lo, hi = np.percentile(boot, [2.5, 97.5])
        low, high = 2 * diff - float(hi), 2 * diff - float(lo)
        rows.append({"row": f"{PREDICTORS[a['predictor']]} - {PREDICTORS[b['predictor']]}", "column": key,
                     "ours": diff, "ci_low": low, "ci_high": high,
                     "verdict": "lower" if high < 0 else "higher" if low > 0 else "tie"})
    return rows


def write_kl_differences(scores: Sequence[Path], out_csv: Path, config: Mapping[str, Any],
                         source_records: Sequence[Path]) -> pd.DataFrame:
    """Paired differences of the Fig. 5 KLs (``DIFFERENCES``): whether a row is below another beyond chance."""
    records = {}
    for path in scores:
        r = json.loads(Path(path).read_text())
        if "bootstrap_kl" not in r:
            raise ValueError(f"{path} holds no bootstrap resamples (written by older code): rerun its crossconv_kl job")
        records[r["predictor"]] = r
    missing = sorted({k for pair in DIFFERENCES for k in pair} - set(records))
    if missing:
        raise KeyError(f"the KL difference table needs the evaluations of {', '.join(missing)}")
    rows = [row for a, b in DIFFERENCES for row in kl_differences(records[a], records[b])]
    models = []
    for r in records.values():
        if r.get("model_provenance") and r["model_provenance"] not in models:
            models.append(r["model_provenance"])
    record = provenance(config, list(source_records), models=models, units={
        "ours": "KL(row's first predictor) - KL(its second), nats; negative: the first is closer to the truth",
        "ci_low/ci_high": "95% basic bootstrap over test pairs, both predictors on the same resamples",
        "verdict": "lower / higher: the interval excludes 0; tie otherwise"})
    return write_table(Path(out_csv), "shapes_kl_differences", rows, record, {})


def write_kl_table(scores: Sequence[Path], out_csv: Path, config: Mapping[str, Any],
                   source_records: Sequence[Path]) -> pd.DataFrame:
    """The Fig. 5 table: one row per predictor, a KL column per key with its interval beside it."""
    rows, models = [], []
    for path in scores:
        r = json.loads(Path(path).read_text())
        if r.get("model_provenance") and r["model_provenance"] not in models:
            models.append(r["model_provenance"])
        for key in KL_KEYS:
            lo, hi = r["interval"][key]
            rows.append({"row": PREDICTORS[r["predictor"]], "column": key, "ours": r["kl"][key],
                         "ci_low": lo, "ci_high": hi,
                         "measured": r["measured"].get(key), "pairs": r["pairs"],
                         "samples": r["pairs"] * r["samples_per_pair"]})
    record = provenance(config, list(source_records), models=models, units={
        "ours": "KL(p_gt || p_pred) in nats, 41x41 bins over [-5, 5]^2 px, p_gt from truth_draws generator motions",
        "ci_low/ci_high": "95% basic (bias-reflected) bootstrap over test pairs, p_gt fixed; may lie below ours",
        "measured": "fraction of present objects whose motion was measured in the predicted frames"})
    return write_table(Path(out_csv), "shapes_kl", rows, record, REFERENCE["shapes_kl"])


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

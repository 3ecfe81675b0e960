"""svg's result tables: every model's per-frame curves (Figs. 7, 8) and the ordering claim.

They read the evaluation jobs' files (``curves.csv``, ``scores.zarr``) and run no network, so
this module does not import torch: a table job starts in a fraction of a second.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pipeline.papers.svg.spec import CURVE_COLUMNS, TABLES
from pipeline.papers.svg.statistics import first_bounce_after, ordering_table
from pipeline.shards import open_shard
from pipeline.tables import provenance
from pipeline.tables import write_csv as write_result_table


def write_curve_table(
    dataset: str, curve_paths: Sequence[str | Path], out: str | Path, config: Mapping[str, Any],
    source_records: Sequence[Path] = (), test_set: str | Path | None = None,
) -> pd.DataFrame:
    """One dataset's table (smmnist_ssim.csv, ...): every model's per-frame curves, with an empty
    ``paper`` column (the paper plots curves, no numbers) and a provenance sidecar (with the
    SM-MNIST test set's definition and digit pool, which has no source record of its own)."""


    parts = []
    for path in curve_paths:
        part = pd.read_csv(path)
        missing = set(CURVE_COLUMNS) - set(part.columns)
        if missing:
            raise ValueError(f"{path}: missing columns {sorted(missing)}")
        parts.append(part)
    table = pd.concat(parts, ignore_index=True)
    table = table[table["metric"].isin(TABLES[dataset][1])].reset_index(drop=True)
    table.insert(0, "dataset", dataset)
    table["paper"] = np.nan
    extra: dict[str, Any] = {"paper": "svg", "curves": [str(p) for p in curve_paths]}
    if test_set is not None:
        attrs = dict(open_shard(test_set).attrs)
        extra["test_set"] = {"path": str(test_set), **{k: attrs.get(k) for k in
                             ("source", "config", "n", "seed", "digit_pool_size", "digit_pool_sha1")}}
    models = [dict(open_shard(Path(p).parent / "scores.zarr").attrs.get("model_provenance", {})) for p in curve_paths]
    record = provenance(config, source_records, models=[m for m in models if m], **extra)
    write_result_table(table, Path(out), record)
    return table


def write_ordering(
    dataset: str, score_paths: Mapping[str, str | Path], out: str | Path, config: Mapping[str, Any],
    test_set: str | Path | None = None,
) -> pd.DataFrame:
    """The ordering claim (SVG-LP >= SVG-FP >= deterministic) and every model against copying the
    last frame, as paired differences with 95% intervals (``statistics.ordering_table``), rows built per
    model from its ``scores.zarr``. SM-MNIST (``test_set`` given) adds the frames after each
    sequence's first wall hit, where the paper makes its claim; KTH's intervals are clustered by
    video, as in its curves."""

    scores, n_cond, sequences, groups = {}, None, None, None
    for model, path in score_paths.items():
        group = open_shard(path)
        scores[model] = {"ssim": np.asarray(group["ssim"][:]), "psnr": np.asarray(group["psnr"][:])}
        n_cond = int(group.attrs["n_cond"])
        seq = np.asarray(group["sequences"][:])
        if sequences is not None and not np.array_equal(seq, sequences):
            raise ValueError(f"{path}: scored other test sequences than the other models")
        sequences = seq
        if "groups" in group:
            groups = np.asarray(group["groups"][:])
    first_bounce = None
    if test_set is not None:
        bounces = np.asarray(open_shard(test_set)["bounces"].get_orthogonal_selection((sequences,)))
        first_bounce = first_bounce_after(bounces, n_cond)
    table = ordering_table(scores, n_cond, first_bounce, groups=groups)
    table.insert(0, "dataset", dataset)
    table["interval"] = "t over sequences" if groups is None else "t clustered by video"
    table["paper"] = np.nan
    record = provenance(config, [], paper="svg", scores={m: str(p) for m, p in score_paths.items()},
                        test_set=str(test_set or ""))
    write_result_table(table, Path(out), record)
    return table

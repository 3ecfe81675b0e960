"""staticflow's Tables 3 (validation) and 4 (test) from the evaluation jobs' score records.

The records are JSON written by ``evaluate``; the table job runs no network, so this module does
not import torch (about 2 s a job).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.papers.staticflow.metrics import INTERVAL, mean_interval
from pipeline.papers.staticflow.spec import REFERENCE
from pipeline.tables import provenance, write_table


def _cells(r: Mapping[str, Any], key: str, scale: float, seed: int) -> dict[str, float]:
    """A metric's value and its bootstrap interval over frames (recall/precision: value only)."""
    values = r.get("per_frame", {}).get(key)
    if values is None:
        return {"ours": scale * r[key]}
    low, high = mean_interval(np.asarray(values), seed)
    return {"ours": scale * r[key], "ci_low": scale * low, "ci_high": scale * high}


def _differences(r: Mapping[str, Any], reference: Mapping[str, Any] | None, name: str, seed: int) -> list[dict]:
    """Paired per-frame differences of L2 and top-5 from a baseline (same frames), with intervals."""
    if reference is None:
        return []
    if r["rows"] != reference["rows"]:
        raise ValueError(f"{name} was scored on other frames than {r.get('row')}")
    out = []
    for column, key, scale in (("L2", "l2", 1.0), ("top5", "top5", 100.0)):
        diff = np.asarray(r["per_frame"][key]) - np.asarray(reference["per_frame"][key])
        low, high = mean_interval(diff, seed)
        out.append({"column": f"{column} - {name}", "ours": scale * float(diff.mean()),
                    "ci_low": scale * low, "ci_high": scale * high})
    return out


def write_tables(
    scores: Mapping[str, Path],
    validation_csv: Path,
    test_csv: Path,
    config: Mapping[str, Any],
    source_records: Sequence[Path],
) -> None:
    """Tables 3 (validation) and 4 (test) beside the paper's numbers, percentages as printed.

    Every value has a 95% bootstrap interval over frames (recall and precision, which do not
    split into frames, have none); Table 4 adds every predictor's paired difference in L2 and
    top-5 from "no motion" and from the mean training flow.
    """
    seed = int(config.get("seed", 0) or 0)
    records = {p: json.loads(Path(path).read_text()) for p, path in scores.items()}
    still = records.get("nomotion", {}).get("test")
    mean_flow = records.get("meanflow", {}).get("test")
    val_rows, test_rows, models = [], [], []
    for predictor, r in records.items():
        if r.get("model_provenance"):
            models.append(r["model_provenance"])
        v, t = r["val"], r["test"]
        extra = {"frames": v["frames"], "image_size": r["image_size"], "grid": r["grid"], "classes": r["classes"]}
        for column in ("recall", "precision", "top1", "top5", "top10"):
            val_rows.append({"row": r["row"], "column": column, **_cells(v, column, 100.0, seed), **extra})
        extra = {"frames": t["frames"], "image_size": r["image_size"], "grid": r["grid"], "classes": r["classes"]}
        for column, key in (("L2", "l2"), ("Dir", "dir"), ("Ori", "ori")):
            test_rows.append({"row": r["row"], "column": column, **_cells(t, key, 1.0, seed), **extra})
        for column in ("top5", "top10"):
            test_rows.append({"row": r["row"], "column": column, **_cells(t, column, 100.0, seed), **extra})
        for name, reference in (("no motion", still), ("mean flow", mean_flow)):
            test_rows += [{"row": r["row"], **d, **extra} for d in _differences(t, reference, name, seed)]
        if r["params"] is not None:
            test_rows.append({"row": r["row"], "column": "params", "ours": float(r["params"]), **extra})
    classes = next(iter(records.values()))["classes"]
    record = provenance(config, list(source_records), models=models, units={
        "recall/precision": (f"percent, mean over all {classes} codebook classes as the paper does; a class "
                             "absent from the frames scored (no true and no predicted position) counts as 0"),
        "topk": "percent of grid positions whose true class is among the k best scored",
        "L2": "mean end-point distance in input-frame pixels of the displacement to the next three frames",
        "X - no motion / X - mean flow": "paired per-frame difference from that baseline on the same frames",
        "ci_low/ci_high": INTERVAL.replace("images", "frames"),
        "sets": next(iter(records.values())).get("split", ""),
    })
    for path, table, rows in ((validation_csv, "hmdb51_flow_validation", val_rows),
                              (test_csv, "hmdb51_flow_test", test_rows)):
        write_table(Path(path), table, rows, record, REFERENCE[table])

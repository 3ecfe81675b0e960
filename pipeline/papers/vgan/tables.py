"""vgan's result tables: Table 1 by the automatic judge with the statistics table, and Fig. 4's
action-recognition numbers.

They read the judge's and the action evaluation's JSON records and run no network, so this
module does not import torch (about 2 s a job).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.intervals import INTERVAL
from pipeline.papers.vgan.spec import (
    GANS,
    NAMES,
    REFERENCE,
    action_row,
    classifier_name,
    parse_variant,
)
from pipeline.tables import provenance, write_table

PREFERENCE = "preference"
"""Table 1's column of the models over every scene (the paper's values are its mean over scenes)."""
MEAN_OVER_SCENES = "preference: mean over scenes"


def scene_column(scene: str) -> str:
    """Table 1's column of one scene's models (the paper's Golf, Beach, Train, Baby)."""
    return f"{PREFERENCE}: {scene}"


def gan_weights(models: Sequence[Mapping[str, Any]]) -> str:
    """How the GANs of a judge record were sampled: their last weights (the paper's code) or the
    average of their weights over training (``train.average``, its relative width)."""
    widths = sorted({float(m.get("sizes", {}).get("train", {}).get("average", 0.0))
                     for m in models if parse_variant(str(m.get("variant", "")))[0] in GANS})
    return "; ".join(f"average over training (width {w:g})" if w else "last (the paper's)" for w in widths)


def _preference_rows(record: Mapping[str, Any], column: str) -> list[dict[str, Any]]:
    weights = gan_weights(record["model_provenance"])
    return [{"row": p["row"], "column": column, "ours": 100 * p["rate"], "low": 100 * p["low"],
             "high": 100 * p["high"], "pairs": p["pairs"], "clips_a": p.get("clips_a"), "clips_b": p.get("clips_b"),
             "judged_by": "automatic judge", "gan_weights": weights} for p in record["preference"]]


def mean_over_scenes(rows: Sequence[Mapping[str, Any]], scenes: Sequence[str]) -> list[dict[str, Any]]:
    """Per pairing, the mean of the scenes' preferences (the paper's Mean column), with a 95% interval
    from the scenes' own: each scene's standard error taken as its interval's width / 3.92, the
    scenes independent (separate models, judges and clips)."""
    columns = {scene_column(s) for s in scenes}
    by_row: dict[str, list[Mapping[str, Any]]] = {}
    for r in rows:
        if r["column"] in columns:
            by_row.setdefault(r["row"], []).append(r)
    out = []
    for name, found in by_row.items():
        mean = float(np.mean([r["ours"] for r in found]))
        se = float(np.sqrt(sum(((r["high"] - r["low"]) / 3.92) ** 2 for r in found))) / len(found)
        out.append({"row": name, "column": MEAN_OVER_SCENES, "ours": mean, "low": max(0.0, mean - 1.96 * se),
                    "high": min(100.0, mean + 1.96 * se), "pairs": sum(r["pairs"] for r in found),
                    "judged_by": "automatic judge", "gan_weights": found[0].get("gan_weights")})  # a percentage: the normal interval clipped to [0, 100]
    return out


def write_tables(judge_json: Path, preference_csv: Path, statistics_csv: Path, config: Mapping[str, Any],
                 source_records: Sequence[Path], scene_judges: Mapping[str, Path] | None = None) -> None:
    """Table 1 by the automatic judge (percent, bootstrap interval) and the statistics table.

    ``judge_json`` judged the models over every scene (column ``preference``); ``scene_judges``
    (scene -> judge JSON) each scene's own models, with their own judge and real clips (a column
    per scene and their mean, as the paper's Table 1).
    """
    records = {"": json.loads(Path(judge_json).read_text())}
    records.update({scene: json.loads(Path(path).read_text()) for scene, path in (scene_judges or {}).items()})
    scenes = [s for s in records if s]
    pref, stats = [], []
    for scene, r in records.items():
        pref += _preference_rows(r, scene_column(scene) if scene else PREFERENCE)
        suffix = f" ({scene})" if scene else ""
        stats += [{"row": NAMES[source] + suffix, "column": key, "ours": value,
                   "clips": r["sets"].get(source, r["sets"]["real_compare"])}
                  for source, values in r["statistics"].items() for key, value in values.items()]
    if scenes:
        pref += mean_over_scenes(pref, scenes)
    main = records[""]
    record = provenance(config, list(source_records), models=[m for r in records.values() for m in r["model_provenance"]],
                        judged_by=main["judged_by"], judge=main["judge"], scenes=scenes, units={
                            "preference": "percent of all (clip of A, clip of B) pairs where the judge scores A's clip as "
                                          "more real; low/high: 95% two-sample bootstrap interval (clips resampled); the paper's column is "
                                          "people's choices (Table 1: its mean over four scene categories), ours an automatic judge's",
                            "gan_weights": "the GANs' samples come from their last generator (as the paper's code) or from "
                                           "the average of its weights over training (train.average: its relative width)",
                            "columns": f"{PREFERENCE}: the models over every video; '{scene_column('<scene>')}': the models, judge "
                                       f"and real clips of one scene; '{MEAN_OVER_SCENES}': their mean, interval from the scenes' "
                                       "intervals (normal approximation, scenes independent)",
                            "statistics": "clips in [-1, 1]; frechet_distance and kid against the real compare "
                                          f"clips (real: one half against the other), in the {main['feature_space']}; "
                                          "rows '<model> (<scene>)': one scene's models and real clips",
                        })
    write_table(Path(preference_csv), "vgan_preference", pref, record, REFERENCE["vgan_preference"])
    write_table(Path(statistics_csv), "vgan_statistics", stats, record, {})


def pct(value: float | None) -> float | None:
    return None if value is None else 100 * value


def write_action_tables(evaluation: Path, accuracy_csv: Path, data_csv: Path, config: Mapping[str, Any],
                        source_records: Sequence[Path]) -> None:
    """Fig. 4a as a table (all labelled videos) and Fig. 4b/c's numbers (accuracy per share, gain)."""
    r = json.loads(Path(evaluation).read_text())
    res = r["results"]
    rows = []
    for v in res.values():
        if v["share"] != 1:
            continue
        rows.append({"row": action_row(v["init"]), "column": "accuracy", "ours": pct(v["accuracy"]),
                     "low": pct(v["low"]), "high": pct(v["high"]), "test_videos": v["videos"],
                     "labelled_videos": v.get("labelled_videos"), "training_runs": v.get("runs")})
    curve = []
    for v in sorted(res.values(), key=lambda v: (v["init"], -v["share"])):
        if v["init"] not in ("random", "finetune", "most frequent class"):
            continue
        share = str(v["share"])
        gain = r["finetune_minus_random"].get(share)
        random_acc = res.get(classifier_name("random", v["share"]), {}).get("accuracy")
        curve.append({"row": action_row(v["init"]), "column": f"1/{share} of labelled videos",
                      "ours": pct(v["accuracy"]), "low": pct(v["low"]), "high": pct(v["high"]),
                      "labelled_videos": v["labelled_videos"], "share": 1 / v["share"], "training_runs": v.get("runs"),
                      "finetune_minus_random": pct(gain["difference"]) if gain and v["init"] == "finetune" else None,
                      "difference_low": pct(gain["low"]) if gain and v["init"] == "finetune" else None,
                      "difference_high": pct(gain["high"]) if gain and v["init"] == "finetune" else None,
                      "relative_gain": (v["accuracy"] / random_acc if v["init"] == "finetune" and random_acc else None)})
    record = provenance(config, list(source_records), models=r["model_provenance"], classes=r["classes"],
                        test_split=r["test_from"], units={
                            "accuracy": "percent of test videos whose clips' mean softmax picks their class, a "
                                        "trained classifier's averaged over its training_runs (a video counts by the "
                                        f"share of runs right on it); low/high: {INTERVAL.replace('images', 'videos')}",
                            "relative_gain": "fine-tune accuracy / random-init accuracy (Fig. 4c)",
                            "finetune_minus_random": "paired difference on the same test videos, percent points",
                        })
    write_table(Path(accuracy_csv), "ucf101_action_accuracy", rows, record, REFERENCE["ucf101_action_accuracy"])
    write_table(Path(data_csv), "ucf101_action_data", curve, record, {})

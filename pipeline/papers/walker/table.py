"""walker's Table 1 file: the scores of every predictor (``evaluate.evaluate_variant``'s JSON) as one
table with intervals, the differences from "no motion", the min-Euclidean points of Fig. 5 and the
units a reader needs to compare them with the paper's."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.intervals import INTERVAL, mean_interval
from pipeline.papers.walker.spec import REFERENCE
from pipeline.tables import provenance, write_table


def _interval_cells(values: np.ndarray, seed: int) -> dict[str, float]:
    low, high = mean_interval(values, seed)
    return {"ours": float(np.mean(values)), "ci_low": low, "ci_high": high}


def nll_units(dims: Sequence[int], grid: Sequence[int]) -> dict[str, str]:
    """What the NLL numbers are, for the provenance sidecar (and the reader comparing with the paper)."""
    d = int(sum(dims))
    return {
        "nll": (f"nats per test image, summed over D = {d} dims: {dims[0]} normalized trajectory dims "
                f"(10 DCT coefficients x {grid[0]}x{grid[1]} coarse cells) + {dims[1]} magnitudes; the paper's "
                "Table 1 is over 10x16x20 = 3,200 dims, so only the per-dimension values compare across scales"),
        "nll_per_dim": "nll / D",
        "nll_minus_no_motion": "paired difference of per-image NLL from the no-motion prediction (negative = better)",
        "normalisation": ("each image's coarse DCT trajectories are divided by their root mean square per axis "
                          "(M_x, M_y, floored at 1e-3); normalized trajectories and magnitudes are scored with "
                          "their own isotropic bandwidths. A zero prediction therefore costs about "
                          "D_norm/2 (1 + log 2 pi) nats in the normalized block whatever the motion"),
        "min_euclidean@n": "mean over test images of the Euclidean distance (DCT units, pixels) of the closest of n "
                           "samples to the true coarse trajectory field",
        "min_euclidean_gain": "min_euclidean@N - min_euclidean@1, paired per image (negative = more samples help)",
        "ci_low/ci_high": INTERVAL,
    }


def write_nll_table(
    scores: Mapping[str, Path], out: Path, config: Mapping[str, Any], source_records: Sequence[Path], **extra: Any
) -> Any:
    """Table 1 (NLL, lower is better) beside the paper's, plus min-Euclidean points of Fig. 5.

    Every predictor gets its total NLL, NLL per dimension and its paired difference from "no
    motion" (when ``scores`` has it), each with a bootstrap interval over the test images, and its
    min-Euclidean points at n = 1, 10, N with intervals, plus the paired gain from 1 to N samples.
    ``extra`` goes into the provenance sidecar as is (e.g. the figure drawn from the same scores).
    """
    seed = int(config.get("seed", 0) or 0)
    records = {v: json.loads(Path(p).read_text()) for v, p in scores.items()}
    still = records.get("nomotion")
    rows, models = [], []
    for variant, r in records.items():
        if r.get("model_provenance"):
            models.append(r["model_provenance"])
        nll = np.asarray(r["nll_per_image"])
        d = int(sum(r["dims"]))
        cells = {"bandwidth_norm": r["bandwidths"][0], "bandwidth_mag": r["bandwidths"][1],
                 "bandwidth_fit": r["bandwidth_source"], "samples": r["samples"], "images": r["test_images"],
                 "dims": d}
        rows.append({"row": r["row"], "column": "nll", **_interval_cells(nll, seed), **cells})
        rows.append({"row": r["row"], "column": "nll_per_dim", **_interval_cells(nll / d, seed), **cells})
        if still is not None:
            if r["test_rows"] != still["test_rows"]:
                raise ValueError(f"{scores[variant]} and {scores['nomotion']} scored different test images")
            rows.append({"row": r["row"], "column": "nll_minus_no_motion",
                         **_interval_cells(nll - np.asarray(still["nll_per_image"]), seed), **cells})
        for name, points in r["best_of_n_per_image"].items():
            for n, values in points.items():
                rows.append({"row": name, "column": f"min_euclidean@{n}", **_interval_cells(np.asarray(values), seed),
                             "samples": len(r["curves"][name]), "images": r["test_images"]})
            first, last = points["1"], points[max(points, key=int)]
            if len(points) > 1:
                rows.append({"row": name, "column": f"min_euclidean_gain@{max(points, key=int)}",
                             **_interval_cells(np.asarray(last) - np.asarray(first), seed),
                             "samples": len(r["curves"][name]), "images": r["test_images"]})
    first = next(iter(records.values()))
    record = provenance(config, list(source_records), models=models, units=nll_units(first["dims"], first["grid"]),
                        **extra)
    return write_table(Path(out), "thumos_nll", rows, record, REFERENCE["thumos_nll"])

"""The numbers the papers report: the one place they live.

They fill only the ``paper`` column of our tables, beside the number we measured. Nothing in the
pipeline computes with them, and no test expects them: a reproduction that matches does so by
measurement.
"""

from __future__ import annotations

import pandas as pd

# table -> row -> column -> value, as printed in the paper (percentages as printed).
REPORTED: dict[str, dict[str, dict[str, float]]] = {
    # Walker et al. 2016, Table 1: negative log-likelihood on THUMOS 2015 (lower is better).
    "thumos_nll": {
        "Regressor": {"nll": 11463},
        "Optical Flow": {"nll": 11734},
        "Ours (CVAE)": {"nll": 11082},
    },
    # Walker et al. 2016, Table 2: VOC 2012 detection mAP (per-class columns garbled in our copy).
    "voc2012_detection": {
        "scratch+cal": {"mAP": 40.6},
        "kmeans+cal": {"mAP": 46.1},
        "rel. pos.+cal": {"mAP": 52.3},
        "egomotion+cal": {"mAP": 44.9},
        "vid. embed (1.5M)": {"mAP": 46.2},
        "vid. embed (5M)": {"mAP": 47.0},
        "vid. embed (8M)": {"mAP": 47.5},
        "vid. embed (8M)+cal": {"mAP": 42.2},
        "ours+cal": {"mAP": 47.3},
    },
    # Static-frame flow prediction, Table 3: validation (%).
    "hmdb51_flow_validation": {
        "AlexNet": {"recall": 11.12, "precision": 15.88, "top1": 76.67, "top5": 91.9, "top10": 96.5},
        "All-Conv": {"recall": 9.44, "precision": 12.73, "top1": 75.89, "top5": 90.7, "top10": 96.3},
    },
    # Static-frame flow prediction, Table 4: test.
    "hmdb51_flow_test": {
        "[11]": {"L2": 1.23, "Dir": 0.000, "Ori": 0.461},
        "[18]": {"L2": 1.21, "Dir": 0.016, "Ori": 0.636, "top5": 90.2, "top10": 95.9, "params": 112e6},
        "All-Conv": {"L2": 1.12, "Dir": 0.036, "Ori": 0.664, "top5": 90.7, "top10": 96.3, "params": 7.16e6},
        "AlexNet": {"L2": 1.10, "Dir": 0.096, "Ori": 0.676, "top5": 91.9, "top10": 96.5, "params": 112e6},
    },
    # Xue et al., Fig. 5 table: KL(p_gt || p_pred) of per-object motion.
    "shapes_kl": {
        "Flow": {"circles": 6.77, "squares": 7.07, "triangles": 6.07, "circles-triangles": 8.42},
        "AE": {"circles": 8.76, "squares": 12.37, "triangles": 10.36, "circles-triangles": 10.58},
        "Ours": {"circles": 1.70, "squares": 2.48, "triangles": 1.14, "circles-triangles": 2.46},
    },
    # Xue et al., Table 1: sparsity of z_mean.
    "latent_sparsity": {
        "Shapes": {"nonzero": 299, "pca95": 5},
        "Sprites": {"nonzero": 54, "pca95": 5},
        "Exercise": {"nonzero": 978, "pca95": 47},
    },
    # Xue et al., Fig. 12: dominating PCA components by z size.
    "shapes_zdim_ablation": {
        "8": {"pca_components": 3},
        "32": {"pca_components": 3},
        "128": {"pca_components": 3},
        "3200": {"pca_components": 5},
    },
    # Xue et al., Table 2: mean squared pixel error on test analogies (Add, Dis, Dis+Cls quoted from Reed et al.).
    "sprites_analogy_mse": {
        "Add": {"spellcast": 41.0, "thrust": 53.8, "walk": 55.7, "slash": 52.1, "shoot": 77.6, "average": 56.0},
        "Dis": {"spellcast": 40.8, "thrust": 55.8, "walk": 52.6, "slash": 53.5, "shoot": 79.8, "average": 56.5},
        "Dis+Cls": {"spellcast": 13.3, "thrust": 24.6, "walk": 17.2, "slash": 18.9, "shoot": 40.8, "average": 23.0},
        "Ours": {"spellcast": 9.5, "thrust": 11.5, "walk": 11.1, "slash": 28.2, "shoot": 19.0, "average": 15.9},
    },
    # Vondrick et al., Table 1: human 2AFC preference (%), mean over scenes.
    "vgan_preference": {
        "two-stream over AE": {"preference": 82},
        "one-stream over AE": {"preference": 82},
        "two-stream over one-stream": {"preference": 53},
        "two-stream over real": {"preference": 18},
        "one-stream over real": {"preference": 16},
        "AE over real": {"preference": 3},
    },
    # Vondrick et al., Fig. 4a: UCF101 accuracy (%).
    "ucf101_action_accuracy": {
        "chance": {"accuracy": 0.9},
        "STIP": {"accuracy": 43.9},
        "temporal coherence": {"accuracy": 45.4},
        "shuffle and learn": {"accuracy": 50.2},
        "VGAN + random init": {"accuracy": 36.7},
        "VGAN + logistic regression": {"accuracy": 49.3},
        "VGAN + fine-tune": {"accuracy": 52.1},
        "ImageNet supervision": {"accuracy": 91.4},
    },
}


def paper_value(table: str, row: str, column: str) -> float | None:
    """What the paper reports for one cell, or None where it reports nothing."""
    return REPORTED.get(table, {}).get(row, {}).get(column)


def paper_table(table: str) -> pd.DataFrame:
    """A paper's table in long form: row, column, paper."""
    if table not in REPORTED:
        raise KeyError(f"no reported numbers for table {table!r}; known: {', '.join(sorted(REPORTED))}")
    records = [
        {"row": row, "column": column, "paper": value}
        for row, columns in REPORTED[table].items()
        for column, value in columns.items()
    ]
    return pd.DataFrame.from_records(records)

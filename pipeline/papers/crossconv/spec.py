"""crossconv (Xue et al.): what the graph needs to know, without torch.

So far the data only: the Shapes and Shapes+Texture pairs (generated as in the paper) and the
Exercise / PennAction frame pairs are built by the default graph; models, tables and figures
are not built yet, so this spec declares no models and no targets. ``REFERENCE`` holds the
paper's numbers for the tables to come (the ``paper`` column only).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

PAPER = "crossconv"
SIZES: dict[str, dict] = {}
"""No model sizes yet (the data sizes are the presets' ``clips.crossconv`` and ``shapes``)."""
CLIP_SETS: tuple[tuple[str, str], ...] = (("exercise", "crossconv"), ("pennaction", "crossconv"))
SHAPES_SETS: tuple[str, ...] = ("shapes", "shapestexture")

REFERENCE: dict[str, dict[str, dict[str, float]]] = {
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
}
"""The paper's numbers, table -> row -> column -> value, as printed."""


def data_targets(sources: Mapping[str, str], data_root: Path) -> list[Path]:
    """The generated Shapes and Shapes+Texture train / test pairs."""
    if sources.get("shapes", "off") == "off":
        return []
    return [Path(data_root) / "clips" / v / "crossconv" / f"{s}.zarr" for v in SHAPES_SETS for s in ("train", "test")]

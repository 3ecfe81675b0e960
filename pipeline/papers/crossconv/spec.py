"""crossconv (Xue et al.): what the graph needs to know, without torch.

The Shapes pairs (generated as in the paper by the data stage) train the cross convolutional
network ("ours", the VAE), its AE baseline (no KL, no sampling layer) and, for Figs. 11-12, VAEs
with another KL weight or z size; the Sprites pairs train a VAE for Table 2's analogies. The
Shapes networks' samples, three baselines computed by the same measurement code (nearest-
neighbour flow transfer, "no motion", "mean motion") and a resampled-truth floor give the Fig. 5
KL table; the VAEs' z statistics give Table 1, the ablation tables and the figures. ``REFERENCE`` holds the paper's numbers (the ``paper`` column only).

Sizes per preset: ``model`` (what ``CrossConvConfig`` takes beyond the variant; the image size
is the Shapes pairs' own, ``shapes.size`` of the preset), ``train`` (one schedule per variant),
``eval`` (sample counts). Paper values (Sec. 4.2, 5.1): 128x128 input, 4 scales from 256 to 32,
32 maps per scale, z of 3,200, 20,000 / 500 Shapes pairs, 50,000 samples for the KL (100 per
test pair), 10 nearest neighbours for the flow baseline. The paper gives no schedule or optimiser
settings; ``train`` at paper scale is our choice (Adam 1e-3, batch 32, 40 epochs of 20,000 pairs).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

PAPER = "crossconv"
DATASETS: tuple[str, ...] = ("shapes", "sprites", "exercise")
"""Datasets a model trains on (Shapes+Texture is generated but its results are qualitative only)."""
DATASET_VARIANTS: dict[str, tuple[str, ...]] = {"shapes": ("ours", "ae"), "sprites": ("ours",), "exercise": ("ours",)}
"""Networks per dataset: Sprites' Table 2 compares the VAE with Reed et al.'s rows only; Exercise is Table 1's
third row (z statistics)."""
CLIP_PAIRS: tuple[str, ...] = ("exercise",)
"""Video datasets whose frame pairs are the crossconv clips (2 neighbouring frames) of the clip stage."""
VARIANTS: tuple[str, ...] = ("ours", "ae")
"""The cross convolutional VAE and the same network without KL and sampling layer (Fig. 5's AE)."""
PREDICTORS: dict[str, str] = {
    "ours": "Ours", "ours_prior": "Ours (z from prior)", "ae": "AE (z from training pairs)",
    "ae_prior": "AE (z from prior)", "flow": "Flow", "nomotion": "No motion", "meanmotion": "Mean motion",
    "truth": "Truth (resampled motion)",
}
"""Rows of the Shapes KL table: predictor key -> row name. The paper's AE row stands beside "AE (z from
prior)": the paper does not say how its AE drew z, and its AE values (8.8-12.4) are those of a network whose
z carries no motion (ours from the prior: 7-9; no motion: 7.6-10.3), not those of an AE sampled like Ours."""
KL_KEYS: tuple[str, ...] = ("circles", "squares", "triangles", "circles-triangles")
"""Columns of the Shapes KL table: one shape's motion, or the circles-triangles joint."""
MODEL_OF: dict[str, str] = {"ours": "ours", "ours_prior": "ours", "ae": "ae", "ae_prior": "ae"}
"""Predictors that sample from a trained model -> its variant."""
Z_SIZES: tuple[int, ...] = (8, 32, 128)
"""Fig. 12's smaller z, a VAE each beside the main one (whose z is the kernel code's size: 3,200 at paper)."""
KL_WEIGHTS: tuple[float, ...] = (10.0, 100.0)
"""Fig. 11's sweep: KL weights beside the main VAE's 1 (the paper plots its sweep without the values)."""
ABLATIONS: dict[str, dict[str, dict[str, float]]] = {
    "zdim": {f"z{n}": {"z_size": n} for n in Z_SIZES},
    "kl_weight": {f"kl{w:g}": {"kl_weight": w} for w in KL_WEIGHTS},
}
"""Ablation -> VAE variant -> the model sizes it changes; each trains on the main VAE's schedule."""
ABLATION_TABLES: dict[str, str] = {"zdim": "shapes_zdim_ablation", "kl_weight": "shapes_kl_weight_sweep"}
ABLATION_VARIANTS: dict[str, dict[str, float]] = {v: o for group in ABLATIONS.values() for v, o in group.items()}
NONZERO_THRESHOLD = 0.1
"""Table 1: a z_mean dimension is non-zero when its mean absolute value over the pairs exceeds this
(in units of the prior's standard deviation; the paper does not state its threshold)."""
VARIANCE = 0.95
"""Table 1, Fig. 12: PCA components of z_mean are counted until they explain this fraction of its variance."""


LOSS = {"recon_weight": 1.0, "kl_weight": 1.0, "z_size": 0}
"""Eq. 5's lambda on the squared error (in (J - I) x 100 units), the KL weight, z's size (0: the kernel code's)."""


def _sizes(model: dict, steps: int, batch: int, every: tuple[int, int], evaluation: dict, ablations: bool,
           dataset_steps: dict[str, int] | None = None) -> dict:
    return {"model": model, "ablations": ablations,
            "train": {"steps": {v: steps for v in VARIANTS}, "batch_size": batch, "lr": 1e-3,
                      "checkpoint_every": every[0], "log_every": every[1],
                      "dataset_steps": {"sprites": steps, "exercise": steps, **(dataset_steps or {})}},
            "eval": evaluation}


SIZES: dict[str, dict[str, Any]] = {
    # model: num_scales / top_scale of the image pyramid, maps (= kernels) per scale, width x
    # hidden channels, the loss weights and z's size (LOSS); the demo's top_scale 2 regresses the
    # difference image at half the input's size as the paper (at 1, a quarter, samples blur and
    # Flow wins). ablations: whether the default targets include Fig. 11's KL-weight sweep and
    # Fig. 12's z sizes (five more VAEs; any preset builds them when their tables are asked for).
    # train.dataset_steps: the Sprites and Exercise VAEs' steps (the demo's Exercise stand-in has
    # 96 training pairs: 500 steps are 80 epochs of it; Sprites' 628 pairs: 750 steps are 19 epochs,
    # its analogy error 138.6 against 131.1 at 1,500 steps and 151.2 at 500, no motion 210.6 (seed
    # 0), in half the time: at 1,500 it held back the Shapes VAE, and so the KL table, by 8 minutes).
    # The Shapes networks train 2,000 steps of 16 pairs: at 1,500 the squares' margin over Flow turned
    # with the CPU's kernels (seed 0, the per-scale decoder: lower on an AVX2 CPU, -0.47 [-0.64, -0.22],
    # a tie on an AVX-512 one, -0.18 [-0.32, +0.08]; the decoder before it tied on AVX2); at 2,000 Ours is
    # below Flow in every KL column under both kernel sets (squares -0.70 [-0.75, -0.44] with AVX-512,
    # -0.29 [-0.48, -0.04] with AVX2 kernels forced by ATEN_CPU_CAPABILITY). At 1,000 steps the squares
    # were a tie; at 1,500 steps of 8 pairs the circles were higher (channels-last weights).
    # eval: samples_per_pair (predictions drawn per test pair), test_pairs (0: all), z_bank (training pairs encoded for the empirical z and the z statistics), neighbours
    # (flow transfer), truth_draws (motions drawn from the generator for p_gt), bootstrap
    # (resamples of test pairs for the intervals), examples (test pairs in the samples figure).
    "smoke": _sizes({"num_scales": 3, "top_scale": 1.0, "maps": 4, "width": 1 / 16, **LOSS}, 4, 8, (2, 1),
                    {"samples_per_pair": 2, "test_pairs": 0, "z_bank": 32, "neighbours": 3, "truth_draws": 2000,
                     "bootstrap": 20, "batch_size": 16, "examples": 2}, False),
    "demo": _sizes({"num_scales": 4, "top_scale": 2.0, "maps": 16, "width": 1 / 4, **LOSS}, 2000, 16, (250, 50),
                   {"samples_per_pair": 10, "test_pairs": 0, "z_bank": 1000, "neighbours": 10,
                    "truth_draws": 50_000, "bootstrap": 200, "batch_size": 50, "examples": 4}, False,
                   {"sprites": 750, "exercise": 500}),
    "paper": _sizes({"num_scales": 4, "top_scale": 2.0, "maps": 32, "width": 1.0, **LOSS}, 25_000, 32, (1000, 100),
                    {"samples_per_pair": 100, "test_pairs": 0, "z_bank": 1000, "neighbours": 10,
                     "truth_draws": 50_000, "bootstrap": 200, "batch_size": 50, "examples": 6}, True),
}
CLIP_SETS: tuple[tuple[str, str], ...] = (("exercise", "crossconv"), ("pennaction", "crossconv"))
SHAPES_SETS: tuple[str, ...] = ("shapes", "shapestexture")

REFERENCE: dict[str, dict[str, dict[str, float]]] = {
    # Xue et al., Fig. 5 table: KL(p_gt || p_pred) of per-object motion (their "AE": see PREDICTORS).
    "shapes_kl": {
        "Flow": {"circles": 6.77, "squares": 7.07, "triangles": 6.07, "circles-triangles": 8.42},
        "AE (z from prior)": {"circles": 8.76, "squares": 12.37, "triangles": 10.36, "circles-triangles": 10.58},
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


def models(sources: Mapping[str, str], sizes: Mapping[str, Any] | None = None) -> list[tuple[str, str]]:
    """(dataset, variant) pairs to train: both networks on Shapes, the VAE on Sprites, unless off."""
    return [(d, v) for d in DATASETS if sources.get(d, "off") != "off" for v in DATASET_VARIANTS[d]]


def pair_split(data_root: Path, dataset: str, split: str) -> str:
    """A dataset's frame pairs for one split: generated (Shapes), built from the Sprites files, or
    gathered from the crossconv clips of a video dataset (``CLIP_PAIRS``: the clips' own folder holds
    their shards, so the pairs sit apart)."""
    if dataset in CLIP_PAIRS:
        return str(Path(data_root) / "pairs" / dataset / "crossconv" / f"{split}.zarr")
    return str(Path(data_root) / "clips" / dataset / "crossconv" / f"{split}.zarr")


def inputs(dataset: str, variant: str, data_root: Path) -> dict[str, str]:
    """Files a training job reads: the training pairs (and the test pairs, for its previews)."""
    check(dataset, variant)
    return {"train": pair_split(data_root, dataset, "train"), "test": pair_split(data_root, dataset, "test")}


def training_sizes(sizes: Mapping[str, Any], dataset: str, variant: str) -> dict[str, Any]:
    """A network reads the model sizes and its own schedule: the other variant's steps never retrain it.
    An ablation VAE (``ABLATION_VARIANTS``) is the main VAE with its sizes changed, on the VAE's schedule."""
    check(dataset, variant)
    steps = sizes["train"]["steps"]["ours" if variant in ABLATION_VARIANTS else variant]
    steps = sizes["train"]["dataset_steps"].get(dataset, steps)
    return {"model": {**sizes["model"], **ABLATION_VARIANTS.get(variant, {})},
            "train": {**{k: v for k, v in sizes["train"].items() if k != "dataset_steps"}, "steps": {variant: steps}}}


def is_variational(variant: str) -> bool:
    """Every network but the AE is the VAE (the ablations included)."""
    return variant != "ae"


def targets(sources: Mapping[str, str], results: Path, sizes: Mapping[str, Any]) -> list[Path]:
    """The Fig. 5 KL table, Table 1 (sparsity of z), the samples and z statistics figures; Table 2
    (Sprites analogies) when Sprites is on."""
    results = Path(results)
    sprites = [results / "tables" / "sprites_analogy_mse.csv"] if sources.get("sprites", "off") != "off" else []
    if sources.get("shapes", "off") == "off":
        return sprites
    ablations = [results / "tables" / f"{t}.csv" for t in ABLATION_TABLES.values()] if sizes.get("ablations") else []
    return [results / "tables" / "shapes_kl.csv", results / "tables" / "shapes_kl_differences.csv",
            results / "tables" / "latent_sparsity.csv",
            results / "figures" / "shapes_samples.png", results / "figures" / "shapes_z_statistics.png",
            results / "figures" / "shapes_motion_histograms.png", results / "figures" / "shapes_feature_maps.png",
            results / "figures" / "shapes_extrapolation.gif", *ablations, *sprites]


def check(dataset: str, variant: str) -> None:
    if dataset not in DATASETS:
        raise KeyError(f"crossconv has no dataset {dataset!r}; known: {', '.join(DATASETS)}")
    known = [*DATASET_VARIANTS[dataset], *(ABLATION_VARIANTS if dataset == "shapes" else ())]
    if variant not in known:
        raise KeyError(f"crossconv has no variant {variant!r} on {dataset}; known: {', '.join(known)}")


def data_targets(sources: Mapping[str, str], data_root: Path) -> list[Path]:
    """The generated Shapes and Shapes+Texture train / test pairs (the Sprites pairs are a model's input)."""
    if sources.get("shapes", "off") == "off":
        return []
    return [Path(data_root) / "clips" / v / "crossconv" / f"{s}.zarr" for v in SHAPES_SETS for s in ("train", "test")]

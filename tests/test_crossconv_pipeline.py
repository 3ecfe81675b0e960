"""crossconv in the graph: the KL evaluation's references, training that resumes exactly, the
spec contract, and the Snakemake chain at smoke scale (tables beside the paper's numbers)."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import jobs
import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image
from smoke_graph import run_paper

from pipeline.data import write_shapes_split
from pipeline.papers import sizes as resolve
from pipeline.papers.crossconv import spec
from pipeline.papers.crossconv.data import ShapesSplit, read_split
from pipeline.papers.crossconv.evaluate import kl_with_intervals, predicted_motion
from pipeline.papers.crossconv.latent import EXTRAPOLATION_STEPS, pca_components
from pipeline.papers.crossconv.spec import KL_KEYS
from pipeline.papers.crossconv.tables import kl_differences
from pipeline.papers.crossconv.train import load_crossconv
from pipeline.shards import open_shard
from pipeline.synthetic.shapes import ShapesConfig, generate_pairs

SMOKE = resolve("smoke")["crossconv"]


# ----------------------------------------------------------------------------- the KL evaluation


def test_resampled_truth_scores_near_zero_and_no_motion_high() -> None:
    """The references of the KL table, measured from pixels by the evaluation's own code."""
    cfg = ShapesConfig(size=48)
    test = ShapesSplit(generate_pairs(cfg, 60, np.random.default_rng(1)), cfg)
    sizes = {"samples_per_pair": 4, "neighbours": 3}
    kl = {}
    for predictor in ("truth", "nomotion"):
        motion = predicted_motion(predictor, test, test, sizes, 0, None, "dis", "fast")
        assert motion.shape == (60, 4, 3, 2)
        kl[predictor] = kl_with_intervals(test, motion, truth_draws=20_000, bootstrap=30, seed=0)
    for key in ("circles", "squares"):
        assert kl["truth"]["kl"][key] < 1.0, kl["truth"]["kl"]  # 240 samples of a 41-bin line
        assert kl["nomotion"]["kl"][key] > 8.0  # everything in the centre bin
    for key in KL_KEYS:
        lo, hi = kl["truth"]["interval"][key]
        assert 0 <= lo <= hi and kl["nomotion"]["kl"][key] > kl["truth"]["kl"][key] + (2 if key in ("circles", "squares", "triangles") else 0.5)
    assert kl["truth"]["measured"]["squares"] > 0.9
    # the paired difference: truth far below no motion in the shapes' columns, and a row against itself is 0
    truth, still = ({"predictor": p, "pairs": 60, "bootstrap": 30, "seed": 0, **kl[p]} for p in ("truth", "nomotion"))
    rows = {r["column"]: r for r in kl_differences(truth, still)}
    for key in ("circles", "squares", "triangles"):
        assert rows[key]["ours"] == kl["truth"]["kl"][key] - kl["nomotion"]["kl"][key]
        assert rows[key]["ci_high"] < 0 and rows[key]["verdict"] == "lower"
    assert all(r["ours"] == r["ci_low"] == r["ci_high"] == 0 and r["verdict"] == "tie"
               for r in kl_differences(truth, truth))
    with pytest.raises(ValueError, match="not resampled alike"):
        kl_differences(truth, {**still, "seed": 1})


def test_pca_components_count_the_directions_of_variance() -> None:
    rng = np.random.default_rng(0)
    z = rng.normal(size=(500, 3)) @ rng.normal(size=(3, 40))  # rank 3 in 40 dims
    assert pca_components(z) <= 3 and pca_components(z + 1e-3 * rng.normal(size=z.shape)) == 3
    assert pca_components(np.zeros((10, 4))) == 0


# ----------------------------------------------------------------------------- training


@pytest.fixture(scope="module")
def splits(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    root = tmp_path_factory.mktemp("shapes")
    data = resolve("smoke")["shapes"]
    return {split: str(write_shapes_split(root / f"{split}.zarr", "shapes", split, data, seed=0))
            for split in ("train", "test")}


def test_training_resumes_to_the_same_weights(tmp_path: Path, splits: dict[str, str]) -> None:
    sizes = copy.deepcopy(SMOKE)
    sizes["train"].update(steps={"ours": 4, "ae": 4}, checkpoint_every=2)
    whole = jobs.train("crossconv", "shapes", "ours", splits, tmp_path / "whole", sizes, seed=3)
    with jobs.killed_after_checkpoint(2):
        jobs.train("crossconv", "shapes", "ours", splits, tmp_path / "resumed", sizes, seed=3)
    resumed = jobs.train("crossconv", "shapes", "ours", splits, tmp_path / "resumed", sizes, seed=3)
    a, b = load_crossconv(whole), load_crossconv(resumed)
    for key, value in a.state_dict().items():
        assert torch.equal(value, b.state_dict()[key]), key
    assert a.cfg.variational and a.cfg.image_size == 32
    log = pd.read_csv(tmp_path / "resumed" / "log.csv")
    assert list(log["step"]) == [1, 2, 3, 4] and {"loss", "kl", "reconstruction"} <= set(log.columns)


def test_spec_contract() -> None:
    assert spec.models({"shapes": "synthetic"}) == [("shapes", "ours"), ("shapes", "ae")]
    assert spec.models({"shapes": "off"}) == [] and spec.targets({"shapes": "off"}, Path("r"), SMOKE) == []
    assert set(spec.MODEL_OF) <= set(spec.PREDICTORS) and set(spec.REFERENCE["shapes_kl"]) <= set(spec.PREDICTORS.values())
    paper = resolve("paper")
    assert paper["shapes"] == {"size": 128, "train_pairs": 20000, "test_pairs": 500}
    e = paper["crossconv"]["eval"]
    assert e["samples_per_pair"] * paper["shapes"]["test_pairs"] == 50_000 and e["neighbours"] == 10
    from pipeline.papers.crossconv.model import CrossConvConfig
    from pipeline.papers.crossconv.train import model_config

    assert model_config("ours", 128, paper["crossconv"]["model"]) == CrossConvConfig()  # z 3,200
    assert model_config("ae", 128, paper["crossconv"]["model"]).variational is False


def test_ablation_vaes_change_one_size_and_train_on_the_vaes_schedule() -> None:
    from pipeline.papers.crossconv.train import model_config

    paper = resolve("paper")["crossconv"]
    assert [v for _, v in spec.models({"shapes": "synthetic"})] == ["ours", "ae"]  # ablations never in the plan
    for variant, change in spec.ABLATION_VARIANTS.items():
        sizes = spec.training_sizes(paper, "shapes", variant)
        assert sizes["train"]["steps"] == {variant: paper["train"]["steps"]["ours"]}
        cfg = model_config(variant, 128, sizes["model"])
        assert cfg.variational and {k: getattr(cfg, k) for k in change} == change
    assert model_config("z8", 128, spec.training_sizes(paper, "shapes", "z8")["model"]).z_dim == 8
    assert model_config("kl100", 128, spec.training_sizes(paper, "shapes", "kl100")["model"]).kl_weight == 100
    with pytest.raises(KeyError, match="z8"):
        spec.training_sizes(paper, "shapes", "z9")
    tables = {Path(t).name for t in spec.targets({"shapes": "synthetic"}, Path("r"), paper)}
    assert {"shapes_zdim_ablation.csv", "shapes_kl_weight_sweep.csv"} <= tables
    demo_sizes = resolve("demo")["crossconv"]
    steps = {d: spec.training_sizes(demo_sizes, d, "ours")["train"]["steps"]["ours"] for d in spec.DATASETS}
    assert steps == {"shapes": 2000, "sprites": 750, "exercise": 500}  # the demo's Sprites and Exercise sets are small
    assert "dataset_steps" not in spec.training_sizes(demo_sizes, "exercise", "ours")["train"]  # only its own steps
    demo = {Path(t).name for t in spec.targets({"shapes": "synthetic"}, Path("r"), demo_sizes)}
    assert "shapes_zdim_ablation.csv" not in demo and "shapes_kl.csv" in demo


# ----------------------------------------------------------------------------- the graph


def test_chain_writes_the_kl_sparsity_and_ablation_tables(tmp_path: Path) -> None:
    targets = ["results/tables/shapes_kl.csv", "results/tables/latent_sparsity.csv",
               "results/tables/shapes_zdim_ablation.csv", "results/tables/shapes_kl_weight_sweep.csv",
               "results/tables/sprites_analogy_mse.csv", "results/tables/shapes_kl_differences.csv",
               "results/figures/shapes_feature_maps.png",
               "results/figures/shapes_extrapolation.gif"]
    run = run_paper(tmp_path, "crossconv", *targets)
    assert run.returncode == 0, run.stderr[-4000:]
    kl = pd.read_csv(tmp_path / "results" / "tables" / "shapes_kl.csv")
    assert set(spec.PREDICTORS.values()) == set(kl["row"]) and set(kl["column"]) == set(KL_KEYS)
    assert len(kl) == len(spec.PREDICTORS) * len(KL_KEYS) and np.isfinite(kl["ours"]).all()
    assert ((kl["ci_low"] <= kl["ci_high"]) & (kl["ci_low"] >= 0)).all()
    paper_rows = ["Ours", "AE (z from prior)", "Flow"]
    assert kl.loc[kl["row"].isin(paper_rows), "paper"].notna().all() and kl.loc[~kl["row"].isin(paper_rows), "paper"].isna().all()
    sparsity = pd.read_csv(tmp_path / "results" / "tables" / "latent_sparsity.csv")
    shapes = sparsity[sparsity["row"] == "Shapes"].set_index("column")
    assert 0 <= shapes.loc["nonzero", "ours"] <= shapes.loc["nonzero", "z_dim"] and shapes.loc["pca95", "ours"] >= 1
    record = json.loads((tmp_path / "results" / "tables" / "shapes_kl.provenance.json").read_text())
    assert record["scale"] == "smoke" and record["models"]
    ours = json.loads((tmp_path / "results" / "eval" / "crossconv" / "shapes" / "kl_ours.json").read_text())
    assert ours["model_provenance"]["steps"] == SMOKE["train"]["steps"]["ours"]
    zdim = pd.read_csv(tmp_path / "results" / "tables" / "shapes_zdim_ablation.csv")
    measured = zdim[zdim["ours"].notna()]
    assert sorted(set(measured["row"].astype(int))) == [8, 32, 128, shapes.loc["nonzero", "z_dim"]]
    assert set(measured["column"]) == {"pca_components", "nonzero", "kl_nats"}
    pca = measured[measured["column"] == "pca_components"].set_index("row")["ours"]
    assert ((pca >= 1) & (pca <= pca.index.astype(int))).all()
    assert zdim.loc[zdim["row"].astype(str) == "8", "paper"].dropna().tolist() == [3]
    assert sparsity.loc[sparsity["row"] == "Sprites", "ours"].notna().all()  # the shipped real characters
    assert sparsity.loc[sparsity["row"] == "Exercise", "ours"].notna().all()  # the stand-in's crossconv clips
    exercise = read_split(tmp_path / "data" / "pairs" / "exercise" / "crossconv" / "train.zarr")
    clips = open_shard(tmp_path / "data" / "clips" / "exercise" / "crossconv" / "shard-00000.zarr")
    train = np.asarray(clips["split"][:]) == list(clips.attrs["splits"]).index("train")
    first = np.asarray(clips["frames"][int(np.argmax(train))])  # the first training clip is the first pair
    assert train.sum() == len(exercise) and np.array_equal(exercise.frame1[0], first[0])
    assert np.array_equal(exercise.frame2[0], first[1])
    analogy = pd.read_csv(tmp_path / "results" / "tables" / "sprites_analogy_mse.csv")
    ours = analogy[analogy["ours"].notna()]
    assert set(ours["row"]) == {"Ours", "No motion (copy the query frame)"} and len(ours) == 2 * 6
    assert (ours["ci_low"] <= ours["ours"]).all() and (ours["ours"] <= ours["ci_high"]).all()
    counts = ours[ours["row"] == "Ours"].set_index("column")["quadruples"]  # 2 test characters, 4 views
    assert counts["walk"] == 2 * 4 * 8 and counts["average"] == 2 * 4 * (6 + 7 + 8 + 5 + 12)
    assert analogy.loc[analogy["row"] == "Dis+Cls", "ours"].isna().all()  # Reed et al.: paper values only
    differences = pd.read_csv(tmp_path / "results" / "tables" / "shapes_kl_differences.csv")
    assert len(differences) == 5 * len(KL_KEYS) and differences["paper"].isna().all()
    assert set(differences["verdict"]) <= {"lower", "higher", "tie"} and "Ours - Flow" in set(differences["row"])
    examples = open_shard(tmp_path / "results" / "eval" / "crossconv" / "shapes" / "examples.zarr")
    video, image = np.asarray(examples["extrapolation"][:]), np.asarray(examples["image"][:])
    assert video.shape[:2] == (len(image), 1 + EXTRAPOLATION_STEPS) and np.array_equal(video[:, 0], image)
    maps = [np.asarray(examples[f"maps_{s}"][:]) for s in range(len(examples.attrs["scales"]))]
    size = image.shape[1]  # each scale's maps are a quarter of its pyramid level
    assert [m.shape[2] for m in maps] == [round(size * f) // 4 for f in examples.attrs["scales"]]
    with Image.open(tmp_path / "results" / "figures" / "shapes_extrapolation.gif") as gif:
        assert gif.n_frames == 1 + EXTRAPOLATION_STEPS
    sweep = pd.read_csv(tmp_path / "results" / "tables" / "shapes_kl_weight_sweep.csv")
    assert sorted(set(sweep["row"])) == [1, 10, 100] and (sweep.loc[sweep["column"] == "kl_nats", "ours"] >= 0).all()

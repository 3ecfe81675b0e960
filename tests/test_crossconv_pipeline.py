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
from smoke_graph import run_paper

from pipeline.data import write_shapes_split
from pipeline.papers import sizes as resolve
from pipeline.papers.crossconv import spec
from pipeline.papers.crossconv.data import ShapesSplit
from pipeline.papers.crossconv.evaluate import kl_with_intervals, predicted_motion
from pipeline.papers.crossconv.kl import KL_KEYS
from pipeline.papers.crossconv.latent import pca_components
from pipeline.papers.crossconv.train import load_crossconv
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
    assert set(spec.MODEL_OF) <= set(spec.PREDICTORS) and {"Ours", "AE", "Flow"} <= set(spec.PREDICTORS.values())
    paper = resolve("paper")
    assert paper["shapes"] == {"size": 128, "train_pairs": 20000, "test_pairs": 500}
    e = paper["crossconv"]["eval"]
    assert e["samples_per_pair"] * paper["shapes"]["test_pairs"] == 50_000 and e["neighbours"] == 10
    from pipeline.papers.crossconv.model import CrossConvConfig
    from pipeline.papers.crossconv.train import model_config

    assert model_config("ours", 128, paper["crossconv"]["model"]) == CrossConvConfig()  # z 3,200
    assert model_config("ae", 128, paper["crossconv"]["model"]).variational is False


# ----------------------------------------------------------------------------- the graph


def test_chain_writes_the_kl_and_sparsity_tables(tmp_path: Path) -> None:
    targets = ["results/tables/shapes_kl.csv", "results/tables/latent_sparsity.csv"]
    run = run_paper(tmp_path, "crossconv", *targets)
    assert run.returncode == 0, run.stderr[-4000:]
    kl = pd.read_csv(tmp_path / "results" / "tables" / "shapes_kl.csv")
    assert set(spec.PREDICTORS.values()) == set(kl["row"]) and set(kl["column"]) == set(KL_KEYS)
    assert len(kl) == len(spec.PREDICTORS) * len(KL_KEYS) and np.isfinite(kl["ours"]).all()
    assert ((kl["ci_low"] <= kl["ci_high"]) & (kl["ci_low"] >= 0)).all()
    paper_rows = kl[kl["row"].isin(["Ours", "AE", "Flow"])]
    assert paper_rows["paper"].notna().all() and kl.loc[~kl["row"].isin(["Ours", "AE", "Flow"]), "paper"].isna().all()
    sparsity = pd.read_csv(tmp_path / "results" / "tables" / "latent_sparsity.csv")
    shapes = sparsity[sparsity["row"] == "Shapes"].set_index("column")
    assert 0 <= shapes.loc["nonzero", "ours"] <= shapes.loc["nonzero", "z_dim"] and shapes.loc["pca95", "ours"] >= 1
    record = json.loads((tmp_path / "results" / "tables" / "shapes_kl.provenance.json").read_text())
    assert record["scale"] == "smoke" and record["models"]
    ours = json.loads((tmp_path / "results" / "eval" / "crossconv" / "shapes" / "kl_ours.json").read_text())
    assert ours["model_provenance"]["steps"] == SMOKE["train"]["steps"]["ours"]

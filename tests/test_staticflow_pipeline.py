"""staticflow in the graph: data helpers, epoch-wise training that resumes exactly, the paper-scale
nets from the preset, warping, and the Snakemake chain at smoke scale (tables, figures, reruns)."""

from __future__ import annotations

import copy
import json
import subprocess
from pathlib import Path

import jobs
import numpy as np
import pandas as pd
import pytest
import torch
from smoke_graph import planned_rules, run_paper

from pipeline import batches
from pipeline.papers import sizes as resolve
from pipeline.papers.staticflow import data as staticflow_data
from pipeline.papers.staticflow import spec
from pipeline.papers.staticflow import train as staticflow_train
from pipeline.papers.staticflow.evaluate import forward_warp
from pipeline.papers.staticflow.model import (
    StaticFlowConfig,
    StaticFlowNet,
    allconv_output_size,
    build_staticflow,
)
from pipeline.saved_models import load_model
from pipeline.shards import SPLITS, summarize_shards, write_shard

SMOKE = resolve("smoke")["staticflow"]


def write_flow_shards(root: Path, size: int = 64, per_class: int = 4, frames: int = 3) -> Path:
    """Flow shards as the flow stage writes them: 3 classes x per_class videos, train and test shards.

    Class c moves right by c px at every position, so the labels are learnable from nothing.
    """
    grid = allconv_output_size(size)
    rng = np.random.default_rng(0)
    folder = root / "flow" / "hmdb51" / "staticflow"
    paths = []
    for shard, split in enumerate(("train", "test")):
        videos = [f"{split}_c{c}_v{v}" for c in range(3) for v in range(per_class)]
        video_index = np.repeat(np.arange(len(videos)), frames)
        label = np.asarray([int(videos[v].split("_c")[1][0]) for v in video_index])
        n = len(video_index)
        flow_grid = np.zeros((n, grid, grid, 2), np.float32)
        flow_grid[..., 0] = (label * grid / size)[:, None, None]  # c px at full size, in grid px
        image = rng.integers(0, 255, (n, size, size, 3), dtype=np.uint8)
        image[..., 0] = (80 * label)[:, None, None]  # the class shows in the red channel
        arrays = {"image": image, "flow": np.zeros((n, size, size, 2), np.float16), "flow_grid": flow_grid,
                  "video_index": video_index.astype(np.int32), "start": np.tile(5 * np.arange(frames), len(videos)).astype(np.int32),
                  "label": label.astype(np.int32), "split": np.full(n, SPLITS.index(split), np.uint8)}
        paths.append(write_shard(folder / f"shard-{shard:05d}.zarr", arrays, {"videos": videos}))
    summarize_shards(paths, folder / "summary.csv")
    return folder / "summary.csv"


def prepared(tmp_path: Path, sizes: dict) -> dict[str, str]:
    write_flow_shards(tmp_path / "data")
    inputs = spec.inputs("hmdb51", "allconv", tmp_path / "data")
    staticflow_data.prepare(Path(inputs["summary"]), {k: Path(inputs[k]) for k in ("codebook", "mean_image", "split")},
                   sizes, seed=0)
    return inputs


# ----------------------------------------------------------------------------- data helpers


def test_step_batches_depend_on_the_step_only_and_cover_each_epoch() -> None:
    rows = np.arange(10, 20)
    whole = batches.step_batches(rows, 3, seed=1)
    first = [next(whole) for _ in range(9)]  # 3 steps per epoch (the partial batch is dropped)
    resumed = batches.step_batches(rows, 3, seed=1, start_step=4)
    assert [next(resumed) for _ in range(5)] == first[4:]
    for epoch in range(3):
        seen = sum(first[3 * epoch : 3 * epoch + 3], [])
        assert len(set(seen)) == 9 and set(seen) <= set(rows.tolist())
    assert first[:3] != first[3:6]  # a new permutation every epoch


def test_holdout_is_whole_videos_per_class_and_stable() -> None:
    table = pd.DataFrame({
        "video_id": [f"v{c}_{k}" for c in range(3) for k in range(5) for _ in range(2)],
        "label": [c for c in range(3) for _ in range(10)],
        "split": ["train"] * 30,
    })
    held = batches.holdout_videos(table, 0.2)
    assert held == batches.holdout_videos(table.sample(frac=1, random_state=0), 0.2)  # order-free
    assert sorted(int(v[1]) for v in held) == [0, 1, 2]  # 3 of 15 videos: one of every class
    rows = batches.split_rows(table, held)
    assert len(rows["val"]) == 6 and len(rows["train"]) == 24 and len(rows["test"]) == 0
    assert len(batches.holdout_videos(table, 0.1)) == 2  # fewer than the classes: still spread out
    assert sorted(int(v[1]) for v in batches.holdout_videos(table, 0.4)) == [0, 0, 1, 1, 2, 2]
    small = table[table["video_id"].isin(["v0_0", "v0_1"])]
    assert len(batches.holdout_videos(small, 0.9)) == 1  # never the whole class


def test_prepare_fits_the_codebook_on_training_flow_in_frame_pixels(tmp_path: Path) -> None:
    inputs = prepared(tmp_path, SMOKE)
    from pipeline.papers.staticflow.codebook import load_codebook

    centroids = load_codebook(inputs["codebook"])
    assert centroids.shape == (SMOKE["model"]["n_clusters"], 2)
    # the three true motions (0, 1, 2 px right) are all codebook words
    for dx in (0.0, 1.0, 2.0):
        assert np.min(np.hypot(centroids[:, 0] - dx, centroids[:, 1])) < 1e-3
    split = json.loads(Path(inputs["split"]).read_text())
    assert split["split"] == "frames" and (split["train_frames"], split["val_frames"], split["test_frames"]) == (36, 18, 18)
    assert np.load(inputs["mean_image"]).shape == (64, 64, 3)


def test_frame_split_as_the_paper_and_video_split_as_the_option(tmp_path: Path) -> None:
    """The paper shuffles every frame of every video into the three sets; the option keeps whole
    videos apart (official test videos, a per-class hold-out of training videos)."""
    from pipeline.batches import item_table, shards_of

    frames = staticflow_data.staticflow_data(prepared(tmp_path / "f", SMOKE))
    table = item_table(shards_of(tmp_path / "f" / "data" / "flow" / "hmdb51" / "staticflow" / "summary.csv"))
    sets = {name: set(rows.tolist()) for name, rows in frames.rows.items()}
    assert set.union(*sets.values()) == set(range(72)) and sum(map(len, sets.values())) == 72
    videos = {name: set(table["video_id"].iloc[sorted(rows)]) for name, rows in sets.items()}
    assert videos["train"] & videos["test"]  # frames of one video on both sides, official splits ignored
    assert {table["split"].iloc[r] for r in sets["train"]} == {"train", "test"}
    shuffled = batches.split_by_frame(table.sample(frac=1, random_state=3), 0.25, 0.25)
    assert {n: set(table.sample(frac=1, random_state=3).index[r]) for n, r in shuffled.items()} == sets  # order-free

    sizes = copy.deepcopy(SMOKE)
    sizes["data"]["split"] = "videos"
    by_video = staticflow_data.staticflow_data(prepared(tmp_path / "v", sizes))
    videos = {name: set(table["video_id"].iloc[rows]) for name, rows in by_video.rows.items()}
    assert not (videos["train"] & videos["val"]) and not (videos["train"] & videos["test"])
    assert videos["test"] == {v for v in table["video_id"] if v.startswith("test_")}
    sizes["data"]["split"] = "clips"
    with pytest.raises(ValueError, match="staticflow.data.split: 'clips'"):
        prepared(tmp_path / "x", sizes)


def test_codebook_keeps_one_no_motion_word_when_most_of_the_flow_is_still() -> None:
    """Static-camera flow: 85% of vectors ~0, the rest on a ring of 1-4 px in every direction."""
    from sklearn.cluster import KMeans

    from pipeline.papers.staticflow.codebook import assign_labels, fit_codebook

    rng = np.random.default_rng(0)
    still = rng.normal(0, 0.003, (85_000, 2))
    angle, radius = rng.uniform(0, 2 * np.pi, 15_000), rng.uniform(1, 4, 15_000)
    vectors = np.concatenate([still, np.stack([radius * np.cos(angle), radius * np.sin(angle)], 1)]).astype(np.float32)
    centroids = fit_codebook(vectors[:, None, :], 40, seed=0)
    labels = assign_labels(vectors[:, None, :], centroids)
    assert (np.hypot(*centroids.T) < 0.1).sum() == 1 and (labels == 0).mean() > 0.84
    inertia = ((vectors - centroids[labels[:, 0]]) ** 2).sum()
    reference = KMeans(40, n_init=1, random_state=0).fit(vectors).inertia_
    assert inertia < 1.3 * reference  # minibatch k-means close to full k-means


def test_epoch_training_resumes_to_the_same_weights_and_logs_every_epoch(tmp_path: Path) -> None:
    sizes = copy.deepcopy(SMOKE)
    sizes["train"].update(epochs={"alexnet": 3, "allconv": 3}, checkpoint_every=1)
    inputs = prepared(tmp_path, sizes)
    whole = jobs.train("staticflow", "hmdb51", "allconv", inputs, tmp_path / "whole", sizes, seed=2)
    steps_per_epoch = len(pd.read_csv(tmp_path / "whole" / "log.csv")) // 3
    with jobs.killed_after_checkpoint(2 * steps_per_epoch):  # a job killed after its second epoch ...
        jobs.train("staticflow", "hmdb51", "allconv", inputs, tmp_path / "resumed", sizes, seed=2)
    resumed = jobs.train("staticflow", "hmdb51", "allconv", inputs, tmp_path / "resumed", sizes, seed=2)
    a, b = load_model(whole, build_staticflow), load_model(resumed, build_staticflow)
    for key, value in a.state_dict().items():
        assert torch.equal(value, b.state_dict()[key]), key
    epochs = pd.read_csv(tmp_path / "resumed" / staticflow_train.EPOCH_LOG)
    assert sorted(set(epochs["epoch"])) == [1, 2, 3] and set(epochs["set"]) == {"train", "val"}
    assert np.isfinite(epochs[["loss", "top1", "recall"]].to_numpy()).all()
    assert a.cfg.image_size == 64 and a.cfg.out_size == allconv_output_size(64)


# ----------------------------------------------------------------------------- paper scale


def test_paper_scale_nets_from_the_preset_are_the_papers() -> None:
    """The preset builds Tables 1 and 2 exactly (the layer arithmetic is in test_staticflow.py)."""
    paper = resolve("paper")
    size = paper["clips"]["staticflow"]["size"]
    counts = {}
    for arch in spec.ARCHS:
        cfg = staticflow_train.model_config(arch, size, allconv_output_size(size), paper["staticflow"]["model"])
        assert cfg == StaticFlowConfig(arch=arch)
        with torch.device("meta"):
            counts[arch] = staticflow_train.param_count(StaticFlowNet(cfg))
    print(f"\nstaticflow parameters at paper scale: AlexNet {counts['alexnet']:,}, All-Conv {counts['allconv']:,}")
    assert counts["alexnet"] > 10 * counts["allconv"]  # "over an order-of-magnitude reduction"


# ----------------------------------------------------------------------------- video


def test_forward_warp_moves_content_by_the_flow() -> None:
    rng = np.random.default_rng(0)
    frame = rng.integers(0, 255, (24, 30, 3), dtype=np.uint8)
    assert np.array_equal(forward_warp(frame, np.zeros((24, 30, 2), np.float32)), frame)
    flow = np.zeros((24, 30, 2), np.float32)
    flow[..., 0], flow[..., 1] = 3.0, -2.0
    moved = forward_warp(frame, flow)
    assert np.array_equal(moved[:-2, 3:], frame[2:, :-3])  # content at x is now at x + (3, -2)


# ----------------------------------------------------------------------------- evaluation, figures


def test_every_predictor_is_scored_and_every_figure_drawn(tmp_path: Path) -> None:
    from pipeline.papers.staticflow import evaluate as run
    from pipeline.papers.staticflow import figures
    from pipeline.papers.staticflow import tables as staticflow_tables

    sizes = copy.deepcopy(SMOKE)
    sizes["data"]["split"] = "videos"  # the official test videos: every class equally, so the baselines are known
    inputs = prepared(tmp_path, sizes)
    models = {a: jobs.train("staticflow", "hmdb51", a, inputs, tmp_path / a, sizes, seed=0) for a in spec.ARCHS}
    scores = {p: tmp_path / f"{p}.json" for p in spec.PREDICTORS}
    for p, path in scores.items():
        record = run.evaluate_predictor(p, inputs, sizes, "cpu", path, models.get(p))
        assert record["val"]["frames"] > 0 and record["test"]["frames"] == 36
        assert record["split"].startswith("by video")
        assert np.asarray(record["test"]["confusion"]).sum() == 36 * 9  # every grid position counted
    nomotion = json.loads(scores["nomotion"].read_text())["test"]
    assert nomotion["top1"] == pytest.approx(1 / 3) and nomotion["l2"] == pytest.approx(1.0, abs=1e-3)
    assert np.mean(nomotion["per_frame"]["l2"]) == pytest.approx(nomotion["l2"]) and len(nomotion["per_frame"]["top5"]) == 36
    staticflow_tables.write_tables(scores, tmp_path / "val.csv", tmp_path / "test.csv", {"scale": "smoke"}, [])
    examples = {a: run.net_examples(m, inputs, SMOKE, "cpu", tmp_path / f"{a}.zarr") for a, m in models.items()}
    drawn = [
        figures.training_curves_figure({a: m.parent for a, m in models.items()}, tmp_path / "training.png"),
        figures.confusion_figure({a: scores[a] for a in spec.ARCHS}, tmp_path / "confusion.png"),
        figures.pixel_accuracy_figure(scores, tmp_path / "pixels.png"),
        figures.flow_examples_figure(examples, tmp_path / "examples.png"),
    ]
    run.flow_video(models["alexnet"], inputs, SMOKE, tmp_path / "video.mp4", tmp_path / "strip.png")
    drawn.append(tmp_path / "strip.png")
    assert all(p.stat().st_size > 1000 for p in drawn)
    assert (tmp_path / "video.mp4").stat().st_size > 0


# ----------------------------------------------------------------------------- the graph


def snakemake(workdir: Path, *args: str) -> subprocess.CompletedProcess:
    return run_paper(workdir, "staticflow", *args)


@pytest.fixture(scope="module")
def chain(staticflow_chain: Path) -> Path:
    """Both tables and the confusion figure (conftest: one run shared with the report test)."""
    return staticflow_chain


def test_chain_writes_both_tables_beside_the_papers(chain: Path) -> None:
    val = pd.read_csv(chain / "results" / "tables" / "hmdb51_flow_validation.csv")
    test = pd.read_csv(chain / "results" / "tables" / "hmdb51_flow_test.csv")
    rows = {"AlexNet", "All-Conv", "No motion", "Class prior (most frequent cluster)", "Mean training flow"}
    assert set(val["row"]) == rows and len(val) == 5 * len(rows)
    assert rows <= set(test["row"]) and "[18]" in set(test["row"])  # the paper's rows we do not measure
    ours = test[test["row"].isin(rows)]
    # 5 metrics and 4 paired differences (L2, top-5 from no motion and from the mean flow) per row, params of 2 nets
    assert len(ours) == 9 * len(rows) + 2 and np.isfinite(ours["ours"]).all() and np.isfinite(val["ours"]).all()
    diffs = ours[ours["column"].str.contains(" - ")].set_index(["row", "column"])["ours"]
    assert diffs["No motion", "L2 - no motion"] == 0.0 and diffs["Mean training flow", "top5 - mean flow"] == 0.0
    measured = ours[~ours["column"].isin(["params"])]
    assert (measured["ci_low"] <= measured["ours"] + 1e-9).all() and (measured["ours"] <= measured["ci_high"] + 1e-9).all()
    assert val.loc[val["row"] == "AlexNet", "paper"].notna().all()
    assert test.loc[(test["row"] == "All-Conv") & (test["column"] == "params"), "paper"].notna().all()
    assert ((val["ours"] >= 0) & (val["ours"] <= 100)).all()
    record = json.loads((chain / "results" / "tables" / "hmdb51_flow_test.provenance.json").read_text())
    assert record["scale"] == "smoke" and "hmdb51" in record["data_sources"]
    models = record["models"]
    assert len(models["models"]) == 2 and not models["mixed_code"] and not models["mixed_machines"]
    assert {m["variant"] for m in models["models"]} == {"alexnet", "allconv"} and models["code_versions"] == [record["code_version"]]


def test_a_deleted_figure_reruns_only_its_rule(chain: Path) -> None:
    figure = chain / "results" / "figures" / "hmdb51_flow_confusion.png"
    figure.unlink()
    dry = snakemake(chain, "-n", str(figure.relative_to(chain)))
    assert dry.returncode == 0, dry.stderr[-2000:]
    assert planned_rules(dry.stdout + dry.stderr) == {"staticflow_confusion_figure": 1}

"""vgan in the graph: the spec's sizes and jobs, the real hold-outs, GAN training that resumes
exactly, the AE's GMM beside its model, and the Snakemake chain at smoke scale (Table 1 by the
automatic judge, the statistics table, the figures)."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import jobs
import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from smoke_graph import REPO, planned_rules, run_paper

from pipeline.papers import sizes as resolve
from pipeline.papers.vgan import spec
from pipeline.papers.vgan import train as vgan_train
from pipeline.papers.vgan.data import held_out_videos, split_sets, vgan_clips
from pipeline.papers.vgan.evaluate import judge_samples, write_samples
from pipeline.papers.vgan.futures import write_futures
from pipeline.papers.vgan.gan import AVERAGE_MODULE
from pipeline.papers.vgan.judge import panel_seeds
from pipeline.papers.vgan.judge_sets import (
    judge_by_training_set,
    read_config,
    training_sets,
)
from pipeline.papers.vgan.model import Generator, VGANConfig
from pipeline.papers.vgan.samples import COMPARE, JUDGE, read_samples
from pipeline.papers.vgan.tables import (
    MEAN_OVER_SCENES,
    PREFERENCE,
    mean_over_scenes,
    scene_column,
)
from pipeline.saved_models import load_model
from pipeline.shards import SPLITS, open_shard, summarize_shards, write_shard
from pipeline.torch_setup import configure_torch

SMOKE = resolve("smoke")["vgan"]


def _training_clips(log: str) -> int:
    """The training-set size a vgan training log states ("vgan <variant>: N training clips ...")."""
    return int(re.search(r"vgan \S+: (\d+) training clips", log).group(1))


def write_stabilized(root: Path, videos: int = 6, frames: int = 32, size: int = 64,
                     labels: tuple[str, str] = ("updown", "wave")) -> Path:
    """A stabilized vgan shard as the stabilize stage writes it: one clip per video, two classes (``labels``)."""
    rng = np.random.default_rng(0)
    names = [f"v{k}" for k in range(videos)]
    clips = rng.integers(0, 255, (videos, frames, size, size, 3), dtype=np.uint8)
    folder = root / "stabilized" / "flickr" / "vgan"
    arrays = {"frames": clips, "video_index": np.arange(videos, dtype=np.int32),
              "start": np.zeros(videos, np.int32), "label": (np.arange(videos) % 2).astype(np.int32),
              "split": np.full(videos, SPLITS.index("train"), np.uint8)}
    path = write_shard(folder / "shard-00000.zarr", arrays, {"videos": names, "labels": list(labels)})
    summarize_shards([path], folder / "summary.csv")
    return folder / "summary.csv"


# ----------------------------------------------------------------------------- spec, data


def test_paper_preset_is_the_papers_and_jobs_read_only_their_sizes() -> None:
    paper = resolve("paper")["vgan"]
    assert paper["model"]["z_dim"] == 100 and paper["train"]["batch_size"] == 64
    assert (paper["train"]["lr"], paper["train"]["beta1"], paper["gmm"]["components"]) == (2e-4, 0.5, 256)
    assert (paper["data"]["frames"], paper["data"]["size"]) == (32, 64)
    cfg = VGANConfig(z_dim=paper["model"]["z_dim"], frames=paper["data"]["frames"], size=paper["data"]["size"],
                     width=paper["model"]["width"])
    assert cfg == VGANConfig()  # the authors' networks (shapes are tested in test_vgan_model.py)
    more = copy.deepcopy(SMOKE)
    more["train"]["steps"]["onestream"] += 5
    more["eval"]["samples"] += 5
    assert spec.training_sizes(more, "flickr", "twostream") == spec.training_sizes(SMOKE, "flickr", "twostream")
    assert spec.training_sizes(more, "flickr", "onestream") != spec.training_sizes(SMOKE, "flickr", "onestream")
    assert "gmm" in spec.training_sizes(SMOKE, "flickr", "ae")
    assert spec.models({"flickr": "off"}) == [] and spec.targets({"flickr": "off"}, Path("r"), SMOKE) == []
    assert [v for _, v in spec.models({"flickr": "synthetic"})] == [*spec.VARIANTS, spec.FUTURE]
    future = spec.training_sizes(paper, "flickr", spec.FUTURE)  # main_conditional.lua: batch 32, L1 x 10, no mask prior
    assert future["train"]["batch_size"] == 32 and "mask_penalty" not in future["train"]
    assert paper["train"]["average"] == 0  # the authors sample the last generator
    assert SMOKE["train"]["average"] > 0  # the demo's averaged generator, tested in the smoke graph
    more["train"]["average"] = 0.2
    assert spec.training_sizes(more, "flickr", "ae") == spec.training_sizes(SMOKE, "flickr", "ae")
    assert spec.training_sizes(more, "flickr", "twostream") != spec.training_sizes(SMOKE, "flickr", "twostream")
    assert future["future"] == {"base": 128, "first_frame_weight": 10.0, "first_frame_norm": "l1"}
    assert spec.training_sizes(more, "flickr", spec.FUTURE) == spec.training_sizes(SMOKE, "flickr", spec.FUTURE)
    assert {spec.pairing_row(a, b) for a, b in spec.PAIRINGS} == set(spec.REFERENCE["vgan_preference"])


def test_per_scene_models_are_named_sized_and_checked() -> None:
    assert spec.scenes({"source": "synthetic"}) == [] and spec.scenes({"scenes": ["beach", "golf"]}) == ["beach", "golf"]
    for bad in (["a-b"], ["x", "x"], [""], ["a/b"]):
        with pytest.raises(ValueError, match="datasets.flickr.scenes"):
            spec.scenes({"scenes": bad})
    assert spec.scene_models(["beach"]) == [("flickr", "twostream-beach"), ("flickr", "onestream-beach"),
                                            ("flickr", "ae-beach")]
    for variant in spec.VARIANTS:
        assert spec.parse_variant(spec.scene_variant(variant, "beach")) == (variant, "beach")
        assert spec.parse_variant(variant) == (variant, None) and spec.scene_variant(variant, None) == variant
    for bad in ("future-beach", "twostream-", "gan-beach"):
        with pytest.raises(KeyError):
            spec.parse_variant(bad)
    pooled, beach = (spec.training_sizes(SMOKE, "flickr", v) for v in ("onestream", "onestream-beach"))
    assert beach["data"] == {**pooled["data"], "scene": "beach"} and beach["train"] == pooled["train"]
    assert "gmm" in spec.training_sizes(SMOKE, "flickr", "ae-beach")


def test_a_scenes_clips_are_its_labels_and_its_hold_outs_the_pooled_ones(tmp_path: Path) -> None:
    summary = write_stabilized(tmp_path, videos=12, labels=("beach", "golf"))  # label 0 (beach), 1 alternate
    pooled = vgan_clips(summary, SMOKE["data"])
    beach = vgan_clips(summary, {**SMOKE["data"], "scene": "beach"})
    table = pd.DataFrame({"video": pooled.video_ids})
    for name, rows in beach.rows.items():
        assert len(rows) > 0 and set(rows) <= set(pooled.rows[name])  # the same hold-outs, one scene's part
        assert all(int(v[1:]) % 2 == 0 for v in table["video"].iloc[rows])  # beach: label 0, even videos
    assert sum(map(len, beach.rows.values())) == 6
    with pytest.raises(ValueError, match="no scene 'train_station'.*beach, golf"):
        vgan_clips(summary, {**SMOKE["data"], "scene": "train_station"})


def test_real_hold_outs_are_whole_videos_disjoint_and_stable() -> None:
    table = pd.DataFrame({"video_id": [f"v{c}_{k}" for c in range(3) for k in range(4) for _ in range(2)],
                          "label": [c for c in range(3) for _ in range(8)], "split": ["train"] * 24})
    held = held_out_videos(table, 0.25, 0.25)
    assert held == held_out_videos(table.sample(frac=1, random_state=0), 0.25, 0.25)
    assert len(held["judge"]) == 3 and len(held["compare"]) == 3 and not set(held["judge"]) & set(held["compare"])
    assert sorted(v[1] for v in held["judge"]) == ["0", "1", "2"]  # one video of every class
    rows = split_sets(table, 0.25, 0.25)
    assert sum(len(r) for r in rows.values()) == 24
    for name, r in rows.items():  # a video's clips never straddle two sets
        others = set().union(*(set(table["video_id"].iloc[rows[o]]) for o in rows if o != name))
        assert not set(table["video_id"].iloc[r]) & others
    with pytest.raises(ValueError, match="at least 3"):
        held_out_videos(table[table["video_id"].isin(["v0_0", "v1_0"])], 0.25, 0.25)


# ----------------------------------------------------------------------------- training


def test_gan_training_resumes_to_the_same_weights(tmp_path: Path) -> None:
    inputs = {"summary": str(write_stabilized(tmp_path / "data"))}
    sizes = copy.deepcopy(SMOKE)
    sizes["train"].update(steps={"twostream": 3, "onestream": 3, "ae": 3}, checkpoint_every=1, average=0.1,
                          lr=0.05)  # big steps, so the average and the last weights give other uint8 samples
    whole = jobs.train("vgan", "flickr", "twostream", inputs, tmp_path / "whole", sizes, seed=1)
    with jobs.killed_after_checkpoint(2):
        jobs.train("vgan", "flickr", "twostream", inputs, tmp_path / "resumed", sizes, seed=1)
    resumed = jobs.train("vgan", "flickr", "twostream", inputs, tmp_path / "resumed", sizes, seed=1)
    for module in ("generator", "discriminator", AVERAGE_MODULE):
        a = torch.load(whole, weights_only=True)["state_dicts"][module]
        b = torch.load(resumed, weights_only=True)["state_dicts"][module]
        for key, value in a.items():
            assert torch.equal(value, b[key]), f"{module}.{key}"
    log = pd.read_csv(tmp_path / "resumed" / "log.csv")
    assert list(log["step"]) == [1, 2, 3] and {"loss_d", "loss_g", "mask_l1"} <= set(log.columns)
    generator = load_model(resumed, vgan_train.build_generator, module="generator")
    assert isinstance(generator, Generator) and generator.cfg.frames == SMOKE["data"]["frames"]
    # the samples come from the averaged generator: with the last generator's weights in its place
    # they are the last generator's, as they are without it
    saved = torch.load(resumed, weights_only=True)
    last_only = {**saved, "state_dicts": {k: v for k, v in saved["state_dicts"].items() if k != AVERAGE_MODULE}}
    swapped = {**saved, "state_dicts": {**saved["state_dicts"], AVERAGE_MODULE: saved["state_dicts"]["generator"]}}
    frames = {}
    for name, state in (("averaged", saved), ("last", last_only), ("swapped", swapped)):
        torch.save(state, tmp_path / f"{name}.pt")
        frames[name] = read_samples(write_samples("twostream", tmp_path / f"{name}.pt", sizes, 0, tmp_path / f"{name}.zarr"))
    assert np.array_equal(frames["swapped"], frames["last"]) and not np.array_equal(frames["averaged"], frames["last"])


def test_future_generator_trains_and_predicts_from_first_frames(tmp_path: Path) -> None:
    inputs = {"summary": str(write_stabilized(tmp_path / "data"))}
    model = jobs.train("vgan", "flickr", spec.FUTURE, inputs, tmp_path / "future", SMOKE)
    generator = load_model(model, vgan_train.build_future_generator, module="generator")
    assert generator.cfg.base == 128 and generator.cfg.two_stream
    out = write_futures(model, Path(inputs["summary"]), SMOKE["data"], 4, tmp_path / "futures.zarr")
    group = open_shard(out)
    t, s = SMOKE["data"]["frames"], SMOKE["data"]["size"]
    assert group["frames"].shape == group["real"].shape == (group["real"].shape[0], t, s, s, 3)
    assert 0 <= group.attrs["first_frame_l1"] <= 2


def test_autoencoder_writes_its_gmm_and_every_model_samples(tmp_path: Path) -> None:
    inputs = {"summary": str(write_stabilized(tmp_path / "data"))}
    model = jobs.train("vgan", "flickr", "ae", inputs, tmp_path / "ae", SMOKE)
    gmm = vgan_train.load_gmm(model.parent / vgan_train.GMM_NAME)
    assert gmm.means.shape == (SMOKE["gmm"]["components"], SMOKE["model"]["z_dim"])
    out = write_samples("ae", model, SMOKE, seed=0, out=tmp_path / "ae.zarr")
    frames = read_samples(out, COMPARE)
    t, s = SMOKE["data"]["frames"], SMOKE["data"]["size"]
    assert frames.shape == (SMOKE["eval"]["samples"], t, s, s, 3) and frames.dtype == np.uint8
    assert len(read_samples(out, JUDGE)) == SMOKE["eval"]["judge_samples"]
    clips = vgan_clips(inputs["summary"], SMOKE["data"])
    assert clips.read("judge").shape[1:] == (t, 3, s, s)


# ----------------------------------------------------------------------------- the graph


def test_judge_sets_read_the_runs_config_files_in_order_and_cover_every_pairing(tmp_path: Path) -> None:
    base, run = tmp_path / "config.yaml", tmp_path / "run.yaml"
    base.write_text("scale: demo\nseed: 0\ndata_root: data\nresults_root: results\noverrides: {vgan: {eval: {samples: 8}}}\n")
    run.write_text("scale: smoke\nresults_root: /elsewhere\noverrides: {vgan: {data: {size: 16}}}\n")
    config = read_config([base, run])
    assert config["scale"] == "smoke" and config["results_root"] == "/elsewhere" and config["data_root"] == "data"
    assert config["overrides"] == {"vgan": {"eval": {"samples": 8}, "data": {"size": 16}}}  # merged, as Snakemake does
    run.write_text("- a list\n")
    with pytest.raises(ValueError, match="run.yaml"):
        read_config([base, run])
    run.write_text("scale: smoke\ndata_root: d\n")
    with pytest.raises(KeyError, match="results_root"):
        read_config([run])
    sets = training_sets()
    assert sets["pooled"] == spec.VARIANTS and len(sets) == 1 + 3 + 3
    for a, b in spec.PAIRINGS:  # every pairing of two models has a judge trained on exactly those two
        if "real" not in (a, b):
            assert any(set(models) == {a, b} for models in sets.values())
    for wrong in ((), ("ae", "real")):  # real clips are the other side of the judge's training, never a model
        with pytest.raises(ValueError, match="the judge trains on samples"):
            judge_samples({v: tmp_path for v in spec.VARIANTS}, tmp_path, {}, 0, tmp_path / "j.json", trained_on=wrong)
    with pytest.raises(FileNotFoundError, match="twostream_samples.zarr"):
        judge_by_training_set({"scale": "smoke", "data_root": str(tmp_path), "results_root": str(tmp_path)}, tmp_path)


def test_mean_over_scenes_averages_the_scenes_with_a_narrower_interval() -> None:
    rows = [{"row": "two-stream over AE", "column": scene_column(s), "ours": v, "low": v - 10, "high": v + 10,
             "pairs": 4} for s, v in (("beach", 80.0), ("golf", 60.0))]
    rows.append({"row": "two-stream over AE", "column": PREFERENCE, "ours": 0.0, "low": 0.0, "high": 0.0, "pairs": 4})
    (mean,) = mean_over_scenes(rows, ["beach", "golf"])
    assert mean["column"] == MEAN_OVER_SCENES and mean["ours"] == 70.0 and mean["pairs"] == 8
    # two independent scenes of half-width 10: the mean's half-width is 10 / sqrt(2)
    assert mean["high"] - 70.0 == pytest.approx(10 / np.sqrt(2)) and 70.0 - mean["low"] == pytest.approx(10 / np.sqrt(2))
    (low,) = mean_over_scenes([{**rows[0], "ours": 1.0, "low": 0.0, "high": 4.0}], ["beach"])
    assert low["low"] == 0.0 and low["high"] == pytest.approx(1.0 + 2.0)  # a percentage never below 0


def test_the_default_graph_plans_one_judge_and_no_scene_models(tmp_path: Path) -> None:
    run = run_paper(tmp_path, "vgan", "-n")
    assert run.returncode == 0, run.stderr[-3000:]
    jobs = planned_rules(run.stdout + run.stderr)
    assert jobs["vgan_judge"] == 1 and jobs["vgan_tables"] == 1 and jobs["vgan_samples"] == len(spec.VARIANTS)
    assert jobs["train_model"] == len(spec.VARIANTS) + 1  # Table 1's three models and the future generator


def test_smoke_graph_writes_table_1_by_the_automatic_judge(tmp_path: Path) -> None:
    targets = [f"results/tables/vgan_{t}.csv" for t in ("preference", "statistics", "flow_magnitudes")]
    targets += [f"results/tables/ucf101_action_{t}.csv" for t in ("accuracy", "data")]
    figures = ["results/figures/vgan_streams.png", "results/figures/vgan_streams.gif",
               "results/figures/vgan_futures.png", "results/figures/vgan_generations.png"]
    # one scene with models of its own: six training videos per class, 40% of the videos compared,
    # give the scene two videos for the judge, two for the comparison (the control splits them) and
    # two to train on (the fewest the AE's mixture fits)
    scenes = tmp_path / "scenes.yaml"
    scenes.write_text("datasets: {flickr: {source: synthetic, scenes: [diagonal]}}\n"
                      "overrides: {standin: {flickr: {train_videos_per_class: 6}}, vgan: {data: {compare_fraction: 0.4}}}\n")
    run = run_paper(tmp_path, "vgan", *targets, *figures, "--configfile", str(REPO / "config.yaml"), str(scenes))
    assert run.returncode == 0, run.stderr[-4000:]
    table = pd.read_csv(tmp_path / targets[0])
    pairings = [spec.pairing_row(a, b) for a, b in spec.PAIRINGS]
    columns = [PREFERENCE, scene_column("diagonal")]
    for column in columns:
        assert list(table.loc[table["column"] == column, "row"]) == [*pairings, spec.CONTROL_ROW]
    assert list(table.loc[table["column"] == MEAN_OVER_SCENES, "row"]) == [*pairings, spec.CONTROL_ROW]
    assert (table["judged_by"] == "automatic judge").all()
    assert (table["gan_weights"] == f"average over training (width {SMOKE['train']['average']:g})").all()
    pooled = table[table["column"] == PREFERENCE]
    assert pooled.loc[pooled["row"].isin(pairings), "paper"].notna().all()
    assert table.loc[table["column"] != PREFERENCE, "paper"].isna().all()  # the paper's numbers: its mean, once
    assert np.isnan(table.loc[table["row"] == spec.CONTROL_ROW, "paper"]).all()
    measured = table[table["column"].isin(columns)]
    values = measured[["low", "ours", "high"]].to_numpy()
    assert ((values >= 0) & (values <= 100)).all() and (values[:, 0] <= values[:, 1]).all()
    assert (values[:, 1] <= values[:, 2]).all() and (measured["pairs"] >= 1).all()
    judges = {name: json.loads((tmp_path / "results" / "eval" / "vgan" / "flickr" / f"{name}.json").read_text())
              for name in ("judge", "judge-diagonal")}
    assert judges["judge-diagonal"]["scene"] == "diagonal" and judges["judge"]["scene"] is None
    assert judges["judge-diagonal"]["sets"]["real_compare"] < judges["judge"]["sets"]["real_compare"]  # its clips only
    assert judges["judge"]["judge"]["trained_on"] == list(spec.VARIANTS)
    assert judges["judge"]["judge"]["generated_clips"] == len(spec.VARIANTS) * SMOKE["eval"]["judge_samples"]
    assert judges["judge"]["judge"]["panel_seeds"] == panel_seeds(0, SMOKE["eval"]["judge"]["panel"])
    # Table 1 again by judges that learn from other generated clips: the pooled one is the graph's judge
    config = {"scale": "smoke", "seed": 0, "overrides": yaml.safe_load(scenes.read_text())["overrides"],
              "data_root": str(tmp_path / "data"), "results_root": str(tmp_path / "results")}
    threads = torch.get_num_threads()
    configure_torch(1)  # as the graph's judge job
    try:
        again = judge_by_training_set(config, tmp_path / "judge_sets", {"pooled": spec.VARIANTS, "only ae": ("ae",)})
    finally:
        torch.set_flush_denormal(False)
        torch.set_num_threads(threads)
    assert again["pooled"] == dict(zip(pooled["row"], pooled["ours"]))
    only_ae = json.loads((tmp_path / "judge_sets" / "judge-only-ae.json").read_text())["judge"]
    assert only_ae["trained_on"] == ["ae"] and only_ae["generated_clips"] == SMOKE["eval"]["judge_samples"]
    scene_log = (tmp_path / "results" / "logs" / "train" / "vgan" / "flickr" / "twostream-diagonal.log").read_text()
    pooled_log = (tmp_path / "results" / "logs" / "train" / "vgan" / "flickr" / "twostream.log").read_text()
    assert _training_clips(scene_log) < _training_clips(pooled_log)
    assert (tmp_path / "results" / "figures" / "vgan_generations_diagonal.png").stat().st_size > 1000
    stats = pd.read_csv(tmp_path / targets[1])
    assert {"two-stream", "one-stream", "AE", "real"} | {f"{n} (diagonal)" for n in ("two-stream", "one-stream", "AE", "real")} \
        == set(stats["row"])
    background = stats[(stats["row"] == "two-stream") & (stats["column"] == "background_variance")]["ours"]
    assert float(background.iloc[0]) == 0.0  # one static image for every frame
    assert {"diversity", "flicker", "frechet_distance", "kid"} <= set(stats["column"])
    record = json.loads((tmp_path / "results" / "tables" / "vgan_preference.provenance.json").read_text())
    assert "automatic judge" in record["judged_by"] and record["scale"] == "smoke"
    assert len(record["models"]["models"]) == 6  # three over every video, three of the scene
    assert all((tmp_path / f).stat().st_size > 1000 for f in figures)
    stats_record = json.loads((tmp_path / "results" / "tables" / "vgan_statistics.provenance.json").read_text())
    assert "action classifier" in stats_record["units"]["statistics"]  # FD / KID in the action 3D CNN's features

    motion = pd.read_csv(tmp_path / targets[2])
    assert set(motion["row"]) == {"two-stream", "one-stream", "AE", "real", "future (from real first frames)"}
    assert np.allclose(motion.groupby("row")["ours"].sum(), 1.0)  # shares of pixels over the bins

    accuracy = pd.read_csv(tmp_path / targets[3]).set_index("row")
    measured = ["VGAN + random init", "VGAN + fine-tune", "VGAN + logistic regression", "most frequent class", "chance"]
    assert accuracy.loc[measured, "ours"].between(0, 100).all()
    assert accuracy.loc["chance", "ours"] == pytest.approx(20.0)  # 1/5: four action classes and real footage
    assert np.isnan(accuracy.loc["STIP", "ours"]) and accuracy.loc["STIP", "paper"] == 43.9  # paper-only row
    # the smoke preset trains every classifier twice (action.runs): a test video counts by the share of runs right on it
    assert (accuracy.loc[["VGAN + random init", "VGAN + fine-tune"], "training_runs"] == 2).all()
    evaluation = json.loads((tmp_path / "results" / "eval" / "vgan" / "flickr" / "ucf101_actions.json").read_text())
    for key in ("random-1of1", "finetune-1of2"):
        result = evaluation["results"][key]
        assert len(result["run_accuracies"]) == 2 and result["accuracy"] == pytest.approx(np.mean(result["run_accuracies"]))
    curve = pd.read_csv(tmp_path / targets[4])
    assert sorted(curve["share"].unique()) == [0.5, 1.0]  # the smoke preset's shares
    tuned = curve[curve["row"] == "VGAN + fine-tune"]
    assert len(tuned) == 2 and tuned["finetune_minus_random"].notna().all()  # paired difference per share

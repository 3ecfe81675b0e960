"""The svg paper in the graph: recipe (train, resume, data), the Snakemake chain at smoke scale,
Fig. 5/6 stages, KTH/BAIR shards, and the paper-scale models of every (dataset, variant)."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path

import jobs
import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from PIL import Image

from pipeline import bair
from pipeline.data import write_smmnist_test_set
from pipeline.papers import sizes as resolve
from pipeline.papers.svg import data as svg_data
from pipeline.papers.svg import evaluate as svg_evaluate
from pipeline.papers.svg import figures as figs
from pipeline.papers.svg import spec
from pipeline.papers.svg import train as svg_train
from pipeline.papers.svg.model import SVG, build_svg, svg_model_config
from pipeline.saved_models import load_model
from pipeline.shards import SPLITS, open_shard, write_shard

REPO = Path(__file__).resolve().parents[1]
SNAKEMAKE = Path(sys.executable).with_name("snakemake")
SMOKE = resolve("smoke")["svg"]


def write_test_set(data_root: Path, n: int = 4, seq_len: int = 20) -> Path:
    """What the data_smmnist rule writes: 2-digit SM-MNIST test sequences from held-out digits."""
    out = data_root / "clips" / "smmnist" / "svg" / "test.zarr"
    return write_smmnist_test_set(out, {"source": "synthetic"}, {"num_digits": 2, "sequence_length": seq_len,
                                  "test_sequences": n}, data_root, seed=0)


# ----------------------------------------------------------------------------- graph functions


def test_models_follow_the_enabled_datasets() -> None:
    assert spec.models({"smmnist": "synthetic", "kth": "off"}) == [
        ("smmnist", "deterministic"), ("smmnist", "fp"), ("smmnist", "lp"), ("smmnist", "lp1")]
    pairs = spec.models({"smmnist": "off", "kth": "synthetic", "bair": "path"})
    assert pairs == [(d, v) for d in ("kth", "bair") for v in ("deterministic", "fp", "lp")]
    assert spec.inputs("kth", "lp", Path("d")) == {"index": "d/clips/kth/svg/index.csv"}
    with pytest.raises(KeyError, match="lp1"):
        spec.inputs("bair", "lp1", Path("d"))  # the single-digit model is SM-MNIST only
    # the single-digit SVG-LP trains only where Fig. 5 reads it: the paper's (and smoke's) choice, not the demo's
    sources = {"smmnist": "synthetic"}
    assert ("smmnist", "lp1") in spec.models(sources, resolve("paper")["svg"])
    assert ("smmnist", "lp1") in spec.models(sources, SMOKE)
    demo = resolve("demo")["svg"]
    assert spec.fig5_model(demo) == "lp" and spec.models(sources, demo) == spec.models(sources)[:3]
    with pytest.raises(ValueError, match=r"svg\.fig5\.model: 'lp2'"):
        spec.targets(sources, Path("r"), {**SMOKE, "fig5": {**SMOKE["fig5"], "model": "lp2"}})


def test_the_backbone_is_the_papers_unless_a_key_says_otherwise() -> None:
    """The paper's family at smoke and paper; the demo's KTH takes the DCGAN (its key), and one
    override gives the VGG back; only the family changes, never the paper's KTH protocol."""
    from pipeline import papers
    from pipeline.papers.svg.train import model_config

    for scale in ("smoke", "demo", "paper"):
        sizes = papers.sizes(scale)["svg"]
        assert {d: model_config(d, "lp", sizes).backbone for d in spec.DATASETS} == {
            "smmnist": "dcgan", "kth": "dcgan" if scale == "demo" else "vgg", "bair": "vgg"}
    cfg = model_config("kth", "lp", papers.sizes("demo")["svg"])
    assert (cfg.backbone, cfg.channels, cfg.z_dim, cfg.n_past) == ("dcgan", 1, 32, 10)  # only the family changes
    vgg = papers.sizes("demo", {"svg": {"kth": {"model": {"backbone": "vgg"}}}})["svg"]
    assert model_config("kth", "lp", vgg).backbone == "vgg"
    paper = papers.sizes("paper", {"svg": {"kth": {"model": {"backbone": "dcgan"}}}})["svg"]
    with pytest.raises(ValueError, match="dcgan backbone takes 64x64"):
        SVG(model_config("kth", "lp", paper))  # the paper's KTH is 128x128, which only the VGG takes
    with pytest.raises(ValueError, match="backbone must be one of"):
        model_config("kth", "lp", papers.sizes("demo", {"svg": {"kth": {"model": {"backbone": "resnet"}}}})["svg"])


# ----------------------------------------------------------------------------- training


def test_recipe_trains_and_resumes_on_smmnist(tmp_path: Path) -> None:
    data = {"test_set": str(write_test_set(tmp_path / "data"))}
    sizes = copy.deepcopy(SMOKE)
    sizes["smmnist"]["train"].update(steps=4, checkpoint_every=2, log_every=1)
    whole = jobs.train("svg", "smmnist", "lp", data, tmp_path / "whole", sizes, seed=3)
    with jobs.killed_after_checkpoint(2):  # a job stopped after its step-2 checkpoint ...
        jobs.train("svg", "smmnist", "lp", data, tmp_path / "resumed", sizes, seed=3)
    resumed = jobs.train("svg", "smmnist", "lp", data, tmp_path / "resumed", sizes, seed=3)
    a, b = load_model(whole, build_svg), load_model(resumed, build_svg)  # ... resumes to the same weights
    for key, value in a.state_dict().items():
        assert torch.equal(value, b.state_dict()[key]), key
    log = pd.read_csv(tmp_path / "resumed" / "log.csv")
    assert list(log["step"]) == [1, 2, 3, 4] and np.isfinite(log["loss"]).all()
    assert a.cfg == svg_train.model_config("smmnist", "lp", sizes)


def test_smmnist_batches_are_the_test_sets_kind_and_depend_on_the_step(tmp_path: Path) -> None:
    data = {"test_set": str(write_test_set(tmp_path / "data"))}
    cfg = svg_train.model_config("smmnist", "lp1", SMOKE)
    batches = svg_data.training_batches("smmnist", "lp1", data, cfg, batch_size=3, seed=0)
    first, second = next(batches(0)), next(batches(1))
    assert first.shape == (3, cfg.n_past + cfg.n_future, 1, 64, 64)
    torch.testing.assert_close(next(batches(1)), second)
    assert not torch.equal(first, second)
    two = next(svg_data.training_batches("smmnist", "lp", data, cfg, batch_size=3, seed=0)(0))

    def box(frame: torch.Tensor) -> int:  # side of the box holding every lit pixel
        rows, cols = np.nonzero(frame.numpy())
        return max(rows.max() - rows.min(), cols.max() - cols.min()) + 1

    assert max(box(f) for f in first[:, 0, 0]) <= 32 < max(box(f) for f in two[:, 0, 0])  # lp1: one digit


def write_clip_shards(folder: Path, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """KTH-like clip shards (grey video stored as RGB) and the clip index naming them."""
    rng = np.random.default_rng(seed)
    frames = rng.integers(0, 256, size=(6, 24, 64, 64), dtype=np.uint8)
    split = np.array([0, 0, 1, 2, 0, 2], np.uint8)
    rgb = np.repeat(frames[..., None], 3, axis=-1)
    video = np.array([0, 0, 1, 0, 0, 1], np.int32)  # within each shard
    start = np.array([0, 10, 0, 0, 10, 0], np.int32)
    for k, part in enumerate((slice(0, 3), slice(3, 6))):
        write_shard(folder / f"shard-{k:05d}.zarr", {"frames": rgb[part], "split": split[part],
                                                      "video_index": video[part], "start": start[part]}, {})
    pd.DataFrame({"video_id": ["a", "b", "c"], "shard": ["shard-00000.zarr", "shard-00001.zarr", ""],
                  "clips": [3, 3, 0], "status": ["ok", "ok", "excluded"], "reason": ["", "", "x"]}
                 ).to_csv(folder / "index.csv", index=False)
    return frames, split


def test_kth_clips_train_and_test_splits_in_grey(tmp_path: Path) -> None:
    frames, split = write_clip_shards(tmp_path)
    data = {"index": str(tmp_path / "index.csv")}
    test, picks, groups = svg_data.test_frames("kth", data, max_sequences=0)
    np.testing.assert_array_equal(test, frames[split == 2])  # grey round trip is exact
    assert len(set(groups)) == 2  # two test videos (one per shard)
    cfg = svg_train.model_config("kth", "fp", SMOKE)
    batch = next(svg_data.training_batches("kth", "fp", data, cfg, batch_size=5, seed=0)(0))
    assert batch.shape == (5, 20, 1, 64, 64)
    train = torch.from_numpy(frames[split == 0]).float() / 255  # (3, 24, 64, 64)
    for window in batch[:, :, 0]:  # every window is a crop of a training clip
        assert any(torch.equal(window, clip[s : s + 20]) for clip in train for s in range(5))


def test_bair_tfrecords_to_shards_and_batches(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    root = tmp_path / "raw" / "softmotion30_44k"
    seqs = {}
    for split, n in (("train", 5), ("test", 3)):
        seqs[split] = rng.integers(0, 256, size=(n, 30, 64, 64, 3), dtype=np.uint8)
        records = [bair.make_example({bair.frame_key(i): [f.tobytes()] for i, f in enumerate(s)}) for s in seqs[split]]
        bair.write_tfrecord(root / split / "traj_0_to_255.tfrecords", records)
    source = tmp_path / "bair.json"
    source.write_text('{"dataset": "bair", "source": "path", "root": "%s"}' % root.parent)
    index = svg_data.write_bair_shards(source, tmp_path / "svg", sequences_per_shard=2)
    table = pd.read_csv(index)
    assert list(table["split"]) == ["train"] * 3 + ["test"] * 2 and table["sequences"].sum() == 8
    data = {"shards": str(tmp_path / "svg")}
    np.testing.assert_array_equal(svg_data.test_frames("bair", data, 0)[0], seqs["test"])
    np.testing.assert_array_equal(svg_data.test_frames("bair", data, 2)[0], seqs["test"][[0, 2]])
    cfg = svg_train.model_config("bair", "lp", SMOKE)
    batch = next(svg_data.training_batches("bair", "lp", data, cfg, batch_size=4, seed=0)(0))
    assert batch.shape == (4, 12, 3, 64, 64)
    train = torch.from_numpy(seqs["train"]).permute(0, 1, 4, 2, 3).float() / 255  # (5, 30, 3, 64, 64)
    for window in batch:  # the authors' windows: frames 0..11 of a training sequence
        assert any(torch.equal(window, seq[:12]) for seq in train)
    random = next(svg_data.training_batches("bair", "lp", data, cfg, batch_size=4, seed=0, bair_windows="random")(0))
    assert not all(any(torch.equal(w, seq[:12]) for seq in train) for w in random)
    assert open_shard(tmp_path / "svg" / "shard-00003.zarr")["split"][0] == SPLITS.index("test")

    # Fig. 11: an SVG-LP rollout far beyond the 30 test frames, from the first n_past of them
    torch.manual_seed(0)
    model = SVG(cfg)
    torch.save({"state_dicts": {"model": model.state_dict()}, "model_config": svg_model_config(model.cfg)},
               tmp_path / "lp.pt")
    sizes = {"rollout": {"steps": 40, "sequences": 2, "every": 10}, "conventions": SMOKE["conventions"]}
    out = svg_evaluate.rollout("bair", tmp_path / "lp.pt", data, tmp_path / "rollout.zarr", sizes, seed=0, device="cpu")
    group = open_shard(out)
    video, truth = np.asarray(group["frames"][:]), np.asarray(group["truth"][:])
    assert video.shape == (2, 2 + 40, 64, 64, 3) and video.dtype == np.uint8 and group.attrs["n_cond"] == 2
    np.testing.assert_array_equal(truth, seqs["test"][[0, 2]])  # spread over the test set
    np.testing.assert_array_equal(video[:, :2], truth[:, :2])  # the conditioning frames, then generated ones
    again = svg_evaluate.rollout("bair", tmp_path / "lp.pt", data, tmp_path / "again.zarr", sizes, seed=0, device="cpu")
    np.testing.assert_array_equal(np.asarray(open_shard(again)["frames"][:]), video)
    png, gif = figs.rollout_figures(out, tmp_path / "rollout.png", tmp_path / "rollout.gif", every=10)
    with Image.open(gif) as img:
        assert img.n_frames == 42
    with Image.open(png) as img:
        assert img.width > img.height  # 2 + 4 columns of frames, 4 rows


def test_disjoint_windows_share_no_frame_within_a_video() -> None:
    groups = np.array([0, 0, 0, 0, 1, 1, 2])
    starts = np.array([0, 10, 30, 20, 0, 10, 5])
    keep = svg_data.disjoint_windows(groups, starts, span=30)
    np.testing.assert_array_equal(keep, [0, 2, 4, 6])  # video 0: starts 0 and 30; video 1: 0; video 2: 5
    np.testing.assert_array_equal(svg_data.disjoint_windows(groups, starts, span=10), np.arange(7))


# ----------------------------------------------------------------------------- Fig. 5 and Fig. 6


def test_sigma_collision_summary_finds_the_lag() -> None:
    frames = np.arange(1, 41)
    hits = pd.DataFrame({"digit": [0, 1, 0], "frame": [7, 18, 30]})
    sigma = pd.DataFrame({"frame": frames, "sigma_mean": np.where(np.isin(frames - 1, [7, 18, 30]), 0.9, 0.1)})
    summary = svg_evaluate.sigma_collision_summary(sigma, hits).set_index("lag")
    assert summary.loc[1, "pearson_r"] == pytest.approx(1.0)
    assert summary["pearson_r"].drop(1).max() < 0.5
    assert summary.loc[1, "sigma_at_hits"] == pytest.approx(0.9) and summary.loc[1, "n_hit_frames"] == 3


def test_fig5_and_fig6_stages(tmp_path: Path) -> None:
    test_set = write_test_set(tmp_path / "data")
    sizes = copy.deepcopy(SMOKE)
    sizes["fig5"].update(sequences=3, samples=2, frames=10, first_bounces=[6, 8])
    sizes["fig6"].update(sequences=3, frames=16)
    sync = svg_data.write_smmnist_set("synchronized", test_set, tmp_path / "sync.zarr", sizes, seed=0)
    shared = svg_data.write_smmnist_set("sharedstart", test_set, tmp_path / "shared.zarr", sizes, seed=0)
    s, h = open_shard(sync), open_shard(shared)
    assert s["frames"].shape == (3, 16, 64, 64) and s["positions"].shape[2] == 2
    assert h["frames"].shape == (6, 10, 64, 64) and h["positions"].shape[2] == 1
    positions, trajectory = np.asarray(h["positions"][:]), np.asarray(h["trajectory"][:])
    for k, first_bounce in enumerate((6, 8)):
        rows = positions[trajectory == k]
        assert int(np.flatnonzero(np.asarray(h["bounces"][3 * k]).any(-1))[0]) == first_bounce
        assert (rows[:, : first_bounce + 1] == rows[0, : first_bounce + 1]).all()

    torch.manual_seed(0)
    for variant in ("lp", "lp1"):
        model = SVG(svg_train.model_config("smmnist", variant, sizes))
        torch.save({"state_dicts": {"model": model.state_dict()}, "model_config": svg_model_config(model.cfg)},
                   tmp_path / f"{variant}.pt")
    table = svg_evaluate.bounce_velocities(tmp_path / "lp1.pt", shared, test_set, tmp_path / "vel.csv", tmp_path / "tv.csv",
                                     sizes, seed=0, device="cpu")
    trivial = {"constant velocity", "no motion"}  # the futures the samples must beat, scored by the same code
    assert set(table["source"]) == {"model", "truth", *trivial} and set(table["trajectory"]) == {0, 1}
    distance = pd.read_csv(tmp_path / "tv.csv")
    assert set(distance["source"]) == {"model", *trivial}
    for k, first_bounce in enumerate((6, 8)):
        truth = table[(table["source"] == "truth") & (table["trajectory"] == k)]
        # one velocity per step (probability 1) up to the hit, spread after it
        assert (truth[truth["step"] <= first_bounce].groupby("step")["probability"].max() == 1.0).all()
        assert truth[truth["step"] == first_bounce + 1]["probability"].max() < 1.0
        assert set(distance[distance["trajectory"] == k]["first_bounce_frame"]) == {first_bounce + 1}
        model_rows = table[(table["source"] == "model") & (table["trajectory"] == k)]
        np.testing.assert_allclose(model_rows.groupby("step")["probability"].sum(), 1.0)  # 3 x 2 samples
    assert figs.velocity_figure(tmp_path / "vel.csv", tmp_path / "fig5.png").stat().st_size > 0
    svg_evaluate.prior_sigma(tmp_path / "lp.pt", sync, tmp_path / "sigma.csv", tmp_path / "hits.csv",
                       tmp_path / "summary.csv", sizes, device="cpu")
    sigma = pd.read_csv(tmp_path / "sigma.csv")
    assert list(sigma["frame"]) == list(range(1, 16)) and (sigma["sigma_mean"] > 0).all()
    assert len(pd.read_csv(tmp_path / "hits.csv")) == int(np.asarray(s["bounces"][0]).sum())


# ----------------------------------------------------------------------------- the graph at smoke scale


def snakemake(workdir: Path, configfile: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(SNAKEMAKE), "--snakefile", str(REPO / "Snakefile"), "--directory", str(workdir),
         "--configfile", str(configfile), "--cores", "2", *args],
        capture_output=True, text=True, timeout=600,
    )


def smoke_config(tmp_path: Path, on: str) -> Path:
    """A smoke-scale svg config with only the dataset ``on`` (SM-MNIST or KTH) enabled."""
    configfile = tmp_path / "smoke.yaml"
    datasets = {name: {"source": "synthetic" if name == on else "off"} for name in ("smmnist", "kth", "bair")}
    configfile.write_text(yaml.safe_dump({"scale": "smoke", "seed": 0, "papers": ["svg"], "device": "cpu",
                                          "datasets": datasets}))
    return configfile


def test_snakemake_smoke_chain_to_the_smmnist_figure(tmp_path: Path) -> None:
    configfile = smoke_config(tmp_path, "smmnist")
    work = tmp_path / "work"
    figure = work / "results" / "figures" / "smmnist_ssim.png"
    run = snakemake(work, configfile, "results/figures/smmnist_ssim.png", "results/tables/smmnist_ordering.csv")
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]

    table = pd.read_csv(work / "results" / "tables" / "smmnist_ssim.csv")
    assert list(table.columns) == ["dataset", "model", "metric", "frame", "mean", "ci_low", "ci_high",
                                   "n_sequences", "n_videos", "n_samples", "n_cond", "train_horizon",
                                   "ssim_data_range", "bn_at_test", "skip_frame", "backbone", "test_windows", "interval",
                                   "paper"]
    assert set(table["model"]) == {"deterministic", "fp", "lp", "copylast"}
    assert set(table["metric"]) == {"ssim", "psnr"}
    models = table[table["model"] != "copylast"]
    assert set(models["ssim_data_range"]) == {2.0} and set(models["bn_at_test"]) == {"train"}
    assert set(models["skip_frame"]) == {"before_last"} and set(models["backbone"]) == {"dcgan"}
    ordering = pd.read_csv(work / "results" / "tables" / "smmnist_ordering.csv")
    assert {("lp", "fp"), ("fp", "deterministic"), ("lp", "copylast")} <= set(zip(ordering["better"], ordering["worse"]))
    assert (ordering["ci_low"] <= ordering["mean_difference"]).all() and set(ordering["scope"]) <= {"all", "second_half", "after_bounce"}
    assert set(ordering["interval"]) == {"t over sequences"}
    table = table[table["metric"] == "ssim"]
    values = table[["ci_low", "mean", "ci_high"]].to_numpy()
    assert np.isfinite(values).all() and (np.diff(values, axis=1) >= 0).all()
    assert ((values[:, 1] >= 0) & (values[:, 1] <= 1)).all() and (np.abs(values) <= 1).all()  # SSIM <= 1
    assert table["paper"].isna().all()
    n_cond, horizon = table["n_cond"].iloc[0], table["train_horizon"].iloc[0]
    test_len = resolve("smoke")["smmnist"]["sequence_length"]
    assert sorted(table["frame"].unique()) == list(range(n_cond + 1, test_len + 1)) and horizon < test_len
    record = json.loads((work / "results" / "tables" / "smmnist_ssim.provenance.json").read_text())
    assert {m["variant"] for m in record["models"]["models"]} == {"deterministic", "fp", "lp"}  # copylast has none
    assert figure.stat().st_size > 0

    figure.unlink()  # the figure is drawn from the saved table: only its own rule reruns
    dry = snakemake(work, configfile, "-n", "results/figures/smmnist_ssim.png")
    assert dry.returncode == 0, dry.stderr[-3000:]
    planned = {line.split()[-1].rstrip(":") for line in dry.stdout.splitlines()
               if line.startswith(("rule ", "localrule "))}
    assert planned == {"svg_curve_figure"}, dry.stdout[-3000:]


def test_snakemake_smoke_chain_to_the_kth_ordering(tmp_path: Path) -> None:
    """KTH gets the ordering table too, its intervals clustered by video as its curves'."""
    configfile = smoke_config(tmp_path, "kth")
    work = tmp_path / "work"
    run = snakemake(work, configfile, "results/tables/kth_ordering.csv")
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    ordering = pd.read_csv(work / "results" / "tables" / "kth_ordering.csv")
    assert set(ordering["dataset"]) == {"kth"} and set(ordering["interval"]) == {"t clustered by video"}
    assert set(ordering["scope"]) == {"all", "second_half"}  # no wall hits to condition on
    assert ("lp", "copylast") in set(zip(ordering["better"], ordering["worse"]))
    assert (ordering["ci_low"] <= ordering["mean_difference"]).all()
    assert (ordering["mean_difference"] <= ordering["ci_high"]).all()


def test_bair_graph_from_tfrecords(tmp_path: Path) -> None:
    (tmp_path / "bair").mkdir()  # a path source's folder must exist (refused at parse time otherwise)
    configfile = tmp_path / "bair.yaml"
    configfile.write_text(yaml.safe_dump({
        "scale": "smoke", "papers": ["svg"], "device": "cpu",
        "datasets": {"smmnist": {"source": "off"}, "kth": {"source": "off"},
                     "bair": {"source": "path", "path": str(tmp_path / "bair")}},
    }))
    dry = snakemake(tmp_path / "work", configfile, "-n")
    assert dry.returncode == 0, dry.stderr[-3000:]
    planned = {line.split()[-1].rstrip(":") for line in dry.stdout.splitlines()
               if line.startswith(("rule ", "localrule "))}
    assert planned == {"data_fetch", "svg_bair_shards", "train_model", "svg_evaluate", "svg_baseline", "svg_table",
                       "svg_curve_figure", "svg_gifs", "svg_rollout", "svg_rollout_figure", "page_svg_table",
                       "page_svg_gifs", "page_svg_rollout_figure", "all"}, dry.stdout[-3000:]
    assert "results/figures/bair_ssim_psnr.png" in dry.stdout and "smmnist" not in dry.stdout
    assert "results/figures/bair_rollout.png" in dry.stdout and "results/figures/svg/bair_rollout.gif" in dry.stdout


# ----------------------------------------------------------------------------- paper-scale sizes


def conv(c_in: int, c_out: int, k: int) -> int:
    return c_out * c_in * k * k + c_out


def bn(c: int) -> int:
    return 2 * c


def linear(n_in: int, n_out: int) -> int:
    return n_in * n_out + n_out


def lstm(n_in: int, h: int) -> int:
    return 4 * (n_in * h + h * h + 2 * h)


def vgg(c_in: int, c_out: int) -> int:
    return conv(c_in, c_out, 3) + bn(c_out)


def paper_parameters(dataset: str, variant: str) -> int:
    """Parameters of the paper's model from its layer sizes (Sec. 4.1): DCGAN 64-128-256-512 with
    |h| = 128 (SM-MNIST) or VGG16 to its last pooling layer and its mirror (KTH 1 channel at
    128x128, one more stage of three 512-channel layers each way as the authors' vgg_128.py; BAIR 3
    channels at 64x64), skips to the decoder; LSTM_theta 2x256 on [h, z] -> g = 128; LSTM_phi,
    LSTM_psi 1x256 -> |z|."""
    c, z = {"smmnist": (1, 10), "kth": (1, 32), "bair": (3, 64)}[dataset]
    if dataset == "smmnist":
        widths = [(c, 64), (64, 128), (128, 256), (256, 512)]
        frames = sum(conv(a, b, 4) + bn(b) for a, b in widths) + conv(512, 128, 4) + bn(128)
        frames += conv(128, 512, 4) + bn(512) + sum(conv(2 * b, a, 4) + bn(a) for a, b in widths[1:]) + conv(128, c, 4)
    else:
        encoder = [(c, 64), (64, 64), (64, 128), (128, 128), (128, 256), (256, 256), (256, 256),
                   (256, 512), (512, 512), (512, 512)]
        decoder = [(1024, 512), (512, 512), (512, 256), (512, 256), (256, 256), (256, 128),
                   (256, 128), (128, 64), (128, 64)]
        if dataset == "kth":  # 128x128
            encoder += [(512, 512)] * 3
            decoder = [(1024, 512), (512, 512), (512, 512)] + decoder
        frames = sum(vgg(a, b) for a, b in encoder + decoder) + conv(512, 128, 4) + bn(128)
        frames += conv(128, 512, 4) + bn(512) + conv(64, c, 3)
    stochastic = variant != "deterministic"
    total = frames + linear(128 + z * stochastic, 256) + 2 * lstm(256, 256) + linear(256, 128)
    gaussian = linear(128, 256) + lstm(256, 256) + 2 * linear(256, z)
    return total + gaussian * (stochastic + (variant in ("lp", "lp1")))


PAPER_MODELS = [(d, v) for d in ("smmnist", "kth", "bair") for v in ("deterministic", "fp", "lp")] + [("smmnist", "lp1")]


@pytest.mark.parametrize("dataset,variant", PAPER_MODELS)
def test_paper_scale_models_have_the_papers_sizes(dataset: str, variant: str) -> None:
    sizes = resolve("paper")["svg"]
    cfg = svg_train.model_config(dataset, variant, sizes)
    protocol = {"smmnist": (5, 10, 10, 1e-4), "kth": (10, 10, 32, 1e-6), "bair": (2, 10, 64, 1e-4)}[dataset]
    assert (cfg.n_past, cfg.n_future, cfg.z_dim, cfg.beta) == protocol
    assert (cfg.g_dim, cfg.rnn_size, cfg.width, cfg.lr) == (128, 256, 64, 2e-3)
    assert (cfg.predictor_layers, cfg.posterior_layers, cfg.prior_layers) == (2, 1, 1)
    with torch.device("meta"):  # sizes only: no memory, no initialisation cost
        model = SVG(cfg)
    assert sum(p.numel() for p in model.parameters()) == paper_parameters(dataset, variant)
    assert sizes[dataset]["eval"]["samples"] == 100 and sizes["fig6"] == {"sequences": 500, "frames": 100}
    assert cfg.image_size == (128 if dataset == "kth" else 64)


@pytest.mark.parametrize("scale", ["smoke", "demo", "paper"])
def test_kth_clips_have_the_kth_models_size(scale: str) -> None:
    sizes = resolve(scale)
    cfg = svg_train.model_config("kth", "lp", sizes["svg"])
    assert sizes["clips"]["svg"]["size"] == cfg.image_size == (128 if scale == "paper" else 64)


def test_kth_clips_squash_160x120_to_the_square_as_the_authors(tmp_path: Path) -> None:
    """convert_kth.lua runs ffmpeg -s 128x128 (64x64 below the paper preset): the whole 160x120
    frame, aspect ratio not kept."""
    import cv2
    import media

    from pipeline import clips
    from pipeline.video_read import iter_frames

    video = media.make_good(tmp_path / "kth.mp4", width=160, height=120, frames=3)
    for scale, size in (("paper", 128), ("demo", 64)):
        proto = clips.protocol("svg", resolve(scale)["clips"]["svg"])
        assert proto.fit == "squash"
        opts = clips.decode_options(proto, 160, 120)
        assert opts["size"] == (size, size) and opts["center_crop"] is None
        frame = next(iter_frames(video, **opts))
        whole = cv2.resize(media.reference_frames(width=160, height=120, frames=1)[0], (size, size),
                           interpolation=cv2.INTER_AREA)
        assert frame.shape == (size, size, 3)
        assert np.abs(frame.astype(int) - whole.astype(int)).mean() < 12  # the whole frame, squashed
        crop = clips.decode_options(clips.protocol("svg", {**resolve(scale)["clips"]["svg"], "fit": "cover"}), 160, 120)
        assert crop["center_crop"] == (size, size)
        cropped = next(iter_frames(video, **crop))
        assert np.abs(cropped.astype(int) - whole.astype(int)).mean() > np.abs(frame.astype(int) - whole.astype(int)).mean()

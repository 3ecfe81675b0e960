"""walker in the graph: flow-net extrapolation and cell mapping, sample clustering, training that
resumes exactly, the paper-scale towers from the preset, and the Snakemake chain at smoke scale."""

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
from smoke_graph import executed_jobs, planned_rules, run_log, run_paper

from pipeline import time_summary
from pipeline.papers import sizes as resolve
from pipeline.papers.staticflow.codebook import assign_labels
from pipeline.papers.staticflow.metrics import class_frequencies, constant_prediction, sample_flow
from pipeline.papers.walker import data as walker_data
from pipeline.papers.walker import evaluate as evaluation
from pipeline.papers.walker import examples as walker_examples
from pipeline.papers.walker import spec
from pipeline.papers.walker import table as walker_table
from pipeline.papers.walker import train as walker_train
from pipeline.papers.walker.model import WalkerConfig, WalkerNet, build_walker
from pipeline.papers.walker.parzen import gaussian_bandwidths
from pipeline.saved_models import load_model
from pipeline.shards import SPLITS, open_shard, summarize_shards, write_shard
from pipeline.trajectories import dct_decode, dct_encode

SMOKE = resolve("smoke")["walker"]


def ramp_track(vx: float, vy: float) -> np.ndarray:
    t = np.arange(1, 31, dtype=np.float32)
    return np.stack([vx * t, vy * t], axis=-1)  # (30, 2) offsets of frames 1..30


def write_trajectory_shards(root: Path, dataset: str, split: str, per_class: int = 4, clips: int = 2) -> Path:
    """Trajectory shards as the trajectory stage writes them (48x64 frames): class c moves everything
    at a constant velocity (c, 0) or (-c, 0), drawn per clip, so one frame does not tell the sign."""
    rng = np.random.default_rng(len(dataset))
    videos = [f"{dataset}_c{c}_v{v}" for c in range(3) for v in range(per_class)]
    video_index = np.repeat(np.arange(len(videos)), clips)
    label = video_index // per_class
    n = len(video_index)
    sign = rng.choice([-1.0, 1.0], size=n)
    dct = np.stack([np.broadcast_to(dct_encode(ramp_track(s * c, 0.0)), (48, 64, 10)) for s, c in zip(sign, label)])
    image = rng.integers(0, 255, (n, 48, 64, 3), dtype=np.uint8)
    image[..., 1] = (100 * label)[:, None, None]
    arrays = {"image": image, "dct": dct.astype(np.float16), "reliable": np.ones((n, 48, 64), bool),
              "video_index": video_index.astype(np.int32), "start": np.zeros(n, np.int32),
              "label": label.astype(np.int32), "split": np.full(n, SPLITS.index(split), np.uint8)}
    folder = root / "trajectories" / dataset / "walker"
    path = write_shard(folder / "shard-00000.zarr", arrays, {"videos": videos})
    summarize_shards([path], folder / "summary.csv")
    return folder / "summary.csv"


def prepared(tmp_path: Path, sizes: dict) -> Path:
    data = tmp_path / "data"
    summary = write_trajectory_shards(data, "ucf101", "train")
    write_trajectory_shards(data, "thumos", "test", per_class=1)
    out = {k: Path(v) for k, v in spec.prepared_files(data).items()}
    walker_data.prepare(summary, out, spec.prepare_sizes(sizes), seed=0)  # all the graph's rule passes it
    return data


def test_the_flow_nets_schedule_does_not_redo_the_prepared_statistics() -> None:
    """walker_prepare's params are what prepare reads: the flow net's epochs (its schedule) are not."""
    sizes = copy.deepcopy(SMOKE)
    longer = copy.deepcopy(sizes)
    longer["flownet"]["epochs"] += 10
    longer["flownet"]["batch_size"] += 1
    assert spec.prepare_sizes(longer) == spec.prepare_sizes(sizes)
    finer = copy.deepcopy(sizes)
    finer["flownet"]["n_clusters"] += 1  # the codebook changes: prepare must run again
    assert spec.prepare_sizes(finer) != spec.prepare_sizes(sizes)


def test_walker_trains_on_all_of_ucf101_minus_a_hold_out_per_class(tmp_path: Path) -> None:
    """The paper: "all the videos except for a small hold out set for every action", so UCF101's
    official test list trains too; THUMOS's test split stays the test set."""
    data = tmp_path / "data"
    summary = write_trajectory_shards(data, "ucf101", "test")  # every video on the official test list
    write_trajectory_shards(data, "thumos", "test", per_class=1)
    out = {k: Path(v) for k, v in spec.prepared_files(data).items()}
    walker_data.prepare(summary, out, copy.deepcopy(SMOKE), seed=0)
    record = json.loads(out["split"].read_text())
    assert record["train_splits"] == ["train", "test"] and len(record["holdout_videos"]) == 3  # one per class
    train = walker_data.walker_data(summary, out["mean_image"], out["split"])
    assert len(train.rows["train"]) + len(train.rows["val"]) == 24 and len(train.rows["test"]) == 0
    assert len(train.rows["val"]) == 3 * 2  # the held-out videos' clips
    test = walker_data.walker_data(spec.trajectory_summary(data, "thumos"), out["mean_image"])
    assert len(test.rows["test"]) == 6 and len(test.rows["train"]) == 0


# ----------------------------------------------------------------------------- flow-net baseline


def test_flow_label_of_a_track_extrapolates_back_to_the_track() -> None:
    coefs = dct_encode(ramp_track(3.0, -1.0))  # (10,)
    label = walker_data.trajectory_flow(coefs)  # ~ mean displacement to frames 1..3
    np.testing.assert_allclose(label / evaluation.VELOCITY_FACTOR, [3.0, -1.0], rtol=1e-5)
    assert 1.9 < evaluation.VELOCITY_FACTOR < 2.6  # about two frames' worth of motion
    field = evaluation.extrapolate(label[None, None, None, None])  # (1, 1, 10, 1, 1)
    np.testing.assert_allclose(field[0, 0, :, 0, 0].numpy(), coefs, rtol=1e-4, atol=1e-3)
    offsets = dct_decode(field[0, 0, :, 0, 0].numpy())
    np.testing.assert_allclose(offsets[-1], [90.0, -30.0], rtol=0.1)  # a second at constant velocity


def test_sampled_flow_lands_on_the_right_coarse_cells() -> None:
    cfg = WalkerConfig(image_size=(120, 160), coarse_size=(8, 10))  # 4 rows of margin top and bottom
    probs = np.zeros((1, 3, 10, 10), np.float32)
    probs[0, 0, :, :5] = 1.0  # left half of the frame: class 0
    probs[0, 1, :, 5:] = 1.0  # right half: class 1
    probs[0, :, 0] = 0.0
    probs[0, 2, 0] = 1.0  # top row of the square grid (top 12 px of the frame): class 2
    centroids = np.array([[-4.0, 0.0], [4.0, 0.0], [0.0, 8.0]], np.float32)
    field = sample_flow(probs, centroids, 2, np.random.default_rng(0))  # (2, 1, 10, 10, 2)
    cells = evaluation.flow_on_cells(field, cfg)  # (2, 1, 8, 10, 2)
    assert cells.shape == (2, 1, 8, 10, 2)
    np.testing.assert_allclose(cells[:, 0, 1:, :4], np.broadcast_to([-4.0, 0.0], (2, 7, 4, 2)), atol=1e-5)
    np.testing.assert_allclose(cells[:, 0, 1:, 5:], np.broadcast_to([4.0, 0.0], (2, 7, 5, 2)), atol=1e-5)
    assert (cells[:, 0, 1:, 4, 0] > -4.0).all() and (cells[:, 0, 1:, 4, 0] < 4.0).all()  # a blend at the seam
    assert (cells[:, 0, 0, :, 1] > 4.0).all()  # the first cell row is centred 4 px into the frame


def test_a_flow_sample_holds_one_draw_per_position_of_the_nets_grid() -> None:
    """A 2x2 softmax, each position a coin between left and right: every coarse cell of one
    quadrant takes the same draw, so a sample has at most 4 distinct quadrant values."""
    cfg = WalkerConfig(image_size=(128, 160), coarse_size=(8, 10))
    probs = np.full((1, 2, 2, 2), 0.5, np.float32)
    centroids = np.array([[-1.0, 0.0], [1.0, 0.0]], np.float32)
    cells = evaluation.flow_on_cells(sample_flow(probs, centroids, 50, np.random.default_rng(1)), cfg)[:, 0, ..., 0]
    corners = cells[:, [0, 0, -1, -1], [0, -1, 0, -1]]  # (50, 4): deep inside each quadrant
    assert set(np.unique(np.abs(corners))) == {1.0}
    np.testing.assert_array_equal(cells[:, :2, :2], np.broadcast_to(corners[:, :1, None], (50, 2, 2)))
    assert 0.3 < (corners > 0).mean() < 0.7  # the coin is fair per position


def _actor_scenes(n: int, seed: int) -> torch.Tensor:
    """Per-pixel DCT (n, 10, 120, 160): a 48x64 actor at a random place moves at (+-2, -1) px per
    frame (sign drawn per image), the rest of the frame is still."""
    rng = np.random.default_rng(seed)
    dct = np.zeros((n, 120, 160, 10), np.float32)
    for i in range(n):
        y, x = 16 * rng.integers(0, 5), 16 * rng.integers(0, 6)
        dct[i, y : y + 48, x : x + 64] = dct_encode(ramp_track(rng.choice([-2.0, 2.0]), -1.0))
    return torch.from_numpy(dct.transpose(0, 3, 1, 2))


def test_the_flow_baseline_beats_no_motion_with_a_sharp_softmax_not_with_its_prior() -> None:
    """Walker's flow-net baseline (a per-cell softmax sampled independently, extrapolated, scored by
    Parzen windows) can beat "no motion" by far when its softmax is right: the protocol does not
    stand in its way. An image-blind softmax (the class frequencies) scatters motion over still cells
    and must lose to the zero field: that is how the demo's flow net, close to its class prior, loses."""
    cfg = WalkerConfig(image_size=(120, 160), coarse_size=(8, 10))
    truth = _actor_scenes(12, seed=3)
    labels = np.stack([walker_data.flow_label_grid(d.numpy().transpose(1, 2, 0), 10) for d in truth])  # (B, 10, 10, 2)
    centroids = np.stack([np.zeros(2), *(walker_data.trajectory_flow(dct_encode(ramp_track(vx, -1.0)))
                                         for vx in (-2.0, 2.0))]).astype(np.float32)
    nearest = assign_labels(labels, centroids)  # (B, 10, 10)
    oracle = np.eye(3, dtype=np.float32)[nearest].transpose(0, 3, 1, 2)  # (B, 3, 10, 10)
    prior = constant_prediction(class_frequencies(nearest, 3), len(truth), 10)
    dims = evaluation.block_dims(cfg)
    sizes = evaluation.EvalSizes(test_images=0, bandwidth_images=0, samples=20, sample_chunk=10, batch_size=len(truth),
                                 grid_points=15, refine_points=5, mean_images=0)

    def sampled_nll(probs: np.ndarray) -> float:
        sq = evaluation.flow_net_distances(probs, centroids, iter([(truth, truth)]), cfg, sizes,
                                           np.random.default_rng(0), torch.device("cpu"))
        return float(evaluation.nll_per_image(sq[:2], dims, evaluation.search_bandwidths(sq[:2], dims, sizes.grid_points, sizes.refine_points)).mean())

    zero = evaluation._constant_draw(torch.zeros(10, 8, 10), torch.zeros(2))
    sq = evaluation.block_distances(iter([(truth, truth)]), cfg, zero, 1, 1, torch.device("cpu"))
    no_motion = float(evaluation.nll_per_image(sq[:2], dims, gaussian_bandwidths(sq[:2], dims)).mean())
    assert no_motion == pytest.approx(dims[0] / 2 * (1 + np.log(2 * np.pi)), rel=0.05)  # ~ D/2 (1 + log 2 pi)
    assert sampled_nll(oracle) < 0.5 * no_motion
    assert sampled_nll(prior) > no_motion


def test_latent_walk_runs_from_one_end_to_the_other() -> None:
    a, b = torch.tensor([1.0, -2.0]), torch.tensor([3.0, 2.0])
    line = walker_examples.interpolate_latents(a, b, 5)
    assert torch.equal(line[0], a) and torch.equal(line[-1], b) and torch.allclose(line[2], (a + b) / 2)
    samples = np.array([[0.0, 0.0], [5.0, 5.0], [-5.0, -5.0], [4.0, 6.0]])
    centres = np.array([[-5.0, -4.0], [5.0, 5.5]])
    assert walker_examples.interpolation_ends(samples, centres, np.array([1, 0])).tolist() == [1, 2]


def test_clusters_of_two_futures_are_found_and_shown() -> None:
    rng = np.random.default_rng(0)
    up, down, still = np.zeros(20), np.zeros(20), np.zeros(20)
    up[:10], down[:10] = 5.0, -5.0
    samples = np.concatenate([up + rng.normal(0, 0.1, (45, 20)), down + rng.normal(0, 0.1, (35, 20)),
                              still + rng.normal(0, 0.1, (20, 20))])
    centres, sizes = walker_examples.cluster_samples(samples, 3, seed=0)
    np.testing.assert_allclose(sizes, [0.45, 0.35, 0.20])
    shown = walker_examples.shown_clusters(centres, sizes, 2)
    assert shown.tolist() == [0, 1]  # the two moving modes, not the still one
    np.testing.assert_allclose(centres[shown].mean(axis=1), [2.5, -2.5], atol=0.1)


# ----------------------------------------------------------------------------- training


def test_the_learning_rate_drops_tenfold_at_its_share_of_the_steps() -> None:
    optimizer = torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))], lr=1e-3)
    drop = walker_train.lr_drop(optimizer, 0.75, 8)
    rates = []
    for _ in range(8):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        drop.step()
    assert rates == pytest.approx([1e-3] * 6 + [1e-4] * 2)
    assert walker_train.lr_drop(optimizer, 0.0, 8) is None  # 0: a constant rate
    with pytest.raises(ValueError, match="lr_decay_at"):
        walker_train.lr_drop(optimizer, 1.5, 8)


def test_cvae_training_resumes_to_the_same_weights(tmp_path: Path) -> None:
    sizes = copy.deepcopy(SMOKE)
    data = prepared(tmp_path, sizes)
    inputs = spec.inputs("ucf101", "cvae", data)
    whole = jobs.train("walker", "ucf101", "cvae", inputs, tmp_path / "whole", sizes, seed=1)
    with jobs.killed_after_checkpoint(2):  # a job killed at its step-2 checkpoint ...
        jobs.train("walker", "ucf101", "cvae", inputs, tmp_path / "resumed", sizes, seed=1)
    resumed = jobs.train("walker", "ucf101", "cvae", inputs, tmp_path / "resumed", sizes, seed=1)
    a, b = load_model(whole, build_walker), load_model(resumed, build_walker)
    for key, value in a.state_dict().items():
        assert torch.equal(value, b.state_dict()[key]), key
    log = pd.read_csv(tmp_path / "resumed" / "log.csv")
    total = sizes["train"]["coarse_steps"] + sizes["train"]["fine_steps"]
    assert list(log["step"]) == list(range(1, total + 1))
    assert (log["fine"].iloc[: sizes["train"]["coarse_steps"]] == 0).all() and (log["fine"].iloc[-1] > 0)
    assert a.cfg.coarse_size == (3, 4) and a.cfg.image_size == (48, 64)


def test_every_variant_is_scored_with_finite_numbers(tmp_path: Path) -> None:
    sizes = copy.deepcopy(SMOKE)
    data = prepared(tmp_path, sizes)
    test = Path(spec.trajectory_summary(data, "thumos"))
    scores = {}
    for variant in spec.PREDICTORS:
        trained = variant in spec.VARIANTS
        inputs = spec.inputs("ucf101", variant if trained else "cvae", data)
        model = jobs.train("walker", "ucf101", variant, inputs, tmp_path / variant, sizes, seed=0) if trained else None
        scores[variant] = evaluation.evaluate_variant(variant, model, inputs, test, sizes, 0, "cpu",
                                                      tmp_path / f"{variant}.json")
        assert np.isfinite(scores[variant]["nll_per_image"]).all() and len(scores[variant]["nll_per_image"]) == 6
        for curve in scores[variant]["curves"].values():
            assert len(curve) == sizes["eval"]["samples"] and np.all(np.diff(curve) <= 1e-9)
    assert scores["cvae"]["dims"] == [10 * 3 * 4, 2]
    # regressor: one Gaussian; its ML bandwidth makes the NLL D/2 (log(2 pi h^2) + 1) per block on average
    reg = scores["regressor"]
    expected = sum(d / 2 * (np.log(2 * np.pi * h**2) + 1) for d, h in zip(reg["dims"], reg["bandwidths"]))
    assert reg["nll"] == pytest.approx(expected, rel=1e-6)
    assert set(scores["regressor"]["curves"]) == {"Regressor (sampled)", "Regressor (mean)"}
    # no motion: a normalized axis that moves has unit RMS, one that does not is zero, so the ML
    # bandwidth is fixed by the data: classes 1 and 2 move along x only (half the dims at unit RMS),
    # class 0 is still, so h^2 = mean ||Ynorm||^2 / D = 2/3 * 1/2
    still = scores["nomotion"]
    assert still["bandwidths"][0] == pytest.approx(np.sqrt(1 / 3), rel=1e-3)
    assert still["curves"]["No motion"][0] == pytest.approx(still["no_motion_distance"], rel=1e-6)
    # the toy's classes move +-c with even odds: the mean motion is near zero, scored like no motion
    assert abs(scores["meanmotion"]["nll"] - still["nll"]) < 0.1 * still["nll"]

    from pipeline.papers.walker import figures

    mean_image = Path(spec.prepared_files(data)["mean_image"])
    examples = walker_examples.cvae_examples(tmp_path / "cvae" / "model.pt", mean_image, test, sizes, 0, "cpu",
                                        tmp_path / "examples.zarr")
    group = open_shard(examples)
    walk, ends = np.asarray(group["interpolation"]), np.asarray(group["interpolation_latents"])
    assert walk.shape == (2, sizes["examples"]["interpolation_steps"], 10, 6, 8) and np.isfinite(walk).all()
    assert ends.shape == (2, 2, 16)  # two latent points (8 + 8 dims) per example
    table = walker_table.write_nll_table({v: tmp_path / f"{v}.json" for v in spec.PREDICTORS}, tmp_path / "t.csv",
                                       {"scale": "smoke"}, [])
    assert table.loc[table["column"] == "nll", "paper"].notna().sum() == 3
    nll = table[table["column"] == "nll"].set_index("row")
    assert {"No motion", "Mean training motion"} <= set(nll.index)
    assert (nll["ci_low"] <= nll["ours"]).all() and (nll["ours"] <= nll["ci_high"]).all()
    diff = table[table["column"] == "nll_minus_no_motion"].set_index("row")["ours"]
    assert diff["No motion"] == 0.0
    assert diff["Ours (CVAE)"] == pytest.approx(scores["cvae"]["nll"] - still["nll"])
    per_dim = table[table["column"] == "nll_per_dim"].set_index("row")["ours"]
    assert per_dim["No motion"] == pytest.approx(still["nll"] / (10 * 3 * 4 + 2))
    drawn = [
        figures.min_euclidean_figure({v: tmp_path / f"{v}.json" for v in spec.PREDICTORS}, tmp_path / "curves.png"),
        figures.samples_figure(examples, tmp_path / "samples.png"),
        figures.interpolation_figure(examples, tmp_path / "interpolation.png"),
        figures.training_figure({v: tmp_path / v for v in spec.VARIANTS}, tmp_path / "training.png"),
    ]
    assert all(p.stat().st_size > 1000 for p in drawn)


# ----------------------------------------------------------------------------- paper scale


def test_paper_scale_towers_from_the_preset_are_the_papers() -> None:
    paper = resolve("paper")
    clips = paper["clips"]["walker"]
    counts = {}
    for kind in ("cvae", "regressor"):
        cfg = walker_train.model_config(kind, (clips["height"], clips["width"]), paper["walker"]["model"])
        assert cfg == WalkerConfig(kind=kind)  # 320x240 -> 16x20, width 1, 8 latents, both fine heads
        with torch.device("meta"):
            net = WalkerNet(cfg)
        counts[kind] = {name: sum(p.numel() for p in m.parameters()) if m is not None else 0
                        for name, m in (("image tower", net.image_tower), ("encoder tower", net.encoder),
                                        ("decoder", net.decoder), ("magnitude decoder", net.magnitude_decoder),
                                        ("all", net))}
    flownet = walker_train.flownet_config(paper["walker"]["flownet"])
    assert (flownet.arch, flownet.image_size, flownet.out_size, flownet.n_clusters, flownet.width) == \
        ("alexnet", 200, 20, 40, 1.0)
    print("\nwalker parameters at paper scale:", json.dumps(counts, indent=1))
    assert counts["cvae"]["image tower"] == counts["regressor"]["image tower"]
    assert counts["regressor"]["encoder tower"] == 0 < counts["cvae"]["encoder tower"]


# ----------------------------------------------------------------------------- the graph


def snakemake(workdir: Path, *args: str) -> subprocess.CompletedProcess:
    return run_paper(workdir, "walker", *args)


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Path:
    workdir = tmp_path_factory.mktemp("walker_chain")
    run = snakemake(workdir, "results/tables/thumos_nll.csv", "results/figures/thumos_min_euclidean.png")
    assert run.returncode == 0, run.stderr[-4000:]
    return workdir


def test_chain_writes_table_1_beside_the_papers(chain: Path) -> None:
    table = pd.read_csv(chain / "results" / "tables" / "thumos_nll.csv")
    nll = table[table["column"] == "nll"].set_index("row")
    assert set(nll.index) == {"Regressor", "Optical Flow", "Ours (CVAE)", "No motion", "Mean training motion"}
    assert np.isfinite(nll["ours"]).all() and nll.loc[["Regressor", "Optical Flow", "Ours (CVAE)"], "paper"].notna().all()
    dims = 10 * 3 * 4 + 2  # the smoke coarse grid
    assert (nll["dims"] == dims).all()
    curves = table[table["column"].str.startswith("min_euclidean")]
    assert {"Ours (CVAE)", "Regressor (sampled)", "Regressor (mean)", "Optical Flow", "No motion"} <= set(curves["row"])
    assert np.isfinite(curves["ours"]).all() and curves["paper"].isna().all()
    record = json.loads((chain / "results" / "tables" / "thumos_nll.provenance.json").read_text())
    assert record["scale"] == "smoke" and {"ucf101", "thumos"} <= set(record["data_sources"])
    assert "normalisation" in record["units"] and "122 dims" in record["units"]["nll"]
    models = record["models"]
    assert len(models["models"]) == 3 and not models["mixed_code"] and not models["mixed_machines"]
    assert {m["variant"] for m in models["models"]} == {"cvae", "regressor", "flownet"} and models["code_versions"] == [record["code_version"]]


def test_a_deleted_figure_reruns_only_its_rule(chain: Path) -> None:
    figure = chain / "results" / "figures" / "thumos_min_euclidean.png"
    figure.unlink()
    dry = snakemake(chain, "-n", str(figure.relative_to(chain)))
    assert dry.returncode == 0, dry.stderr[-2000:]
    assert planned_rules(dry.stdout + dry.stderr) == {"walker_min_euclidean_figure": 1}


def test_every_job_left_a_benchmark_and_the_summary_counts_them(chain: Path) -> None:
    ran = executed_jobs(run_log(chain))
    assert ran["train_model"] == 3 and ran["clips_cut"] >= 2 and sum(ran.values()) >= 20
    root = chain / "results" / "benchmarks"
    on_disk = {rule.name: len(list(rule.rglob("*.tsv"))) for rule in root.iterdir() if rule.is_dir()}
    assert on_disk == ran  # one file per job, under its rule's name, nothing else
    assert (root / "train_model" / "walker" / "ucf101" / "cvae.tsv").is_file()  # empty {seeddir}: no stray folder
    summary, papers = time_summary.write_summary(root)
    summary = summary.set_index("rule")
    assert summary["jobs"].to_dict() == ran
    assert set(papers["group"]) <= {"walker", "stages", "report"} and "walker" in set(papers["group"])
    assert papers["jobs"].sum() == sum(ran.values())  # every job in one group
    assert (summary["total_s"] > 0).all() and abs(summary["share"].sum() - 1) < 1e-9
    assert summary["total_s"].is_monotonic_decreasing
    assert summary.loc["train_model", "max_rss_mb"] > 50  # a training job holds torch and its model
    assert pd.read_csv(root / "summary.csv")["jobs"].sum() == sum(ran.values())
    assert (root / "summary.png").stat().st_size > 5000

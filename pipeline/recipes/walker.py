"""walker in the graph: the data its models read, and how the CVAE and its baselines train.

Training data is UCF101 (all training videos but "a small hold out set for every action");
the test set is THUMOS. ``prepare`` fixes that per-class video hold-out, the mean training
frame and the flow codebook of the optical-flow baseline, once, as files every later job reads.

Three models train on the same clips, one job each:

* ``cvae`` and ``regressor`` (``pipeline.models.walker``): image (mean frame subtracted, in
  [-1, 1]) -> DCT trajectories on the 1/16 grid, then every head up to 1/4 (coarse-to-fine:
  ``coarse_steps`` on the coarse output, then ``fine_steps`` on all of them); the loss on the
  hold-out clips is logged every ``validate_every`` steps (``val_log.csv``);
* ``flownet``: the staticflow AlexNet ("the optical flow prediction network from [4], which was
  trained on the same dataset"), on the frame resized to a square, predicting a softmax over a
  flow codebook on a square grid. Its flow label is the staticflow target (mean displacement
  from the frame to each of the next three) read off the pixel trajectories, so no second flow
  computation is needed; vectors are in pixels of the walker frame.

Importing this module is cheap (no torch): Snakemake calls :func:`models` and :func:`inputs`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from pipeline.recipes.staticflow import (
    FlowNetData,
    FlowSchedule,
    batch_loader,
    holdout_videos,
    item_table,
    load_array,
    load_json,
    map_rows,
    mean_frame,
    normalize_image,
    prepared_dir,
    save_array,
    save_json,
    shards_of,
    split_rows,
    spread,
    step_batches,
    train_flow_net,
    write_csv_atomic,
)

if TYPE_CHECKING:
    import torch

    from pipeline.models.staticflow import StaticFlowConfig
    from pipeline.models.walker import WalkerConfig

log = logging.getLogger(__name__)

DATASETS: tuple[str, ...] = ("ucf101",)
TEST_DATASETS: tuple[str, ...] = ("thumos",)
VARIANTS: tuple[str, ...] = ("cvae", "regressor", "flownet")
FLOW_FRAMES = 3  # the staticflow label: mean displacement to each of the next three frames
TRAJECTORY_STEPS = 30  # offsets of frames 1..30 of the one-second clip
VALIDATION_LOG = "val_log.csv"
"""Hold-out losses every ``validate_every`` steps, beside the loop's log.csv (shows overfitting)."""


# ----------------------------------------------------------------------------- graph (cheap)


def models(datasets: Mapping[str, str]) -> list[tuple[str, str]]:
    """(dataset, variant) pairs to train: the CVAE and both baselines on UCF101 unless it is off."""
    return [(d, v) for d in DATASETS if datasets.get(d, "off") != "off" for v in VARIANTS]


def trajectory_summary(data_root: Path, dataset: str) -> str:
    """The trajectory stage's summary: written once every trajectory shard of the dataset exists."""
    return str(Path(data_root) / "trajectories" / dataset / "walker" / "summary.csv")


def prepared_files(data_root: Path, dataset: str = "ucf101") -> dict[str, str]:
    folder = prepared_dir(data_root, "walker", dataset)
    return {
        "mean_image": str(folder / "mean_image.npy"),
        "split": str(folder / "split.json"),
        "flow_codebook": str(folder / "flow_codebook.npz"),
    }


def inputs(dataset: str, variant: str, data_root: Path) -> dict[str, str]:
    """Files a training job reads (recipe contract)."""
    _check(dataset, variant)
    files = prepared_files(data_root, dataset)
    if variant != "flownet":
        files.pop("flow_codebook")
    return {"summary": trajectory_summary(data_root, dataset), **files}


def _check(dataset: str, variant: str) -> None:
    if dataset not in DATASETS:
        raise KeyError(f"walker trains on {', '.join(DATASETS)}, not {dataset!r}")
    if variant not in VARIANTS:
        raise KeyError(f"walker has no variant {variant!r}; known: {', '.join(VARIANTS)}")


# ----------------------------------------------------------------------------- data


def flow_weights(n_coefficients: int = 5) -> np.ndarray:
    """(k,) weights w with sum_k w_k c_k = mean offset over frames 1..3 of a track with DCT coefs c."""
    from pipeline.trajectories import dct_decode

    eye = np.eye(2 * n_coefficients, dtype=np.float32)[:n_coefficients]  # unit x coefficients
    basis = dct_decode(eye, TRAJECTORY_STEPS)[..., 0]  # (k, 30) x offsets of each basis track
    return basis[:, :FLOW_FRAMES].mean(axis=1)


def ramp_coefficients(n_coefficients: int = 5) -> np.ndarray:
    """(k,) DCT coefficients of the track t -> t (t = 1..30): constant unit velocity over the second."""
    from pipeline.trajectories import dct_encode

    t = np.arange(1, TRAJECTORY_STEPS + 1, dtype=np.float32)
    track = np.stack([t, np.zeros_like(t)], axis=-1)  # (30, 2), moving along x
    return dct_encode(track, n_coefficients)[:n_coefficients]


def trajectory_flow(dct: np.ndarray) -> np.ndarray:
    """DCT trajectories (..., 10) -> the staticflow label of each pixel (..., 2), in pixels."""
    dct = np.asarray(dct, np.float32)
    w = flow_weights(dct.shape[-1] // 2)
    k = len(w)
    return np.stack([dct[..., :k] @ w, dct[..., k:] @ w], axis=-1)


def flow_label_grid(dct: np.ndarray, grid: int) -> np.ndarray:
    """Per-pixel DCT (H, W, 10) -> the flow net's label field (grid, grid, 2), walker-frame pixels.

    The whole frame is area-averaged onto the square grid (cells are wider than tall at 4:3),
    as the frame itself is resized to the square input.
    """
    import cv2

    flow = trajectory_flow(dct)  # (H, W, 2)
    return cv2.resize(flow, (grid, grid), interpolation=cv2.INTER_AREA)


class WalkerFrames:
    """Trajectory shard item {"image", "dct"} -> (image (3, H, W) float32, DCT (10, H, W) float32)."""

    arrays = ("image", "dct")

    def __init__(self, mean: np.ndarray) -> None:
        self.mean = np.asarray(mean, np.float32)

    def __call__(self, item: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        dct = np.asarray(item["dct"], np.float32).transpose(2, 0, 1)  # (10, H, W)
        return normalize_image(item["image"], self.mean), dct


class FlowNetFrames:
    """Trajectory shard item -> (frame resized to (3, S, S) float32, flow label (g, g, 2) px)."""

    arrays = ("image", "dct")

    def __init__(self, mean: np.ndarray, image_size: int, grid: int) -> None:
        import cv2

        self.size, self.grid = int(image_size), int(grid)
        self.mean = cv2.resize(np.asarray(mean, np.float32), (self.size, self.size), interpolation=cv2.INTER_AREA)

    def __call__(self, item: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        import cv2

        image = cv2.resize(item["image"], (self.size, self.size), interpolation=cv2.INTER_AREA)
        return normalize_image(image, self.mean), flow_label_grid(item["dct"], self.grid)


@dataclass
class WalkerData:
    """The clips of one walker dataset: a map-style dataset, its rows per split, sizes."""

    dataset: Any  # row -> (image (3, H, W) float32, DCT (10, H, W) float32)
    rows: dict[str, np.ndarray]  # train / val (the per-class hold-out) / test
    image_size: tuple[int, int]
    paths: list[Path]


def walker_data(summary: str | Path, mean_image: str | Path, split: str | Path | None = None) -> WalkerData:
    """Trajectory shards of a dataset, normalised with the (UCF101) mean frame.

    ``split``: the prepared hold-out record; without it nothing is held out (THUMOS).
    """
    from pipeline.shards import ShardDataset

    paths = shards_of(summary)
    table = item_table(paths)
    held = load_json(split)["holdout_videos"] if split is not None else []
    dataset = ShardDataset(paths, arrays=WalkerFrames.arrays, transform=WalkerFrames(load_array(mean_image)))
    if len(dataset) != len(table):
        raise ValueError(f"{summary}: dataset of {len(dataset)} items but {len(table)} listed")
    image = dataset[0][0]
    return WalkerData(dataset, split_rows(table, held), tuple(image.shape[1:]), paths)


def flownet_data(inputs: Mapping[str, Any], image_size: int, grid: int, summary: str | None = None) -> FlowNetData:
    """The walker clips as (square frame, flow label) pairs for the flow-net baseline."""
    from pipeline.flow_codebook import load_codebook
    from pipeline.shards import ShardDataset

    summary = summary or inputs["summary"]
    paths = shards_of(summary)
    table = item_table(paths)
    held = load_json(inputs["split"])["holdout_videos"]
    transform = FlowNetFrames(load_array(inputs["mean_image"]), image_size, grid)
    dataset = ShardDataset(paths, arrays=FlowNetFrames.arrays, transform=transform)
    return FlowNetData(dataset, split_rows(table, held), load_codebook(inputs["flow_codebook"]), image_size, grid)


def prepare(summary: Path, out: Mapping[str, Path], sizes: Mapping[str, Any], seed: int) -> dict[str, Any]:
    """Per-class hold-out videos, mean training frame and the flow-net codebook of UCF101."""
    from pipeline.flow_codebook import fit_codebook, save_codebook

    data, flownet = sizes["data"], sizes["flownet"]
    paths = shards_of(summary)
    table = item_table(paths)
    held = holdout_videos(table, float(data["holdout_fraction"]))
    rows = split_rows(table, held)
    if len(rows["train"]) == 0:
        raise ValueError(f"{summary}: no training clips left after holding out {len(held)} videos")
    save_json(out["split"], {"holdout_videos": held, "holdout_fraction": float(data["holdout_fraction"]),
                             **{f"{name}_clips": int(len(r)) for name, r in rows.items()}})
    chosen = spread(rows["train"], int(data["statistics_images"]))
    save_array(out["mean_image"], mean_frame(paths, table, chosen))
    grid = int(flownet["out_size"])
    flows = map_rows(paths, table, chosen, "dct", lambda d: flow_label_grid(d, grid))  # (N, g, g, 2)
    centroids = fit_codebook(flows, int(flownet["n_clusters"]), seed,
                             int(flownet["codebook_batch"]), int(flownet["codebook_init"]))
    save_codebook(out["flow_codebook"], centroids)
    log.info("walker: %s clips, %d hold-out videos, flow codebook of %d words (slowest %.3f px)",
             {n: len(r) for n, r in rows.items()}, len(held), len(centroids), float(np.hypot(*centroids[0])))
    return {"rows": {n: len(r) for n, r in rows.items()}, "holdout_videos": len(held)}


# ----------------------------------------------------------------------------- models


def model_config(kind: str, image_size: tuple[int, int], model_sizes: Mapping[str, Any]) -> WalkerConfig:
    """The CVAE or regressor for frames of ``image_size`` (H, W) at the sizes of a scale."""
    from pipeline.models.walker import WalkerConfig

    return WalkerConfig(
        kind=kind,
        image_size=tuple(int(v) for v in image_size),
        coarse_size=tuple(int(v) for v in model_sizes["coarse_size"]),
        width=float(model_sizes["width"]),
        latent_dim=int(model_sizes["latent_dim"]),
        magnitude_latent_dim=int(model_sizes["magnitude_latent_dim"]),
        fine_levels=int(model_sizes["fine_levels"]),
    )


def flownet_config(flownet_sizes: Mapping[str, Any]) -> StaticFlowConfig:
    """The staticflow AlexNet of the optical-flow baseline."""
    from pipeline.models.staticflow import StaticFlowConfig

    return StaticFlowConfig(arch="alexnet", image_size=int(flownet_sizes["image_size"]),
                            out_size=int(flownet_sizes["out_size"]), n_clusters=int(flownet_sizes["n_clusters"]),
                            width=float(flownet_sizes["width"]))


class _TrajectoryBatches:
    """(images, full-resolution DCT) batches -> (images, DCT on the grid of the step's stage).

    Steps before ``coarse_steps`` train the coarse head only; later steps every head up to
    ``fine_level`` (coarse-to-fine). The level is a function of the step, so a resumed job
    trains as an uninterrupted one.
    """

    def __init__(self, batches: Iterator[Any], cfg: WalkerConfig, start: int, coarse_steps: int) -> None:
        self.batches, self.cfg, self.step, self.coarse_steps = batches, cfg, start, coarse_steps

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        from pipeline.models.walker import downsample_trajectories

        for images, dct in self.batches:
            level = 0 if self.step < self.coarse_steps else self.cfg.fine_levels
            yield images, downsample_trajectories(dct, self.cfg, level)  # (B, 10, h, w)
            self.step += 1


def training_sizes(sizes: Mapping[str, Any], dataset: str, variant: str) -> dict[str, Any]:
    """Recipe contract: the flow-net baseline reads ``flownet``, the CVAE and regressor ``model``."""
    key = "flownet" if variant == "flownet" else "model"
    return {key: sizes[key], "train": sizes["train"]}


def train(
    dataset: str,
    variant: str,
    inputs: Mapping[str, Any],
    out_dir: Path,
    sizes: Mapping[str, Any],
    seed: int,
    device: str,
) -> Path:
    """Recipe contract: train the CVAE, the regressor or the flow-net baseline on ``dataset``."""
    _check(dataset, variant)
    out_dir = Path(out_dir)
    if variant == "flownet":
        f = sizes["flownet"]
        cfg = flownet_config(f)
        data = flownet_data(inputs, cfg.image_size, cfg.out_size)
        schedule = FlowSchedule(batch_size=int(f["batch_size"]), epochs=int(f["epochs"]), decay_after_epochs=0,
                                epoch_eval_images=int(f["epoch_eval_images"]),
                                checkpoint_every=int(sizes["train"]["checkpoint_every"]),
                                log_every=int(sizes["train"]["log_every"]), workers=int(sizes["train"]["workers"]))
        return train_flow_net(cfg, data, schedule, out_dir, seed, device)

    import torch

    from pipeline.models.walker import WalkerNet, make_optimizer, walker_model_config
    from pipeline.training import TrainConfig, fit

    t = sizes["train"]
    data = walker_data(inputs["summary"], inputs["mean_image"], inputs["split"])
    cfg = model_config(variant, data.image_size, sizes["model"])
    coarse, fine = int(t["coarse_steps"]), int(t["fine_steps"]) if cfg.fine_levels else 0
    train_rows = data.rows["train"]
    batch = min(int(t["batch_size"]), len(train_rows))
    torch.manual_seed(seed)  # the initial weights are a function of the seed
    model = WalkerNet(cfg)
    optimizer = make_optimizer(model, float(t["lr"]))

    def batches(start: int) -> Iterator[Any]:
        loader = batch_loader(data.dataset, step_batches(train_rows, batch, seed, start), int(t["workers"]))
        return iter(_TrajectoryBatches(loader, cfg, start, coarse))

    log.info("walker %s: %d training clips of %s, coarse grid %s, %d coarse + %d fine steps of %d",
             variant, len(train_rows), data.image_size, cfg.coarse_size, coarse, fine, batch)
    total, every = coarse + fine, int(t["validate_every"])
    ends = sorted({*range(every, total, every), total}) if every > 0 and len(data.rows["val"]) else [total]
    val_path = Path(out_dir) / VALIDATION_LOG
    records = pd.read_csv(val_path).to_dict("records") if val_path.exists() else []
    done = {int(r["step"]) for r in records}
    path = Path(out_dir) / "model.pt"
    for end in ends:
        if end in done and end != total:
            continue
        train_cfg = TrainConfig(steps=end, checkpoint_every=int(t["checkpoint_every"]),
                                log_every=int(t["log_every"]), seed=seed, device=device)
        path = fit(model, optimizer, batches, train_cfg, out_dir, walker_model_config(cfg))
        if len(ends) > 1 and end not in done:
            level = 0 if end <= coarse else cfg.fine_levels
            scores = holdout_losses(model, data, batch, level, seed)
            records.append({"step": end, **scores})
            write_csv_atomic(pd.DataFrame.from_records(records), val_path)
            log.info("step %d: hold-out %s", end, {k: round(v, 3) for k, v in scores.items()})
    return path


def holdout_losses(model: Any, data: WalkerData, batch_size: int, level: int, seed: int) -> dict[str, float]:
    """The training loss and its terms on the hold-out clips (eval mode), a point of the validation curve.

    Run under a forked RNG seeded with ``seed``: the CVAE's posterior sample draws from it, and
    the training run must not see those draws.
    """
    import torch

    from pipeline.models.walker import downsample_trajectories

    rows = data.rows["val"]
    sums: dict[str, float] = {}
    was_training = model.training
    model.eval()
    try:
        with torch.random.fork_rng(devices=[]), torch.no_grad():
            torch.manual_seed(seed)
            for start in range(0, len(rows), batch_size):
                items = [data.dataset[int(r)] for r in rows[start : start + batch_size]]
                images = torch.from_numpy(np.stack([i[0] for i in items]))
                dct = torch.from_numpy(np.stack([i[1] for i in items]))
                out = model.training_step((images, downsample_trajectories(dct, model.cfg, level)))
                for key, value in out.items():
                    sums[key] = sums.get(key, 0.0) + float(value) * len(items)
    finally:
        model.train(was_training)
    return {key: total / len(rows) for key, total in sums.items()}

"""staticflow in the graph: the data its two nets read, and how they train.

The paper shuffles every frame into train / validation / test. Our manifest already splits
HMDB-51 by video (official split: train / test), so the test set is the official test videos
and the validation set is a small hold-out of whole training videos per class: frames of one
video never straddle two sets (the paper's frame shuffle would put near-duplicate neighbouring
frames on both sides). ``prepare`` fixes that hold-out, the mean training frame and the 40-word
flow codebook once, as files every later job reads; training then follows the paper (spatial
softmax cross-entropy summed over the grid, Adam, the per-net lr / L2 / decay schedule), in
epochs, scoring the validation set and a fixed slice of the training set after each epoch
(``epoch_log.csv`` beside ``log.csv``: the curves of the paper's Figs. 6-8).

Labels live on the all-conv output grid (``flow_grid`` of the flow shards, 20x20 at the paper's
200x200), with vectors in input-image pixels: "the flow at pixels spaced 10 units apart".

The helpers for shard lists, per-class video hold-outs, mean frames and step-indexed batches
are shared with walker (whose optical-flow baseline is this paper's AlexNet).
Importing this module is cheap (no torch): Snakemake calls :func:`models` and :func:`inputs`
while it builds the graph.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    import torch

    from pipeline.models.staticflow import StaticFlowConfig, StaticFlowNet

log = logging.getLogger(__name__)

DATASETS: tuple[str, ...] = ("hmdb51",)
ARCHS: tuple[str, ...] = ("alexnet", "allconv")
BASELINES: tuple[str, ...] = ("nomotion", "prior")
PREDICTORS: tuple[str, ...] = ARCHS + BASELINES
"""Scored predictors: the two nets, "no motion" everywhere and the training class frequencies."""
EPOCH_LOG = "epoch_log.csv"
"""Per-epoch scores of the training slice and the validation set, beside the loop's log.csv."""


# ----------------------------------------------------------------------------- graph (cheap)


def models(datasets: Mapping[str, str]) -> list[tuple[str, str]]:
    """(dataset, variant) pairs to train: both nets on HMDB-51 unless it is off."""
    return [(d, arch) for d in DATASETS if datasets.get(d, "off") != "off" for arch in ARCHS]


def prepared_dir(data_root: Path, paper: str, dataset: str) -> Path:
    """Where a paper's training-set statistics (hold-out, mean frame, codebook) live."""
    return Path(data_root) / "prepared" / paper / dataset


def prepared_files(data_root: Path, dataset: str) -> dict[str, str]:
    folder = prepared_dir(data_root, "staticflow", dataset)
    return {
        "codebook": str(folder / "codebook.npz"),
        "mean_image": str(folder / "mean_image.npy"),
        "split": str(folder / "split.json"),
    }


def flow_summary(data_root: Path, dataset: str) -> str:
    """The flow stage's summary: written once every flow shard of the dataset exists."""
    return str(Path(data_root) / "flow" / dataset / "staticflow" / "summary.csv")


def inputs(dataset: str, variant: str, data_root: Path) -> dict[str, str]:
    """Files a training job reads (recipe contract)."""
    _check(dataset, variant)
    return {"summary": flow_summary(data_root, dataset), **prepared_files(data_root, dataset)}


def _check(dataset: str, variant: str) -> None:
    if dataset not in DATASETS:
        raise KeyError(f"staticflow has no dataset {dataset!r}; known: {', '.join(DATASETS)}")
    if variant not in ARCHS:
        raise KeyError(f"staticflow has no variant {variant!r}; known: {', '.join(ARCHS)}")


# ----------------------------------------------------------------------------- shared data helpers


def shards_of(summary_csv: str | Path) -> list[Path]:
    """Shard paths a stage summary lists (the summary sits beside its shards)."""
    summary_csv = Path(summary_csv)
    table = pd.read_csv(summary_csv)
    if "shard" not in table.columns:
        raise KeyError(f"{summary_csv} has no 'shard' column; is it a stage summary?")
    return [summary_csv.parent / str(name) for name in table["shard"]]


def item_table(paths: Sequence[Path]) -> pd.DataFrame:
    """One row per item of the shards, in ``ShardDataset(paths)`` order (row = dataset index).

    Columns: shard, item, video_id, label, split (name).
    """
    from pipeline.shards import SPLITS, open_shard, shard_length

    frames = []
    for shard_id, path in enumerate(paths):
        group = open_shard(path)
        n = shard_length(group)
        if n == 0:
            continue
        videos = list(group.attrs.get("videos", []))
        video_index = np.asarray(group["video_index"][:])
        names = [videos[v] if 0 <= v < len(videos) else f"{Path(path).name}:{v}" for v in video_index]
        frames.append(pd.DataFrame({
            "shard": shard_id,
            "item": np.arange(n),
            "video_id": names,
            "label": np.asarray(group["label"][:]),
            "split": [SPLITS[s] for s in np.asarray(group["split"][:])],
        }))
    if not frames:
        raise ValueError(f"no items in any of the {len(paths)} shards (first: {paths[0] if paths else None})")
    return pd.concat(frames, ignore_index=True)


def _stable_rank(name: str) -> str:
    return hashlib.md5(name.encode()).hexdigest()


def holdout_videos(table: pd.DataFrame, fraction: float) -> list[str]:
    """A small hold-out of whole training videos, spread over the classes ("a small hold out set
    for every action"): ``round(fraction * n)`` of the n training videos (at least one), taken
    class by class in turn so every class gives one before any gives two, never a class's last
    video. Within a class videos are ranked by a hash of their id, so the choice depends neither
    on the shard layout nor on the seed."""
    train = table[table["split"] == "train"]
    queues = [sorted(set(g["video_id"]), key=_stable_rank) for _, g in train.groupby("label", sort=True)]
    total = sum(len(q) for q in queues)
    k = min(max(int(round(fraction * total)), 1), total - 1) if fraction > 0 and total >= 2 else 0
    held: list[str] = []
    depth = 0
    while len(held) < k and any(depth < len(q) - 1 for q in queues):
        for queue in queues:
            if depth < len(queue) - 1 and len(held) < k:
                held.append(queue[depth])
        depth += 1
    return sorted(held)


def split_rows(table: pd.DataFrame, held: Sequence[str]) -> dict[str, np.ndarray]:
    """Dataset rows of train (minus the hold-out), val (the hold-out) and test."""
    is_held = table["video_id"].isin(set(held)).to_numpy()
    is_train = (table["split"] == "train").to_numpy()
    return {
        "train": np.flatnonzero(is_train & ~is_held),
        "val": np.flatnonzero(is_train & is_held),
        "test": np.flatnonzero((table["split"] == "test").to_numpy()),
    }


def read_rows(paths: Sequence[Path], table: pd.DataFrame, rows: np.ndarray, name: str) -> np.ndarray:
    """Array ``name`` of the given dataset rows, read shard by shard (rows keep their order).

    A shard whose rows are a small part of it is read item by item, not whole.
    """
    from pipeline.shards import open_shard

    rows = np.asarray(rows, np.int64)
    sub = table.iloc[rows]
    out: np.ndarray | None = None
    for shard_id, group in sub.groupby("shard", sort=False):
        array = open_shard(paths[int(shard_id)])[name]
        items = group["item"].to_numpy()
        if 4 * len(items) >= array.shape[0]:
            data = np.asarray(array[:])[items]
        else:
            data = np.stack([np.asarray(array[int(i)]) for i in items])
        if out is None:
            out = np.empty((len(rows), *data.shape[1:]), data.dtype)
        out[np.flatnonzero(sub["shard"].to_numpy() == shard_id)] = data
    if out is None:
        raise ValueError(f"read_rows: no rows to read for {name!r}")
    return out


def map_rows(
    paths: Sequence[Path], table: pd.DataFrame, rows: np.ndarray, name: str, fn: Callable[[np.ndarray], np.ndarray]
) -> np.ndarray:
    """``fn`` of array ``name`` of each dataset row, one item in memory at a time, stacked in row order."""
    from pipeline.shards import open_shard

    rows = np.asarray(rows, np.int64)
    out: list[np.ndarray | None] = [None] * len(rows)
    sub = table.iloc[rows].assign(position=np.arange(len(rows)))
    for shard_id, group in sub.groupby("shard", sort=True):
        array = open_shard(paths[int(shard_id)])[name]
        for item, position in zip(group["item"].to_numpy(), group["position"].to_numpy()):
            out[int(position)] = fn(np.asarray(array[int(item)]))
    if not out:
        raise ValueError(f"map_rows: no rows to read for {name!r}")
    return np.stack(out)


def spread(rows: np.ndarray, n: int) -> np.ndarray:
    """At most ``n`` rows evenly spread over ``rows`` (all when n is 0 or larger than len)."""
    rows = np.asarray(rows)
    if n <= 0 or n >= len(rows):
        return rows
    return rows[np.linspace(0, len(rows) - 1, n).round().astype(int)]


def mean_frame(paths: Sequence[Path], table: pd.DataFrame, rows: np.ndarray, max_images: int = 0) -> np.ndarray:
    """The mean training frame (H, W, 3) float32 in 0..255, over at most ``max_images`` frames."""
    from pipeline.shards import open_shard

    chosen = spread(rows, max_images)
    total, count = None, 0
    sub = table.iloc[chosen]
    for shard_id, group in sub.groupby("shard", sort=True):
        images = open_shard(paths[int(shard_id)])["image"]
        for item in group["item"].to_numpy():
            image = np.asarray(images[int(item)], np.float64)
            total = image if total is None else total + image
            count += 1
    if total is None:
        raise ValueError("mean_frame: no training frames")
    return (total / count).astype(np.float32)


def _atomic_write(path: Path, write: Callable[[Any], None], mode: str = "wb") -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, mode) as handle:
            write(handle)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def save_array(path: str | Path, array: np.ndarray) -> None:
    """``np.save`` published atomically."""
    _atomic_write(Path(path), lambda h: np.save(h, np.asarray(array)))


def load_array(path: str | Path) -> np.ndarray:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no array file at {path}")
    return np.load(path, allow_pickle=False)


def save_json(path: str | Path, record: Mapping[str, Any]) -> None:
    """A JSON record published atomically."""
    _atomic_write(Path(path), lambda h: h.write(json.dumps(record, indent=2, default=float)), mode="w")


def load_json(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no JSON record at {path}")
    return json.loads(path.read_text())


def write_csv_atomic(frame: pd.DataFrame, path: Path) -> None:
    _atomic_write(Path(path), lambda h: frame.to_csv(h, index=False), mode="w")


def steps_per_epoch(n_items: int, batch_size: int) -> int:
    """Full batches per pass over the items (the last partial batch is dropped), at least 1."""
    return max(1, n_items // max(1, batch_size))


def step_batches(rows: np.ndarray, batch_size: int, seed: int, start_step: int = 0) -> Iterator[list[int]]:
    """Dataset rows of the batches of steps ``start_step``, ``start_step + 1``, ... (endless).

    Epoch e visits the rows in a permutation drawn from (seed, e) alone, so the batches of any
    step are known without replaying the ones before: what a resumed training job needs.
    """
    rows = np.asarray(rows, np.int64)
    if len(rows) == 0:
        raise ValueError("step_batches: no training rows")
    size = min(batch_size, len(rows))
    per_epoch = steps_per_epoch(len(rows), size)
    step = start_step
    while True:
        epoch, k = divmod(step, per_epoch)
        order = np.random.default_rng([seed, epoch]).permutation(rows)
        yield order[k * size : (k + 1) * size].tolist()
        step += 1


def batch_loader(dataset: Any, batches: Iterator[list[int]], workers: int = 0) -> Iterator[Any]:
    """Collated batches of a map-style dataset in the given index order (workers read ahead).

    The loader gets a generator of its own: otherwise starting it draws from the global torch RNG,
    and a resumed job (which starts one more loader) would draw other dropout masks and latents.
    """
    import torch
    from torch.utils.data import DataLoader

    return iter(DataLoader(dataset, batch_sampler=batches, num_workers=workers, generator=torch.Generator(),
                           persistent_workers=False, prefetch_factor=2 if workers else None))


# ----------------------------------------------------------------------------- staticflow data


def label_flow(flow_grid: np.ndarray, image_size: int) -> np.ndarray:
    """Flow shard's label-grid flow (grid pixels) -> input-image pixels, (..., g, g, 2) float32."""
    flow_grid = np.asarray(flow_grid, np.float32)
    return flow_grid * (image_size / flow_grid.shape[-2])


def normalize_image(image: np.ndarray, mean: np.ndarray) -> np.ndarray:
    """uint8 frame (H, W, 3) -> (3, H, W) float32: mean frame subtracted, in [-1, 1]."""
    return ((np.asarray(image, np.float32) - mean) / 255.0).transpose(2, 0, 1)


class FlowFrames:
    """Shard item {"image", "flow_grid"} -> (image (3, S, S) float32, flow (g, g, 2) px float32)."""

    arrays = ("image", "flow_grid")

    def __init__(self, mean: np.ndarray) -> None:
        self.mean = np.asarray(mean, np.float32)

    def __call__(self, item: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        image = item["image"]
        return normalize_image(image, self.mean), label_flow(item["flow_grid"], image.shape[0])


@dataclass
class FlowNetData:
    """What a flow net trains and is scored on: a dataset of (image, flow) pairs and its rows."""

    dataset: Any  # map-style: row -> (image (3, S, S) float32, flow (g, g, 2) float32 px)
    rows: dict[str, np.ndarray]  # train / val (/ test) dataset rows
    centroids: np.ndarray  # (K, 2) flow codebook, px
    image_size: int
    grid: int


def staticflow_data(inputs: Mapping[str, Any]) -> FlowNetData:
    """The HMDB-51 flow shards with the prepared hold-out, mean frame and codebook."""
    from pipeline.flow_codebook import load_codebook
    from pipeline.shards import ShardDataset, open_shard

    paths = shards_of(inputs["summary"])
    table = item_table(paths)
    split = load_json(inputs["split"])
    rows = split_rows(table, split["val_videos"])
    first = open_shard(paths[int(table["shard"].iloc[0])])
    image_size, grid = int(first["image"].shape[1]), int(first["flow_grid"].shape[1])
    dataset = ShardDataset(paths, arrays=FlowFrames.arrays, transform=FlowFrames(load_array(inputs["mean_image"])))
    if len(dataset) != len(table):
        raise ValueError(f"{inputs['summary']}: dataset of {len(dataset)} items but {len(table)} listed")
    return FlowNetData(dataset, rows, load_codebook(inputs["codebook"]), image_size, grid)


def prepare(summary: Path, out: Mapping[str, Path], sizes: Mapping[str, Any], seed: int) -> dict[str, Any]:
    """Hold-out videos, mean training frame and flow codebook of the staticflow training set.

    The codebook is minibatch k-means over every training flow vector of the label grid.
    """
    from pipeline.flow_codebook import fit_codebook, save_codebook

    data, k = sizes["data"], int(sizes["model"]["n_clusters"])
    paths = shards_of(summary)
    table = item_table(paths)
    held = holdout_videos(table, float(data["val_fraction"]))
    rows = split_rows(table, held)
    if len(rows["train"]) == 0:
        raise ValueError(f"{summary}: no training frames left after holding out {len(held)} videos")
    save_json(out["split"], {"val_videos": held, "val_fraction": float(data["val_fraction"]),
                             **{f"{name}_frames": int(len(r)) for name, r in rows.items()}})
    save_array(out["mean_image"], mean_frame(paths, table, rows["train"], int(data["mean_images"])))
    grids = read_rows(paths, table, rows["train"], "flow_grid")  # (N, g, g, 2) grid px
    image_size = int(np.asarray(_first_image_shape(paths, table))[0])
    centroids = fit_codebook(label_flow(grids, image_size), k, seed,
                             int(data["codebook_batch"]), int(data["codebook_init"]))
    save_codebook(out["codebook"], centroids)
    log.info("staticflow: %s frames; %d val videos; codebook of %d words, slowest %.3f px",
             {n: len(r) for n, r in rows.items()}, len(held), k, float(np.hypot(*centroids[0])))
    return {"rows": {n: len(r) for n, r in rows.items()}, "val_videos": len(held)}


def _first_image_shape(paths: Sequence[Path], table: pd.DataFrame) -> tuple[int, ...]:
    from pipeline.shards import open_shard

    return tuple(open_shard(paths[int(table["shard"].iloc[0])])["image"].shape[1:])


# ----------------------------------------------------------------------------- training


@dataclass
class FlowSchedule:
    """How long and in which batches a flow net trains (sizes of a scale)."""

    batch_size: int
    epochs: int
    decay_after_epochs: int  # all-conv lr / 10 after this many epochs (paper: 3)
    epoch_eval_images: int  # training frames re-scored after each epoch (curves)
    checkpoint_every: int
    log_every: int
    workers: int = 0


def model_config(arch: str, image_size: int, grid: int, model_sizes: Mapping[str, Any]) -> StaticFlowConfig:
    """The net of ``arch`` for square inputs of ``image_size`` and a ``grid`` x ``grid`` label field."""
    from pipeline.models.staticflow import StaticFlowConfig

    return StaticFlowConfig(arch=arch, image_size=int(image_size), out_size=int(grid),
                            n_clusters=int(model_sizes["n_clusters"]), width=float(model_sizes["width"]))


def predict_probs(
    model: StaticFlowNet, dataset: Any, rows: np.ndarray, batch_size: int, device: torch.device | str = "cpu"
) -> tuple[np.ndarray, np.ndarray]:
    """Softmax of the net over dataset rows: -> probs (N, K, g, g) float32, true flow (N, g, g, 2)."""
    import torch

    model = model.to(device)
    probs, flows = [], []
    rows = np.asarray(rows, np.int64)
    for start in range(0, len(rows), batch_size):
        batch = [dataset[int(r)] for r in rows[start : start + batch_size]]
        images = torch.from_numpy(np.stack([b[0] for b in batch]))  # (b, 3, S, S)
        probs.append(model.predict(images).cpu().numpy())  # (b, K, g, g)
        flows.append(np.stack([b[1] for b in batch]))  # (b, g, g, 2)
    return np.concatenate(probs), np.concatenate(flows)


def cross_entropy(probs: np.ndarray, labels: np.ndarray) -> float:
    """The training loss on scored frames: -log p(true class) summed over the grid, mean over frames."""
    p = np.take_along_axis(probs, labels[:, None], axis=1)[:, 0]  # (N, g, g)
    return float(-np.log(np.maximum(p, 1e-12)).sum(axis=(1, 2)).mean())


def epoch_scores(
    model: StaticFlowNet, data: FlowNetData, rows: np.ndarray, batch_size: int, device: torch.device | str
) -> dict[str, float]:
    """Loss and every scalar metric of Tables 3-4 on ``rows`` (one point of the Figs. 6-8 curves)."""
    from pipeline.evaluation.staticflow import evaluate_staticflow
    from pipeline.flow_codebook import assign_labels

    probs, flow = predict_probs(model, data.dataset, rows, batch_size, device)
    labels = assign_labels(flow, data.centroids)
    scores = evaluate_staticflow(probs, labels, flow, data.centroids)
    return {"loss": cross_entropy(probs, labels), **scores.row()}


class _LabelledBatches:
    """(images, flow) batches -> (images, codebook labels) as ``StaticFlowNet.training_step`` takes."""

    def __init__(self, batches: Iterator[Any], centroids: np.ndarray) -> None:
        self.batches, self.centroids = batches, centroids

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        import torch

        from pipeline.flow_codebook import assign_labels

        for images, flow in self.batches:
            yield images, torch.from_numpy(assign_labels(flow.numpy(), self.centroids))


def train_flow_net(
    cfg: StaticFlowConfig,
    data: FlowNetData,
    schedule: FlowSchedule,
    out_dir: Path,
    seed: int,
    device: str,
) -> Path:
    """Train a flow net with the paper's optimiser, epoch by epoch, scoring after each epoch.

    Each epoch is one call of the training loop up to that epoch's last step, so a killed job
    resumes inside its epoch from the last checkpoint; epochs already scored are skipped.
    """
    import dataclasses

    from pipeline.models.staticflow import StaticFlowNet, make_optimizer, paper_optim, staticflow_model_config
    from pipeline.training import TrainConfig, fit, resolve_device

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    train_rows = data.rows["train"]
    batch = min(schedule.batch_size, len(train_rows))
    per_epoch = steps_per_epoch(len(train_rows), batch)
    opt = paper_optim(cfg.arch, per_epoch)
    if opt.decay_after_steps is not None:
        opt = dataclasses.replace(opt, decay_after_steps=schedule.decay_after_epochs * per_epoch)
    import torch

    torch.manual_seed(seed)  # the initial weights are a function of the seed
    model = StaticFlowNet(cfg)
    optimizer, scheduler = make_optimizer(model, opt)
    model_config = staticflow_model_config(cfg)
    dev = resolve_device(device)
    eval_sets = {"train": spread(train_rows, schedule.epoch_eval_images), "val": data.rows["val"]}

    def batches(start: int) -> Iterator[Any]:
        loader = batch_loader(data.dataset, step_batches(train_rows, batch, seed, start), schedule.workers)
        return iter(_LabelledBatches(loader, data.centroids))

    log_path = out_dir / EPOCH_LOG
    done = pd.read_csv(log_path) if log_path.exists() else pd.DataFrame()
    records = done.to_dict("records") if len(done) else []
    finished = {int(r["epoch"]) for r in records}
    log.info("%s: %d training frames, %d steps per epoch of %d, %d epochs, optimiser %s",
             cfg.arch, len(train_rows), per_epoch, batch, schedule.epochs, opt)
    path = out_dir / "model.pt"
    for epoch in range(1, schedule.epochs + 1):
        if epoch in finished:
            continue
        train_cfg = TrainConfig(steps=epoch * per_epoch, checkpoint_every=schedule.checkpoint_every,
                                log_every=schedule.log_every, seed=seed, device=device)
        path = fit(model, optimizer, batches, train_cfg, out_dir, model_config, scheduler)
        for name, rows in eval_sets.items():
            if len(rows):
                scores = epoch_scores(model, data, rows, max(batch, 16), dev)
                records.append({"epoch": epoch, "step": epoch * per_epoch, "set": name, **scores})
        write_csv_atomic(pd.DataFrame.from_records(records), log_path)
        last = {r["set"]: r for r in records if r["epoch"] == epoch}
        log.info("epoch %d: %s", epoch, {s: f"loss {r['loss']:.3g} top1 {r['top1']:.3f} recall {r['recall']:.3f}"
                                         for s, r in last.items()})
    if not (out_dir / "model.pt").exists():  # every epoch was already scored: publish the weights
        path = fit(model, optimizer, batches, TrainConfig(steps=schedule.epochs * per_epoch,
                   checkpoint_every=schedule.checkpoint_every, log_every=schedule.log_every, seed=seed,
                   device=device), out_dir, model_config, scheduler)
    return path


def schedule_of(sizes: Mapping[str, Any], arch: str) -> FlowSchedule:
    t = sizes["train"]
    return FlowSchedule(batch_size=int(t["batch_size"]), epochs=int(t["epochs"][arch]),
                        decay_after_epochs=int(t["decay_after_epochs"]),
                        epoch_eval_images=int(t["epoch_eval_images"]),
                        checkpoint_every=int(t["checkpoint_every"]), log_every=int(t["log_every"]),
                        workers=int(t.get("workers", 0)))


def training_sizes(sizes: Mapping[str, Any], dataset: str, variant: str) -> dict[str, Any]:
    """Recipe contract: a net reads the model widths and its own schedule."""
    return {"model": sizes["model"], "train": {**sizes["train"], "epochs": {variant: sizes["train"]["epochs"][variant]}}}


def train(
    dataset: str,
    variant: str,
    inputs: Mapping[str, Any],
    out_dir: Path,
    sizes: Mapping[str, Any],
    seed: int,
    device: str,
) -> Path:
    """Recipe contract: train the ``variant`` net (alexnet | allconv) on ``dataset``."""
    _check(dataset, variant)
    data = staticflow_data(inputs)
    cfg = model_config(variant, data.image_size, data.grid, sizes["model"])
    if len(data.centroids) != cfg.n_clusters:
        raise ValueError(f"{inputs['codebook']} has {len(data.centroids)} words, the model {cfg.n_clusters}")
    return train_flow_net(cfg, data, schedule_of(sizes, variant), Path(out_dir), seed, device)


def param_count(model: torch.nn.Module) -> int:
    return int(sum(p.numel() for p in model.parameters()))

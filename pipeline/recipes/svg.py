"""The svg paper (Denton & Fergus 2018) in the graph: which models, fed from what, scored how.

Training (the recipe contract of ``pipeline.recipes``): SM-MNIST trains on sequences generated
on the fly (as the paper does), batch k a function of (seed, k) only, so a resumed job sees the
batches the killed one would have; KTH and BAIR train on random windows of the training clips
of their Zarr shards, also drawn from (seed, step). The other stages of the paper (evaluation,
Fig. 5 and 6 data, tables, GIFs, BAIR TFRecords -> shards) are the functions below, each called
by one rule of ``workflow/rules/svg.smk`` and reading only files the graph names.

Importing this module is cheap (no torch): Snakemake calls :func:`models` and :func:`inputs`
while it builds the graph. Everything heavy is imported inside the functions that need it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import pandas as pd
    import torch

    from pipeline.models.svg import SVG, SVGConfig
    from pipeline.synthetic.smmnist import SMMNISTConfig

log = logging.getLogger(__name__)

DATASETS: tuple[str, ...] = ("smmnist", "kth", "bair")
EVALUATED: tuple[str, ...] = ("deterministic", "fp", "lp")
"""Variants scored per frame (Fig. 7, 8); ``lp1`` (single-digit SM-MNIST) only serves Fig. 5."""

VARIANTS: dict[str, tuple[str, int | None]] = {
    # name -> (SVGConfig.variant, SM-MNIST digits per sequence; None: the test set's count)
    "deterministic": ("deterministic", None),
    "fp": ("fp", None),
    "lp": ("lp", None),
    "lp1": ("lp", 1),
}
BACKBONES: dict[str, tuple[str, int]] = {
    # dataset -> (frame encoder/decoder family, image channels); Sec. 4.1
    "smmnist": ("dcgan", 1),
    "kth": ("vgg", 1),  # KTH is grey-level video
    "bair": ("vgg", 3),
}
TABLES: dict[str, tuple[str, tuple[str, ...]]] = {
    # dataset -> (results/tables/<name>.csv and figures/<name>.png, metrics it holds)
    "smmnist": ("smmnist_ssim", ("ssim",)),  # Fig. 7 left
    "kth": ("kth_ssim", ("ssim",)),  # Fig. 7 right
    "bair": ("bair_ssim_psnr", ("ssim", "psnr")),  # Fig. 8
}
SMMNIST_SETS: tuple[str, ...] = ("synchronized", "sharedstart")
"""Extra SM-MNIST sets: Fig. 6 (one trajectory, many digits) and Fig. 5 (one start, one digit)."""


# ----------------------------------------------------------------------------- graph (cheap)


def models(datasets: Mapping[str, str]) -> list[tuple[str, str]]:
    """(dataset, variant) pairs to train, for the datasets whose source is not ``off``."""
    pairs = []
    for dataset in DATASETS:
        if datasets.get(dataset, "off") == "off":
            continue
        pairs += [(dataset, v) for v in EVALUATED]
        if dataset == "smmnist":
            pairs.append((dataset, "lp1"))
    return pairs


def data_inputs(dataset: str, data_root: Path) -> dict[str, str]:
    """The data files of a dataset that training and evaluation read."""
    root = Path(data_root) / "clips" / dataset / "svg"
    if dataset == "smmnist":
        # The saved test set fixes the digit source (sklearn or MNIST) for training too.
        return {"test_set": str(root / "test.zarr")}
    if dataset == "kth":
        return {"index": str(root / "index.csv")}  # written once every KTH clip shard exists
    if dataset == "bair":
        return {"shards": str(root)}
    raise KeyError(f"svg has no dataset {dataset!r}; known: {', '.join(DATASETS)}")


def inputs(dataset: str, variant: str, data_root: Path) -> dict[str, str]:
    """Files a training job reads (recipe contract)."""
    _check(dataset, variant)
    return data_inputs(dataset, data_root)


def _check(dataset: str, variant: str) -> None:
    if dataset not in DATASETS:
        raise KeyError(f"svg has no dataset {dataset!r}; known: {', '.join(DATASETS)}")
    if variant not in VARIANTS or (variant == "lp1" and dataset != "smmnist"):
        known = ", ".join(v for v in VARIANTS if v != "lp1" or dataset == "smmnist")
        raise KeyError(f"svg {dataset} has no variant {variant!r}; known: {known}")


# ----------------------------------------------------------------------------- models


def model_config(dataset: str, variant: str, sizes: Mapping[str, Any]) -> SVGConfig:
    """The SVGConfig of one (dataset, variant) at the sizes of a scale (``SIZES['svg']``)."""
    from pipeline.models.svg import SVGConfig

    _check(dataset, variant)
    backbone, channels = BACKBONES[dataset]
    m = sizes[dataset]["model"]
    return SVGConfig(
        variant=VARIANTS[variant][0], backbone=backbone, channels=channels,
        width=int(m["width"]), g_dim=int(m["g_dim"]), z_dim=int(m["z_dim"]), rnn_size=int(m["rnn_size"]),
        n_past=int(m["n_past"]), n_future=int(m["n_future"]), beta=float(m["beta"]), lr=float(m["lr"]),
    )


def _load(model_path: str | Path, device: str) -> SVG:
    from pipeline.models.svg import build_svg
    from pipeline.training import load_model, resolve_device

    return load_model(Path(model_path), build_svg).to(resolve_device(device))


# ----------------------------------------------------------------------------- data


def smmnist_digits(test_set: str | Path, split: str) -> np.ndarray:
    """Digit pool (M, 32, 32) of the source the saved test set was made from (its ``source`` attr).

    The data stage fetched that source already, so this only reads it.
    """
    from pipeline.data import digit_pool
    from pipeline.shards import open_shard

    test_set = Path(test_set)
    attrs = open_shard(test_set).attrs
    data_root = test_set.parents[3]  # <data_root>/clips/smmnist/svg/test.zarr
    return digit_pool({"source": attrs.get("source", "synthetic")}, data_root, split, int(attrs["config"]["digit_size"]))


def smmnist_config(test_set: str | Path, seq_len: int, num_digits: int | None = None) -> SMMNISTConfig:
    """The test set's SM-MNIST definition with another length (and digit count)."""
    from pipeline.shards import open_shard
    from pipeline.synthetic.smmnist import SMMNISTConfig

    saved = dict(open_shard(test_set).attrs["config"])
    saved["seq_len"] = int(seq_len)
    if num_digits is not None:
        saved["num_digits"] = int(num_digits)
    return SMMNISTConfig(**saved)


def to_channels(frames: np.ndarray, channels: int) -> np.ndarray:
    """uint8 clips (..., H, W, 3) -> (..., H, W) grey (1 channel, luminance) or unchanged RGB."""
    if channels == 3:
        return frames
    from skimage.color import rgb2gray

    return np.round(rgb2gray(frames) * 255.0).astype(np.uint8)


def clip_dataset(data: Mapping[str, str], split: str):
    """The ``split`` clips of a KTH (clip index) or BAIR (shard folder) input, as a ShardDataset."""
    import pandas as pd

    from pipeline.shards import ShardDataset

    index = Path(data["index"]) if "index" in data else Path(data["shards"]) / "index.csv"
    table = pd.read_csv(index, keep_default_na=False)
    names = sorted({str(s) for s in table["shard"] if str(s)})
    if not names:
        raise FileNotFoundError(f"{index} lists no clip shard")
    dataset = ShardDataset([index.parent / n for n in names], arrays=("frames",), split=split)
    if len(dataset) == 0:
        raise ValueError(f"no {split} clips in the shards listed by {index}")
    return dataset


def _spread(n: int, k: int) -> np.ndarray:
    """k indices spread evenly over range(n) (all of them when k is 0 or >= n)."""
    if k <= 0 or k >= n:
        return np.arange(n)
    return np.unique(np.linspace(0, n - 1, k).round().astype(int))


def test_frames(dataset: str, data: Mapping[str, str], max_sequences: int) -> np.ndarray:
    """uint8 test sequences (N, T, 64, 64[, 3]) in the model's channels, spread over the test set."""
    from pipeline.shards import open_shard

    if dataset == "smmnist":
        frames = open_shard(data["test_set"])["frames"]
        return np.asarray(frames.get_orthogonal_selection((_spread(frames.shape[0], max_sequences),)))
    clips = clip_dataset(data, "test")
    picks = _spread(len(clips), max_sequences)
    return to_channels(np.stack([clips[int(i)]["frames"] for i in picks]), BACKBONES[dataset][1])


def training_batches(
    dataset: str, variant: str, data: Mapping[str, str], cfg: SVGConfig, batch_size: int, seed: int
) -> Callable[[int], Iterator[torch.Tensor]]:
    """``data(start_step)`` for ``pipeline.training.fit``: batches (B, n_past + n_future, C, 64, 64)."""
    from pipeline.models.svg import frames_to_batch

    length = cfg.n_past + cfg.n_future
    if dataset == "smmnist":
        from pipeline.synthetic import smmnist

        digits = smmnist_digits(data["test_set"], "train")
        sm_cfg = smmnist_config(data["test_set"], length, VARIANTS[variant][1])

        def generated(start_step: int) -> Iterator[torch.Tensor]:
            for frames in smmnist.training_batches(sm_cfg, digits, batch_size, seed, start_step):
                yield frames_to_batch(frames)

        return generated

    clips = clip_dataset(data, "train")
    channels = BACKBONES[dataset][1]

    def windows(start_step: int) -> Iterator[torch.Tensor]:
        step = start_step
        while True:
            rng = np.random.default_rng(np.random.SeedSequence([seed, step]))
            batch = []
            for i in rng.integers(0, len(clips), size=batch_size):
                frames = clips[int(i)]["frames"]  # (T, H, W, 3)
                if len(frames) < length:
                    raise ValueError(f"{dataset} clips have {len(frames)} frames, training needs {length}")
                start = int(rng.integers(0, len(frames) - length + 1))
                batch.append(frames[start : start + length])
            yield frames_to_batch(to_channels(np.stack(batch), channels))
            step += 1

    return windows


# ----------------------------------------------------------------------------- train


def training_sizes(sizes: Mapping[str, Any], dataset: str, variant: str) -> dict[str, Any]:
    """Recipe contract: a model reads its dataset's model and schedule only."""
    return {dataset: {k: sizes[dataset][k] for k in ("model", "train")}}


def train(
    dataset: str,
    variant: str,
    inputs: Mapping[str, str],
    out_dir: Path,
    sizes: Mapping[str, Any],
    seed: int,
    device: str,
) -> Path:
    """Train one svg model through the one loop (resumes from ``out_dir``); returns model.pt."""
    import torch

    from pipeline.models.svg import SVG, make_optimizer, svg_model_config
    from pipeline.training import TrainConfig, fit

    cfg = model_config(dataset, variant, sizes)
    t = sizes[dataset]["train"]
    torch.manual_seed(seed)  # the initial weights (a resumed job loads them from its checkpoint)
    model = SVG(cfg)
    run = TrainConfig(steps=int(t["steps"]), checkpoint_every=int(t["checkpoint_every"]),
                      log_every=int(t["log_every"]), seed=seed, device=device)
    data = training_batches(dataset, variant, inputs, cfg, int(t["batch_size"]), seed)
    log.info("svg %s/%s: %s, %d steps of %d sequences", dataset, variant, cfg, run.steps, t["batch_size"])
    return fit(model, make_optimizer(model), data, run, Path(out_dir), svg_model_config(cfg))


# ----------------------------------------------------------------------------- evaluate (Fig. 7, 8)


def evaluate(
    dataset: str,
    variant: str,
    model_path: str | Path,
    data: Mapping[str, str],
    out_dir: str | Path,
    sizes: Mapping[str, Any],
    seed: int,
    device: str,
) -> Path:
    """Best-of-N per-frame SSIM/PSNR on the test sequences, over all their frames after the
    conditioning ones (beyond the training horizon); writes curves.csv, scores.zarr, examples.zarr."""
    from pipeline.evaluation.svg import evaluate_svg, save_evaluation

    model = _load(model_path, device)
    cfg = model.cfg
    e = sizes[dataset]["eval"]
    frames = test_frames(dataset, data, int(e["sequences"]))
    n_future = frames.shape[1] - cfg.n_past
    if n_future < 1:
        raise ValueError(f"{dataset} test sequences have {frames.shape[1]} frames, need more than n_past={cfg.n_past}")
    log.info("svg %s/%s: %d test sequences, %d -> %d frames, %d samples", dataset, variant, len(frames),
             cfg.n_past, n_future, e["samples"])
    result = evaluate_svg(model, frames, cfg.n_past, n_future, int(e["samples"]), seed,
                          batch_size=int(e["batch_size"]), sample_chunk=int(e["sample_chunk"]),
                          n_examples=int(e["examples"]))
    return save_evaluation(result, out_dir, variant, train_horizon=cfg.n_past + cfg.n_future)


def write_curve_table(
    dataset: str, curve_paths: Sequence[str | Path], out: str | Path, config: Mapping[str, Any],
    source_records: Sequence[Path] = (), test_set: str | Path | None = None,
) -> pd.DataFrame:
    """One dataset's table (smmnist_ssim.csv, ...): every model's per-frame curves, with an empty
    ``paper`` column (the paper plots curves, no numbers) and a provenance sidecar (with the
    SM-MNIST test set's definition and digit pool, which has no source record of its own)."""
    import pandas as pd

    from pipeline.evaluation.svg import CURVE_COLUMNS
    from pipeline.shards import open_shard
    from pipeline.tables import provenance, write_csv

    parts = []
    for path in curve_paths:
        part = pd.read_csv(path)
        missing = set(CURVE_COLUMNS) - set(part.columns)
        if missing:
            raise ValueError(f"{path}: missing columns {sorted(missing)}")
        parts.append(part)
    table = pd.concat(parts, ignore_index=True)
    table = table[table["metric"].isin(TABLES[dataset][1])].reset_index(drop=True)
    table.insert(0, "dataset", dataset)
    table["paper"] = np.nan
    extra: dict[str, Any] = {"paper": "svg", "curves": [str(p) for p in curve_paths]}
    if test_set is not None:
        attrs = dict(open_shard(test_set).attrs)
        extra["test_set"] = {"path": str(test_set), **{k: attrs.get(k) for k in
                             ("source", "config", "n", "seed", "digit_pool_size", "digit_pool_sha1")}}
    record = provenance(config, source_records, **extra)
    write_csv(table, Path(out), record)
    return table


def curve_figure(dataset: str, table: str | Path, out: str | Path) -> Path:
    """Fig. 7 left / right or Fig. 8 from the dataset's table."""
    from pipeline.figures import svg as figures

    draw = {"smmnist": figures.smmnist_ssim_figure, "kth": figures.kth_ssim_figure,
            "bair": figures.bair_ssim_psnr_figure}[dataset]
    return draw(table, out)


def write_gifs(examples: str | Path, outs: Sequence[str | Path]) -> list[Path]:
    """One GIF per saved example sequence (truth, best sample, random samples side by side)."""
    from pipeline.figures.svg import sample_gif
    from pipeline.shards import open_shard

    group = open_shard(examples)
    frames = group["frames"]  # (K, R, T, H, W, C)
    if len(outs) > frames.shape[0]:
        raise ValueError(f"{examples} holds {frames.shape[0]} example sequences, {len(outs)} GIFs asked")
    return [sample_gif(np.asarray(frames[k]), int(group.attrs["n_cond"]), out) for k, out in enumerate(outs)]


# ----------------------------------------------------------------------------- Fig. 5 and Fig. 6


def write_smmnist_set(kind: str, test_set: str | Path, out: str | Path, sizes: Mapping[str, Any], seed: int) -> Path:
    """Fig. 6's synchronized set (the test set's digit count, ``fig6.frames`` frames) or Fig. 5's
    single-digit shared-start set (first bounce at ``fig5.min_first_bounce`` or later), test digits."""
    from pipeline.shards import open_shard, write_shard
    from pipeline.synthetic.smmnist import make_shared_start_set, make_synchronized_set

    digits = smmnist_digits(test_set, "test")
    if kind == "synchronized":
        f = sizes["fig6"]
        arrays, attrs = make_synchronized_set(smmnist_config(test_set, f["frames"]), digits, int(f["sequences"]), seed)
    elif kind == "sharedstart":
        f = sizes["fig5"]
        cfg = smmnist_config(test_set, f["frames"], num_digits=1)
        arrays, attrs = make_shared_start_set(cfg, digits, int(f["sequences"]), seed, int(f["min_first_bounce"]))
    else:
        raise KeyError(f"no SM-MNIST set {kind!r}; known: {', '.join(SMMNIST_SETS)}")
    attrs["source"] = open_shard(test_set).attrs.get("source", "synthetic")
    return write_shard(out, arrays, attrs)


def bounce_velocities(
    model_path: str | Path, shared_start: str | Path, out_table: str | Path, out_distance: str | Path,
    sizes: Mapping[str, Any], seed: int, device: str,
) -> pd.DataFrame:
    """Fig. 5: (dx, dy) distribution per step of SVG-LP samples and of the truth, by template
    matching; ``step`` t is the motion from frame t to t+1 (1-based). Also the total variation
    distance between the two per step."""
    from pipeline.evaluation.svg import fig5_velocities, velocity_distance, velocity_table
    from pipeline.shards import open_shard

    model = _load(model_path, device)
    group = open_shard(shared_start)
    config = group.attrs["config"]
    f = sizes["fig5"]
    model_vel, true_vel = fig5_velocities(
        model, np.asarray(group["frames"][:]), np.asarray(group["positions"][:]), n_cond=model.cfg.n_past,
        n_samples=int(f["samples"]), seed=seed, digit_size=int(config["digit_size"]),
        batch_size=int(sizes["smmnist"]["eval"]["batch_size"]),
        sample_chunk=int(sizes["smmnist"]["eval"]["sample_chunk"]),
    )
    table = velocity_table(model_vel, true_vel, first_step=1, max_speed=int(config["max_speed"]))
    first_bounce = int(np.flatnonzero(np.asarray(group["bounces"][0]).any(-1))[0])
    distance = velocity_distance(table)
    distance["first_bounce_frame"] = first_bounce + 1  # 1-based frame where the digit hits the wall
    distance["n_cond"] = model.cfg.n_past
    table.to_csv(out_table, index=False)
    distance.to_csv(out_distance, index=False)
    return table


def sigma_collision_summary(sigma: pd.DataFrame, hits: pd.DataFrame, lags: Sequence[int] = range(-2, 4)) -> pd.DataFrame:
    """How the prior's sigma lines up with the true wall hits, per lag.

    A hit at frame c makes frame c + 1 the first unpredictable one, and the prior's sigma at
    ``frame`` t has seen frames 0..t-1, so the paper's claim predicts a peak at lag t - c = 1.
    Per lag: Pearson correlation of sigma_mean(t) with "some digit hit a wall at t - lag", and
    the mean sigma at those frames and at the others.
    """
    import pandas as pd

    frames = sigma["frame"].to_numpy()
    values = sigma["sigma_mean"].to_numpy()
    hit_frames = set(int(f) for f in hits["frame"])
    rows = []
    for lag in lags:
        marked = np.array([int(t) - lag in hit_frames for t in frames])
        if marked.all() or not marked.any():
            corr = np.nan
        else:
            corr = float(np.corrcoef(values, marked.astype(float))[0, 1])
        rows.append({
            "lag": lag,
            "pearson_r": corr,
            "sigma_at_hits": float(values[marked].mean()) if marked.any() else np.nan,
            "sigma_elsewhere": float(values[~marked].mean()) if (~marked).any() else np.nan,
            "n_hit_frames": int(marked.sum()),
        })
    return pd.DataFrame(rows)


def prior_sigma(
    model_path: str | Path, synchronized: str | Path, out_sigma: str | Path, out_collisions: str | Path,
    out_summary: str | Path, sizes: Mapping[str, Any], device: str,
) -> pd.DataFrame:
    """Fig. 6: mean and std over sequences of the learned prior's sigma per frame, the true wall
    hits of the shared trajectory, and their alignment (:func:`sigma_collision_summary`)."""
    from pipeline.evaluation.svg import collision_table, prior_sigma_table
    from pipeline.shards import open_shard

    model = _load(model_path, device)
    group = open_shard(synchronized)
    sigma = prior_sigma_table(model, np.asarray(group["frames"][:]), batch_size=int(sizes["smmnist"]["eval"]["batch_size"]))
    hits = collision_table(np.asarray(group["bounces"][0]))
    summary = sigma_collision_summary(sigma, hits)
    sigma.to_csv(out_sigma, index=False)
    hits.to_csv(out_collisions, index=False)
    summary.to_csv(out_summary, index=False)
    return summary


# ----------------------------------------------------------------------------- BAIR shards


def write_bair_shards(source_record: str | Path, out_dir: str | Path, sequences_per_shard: int,
                      max_sequences: int = 0) -> Path:
    """BAIR TFRecords (train and test splits) -> Zarr shards of (N, 30, 64, 64, 3) frames with a
    ``split`` array, plus ``index.csv`` (shard, split, sequences); memory holds one shard at a time.

    ``max_sequences`` (0: all) caps each split, for small runs.
    """
    import json

    import pandas as pd

    from pipeline.bair import bair_files, read_bair_sequences
    from pipeline.shards import SPLITS, write_shard

    record = json.loads(Path(source_record).read_text())
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rows: list[dict[str, Any]] = []

    def flush(buffer: list[np.ndarray], split: str, files: list[str]) -> None:
        name = f"shard-{len(rows):05d}.zarr"
        frames = np.stack(buffer)  # (N, 30, 64, 64, 3)
        write_shard(out_dir / name, {"frames": frames, "split": np.full(len(frames), SPLITS.index(split), np.uint8)},
                    {"dataset": "bair", "protocol": "svg", "source": record.get("source"), "files": files,
                     "splits": list(SPLITS)})
        rows.append({"shard": name, "split": split, "sequences": len(frames), "files": " ".join(files)})

    for split in ("train", "test"):
        buffer: list[np.ndarray] = []
        files: list[str] = []
        count = 0
        for path in bair_files(record["root"], split):
            for seq in read_bair_sequences(path):
                if files[-1:] != [path.name]:
                    files.append(path.name)
                buffer.append(seq)
                count += 1
                if len(buffer) == sequences_per_shard:
                    flush(buffer, split, files)
                    buffer, files = [], []
                if max_sequences and count >= max_sequences:
                    break
            if max_sequences and count >= max_sequences:
                break
        if buffer:
            flush(buffer, split, files)
        log.info("BAIR %s: %d sequences", split, count)
    index = out_dir / "index.csv"
    pd.DataFrame(rows, columns=["shard", "split", "sequences", "files"]).to_csv(index, index=False)
    return index

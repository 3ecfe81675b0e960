"""walker's evaluation (Table 1, Fig. 5): Parzen NLL and min-Euclidean curves of every predictor.

Every model is compared on the coarse output grid (10 x 16 x 20 = 3,200 dims at paper scale),
against the THUMOS trajectories averaged onto that grid (``downsample_trajectories``), split as
the networks predict them into normalized trajectories and the two magnitudes, each scored with
its own Parzen bandwidth (``pipeline.papers.walker.parzen``):

* CVAE: N samples per image (800 at paper scale), bandwidths grid-searched on training data —
  here the per-class hold-out of UCF101 training videos, frames the model never trained on;
* regressor: a Gaussian at its output, bandwidths fitted on the test data (an upper bound);
  sampled with those bandwidths for the min-Euclidean curve, and its mean (dashed in Fig. 5);
* no motion and mean training motion, the trivial baselines every number is read against: a
  point prediction (all zeros; the mean over training frames of the normalized trajectories and
  of the magnitudes, on the coarse grid) scored exactly as the regressor is (a Gaussian at it,
  bandwidths fitted on the test data). The trajectories of each image are normalized to unit RMS
  per axis, so "no motion" has an almost fixed cost of D/2 (1 + log 2 pi) nats in the normalized
  block: a model is only useful by the margin it keeps below that;
* optical flow: the staticflow AlexNet's per-position softmax, sampled once per position of
  its own grid (what the softmax states), the sampled field carried bilinearly onto the coarse
  cells, each vector extrapolated at constant velocity over the second (the label is the mean
  displacement over the next three frames, about twice the velocity), then DCT-encoded like the
  truth; bandwidths optimised on the test data, as the paper does for its baselines.

Per image, the NLL and the best-of-n distances at a few n are kept, so the table can give
paired bootstrap intervals (the same test images for every predictor).

The min-Euclidean distance is measured between full (magnitude-restored) coarse DCT
trajectory fields, in pixels; it is the distance of the best of the first n samples, averaged
over test images. All squared distances are computed once per model and kept, so the bandwidth
search and the curves cost nothing more.

The table file is written by ``table``; the data of Figs. 3, 4 and 6 by ``examples``.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from pipeline.atomic import write_json
from pipeline.batches import item_table
from pipeline.manifest import why_split_is_empty
from pipeline.papers.staticflow import (
    build_staticflow,
    load_codebook,
    predict_probs,
    sample_flow,
)
from pipeline.papers.walker.data import (
    flow_weights,
    flownet_data,
    ramp_coefficients,
    walker_data,
)
from pipeline.papers.walker.model import (
    WalkerConfig,
    WalkerNet,
    build_walker,
    downsample_trajectories,
    join_magnitude,
    split_magnitude,
)
from pipeline.papers.walker.parzen import (
    best_of_n,
    gaussian_bandwidths,
    gaussian_samples,
    min_euclidean_curve,
    parzen_log_density,
    sampled_squared_distances,
    select_bandwidths,
)
from pipeline.papers.walker.train import model_config
from pipeline.saved_models import load_model, model_provenance
from pipeline.shards import open_shard
from pipeline.training import resolve_device

log = logging.getLogger(__name__)

ROWS: dict[str, str] = {"regressor": "Regressor", "flownet": "Optical Flow", "cvae": "Ours (CVAE)",
                        "nomotion": "No motion", "meanmotion": "Mean training motion"}
"""Predictor -> row name of Table 1 (``spec.REFERENCE`` for the three models)."""
BASELINE_ROWS = ("No motion", "Mean training motion")
VELOCITY_FACTOR = float(ramp_coefficients() @ flow_weights())
"""Flow label of a unit-velocity track as the trajectories encode it (5+5 DCT coefficients):
label = VELOCITY_FACTOR x velocity, about 2.4 (2 for the exact track, whose mean displacement over
frames 1..3 is 2 velocities; the truncated DCT rounds the start of the ramp). Dividing by it makes
label -> extrapolated track -> label exact."""


@dataclass
class EvalSizes:
    test_images: int  # THUMOS test frames scored (0 = all)
    bandwidth_images: int  # held-out UCF101 frames for the CVAE's bandwidth search
    samples: int  # per image (800 at paper scale)
    sample_chunk: int  # samples drawn at a time
    batch_size: int  # images at a time
    grid_points: int  # log-spaced bandwidths per block in [1e-4, 1e3]
    refine_points: int  # second, finer grid around the best point
    mean_images: int  # training frames averaged for the mean-motion baseline (0 = all)

    @classmethod
    def of(cls, sizes: Mapping[str, Any]) -> EvalSizes:
        return cls(**{k: int(v) for k, v in sizes["eval"].items()})


# ----------------------------------------------------------------------------- distances


def truth_blocks(dct: torch.Tensor, cfg: WalkerConfig, level: int = 0) -> list[torch.Tensor]:
    """Per-pixel DCT (B, 10, H, W) -> [normalized (B, 10, h, w), magnitudes (B, 2), full (B, 10, h, w)]."""
    field = downsample_trajectories(dct, cfg, level)
    ynorm, mag = split_magnitude(field, cfg.eps)
    return [ynorm, mag, field]


def sample_blocks(ynorm: torch.Tensor, mag: torch.Tensor) -> list[torch.Tensor]:
    """Samples (n, B, 10, h, w), (n, B, 2) -> the three blocks compared: normalized, magnitudes, full."""
    return [ynorm, mag, join_magnitude(ynorm, mag)]


def block_distances(
    batches: Iterator[tuple[torch.Tensor, torch.Tensor]],
    cfg: WalkerConfig,
    make_draw: Callable[[torch.Tensor, list[torch.Tensor]], Callable[[int], Sequence[torch.Tensor]]],
    n: int,
    chunk: int,
    device: torch.device,
) -> torch.Tensor:
    """Squared distances (3, N, B) of n samples per image to the truth, over all image batches.

    ``make_draw(images, truth)`` returns the sampler ``draw(k) -> blocks (k, b, ...)`` of a batch.
    """
    parts = []
    for images, dct in batches:
        truth = truth_blocks(dct, cfg)
        draw = make_draw(images, truth)
        parts.append(sampled_squared_distances(truth, draw, n, chunk, device))  # (3, n, b)
    return torch.cat(parts, dim=2).cpu()


def image_batches(dataset: Any, rows: np.ndarray, batch_size: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """(images (b, 3, H, W), DCT (b, 10, H, W)) of dataset rows, in order."""
    for start in range(0, len(rows), batch_size):
        items = [dataset[int(r)] for r in rows[start : start + batch_size]]
        yield torch.from_numpy(np.stack([i[0] for i in items])), torch.from_numpy(np.stack([i[1] for i in items]))


def random_rows(rows: np.ndarray, n: int, seed: int) -> np.ndarray:
    """n of the rows drawn at random without replacement (all when n is 0 or too large), in order."""
    rows = np.asarray(rows)
    if n <= 0 or n >= len(rows):
        return rows
    return np.sort(np.random.default_rng(seed).choice(rows, size=n, replace=False))


def block_dims(cfg: WalkerConfig) -> list[int]:
    """Dimensions of the normalized and magnitude blocks (3,200 and 2 at paper scale)."""
    hc, wc = cfg.coarse_size
    return [10 * hc * wc, 2]


# ----------------------------------------------------------------------------- bandwidths


def search_bandwidths(sq: torch.Tensor, dims: Sequence[int], points: int, refine: int) -> tuple[float, ...]:
    """Grid search of the per-block bandwidths minimising the mean NLL of distances (K, N, B).

    A log grid over [1e-4, 1e3] per block, then a finer grid spanning one coarse step either side
    of the best point.
    """
    coarse = np.logspace(-4, 3, points)
    step = math.log10(coarse[1] / coarse[0])
    best, _ = select_bandwidths(sq, dims, [coarse] * len(dims))
    fine = [np.logspace(math.log10(h) - step, math.log10(h) + step, refine) for h in best]
    best, _ = select_bandwidths(sq, dims, fine)
    return best


def nll_per_image(sq: torch.Tensor, dims: Sequence[int], bandwidths: Sequence[float]) -> np.ndarray:
    return (-parzen_log_density(sq, dims, bandwidths)).numpy()


def curve_ns(n: int) -> list[int]:
    """Every sample count 1..n (the curve is cheap once distances exist)."""
    return list(range(1, n + 1))


# ----------------------------------------------------------------------------- models


def _cvae_draw(model: WalkerNet, generator: torch.Generator) -> Callable:
    def make(images: torch.Tensor, truth: list[torch.Tensor]) -> Callable[[int], list[torch.Tensor]]:
        return lambda k: sample_blocks(*model.sample_parts(images, k, generator, chunk=k))

    return make


def _point_draw(model: WalkerNet) -> Callable:
    def make(images: torch.Tensor, truth: list[torch.Tensor]) -> Callable[[int], list[torch.Tensor]]:
        ynorm, mag = model.predict_parts(images)
        return lambda k: sample_blocks(ynorm[None], mag[None])

    return make


def _gaussian_draw(model: WalkerNet, bandwidths: Sequence[float], generator: torch.Generator) -> Callable:
    def make(images: torch.Tensor, truth: list[torch.Tensor]) -> Callable[[int], list[torch.Tensor]]:
        ynorm, mag = model.predict_parts(images)
        return lambda k: sample_blocks(*gaussian_samples([ynorm, mag], bandwidths, k, generator))

    return make


def coarse_cell_grid(cfg: WalkerConfig) -> torch.Tensor:
    """Centres of the coarse cells as ``grid_sample`` coordinates over the frame: (1, Hc, Wc, 2)."""
    (hc, wc), (mh, mw), (h, w) = cfg.coarse_size, cfg.margin, cfg.image_size
    ys = (16 * torch.arange(hc, dtype=torch.float32) + 8 - mh + 0.5) / h * 2 - 1
    xs = (16 * torch.arange(wc, dtype=torch.float32) + 8 - mw + 0.5) / w * 2 - 1
    gy, gx = torch.meshgrid(ys, xs, indexing="ij")
    return torch.stack([gx, gy], dim=-1)[None]


def flow_on_cells(field: np.ndarray, cfg: WalkerConfig) -> np.ndarray:
    """Flow fields on the flow net's square grid (..., g, g, 2) -> at the coarse cell centres (..., Hc, Wc, 2).

    The sampled vectors are interpolated, not the probabilities: a cell between two of the net's
    positions gets a blend of their two draws, so a sample holds one draw per position the net
    predicts, as its softmax states, and no independent draws the net never made.
    """
    f = torch.from_numpy(np.ascontiguousarray(field, np.float32))
    lead, (g1, g2) = f.shape[:-3], f.shape[-3:-1]
    maps = f.reshape(-1, g1, g2, 2).permute(0, 3, 1, 2)  # (M, 2, g, g)
    grid = coarse_cell_grid(cfg).expand(maps.shape[0], -1, -1, -1)
    out = torch.nn.functional.grid_sample(maps, grid, mode="bilinear", padding_mode="border", align_corners=False)
    return out.permute(0, 2, 3, 1).reshape(*lead, *cfg.coarse_size, 2).numpy()


def extrapolate(flow: np.ndarray) -> torch.Tensor:
    """Sampled flow labels (n, B, Hc, Wc, 2) -> constant-velocity DCT trajectories (n, B, 10, Hc, Wc)."""
    ramp = torch.from_numpy(ramp_coefficients())  # (5,)
    v = torch.from_numpy(np.ascontiguousarray(flow, np.float32)) / VELOCITY_FACTOR  # (n, B, Hc, Wc, 2)
    x = v[..., 0, None] * ramp  # (n, B, Hc, Wc, 5)
    y = v[..., 1, None] * ramp
    return torch.cat([x, y], dim=-1).permute(0, 1, 4, 2, 3).contiguous()


def _flow_draw(grid_probs: Iterator[np.ndarray], centroids: np.ndarray, rng: np.random.Generator,
               cfg: WalkerConfig):

    def make(images: torch.Tensor, truth: list[torch.Tensor]) -> Callable[[int], list[torch.Tensor]]:
        probs = next(grid_probs)  # (b, K, g, g)

        def draw(k: int) -> list[torch.Tensor]:
            field = extrapolate(flow_on_cells(sample_flow(probs, centroids, k, rng), cfg))  # (k, b, 10, Hc, Wc)
            ynorm, mag = split_magnitude(field, cfg.eps)
            return [ynorm, mag, field]

        return draw

    return make


def flow_net_distances(
    probs: np.ndarray,
    centroids: np.ndarray,
    batches: Iterator[tuple[torch.Tensor, torch.Tensor]],
    cfg: WalkerConfig,
    s: EvalSizes,
    rng: np.random.Generator,
    device: torch.device,
) -> torch.Tensor:
    """Squared distances (3, N, B) of the optical-flow baseline's samples to the truth.

    ``probs``: the flow net's softmax over its square grid for the test images, in the order of
    ``batches`` (of ``s.batch_size`` images); sampled per position of that grid, moved onto the
    coarse cells (``flow_on_cells``), extrapolated over the second.
    """
    per_batch = (probs[i : i + s.batch_size] for i in range(0, len(probs), s.batch_size))
    return block_distances(batches, cfg, _flow_draw(per_batch, centroids, rng, cfg), s.samples, s.sample_chunk,
                           device)


# ----------------------------------------------------------------------------- drivers


def _load_walker(path: Path, device: torch.device) -> WalkerNet:
    return load_model(Path(path), build_walker).to(device)


def _constant_draw(ynorm: torch.Tensor, mag: torch.Tensor) -> Callable:
    """The same point prediction, normalized (10, h, w) and magnitudes (2,), for every image."""

    def make(images: torch.Tensor, truth: list[torch.Tensor]) -> Callable[[int], list[torch.Tensor]]:
        b = images.shape[0]
        return lambda k: sample_blocks(ynorm.expand(1, b, *ynorm.shape), mag.expand(1, b, *mag.shape))

    return make


def mean_motion(batches: Iterator[tuple[torch.Tensor, torch.Tensor]], cfg: WalkerConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean over training images of the normalized coarse trajectories (10, h, w) and magnitudes (2,).

    The best constant prediction of each block under squared error, i.e. the "mean motion" a
    model must beat to have learned anything from the image.
    """
    total_norm, total_mag, n = 0.0, 0.0, 0
    for _, dct in batches:
        ynorm, mag, _ = truth_blocks(dct, cfg)
        total_norm, total_mag, n = total_norm + ynorm.sum(0), total_mag + mag.sum(0), n + len(dct)
    if n == 0:
        raise ValueError("no training images to average for the mean-motion baseline")
    return total_norm / n, total_mag / n


def curve_points(n: int) -> list[int]:
    """The sample counts the table reports (with intervals): 1, 10 and all."""
    return sorted({1, 10, n} & set(range(1, n + 1)))


def _curve(sq_full: torch.Tensor, n: int) -> tuple[list[float], dict[str, list[float]]]:
    """Full-vector squared distances (N, B) -> (mean curve over n = 1..n, per-image best-of at the table's points)."""
    points = curve_points(n)
    per_image = best_of_n(sq_full, points)  # (P, B)
    return min_euclidean_curve(sq_full, curve_ns(n)).tolist(), {str(p): v.tolist() for p, v in zip(points, per_image)}


def _why_no_test_clips(summary: Path) -> str:
    """What the listing and the clip index say about the test split (THUMOS by url: no test videos)."""
    data_root, dataset = summary.parents[3], summary.parents[1].name  # <data>/trajectories/<dataset>/walker/
    return why_split_is_empty(data_root / "manifests" / f"{dataset}.csv", "test",
                              data_root / "clips" / dataset / "walker" / "index.csv")


def evaluate_variant(
    variant: str,
    model_path: Path | None,
    train_inputs: Mapping[str, Any],
    test_summary: Path,
    sizes: Mapping[str, Any],
    seed: int,
    device: str,
    out_json: Path,
) -> dict[str, Any]:
    """Score one predictor on the test set: NLL per image, bandwidths, min-Euclidean curve(s) -> JSON.

    ``model_path`` is None for the two baselines (``nomotion``, ``meanmotion``), which have no model.
    """
    if variant not in ROWS:
        raise KeyError(f"walker evaluates {', '.join(ROWS)}, not {variant!r}")
    s = EvalSizes.of(sizes)
    dev = resolve_device(device)
    test = walker_data(test_summary, train_inputs["mean_image"])
    test_rows = random_rows(test.rows["test"], s.test_images, seed)  # "2800 random frames"
    if len(test_rows) == 0:
        raise ValueError(f"{test_summary}: no test clips to score: {_why_no_test_clips(Path(test_summary))}")
    cfg = model_config("cvae", test.image_size, sizes["model"])  # the geometry the truth is cut to
    dims = block_dims(cfg)
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    batches = lambda: image_batches(test.dataset, test_rows, s.batch_size)  # noqa: E731
    record: dict[str, Any] = {"variant": variant, "row": ROWS[variant], "test_images": int(len(test_rows)),
                              "test_rows": test_rows.tolist(), "dims": dims, "grid": list(cfg.coarse_size)}
    per_image: dict[str, dict[str, list[float]]] = {}

    def curve(name: str, sq_full: torch.Tensor, n: int) -> list[float]:
        mean, per_image[name] = _curve(sq_full, n)
        return mean

    if variant == "cvae":
        model = _load_walker(model_path, dev)
        train = walker_data(train_inputs["summary"], train_inputs["mean_image"], train_inputs["split"])
        held = train.rows["val"] if len(train.rows["val"]) else train.rows["train"]
        source = "UCF101 hold-out videos" if len(train.rows["val"]) else "UCF101 training clips (no hold-out)"
        held = random_rows(held, s.bandwidth_images, seed)
        sq_bw = block_distances(image_batches(train.dataset, held, s.batch_size), cfg,
                                _cvae_draw(model, generator), s.samples, s.sample_chunk, dev)
        bandwidths = search_bandwidths(sq_bw[:2], dims, s.grid_points, s.refine_points)
        sq = block_distances(batches(), cfg, _cvae_draw(model, generator), s.samples, s.sample_chunk, dev)
        record.update(samples=s.samples, bandwidth_source=f"grid search on {len(held)} {source}",
                      curves={"Ours (CVAE)": curve("Ours (CVAE)", sq[2], s.samples)})
    elif variant in ("regressor", "nomotion", "meanmotion"):
        if variant == "regressor":
            model = _load_walker(model_path, dev)
            draw = _point_draw(model)
        else:
            if variant == "nomotion":
                point = (torch.zeros(10, *cfg.coarse_size), torch.zeros(2))
            else:
                train = walker_data(train_inputs["summary"], train_inputs["mean_image"], train_inputs["split"])
                rows = random_rows(train.rows["train"], s.mean_images, seed)
                point = mean_motion(image_batches(train.dataset, rows, s.batch_size), cfg)
            draw = _constant_draw(*point)
        sq = block_distances(batches(), cfg, draw, 1, 1, dev)  # (3, 1, B)
        bandwidths = gaussian_bandwidths(sq[:2], dims)
        record.update(samples=1, bandwidth_source="Gaussian at the prediction, ML fit on the test data (upper bound)")
        name = ROWS[variant]
        if variant == "regressor":
            sampled = block_distances(batches(), cfg, _gaussian_draw(model, bandwidths, generator), s.samples,
                                      s.sample_chunk, dev)
            record["curves"] = {"Regressor (sampled)": curve("Regressor (sampled)", sampled[2], s.samples),
                                "Regressor (mean)": curve("Regressor (mean)", sq[2].expand(s.samples, -1), s.samples)}
        else:  # a point prediction: the same distance whatever n
            record["curves"] = {name: curve(name, sq[2].expand(s.samples, -1), s.samples)}
    else:
        model = load_model(Path(model_path), build_staticflow).to(dev)
        flow_cfg = model.cfg
        flow_test = flownet_data(train_inputs, flow_cfg.image_size, flow_cfg.out_size, summary=str(test_summary))
        probs, _ = predict_probs(model, flow_test.dataset, test_rows, s.batch_size, dev)  # (B, K, g, g)
        centroids = load_codebook(train_inputs["flow_codebook"])
        sq = flow_net_distances(probs, centroids, batches(), cfg, s, np.random.default_rng(seed), dev)
        bandwidths = search_bandwidths(sq[:2], dims, s.grid_points, s.refine_points)
        record.update(samples=s.samples, bandwidth_source="grid search on the test data (upper bound)",
                      curves={"Optical Flow": curve("Optical Flow", sq[2], s.samples)})

    still = [truth_blocks(dct, cfg)[2].flatten(1).norm(dim=1) for _, dct in batches()]
    record["no_motion_distance"] = float(torch.cat(still).mean())  # the reference every curve reads against
    nll = nll_per_image(sq[:2], dims, bandwidths)
    labels = item_table(test.paths)["label"].to_numpy()[test_rows]
    names = list(open_shard(test.paths[0]).attrs.get("labels", []))
    name = lambda k: names[k] if 0 <= k < len(names) else str(k)  # noqa: E731
    record["nll_per_label"] = {name(int(k)): float(nll[labels == k].mean()) for k in np.unique(labels)}
    record.update(nll=float(nll.mean()), nll_sem=float(nll.std(ddof=1) / math.sqrt(len(nll))) if len(nll) > 1 else 0.0,
                  nll_per_image=nll.tolist(), bandwidths=list(bandwidths), curve_n=curve_ns(s.samples),
                  best_of_n_per_image=per_image,
                  model_provenance=model_provenance(Path(model_path)) if model_path is not None else None)
    write_json(out_json, record)
    log.info("walker %s: NLL %.1f over %d images (bandwidths %s, %s)", variant, record["nll"], len(nll),
             [f"{h:.4g}" for h in bandwidths], record["bandwidth_source"])
    return record

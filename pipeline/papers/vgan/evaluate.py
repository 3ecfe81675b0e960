"""vgan's evaluation: samples of each model, the automatic judge's Table 1 and the clip statistics.

Three steps, each writing a file the next reads, so a table or figure reruns alone:

1. :func:`write_samples`: each model's generated clips as uint8 frames (what a video file would
   hold, as the real clips are), two sets from different seeds (``samples.COMPARE``, ``JUDGE``):
   ``compare`` (the clips of the comparison) and ``judge`` (clips only the judge trains on); the
   two-stream model also keeps its streams (foreground, mask, static background).
2. :func:`judge_samples`: a panel of real-vs-generated classifiers (``judge.VideoJudge``, other seeds)
   trained on the held-out *judge* real clips against the pooled *judge* samples of every model, then Table 1's
   six pairings on the *compare* sets, each over every pair of clips with a bootstrap interval,
   and the real-vs-real control (two halves of the compare real videos; a fair judge gives about 50%). The paper's
   numbers are human two-alternative forced choices; ours are this judge's, and say so. Beside
   them, weight-free statistics: diversity (near 0 under mode collapse), flicker, temporal
   variance, the two-stream background's temporal variance (0 by construction) and mask mean,
   and Fréchet distance / KID to the real compare clips in the pooled features of the action
   classifier trained on the action data (``action.py``; the judge's own when there is none).
3. ``tables.write_tables``: ``vgan_preference.csv`` and ``vgan_statistics.csv`` from the judge's
   record (without torch); :func:`write_motion_table`: ``vgan_flow_magnitudes.csv`` (``motion.py``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from pipeline.atomic import write_json
from pipeline.papers.vgan.action import build_classifier, trunk_features
from pipeline.papers.vgan.data import to_clip, to_frames, vgan_clips
from pipeline.papers.vgan.gan import AVERAGE_MODULE, CodeGMM, to_clip_layout
from pipeline.papers.vgan.judge import (
    JudgeConfig,
    VideoJudge,
    background_temporal_variance,
    diversity,
    flicker,
    frechet_distance,
    kernel_distance,
    mask_sparsity,
    panel_seeds,
    realness,
    score_control,
    score_preference,
    train_judge,
)
from pipeline.papers.vgan.model import Autoencoder, Generator
from pipeline.papers.vgan.motion import BINS, MOVING, magnitude_rows
from pipeline.papers.vgan.samples import COMPARE, JUDGE, read_samples
from pipeline.papers.vgan.spec import (
    CONTROL_ROW,
    FUTURE,
    NAMES,
    PAIRINGS,
    VARIANTS,
    pairing_row,
    parse_variant,
)
from pipeline.papers.vgan.train import (
    GMM_NAME,
    build_autoencoder,
    build_generator,
    load_gmm,
)
from pipeline.saved_models import load_model, model_provenance
from pipeline.shards import open_shard, write_shard
from pipeline.tables import provenance, write_table

log = logging.getLogger(__name__)

JUDGED_BY = "automatic judge (real-vs-generated 3D CNN), not people"


# ----------------------------------------------------------------------------- 1. samples


@torch.no_grad()
def _generate(variant: str, model_path: Path, n: int, seed: int, batch_size: int) -> dict[str, np.ndarray]:
    """``n`` clips of one model as uint8 arrays: frames (n, T, H, W, 3) and, for two streams, the streams;
    a GAN trained with weight averaging (``train.average``) is sampled through its averaged generator.

    Each batch is quantised as it is made, so only uint8 arrays accumulate (1,000 paper-size clips).
    """
    chunks: list[dict[str, np.ndarray]] = []
    if variant == "ae":
        ae: Autoencoder = load_model(model_path, build_autoencoder)
        gmm: CodeGMM = load_gmm(Path(model_path).parent / GMM_NAME)
        codes = torch.from_numpy(gmm.sample(n, seed)).float()
        chunks = [{"frames": to_frames(to_clip_layout(ae.decoder(chunk)))} for chunk in codes.split(batch_size)]
    else:
        generator: Generator = load_model(model_path, build_generator, module=(AVERAGE_MODULE, "generator"))
        z = torch.randn(n, generator.cfg.z_dim, generator=torch.Generator().manual_seed(seed))
        for chunk in z.split(batch_size):
            out = generator.decompose(chunk)
            arrays = {"frames": to_frames(to_clip_layout(out.video))}
            if out.mask is not None and out.background is not None:
                arrays["foreground"] = to_frames(to_clip_layout(out.foreground))
                arrays["mask"] = np.round(out.mask[:, 0].numpy() * 255).astype(np.uint8)  # (b, T, H, W)
                arrays["background"] = to_frames(out.background[:, None])[:, 0]  # (b, H, W, 3)
            chunks.append(arrays)
    return {name: np.concatenate([c[name] for c in chunks]) for name in chunks[0]}


def write_samples(variant: str, model_path: Path, sizes: Mapping[str, Any], seed: int, out: Path) -> Path:
    """The compare and judge samples of one model (different seeds), as one shard with a ``set`` array."""
    base, scene = parse_variant(variant)  # a per-scene model samples as its variant does
    if base not in VARIANTS:
        raise KeyError(f"vgan variants are {', '.join(VARIANTS)}, not {variant!r}")
    e = sizes["eval"]
    batch = int(e["batch_size"])
    seeds = {COMPARE: 1000 * seed + 1, JUDGE: 1000 * seed + 2}
    parts = {s: _generate(base, Path(model_path), int(e["samples" if s == COMPARE else "judge_samples"]),
                          seeds[s], batch) for s in (COMPARE, JUDGE)}
    arrays = {name: np.concatenate([parts[COMPARE][name], parts[JUDGE][name]]) for name in parts[COMPARE]}
    arrays["set"] = np.repeat(np.asarray([COMPARE, JUDGE], np.uint8), [len(parts[s]["frames"]) for s in (COMPARE, JUDGE)])
    log.info("vgan %s: %d compare and %d judge samples of %s", variant, int((arrays["set"] == COMPARE).sum()),
             int((arrays["set"] == JUDGE).sum()), arrays["frames"].shape[1:])
    return write_shard(out, arrays, {"variant": base, "scene": scene, "seeds": {"compare": seeds[COMPARE], "judge": seeds[JUDGE]},
                                     "model_provenance": model_provenance(Path(model_path))})


def _clips(frames: np.ndarray) -> torch.Tensor:
    """uint8 frames (N, T, H, W, 3) -> clips (N, T, 3, H, W) in [-1, 1]."""
    return torch.from_numpy(np.stack([to_clip(f) for f in frames]))


# ----------------------------------------------------------------------------- 2. judge, statistics


def _statistics(clips: torch.Tensor, features: np.ndarray, real_features: np.ndarray) -> dict[str, float | None]:
    """Weight-free statistics of clips, and FD/KID of their features to the real ones (None below 2 clips)."""
    enough = min(len(features), len(real_features)) >= 2
    return {
        "diversity": diversity(clips) if len(clips) >= 2 else None,
        "flicker": flicker(clips),
        "temporal_variance": background_temporal_variance(clips),  # of the whole video
        "frechet_distance": frechet_distance(features, real_features) if enough else None,
        "kid": kernel_distance(features, real_features) if enough else None,
    }


@torch.no_grad()
def _features(judge: VideoJudge, clips: torch.Tensor, batch_size: int) -> np.ndarray:
    return torch.cat([judge.features(chunk) for chunk in clips.split(batch_size)]).numpy()


def _embedding(judge: VideoJudge, feature_net: Path | None,
               batch: int) -> tuple[Callable[[torch.Tensor], np.ndarray], str]:
    """Clips -> the features FD / KID compare, and what they are (for the table's units)."""
    if feature_net is None:
        return (lambda clips: _features(judge, clips, batch)), "pooled features of the judge"
    net = load_model(feature_net, build_classifier)
    return ((lambda clips: trunk_features(net, clips, pooled=True, batch_size=batch)),
            f"pooled last features of the action classifier trained on the action data ({Path(feature_net).parent.name})")


def judge_samples(samples: Mapping[str, Path], summary: Path, sizes: Mapping[str, Any], seed: int,
                  out_json: Path, feature_net: Path | None = None,
                  trained_on: Sequence[str] = VARIANTS) -> dict[str, Any]:
    """Train the panel of judges, score Table 1's pairings and the control, and measure every source -> JSON.

    ``eval.judge.panel`` judges (default 1) train alike from different seeds (``judge.panel_seeds``) and
    each scores every compare clip; a rate is the mean of theirs, its interval resamples them too, as
    Table 1's is over many workers: one judge's verdict on two models it finds both fake moves with its
    seed. FD and KID are measured in the pooled features of ``feature_net`` (the action classifier the
    project trains on the action data, ``action.py``) when given, else in the first judge's own.
    ``trained_on``: the models whose judge samples the judge learns from; Table 1's judge learns
    from every model's, since a judge never shown a model's samples misses its faults (trained on
    one model's alone, it scores the others' clips as real as real ones or more: ``judge_sets``).
    """
    missing = [v for v in VARIANTS if v not in samples]
    if missing:
        raise KeyError(f"vgan judge needs samples of every model; missing {missing}")
    if not trained_on or set(trained_on) - set(VARIANTS):
        raise ValueError(f"the judge trains on samples of some of {', '.join(VARIANTS)}, not {list(trained_on)}")
    e = sizes["eval"]
    n_boot, batch = int(e["bootstrap"]), int(e["batch_size"])
    real = vgan_clips(summary, sizes["data"])
    real_judge, real_compare = real.read("judge"), real.read("compare")
    fakes = {v: {s: _clips(read_samples(samples[v], s)) for s in (COMPARE, JUDGE)} for v in VARIANTS}
    configs = [JudgeConfig(width=int(e["judge"]["width"]), steps=int(e["judge"]["steps"]),
                           batch_size=int(e["judge"]["batch_size"]), lr=float(e["judge"]["lr"]), seed=judge_seed)
               for judge_seed in panel_seeds(seed, int(e["judge"].get("panel", 1)))]
    pooled = torch.cat([fakes[v][JUDGE] for v in trained_on])
    log.info("judges: a panel of %d, each on %d real vs %d generated training clips (%s), %s", len(configs),
             len(real_judge), len(pooled), ", ".join(trained_on), configs[0])
    judges = [train_judge(real_judge, pooled, cfg) for cfg in configs]

    compare = {**{v: fakes[v][COMPARE] for v in VARIANTS}, "real": real_compare}
    # each clip scored once by each judge: (judges, clips)
    scores = {source: np.stack([realness(judge, clips, batch) for judge in judges]) for source, clips in compare.items()}
    real_videos = real.videos("compare")
    rows = []
    for k, (a, b) in enumerate(PAIRINGS):
        p = score_preference(scores[a], scores[b], n_boot=n_boot, seed=seed + k,  # real clips resampled by video
                             videos_a=real_videos if a == "real" else None, videos_b=real_videos if b == "real" else None)
        rows.append({"row": pairing_row(a, b), "a": a, "b": b, "rate": p.rate, "low": p.low, "high": p.high,
                     "pairs": p.pairs, "clips_a": p.clips[0], "clips_b": p.clips[1]})
        log.info("%s: %.1f%% [%.1f, %.1f] over %d pairs", rows[-1]["row"], 100 * p.rate, 100 * p.low,
                 100 * p.high, p.pairs)
    c = score_control(scores["real"], real_videos, n_boot=n_boot, seed=seed)
    rows.append({"row": CONTROL_ROW, "a": "real", "b": "real", "rate": c.rate, "low": c.low, "high": c.high,
                 "pairs": c.pairs, "clips_a": c.clips[0], "clips_b": c.clips[1]})
    log.info("%s: %.1f%% [%.1f, %.1f] over %d pairs", CONTROL_ROW, 100 * c.rate, 100 * c.low, 100 * c.high, c.pairs)

    embed, feature_space = _embedding(judges[0], feature_net, batch)
    real_features = embed(real_compare)
    half = len(real_compare) // 2
    statistics: dict[str, dict[str, float | None]] = {}
    for source, clips in compare.items():
        if source == "real":  # the real clips' own spread: one half against the other
            stats = _statistics(clips, real_features[:half], real_features[half:])
        else:
            stats = _statistics(clips, embed(clips), real_features)
        stats["judged_real"] = float((scores[source] > 0).mean())  # share of clips the judges call real
        if source == "twostream":
            background = _clips(read_samples(samples[source], COMPARE, "background")[:, None])
            mask = torch.from_numpy(read_samples(samples[source], COMPARE, "mask").astype(np.float64) / 255)
            stats["background_variance"] = background_temporal_variance(background)
            stats["mask_mean"] = mask_sparsity(mask)
        statistics[source] = stats
    record = {
        "judged_by": JUDGED_BY, "scene": sizes["data"].get("scene"), "preference": rows, "statistics": statistics,
        "judge": {**{k: v for k, v in configs[0].__dict__.items() if k != "seed"},
                  "panel_seeds": [cfg.seed for cfg in configs], "real_clips": len(real_judge),
                  "generated_clips": len(pooled), "trained_on": list(trained_on)},
        "feature_space": feature_space,
        "sets": {"real_compare": len(real_compare), **{v: len(compare[v]) for v in VARIANTS}},
        "model_provenance": [dict(open_shard(samples[v]).attrs["model_provenance"]) for v in VARIANTS],
    }
    write_json(out_json, record)
    return record


FUTURE_SOURCE = "future (from real first frames)"


def write_motion_table(samples: Mapping[str, Path], summary: Path, data_sizes: Mapping[str, Any], out_csv: Path,
                       config: Mapping[str, Any], source_records: Sequence[Path]) -> None:
    """Flow-magnitude histograms of the compare clips of every model (``samples`` may hold the future
    generator's ``future`` shard) and of the real compare clips."""
    sources = {NAMES[v]: read_samples(samples[v]) for v in VARIANTS if v in samples}
    if FUTURE in samples:
        sources[FUTURE_SOURCE] = read_samples(samples[FUTURE])
    sources["real"] = to_frames(vgan_clips(summary, data_sizes).read("compare"))
    rows = magnitude_rows(sources)
    for row in rows[:: len(BINS) - 1]:
        log.info("%s: mean flow %.3f px/frame, %.1f%% of pixels moving", row["row"], row["mean_magnitude"],
                 100 * row["moving"])
    record = provenance(config, list(source_records),
                        models=[dict(open_shard(samples[v]).attrs["model_provenance"]) for v in samples],
                        units={"ours": "share of pixels (all frame pairs of all compare clips) whose flow magnitude "
                                       "is in [low, high) pixels per frame at the clips' size",
                               "moving": f"share of pixels moving at least {MOVING} px/frame",
                               "flow": "OpenCV DIS (medium) between consecutive frames"})
    write_table(Path(out_csv), "vgan_flow_magnitudes", rows, record, {})  # the paper has no such numbers

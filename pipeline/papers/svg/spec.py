"""svg (Denton & Fergus 2018): what the graph needs to know, without torch.

The datasets, variants and backbones, the files each job reads, the tables and figures it
produces, and its sizes per preset. The paper plots curves only, so it has no ``REFERENCE``
numbers: its tables carry an empty ``paper`` column.

Sizes: model widths, schedules, sample counts.

Per dataset (``smmnist``, ``kth``, ``bair``): ``model`` holds what ``pipeline.papers.svg.model.SVGConfig``
takes beyond the variant and the image channels; ``train`` the schedule of ``pipeline.training.fit``;
``eval`` the sample counts. ``model.backbone`` is the paper's frame encoder/decoder family at every
preset (``spec.BACKBONES``: DCGAN for SM-MNIST, VGG for KTH and BAIR); the authors' code takes either
for any dataset (``--model``), and so does this key, which the tables' ``backbone`` column states.
The conditioning and training horizons (``n_past``, ``n_future``), |z|, beta and the learning rate
are the paper's at every scale; smaller scales narrow the convolutional backbone (``width``, the
channels of its first stage) and train and sample less. Test-time generation runs over every frame
of the test sequences after the conditioning ones, beyond the training horizon as in the paper's plots.

Paper values (Sec. 4.1-4.4): |h| = |g| = 128, LSTMs of 256 cells, DCGAN (SM-MNIST) or VGG16
(KTH, BAIR) with 64 channels in the first stage, |z| = 10 / 32 / 64, beta 1e-4 / 1e-6 / 1e-4,
Adam lr 0.002; SM-MNIST 5 -> 10, KTH 10 -> 10 at 128x128 (the authors' README: "Experimental
results in the paper used 128x128"; smaller presets keep 64x64), BAIR 2 -> 10; 100 samples per test sequence, the
best kept; Fig. 6 with 500 synchronized sequences over 100 steps. The paper gives no schedule;
``train`` at paper scale is the authors' code default (batch 100, 300 epochs of 600 batches).

``conventions`` (every preset; ``CONVENTIONS`` lists the choices, the first being the authors'
code, edenton/svg, the default): how the numbers are measured where the paper is silent or its
text and the code differ. Each is one override away, e.g.
``overrides={svg: {conventions: {ssim_data_range: 1}}}``; every table states the ones it used.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

PAPER = "svg"
CLIP_SETS: tuple[tuple[str, str], ...] = (("kth", "svg"),)
"""KTH is cut into clips; SM-MNIST is generated (its test set by the data stage) and BAIR read from TFRecords."""
DATASETS: tuple[str, ...] = ("smmnist", "kth", "bair")
EXAMPLE_ROWS: tuple[str, ...] = ("truth", "posterior", "best", "random 1", "random 2", "random 3")
"""Rows of the sample GIFs, as the authors' ``make_gifs``: the truth, the approximate posterior's
future (``SVG.posterior_future``), the best of the samples by mean SSIM and three random ones."""
CURVE_COLUMNS: tuple[str, ...] = (
    "model", "metric", "frame", "mean", "ci_low", "ci_high", "n_sequences", "n_videos", "n_samples", "n_cond",
    "train_horizon",
)
"""Columns of a per-frame score curve (``metrics.curve_table``), read by the figures without torch."""


EVALUATED: tuple[str, ...] = ("deterministic", "fp", "lp")
"""Variants scored per frame (Fig. 7, 8); ``lp1`` (single-digit SM-MNIST) only serves Fig. 5, when
``fig5.model`` asks for it (``FIG5_MODELS``)."""


VARIANTS: dict[str, tuple[str, int | None]] = {
    # name -> (SVGConfig.variant, SM-MNIST digits per sequence; None: the test set's count)
    "deterministic": ("deterministic", None),
    "fp": ("fp", None),
    "lp": ("lp", None),
    "lp1": ("lp", 1),
}


FIG5_MODELS: dict[str, str] = {
    "lp1": "the single-digit SVG-LP, trained for it as the paper's Fig. 5",
    "lp": "the two-digit SVG-LP of Figs. 6-7, fed the single-digit sequences (one model fewer to train)",
}
"""``fig5.model``: which SVG-LP draws Fig. 5's samples."""


BACKBONES: dict[str, tuple[str, int]] = {
    # dataset -> (the paper's frame encoder/decoder family, image channels); Sec. 4.1. The family is
    # the default of the dataset's model.backbone key
    "smmnist": ("dcgan", 1),
    "kth": ("vgg", 1),  # KTH is grey-level video
    "bair": ("vgg", 3),
}


TABLES: dict[str, tuple[str, tuple[str, ...]]] = {
    # dataset -> (results/tables/<name>.csv and figures/<name>.png, metrics it holds)
    "smmnist": ("smmnist_ssim", ("ssim", "psnr")),  # Fig. 7 left (plots SSIM; the table has PSNR too)
    "kth": ("kth_ssim", ("ssim", "psnr")),  # Fig. 7 right
    "bair": ("bair_ssim_psnr", ("ssim", "psnr")),  # Fig. 8
}


BASELINES: tuple[str, ...] = ("copylast",)
"""Trivial predictors scored by the same code as the models: ``copylast`` repeats the last
conditioning frame."""


CONVENTIONS: dict[str, tuple[Any, ...]] = {
    # key -> allowed values, the authors' code first (the default at every preset)
    # SSIM data range: the authors' eval_seq called skimage's compare_ssim without data_range; for
    # float images that old scikit-image took dtype_range (-1, 1), i.e. 2. PSNR's range is 1 either
    # way (compare_psnr used 1 for non-negative float images).
    "ssim_data_range": (2.0, 1.0),
    # batch norm at test: generate_svg_lp.py leaves the encoder and decoder in training mode
    "bn_at_test": ("train", "eval"),
    # decoder skips: frame n_past - 2 (code), n_past - 1 (paper text), previous frame (--last_frame_skip)
    "skip_frame": ("before_last", "last", "previous"),
    # BAIR training windows: data/bair.py reads frames 0..n_past+n_future-1 of each sequence
    "bair_train_windows": ("start", "random"),
    # KTH test windows: non-overlapping within a video (honest intervals) or every clip the stride cut
    "kth_test_windows": ("disjoint", "all"),
}


def check_conventions(conventions: Mapping[str, Any]) -> None:
    """A clear error naming the key when a convention is unknown or has a value not in ``CONVENTIONS``."""
    for key, value in conventions.items():
        if key not in CONVENTIONS:
            raise KeyError(f"svg.conventions.{key}: unknown; known: {', '.join(CONVENTIONS)}")
        allowed = CONVENTIONS[key]
        ok = value in allowed if not isinstance(allowed[0], float) else float(value) in allowed
        if not ok:
            raise ValueError(f"svg.conventions.{key}: {value!r} is not one of {list(allowed)}")


AUTHORS_CONVENTIONS: dict[str, Any] = {key: values[0] for key, values in CONVENTIONS.items()}

TRAINING_CONVENTIONS: tuple[str, ...] = ("skip_frame", "bair_train_windows")
"""The conventions a model's training reads (the others only change how it is scored)."""


ORDERING_DATASETS: tuple[str, ...] = ("smmnist", "kth")
"""Datasets with a ``<dataset>_ordering.csv``: SVG-LP vs SVG-FP vs deterministic vs copying the
last frame as paired differences (BAIR's test set is only there through ``url`` / ``path``)."""


ROLLOUT_DATASETS: tuple[str, ...] = ("bair",)
"""Datasets with Fig. 11's long rollouts: SVG-LP run forward ``rollout.steps`` frames from the
first n_past frames of test sequences (the paper: BAIR, 100 steps; the test sequences have 30)."""


SMMNIST_SETS: tuple[str, ...] = ("synchronized", "sharedstart")
"""Extra SM-MNIST sets: Fig. 6 (one trajectory, many digits) and Fig. 5 (one start, one digit)."""



_PAPER_MODELS = {
    "smmnist": {"width": 64, "g_dim": 128, "z_dim": 10, "rnn_size": 256, "n_past": 5, "n_future": 10,
                "beta": 1e-4, "lr": 2e-3},
    "kth": {"width": 64, "g_dim": 128, "z_dim": 32, "rnn_size": 256, "n_past": 10, "n_future": 10,
            "beta": 1e-6, "lr": 2e-3},
    "bair": {"width": 64, "g_dim": 128, "z_dim": 64, "rnn_size": 256, "n_past": 2, "n_future": 10,
             "beta": 1e-4, "lr": 2e-3},
}


def _dataset(name: str, model: dict, train: dict, evaluation: dict) -> dict:
    paper_model = {"backbone": BACKBONES[name][0], **_PAPER_MODELS[name]}
    return {"model": {**paper_model, **model}, "train": train, "eval": evaluation}


def _train(steps: int, batch_size: int, checkpoint_every: int, log_every: int) -> dict:
    # steps: optimisation steps; batch_size: sequences per step
    return {"steps": steps, "batch_size": batch_size, "checkpoint_every": checkpoint_every, "log_every": log_every}


def _eval(sequences: int, samples: int, batch_size: int, examples: int, sample_chunk: int = 0) -> dict:
    # sequences: test sequences scored, spread over the test set (0 = all); samples: futures
    # drawn per sequence, the best kept; batch_size: sequences drawn together (batch norm's
    # statistics at test are over them, per sample: the authors' generate_svg_lp.py used 100);
    # examples: sequences saved for GIFs; sample_chunk: samples per forward pass (0: all at once,
    # batch_size * samples futures). The chunk is speed only (each sample has its own noise and
    # statistics): a few hundred futures per pass run faster per frame on a CPU than thousands.
    return {"sequences": sequences, "samples": samples, "batch_size": batch_size, "sample_chunk": sample_chunk,
            "examples": examples}


SIZES = {
    "smoke": {
        "smmnist": _dataset("smmnist", {"width": 4, "g_dim": 16, "rnn_size": 16}, _train(3, 4, 2, 1), _eval(4, 3, 4, 1)),
        "kth": _dataset("kth", {"width": 4, "g_dim": 16, "rnn_size": 16}, _train(3, 2, 2, 1), _eval(4, 3, 4, 1)),
        "bair": _dataset("bair", {"width": 4, "g_dim": 16, "rnn_size": 16}, _train(3, 2, 2, 1), _eval(4, 3, 4, 1)),
        # Fig. 5: per entry of first_bounces (0-based frame of the first wall hit), `sequences`
        # single-digit sequences sharing one start; the paper's three examples hit at t = 8, 11, 16
        # fig5.model: which SVG-LP draws the samples (FIG5_MODELS)
        "fig5": {"sequences": 3, "samples": 2, "frames": 12, "first_bounces": [5, 7, 9], "model": "lp1"},
        # Fig. 6: synchronized sequences (the test set's digit count) fed to the learned prior
        "fig6": {"sequences": 4, "frames": 24},
        # BAIR TFRecords -> Zarr shards; max_sequences per split (0 = all)
        "bair_shards": {"sequences_per_shard": 4, "max_sequences": 8},
        # sample GIFs per evaluated model (at most eval.examples)
        "gifs": 1,
        # Fig. 11: SVG-LP run forward `steps` frames after n_past, on `sequences` test sequences
        # (at least 2: batch statistics), drawn every `every` frames in the strip
        "rollout": {"steps": 6, "sequences": 2, "every": 2},
        "conventions": dict(AUTHORS_CONVENTIONS),
    },
    "demo": {
        # SM-MNIST: the paper's LSTMs and |h|, a DCGAN of width 8; about 700 s per model on one
        # thread, two at once on 2 cores (the same time per model as one two-thread job).
        # 3000 steps: SVG-LP's best of 20 passed "copy the last frame" in SSIM between step 2500
        # (+0.001) and 3000 (+0.011 +- 0.011; 3500: +0.024), measured on seed 0 with two threads;
        # by 2000 it is below it. At 3000 (seed 0) LP > FP > deterministic in every scope, as the
        # paper, on one thread and on two; at 2000 whether SVG-FP's posterior collapsed depended on
        # the seed and float summation order.
        "smmnist": _dataset("smmnist", {"width": 8}, _train(3000, 16, 100, 25), _eval(64, 100, 32, 4, sample_chunk=10)),
        # KTH: the DCGAN of width 8 (VGG at 64x64 is ~10x its cost per step) for 1500 steps of 8
        # on the demo's stand-in (60 scenes per class, faster walkers: presets.py): SVG-LP beat
        # copying the last frame (SSIM +0.032 [+0.011, +0.053]); 750 steps of 16, the same cost,
        # were level with it (+0.009 [-0.004, +0.021]), 1500 of 16 beat it by as much in twice the time
        "kth": _dataset("kth", {"backbone": "dcgan", "width": 8}, _train(1500, 8, 250, 25), _eval(32, 10, 16, 4)),
        # BAIR (VGG at 64x64): the chain runs, nothing is learned at this budget
        "bair": _dataset("bair", {"width": 4}, _train(200, 4, 50, 25), _eval(32, 10, 16, 4)),
        # Fig. 5 from the two-digit SVG-LP: the single-digit one did not reproduce it at this budget
        # either (workflow/report/svg/bounce_velocity.rst) and its ~600 s pay for KTH's models
        "fig5": {"sequences": 20, "samples": 20, "frames": 20, "first_bounces": [7, 10, 15], "model": "lp"},
        "fig6": {"sequences": 100, "frames": 100},
        "bair_shards": {"sequences_per_shard": 256, "max_sequences": 2048},
        "gifs": 2,
        "rollout": {"steps": 100, "sequences": 4, "every": 10},
        "conventions": dict(AUTHORS_CONVENTIONS),
    },
    "paper": {
        "smmnist": _dataset("smmnist", {}, _train(180_000, 100, 1000, 100), _eval(0, 100, 100, 8, sample_chunk=2)),
        # KTH at 128x128: "Experimental results in the paper used 128x128" (the authors' README;
        # models/vgg_128.py); the KTH clips (clips.svg.size) have the model's image_size at every
        # preset (tested); frames are 64x64 where image_size is not given
        "kth": _dataset("kth", {"image_size": 128}, _train(180_000, 100, 1000, 100),
                        _eval(0, 100, 100, 8, sample_chunk=2)),
        "bair": _dataset("bair", {}, _train(180_000, 100, 1000, 100), _eval(0, 100, 100, 8, sample_chunk=2)),
        "fig5": {"sequences": 100, "samples": 100, "frames": 20, "first_bounces": [7, 10, 15], "model": "lp1"},
        "fig6": {"sequences": 500, "frames": 100},
        "bair_shards": {"sequences_per_shard": 1024, "max_sequences": 0},
        "gifs": 4,
        "rollout": {"steps": 100, "sequences": 8, "every": 10},
        "conventions": dict(AUTHORS_CONVENTIONS),
    },
}


REFERENCE: dict[str, dict[str, dict[str, float]]] = {}
"""The paper reports curves only (Figs. 7, 8): no numbers to put beside ours. That includes SV2P
(Babaeizadeh et al. 2017), which Fig. 8 plots on BAIR and the text compares only in words ("SVG-LP
outperforms ... for the first few steps, after which Babaeizadeh et al. (2017) is marginally
better"): reading values off the plot would be a guess, so none are given."""


def targets(sources: Mapping[str, str], results: Path, sizes: Mapping[str, Any]) -> list[Path]:
    """Per dataset its table, curve figure, sample GIFs and ordering; Figs. 5 and 6 with SM-MNIST."""
    check_conventions(sizes["conventions"])
    fig5_model(sizes)
    out = []
    for dataset in DATASETS:
        if sources.get(dataset, "off") == "off":
            continue
        name = TABLES[dataset][0]
        out += [results / "tables" / f"{name}.csv", results / "figures" / f"{name}.png"]
        out += [gif for variant in EVALUATED for gif in gifs(results, dataset, variant, sizes)]
        if dataset in ROLLOUT_DATASETS:
            out += rollout_figures(results, dataset)
        if dataset in ORDERING_DATASETS:
            out.append(results / "tables" / f"{dataset}_ordering.csv")
    if sources.get("smmnist", "off") != "off":
        out += [results / "figures" / "smmnist_bounce_velocity.png", results / "figures" / "smmnist_prior_sigma.png"]
    return out


def rollout_figures(results: Path, dataset: str) -> list[Path]:
    """Fig. 11: the strip of a long SVG-LP rollout and its animation."""
    return [results / "figures" / f"{dataset}_rollout.png", results / "figures" / "svg" / f"{dataset}_rollout.gif"]


def gifs(results: Path, dataset: str, variant: str, sizes: Mapping[str, Any]) -> list[Path]:
    return [results / "figures" / "svg" / f"{dataset}_{variant}_{k}.gif" for k in range(int(sizes["gifs"]))]


def data_targets(sources: Mapping[str, str], data_root: Path) -> list[Path]:
    """Generated data the paper reads: the SM-MNIST test set."""
    if sources.get("smmnist", "off") == "off":
        return []
    return [Path(data_root) / "clips" / "smmnist" / "svg" / "test.zarr"]


def models(datasets: Mapping[str, str], sizes: Mapping[str, Any] | None = None) -> list[tuple[str, str]]:
    """(dataset, variant) pairs to train, for the datasets whose source is not ``off``; the
    single-digit SVG-LP when Fig. 5 reads it (``sizes["fig5"]["model"]``; without sizes, always)."""
    pairs = []
    for dataset in DATASETS:
        if datasets.get(dataset, "off") == "off":
            continue
        pairs += [(dataset, v) for v in EVALUATED]
        if dataset == "smmnist" and (sizes is None or fig5_model(sizes) == "lp1"):
            pairs.append((dataset, "lp1"))
    return pairs


def fig5_model(sizes: Mapping[str, Any]) -> str:
    """The SVG-LP variant Fig. 5 samples from; a clear error for one not in ``FIG5_MODELS``."""
    model = sizes["fig5"]["model"]
    if model not in FIG5_MODELS:
        raise ValueError(f"svg.fig5.model: {model!r} is not one of {list(FIG5_MODELS)}")
    return model


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
    check(dataset, variant)
    return data_inputs(dataset, data_root)


def check(dataset: str, variant: str) -> None:
    if dataset not in DATASETS:
        raise KeyError(f"svg has no dataset {dataset!r}; known: {', '.join(DATASETS)}")
    if variant not in VARIANTS or (variant == "lp1" and dataset != "smmnist"):
        known = ", ".join(v for v in VARIANTS if v != "lp1" or dataset == "smmnist")
        raise KeyError(f"svg {dataset} has no variant {variant!r}; known: {known}")


def training_sizes(sizes: Mapping[str, Any], dataset: str, variant: str) -> dict[str, Any]:
    """Recipe contract: a model reads its dataset's model and schedule, and the training conventions."""
    return {dataset: {k: sizes[dataset][k] for k in ("model", "train")},
            "conventions": {k: sizes["conventions"][k] for k in TRAINING_CONVENTIONS}}



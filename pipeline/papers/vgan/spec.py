"""vgan (Vondrick et al. 2016): what the graph needs to know, without torch.

Three models train on the stabilized Flickr clips (scene videos; a synthetic stand-in by
default): the two-stream and one-stream generators against their discriminators, and the
autoencoder baseline whose 100-d codes a Gaussian mixture then models. An automatic judge (a
real-vs-generated video classifier trained on held-out real clips and samples kept out of the
comparison) stands in for the paper's human raters in Table 1.

Sizes per preset: model widths, schedules, sample counts. The clip size (32 frames of 64x64)
is the data's (``clips.vgan`` in ``pipeline.presets``). The paper's values (Sec. 2-3): z of 100
dims, Adam lr 2e-4 with beta1 0.5, batch 64, a GMM of 256 components over the AE codes; the
paper gives no iteration count, so ``paper.train.steps`` (100,000) is our choice (change it
with ``overrides``). The small presets train at 16 frames of 32x32 (``data.frames``, ``data.size``).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

PAPER = "vgan"
DATASET = "flickr"
VARIANTS: tuple[str, ...] = ("twostream", "onestream", "ae")
"""Two-stream GAN, one-stream GAN, autoencoder + GMM baseline (the models of Table 1)."""
GANS: tuple[str, ...] = ("twostream", "onestream")
FUTURE = "future"
"""Future generation (Sec. 3.4): an image encoder in front of the two-stream generator; not in Table 1."""
CLIP_SETS: tuple[tuple[str, str], ...] = (("ucf101", "vgan"), ("flickr", "vgan"))
"""UCF101 (or its stand-in) for action recognition (Sec. 3.3); Flickr's scenes for the generators."""

SIZES = {
    "smoke": {
        # z_dim: latent size (paper 100); width: factor on every hidden width (paper 1.0, 64 .. 512)
        "model": {"z_dim": 8, "width": 1 / 16},
        # frames, size: the clips every model and the judge see, resampled from the data's 32 x 64 x 64
        # (every k-th frame, k x k pixel means; paper 32, 64). judge_fraction / compare_fraction:
        # training videos held out (whole videos, spread over classes) for training the judge and
        # for the real side of the comparison; the models never see them
        "data": {"frames": 16, "size": 32, "judge_fraction": 0.25, "compare_fraction": 0.25},
        # steps per model; lr and beta1 are the paper's Adam; mask_penalty: L1 weight on the mask;
        # average: relative width of the GANs' weight average (gan.py), sampled instead of the last
        # generator (0: off, the paper's code; not the paper's, on below the paper preset)
        "train": {"batch_size": 2, "steps": {"twostream": 2, "onestream": 2, "ae": 2, "future": 2}, "lr": 2e-4, "beta1": 0.5,
                  "mask_penalty": 0.1, "average": 0.12, "checkpoint_every": 1, "log_every": 1, "preview_every": 0, "workers": 0},
        # components of the Gaussian mixture over the AE codes (paper 256; at most the training clips)
        "gmm": {"components": 1},
        # future generation (Sec. 3.4, main_conditional.lua): base width of its networks (128: twice the
        # noise model's), batch, weight and norm of the first-frame term (the code: L1 x 10), mask prior off
        "future": {"base": 128, "batch_size": 2, "first_frame_weight": 10.0, "first_frame_norm": "l1"},
        # samples: generated clips per model for the comparison (the real side is the compare hold-out);
        # judge_samples: generated clips per model the judge trains on (other seeds); judge.panel: judges
        # trained alike from other seeds whose rates Table 1 averages (interval over clips and judges)
        "eval": {"samples": 4, "judge_samples": 4, "bootstrap": 200, "batch_size": 4,
                 "judge": {"width": 4, "steps": 4, "batch_size": 4, "lr": 1e-3, "panel": 2}, "figure_samples": 2},
        # action recognition (Sec. 3.3, Fig. 4): the classifier of D's trunk + dropout + K-way conv on
        # the action dataset's stabilized clips; shares: 1/k of the labelled training videos per class
        # (Fig. 4b/c); test_fraction: training videos held out as test when the dataset has no test
        # split (the synthetic stand-in); probe_c: inverse L2 weight of the logistic regression; runs:
        # training runs of every classifier (other seeds), a test video scored by the share of runs right on it
        "action": {"steps": 2, "batch_size": 4, "lr": 2e-4, "beta1": 0.5, "dropout": 0.5, "shares": [1, 2], "runs": 2,
                   "test_fraction": 0.3, "probe_c": 1.0, "checkpoint_every": 1, "log_every": 1, "workers": 0},
    },
    "demo": {
        "model": {"z_dim": 32, "width": 1 / 8},
        "data": {"frames": 16, "size": 32, "judge_fraction": 0.25, "compare_fraction": 0.25},
        # future: 600 steps keep the futures close to their first frame (first-frame L1 0.358 against 0.532
        # for another clip's first frame; 0.340 at 1,000 steps) and the vgan part within 10 minutes
        # average 0.12 (the GANs sampled through their weights averaged over training, 90% of the weight on
        # its last 31%)
        # and 3,000 steps: two-stream / one-stream over AE 54% / 53% by the judge, 8% / 7% with the last
        # weights after 2,000 (preference.rst: the settings tried)
        "train": {"batch_size": 8, "steps": {"twostream": 3000, "onestream": 3000, "ae": 300, "future": 600}, "lr": 2e-4,
                  "beta1": 0.5, "mask_penalty": 0.1, "average": 0.12, "checkpoint_every": 500, "log_every": 50,
                  "preview_every": 100, "workers": 0},
        "gmm": {"components": 4},
        "future": {"base": 128, "batch_size": 8, "first_frame_weight": 10.0, "first_frame_norm": "l1"},
        "eval": {"samples": 64, "judge_samples": 64, "bootstrap": 2000, "batch_size": 32,
                 "judge": {"width": 8, "steps": 300, "batch_size": 16, "lr": 1e-3, "panel": 5}, "figure_samples": 4},
        # runs: on 49 test videos one classifier's seed moves fine-tune minus random init from -8 to +16
        # points (5 seeds, all labelled videos): the tables give the mean of 3 runs
        "action": {"steps": 300, "batch_size": 16, "lr": 2e-4, "beta1": 0.5, "dropout": 0.5, "shares": [1, 2, 4, 8],
                   "runs": 3, "test_fraction": 0.3, "probe_c": 1.0, "checkpoint_every": 100, "log_every": 10, "workers": 0},
    },
    "paper": {
        "model": {"z_dim": 100, "width": 1.0},
        "data": {"frames": 32, "size": 64, "judge_fraction": 0.1, "compare_fraction": 0.1},
        "train": {"batch_size": 64, "steps": {"twostream": 100_000, "onestream": 100_000, "ae": 100_000,
                                                   "future": 100_000},
                  "lr": 2e-4, "beta1": 0.5, "mask_penalty": 0.1, "average": 0.0, "checkpoint_every": 1000, "log_every": 100,
                  "preview_every": 1000, "workers": 4},
        "gmm": {"components": 256},
        "future": {"base": 128, "batch_size": 32, "first_frame_weight": 10.0, "first_frame_norm": "l1"},
        "eval": {"samples": 1000, "judge_samples": 1000, "bootstrap": 2000, "batch_size": 64,
                 "judge": {"width": 32, "steps": 3000, "batch_size": 64, "lr": 1e-3, "panel": 5}, "figure_samples": 8},
        # main_ucf.lua: batch 256, max_iter 1000, Adam 2e-4 / 0.5, VolumetricDropout(0.5)
        "action": {"steps": 1000, "batch_size": 256, "lr": 2e-4, "beta1": 0.5, "dropout": 0.5, "shares": [1, 2, 4, 8],
                   "runs": 1, "test_fraction": 0.3, "probe_c": 1.0, "checkpoint_every": 100, "log_every": 10, "workers": 4},
    },
}

REFERENCE: dict[str, dict[str, dict[str, float]]] = {
    # Vondrick et al., Table 1: human 2AFC preference (%), mean over scenes.
    "vgan_preference": {
        "two-stream over AE": {"preference": 82},
        "one-stream over AE": {"preference": 82},
        "two-stream over one-stream": {"preference": 53},
        "two-stream over real": {"preference": 18},
        "one-stream over real": {"preference": 16},
        "AE over real": {"preference": 3},
    },
    # Vondrick et al., Fig. 4a: UCF101 accuracy (%).
    "ucf101_action_accuracy": {
        "chance": {"accuracy": 0.9},
        "STIP": {"accuracy": 43.9},
        "temporal coherence": {"accuracy": 45.4},
        "shuffle and learn": {"accuracy": 50.2},
        "VGAN + random init": {"accuracy": 36.7},
        "VGAN + logistic regression": {"accuracy": 49.3},
        "VGAN + fine-tune": {"accuracy": 52.1},
        "ImageNet supervision": {"accuracy": 91.4},
    },
}
"""The paper's numbers, table -> row -> column -> value, as printed."""

ACTION_DATASET = "ucf101"
"""The labelled action videos of Sec. 3.3 (the synthetic action classes by default)."""
ACTION_INITS: tuple[str, ...] = ("random", "finetune")
ACTION_ROWS: dict[str, str] = {
    "random": "VGAN + random init", "finetune": "VGAN + fine-tune", "linear": "VGAN + logistic regression",
    "chance": "chance", "most frequent class": "most frequent class",
}
"""Fig. 4a's row of each classifier (``REFERENCE`` spells them) and of the trivial answers."""
FEATURE_NET = "random-1of1"  # classifier_name("random", 1)
"""The 3D CNN trained on the action data whose pooled features FD / KID use: the random-init
classifier on every labelled video (no downloaded weights)."""


def action_row(init: str) -> str:
    return ACTION_ROWS[init]


def classifier_name(init: str, share: int, run: int = 0) -> str:
    """A Fig. 4 classifier's name (its model folder): ``<init>-1of<share>``, ``-run<k>`` for the k-th
    extra training run (``action.runs``)."""
    return f"{init}-1of{int(share)}" + (f"-run{int(run)}" if run else "")


def parse_classifier(name: str) -> tuple[str, int, int]:
    """(init, share, run) of a :func:`classifier_name`."""
    init, _, rest = name.partition("-1of")
    share, _, run = rest.partition("-run")
    if init in ACTION_INITS and share.isdigit() and (run == "" or run.isdigit()):
        parsed = init, int(share), int(run or 0)
        if classifier_name(*parsed) == name:  # one spelling per classifier: no "-run0", no "-run01"
            return parsed
    raise KeyError(f"{name!r} is not a classifier name <init>-1of<share>[-run<k>] (init: {', '.join(ACTION_INITS)})")


def derived_seed(label: str) -> int:
    """A 32-bit seed named by ``label`` (a hash: the same on every machine and Python, unlike ``hash``), for
    runs beside the graph seed's own (action classifier runs, the judges of a panel)."""
    return int.from_bytes(hashlib.sha256(label.encode()).digest()[:4], "little")


def classifier_seed(seed: int, run: int) -> int:
    """The training seed of a classifier's run ``run``: the graph's seed for run 0, a hash of both after
    (apart from any other graph seed's runs); a run number gives every init and share the same seed, so
    fine-tune and random init stay paired (same head initialisation, batches and dropout draws)."""
    if run == 0:
        return seed
    return derived_seed(f"vgan action run {seed}/{run}")


def action_classifiers(sizes: Mapping[str, Any]) -> list[str]:
    """Names of the classifiers of Fig. 4, every init at every share (share 1 always: Fig. 4a and FD/KID),
    ``action.runs`` training runs of each (default 1)."""
    shares = sorted({1, *(int(k) for k in sizes["action"]["shares"])})
    runs = int(sizes["action"].get("runs", 1))
    if runs < 1:
        raise ValueError(f"vgan action.runs must be at least 1, got {runs}")
    return [classifier_name(init, k, r) for r in range(runs) for init in ACTION_INITS for k in shares]


def action_sizes(sizes: Mapping[str, Any]) -> dict[str, Any]:
    """What an action classifier reads: widths, clip size and its schedule (not the GAN's steps)."""
    action = {k: v for k, v in sizes["action"].items() if k not in ("shares", "runs")}
    return {"model": dict(sizes["model"]), "data": {k: sizes["data"][k] for k in ("frames", "size")},
            "action": action}


PAIRINGS: tuple[tuple[str, str], ...] = (
    ("twostream", "ae"), ("onestream", "ae"), ("twostream", "onestream"),
    ("twostream", "real"), ("onestream", "real"), ("ae", "real"),
)
"""Table 1's pairings (A, B): how often A's clip is judged the more realistic."""
NAMES: dict[str, str] = {"twostream": "two-stream", "onestream": "one-stream", "ae": "AE", "real": "real"}
CONTROL_ROW = "real over real (control)"


def pairing_row(a: str, b: str) -> str:
    """Table 1's row name of a pairing (the names of ``REFERENCE``)."""
    return f"{NAMES[a]} over {NAMES[b]}"


def models(sources: Mapping[str, str], sizes: Mapping[str, Any] | None = None) -> list[tuple[str, str]]:
    """(dataset, variant) pairs to train: the three models of Table 1 and the future generator on Flickr,
    over every scene (per-scene models: :func:`scene_models`)."""
    return [(DATASET, v) for v in (*VARIANTS, FUTURE)] if sources.get(DATASET, "off") != "off" else []


SCENE_SEPARATOR = "-"
"""A per-scene model's name: ``<variant>-<scene>`` (``twostream-beach``); variant names hold no separator."""
SCENE_NAME = r"[A-Za-z0-9_]+"
"""What a scene (a class folder's name) may be called: it becomes part of file names and wildcards."""


def scenes(dataset_config: Mapping[str, Any]) -> list[str]:
    """The scene categories with models of their own (``datasets.flickr.scenes``; none by default).

    The paper trains a generator per scene category (Sec. 3.2: golf course, beach, train station,
    hospital babies; Table 1 has a column each). A scene is a class label of the Flickr manifest: a
    ``path`` folder's subfolder name, or a stand-in class. The models over every video always train:
    their discriminator is the representation of Sec. 3.3, their samples Table 1's pooled column.
    """
    listed = [str(s) for s in dataset_config.get("scenes", []) or []]
    bad = [s for s in listed if not re.fullmatch(SCENE_NAME, s)]
    if bad or len(set(listed)) != len(listed):
        raise ValueError(f"datasets.{DATASET}.scenes: {listed} must be distinct class labels of letters, digits "
                         f"and '_' (rename the scene folders otherwise); not {bad or 'repeated'}")
    return listed


def scene_variant(variant: str, scene: str | None) -> str:
    """The model name of ``variant`` trained on one scene's videos (``variant`` itself for every scene)."""
    return variant if not scene else f"{variant}{SCENE_SEPARATOR}{scene}"


def parse_variant(name: str) -> tuple[str, str | None]:
    """(variant, scene or None) of a model name; only Table 1's models have per-scene versions."""
    variant, _, scene = name.partition(SCENE_SEPARATOR)
    if variant not in (*VARIANTS, FUTURE) or (scene and variant not in VARIANTS) or (_ and not scene):
        raise KeyError(f"vgan has no model {name!r}; known: {', '.join((*VARIANTS, FUTURE))}, "
                       f"and <{'|'.join(VARIANTS)}>{SCENE_SEPARATOR}<scene>")
    return variant, scene or None


def data_sizes(sizes: Mapping[str, Any], scene: str | None = None) -> dict[str, Any]:
    """The clip sizes and hold-outs, and the scene whose clips a job reads (none: every video)."""
    return {**sizes["data"], **({"scene": scene} if scene else {})}


def judge_sizes(sizes: Mapping[str, Any], scene: str | None = None) -> dict[str, Any]:
    """What a judge reads: the clip sizes and hold-outs of its videos (one scene's or every video's) and the evaluation's."""
    return {"data": data_sizes(sizes, scene), "eval": sizes["eval"]}


def evaluation_dir(results_root: Path) -> Path:
    """Where vgan's samples and judges go: ``<results_root>/eval/vgan/flickr``."""
    return Path(results_root) / "eval" / PAPER / DATASET


def samples_path(evaluation: Path, variant: str, seeddir: str = "", scene: str | None = None) -> Path:
    """The samples shard of a model (``variant``, or its ``scene``'s own) in ``evaluation_dir``."""
    return Path(evaluation) / f"{seeddir}{scene_variant(variant, scene)}_samples.zarr"


def scene_models(scene_names: Sequence[str]) -> list[tuple[str, str]]:
    """(dataset, variant) pairs of the per-scene models of Table 1."""
    return [(DATASET, scene_variant(v, s)) for s in scene_names for v in VARIANTS]


def stabilized_summary(data_root: Path, dataset: str) -> str:
    """The stabilize stage's summary of a dataset's vgan clips (written once all its shards exist)."""
    return str(Path(data_root) / "stabilized" / dataset / "vgan" / "summary.csv")


def inputs(dataset: str, variant: str, data_root: Path) -> dict[str, str]:
    """Files a training job reads: the stabilized clips, through their summary."""
    check(dataset, variant)
    return {"summary": stabilized_summary(data_root, dataset)}


def training_sizes(sizes: Mapping[str, Any], dataset: str, variant: str) -> dict[str, Any]:
    """A model reads the widths, the hold-out fractions and its own schedule (the AE also the GMM).

    The other models' step counts and the evaluation sizes never retrain it.
    """
    check(dataset, variant)
    variant, scene = parse_variant(variant)
    train = {k: v for k, v in sizes["train"].items() if k != "steps"}
    if variant in ("ae", FUTURE):  # neither has a mask prior nor an averaged generator
        train = {k: v for k, v in train.items() if k not in ("mask_penalty", "average")}
    out = {"model": dict(sizes["model"]), "data": data_sizes(sizes, scene),
           "train": {**train, "steps": int(sizes["train"]["steps"][variant])}}
    if variant == "ae":
        out["gmm"] = dict(sizes["gmm"])
    if variant == FUTURE:
        out["train"]["batch_size"] = int(sizes["future"]["batch_size"])
        out["future"] = {k: v for k, v in sizes["future"].items() if k != "batch_size"}
    return out


def targets(sources: Mapping[str, str], results: Path, sizes: Mapping[str, Any]) -> list[Path]:
    """Table 1 (automatic judge), the statistics table and the figures (none when Flickr is off)."""
    if sources.get(DATASET, "off") == "off":
        return []
    tables = [results / "tables" / f"{name}.csv" for name in ("vgan_preference", "vgan_statistics",
                                                              "vgan_flow_magnitudes")]
    figures = [results / "figures" / f"vgan_{name}.png" for name in ("generations", "streams", "training",
                                                                     "flow_histograms", "futures")]
    figures += [results / "figures" / f"vgan_{name}.gif" for name in ("generations", "streams", "futures")]
    if sources.get(ACTION_DATASET, "off") != "off":
        tables += [results / "tables" / f"{ACTION_DATASET}_action_{name}.csv" for name in ("accuracy", "data")]
        figures.append(results / "figures" / "vgan_action_data.png")
    return tables + figures


def check(dataset: str, variant: str) -> None:
    if dataset != DATASET:
        raise KeyError(f"vgan has no dataset {dataset!r}; known: {DATASET}")
    parse_variant(variant)

"""The fetch stage: bring a dataset into being, from wherever the config says it comes from.

``url`` downloads the official files (``pipeline.fetch``), ``path`` checks and records a copy the
user already has, ``synthetic`` renders an offline stand-in (``pipeline.synthetic``). All three end
the same way: a ``source.json`` record in the dataset's raw folder naming the folder the listing
reads (``root``), its layout and where it came from, so every later output can say which source it
was built from.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pipeline.atomic import write_text
from pipeline.fetch import SOURCE_RECORD, fetch_source, read_source
from pipeline.manifest import list_videos
from pipeline.shards import write_shard
from pipeline.synthetic.detection import standin_config, write_detection_standin
from pipeline.synthetic.digits import (
    load_digits_sklearn,
    load_mnist_idx,
    resize_digits,
)
from pipeline.synthetic.scenes import SceneConfig
from pipeline.synthetic.shapes import ShapesConfig, make_split
from pipeline.synthetic.smmnist import SMMNISTConfig, make_test_set
from pipeline.synthetic.standin import StandinConfig, write_standin_dataset

log = logging.getLogger(__name__)

STANDIN_CLASSES: dict[str, tuple[str, ...]] = {
    # Action classes of each stand-in (pipeline.synthetic.scenes): the actors' direction is
    # ambiguous from one frame, so forecasting from one frame is truly multi-modal. The walker and
    # staticflow sets use the "lean" classes: one axis of the motion is told by the frame, the
    # other is a 3:1 gamble, so a regressor beats "no motion" and a model of the distribution
    # beats the regressor (with symmetric classes only, "no motion" is the best single guess).
    "ucf101": ("climb", "dive", "push", "pull"),
    "thumos": ("climb", "dive", "push", "pull"),
    "hmdb51": ("climb", "dive", "push", "pull"),
    # KTH: dark figures walking or running across (either way) or waving in place, over a
    # homogeneous background seen by a static camera, as KTH was filmed
    "kth": ("walking", "running", "handwaving"),
    "flickr": ("updown", "leftright", "diagonal", "wave"),
    "exercise": ("updown", "wave"),
    "pennaction": ("updown", "leftright", "diagonal"),
}

# Seeds offsets per stand-in, so no two datasets (in particular UCF101's training stand-in and
# THUMOS's test stand-in) share a scene.
_SEED_OFFSET = {name: 1000 * (i + 1) for i, name in enumerate(STANDIN_CLASSES)}
_VOC_SEED_OFFSET = 1000 * (len(STANDIN_CLASSES) + 1)  # the detection stand-in shares no scene either


def read_source_record(path: Path) -> dict[str, Any]:
    """The record the fetch stage wrote for a dataset (source kind, root folder, layout, provenance)."""
    return json.loads(Path(path).read_text())


def raw_dir(data_root: Path, dataset: str) -> Path:
    """Where a dataset's downloads, generated files and ``source.json`` live."""
    return Path(data_root) / "raw" / dataset


def fetch_dataset(
    dataset: str,
    dataset_config: Mapping[str, Any],
    data_root: Path,
    standin_sizes: Mapping[str, Any] | None,
    seed: int,
    workers: int = 1,
) -> dict[str, Any]:
    """Make ``dataset`` available per its config; returns the source record.

    ``workers``: processes rendering a synthetic stand-in (the same videos whatever the count).
    """
    source = dataset_config["source"]
    folder = raw_dir(data_root, dataset)
    if source == "synthetic" and dataset == "voc2012":
        write_voc_standin(folder, standin_sizes or {}, seed)
    elif source == "synthetic":
        if standin_sizes is None or dataset not in STANDIN_CLASSES:
            raise ValueError(
                f"datasets.{dataset}.source: synthetic has no stand-in for {dataset}; use url or path"
            )
        write_standin(dataset, folder, standin_sizes, seed, workers)
    elif source in ("url", "path", "embedded"):
        fetch_source(dataset, source, dataset_config.get("path"), folder)
    else:
        raise ValueError(f"datasets.{dataset}.source: {source!r} is not something to fetch")
    return read_source(folder)


def write_standin(dataset: str, folder: Path, sizes: Mapping[str, Any], seed: int, workers: int = 1) -> Path:
    """Render the synthetic stand-in for ``dataset`` and record it as its source."""

    scene = SceneConfig(
        width=int(sizes["width"]),
        height=int(sizes["height"]),
        frames=int(round(float(sizes["seconds"]) * float(sizes["fps"]))),
        fps=float(sizes["fps"]),
        classes=STANDIN_CLASSES[dataset],
        # HMDB-51 tags camera motion and staticflow keeps only static-camera videos: give it both
        camera_motion_prob={"hmdb51": 0.25, "kth": 0.0}.get(dataset, 1.0),
        background="homogeneous" if dataset == "kth" else "cluttered",
        bounce=dataset == "kth",  # KTH's people turn back at the frame's edge instead of leaving an empty scene
        texture_scale=float(sizes.get("texture_scale", SceneConfig.texture_scale)),
        speed_range=tuple(float(v) for v in sizes.get("speed_range", SceneConfig.speed_range)),
    )
    config = StandinConfig(
        scene=scene,
        train_videos_per_class=int(sizes["train_videos_per_class"]),
        test_videos_per_class=int(sizes["test_videos_per_class"]),
        seed=seed + _SEED_OFFSET[dataset],
        hmdb_names=dataset == "hmdb51",
        include_packaged_clips=dataset in ("ucf101", "flickr"),
        save_flow=bool(sizes.get("save_flow", True)),
    )
    write_standin_dataset(folder, config, workers)
    record_path = folder / SOURCE_RECORD
    record = json.loads(record_path.read_text())
    record.update({"dataset": dataset, "source": "synthetic", "layout": "synthetic", "root": str(folder.resolve())})
    write_text(record_path, json.dumps(record, indent=2, sort_keys=True, default=str) + "\n")
    return folder


def write_voc_standin(folder: Path, sizes: Mapping[str, Any], seed: int) -> Path:
    """Render the VOC 2012 detection stand-in (``pipeline.synthetic.detection``), in VOC's layout."""

    write_detection_standin(folder, standin_config(dict(sizes), seed + _VOC_SEED_OFFSET))
    record_path = folder / SOURCE_RECORD
    record = json.loads(record_path.read_text())
    record.update({"dataset": "voc2012", "source": "synthetic", "layout": "voc", "root": str(folder.resolve())})
    write_text(record_path, json.dumps(record, indent=2, sort_keys=True, default=str) + "\n")
    return folder


def list_source(record: Mapping[str, Any], split_index: int = 1, workers: int = 4):
    """List the videos of a fetched dataset (a manifest DataFrame), whatever its source.

    Every row records the source it came from, so a table built on it can say so.
    """

    manifest = list_videos(Path(record["root"]), record["layout"], split_index=split_index, workers=workers)
    manifest["data_source"] = record["source"]
    return manifest


def digit_pool(dataset_config: Mapping[str, Any], data_root: Path, split: str, size: int = 32):
    """Digits for Stochastic Moving MNIST at ``size`` pixels (the svg code pastes 28x28 MNIST
    digits resized to 32x32): scikit-learn's bundled set offline, MNIST otherwise.

    Train and test pools are disjoint, so test sequences never show a training digit.
    """

    source = dataset_config.get("source", "synthetic")
    if source == "synthetic":
        return resize_digits(load_digits_sklearn(size=28, split=split), size)
    folder = raw_dir(data_root, "mnist")
    if not (folder / SOURCE_RECORD).is_file():
        fetch_source("mnist", source, dataset_config.get("path"), folder)
    images, _ = load_mnist_idx(read_source(folder)["root"], split="train" if split == "train" else "test")
    return resize_digits(images, size)


def write_smmnist_test_set(out: Path, dataset_config: Mapping[str, Any], sizes: Mapping[str, Any],
                           data_root: Path, seed: int) -> Path:
    """The fixed, saved SM-MNIST test set (svg), with per-digit positions, velocities and bounces."""

    cfg = SMMNISTConfig(num_digits=int(sizes["num_digits"]), seq_len=int(sizes["sequence_length"]))
    arrays, attrs = make_test_set(cfg, digit_pool(dataset_config, data_root, "test", cfg.digit_size),
                                  int(sizes["test_sequences"]), seed)
    attrs["source"] = dataset_config.get("source", "synthetic")
    return write_shard(out, arrays, attrs)


def write_shapes_split(out: Path, variant: str, split: str, sizes: Mapping[str, Any], seed: int) -> Path:
    """A train or test split of Shapes or Shapes+Texture (crossconv), generated as in the paper."""

    cfg = ShapesConfig(size=int(sizes["size"]), textured=variant == "shapestexture")
    n = int(sizes[f"{split}_pairs"])
    arrays, attrs = make_split(cfg, n, seed + (0 if split == "train" else 1))  # disjoint seeds
    attrs["source"] = "synthetic"
    return write_shard(out, arrays, attrs)

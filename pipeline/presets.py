"""Scale presets: one algorithm, three sizes.

``smoke`` runs the graph in seconds for tests, ``demo`` (the embedded default) runs the whole
graph on two CPU cores well within an hour, ``paper`` uses the papers' resolutions, widths,
sample counts and schedules. A preset changes sizes and counts, never the algorithm: every
value below is a size or a count, and every stage reads its sizes from here through
:func:`resolve` rather than from constants of its own.

Users adjust single values without writing a preset: ``overrides:`` in ``config.yaml`` is
deep-merged over the chosen preset (unknown keys are rejected, so a typo fails loudly).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

SCALES: tuple[str, ...] = ("smoke", "demo", "paper")


def _standin(videos_per_class: tuple[int, int], width: int, height: int, seconds: float, save_flow: bool = True,
             texture_scale: float | None = None, speed_range: tuple[float, float] | None = None) -> dict:
    """Sizes of a synthetic stand-in dataset: (train, test) videos per class, frame size, length.

    ``save_flow``: keep the dense ground-truth flow beside each video (about 60 MB per paper-size
    video, so off at paper scale, where the homographies, masks and positions remain).
    ``texture_scale``: typical size of the background's shapes in pixels (default: the scenes' 6,
    clutter for trackers); vgan's Flickr scenes use a third of the frame height, a few large
    regions a small video generator can learn. ``speed_range``: the actors' (min, max) speed in
    pixels per frame before their class's factor (default: the scenes' (1.0, 2.5))."""
    train, test = videos_per_class
    extra = {} if texture_scale is None else {"texture_scale": texture_scale}
    if speed_range is not None:
        extra["speed_range"] = list(speed_range)
    return {
        **extra,
        "save_flow": save_flow,
        "train_videos_per_class": train,
        "test_videos_per_class": test,
        "width": width,
        "height": height,
        "seconds": seconds,
        "fps": 30,
    }


def _detection_standin(width: int, height: int, train_images: int, val_images: int) -> dict:
    """Sizes of the VOC 2012 detection stand-in (``pipeline.synthetic.detection``): frame size, images per split."""
    return {"width": width, "height": height, "train_images": train_images, "val_images": val_images}


PRESETS: dict[str, dict[str, Any]] = {
    "smoke": {
        "standin": {
            "ucf101": _standin((1, 0), 96, 72, 1.4),
            "thumos": _standin((0, 1), 96, 72, 1.2),
            "hmdb51": _standin((2, 1), 96, 72, 0.6),
            "kth": _standin((1, 1), 80, 60, 1.2, speed_range=(1.25, 3.0)),
            "flickr": _standin((1, 0), 96, 72, 1.4, texture_scale=24),
            "exercise": _standin((1, 1), 64, 64, 0.4),
            "pennaction": _standin((1, 1), 64, 64, 0.4),
            "voc2012": _detection_standin(64, 48, 10, 6),
        },
        "clips": {
            "walker": {"width": 64, "height": 48, "frames": 31, "stride": 3, "max_clips_per_video": 2, "videos_per_shard": 4,
                       "datasets": {"thumos": {"total_clips": 0}}},
            "staticflow": {"size": 64, "stride": 5, "max_clips_per_video": 4, "videos_per_shard": 4},
            "vgan": {"size": 64, "frames": 32, "max_clips_per_video": 1, "videos_per_shard": 4},
            "svg": {"size": 64, "frames": 20, "stride": 10, "max_clips_per_video": 2, "videos_per_shard": 4, "fit": "squash",
                    "windows": "segments"},
            "crossconv": {"size": 32, "gap": 1, "stride": 2, "max_clips_per_video": 4, "videos_per_shard": 4},
        },
        "trajectories": {"n_scales": 1},
        "smmnist": {"test_sequences": 16, "sequence_length": 20, "num_digits": 2},
        "shapes": {"size": 32, "train_pairs": 64, "test_pairs": 16},
    },
    "demo": {
        "standin": {
            # walker and staticflow learn from many short scenes (one walker clip each): a few long
            # videos cut into overlapping clips are near-duplicates a net memorises
            "ucf101": _standin((40, 0), 160, 120, 1.4),
            "thumos": _standin((0, 20), 160, 120, 1.1),
            "hmdb51": _standin((40, 15), 160, 120, 0.6),
            # KTH: walkers at 2.5-6 px a frame (1-2.4 at svg's 64x64; runners twice that) and 60
            # scenes per class. With 20 scenes per class, at the scenes' default 1-2.5 px or at
            # these speeds, svg's demo models were level with copying the last frame
            # (workflow/report/svg/ordering.rst)
            "kth": _standin((60, 6), 160, 120, 2.0, speed_range=(2.5, 6.0)),
            # vgan's GANs need hundreds of clips: many short scenes of a few large regions
            "flickr": _standin((64, 0), 96, 72, 2.6, texture_scale=24),
            "exercise": _standin((4, 1), 96, 96, 1.0),
            "pennaction": _standin((4, 1), 96, 96, 1.0),
            "voc2012": _detection_standin(160, 120, 200, 100),
        },
        "clips": {
            # walker learns from many short scenes, a clip every 3rd frame as the paper (4 per scene)
            "walker": {"width": 160, "height": 120, "frames": 31, "stride": 3, "max_clips_per_video": 4, "videos_per_shard": 40,
                       "datasets": {"thumos": {"total_clips": 0}}},
            "staticflow": {"size": 120, "stride": 5, "max_clips_per_video": 6, "videos_per_shard": 16},
            "vgan": {"size": 64, "frames": 32, "max_clips_per_video": 2, "videos_per_shard": 16},
            "svg": {"size": 64, "frames": 30, "stride": 10, "max_clips_per_video": 4, "videos_per_shard": 16, "fit": "squash",
                    "windows": "segments"},
            "crossconv": {"size": 64, "gap": 1, "stride": 2, "max_clips_per_video": 12, "videos_per_shard": 16},
        },
        "trajectories": {"n_scales": 3},
        "smmnist": {"test_sequences": 256, "sequence_length": 30, "num_digits": 2},
        # the paper's 500 Shapes test pairs: at 200 x 10 samples the squares' KL difference between
        # Ours and Flow was inside its bootstrap interval (-0.23 [-0.47, +0.26]); at 500 x 10 it is not
        "shapes": {"size": 64, "train_pairs": 4000, "test_pairs": 500},
    },
    "paper": {
        # Stand-ins at paper scale only matter offline; real runs use `source: url` or `path`.
        "standin": {
            "ucf101": _standin((100, 0), 320, 240, 7.0, save_flow=False),
            "thumos": _standin((0, 40), 320, 240, 7.0, save_flow=False),
            "hmdb51": _standin((100, 20), 320, 240, 3.0, save_flow=False),
            "kth": _standin((100, 25), 160, 120, 4.0, save_flow=False, speed_range=(2.5, 6.0)),
            "flickr": _standin((100, 0), 320, 240, 8.0, save_flow=False, texture_scale=80),
            "exercise": _standin((100, 10), 128, 128, 4.0, save_flow=False),
            "pennaction": _standin((100, 10), 128, 128, 4.0, save_flow=False),
            "voc2012": _detection_standin(320, 240, 2000, 1000),
        },
        "clips": {
            # walker: 31-frame one-second clips at 320x240, a clip at every 3rd frame of UCF101 (paper
            # sec. 5); THUMOS test: 2,800 random frames with their windows over the whole test set
            "walker": {"width": 320, "height": 240, "frames": 31, "stride": 3, "max_clips_per_video": 0, "videos_per_shard": 64,
                       "datasets": {"thumos": {"total_clips": 2800}}},
            # staticflow: 200x200 centre crop, every 5th frame with its next three
            "staticflow": {"size": 200, "stride": 5, "max_clips_per_video": 0, "videos_per_shard": 64},
            # vgan: 32 frames at 64x64, 25 fps
            "vgan": {"size": 64, "frames": 32, "max_clips_per_video": 0, "videos_per_shard": 64},
            # svg KTH: 128x128 as the paper (the size of svg's KTH model), 10 conditioning + up to 20
            # predicted frames at test time; fit "squash": 160x120 resized to the square as the
            # authors' convert_kth.lua (ffmpeg -s, default imageSize 128; "cover": centre crop)
            # windows "segments": clips inside the subsequences 00sequences.txt lists, where the
            # authors' data/kth.py samples ("anywhere": the whole video)
            "svg": {"size": 128, "frames": 30, "stride": 10, "max_clips_per_video": 0, "videos_per_shard": 64,
                    "fit": "squash", "windows": "segments"},
            # crossconv: consecutive frame pairs at 128x128
            "crossconv": {"size": 128, "gap": 1, "stride": 1, "max_clips_per_video": 0, "videos_per_shard": 64},
        },
        # walker: trajectories averaged over scales (improved trajectories' pyramid, factor sqrt 2)
        "trajectories": {"n_scales": 8},
        "smmnist": {"test_sequences": 1000, "sequence_length": 30, "num_digits": 2},
        "shapes": {"size": 128, "train_pairs": 20000, "test_pairs": 500},
    },
}
"""Per scale, nested by stage. ``max_clips_per_video: 0`` means every clip the stride allows.
``clips.<protocol>.datasets.<dataset>`` replaces a protocol's sizes for one dataset;
``total_clips`` (0 = off) draws that many clip starts at random per split over all of a
dataset's frames instead of the stride grid (``pipeline.clips.drawn_starts``)."""


def _with_paper_sizes(scale: str, paper_sizes: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """The scale's data sizes plus each paper's model/training sizes under the paper's key."""
    merged = copy.deepcopy(PRESETS[scale])
    for paper, sizes in paper_sizes.items():
        if scale in sizes:
            merged[paper] = copy.deepcopy(sizes[scale])
    return merged


def _merge(base: dict[str, Any], override: Mapping[str, Any], where: str) -> dict[str, Any]:
    merged = copy.deepcopy(base)
    for key, value in override.items():
        if key not in merged:
            known = ", ".join(sorted(merged))
            raise KeyError(f"overrides{where}.{key}: no such preset key (known here: {known})")
        if isinstance(merged[key], dict):
            if not isinstance(value, Mapping):
                raise TypeError(f"overrides{where}.{key}: expected a mapping, got {value!r}")
            merged[key] = _merge(merged[key], value, f"{where}.{key}")
        else:
            merged[key] = _as_preset_type(merged[key], value, f"{where}.{key}")
    return merged


def _as_preset_type(preset: Any, value: Any, where: str) -> Any:
    """A number given as text is read as the preset's number type.

    Snakemake's ``--config 'overrides={...}'`` hands nested numbers over as strings ('6000').
    """
    if not isinstance(value, str) or isinstance(preset, bool) or not isinstance(preset, (int, float)):
        return value
    try:
        return float(value) if isinstance(preset, float) else int(value)
    except ValueError:
        raise TypeError(f"overrides{where}: expected a number like {preset!r}, got {value!r}") from None


def resolve(
    scale: str,
    overrides: Mapping[str, Any] | None = None,
    paper_sizes: Mapping[str, Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """The sizes and counts of ``scale`` with the user's ``overrides`` applied.

    ``paper_sizes``: paper -> scale -> its sizes (each paper's ``spec.SIZES``; the registry's
    ``sizes`` function passes them all).
    """
    if scale not in PRESETS:
        raise KeyError(f"scale: {scale!r} is not a preset; choose one of {', '.join(SCALES)}")
    return _merge(_with_paper_sizes(scale, paper_sizes or {}), overrides or {}, "")

"""Preprocessing figures show a clip worth looking at: not a black fade-in, not a still frame."""

import numpy as np
import pytest

from pipeline import plots
from pipeline.shards import write_shard
from pipeline.trajectories import dct_encode

H = W = 48


def _textured(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(40, 220, (H, W, 3), dtype=np.uint8)


def _flow(speed: float) -> np.ndarray:
    flow = np.zeros((H, W, 2), np.float32)
    flow[10:30, 10:30, 0] = speed  # a patch moving right
    return flow


def _clip(image: np.ndarray, shift: int) -> np.ndarray:
    return np.stack([np.roll(image, shift * t, axis=1) for t in range(4)])  # (4, H, W, 3)


# items of shard 0: a black fade-in (with noise "motion" in its flow), a still textured frame;
# shard 1: a frame with a small moving patch, then a grey card
IMAGES = [np.full((H, W, 3), 3, np.uint8), _textured(1), _textured(2), np.full((H, W, 3), 128, np.uint8)]
SPEEDS = [5.0, 0.0, 3.0, 4.0]
SHIFTS = [4, 0, 2, 4]


def _write(tmp_path, stage, arrays_of):
    paths = []
    for s, items in enumerate(([0, 1], [2, 3])):
        arrays = {name: np.stack([fn(i) for i in items]) for name, fn in arrays_of.items()}
        arrays["video_index"] = np.arange(len(items), dtype=np.int32)
        arrays["source_item"] = np.arange(len(items), dtype=np.int32)
        path = tmp_path / stage / f"shard-{s:05d}.zarr"
        paths.append(write_shard(path, arrays, {"videos": [f"video{i}" for i in items]}))
    return paths


def test_flow_figure_skips_the_black_fade_in_and_the_still_frame(tmp_path):
    shards = _write(tmp_path, "flow", {"image": lambda i: IMAGES[i], "flow": lambda i: _flow(SPEEDS[i]).astype(np.float16),
                                       "flow_grid": lambda i: _flow(SPEEDS[i])[::8, ::8]})
    assert plots.pick_item(shards, plots._flow_look, "flow") == (1, 0)  # item 2: visible and moving
    assert plots.pick_item(shards[:1], plots._flow_look, "flow") == (0, 1)  # visible beats moving
    out = plots.flow_figure_from_shard(shards, tmp_path / "flow.png")
    assert out.stat().st_size > 1000
    assert plots.pick_item(shards, plots._flow_look, "flow") == plots.pick_item(shards, plots._flow_look, "flow")


def test_trajectories_and_stabilization_figures_pick_the_same_way(tmp_path):
    def dct(i):
        offsets = np.zeros((H, W, 30, 2), np.float32)
        offsets[10:30, 10:30, :, 0] = SPEEDS[i] * np.arange(1, 31)[None, None, :] / 30
        return dct_encode(offsets).astype(np.float16)

    shards = _write(tmp_path, "trajectories", {"image": lambda i: IMAGES[i], "dct": dct})
    assert plots.pick_item(shards, plots._trajectory_look, "trajectories") == (1, 0)
    assert plots.trajectories_figure_from_shard(shards, tmp_path / "t.png").stat().st_size > 1000

    clips = _write(tmp_path, "clips", {"frames": lambda i: _clip(IMAGES[i], SHIFTS[i])})
    stable = _write(tmp_path, "stabilized", {"frames": lambda i: _clip(IMAGES[i], 0)})
    look = plots.stabilization_look([plots.open_shard(p) for p in clips])
    assert plots.pick_item(stable, look, "stabilization") == (1, 0)
    path = plots.stabilization_figure_from_shards(clips, stable, tmp_path / "s.png")
    assert path.stat().st_size > 1000


def test_visible_and_empty_shards():
    assert not plots.visible(IMAGES[0]) and not plots.visible(IMAGES[3]) and plots.visible(IMAGES[1])
    with pytest.raises(ValueError, match="no items"):
        plots.pick_item([], plots._flow_look, "flow")

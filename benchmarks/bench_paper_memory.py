"""Peak memory of each walker stage at the paper preset on one long video, measured in one run.

Issue 11: at the paper preset (320x240, 31-frame clips, a clip every 3rd frame) one long video
gives tens of GB of clips; shards built whole in memory made a job's memory grow with the video.
This benchmark makes a synthetic 10-minute 320x240 30 fps video (ffmpeg ``testsrc2``, a moving
pattern) and runs each stage in a child process of its own, reading the child's peak resident set
size (``ru_maxrss`` from ``wait4``):

1. clip cutting with the streaming writer (``pipeline.clips.cut_shard``) on a 20 s, a 1-minute
   and the 10-minute video: the peak must not grow with the length;
2. the 20 s video cut the in-memory way (every clip of the video in a list, concatenated, then
   one ``write_shard``: what the clip stage did before the streaming writer) as the reference,
   and its projection to 10 minutes (its measured peak per byte of clips, times the clips);
3. THUMOS test sampling (``total_clips`` = 2,800 random clips over the 10 minutes);
4. stabilization (``robust`` and ``paper`` modes) on a shard of ``--stabilize-clips`` clips of the
   long video (more than one Zarr shard file holds, so the writer flushes) and trajectories
   (DeepFlow, 8 scales, the paper preset) on ``--downstream-clips`` clips (DeepFlow is slow at
   320x240; memory per job is what matters), one shard job each. Beside each, its peak on a
   full paper shard (4,000 clips): the measured peak plus what its shard writer can add (per
   output array at most one Zarr shard file of items, twice); that is what the bound checks.

Every peak is checked against ``--bound`` (4 GiB). Clip shards of the whole video are written
under ``--workdir`` (default /tmp); the script checks the free space first and, when the full
every-3rd-frame cut would not fit, limits it with ``max_clips_per_video`` and says so.

    nice -n 10 .venv/bin/python benchmarks/bench_paper_memory.py [--minutes 10] [--downstream-clips 3] [--stabilize-clips 80]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

GIB = 2**30


def make_video(path: Path, seconds: float, width: int = 320, height: int = 240, fps: int = 30) -> Path:
    """A moving test pattern (ffmpeg testsrc2) as H.264, written once and reused."""
    if path.is_file():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".part.mp4")
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-f", "lavfi",
                    "-i", f"testsrc2=size={width}x{height}:rate={fps}", "-t", f"{seconds}",
                    "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", str(tmp)], check=True)
    tmp.rename(path)
    return path


def manifest_of(video: Path, out: Path, split: str) -> Path:
    """A one-video manifest through the project's own listing."""
    from pipeline.manifest import list_videos, write_manifest

    table = list_videos(video.parent, "folder", workers=1, progress=False)
    table = table[table["video_id"] == video.stem].copy()
    table["split"] = split
    write_manifest(table, out)
    return out


def walker_protocol(dataset: str = "ucf101", **changes):
    from pipeline.clips import protocol
    from pipeline.presets import PRESETS

    proto = protocol("walker", PRESETS["paper"]["clips"]["walker"], dataset)
    return dataclasses.replace(proto, **changes)


# ----------------------------------------------------------------------------- child stages


def child(stage: str, args: dict) -> dict:
    """Run one stage in this (child) process; returns what it made."""
    from pipeline.clips import cut_shard, cut_video, total_clips
    from pipeline.shards import open_shard, shard_length, write_shard

    if stage in ("cut", "cut_thumos"):
        proto = walker_protocol("thumos" if stage == "cut_thumos" else "ucf101",
                                max_clips_per_video=int(args.get("max_clips", 0)))
        out = Path(args["out"])
        cut_shard(Path(args["manifest"]), None, proto, 0, out, {"dataset": "bench"})
        return {"clips": total_clips([out]), "bytes": int(open_shard(out)["frames"].nbytes)}
    if stage == "cut_in_memory":
        import numpy as np
        import pandas as pd

        from pipeline.manifest import read_manifest

        proto = walker_protocol()
        row: pd.Series = read_manifest(Path(args["manifest"])).iloc[0]
        clips = list(cut_video(Path(row["path"]), row, proto))  # every clip of the video held
        frames = np.concatenate([clip[None] for _, clip in clips])  # and stacked, as before
        write_shard(Path(args["out"]), {"frames": frames, "start": np.array([s for s, _ in clips], np.int32)})
        return {"clips": len(clips), "bytes": int(frames.nbytes)}
    if stage == "stabilize":
        from pipeline.stabilize_stage import stabilize_shard, stage_config

        kept, dropped = stabilize_shard(Path(args["src"]), Path(args["out"]), stage_config(args["mode"]))
        return {"clips": kept, "dropped": dropped}
    if stage == "trajectories":
        from pipeline.papers import sizes
        from pipeline.trajectories import TrajectoryConfig, trajectory_shard

        n_scales = int(sizes("paper")["trajectories"]["n_scales"])
        kept, _ = trajectory_shard(Path(args["src"]), Path(args["out"]),
                                   TrajectoryConfig(flow_method="deepflow", n_scales=n_scales))
        return {"clips": kept, "items": shard_length(open_shard(Path(args["out"])))}
    raise KeyError(stage)


def measure(stage: str, **args) -> dict:
    """Run ``stage`` in a child process; its peak RSS (ru_maxrss), wall time and result."""
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, __file__, "--child", stage, json.dumps(args)],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                            env={**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")})
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"stage {stage} failed (exit {os.waitstatus_to_exitcode(status)}); args {args}")
    result = json.loads(out.strip().splitlines()[-1])
    return {**result, "peak": usage.ru_maxrss * 1024, "seconds": time.perf_counter() - start}


SHARD_CLIPS = 4000
"""Clips of a large paper-preset shard: 64 UCF101 videos (about 7 s each) at a clip every 3rd frame."""


def writer_buffers(shard: Path, n_items: int | None) -> float:
    """The most a job's shard writer holds for a shard of ``n_items`` items (None: any size), in
    bytes: per N-d output array min(n, one Zarr shard file) items, twice (pending + concatenation).
    A job's peak is its per-clip working set (measured on a few clips) plus this."""
    import numpy as np

    from pipeline.shards import _items_per_file, open_shard

    total = 0
    for _, array in open_shard(shard).arrays():
        if array.ndim > 1:
            per_file = _items_per_file(array.shape[1:], array.dtype.itemsize)
            items = per_file if n_items is None else min(per_file, n_items)
            total += 2 * items * int(np.prod(array.shape[1:])) * array.dtype.itemsize
    return float(total)


def dir_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


# ----------------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--downstream-clips", type=int, default=3, help="clips of the trajectory job")
    parser.add_argument("--stabilize-clips", type=int, default=80, help="clips of the stabilization jobs")
    parser.add_argument("--bound", type=float, default=4.0, help="GiB every stage must stay under")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/bench_paper_memory"))
    parser.add_argument("--keep", action="store_true", help="keep the clip shards (the videos are kept anyway)")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child[0], json.loads(args.child[1]))))
        return

    work = args.workdir
    work.mkdir(parents=True, exist_ok=True)
    proto = walker_protocol()
    clip_bytes = len(proto.offsets) * proto.height * proto.width * 3
    lengths = {"20 s": 20.0, "1 min": 60.0, f"{args.minutes:g} min": 60.0 * args.minutes}
    videos, manifests = {}, {}
    for name, seconds in lengths.items():
        tag = name.replace(" ", "")
        videos[name] = make_video(work / "videos" / tag / f"long_{tag}.mp4", seconds)
        manifests[name] = manifest_of(videos[name], work / f"manifest_{tag}.csv", "train")
    thumos_manifest = manifest_of(videos[f"{args.minutes:g} min"], work / "manifest_thumos.csv", "test")
    print(f"walker paper preset: {proto.width}x{proto.height}, {proto.span}-frame clips at {proto.fps:g} fps, "
          f"a clip every {proto.stride} frames; one clip = {clip_bytes / 2**20:.1f} MiB")

    rows = []

    def job_note(result: dict, out: Path) -> str:
        """The job's peak on a full paper shard: measured peak + what the writer can add."""
        full = result["peak"] + writer_buffers(out, SHARD_CLIPS)
        result["full_shard"] = full
        return (f"+ writer buffers of a {SHARD_CLIPS:,}-clip shard = {full / GIB:.2f} GiB "
                f"(buffers at any shard size <= {writer_buffers(out, None) / GIB:.2f} GiB)")

    def row(stage: str, video: str, result: dict, note: str = "") -> None:
        rows.append({"stage": stage, "video": video, "clips": result.get("clips", ""),
                     "clip_gib": result.get("bytes", 0) / GIB, "peak_gib": result.get("full_shard", result["peak"]) / GIB,
                     "seconds": result["seconds"], "note": note})
        last = rows[-1]
        clip_gib = f"{last['clip_gib']:.2f}" if last["clip_gib"] else "-"
        print(f"  {stage:<34}{video:>8}{last['clips']:>7}{clip_gib:>10}{result['peak'] / GIB:>10.2f}"
              f"{last['seconds']:>9.0f}  {note}", flush=True)

    print(f"\n  {'stage':<34}{'video':>8}{'clips':>7}{'clips GiB':>10}{'peak GiB':>10}{'seconds':>9}")
    # in-memory reference on the short video, then the streaming writer at three lengths
    ref = measure("cut_in_memory", manifest=str(manifests["20 s"]), out=str(work / "ref.zarr"))
    row("clips, in memory (before)", "20 s", ref)
    shutil.rmtree(work / "ref.zarr", ignore_errors=True)
    stored_per_clip = None
    for name in lengths:
        out = work / f"clips_{name.replace(' ', '')}.zarr"
        frames = int(30 * lengths[name])
        n_clips = len(range(0, frames - proto.span + 1, proto.stride))
        limit, note = 0, ""
        if stored_per_clip is not None:
            free = shutil.disk_usage(work).free
            need = 1.5 * stored_per_clip * n_clips
            if need > free:
                limit = max(1, int(free / (1.5 * stored_per_clip)))
                note = f"max_clips_per_video={limit}: all {n_clips} clips need ~{need / GIB:.0f} GiB on disk"
        result = measure("cut", manifest=str(manifests[name]), out=str(out), max_clips=limit)
        stored = dir_bytes(out)
        stored_per_clip = stored / max(1, result["clips"])
        row("clips, streaming writer", name, result, note or f"{stored / GIB:.2f} GiB on disk")
        if name != "20 s" and not args.keep:
            shutil.rmtree(out, ignore_errors=True)
    long_name = f"{args.minutes:g} min"
    long_frames = int(30 * lengths[long_name])
    long_clips = len(range(0, long_frames - proto.span + 1, proto.stride))
    ratio = ref["peak"] / ref["bytes"]  # the in-memory cut's peak per byte of clips, measured above
    projected = long_clips * clip_bytes * ratio / GIB
    print(f"  {'clips, in memory (before)':<34}{long_name:>8}{long_clips:>7}{long_clips * clip_bytes / GIB:>10.2f}"
          f"{projected:>10.1f}        -  projected: {ratio:.2f} x the clips, as measured at 20 s")

    thumos = measure("cut_thumos", manifest=str(thumos_manifest), out=str(work / "thumos.zarr"))
    row("clips, THUMOS test (2,800 random)", long_name, thumos, f"{dir_bytes(work / 'thumos.zarr') / GIB:.2f} GiB on disk")
    shutil.rmtree(work / "thumos.zarr", ignore_errors=True)

    # the slow stages, one shard job each: stabilization on a shard of more clips than one Zarr shard
    # file holds (so its writer flushes), trajectories on a few clips (DeepFlow: ~35 s per clip)
    shards = {"many": args.stabilize_clips, "few": args.downstream_clips}
    for name, n in shards.items():
        measure("cut", manifest=str(manifests[long_name]), out=str(work / f"{name}.zarr"), max_clips=n)
    for mode in ("robust", "paper"):
        stab = measure("stabilize", src=str(work / "many.zarr"), out=str(work / f"stab_{mode}.zarr"), mode=mode)
        row(f"stabilization ({mode})", long_name, stab, job_note(stab, work / f"stab_{mode}.zarr"))
    measure("stabilize", src=str(work / "few.zarr"), out=str(work / "stab_few.zarr"), mode="robust")
    traj = measure("trajectories", src=str(work / "stab_few.zarr"), out=str(work / "traj.zarr"))
    row("trajectories (DeepFlow, 8 scales)", long_name, traj, job_note(traj, work / "traj.zarr"))

    bound = args.bound * GIB
    over = [r for r in rows if r["peak_gib"] * GIB >= bound and "before" not in r["stage"]]
    streaming = [r for r in rows if r["stage"] == "clips, streaming writer"]
    growth = max(r["peak_gib"] for r in streaming) / min(r["peak_gib"] for r in streaming)
    print(f"\nbound {args.bound:g} GiB per job (slow stages: peak + writer buffers of a {SHARD_CLIPS:,}-clip shard): {'every stage under it' if not over else 'EXCEEDED by ' + ', '.join(r['stage'] for r in over)}")
    print(f"streaming clip cut: peak ratio longest/shortest video = {growth:.2f} "
          f"(video {lengths[long_name] / min(lengths.values()):.0f}x longer); in-memory cut of the {long_name} video: ~{projected:.0f} GiB")
    if not args.keep:
        for name in ("clips_20s.zarr", "few.zarr", "many.zarr", "stab_robust.zarr", "stab_paper.zarr",
                     "stab_few.zarr", "traj.zarr"):
            shutil.rmtree(work / name, ignore_errors=True)
    if over:
        raise SystemExit(1)


if __name__ == "__main__":
    main()

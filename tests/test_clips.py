"""The clip stage on real files: bad input loses nothing, a killed job leaves only whole shards."""

import os
import signal
import subprocess
import sys
from pathlib import Path

import media
import numpy as np
import pandas as pd
import pytest

from pipeline.clips import ClipProtocol, cut_shard, cut_video, write_clip_index
from pipeline.manifest import list_videos, read_manifest, write_manifest
from pipeline.shards import SPLITS, open_shard

PROTO = ClipProtocol("test", offsets=(0, 1, 2, 3), stride=5, fps=10.0, width=32, height=24,
                     max_clips_per_video=0, videos_per_shard=16)


@pytest.fixture(scope="module")
def messy_folder(tmp_path_factory) -> tuple[Path, Path]:
    """A folder of every kind of bad input beside good videos, listed into a manifest."""
    root = tmp_path_factory.mktemp("messy")
    videos = root / "videos"
    media.make_bad_set(videos / "bad")
    media.make_one_frame(videos / "bad" / "one_frame.mp4")
    media.make_good(videos / "good" / "good_a.mp4", width=64, height=48, frames=30, fps=25.0)
    media.make_good(videos / "good" / "good_b.avi", width=48, height=64, frames=25, fps=25.0)  # portrait
    media.make_vfr(videos / "good" / "vfr.mp4")
    media.make_odd_size(videos / "good" / "odd_size.avi")
    manifest = list_videos(videos, "folder", workers=2, progress=False)
    manifest["split"] = "train"
    path = root / "manifest.csv"
    write_manifest(manifest, path)
    return videos, path


def test_bad_files_skipped_with_reasons_good_ones_cut(messy_folder, tmp_path):
    videos, manifest_path = messy_folder
    manifest = read_manifest(manifest_path)
    status = dict(zip(manifest["video_id"], manifest["status"], strict=True))
    assert {k for k, v in status.items() if v == "skipped"} == {
        "zero_bytes", "truncated", "text_file", "audio_only", "one_frame"}
    assert all(manifest.loc[manifest.status == "skipped", "reason"].str.len() > 0)

    shard = cut_shard(manifest_path, videos, PROTO, 0, tmp_path / "shard-00000.zarr", {"dataset": "messy"})
    group = open_shard(shard)
    assert sorted(group.attrs["videos"]) == ["good_a", "good_b", "odd_size", "vfr"]
    frames = group["frames"][:]
    assert frames.shape[1:] == (4, 24, 32, 3) and frames.dtype == np.uint8
    assert frames.std() > 5  # real picture content, not a blank canvas
    assert set(group["split"][:]) == {SPLITS.index("train")}
    # the VFR video (2 s at 10 fps + 2 s at 30 fps) resampled to a constant 10 fps is 40 frames:
    # starts 0, 5, ..., 35 -> 8 clips
    vfr = group.attrs["videos"].index("vfr")
    assert int((group["video_index"][:] == vfr).sum()) == 8

    index = write_clip_index(manifest_path, [shard], PROTO, tmp_path / "index.csv")
    by_id = index.set_index("video_id")
    assert by_id.loc["good_a", "clips"] > 0 and by_id.loc["good_a", "status"] == "ok"
    assert by_id.loc["zero_bytes", "status"] == "excluded" and "unreadable" in by_id.loc["zero_bytes", "reason"]
    assert len(index) == len(manifest)  # every listed file is accounted for


def test_clip_frames_match_a_direct_decode(messy_folder):
    """Clips are exactly the frames at start + offsets of the resampled, resized, cropped video."""
    from pipeline.clips import decode_options
    from pipeline.video_read import decode

    videos, manifest_path = messy_folder
    row = read_manifest(manifest_path).set_index("video_id").loc["good_a"]
    starts, clips = zip(*cut_video(Path(row["path"]), row, PROTO), strict=True)
    full = decode(row["path"], **decode_options(PROTO, int(row["width"]), int(row["height"])))
    assert starts == (0, 5)  # 30 frames at 25 fps -> 12 frames at 10 fps; a clip spans 4
    for clip, start in zip(clips, starts, strict=True):
        np.testing.assert_array_equal(clip, full[[start + o for o in PROTO.offsets]])


def test_cutting_decodes_with_the_listings_probe_and_probes_an_older_manifests_files(messy_folder, tmp_path,
                                                                                     monkeypatch):
    import pipeline.video_read as video_read

    videos, manifest_path = messy_folder
    expected = open_shard(cut_shard(manifest_path, videos, PROTO, 0, tmp_path / "a.zarr", {}))["frames"][:]
    probed: list[str] = []
    real_probe = video_read.probe
    monkeypatch.setattr(video_read, "probe", lambda path, **k: probed.append(path) or real_probe(path, **k))
    again = open_shard(cut_shard(manifest_path, videos, PROTO, 0, tmp_path / "b.zarr", {}))["frames"][:]
    assert probed == [] and np.array_equal(again, expected)  # the listing's findings, the same clips

    old = pd.read_csv(manifest_path, dtype=str, keep_default_na=False).drop(
        columns=["rotation", "stream_index", "empty_slots"])  # listed before the manifest had them
    old.to_csv(tmp_path / "old.csv", index=False)
    older = open_shard(cut_shard(tmp_path / "old.csv", videos, PROTO, 0, tmp_path / "c.zarr", {}))["frames"][:]
    assert len(probed) == 4 and np.array_equal(older, expected)  # each kept video probed once, as before


def test_video_that_breaks_during_decode_is_skipped_not_fatal(messy_folder, tmp_path):
    videos, manifest_path = messy_folder
    manifest = read_manifest(manifest_path)
    broken = manifest.index[manifest.video_id == "good_a"][0]
    target = tmp_path / "gone.mp4"
    target.write_bytes(b"")  # listed as fine, gone bad by the time the clip job runs
    manifest.loc[broken, "path"] = str(target)
    manifest.loc[broken, "relpath"] = os.path.relpath(target, videos)
    write_manifest(manifest, tmp_path / "m.csv")
    shard = cut_shard(tmp_path / "m.csv", videos, PROTO, 0, tmp_path / "s.zarr", {})
    group = open_shard(shard)
    assert [s["video_id"] for s in group.attrs["skipped"]] == ["good_a"]
    assert len(group.attrs["videos"]) == 3


_SLOW_CUT = """
import sys, time
from pathlib import Path
import pipeline.clips as clips
real = clips.cut_video
def slow(*a, **k):
    yield from real(*a, **k)
    print("video done", flush=True)
    time.sleep(60)
clips.cut_video = slow
from test_clips import PROTO
clips.cut_shard(Path(sys.argv[1]), Path(sys.argv[2]), PROTO, 0, Path(sys.argv[3]), {"dataset": "messy"})
"""


def test_kill_9_mid_shard_then_rerun_gives_the_uninterrupted_result(messy_folder, tmp_path):
    videos, manifest_path = messy_folder
    target = tmp_path / "shard-00000.zarr"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).parent), os.getcwd()])}
    proc = subprocess.Popen([sys.executable, "-c", _SLOW_CUT, str(manifest_path), str(videos), str(target)],
                            stdout=subprocess.PIPE, text=True, env=env)
    assert proc.stdout.readline().strip() == "video done"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not target.exists()  # nothing half-written under the final name

    cut_shard(manifest_path, videos, PROTO, 0, target, {"dataset": "messy"})
    reference = cut_shard(manifest_path, videos, PROTO, 0, tmp_path / "reference.zarr", {"dataset": "messy"})
    ours, ref = open_shard(target), open_shard(reference)
    for name in ("frames", "video_index", "start", "label", "split"):
        np.testing.assert_array_equal(ours[name][:], ref[name][:])
    assert dict(ours.attrs) == dict(ref.attrs)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["reference.zarr", "shard-00000.zarr"]


def test_cutting_a_long_video_holds_one_shard_file_not_the_video(tmp_path, monkeypatch):
    """Peak memory while cutting stays near one Zarr shard file's worth of clips, far below
    the clips the video gives (the paper preset cuts tens of GB from one THUMOS video)."""
    import tracemalloc

    import pipeline.shards as shards

    media.make_good(tmp_path / "videos" / "long.mp4", width=64, height=48, frames=300, fps=25.0)
    manifest = list_videos(tmp_path / "videos", "folder", workers=1, progress=False)
    manifest["split"] = "train"
    write_manifest(manifest, tmp_path / "m.csv")
    proto = ClipProtocol("long", offsets=tuple(range(16)), stride=1, fps=None, width=64, height=48,
                         max_clips_per_video=0, videos_per_shard=1)
    file_bytes = 2**20
    monkeypatch.setattr(shards, "_TARGET_FILE_BYTES", file_bytes)  # 7 clips per shard file
    tracemalloc.start()
    try:
        cut_shard(tmp_path / "m.csv", tmp_path / "videos", proto, 0, tmp_path / "s.zarr", {})
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    frames = open_shard(tmp_path / "s.zarr")["frames"]
    assert frames.shape == (285, 16, 48, 64, 3)  # 300 frames, a 16-frame clip at every frame
    assert frames.nbytes > 40 * 2**20
    assert peak < 8 * file_bytes, f"peak {peak / 2**20:.1f} MiB while cutting {frames.nbytes / 2**20:.0f} MiB of clips"


def test_total_clips_cuts_exactly_the_drawn_clips_across_shards(messy_folder, tmp_path):
    """Random frames over a whole split (walker's THUMOS test protocol): every shard job cuts
    its share of the same draw, and a video without a draw is not decoded."""
    import dataclasses

    from pipeline.clips import drawn_starts, shard_count

    videos, manifest_path = messy_folder
    proto = dataclasses.replace(PROTO, total_clips=6, videos_per_shard=2)
    manifest = read_manifest(manifest_path)
    drawn = drawn_starts(manifest, proto)
    assert sum(map(len, drawn.values())) == 6
    cut = {}
    for k in range(shard_count(manifest, proto)):
        group = open_shard(cut_shard(manifest_path, videos, proto, k, tmp_path / f"s{k}.zarr", {}))
        for vid, start in zip(group["video_index"][:], group["start"][:], strict=True):
            cut.setdefault(group.attrs["videos"][vid], []).append(int(start))
        for item in group.attrs["skipped"]:
            assert item["video_id"] not in drawn and "none of the 6 clips drawn" in item["reason"]
    assert cut == drawn


def test_segment_windows_cut_the_same_frames_inside_listed_ranges_only(tmp_path):
    """A video with listed segments (KTH's subsequences): its clips are the clips of the whole
    video that lie inside a segment, frame for frame, and the shard says which videos were cut so."""
    import dataclasses

    from pipeline.papers.svg.data import kth_window_origin

    videos = tmp_path / "videos"
    media.make_good(videos / "a.mp4", width=32, height=24, frames=40, fps=25.0)
    media.make_good(videos / "b.mp4", width=32, height=24, frames=40, fps=25.0)
    manifest = list_videos(videos, "folder", workers=2, progress=False)
    manifest["split"] = "test"
    manifest["segments"] = np.where(manifest["video_id"] == "a", "0:12 20:40", "")
    write_manifest(manifest, tmp_path / "m.csv")
    whole = dataclasses.replace(PROTO, fps=None, offsets=tuple(range(8)), stride=4)
    inside = dataclasses.replace(whole, windows="segments")
    shards = {}
    for proto in (whole, inside):
        group = open_shard(cut_shard(tmp_path / "m.csv", videos, proto, 0, tmp_path / f"{proto.windows}.zarr", {}))
        video_of = np.asarray(group.attrs["videos"])[group["video_index"][:]]
        shards[proto.windows] = {(v, int(s)): clip for v, s, clip in zip(video_of, group["start"][:], group["frames"][:],
                                                                         strict=True)}
        assert group.attrs["windows"] == proto.windows
    assert sorted(s for v, s in shards["segments"] if v == "a") == [0, 4, 20, 24, 28, 32]
    assert sorted(s for v, s in shards["segments"] if v == "b") == [0, 4, 8, 12, 16, 20, 24, 28, 32]
    for key, clip in shards["segments"].items():
        np.testing.assert_array_equal(clip, shards["anywhere"][key])
    assert open_shard(tmp_path / "segments.zarr").attrs["segmented"] == ["a"]
    index = tmp_path / "segments.csv"
    write_clip_index(tmp_path / "m.csv", [tmp_path / "segments.zarr"], inside, index)
    assert kth_window_origin({"index": str(index)}) == (
        "clips inside the 00sequences.txt subsequences (1 of 2 videos listed)")

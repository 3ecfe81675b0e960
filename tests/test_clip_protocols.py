"""Clip sampling and shard assignment: the parts of the clip stage that need no decoding."""

import pandas as pd
import pytest

from pipeline.clips import (
    clip_starts,
    drawn_starts,
    eligible_mask,
    eligible_videos,
    exclusion_reason,
    protocol,
    shard_count,
    shard_videos,
)
from pipeline.papers import sizes as resolve
from pipeline.presets import PRESETS, SCALES


def _manifest(n: int, **extra) -> pd.DataFrame:
    rows = [{"video_id": f"v{i:03d}", "path": f"x/v{i:03d}.mp4", "label": "a", "split": "train",
             "frames": 90, "fps": 30.0, "duration": 3.0, "status": "ok", "reason": "", **extra}
            for i in range(n)]
    return pd.DataFrame(rows)


@pytest.mark.parametrize("scale", SCALES)
@pytest.mark.parametrize("name", ["walker", "staticflow", "vgan", "svg", "crossconv"])
def test_every_preset_builds_every_protocol(scale, name):
    proto = protocol(name, PRESETS[scale]["clips"][name])
    assert proto.span >= 2 and proto.width > 0 and proto.height > 0


def test_paper_scale_protocols_follow_the_papers():
    sizes = PRESETS["paper"]["clips"]
    walker = protocol("walker", sizes["walker"])
    assert (walker.span, walker.fps, walker.width, walker.height, walker.stride) == (31, 30.0, 320, 240, 3)
    static = protocol("staticflow", sizes["staticflow"])
    assert static.offsets == (0, 1, 2, 3) and static.stride == 5 and static.width == static.height == 200
    vgan = protocol("vgan", sizes["vgan"])
    assert (vgan.span, vgan.fps, vgan.width) == (32, 25.0, 64)


def test_clip_starts_follow_stride_and_fit_inside_video():
    proto = protocol("walker", {"width": 8, "height": 6, "frames": 31, "stride": 3,
                                "max_clips_per_video": 0, "videos_per_shard": 4})
    starts = clip_starts(40, proto)
    assert starts == [0, 3, 6, 9]  # 9 + 31 = 40 frames exactly
    assert clip_starts(30, proto) == []


def test_clip_starts_thinned_evenly_keep_ends():
    proto = protocol("staticflow", {"size": 8, "stride": 5, "max_clips_per_video": 3, "videos_per_shard": 4})
    starts = clip_starts(100, proto)  # grid 0, 5, ..., 95
    assert starts == [0, 50, 95]


def test_shards_partition_eligible_videos_deterministically():
    manifest = _manifest(10).sample(frac=1.0, random_state=3)  # listing order must not matter
    manifest.loc[manifest.video_id == "v004", ["status", "reason"]] = ["skipped", "zero bytes"]
    proto = protocol("svg", {"size": 8, "frames": 4, "stride": 2, "max_clips_per_video": 0, "videos_per_shard": 4})
    assert shard_count(manifest, proto) == 3  # 9 readable videos, 4 per shard
    parts = [list(shard_videos(manifest, proto, k)["video_id"]) for k in range(3)]
    assert sum(parts, []) == sorted(f"v{i:03d}" for i in range(10) if i != 4)
    with pytest.raises(IndexError):
        shard_videos(manifest, proto, 3)


def test_staticflow_keeps_static_camera_medium_or_good_quality():
    manifest = _manifest(4)
    manifest["camera_motion"] = ["nm", "cm", "nm", "nm"]
    manifest["quality"] = ["goo", "goo", "bad", "med"]
    proto = protocol("staticflow", PRESETS["smoke"]["clips"]["staticflow"])
    assert list(eligible_videos(manifest, proto)["video_id"]) == ["v000", "v003"]
    assert "camera motion" in exclusion_reason(manifest.iloc[1], proto)
    assert "quality bad" in exclusion_reason(manifest.iloc[2], proto)
    walker = protocol("walker", PRESETS["smoke"]["clips"]["walker"])
    assert len(eligible_videos(manifest, walker)) == 4  # other protocols keep them all


def test_unused_videos_are_excluded_and_unsplit_datasets_train():
    manifest = _manifest(3)
    manifest.loc[1, "split"] = "unused"  # HMDB-51 split code 0
    manifest.loc[2, "split"] = ""  # a dataset without official splits (a folder of Flickr videos)
    proto = protocol("svg", PRESETS["smoke"]["clips"]["svg"])
    assert "official split" in exclusion_reason(manifest.iloc[1], proto)
    assert exclusion_reason(manifest.iloc[2], proto) is None


def test_overrides_merge_and_reject_unknown_keys():
    sizes = resolve("demo", {"clips": {"walker": {"videos_per_shard": 3}}})
    assert sizes["clips"]["walker"]["videos_per_shard"] == 3
    assert sizes["clips"]["walker"]["frames"] == PRESETS["demo"]["clips"]["walker"]["frames"]
    with pytest.raises(KeyError, match="overrides.clips.walker.video_per_shard"):
        resolve("demo", {"clips": {"walker": {"video_per_shard": 3}}})
    with pytest.raises(KeyError, match="scale"):
        resolve("huge")


def test_overrides_read_numbers_given_as_text_as_the_presets_type():
    """``snakemake --config 'overrides={...}'`` passes nested numbers as strings."""
    sizes = resolve("demo", {"svg": {"smmnist": {"train": {"steps": "6000"}, "model": {"beta": "1e-3"}}}})
    assert sizes["svg"]["smmnist"]["train"]["steps"] == 6000 and sizes["svg"]["smmnist"]["model"]["beta"] == 1e-3
    preset = resolve("demo")["svg"]["smmnist"]["train"]["steps"]  # the message shows the preset's value
    with pytest.raises(TypeError, match=rf"overrides.svg.smmnist.train.steps: expected a number like {preset}, got 'many'"):
        resolve("demo", {"svg": {"smmnist": {"train": {"steps": "many"}}}})


def test_paper_thumos_draws_2800_random_frames_ucf101_every_third():
    sizes = PRESETS["paper"]["clips"]["walker"]
    assert protocol("walker", sizes, "thumos").total_clips == 2800  # walker sec. 5
    ucf = protocol("walker", sizes, "ucf101")
    assert ucf.total_clips == 0 and ucf.stride == 3 and ucf.max_clips_per_video == 0
    for scale in ("smoke", "demo"):  # the demo's THUMOS stand-in keeps its clips
        assert protocol("walker", PRESETS[scale]["clips"]["walker"], "thumos").total_clips == 0
    sizes = resolve("demo", {"clips": {"walker": {"datasets": {"thumos": {"total_clips": "12"}}}}})
    assert protocol("walker", sizes["clips"]["walker"], "thumos").total_clips == 12


def test_drawn_starts_share_clips_by_length_per_split_and_are_fixed_by_the_manifest():
    proto = protocol("walker", {"width": 8, "height": 6, "frames": 31, "stride": 3, "max_clips_per_video": 0,
                                "videos_per_shard": 2, "total_clips": 300})
    manifest = _manifest(6, split="test")
    manifest["duration"] = [3.0, 30.0, 1.0, 10.0, 300.0, 60.0]  # v002 is 30 frames: no 31-frame clip fits
    manifest.loc[5, "split"] = "val"
    drawn = drawn_starts(manifest, proto)
    assert drawn == drawn_starts(manifest.sample(frac=1, random_state=1), proto)  # row order does not matter
    test_counts = {v: len(drawn.get(v, [])) for v in ("v000", "v001", "v002", "v003", "v004")}
    assert sum(test_counts.values()) == 300 and len(drawn["v005"]) == 300  # 300 per split
    assert test_counts["v002"] == 0 and test_counts["v004"] > 200  # shares follow the frames where a clip fits
    for video, starts in drawn.items():
        frames = int(manifest.set_index("video_id").loc[video, "duration"] * 30)
        assert starts == sorted(set(starts)) and 0 <= starts[0] and starts[-1] <= frames - 31
    assert any(s % 3 for s in drawn["v004"])  # any frame, not the stride grid
    few = drawn_starts(manifest.iloc[[0, 2]], proto)  # fewer candidate frames than asked: all of them
    assert few == {"v000": list(range(60))}


def test_the_column_wise_eligibility_agrees_with_each_rows_reason():
    manifest = _manifest(12)
    manifest["status"] = ["ok"] * 10 + ["skipped", "ok"]
    manifest["split"] = ["train", "test", "", "unused", "val", "train", "test", "train", "", "train", "train", "nan"]
    manifest["camera_motion"] = ["nm", "cm", "nm", "cm", "nm", "nm", "", "nm", "cm", "nm", "nm", "nm"]
    manifest["quality"] = ["goo", "med", "bad", "goo", "", "bad", "med", "goo", "goo", "xyz", "goo", "goo"]
    for name in ("staticflow", "walker", "svg"):
        proto = protocol(name, PRESETS["smoke"]["clips"][name])
        expected = [exclusion_reason(row, proto) is None for _, row in manifest.iterrows()]
        assert eligible_mask(manifest, proto).tolist() == expected, name
    staticflow = protocol("staticflow", PRESETS["smoke"]["clips"]["staticflow"])
    assert list(eligible_videos(manifest, staticflow)["video_id"]) == ["v000", "v004", "v006", "v007", "v009"]
    no_quality = manifest.drop(columns=["quality", "camera_motion"])  # datasets without these columns
    assert eligible_mask(no_quality, staticflow).tolist() == [
        exclusion_reason(row, staticflow) is None for _, row in no_quality.iterrows()]


def test_clips_stay_inside_listed_segments():
    """KTH's 00sequences.txt: the stride grid restarts in each subsequence and no clip crosses
    its end, so no clip joins two takes of an action (or the empty frames between them)."""
    from pipeline.clips import video_starts

    proto = protocol("svg", {"size": 8, "frames": 10, "stride": 5, "max_clips_per_video": 0,
                             "videos_per_shard": 4, "windows": "segments"})
    assert clip_starts(60, proto, [(0, 25), (30, 60)]) == [0, 5, 10, 15, 30, 35, 40, 45, 50]
    assert clip_starts(60, proto, [(0, 9)]) == []  # a segment shorter than a clip gives none
    assert clip_starts(40, proto, [(30, 95)]) == [30]  # a range past the video's end is cut at it
    row = pd.Series({"frames": 60, "fps": 25.0, "duration": 2.4, "segments": "0:25 30:60"})
    assert video_starts(row, proto) == [0, 5, 10, 15, 30, 35, 40, 45, 50]
    assert video_starts(pd.Series({**row, "segments": ""}), proto) == clip_starts(60, proto)
    anywhere = protocol("svg", {**PRESETS["demo"]["clips"]["svg"], "windows": "anywhere", "size": 8,
                                "frames": 10, "stride": 5, "max_clips_per_video": 0})
    assert video_starts(row, anywhere) == clip_starts(60, anywhere)  # 15, 20 cross the gap
    resampled = protocol("walker", {"width": 8, "height": 6, "frames": 5, "stride": 5, "max_clips_per_video": 0,
                                    "videos_per_shard": 4, "windows": "segments"})  # 30 fps
    assert video_starts(pd.Series({**row, "segments": "25:50"}), resampled) == [30, 35, 40, 45, 50, 55]


def test_segment_windows_are_the_svg_default_and_checked():
    for scale in SCALES:
        assert protocol("svg", PRESETS[scale]["clips"]["svg"]).windows == "segments"
    with pytest.raises(ValueError, match=r"clips.svg.windows: 'takes'"):
        protocol("svg", {**PRESETS["demo"]["clips"]["svg"], "windows": "takes"})
    with pytest.raises(ValueError, match="total_clips"):
        protocol("walker", {**PRESETS["paper"]["clips"]["walker"], "windows": "segments", "total_clips": 5})

"""The listing: every file gets a row, bad ones skipped with their reason, and each dataset
layout's names, official split files and meta tags parsed into columns."""

import os
import shutil

import media
import pandas as pd
import pytest

from pipeline import clips, papers
from pipeline.layouts import parse_hmdb_tags
from pipeline.manifest import (
    HMDB_COLUMNS,
    MANIFEST_COLUMNS,
    list_videos,
    listed_info,
    read_manifest,
    why_split_is_empty,
    write_manifest,
)
from pipeline.video_probe import probe
from pipeline.video_read import decode

FRAMES = 12


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """One small valid .avi (MPEG-4, like UCF101/HMDB-51) copied under every fake name."""
    return media.make_mpeg4(tmp_path_factory.mktemp("tiny") / "tiny.avi", frames=FRAMES)


def _write(path, lines, newline="\n"):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(newline.join(lines).encode() + newline.encode())


def _by_id(frame):
    return frame.set_index("video_id", drop=False)


def test_folder_lists_every_file_and_skips_bad_ones(tmp_path, tiny):
    raw = tmp_path / "my videos"  # a user's own folder, spaces and all
    bad = media.make_bad_set(raw / "bad")
    media.make_one_frame(raw / "good" / "single.mp4")
    media.make_good(raw / "good" / "clip.mp4", width=64, height=48, frames=20)
    media.copy_video(tiny, raw / "golf" / "clip.avi")  # same stem as good/clip.mp4
    media.copy_video(tiny, raw / "top.avi")
    (raw / "notes.txt").write_text("not a video extension: not listed")

    df = list_videos(raw, "folder", workers=2, progress=False)
    assert list(df.columns) == list(MANIFEST_COLUMNS)
    assert len(df) == len(bad) + 4 and df["video_id"].is_unique
    rows = df.set_index("relpath")
    reasons = {
        "bad/zero_bytes.mp4": "empty file",
        "bad/truncated.mp4": "moov atom not found",
        "bad/text_file.avi": "not a media file",
        "bad/audio_only.mp4": "audio only",
        "good/single.mp4": "1 frame",
    }
    for rel, reason in reasons.items():
        assert rows.loc[rel, "status"] == "skipped" and reason in rows.loc[rel, "reason"], rel
    ok = df[df["status"] == "ok"]
    assert sorted(ok["relpath"]) == ["golf/clip.avi", "good/clip.mp4", "top.avi"]
    assert (ok["reason"] == "").all() and (ok["frames"] >= 2).all()
    assert rows.loc["good/clip.mp4", ["frames", "width", "height"]].tolist() == [20, 64, 48]
    assert rows.loc["golf/clip.avi", "label"] == "golf" and rows.loc["top.avi", "label"] == ""
    assert set(df["video_id"]) >= {"good/clip", "golf/clip", "top"}  # clashing stems made unique
    assert df["frames"].dtype == "Int64" and pd.isna(rows.loc["bad/zero_bytes.mp4", "frames"])
    for path in ok["path"]:  # later stages open the path as it stands
        assert os.path.isabs(path) and decode(path, max_frames=2).shape[0] == 2


def test_real_footage_quirks_are_listed_not_skipped(tmp_path):
    raw = tmp_path / "camera"
    media.make_dropped_frames_avi(raw / "capture.avi", every=4, coded=20)  # 77 slots, 20 coded
    media.make_jittery_vfr(raw / "phone.mkv")
    media.make_good(raw / "steady.mp4", frames=10)
    df = _by_id(list_videos(raw, "folder", workers=2, progress=False))
    assert set(df["status"]) == {"ok"} and set(df["reason"]) == {""}
    assert df.loc["capture", "frames"] == 77 and "57 of 77 frame slots are empty" in df.loc["capture", "note"]
    assert df["variable_frame_rate"].tolist() == [False, True, False]  # capture, phone, steady
    assert df.loc["phone", "note"] == df.loc["steady", "note"] == ""
    write_manifest(df, tmp_path / "m.csv")
    listed = read_manifest(tmp_path / "m.csv").set_index("video_id")
    for video_id, row in listed.iterrows():  # what the clip stage decodes with instead of probing again
        assert listed_info(row) == probe(row["path"]), video_id
    assert listed_info(listed.loc["capture"]).empty_slots == 57
    old = pd.read_csv(tmp_path / "m.csv", dtype=str, keep_default_na=False).drop(
        columns=["note", "rotation", "stream_index", "empty_slots"])
    old.to_csv(tmp_path / "old.csv", index=False)  # written before these columns existed
    older = read_manifest(tmp_path / "old.csv")
    assert set(older["note"]) == {""}
    assert [listed_info(row) for _, row in older.iterrows()] == [None] * 3  # unknown: the clip stage probes


def test_relative_raw_dir_gives_absolute_paths(tmp_path, tiny, monkeypatch):
    media.copy_video(tiny, tmp_path / "data" / "a" / "x.avi")
    monkeypatch.chdir(tmp_path)
    df = list_videos("data", "folder", workers=1, progress=False)
    assert df.loc[0, "path"] == str(tmp_path / "data" / "a" / "x.avi")
    assert df.loc[0, "relpath"] == "a/x.avi"


def test_ucf101_official_splits(tmp_path, tiny):
    raw = tmp_path / "ucf"
    videos = raw / "UCF101" / "UCF-101"  # the archive's own folder, one level down
    names = {
        "ApplyEyeMakeup": ["v_ApplyEyeMakeup_g01_c01", "v_ApplyEyeMakeup_g08_c02"],
        # the file names spell this class "HandStand", its folder and classInd "Handstand"
        "HandstandPushups": ["v_HandStandPushups_g02_c03", "v_HandStandPushups_g09_c01"],
    }
    for cls, stems in names.items():
        for stem in stems:
            media.copy_video(tiny, videos / cls / f"{stem}.avi")
    media.make_zero_bytes(videos / "ApplyEyeMakeup" / "v_ApplyEyeMakeup_g10_c01.avi")
    lists = raw / "ucfTrainTestlist"
    crlf = "\r\n"  # the official files have Windows line ends
    _write(lists / "classInd.txt", ["1 ApplyEyeMakeup", "37 HandstandPushups"], crlf)
    _write(lists / "trainlist01.txt", [
        "ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c02.avi 1",
        "ApplyEyeMakeup/v_ApplyEyeMakeup_g10_c01.avi 1",
        "ApplyEyeMakeup/v_ApplyEyeMakeup_g11_c01.avi 1",  # not on disk
        "HandstandPushups/v_HandStandPushups_g09_c01.avi 37",
    ], crlf)
    _write(lists / "testlist01.txt", [
        "ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c01.avi",
        "HandstandPushups/v_HandStandPushups_g02_c03.avi",
    ], crlf)
    _write(lists / "trainlist02.txt", [
        "ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c01.avi 1",
        "HandstandPushups/v_HandStandPushups_g02_c03.avi 37",
    ], crlf)
    _write(lists / "testlist02.txt", [
        "ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c02.avi",
        "ApplyEyeMakeup/v_ApplyEyeMakeup_g10_c01.avi",
        "HandstandPushups/v_HandStandPushups_g09_c01.avi",
    ], crlf)

    df = _by_id(list_videos(raw, "ucf101", workers=2, progress=False))
    assert list(df.columns[-3:]) == ["class_index", "group", "clip"]
    assert len(df) == 6  # five files plus the listed one that is missing
    hsp = df.loc["v_HandStandPushups_g09_c01"]
    assert (hsp["label"], hsp["class_index"], hsp["group"], hsp["clip"], hsp["split"]) == (
        "HandstandPushups", 37, 9, 1, "train")
    assert df.loc["v_HandStandPushups_g02_c03", "split"] == "test"
    assert df.loc["v_ApplyEyeMakeup_g01_c01", ["split", "status", "frames"]].tolist() == ["test", "ok", FRAMES]
    assert df.loc["v_ApplyEyeMakeup_g10_c01", "reason"] == "empty file (0 bytes)"
    missing = df.loc["v_ApplyEyeMakeup_g11_c01"]
    assert missing["status"] == "skipped" and "listed in trainlist01.txt" in missing["reason"]
    assert (df["status"] == "ok").sum() == 4

    split2 = _by_id(list_videos(raw, "ucf101", split_index=2, workers=2, progress=False))
    assert split2.loc["v_ApplyEyeMakeup_g01_c01", "split"] == "train"
    assert split2.loc["v_HandStandPushups_g09_c01", "split"] == "test"
    assert len(split2) == 5  # split 2 names no missing file
    with pytest.raises(FileNotFoundError, match="trainlist03.txt"):
        list_videos(raw, "ucf101", split_index=3, progress=False)


def test_hmdb51_splits_and_meta_tags(tmp_path, tiny):
    raw = tmp_path / "hmdb"
    clips = {
        "brush_hair": ["April_09_brush_hair_u_nm_np1_ba_goo_0", "Brushing_Hair_with_Beth_brush_hair_h_nm_np1_le_goo_0"],
        "ride_bike": ["Veoh_Alpha_Dog_1_ride_bike_f_cm_np2_fr_med_3", "untagged_clip"],
    }
    for cls, stems in clips.items():
        for stem in stems:
            media.copy_video(tiny, raw / cls / f"{stem}.avi")
    splits = raw / "testTrainMulti_7030_splits"
    _write(splits / "brush_hair_test_split1.txt", [  # official lines end in a space
        "April_09_brush_hair_u_nm_np1_ba_goo_0.avi 1 ",
        "Brushing_Hair_with_Beth_brush_hair_h_nm_np1_le_goo_0.avi 2 ",
    ])
    _write(splits / "ride_bike_test_split1.txt", ["Veoh_Alpha_Dog_1_ride_bike_f_cm_np2_fr_med_3.avi 0 "])

    df = _by_id(list_videos(raw, "hmdb51", workers=2, progress=False))
    assert list(df.columns[len(MANIFEST_COLUMNS):]) == list(HMDB_COLUMNS)
    assert len(df) == 4 and (df["status"] == "ok").all()
    april = df.loc["April_09_brush_hair_u_nm_np1_ba_goo_0"]
    assert april[["label", "split", "source", "body_part", "camera_motion", "people",
                  "viewpoint", "quality", "clip"]].tolist() == [
        "brush_hair", "train", "April_09", "u", "nm", 1, "ba", "goo", 0]
    assert df.loc["Brushing_Hair_with_Beth_brush_hair_h_nm_np1_le_goo_0", "split"] == "test"
    veoh = df.loc["Veoh_Alpha_Dog_1_ride_bike_f_cm_np2_fr_med_3"]
    assert veoh[["label", "split", "source", "camera_motion", "people", "quality", "clip"]].tolist() == [
        "ride_bike", "unused", "Veoh_Alpha_Dog_1", "cm", 2, "med", 3]
    untagged = df.loc["untagged_clip"]
    assert (untagged["label"], untagged["split"], untagged["quality"]) == ("ride_bike", "", "")
    assert pd.isna(untagged["people"])
    with pytest.raises(FileNotFoundError, match="test_split2"):
        list_videos(raw, "hmdb51", split_index=2, progress=False)


def test_empty_test_split_is_explained_from_the_lists_and_the_clip_index(tmp_path, tiny):
    """staticflow once said "hold out more training videos" when its test set came out empty."""
    raw = tmp_path / "hmdb"
    stems = {"walk_f_cm_np1_fr_goo_0": "2", "walk_f_nm_np1_le_bad_1": "2", "walk_f_cm_np1_ba_med_2": "2",
             "walk_f_nm_np1_ri_goo_3": "1"}
    for stem in stems:
        media.copy_video(tiny, raw / "walk" / f"clip_{stem}.avi")
    media.make_zero_bytes(raw / "walk" / "clip_walk_f_nm_np1_fr_goo_4.avi")
    stems["walk_f_nm_np1_fr_goo_4"] = "2"
    _write(raw / "splits" / "walk_test_split1.txt", [f"clip_{stem}.avi {code}" for stem, code in stems.items()])
    manifest_path = tmp_path / "manifests" / "hmdb51.csv"
    write_manifest(list_videos(raw, "hmdb51", workers=2, progress=False), manifest_path)
    proto = clips.protocol("staticflow", papers.sizes("smoke")["clips"]["staticflow"])
    index = tmp_path / "clips" / "hmdb51" / "staticflow" / "index.csv"
    clips.write_clip_index(manifest_path, [], proto, index)  # no shard: every test video dropped

    message = why_split_is_empty(manifest_path, "test", index)
    assert "4 videos" in message and "walk_test_split1" not in message and "_test_split<N>.txt" in message
    assert "2 excluded: camera motion" in message and "1 excluded: quality bad" in message
    assert "1 excluded: unreadable: empty file" in message
    without_index = why_split_is_empty(manifest_path, "test", tmp_path / "nowhere.csv")
    assert "3 ok" in without_index and "1 skipped: empty file" in without_index
    assert "puts no video in 'val'" in why_split_is_empty(manifest_path, "val")


def test_parse_hmdb_tags_from_the_right():
    tags = parse_hmdb_tags("#20_Rhythm_clap_u_nm_np1_fr_goo_0", "clap")
    assert tags["source"] == "#20_Rhythm" and tags["viewpoint"] == "fr"
    assert parse_hmdb_tags("BIG_FISH_walk_f_nm_np1_ba_med_12", "walk")["clip"] == 12
    assert parse_hmdb_tags("v_Biking_g01_c01") is None


def test_kth_persons_split_like_svg(tmp_path, tiny):
    raw = tmp_path / "kth"
    for rel in ["boxing/person01_boxing_d1_uncomp.avi", "boxing/person22_boxing_d4_uncomp.avi",
                "walking/person20_walking_d2_uncomp.avi"]:
        media.copy_video(tiny, raw / rel)
    (raw / "00sequences.txt").write_text("person01_boxing_d1\t\tframes\t1-95, 96-185\n")
    df = _by_id(list_videos(raw, "kth", workers=2, progress=False))
    assert len(df) == 3
    assert df.loc["person01_boxing_d1_uncomp", ["label", "person", "scenario", "split"]].tolist() == [
        "boxing", 1, "d1", "train"]
    assert df.loc["person20_walking_d2_uncomp", "split"] == "train"
    assert df.loc["person22_boxing_d4_uncomp", ["person", "split"]].tolist() == [22, "test"]
    assert df.loc["person01_boxing_d1_uncomp", "segments"] == "0:95 95:185"  # 1-based inclusive in the file
    assert df.loc["person22_boxing_d4_uncomp", "segments"] == ""  # not listed: the whole video


def test_kth_sequences_file_parsed_as_the_real_one_is_written(tmp_path):
    from pipeline.layouts import parse_kth_sequences, parse_segments

    listing = tmp_path / "00sequences.txt"
    listing.write_text(
        "Sequence filenames and frame ranges\r\n\r\n"
        "person01_boxing_d1\t\tframes\t1-95, 96-185, 186-245, 246-360\r\n"
        "person01_boxing_d2\t\tframes\t1-106,107-195, 196-265,266-347\r\n"
        "person13_handclapping_d3\t\tframes\t\r\n"  # listed without a range
        "Person02_Walking_d1  frames 5 - 40\r\n"
    )
    parsed = parse_kth_sequences(listing)
    assert parsed["person01_boxing_d1"] == [(0, 95), (95, 185), (185, 245), (245, 360)]
    assert parsed["person01_boxing_d2"][1] == (106, 195)
    assert parsed["person02_walking_d1"] == [(4, 40)]
    assert "person13_handclapping_d3" not in parsed
    assert parse_segments("0:95 95:185") == [(0, 95), (95, 185)] and parse_segments("") == []
    with pytest.raises(ValueError, match="'9:3'"):
        parse_segments("9:3")
    listing.write_text("person01_boxing_d1 frames 50-20\n")
    with pytest.raises(ValueError, match=r"00sequences.txt:1: frame range 50-20"):
        parse_kth_sequences(listing)


def test_thumos_split_from_folder_label_from_name(tmp_path, tiny):
    raw = tmp_path / "thumos"
    for rel in ["validation/thumos15_video_validation_0000006.mp4", "test/thumos15_video_test_0000001.mp4",
                "test/v_BasketballDunk_g01_c01.mp4", "loose/thumos15_video_validation_0000042.mp4"]:
        media.copy_video(tiny, raw / rel)
    df = _by_id(list_videos(raw, "thumos", workers=2, progress=False))
    assert df.loc["thumos15_video_validation_0000006", ["split", "label"]].tolist() == ["val", ""]
    assert df.loc["thumos15_video_test_0000001", "split"] == "test"
    assert df.loc["v_BasketballDunk_g01_c01", "label"] == "BasketballDunk"  # not Basketball
    assert df.loc["thumos15_video_validation_0000042", "split"] == "val"  # from its name


def test_synthetic_layout_with_groundtruth_and_tags(tmp_path, tiny):
    raw = tmp_path / "synth"
    tagged = "scene0001_walk_f_nm_np1_le_med_0"
    media.copy_video(tiny, raw / "videos" / "walk" / f"{tagged}.mp4")
    media.copy_video(tiny, raw / "videos" / "jump" / "scene0002.mp4")
    media.make_zero_bytes(raw / "videos" / "jump" / "scene0003.mp4")
    _write(raw / "splits" / "train.txt", [f"walk/{tagged}.mp4", "jump/scene0003.mp4"])
    _write(raw / "splits" / "test.txt", ["jump/scene0002.mp4"])
    (raw / "groundtruth" / "jump").mkdir(parents=True)
    (raw / "groundtruth" / "jump" / "scene0002.npz").write_bytes(b"")

    df = _by_id(list_videos(raw, "synthetic", workers=2, progress=False))
    assert "groundtruth" in df.columns and set(HMDB_COLUMNS) <= set(df.columns)
    assert df.loc["scene0002", ["label", "split", "groundtruth"]].tolist() == [
        "jump", "test", "groundtruth/jump/scene0002.npz"]
    walk = df.loc[tagged]
    assert walk[["label", "split", "groundtruth", "source", "camera_motion", "quality"]].tolist() == [
        "walk", "train", "", "scene0001", "nm", "med"]
    assert df.loc["scene0003", ["status", "split"]].tolist() == ["skipped", "train"]


def test_manifest_round_trip_atomic_and_relocatable(tmp_path, tiny):
    raw = tmp_path / "raw"
    media.copy_video(tiny, raw / "a" / "x.avi")
    media.make_zero_bytes(raw / "a" / "y.avi")
    df = list_videos(raw, "folder", workers=1, progress=False)
    target = tmp_path / "manifests" / "folder.csv"
    write_manifest(df, target)
    assert sorted(p.name for p in target.parent.iterdir()) == ["folder.csv"]  # no temp left
    back = read_manifest(target)
    pd.testing.assert_frame_equal(back, df)

    moved = tmp_path / "elsewhere"
    shutil.move(raw, moved)
    relocated = read_manifest(target, raw_dir=moved)
    assert relocated.loc[0, "path"] == str(moved / "a" / "x.avi")
    assert decode(relocated.loc[0, "path"]).shape[0] == FRAMES

    with pytest.raises(ValueError, match="lacks columns"):
        write_manifest(df.drop(columns=["status"]), tmp_path / "bad.csv")
    with pytest.raises(ValueError, match="unknown manifest layout"):
        list_videos(moved, "imagenet", progress=False)
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="no video files"):  # a wrong path says so
        list_videos(tmp_path / "empty", "folder", progress=False)


def test_thumos_without_test_videos_says_how_to_get_them(tmp_path):
    """`source: url` brings THUMOS's validation videos only; the message names the registration and `path`."""
    tiny = media.make_good(tmp_path / "tiny.mp4", frames=4)
    raw = tmp_path / "thumos"
    media.copy_video(tiny, raw / "thumos15_video_validation_0000006.mp4")
    manifest_path = tmp_path / "manifests" / "thumos.csv"
    write_manifest(list_videos(raw, "thumos", workers=1, progress=False), manifest_path)
    message = why_split_is_empty(manifest_path, "test")
    assert "splits present: {'val': 1}" in message
    assert "thumos.info" in message and "source: path" in message and "thumos15_video_test_" in message

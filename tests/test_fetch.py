import hashlib
import json
import os
import re
import subprocess
import time
from pathlib import Path

import media
import pandas as pd
import pytest
from archive_fixture import TREE, payload, rar_bytes, read_tree, targz_bytes, zip_bytes
from http_fixture import closed_port, serve_files
from test_workflow import SNAKEMAKE

from pipeline import fetch
from pipeline.download import ChecksumError, DownloadError, download
from pipeline.fetch import (
    LayoutError,
    fetch_source,
    fetch_url_source,
    link_path_source,
    read_source,
)
from pipeline.manifest import VIDEO_EXTENSIONS, list_videos
from pipeline.sources import (
    ARCHIVE_KINDS,
    REGISTRY,
    SOURCE_KINDS,
    DownloadFile,
    Requirement,
    SourceEntry,
    UnknownDatasetError,
    check_kind,
    get_source,
)


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --------------------------------------------------------------------------------------------
# download


def test_complete_download_with_correct_sha256(tmp_path):
    data = payload(300_000)
    with serve_files() as server:
        url = server.add("d/file.bin", data)
        out = download(url, tmp_path / "file.bin", _sha(data), progress=False)
        assert server.gets("d/file.bin") == [None]
        # done is done: a second call neither downloads nor rewrites
        assert download(url, tmp_path / "file.bin", _sha(data), progress=False) == out
        assert server.gets("d/file.bin") == [None]
    assert out.read_bytes() == data
    assert not (tmp_path / "file.bin.part").exists()
    assert (tmp_path / "file.bin.sha256").read_text().strip() == _sha(data)


def test_download_cut_half_way_resumes_with_range(tmp_path):
    data = payload(200_001, seed=3)
    dest = tmp_path / "v.tar"
    with serve_files() as server:
        url = server.add("v.tar", data)
        server.cut["/v.tar"] = 1
        with pytest.raises(DownloadError, match="interrupted") as info:
            download(url, dest, _sha(data), resume_attempts=0, progress=False)
        assert url in str(info.value)
        half = len(data) // 2
        part = tmp_path / "v.tar.part"
        assert part.stat().st_size == half and not dest.exists()
        assert part.read_bytes() == data[:half]

        download(url, dest, _sha(data), progress=False)
        assert server.gets("v.tar") == [None, f"bytes={half}-"]
    assert dest.read_bytes() == data
    assert not part.exists()


def test_cut_connection_is_resumed_within_one_call(tmp_path):
    data = payload(100_000, seed=4)
    with serve_files() as server:
        url = server.add("x.zip", data)
        server.cut["/x.zip"] = 1
        download(url, tmp_path / "x.zip", _sha(data), progress=False)
        assert server.gets("x.zip") == [None, f"bytes={len(data) // 2}-"]
    assert (tmp_path / "x.zip").read_bytes() == data


def test_server_ignoring_range_restarts_from_zero(tmp_path):
    data = payload(50_000, seed=5)
    (tmp_path / "y.bin.part").write_bytes(b"\xff" * 20_000)  # stale bytes that must not survive
    with serve_files() as server:
        url = server.add("y.bin", data)
        server.ignore_range.add("/y.bin")
        download(url, tmp_path / "y.bin", _sha(data), progress=False)
        assert server.gets("y.bin") == ["bytes=20000-"]
    assert (tmp_path / "y.bin").read_bytes() == data


def test_complete_partial_file_is_not_downloaded_again(tmp_path):
    data = payload(4_000, seed=6)
    (tmp_path / "z.bin.part").write_bytes(data)
    with serve_files() as server:
        url = server.add("z.bin", data)
        download(url, tmp_path / "z.bin", _sha(data), progress=False)
        assert server.gets("z.bin") == ["bytes=4000-"]  # answered 416 with the full size
    assert (tmp_path / "z.bin").read_bytes() == data


def test_checksum_mismatch_keeps_nothing(tmp_path):
    data = payload(10_000, seed=7)
    wrong = _sha(b"something else")
    with serve_files() as server:
        url = server.add("bad.zip", data)
        with pytest.raises(ChecksumError) as info:
            download(url, tmp_path / "bad.zip", wrong, progress=False)
    message = str(info.value)
    assert url in message and wrong in message and _sha(data) in message
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_http_error_names_url_and_status(tmp_path):
    with serve_files() as server:
        url = server.url("missing.rar")
        with pytest.raises(DownloadError) as info:
            download(url, tmp_path / "missing.rar", dataset="hmdb51", progress=False)
    assert url in str(info.value) and "404" in str(info.value)
    assert "datasets.hmdb51.path" in str(info.value)


def test_unreachable_url_fails_fast_and_names_the_path_alternative(tmp_path):
    url = f"http://127.0.0.1:{closed_port()}/UCF101.rar"
    start = time.monotonic()
    with pytest.raises(DownloadError) as info:
        download(url, tmp_path / "UCF101.rar", dataset="ucf101", progress=False)
    assert time.monotonic() - start < 3.0
    message = str(info.value)
    assert url in message
    assert "datasets.ucf101.source: path" in message and "datasets.ucf101.path" in message
    assert not any(tmp_path.iterdir())


def test_fetch_tries_mirrors_and_reports_every_url(tmp_path):
    data = zip_bytes(TREE)
    dead = f"http://127.0.0.1:{closed_port()}/toy.zip"
    with serve_files() as server:
        good = server.add("mirror/toy.zip", data)
        entry = _toy_entry([DownloadFile("toy.zip", dead, _sha(data), "zip", mirrors=(good,))])
        fetch_url_source(entry, tmp_path / "raw", progress=False)
        assert read_source(tmp_path / "raw")["files"][0]["url"] == good

    offline = _toy_entry([DownloadFile("toy.zip", dead, None, "zip", mirrors=(dead + "?2",))])
    start = time.monotonic()
    with pytest.raises(DownloadError) as info:
        fetch_url_source(offline, tmp_path / "raw2", progress=False)
    assert time.monotonic() - start < 3.0
    assert dead in str(info.value) and dead + "?2" in str(info.value)
    assert "datasets.toy.path" in str(info.value)
    assert not (tmp_path / "raw2" / "source.json").exists()


# --------------------------------------------------------------------------------------------
# sources


def _toy_entry(files, requires=None) -> SourceEntry:
    return SourceEntry(
        name="toy",
        title="Toy dataset",
        used_by=(),
        kinds=("url", "path"),
        layout="folder",
        layout_doc="clips/<class>/*.avi and lists/classInd.txt",
        files=tuple(files),
        requires=requires or (
            Requirement("videos", "class folders of clips", ("*/*.avi",), dirname="clips"),
            Requirement("splits", "the class list", ("classInd.txt",), dirname="lists"),
        ),
    )


def test_fetch_url_source_downloads_unpacks_and_records(tmp_path):
    rar_tree = {"extra/notes.txt": b"notes\n"}
    with serve_files() as server:
        files = [
            DownloadFile("toy.zip", server.add("toy.zip", zip_bytes(TREE)), _sha(zip_bytes(TREE)), "zip"),
            DownloadFile("more.tar.gz", server.add("more.tar.gz", targz_bytes({"x/y.txt": b"y"})), None, "tar"),
            DownloadFile("readme.txt", server.add("readme.txt", b"read me"), None, "file", into=""),
            DownloadFile("notes.rar", server.add("notes.rar", rar_bytes(rar_tree)), None, "rar"),
        ]
        raw = tmp_path / "raw"
        root = fetch_url_source(_toy_entry(files), raw, progress=False)
        assert read_tree(root / "toy") == TREE
        assert (root / "more" / "x" / "y.txt").read_bytes() == b"y"
        assert (root / "readme.txt").read_bytes() == b"read me"
        assert (root / "notes" / "extra" / "notes.txt").read_bytes() == b"notes\n"

        record = json.loads((raw / "source.json").read_text())
        assert record["source"] == "url" and record["dataset"] == "toy"
        assert Path(record["parts"]["videos"]) == (root / "toy" / "clips").resolve()
        assert Path(record["parts"]["splits"]) == (root / "toy" / "lists").resolve()
        by_name = {f["name"]: f for f in record["files"]}
        assert by_name["toy.zip"]["sha256"] == _sha(zip_bytes(TREE))
        assert by_name["readme.txt"]["sha256"] == _sha(b"read me")
        assert re.match(r"\d{4}-\d\d-\d\dT", record["recorded_at"])

        served = len(server.requests)
        fetch_url_source(_toy_entry(files), raw, progress=False)  # a rerun has nothing left to do
        assert len(server.requests) == served


def test_fetched_archive_without_expected_layout_is_an_error(tmp_path):
    with serve_files() as server:
        data = zip_bytes({"other/file.txt": b"x"})
        files = [DownloadFile("toy.zip", server.add("toy.zip", data), None, "zip")]
        with pytest.raises(LayoutError, match="class folders of clips"):
            fetch_url_source(_toy_entry(files), tmp_path / "raw", progress=False)
    assert not (tmp_path / "raw" / "source.json").exists()


def test_link_path_source_rejects_a_missing_folder(tmp_path):
    missing = tmp_path / "nowhere" / "UCF101"
    with pytest.raises(LayoutError) as info:
        link_path_source("ucf101", missing, tmp_path / "raw")
    message = str(info.value)
    assert str(missing) in message and "datasets.ucf101.path" in message and "does not exist" in message
    assert not (tmp_path / "raw" / "source.json").exists()


def test_embedded_sprites_are_the_shipped_folder_and_other_datasets_refuse_it(tmp_path):
    root = fetch_source("sprites", "embedded", None, tmp_path / "raw")
    record = read_source(tmp_path / "raw")
    assert root == Path(__file__).resolve().parents[1] / "resources" / "sprites"
    assert record["source"] == "embedded" and Path(record["parts"]["sprites"]) == root
    assert (root / "sprites_splits.mat").is_file()
    with pytest.raises(ValueError, match="datasets.ucf101.source = 'embedded' is not available"):
        fetch_source("ucf101", "embedded", None, tmp_path / "raw2")


def test_link_path_source_names_what_is_missing(tmp_path):
    user = tmp_path / "my_ucf"
    (user / "UCF-101" / "YoYo").mkdir(parents=True)
    (user / "UCF-101" / "YoYo" / "v_YoYo_g01_c01.avi").write_bytes(b"")
    with pytest.raises(LayoutError) as info:
        link_path_source("ucf101", user, tmp_path / "raw")
    missing, _, expected = str(info.value).partition("Expected:")
    assert str(user) in missing and "split lists" in missing and "class folders" not in missing
    assert "ucfTrainTestlist" in expected


def test_link_path_source_records_the_users_folder_without_copying(tmp_path):
    user = tmp_path / "downloads" / "hmdb"
    for rel in ("videos/brush_hair/a.avi", "splits/testTrainMulti_7030_splits/brush_hair_test_split1.txt"):
        (user / rel).parent.mkdir(parents=True, exist_ok=True)
        (user / rel).write_bytes(b"")
    raw = tmp_path / "raw"
    root = link_path_source(get_source("hmdb51"), user, raw)
    assert root == user.resolve()
    record = read_source(raw)
    assert record["source"] == "path" and record["root"] == str(user.resolve())
    assert record["parts"]["videos"] == str((user / "videos").resolve())
    assert record["parts"]["splits"] == str((user / "splits" / "testTrainMulti_7030_splits").resolve())
    assert sorted(p.name for p in raw.iterdir()) == ["source.json"]


def test_registry_entries_are_consistent():
    expected = {"ucf101", "thumos", "hmdb51", "flickr", "sprites", "exercise", "pennaction", "kth", "bair",
                "mnist", "voc2012", "shapes", "smmnist"}
    assert set(REGISTRY) == expected
    for name, entry in REGISTRY.items():
        assert entry.name == name and entry.layout_doc
        assert entry.kinds and set(entry.kinds) <= set(SOURCE_KINDS)
        assert bool(entry.files) == entry.supports("url"), name
        assert bool(entry.requires) == (entry.supports("url") or entry.supports("path")), name
        assert len({f.name for f in entry.files}) == len(entry.files)
        for f in entry.files:
            assert f.kind in ARCHIVE_KINDS and f.url.startswith(("http://", "https://"))
            assert f.sha256 is None or re.fullmatch(r"[0-9a-f]{64}", f.sha256)
    assert get_source("hmdb51").files[0].nested
    assert {f.name for f in get_source("kth").files} >= {"walking.zip", "handclapping.zip"}


def test_unknown_dataset_and_unsupported_kind_are_clear_errors():
    with pytest.raises(KeyError) as info:
        get_source("ucf-101")
    assert isinstance(info.value, UnknownDatasetError)
    assert "ucf-101" in str(info.value) and "ucf101" in str(info.value) and "voc2012" in str(info.value)
    with pytest.raises(ValueError, match="datasets.shapes.source"):
        check_kind(get_source("shapes"), "url")
    with pytest.raises(ValueError, match="datasets.flickr.source"):
        fetch.fetch_source("flickr", "url", None, "unused")


# Minimal copies of each dataset as its official archives unpack (under data/<archive stem>/),
# so every registry requirement is checked against the documented layout.
UNPACKED = {
    "ucf101": ["UCF101/UCF-101/YoYo/v_YoYo_g01_c01.avi",
               "UCF101TrainTestSplits-RecognitionTask/ucfTrainTestlist/classInd.txt"],
    "thumos": ["thumos15_validation_complete/thumos15_validation/thumos15_video_validation_0000001.mp4"],
    "hmdb51": ["hmdb51_org/brush_hair/April_09_brush_hair_u_nm_np1_ba_goo_0.avi",
               "test_train_splits/testTrainMulti_7030_splits/brush_hair_test_split1.txt"],
    "flickr": ["golf/2013/clip.webm"],
    "sprites": ["nips2015-analogy-data/data/sprites/sprites_splits.mat",
                "nips2015-analogy-data/data/sprites/sprites_1.mat"],
    "exercise": ["exercise_dataset/seq01/0001.png"],
    "pennaction": ["Penn_Action/Penn_Action/frames/0001/000001.jpg", "Penn_Action/Penn_Action/labels/0001.mat"],
    "kth": [f"{a}/person01_{a}_d1_uncomp.avi"
            for a in ("walking", "jogging", "running", "boxing", "handwaving", "handclapping")],
    "bair": ["bair_robot_pushing_dataset_v0/softmotion30_44k/train/traj_0_to_255.tfrecords",
             "bair_robot_pushing_dataset_v0/softmotion30_44k/test/traj_0_to_255.tfrecords"],
    "mnist": ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
              "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"],
    "voc2012": ["VOCtrainval_11-May-2012/VOCdevkit/VOC2012/JPEGImages/2007_000027.jpg",
                "VOCtrainval_11-May-2012/VOCdevkit/VOC2012/Annotations/2007_000027.xml",
                "VOCtrainval_11-May-2012/VOCdevkit/VOC2012/ImageSets/Main/train.txt"],
}


@pytest.mark.parametrize("name", sorted(UNPACKED))
def test_each_dataset_layout_is_located(tmp_path, name):
    entry = get_source(name)
    assert set(UNPACKED) == {n for n, e in REGISTRY.items() if e.requires}
    for rel in UNPACKED[name]:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(b"")
    parts = fetch.locate(entry, tmp_path)
    assert set(parts) == {r.key for r in entry.requires}
    for key, folder in parts.items():  # every part is a folder the files above live in
        assert any((tmp_path / rel).is_relative_to(folder) for rel in UNPACKED[name]), key
    # and with the first file gone, the layout is no longer accepted
    (tmp_path / UNPACKED[name][0]).unlink()
    with pytest.raises(LayoutError):
        fetch.locate(entry, tmp_path)


VIDEO_COPIES = {name: UNPACKED[name] for name in ("ucf101", "thumos", "hmdb51", "flickr", "kth")}
VIDEO_COPIES["exercise"] = ["exercise_dataset/seq01/clip.mp4"]  # frames or videos: here videos


def _copy_with_suffix(root, rels, suffix):
    for rel in rels:
        path = root / rel
        if path.suffix.lower() in VIDEO_EXTENSIONS:
            path = path.with_suffix(suffix)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"")


@pytest.mark.parametrize("name", sorted(VIDEO_COPIES))
def test_every_extension_the_listing_reads_is_accepted(tmp_path, name):
    """A dataset's path check and its listing agree on what a video is (thumos once took only .mp4)."""
    entry = get_source(name)
    for suffix in sorted(VIDEO_EXTENSIONS) + [".AVI", ".Mp4"]:
        _copy_with_suffix(tmp_path / suffix, VIDEO_COPIES[name], suffix)
        assert set(fetch.locate(entry, tmp_path / suffix)) == {r.key for r in entry.requires}, suffix
    _copy_with_suffix(tmp_path / "text", VIDEO_COPIES[name], ".txt")
    with pytest.raises(LayoutError):  # a file the listing would not read is still refused
        fetch.locate(entry, tmp_path / "text")


def test_thumos_folder_of_avi_and_mkv_is_linked_and_listed(tmp_path):
    user = tmp_path / "thumos"
    media.make_mpeg4(user / "test" / "thumos15_video_test_0000001.avi", frames=4)
    media.make_good(user / "test" / "thumos15_video_test_0000002.mkv", frames=4)
    root = link_path_source("thumos", user, tmp_path / "raw")
    listed = list_videos(root, "thumos", workers=1, progress=False)
    assert sorted(listed["relpath"]) == ["test/thumos15_video_test_0000001.avi", "test/thumos15_video_test_0000002.mkv"]
    assert set(listed["status"]) == {"ok"} and set(listed["split"]) == {"test"}


def test_folder_fingerprint_follows_names_sizes_and_mtimes(tmp_path):
    user = tmp_path / "flickr"
    (user / "golf").mkdir(parents=True)
    (user / "golf" / "a.mp4").write_bytes(b"x" * 10)
    first = fetch.folder_fingerprint(user)
    assert first == fetch.folder_fingerprint(user) and len(first) == 64
    (user / "golf" / "b.mp4").write_bytes(b"y")
    added = fetch.folder_fingerprint(user)
    os.utime(user / "golf" / "b.mp4", ns=(1, 1))
    touched = fetch.folder_fingerprint(user)
    (user / "golf" / "b.mp4").unlink()
    assert len({first, added, touched}) == 3 and fetch.folder_fingerprint(user) == first
    assert fetch.path_source_state({"source": "path", "path": str(user)}) == first
    assert fetch.path_source_state({"source": "synthetic"}) == "" == fetch.folder_fingerprint(user / "nope")
    link_path_source("flickr", user, tmp_path / "raw")
    assert read_source(tmp_path / "raw")["fingerprint"] == first


def test_files_added_to_a_path_folder_reach_the_manifest(tmp_path):
    """The list stage reruns when the user's folder changes, with no -R data_list."""
    user = tmp_path / "my videos"
    media.make_good(user / "golf" / "a.mp4", frames=4)
    config = ["--config", f"datasets={{'flickr': {{'source': 'path', 'path': '{user}'}}}}",
              "data_root=d", "results_root=r"]
    target = "d/manifests/flickr.csv"

    def run():
        result = subprocess.run([*SNAKEMAKE, "--directory", str(tmp_path), target, *config],
                                capture_output=True, text=True)
        assert result.returncode == 0, result.stderr[-3000:]

    run()  # (an unchanged folder keeps its fingerprint: see the test above)
    assert pd.read_csv(tmp_path / target)["relpath"].tolist() == ["golf/a.mp4"]
    media.make_good(user / "beach" / "b.mkv", frames=4)  # a video added
    media.make_good(user / "golf" / "a.mp4", frames=6)  # and one replaced
    run()
    manifest = pd.read_csv(tmp_path / target).set_index("relpath")
    assert manifest.index.tolist() == ["beach/b.mkv", "golf/a.mp4"] and manifest.loc["golf/a.mp4", "frames"] == 6

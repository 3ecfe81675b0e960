"""Archive extraction (`pipeline.archives`): round trips, atomic publication, refused members,
bsdtar and its rarfile fallback, nested archives."""

import io
import shutil
import tarfile
from pathlib import Path

import pytest
import rarfile
from archive_fixture import TREE, payload, rar_bytes, read_tree, targz_bytes, zip_bytes

from pipeline import archives, fetch
from pipeline.archives import ExtractError, extract


@pytest.mark.parametrize("kind, make, name", [("zip", zip_bytes, "a.zip"), ("tar", targz_bytes, "a.tar.gz")])
def test_zip_and_targz_round_trip(tmp_path, kind, make, name):
    archive = tmp_path / name
    archive.write_bytes(make(TREE))
    out = extract(archive, tmp_path / "out")
    assert read_tree(out) == TREE
    assert archives.archive_kind(archive) == kind
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_truncated_archive_leaves_no_destination(tmp_path):
    archive = tmp_path / "t.tar.gz"
    archive.write_bytes(targz_bytes(TREE)[:-200])
    with pytest.raises(ExtractError, match="t.tar.gz"):
        extract(archive, tmp_path / "out")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.tar.gz"]


def test_tar_member_escaping_the_target_is_refused(tmp_path):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        info = tarfile.TarInfo("../evil.txt")
        info.size = 1
        tf.addfile(info, io.BytesIO(b"x"))
    (tmp_path / "evil.tar").write_bytes(buf.getvalue())
    with pytest.raises(ExtractError):
        extract(tmp_path / "evil.tar", tmp_path / "sub" / "out")
    assert not (tmp_path / "sub" / "evil.txt").exists() and not (tmp_path / "evil.txt").exists()


def test_rar_is_extracted_with_bsdtar(tmp_path, monkeypatch):
    if shutil.which(archives.BSDTAR) is None:
        pytest.skip("bsdtar (libarchive-tools) not installed")
    calls = []
    real_run = archives.subprocess.run

    def spy(cmd, **kwargs):
        calls.append(cmd)
        return real_run(cmd, **kwargs)

    monkeypatch.setattr(archives.subprocess, "run", spy)
    archive = tmp_path / "UCF101.rar"
    archive.write_bytes(rar_bytes(TREE))
    assert rarfile.is_rarfile(archive)
    out = extract(archive, tmp_path / "out")
    assert read_tree(out) == TREE
    assert len(calls) == 1 and Path(calls[0][0]).name == "bsdtar" and "-x" in calls[0]


def test_rar_falls_back_to_rarfile_without_bsdtar(tmp_path, monkeypatch):
    monkeypatch.setattr(archives, "BSDTAR", "no-such-bsdtar-here")
    archive = tmp_path / "splits.rar"
    archive.write_bytes(rar_bytes(TREE))
    assert read_tree(extract(archive, tmp_path / "out")) == TREE


def test_nested_rars_are_unpacked_in_place(tmp_path):
    # HMDB-51: one outer rar of per-class rars, each holding <class>/<clip>.avi
    inner = {
        "brush_hair.rar": rar_bytes({"brush_hair/x_brush_hair_f_nm_np1_ba_goo_0.avi": payload(500, 8)}),
        "wave.rar": rar_bytes({"wave/y_wave_u_cm_np1_fr_med_1.avi": payload(700, 9)}),
    }
    archive = tmp_path / "hmdb51_org.rar"
    archive.write_bytes(rar_bytes(inner))
    out = extract(archive, tmp_path / "hmdb51_org", nested=True)
    assert sorted(read_tree(out)) == [
        "brush_hair/x_brush_hair_f_nm_np1_ba_goo_0.avi",
        "wave/y_wave_u_cm_np1_fr_med_1.avi",
    ]


def test_extract_errors_are_fetch_errors_also_importable_from_fetch(tmp_path):
    # callers of the fetch stage catch fetch.ExtractError or fetch.FetchError for any failure
    (tmp_path / "notes.txt").write_text("not an archive")
    with pytest.raises(fetch.FetchError) as info:
        extract(tmp_path / "notes.txt", tmp_path / "out")
    assert type(info.value) is fetch.ExtractError is ExtractError
    assert "notes.txt" in str(info.value) and not (tmp_path / "out").exists()

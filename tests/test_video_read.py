"""Probing and decoding: frame counts, sizes and pixels against ffmpeg's own test pattern,
and a clear UnreadableVideo for every kind of broken file."""

import dataclasses
import os
import subprocess
import threading

import ffmpeg
import media
import numpy as np
import pytest

from pipeline.video_probe import UnreadableVideo, probe
from pipeline.video_read import decode, iter_frames

W, H, N, FPS = 96, 72, 30, 25.0


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("media")
    return {
        "good": media.make_good(d / "good.mp4", width=W, height=H, frames=N, fps=FPS),
        "vfr": media.make_vfr(d / "vfr.mp4"),
        "jittery": media.make_jittery_vfr(d / "jittery.mkv"),
        "dropped": media.make_dropped_frames_avi(d / "dropped.avi", every=4, coded=20),
        "odd": media.make_odd_size(d / "odd.avi"),
        "one": media.make_one_frame(d / "one.mp4"),
        "rotated": media.make_rotated(d / "rotated.mp4", width=64, height=48),
        "faststart_truncated": media.make_truncated(d / "fs_truncated.mp4", faststart=True),
        **media.make_bad_set(d / "bad"),
    }


@pytest.fixture(scope="module")
def good_frames(files):
    return decode(files["good"])


def test_probe_good_file(files):
    info = probe(files["good"])
    assert (info.frames, info.width, info.height) == (N, W, H)
    assert info.fps == pytest.approx(FPS)
    assert info.duration == pytest.approx(N / FPS, abs=0.05)
    assert info.codec == "h264" and not info.variable_frame_rate


def test_decode_matches_the_pattern_frame_by_frame(good_frames):
    ref = media.reference_frames(width=W, height=H, frames=N, fps=FPS).astype(np.float32)
    assert good_frames.shape == (N, H, W, 3) and good_frames.dtype == np.uint8
    got = good_frames.astype(np.float32)
    errors = np.abs(got[:, None] - ref[None]).mean(axis=(2, 3, 4))  # (N, N) decoded x reference
    assert np.all(np.diag(errors) < 3.0)  # lossy H.264 + 4:2:0 chroma, but the same picture
    assert np.array_equal(errors.argmin(axis=1), np.arange(N))  # no frame dropped, doubled or moved


def test_start_and_max_frames_cut_exactly(files, good_frames):
    part = decode(files["good"], start=7 / FPS, max_frames=5)
    assert np.array_equal(part, good_frames[7:12])
    assert decode(files["good"], start=10.0).shape == (0, H, W, 3)  # past the end: nothing


def test_resize_and_center_crop(files, good_frames):
    crop = decode(files["good"], center_crop=(41, 51))  # odd crop of an even frame
    top, left = (H - 41) // 2, (W - 51) // 2
    assert np.array_equal(crop, good_frames[:, top : top + 41, left : left + 51])
    small = decode(files["good"], size=(36, 48))
    assert small.shape == (N, 36, 48, 3)
    pooled = good_frames.reshape(N, 36, 2, 48, 2, 3).astype(np.float32).mean(axis=(2, 4))
    assert np.abs(small - pooled).mean() < 6.0  # a resize of the same picture, not another one
    assert decode(files["good"], resize_height=50, center_crop=50).shape == (N, 50, 50, 3)
    with pytest.raises(ValueError, match="larger than"):
        decode(files["good"], center_crop=(H + 1, W))


def test_variable_frame_rate_resampled_to_constant_rate(files):
    info = probe(files["vfr"])
    assert info.variable_frame_rate
    native = decode(files["vfr"])
    assert len(native) == info.frames == 80  # every frame once, none duplicated to 30 fps
    at10 = decode(files["vfr"], fps=10)
    assert abs(len(at10) - info.duration * 10) <= 1  # 4 s of video -> 40 frames
    # each output frame is an input frame shown within half an output period of its time
    shown = np.array([n / 10 if n < 20 else 2 + (n - 20) / 30 for n in range(80)])  # seconds
    picked = [int(np.argmin(np.abs(native.astype(np.int16) - f).mean(axis=(1, 2, 3)))) for f in at10]
    assert all(np.array_equal(at10[j], native[n]) for j, n in enumerate(picked))
    assert np.all(np.abs(shown[picked] - np.arange(len(at10)) / 10) <= 0.05 + 1e-9)
    assert np.all(np.diff(picked)[20:] == 3)  # the 30 fps part keeps every third frame


def test_vfr_seen_in_packet_timestamps_when_the_rates_agree(files):
    stream = ffmpeg.probe(str(files["jittery"]))["streams"][0]
    assert stream["r_frame_rate"] == stream["avg_frame_rate"] == "25/1"  # the header looks constant
    info = probe(files["jittery"])
    assert info.variable_frame_rate and info.frames == 60 and info.fps == pytest.approx(25.0)
    assert len(decode(files["jittery"])) == 60
    assert not probe(files["good"]).variable_frame_rate  # a constant rate stays constant


def test_dropped_frame_entries_are_read_as_played(files):
    # the file really holds empty entries: 77 slots in the header, 20 packets with data
    counts = subprocess.run(
        ["ffprobe", "-v", "error", "-count_packets", "-show_entries", "stream=nb_frames,nb_read_packets",
         "-of", "csv=p=0", str(files["dropped"])], capture_output=True, text=True, check=True).stdout
    assert counts.strip() == "77,20"
    info = probe(files["dropped"])
    assert (info.frames, info.empty_slots, info.fps) == (77, 57, 25.0) and not info.variable_frame_rate
    frames = decode(files["dropped"])
    assert frames.shape == (77, 48, 64, 3)
    coded, _ = (ffmpeg.input(str(files["dropped"])).output("pipe:", format="rawvideo", pix_fmt="rgb24",
                                                           fps_mode="passthrough").run(quiet=True))
    coded = np.frombuffer(coded, np.uint8).reshape(20, 48, 64, 3)  # each coded frame once
    assert np.array_equal(frames, coded[np.arange(77) // 4])  # an empty slot repeats the frame before
    ref = media.reference_frames(width=64, height=48, frames=77)[::4].astype(np.float32)
    assert np.abs(coded - ref).mean(axis=(1, 2, 3)).max() < 3.0  # coded frame g is pattern frame 4g
    assert np.array_equal(decode(files["dropped"], start=9 / 25, max_frames=4), frames[9:13])


def test_odd_width_and_height(files):
    info = probe(files["odd"])
    assert (info.width, info.height) == (161, 121)
    frames = decode(files["odd"])
    assert frames.shape == (info.frames, 121, 161, 3)
    ref = media.reference_frames(width=161, height=121, frames=info.frames)
    assert np.abs(frames.astype(np.float32) - ref).mean() < 4.0


def test_rotation_flag_is_applied(files):
    info = probe(files["rotated"])
    assert (info.rotation, info.width, info.height) == (90, 48, 64)
    assert decode(files["rotated"]).shape[1:] == (64, 48, 3)


def test_one_frame_video_reads(files):
    assert probe(files["one"]).frames == 1
    assert decode(files["one"]).shape == (1, 48, 64, 3)


@pytest.mark.parametrize(
    "kind, reason",
    [
        ("zero_bytes", "empty file"),
        ("truncated", "moov atom not found"),
        ("faststart_truncated", "truncated: only"),
        ("text_file", "not a media file"),
        ("audio_only", "no video stream (audio only)"),
    ],
)
def test_bad_files_raise_with_reason(files, kind, reason):
    with pytest.raises(UnreadableVideo) as caught:
        probe(files[kind])
    assert reason in caught.value.reason
    assert caught.value.path == os.path.abspath(files[kind])
    with pytest.raises(UnreadableVideo):
        decode(files[kind])


def test_missing_file(tmp_path):
    with pytest.raises(UnreadableVideo, match="file not found"):
        probe(tmp_path / "nope.mp4")


def test_decode_failure_carries_ffmpeg_stderr(files):
    # the header of a good file with the bytes of a truncated one: only decoding can tell
    info = dataclasses.replace(probe(files["good"]), path=str(files["faststart_truncated"]))
    with pytest.raises(UnreadableVideo) as caught:
        decode(files["faststart_truncated"], info=info)
    assert "decoded only" in caught.value.reason  # ffmpeg conceals the damage and exits 0
    assert "partial file" in caught.value.reason  # its own words say why


def test_verbose_ffmpeg_does_not_deadlock(tmp_path):
    long = media.make_long(tmp_path / "long.mp4", frames=300)
    # the trace log of this decode is far bigger than a pipe buffer (64 KiB on Linux), so an
    # undrained stderr would block ffmpeg while we wait on stdout
    log = subprocess.run(["ffmpeg", "-v", "trace", "-i", str(long), "-f", "null", "-"],
                         capture_output=True).stderr
    assert len(log) > 2 * 65536
    result = {}
    worker = threading.Thread(target=lambda: result.update(frames=decode(long, loglevel="trace")),
                              daemon=True)
    worker.start()
    worker.join(timeout=60)
    assert not worker.is_alive(), "decode hung with a verbose ffmpeg"
    assert result["frames"].shape == (300, 48, 64, 3)


def test_stopping_early_reaps_ffmpeg(files, monkeypatch):
    started = []

    class Recording(subprocess.Popen):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            started.append(self)

    monkeypatch.setattr("pipeline.video_read.subprocess.Popen", Recording)
    frames = iter_frames(files["good"])
    assert next(frames).shape == (H, W, 3)
    (proc,) = [p for p in started if p.args[0] == "ffmpeg"]  # not the probe's ffprobe
    assert proc.returncode is None  # still decoding the rest
    frames.close()
    assert proc.returncode is not None  # killed and waited for, not left running or a zombie
    assert proc.stdout.closed and proc.stderr.closed

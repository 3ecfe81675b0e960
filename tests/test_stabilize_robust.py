"""Robust stabilization against ground truth: known shake, a moving foreground on a still camera,
warps that must be refused, and videos with shot cuts."""

from dataclasses import replace

import numpy as np
import pytest

from pipeline import stabilize, stabilize_stage
from pipeline.camera_motion import (
    CameraMotion,
    MotionConfig,
    estimate_camera,
    warp_problem,
)
from pipeline.shot_cuts import detect_cuts, shots
from pipeline.stabilize import StabilizeConfig, reference_residual, stabilize_clip
from pipeline.stabilize_robust import RobustConfig, stabilize_robust
from pipeline.synthetic.scenes import SceneConfig, render_scene

SHAKY = SceneConfig(
    width=160, height=120, frames=24, shake_translation=4.0, shake_rotation=1.5, shake_zoom=0.02, speed_range=(1.5, 2.5)
)


def _residual(warps, truth, shape, mask=None):
    """Median |residual motion| (px) of reference pixels after stabilization with ``warps``."""
    r = np.linalg.norm(reference_residual(warps, truth, shape), axis=-1)
    return float(np.median(r if mask is None else r[:, mask]))


@pytest.fixture(scope="module")
def scene():
    return render_scene(SHAKY, "diagonal", np.random.default_rng(3))


def test_known_shake_is_removed_to_a_tenth_of_a_pixel(scene):
    result = stabilize_robust(scene.frames, RobustConfig())
    shape = scene.frames.shape[1:3]
    background = scene.masks[0] == 0
    untouched = _residual(np.tile(np.eye(3), (len(scene.frames), 1, 1)), scene.homographies, shape, background)
    assert untouched > 1.5  # the clip really shakes
    assert result.cuts == [] and result.shot_paths == ["tripod"]
    assert not result.fallback.any(), result.details
    # KLT from the keyframe + MAGSAC++ on 160x120: measured 0.01-0.02 px.
    assert _residual(result.homographies, scene.homographies, shape, background) < 0.1
    assert result.frames.shape == scene.frames.shape and result.frames.dtype == np.uint8


def _still_camera_with_big_mover(n=24, size=(120, 160), side=90):
    """A still camera on a smooth background; a large, densely textured patch slides and turns
    in the middle. Keypoint counts favour the patch, the frame's extent the background."""
    import cv2

    rng = np.random.default_rng(1)
    height, width = size
    background = cv2.GaussianBlur(rng.integers(0, 256, (height, width, 3)).astype(np.uint8), (0, 0), 4.0)
    background = cv2.normalize(background, None, 60, 190, cv2.NORM_MINMAX)
    patch = rng.integers(0, 256, (side, side, 3)).astype(np.uint8)
    frames = []
    for t in range(n):
        frame = background.copy()
        m = cv2.getRotationMatrix2D((side / 2, side / 2), 1.5 * t, 1.0)
        m[:, 2] += (width / 2 - side / 2 + 1.5 * t, height / 2 - side / 2 + 0.5 * t)
        warped = cv2.warpAffine(patch, m, (width, height))
        inside = cv2.warpAffine(np.full((side, side), 255, np.uint8), m, (width, height)) > 0
        frame[inside] = warped[inside]
        frames.append(frame)
    return np.stack(frames)


def test_still_camera_stays_still_when_a_large_textured_object_moves(tmp_path):
    from pipeline.shards import open_shard, write_shard

    frames = _still_camera_with_big_mover()
    identity = np.tile(np.eye(3), (len(frames), 1, 1))
    result = stabilize_robust(frames, RobustConfig())
    # The camera does not move: the shot is recognised as still and left exactly as it was
    # (no warp, no interpolation blur), nothing recorded as a fallback.
    assert result.shot_paths == ["still"] and not result.fallback.any()
    np.testing.assert_array_equal(result.homographies, identity)
    np.testing.assert_array_equal(result.frames, frames)
    # The stage says so per frame, and summary.csv counts the frames left untouched.
    write_shard(tmp_path / "in.zarr", {"frames": frames[None], "video_index": np.array([0], np.int32),
                                       "start": np.array([0], np.int32)}, {"videos": ["v"]})
    stabilize_stage.stabilize_shard(tmp_path / "in.zarr", tmp_path / "out.zarr", RobustConfig())
    assert np.asarray(open_shard(tmp_path / "out.zarr")["still"][0]).all()
    summary = stabilize_stage.summarize_stabilized([tmp_path / "out.zarr"], tmp_path / "summary.csv")
    assert summary.loc[0, "still_frames"] == len(frames)
    # Without the shot-level test, the per-frame fits still hold the background (< 0.25 px).
    camera = estimate_camera(frames, replace(MotionConfig(), still_fraction=2.0))
    assert not camera.still
    assert _residual(camera.path, identity, frames.shape[1:3]) < 0.25
    # The paper's fit follows whatever has most keypoints: here it turns the frame with the patch.
    paper = stabilize_clip(frames, StabilizeConfig(warp_dropped=True))
    assert _residual(paper.homographies, identity, frames.shape[1:3]) > 2.0


def test_implausible_warp_is_refused_with_reason():
    shape = (120, 160)
    far = np.array([[1.0, 0, 0], [0, 1.0, 0], [-0.006281, 0, 1.0]])  # right corners ~112000 px away
    problem = warp_problem(far, shape)
    assert problem.startswith("corner (159, ") and "px >" in problem  # the farthest corner, named
    beyond = np.array([[1.0, 0, 0], [0, 1.0, 0], [-0.007, 0, 1.0]])  # the corner's denominator < 0
    assert "infinity" in warp_problem(beyond, shape)
    assert "area ratio" in warp_problem(np.array([[1.0, 0, 0], [0, 1.0, 0], [0.0062, 0, 1.0]]), shape)
    assert warp_problem(np.array([[-1.0, 0, 159], [0, 1, 0], [0, 0, 1]]), shape)  # mirrored: folds
    assert warp_problem(np.eye(3), shape) == ""
    assert warp_problem(np.array([[1.0, 0, 3.0], [0, 1.0, -2.0], [1e-5, 0, 1]]), shape) == ""


def test_robust_mode_never_publishes_an_implausible_warp(scene, monkeypatch):
    true = scene.homographies.copy()
    bad = true.copy()
    bad[7] = np.array([[1.0, 0, 0], [0, 1.0, 0], [-0.006281, 0, 1.0]])  # a corner ~112000 px away

    def estimate(frames, cfg):
        return CameraMotion(bad.copy(), [""] * len(frames), [""] * len(frames))

    monkeypatch.setattr("pipeline.stabilize_robust.estimate_camera", estimate)
    result = stabilize_robust(scene.frames, RobustConfig(path="tripod"))
    assert result.reasons[7] == "implausible_warp" and "frame 7" in result.details[7]
    assert warp_problem(result.homographies[7], scene.frames.shape[1:3]) == ""
    assert [t for t, r in enumerate(result.reasons) if r] == [7]
    np.testing.assert_allclose(result.homographies[8], true[8])  # the other frames keep their warps


def test_paper_mode_drops_a_clip_whose_warp_throws_a_corner_away(scene, monkeypatch):
    def refine(fits, features, shape, cfg):
        out = np.tile(np.eye(3), (len(features), 1, 1))
        out[5] = np.array([[1.0, 0, 0], [0, 1.0, 0], [-0.006281, 0, 1.0]])  # a corner ~112000 px away
        return out

    monkeypatch.setattr(stabilize, "_refine", refine)
    result = stabilize_clip(scene.frames[:8], StabilizeConfig())
    assert not result.ok and result.reason == "implausible_motion"
    assert "frame 5" in result.detail and result.frames is None


def _three_shots():
    """Shots of 14, 12 and 16 frames from scenes that differ (each shaking on its own)."""
    parts, truths = [], []
    for seed, (label, n) in enumerate([("updown", 14), ("leftright", 12), ("diagonal", 16)]):
        cfg = SceneConfig(width=160, height=120, frames=n, shake_translation=4.0, shake_rotation=1.5, shake_zoom=0.02)
        s = render_scene(cfg, label, np.random.default_rng(10 + seed))
        parts.append(s.frames)
        truths.append(s.homographies)
    return np.concatenate(parts), truths


def test_shot_cuts_are_found_and_each_shot_stabilized(tmp_path):
    from pipeline.shards import open_shard, write_shard

    video, truths = _three_shots()
    assert detect_cuts(video) == [14, 26]
    result = stabilize_robust(video, RobustConfig())
    assert result.cuts == [14, 26] and result.shot_paths == ["tripod"] * 3 and not result.fallback.any()
    for (start, stop), truth in zip(shots(len(video), result.cuts), truths):
        np.testing.assert_array_equal(result.homographies[start], np.eye(3))  # each shot holds its own first frame
        np.testing.assert_array_equal(result.frames[start], video[start])
        assert _residual(result.homographies[start:stop], truth, video.shape[1:3]) < 0.1
    # A single camera path across the cuts (what vidstab does) is far off in the later shots.
    across = stabilize_robust(video, RobustConfig(detect_cuts=False))
    assert across.cuts == [] and _residual(across.homographies[14:26], truths[1], video.shape[1:3]) > 1.0
    # The paper's procedure cannot continue across a cut: the same video fails its matching.
    assert not stabilize_clip(video, StabilizeConfig()).ok
    # The stage lists the cuts: shot_start marks them in the shard, summary.csv counts them.
    write_shard(tmp_path / "in.zarr", {"frames": video[None], "video_index": np.array([0], np.int32),
                                       "start": np.array([0], np.int32)}, {"videos": ["v"]})
    assert stabilize_stage.stabilize_shard(tmp_path / "in.zarr", tmp_path / "out.zarr", RobustConfig()) == (1, 0)
    group = open_shard(tmp_path / "out.zarr")
    assert np.flatnonzero(np.asarray(group["shot_start"][0])).tolist() == [14, 26]
    np.testing.assert_array_equal(np.asarray(group["frames"][0]), result.frames)
    summary = stabilize_stage.summarize_stabilized([tmp_path / "out.zarr"], tmp_path / "summary.csv")
    assert summary.loc[0, "shot_cuts"] == 2


def test_no_cuts_in_a_continuous_shaky_shot(scene):
    assert detect_cuts(scene.frames) == []


def test_robust_shard_keeps_every_clip_and_records_fallbacks(tmp_path, scene):
    from pipeline.shards import open_shard, write_shard

    clips = np.stack([scene.frames[:12], scene.frames[12:24]])
    clips[1, 6] = 128  # a blank frame: nothing to track
    write_shard(tmp_path / "in.zarr", {"frames": clips, "video_index": np.array([0, 0], np.int32),
                                       "start": np.array([0, 12], np.int32)}, {"videos": ["v"]})
    kept, dropped = stabilize_stage.stabilize_shard(tmp_path / "in.zarr", tmp_path / "out.zarr", RobustConfig())
    assert (kept, dropped) == (2, 0)
    group = open_shard(tmp_path / "out.zarr")
    assert group["frames"].shape == clips.shape
    names = list(group.attrs["fallback_reasons"])
    codes = np.asarray(group["fallback_reason"][:])
    starts = np.asarray(group["shot_start"][:])
    assert (codes[0] == -1).all() and not starts[0].any() and not np.asarray(group["still"][:]).any()
    # The blank frame is a cut into a one-frame shot and back (uniform grey breaks the colour
    # layout), or, when not detected as such, a frame whose tracks fail: either way recorded.
    assert starts[1, 6] or names[codes[1, 6]] in ("few_tracks", "no_model")
    summary = stabilize_stage.summarize_stabilized([tmp_path / "out.zarr"], tmp_path / "summary.csv")
    assert summary.loc[0, "kept"] == 2 and summary.loc[0, "dropped"] == 0


def _scored(pairs, shots):
    """A Scored video made directly from its consecutive-frame homographies (one shot)."""
    from pipeline.stabilization_metrics import Scored, stability_score

    row = {"stability": stability_score(pairs)[0], "shift px/frame": float(np.abs(pairs[:, 0, 2]).mean())}
    return Scored(row, pairs, np.abs(pairs[:, 0, 2]), np.full(len(pairs), np.nan), shots)


def test_stability_score_and_its_paired_interval():
    from pipeline.stabilization_metrics import (
        _block_indices,
        paired_difference,
        shot_pairs,
        stability_score,
    )

    rng = np.random.default_rng(0)
    n = 64

    def translations(positions):  # consecutive-frame homographies of a camera at these x positions
        out = np.tile(np.eye(3), (n - 1, 1, 1))
        out[:, 0, 2] = np.diff(positions)
        return out

    pan = translations(0.5 * np.arange(n) + 10)  # a steady pan: all energy at the lowest frequencies
    shake = translations(10 + rng.normal(0, 1.0, n))  # shaking about one place: a flat spectrum
    assert stability_score(pan)[1] > 0.85  # a ramp: 1/f^2 spectrum, measured 0.89
    assert stability_score(shake)[1] < 0.4
    shots = shot_pairs(n)
    assert shots == [(0, n - 1)] and shot_pairs(10, [4]) == [(0, 3), (4, 9)]  # pair 3 straddles the cut
    idx = _block_indices([(0, 3), (4, 9)], rng, 50, 4)
    assert idx.shape == (50, 9) and (idx[:, :3] < 3).all() and (idx[:, 4:] >= 4).all()  # resampled within shots
    a, b = _scored(pan, shots), _scored(shake, shots)
    assert paired_difference(a, a, "stability", rng) == (0.0, 0.0, 0.0)
    difference, low, high = paired_difference(b, a, "stability", rng)
    assert low <= difference <= high < 0  # the shaking camera is less stable beyond noise

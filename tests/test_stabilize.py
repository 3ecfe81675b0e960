"""Stabilization against synthetic scenes whose camera homographies are known."""

import numpy as np
import pytest

from pipeline.stabilize import (
    StabilizeConfig,
    corner_error,
    drop_counts,
    reference_residual,
    stabilize_clip,
    stabilize_video,
    warp_to_reference,
)
from pipeline.synthetic.scenes import SceneConfig, render_scene

SIZE = (72, 96)  # (H, W): small, the smoke scale of the tests
SHAKY = SceneConfig(
    width=96, height=72, frames=31, shake_translation=4.0, shake_rotation=1.5, shake_zoom=0.02, speed_range=(1.5, 2.5)
)


@pytest.fixture(scope="module")
def scenes():
    labels = ["updown", "diagonal"]
    return [render_scene(SHAKY, label, np.random.default_rng(seed)) for seed, label in enumerate(labels)]


def _background_residual(homographies, scene):
    """|residual motion| (T, n_bg) of the reference's background pixels in the stabilized clip."""
    residual = np.linalg.norm(reference_residual(homographies, scene.homographies, SIZE), axis=-1)
    return residual[:, scene.masks[0] == 0]


def test_sift_stabilization_removes_camera_motion(scenes):
    for scene in scenes:
        result = stabilize_clip(scene.frames, StabilizeConfig())
        assert result.ok, result.detail
        assert result.frames.shape == scene.frames.shape and result.frames.dtype == np.uint8
        np.testing.assert_array_equal(result.frames[0], scene.frames[0])  # the reference is untouched
        np.testing.assert_allclose(result.homographies[0], np.eye(3))
        raw = np.median(_background_residual(np.broadcast_to(np.eye(3), (31, 3, 3)), scene))
        # The clip really shakes (median background motion of several px w.r.t. frame 0)...
        assert raw > 1.5
        # ...and is still after stabilization: SIFT localises to ~0.1-0.3 px, and the direct
        # re-fit to the reference keeps the 30-frame chain from drifting; measured 0.03-0.05.
        assert np.median(_background_residual(result.homographies, scene)) < 0.3
        # Recovered homographies match the truth: the image corners (the worst place, an
        # extrapolation of the keypoints' support) within 1.5 px; measured <= 0.9 px.
        assert corner_error(result.homographies, scene.homographies, SIZE).max() < 1.5
        # The diagnostics are kept for every frame.
        assert result.reprojection_error.shape == (31,) and np.all(result.reprojection_error[1:] < 1.0)
        assert np.all(result.inlier_ratio[1:] >= 0.25) and np.all(result.n_inliers[1:] >= 10)


def test_orb_and_similarity_also_stabilize(scenes):
    scene = scenes[0]
    raw = np.median(_background_residual(np.broadcast_to(np.eye(3), (31, 3, 3)), scene))
    orb = stabilize_clip(scene.frames, StabilizeConfig(detector="orb"))
    # ORB: binary descriptors, pyramid-quantised keypoints, fewer points on a 96x72 frame;
    # measured 0.38-0.58 px, bound 1 px (still a small fraction of the raw motion).
    assert orb.ok, orb.detail
    assert np.median(_background_residual(orb.homographies, scene)) < 1.0
    similarity = stabilize_clip(scene.frames, StabilizeConfig(motion_model="similarity"))
    # The scene's camera tilts (perspective), which a similarity cannot model: only require
    # it to remove most of the motion.
    assert similarity.ok, similarity.detail
    assert np.median(_background_residual(similarity.homographies, scene)) < 0.25 * raw


def test_warp_convention_with_true_homographies(scenes):
    """Warping with the true H[t] (reference -> frame t) must reproduce frame 0 on the background."""
    scene = scenes[1]
    warped, fill = warp_to_reference(scene.frames, scene.homographies)
    assert fill[0] == 0 and fill.max() > 0  # the shake uncovers borders that need filling
    static = np.all(scene.masks == 0, axis=0)  # never covered by the actor
    static[:8], static[-8:], static[:, :8], static[:, -8:] = False, False, False, False
    before = np.abs(scene.frames[1:].astype(float) - scene.frames[0])[:, static].mean()
    after = np.abs(warped[1:].astype(float) - warped[0])[:, static].mean()
    # Bilinear resampling of an anti-aliased render leaves a few grey levels; the unstabilized
    # difference is tens of grey levels. A wrong direction (H instead of H^-1) doubles the motion.
    assert after < 4.0 and before > 5 * after


def test_outside_pixels_filled_from_previous_frame():
    rng = np.random.default_rng(0)
    frame0 = rng.integers(0, 256, (40, 50, 3), dtype=np.uint8)
    frame1 = np.zeros_like(frame0)
    frame1[:, 5:] = frame0[:, :-5]  # camera moved: reference pixel x is at x + 5 in frame 1
    shift = np.array([[1.0, 0, 5], [0, 1, 0], [0, 0, 1]])
    warped, fill = warp_to_reference(np.stack([frame0, frame1]), np.stack([np.eye(3), shift]))
    np.testing.assert_array_equal(warped[1][:, :45], frame0[:, :45])  # content realigned
    np.testing.assert_array_equal(warped[1][:, 45:], frame0[:, 45:])  # uncovered strip: previous frame
    assert fill[1] == pytest.approx(5 / 50)


def test_failing_segments_are_dropped_with_reason():
    cfg = SceneConfig(width=96, height=72, frames=48, shake_translation=4.0, shake_rotation=1.5)
    video = render_scene(cfg, "updown", np.random.default_rng(5)).frames.copy()
    video[20] = 128  # blank frame: no keypoints
    video[37] = np.random.default_rng(0).integers(0, 256, video[37].shape, dtype=np.uint8)  # noise frame
    results = stabilize_video(video, StabilizeConfig(), segment_len=16)
    assert [r.start for r in results] == [0, 16, 32]
    assert results[0].ok and results[0].frames.shape == (16, 72, 96, 3)
    assert not results[1].ok and results[1].reason == "few_matches" and "19->20" in results[1].detail
    assert not results[2].ok and results[2].reason in ("few_matches", "few_inliers", "low_inlier_ratio", "no_model")
    assert results[1].frames is None and results[2].frames is None
    counts = drop_counts(results)
    assert counts["kept"] == 1 and sum(counts.values()) == 3


def test_bad_input_is_rejected():
    with pytest.raises(ValueError, match="uint8"):
        stabilize_clip(np.zeros((4, 10, 10, 3), np.float32), StabilizeConfig())
    with pytest.raises(ValueError, match="detector"):
        StabilizeConfig(detector="surf")


def test_stabilization_figure(scenes, tmp_path):
    from pipeline.plots import stabilization_figure

    scene = scenes[0]
    warped, _ = warp_to_reference(scene.frames, scene.homographies)
    path = stabilization_figure(tmp_path / "stabilization.png", scene.frames, warped)
    assert path.stat().st_size > 5000
    with pytest.raises(ValueError, match="differ"):
        stabilization_figure(tmp_path / "bad.png", scene.frames, warped[:5])

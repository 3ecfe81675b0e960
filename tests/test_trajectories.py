"""Dense trajectories against tracks integrated from the synthetic scenes' true flow."""

import media
import numpy as np
import pytest

from pipeline.synthetic.scenes import SceneConfig, render_scene
from pipeline.trajectories import (
    WALKER_SIZES,
    TrajectoryConfig,
    compute_trajectories,
    dct_decode,
    dct_encode,
    downsample,
    pyramid_scales,
    track_flow,
    track_true_flow,
)

SHAKY = SceneConfig(
    width=96, height=72, frames=31, shake_translation=3.0, shake_rotation=1.0, speed_range=(1.5, 2.5)
)


def true_tracks(scene):
    """Ground truth: the true flow integrated, visible while inside and not occluded."""
    return track_true_flow(scene.flow, scene.occlusion)


@pytest.fixture(scope="module")
def scenes():
    labels = ["leftright", "diagonal"]
    return [render_scene(SHAKY, label, np.random.default_rng(seed)) for seed, label in enumerate(labels)]


@pytest.mark.parametrize(
    "n_scales, bounds",
    # Median end-point error (px) at frames 10, 20, 30 on tracks visible that long. Measured
    # with DeepFlow on 96x72: one level 0.14-0.22 / 0.18-0.34 / 0.17-0.37; two levels (the
    # coarse level's flow is less accurate at this tiny size, and its errors scale by sqrt 2)
    # 0.20-0.33 / 0.22-0.44 / 0.21-0.44. Bounds leave room for drift, which grows with t,
    # while the tracks themselves move 5-40 px (camera shake plus the actor).
    [(1, (0.4, 0.6, 0.8)), (2, (0.6, 0.8, 1.0))],
)
def test_trajectory_error_against_true_tracks(scenes, n_scales, bounds):
    for scene in scenes:
        truth, visible = true_tracks(scene)
        result = compute_trajectories(scene.frames, TrajectoryConfig(n_scales=n_scales))
        assert result.offsets.shape == (72, 96, 30, 2) and result.reliable.shape == (72, 96, 30)
        assert len(result.scales) == n_scales
        error = np.linalg.norm(result.offsets - truth, axis=-1)  # (H, W, 30)
        for t, bound in zip((10, 20, 30), bounds):
            seen = visible[..., t - 1]
            median = np.median(error[..., t - 1][seen])
            assert median < bound
            # Not vacuous: standing still is off by the true displacement (median 1.4-6.3 px).
            assert median < 0.5 * np.median(np.linalg.norm(truth[..., t - 1, :], axis=-1)[seen])


def test_actor_tracks_follow_the_actor():
    """The moving actor, the part walker cares about, tracked over tens of pixels.

    At 160x120 (at 96x72 the ~25 px actor is too small for DeepFlow's smoothness term, which
    pulls its flow towards the background: 0.25-0.5 px/frame of lag). Measured median error
    on actor tracks 0.41 px at frame 10 and 0.96 px at frame 20, for 28 and 47 px of motion.
    Bounds: 5% of the actor's displacement.
    """
    cfg = SceneConfig(width=160, height=120, frames=21, shake_translation=3.0, shake_rotation=1.0,
                      speed_range=(1.5, 2.5))
    scene = render_scene(cfg, "leftright", np.random.default_rng(0))
    truth, visible = true_tracks(scene)
    result = compute_trajectories(scene.frames, TrajectoryConfig(n_scales=1))
    actor = scene.masks[0] > 0
    for t in (10, 20):
        seen = visible[..., t - 1] & actor
        moved = np.median(np.linalg.norm(truth[..., t - 1, :], axis=-1)[seen])
        error = np.median(np.linalg.norm(result.offsets[..., t - 1, :] - truth[..., t - 1, :], axis=-1)[seen])
        assert seen.sum() > 500 and moved > 25 and error < 0.05 * moved


@pytest.mark.parametrize("still_test", [False, True])
def test_motion_stays_on_the_walker_of_a_static_camera(still_test):
    """A textured walker crossing a flat, still road: the flow fills the whole road in with the
    walker's motion (every road pixel's track goes > 2 px without the still test); with it the
    road keeps still and the walker keeps its 2 px/frame (60 px over the second)."""
    frames, masks = media.street_scene(frames=31, step=(2, 0))
    tracks = compute_trajectories(frames, TrajectoryConfig(flow_method="dis", n_scales=3, still_test=still_test))
    length = np.linalg.norm(tracks.offsets, axis=-1).max(axis=-1)  # (H, W) px
    road = media.far_from(masks, radius=5)
    if not still_test:
        assert (length[road] > 2).mean() > 0.5  # the defect, with this estimator
        return
    assert (length[road] > 2).mean() < 0.01 and np.abs(tracks.offsets[road]).max() == 0
    walker = masks[0]
    assert (length[walker] > 2).mean() > 0.95
    np.testing.assert_allclose(np.median(tracks.offsets[walker][:, -1], axis=0), [60, 0], atol=3)


def test_forward_backward_check_flags_occluded_tracks():
    """Static camera, moving actor: background the actor walks over must be flagged."""
    cfg = SceneConfig(width=96, height=72, frames=31, camera_motion_prob=0.0, speed_range=(1.5, 2.5))
    for seed, label in ((0, "leftright"), (1, "updown")):
        scene = render_scene(cfg, label, np.random.default_rng(seed))
        background = scene.masks[0] == 0
        covered = background & (scene.masks[1:] > 0).any(axis=0)  # hidden by the actor at some frame
        free = background & ~covered
        result = compute_trajectories(scene.frames, TrajectoryConfig(n_scales=1))
        final = result.reliable[..., -1]
        # Measured: 100% of covered tracks flagged (the motion-boundary test catches tracks a
        # smooth flow drags along with the occluder, which forward-backward alone misses:
        # 4-100% flagged without it); 86-97% of never-covered background kept (pixels next
        # to the actor's path sit on its motion boundary).
        assert covered.sum() > 200
        assert (~final[covered]).mean() > 0.9
        assert final[free].mean() > 0.75


def test_tracks_leaving_the_frame_are_unreliable():
    steps, height, width = 30, 20, 50
    flow = np.zeros((steps, height, width, 2), np.float32)
    flow[..., 0] = 1.0  # everything moves 1 px right per frame
    offsets, reliable = track_flow(flow, np.negative(flow))
    np.testing.assert_allclose(offsets[..., -1, 0], 30.0)
    xs = np.arange(width)
    expected = np.broadcast_to(xs + 30 <= width - 1, (height, width))
    np.testing.assert_array_equal(reliable[..., -1], expected)
    # Inconsistent backward flow (the content did not come back): flagged everywhere.
    _, inconsistent = track_flow(flow, np.zeros_like(flow))
    assert not inconsistent[..., 0].any()


def test_dct_round_trip(scenes):
    truth, _ = true_tracks(scenes[0])  # (H, W, 30, 2), camera shake included: not smooth
    exact = dct_decode(dct_encode(truth, k=30), n_steps=30)
    np.testing.assert_allclose(exact, truth, atol=1e-4)  # orthonormal transform, all coefficients
    # Smooth tracks: a stabilized clip (here a still camera) whose actor moves at constant speed.
    still = SceneConfig(width=96, height=72, frames=31, camera_motion_prob=0.0, speed_range=(0.8, 1.0))
    smooth, visible = true_tracks(render_scene(still, "diagonal", np.random.default_rng(3)))
    moving = visible[..., -1] & (np.linalg.norm(smooth[..., -1, :], axis=-1) > 10)
    coefficients = dct_encode(smooth, k=5)
    assert coefficients.shape == (72, 96, 10) and coefficients.dtype == np.float32
    approx = dct_decode(coefficients, n_steps=30)
    rms = np.sqrt(np.mean((approx - smooth)[moving] ** 2))
    scale = np.sqrt(np.mean(smooth[moving] ** 2))
    # A linear ramp keeps 97.7% of its RMS in 5 of 30 DCT coefficients (error 2.3%, mostly
    # at the two ends); bound 5%. (The shaky clip's tracks lose ~25%: shake is not smooth,
    # which is why walker stabilizes first.)
    assert moving.sum() > 100 and rms < 0.05 * scale
    # Layout: x coefficients first. A purely horizontal track has zero y coefficients.
    horizontal = np.zeros((30, 2), np.float32)
    horizontal[:, 0] = np.linspace(1.0, 30.0, 30)
    code = dct_encode(horizontal, k=5)
    assert np.abs(code[:5]).max() > 1.0 and np.all(code[5:] == 0)
    # Orthonormal: energy is preserved when all coefficients are kept.
    np.testing.assert_allclose(np.sum(dct_encode(horizontal, k=30) ** 2), np.sum(horizontal**2), rtol=1e-5)


def test_pyramid_follows_improved_trajectories():
    cfg = TrajectoryConfig()  # 8 levels at most, factor sqrt 2, short side >= 32 px
    assert len(pyramid_scales(240, 320, cfg)) == 6  # 240, 170, 120, 85, 60, 42
    assert len(pyramid_scales(72, 96, cfg)) == 3  # 72, 51, 36
    assert pyramid_scales(20, 20, cfg) == (1.0,)


def test_downsample_to_walker_grids():
    rng = np.random.default_rng(0)
    field = rng.normal(size=(240, 320, 10)).astype(np.float32)
    field[:] = field.mean(axis=(0, 1))  # constant field: area averaging must not change values
    for size in WALKER_SIZES:
        small = downsample(field, size)
        assert small.shape == (*size, 10)
        np.testing.assert_allclose(small, field[: size[0], : size[1]], rtol=1e-5)
    # Area averaging: a 4x4 block of a 16x16 ramp becomes its mean.
    ramp = np.arange(256, dtype=np.float32).reshape(16, 16, 1)
    np.testing.assert_allclose(downsample(ramp, (4, 4))[0, 0, 0], ramp[:4, :4].mean())


def test_trajectory_figure_colours_by_direction(scenes, tmp_path):
    from pipeline.plots import colour_wheel, trajectories_figure, trajectory_segments

    offsets = np.zeros((16, 16, 4, 2), np.float32)
    offsets[..., 0] = np.arange(1, 5)  # every track goes right, 1 px per frame
    segments, colours = trajectory_segments(offsets, step=8)
    assert segments.shape == (4 * 4, 2, 2)  # 2x2 grid of tracks, 4 segments each
    np.testing.assert_allclose(segments[0], [[4, 4], [5, 4]])
    np.testing.assert_allclose(colours, np.broadcast_to(colour_wheel(101)[50, 100] / 255.0, colours.shape))
    truth, visible = true_tracks(scenes[0])
    path = trajectories_figure(tmp_path / "tracks.png", scenes[0].frames[0], {"truth": truth}, visible, step=6)
    assert path.stat().st_size > 5000

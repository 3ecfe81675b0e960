"""Optical flow against the synthetic scenes' true flow; flow resizing; the staticflow target."""

import media
import numpy as np
import pytest

from pipeline.flow import (
    compute_clip_flow,
    compute_flow,
    endpoint_error,
    resize_flow,
    staticflow_target,
    still_pixels,
)
from pipeline.synthetic.scenes import SceneConfig, render_scene

# A shaky camera and a fast actor: 2-6 px per frame, the regime of 320x240 footage at 30 fps.
MOVING = SceneConfig(
    width=96, height=72, frames=6, shake_translation=5.0, shake_rotation=1.5, shake_zoom=0.02,
    shake_smoothness=1.5, speed_range=(2.0, 3.0),
)


@pytest.fixture(scope="module")
def scenes():
    return [render_scene(MOVING, "leftright", np.random.default_rng(seed)) for seed in (0, 2, 4)]


@pytest.mark.parametrize(
    "method, bound",
    # Measured mean EPE on visible pixels: DeepFlow 0.07-0.10 px, DIS (medium) 0.16-0.18 px.
    # Bounds about twice that: a regression (wrong colour order, swapped frames, a preset that
    # stops refining) moves them by far more.
    [("deepflow", 0.2), ("dis", 0.35)],
)
def test_flow_endpoint_error(scenes, method, bound):
    for scene in scenes:
        visible = ~scene.occlusion  # (T-1, H, W): the true flow's target is visible
        flow = compute_clip_flow(scene.frames, method)
        assert flow.shape == scene.flow.shape and flow.dtype == np.float32
        epe = endpoint_error(flow, scene.flow, visible)
        zero = endpoint_error(np.zeros_like(flow), scene.flow, visible)  # 1.7-3.2 px here
        assert epe < bound
        if method == "deepflow":
            assert epe < 0.1 * zero  # far below a predictor of no motion


def test_backward_flow_is_reverse_pair(scenes):
    frames = scenes[0].frames[:3]
    backward = compute_clip_flow(frames, "dis", backward=True)
    np.testing.assert_array_equal(backward[1], compute_flow(frames[2], frames[1], "dis"))


def test_resize_flow_scales_vectors():
    flow = np.zeros((200, 200, 2), np.float32)
    flow[..., 0], flow[..., 1] = 10.0, -5.0
    small = resize_flow(flow, (20, 20))
    assert small.shape == (20, 20, 2)
    # Vectors in pixels of the new grid: 10 px at 200x200 is 1 px at 20x20.
    np.testing.assert_allclose(small[..., 0], 1.0, rtol=1e-6)
    np.testing.assert_allclose(small[..., 1], -0.5, rtol=1e-6)
    np.testing.assert_allclose(resize_flow(flow, (20, 20), scale_vectors=False)[..., 0], 10.0, rtol=1e-6)
    # Non-square: each axis by its own factor.
    wide = resize_flow(np.broadcast_to(np.float32([8.0, 8.0]), (100, 200, 2)), (10, 40))
    np.testing.assert_allclose(wide[0, 0], [8.0 * 40 / 200, 8.0 * 10 / 100], rtol=1e-6)


def test_resize_flow_preserves_geometry_of_a_zoom():
    """A zoom about c (flow = k (x - c)) must stay the same zoom about c's coarse position."""
    k, c = 0.05, 87.0
    xs = np.arange(200, dtype=np.float32)
    flow = np.zeros((200, 200, 2), np.float32)
    flow[..., 0] = k * (xs[None, :] - c)
    flow[..., 1] = k * (xs[:, None] - c)
    small = resize_flow(flow, (20, 20))
    c_small = (c + 0.5) / 10 - 0.5  # pixel-centre convention of cv2.resize
    coarse = np.arange(20, dtype=np.float32)
    np.testing.assert_allclose(small[0, :, 0], k * (coarse - c_small), atol=1e-5)
    np.testing.assert_allclose(small[:, 0, 1], k * (coarse - c_small), atol=1e-5)


def test_staticflow_target_averages_next_three_frames():
    """Camera translating by d px per frame: flow(0->k) = k d, so the target is 2 d (or d per frame).

    At the paper's 200x200. OpenCV's DeepFlow has no DeepMatching term, so it relies on its
    pyramid for large motions: measured exact to 0.01 px up to ~11 px here, but it breaks
    down past ~15 px at 200x200 (past ~5 px at 80x80); d keeps flow(0->3) at 10.8 px.
    """
    canvas = render_scene(
        SceneConfig(width=240, height=240, frames=2, n_actors=0, camera_motion_prob=0.0),
        "updown",
        np.random.default_rng(1),
    ).frames[0]
    d = np.array([3, 2])  # content moves right 3 px and down 2 px per frame
    frames = np.stack([canvas[20 - k * d[1] : 220 - k * d[1], 20 - k * d[0] : 220 - k * d[0]] for k in range(4)])
    inner = (slice(12, -12), slice(12, -12))  # away from the border where content enters
    target = staticflow_target(frames)
    assert target.shape == (200, 200, 2) and target.dtype == np.float32
    # Mean of 3, 6, 9 px and of 2, 4, 6 px; measured within 0.01 px in the interior.
    np.testing.assert_allclose(np.median(target[inner].reshape(-1, 2), axis=0), 2 * d, atol=0.1)
    per_frame = staticflow_target(frames, per_frame=True)
    np.testing.assert_allclose(np.median(per_frame[inner].reshape(-1, 2), axis=0), d, atol=0.1)
    with pytest.raises(ValueError, match="4 frames"):
        staticflow_target(frames[:3])


@pytest.mark.parametrize("method", ["dis", "deepflow"])
def test_staticflow_target_keeps_the_still_road_still(method):
    """The walker's 2 px/frame (4 px target) stays on the walker; without the still test the
    estimators spread it over the flat road (DIS: all of it, DeepFlow: about a quarter)."""
    frames, masks = media.street_scene(frames=4, step=(2, 0))
    road, walker = media.far_from(masks, radius=5), masks[0]
    spread = np.linalg.norm(staticflow_target(frames, method, still_test=False), axis=-1)
    assert (spread[road] > 1).mean() > 0.15
    target = staticflow_target(frames, method)
    assert (np.linalg.norm(target, axis=-1)[road] > 1).mean() < 0.01
    np.testing.assert_allclose(np.median(target[walker], axis=0), [4, 0], atol=1.2)
    assert still_pixels(frames[0], frames[1:], np.zeros((3, *frames.shape[1:3], 2), np.float32))[road].all()


def test_bad_method_is_rejected(scenes):
    with pytest.raises(ValueError, match="flow.method"):
        compute_flow(scenes[0].frames[0], scenes[0].frames[1], method="farneback")


def test_flow_colour_coding_and_figure(scenes, tmp_path):
    from pipeline.plots import colour_wheel, flow_figure, flow_to_rgb

    # Middlebury coding: no motion is white; opposite directions get different hues; the
    # legend is the same coding, so a flow's colour appears on the wheel at its direction.
    field = np.zeros((3, 3, 2), np.float32)
    field[0, 0] = (1.0, 0.0)
    field[0, 1] = (-1.0, 0.0)
    rgb = flow_to_rgb(field, max_magnitude=1.0)
    np.testing.assert_array_equal(rgb[2, 2], [255, 255, 255])
    assert np.abs(rgb[0, 0].astype(int) - rgb[0, 1]).sum() > 200
    wheel = colour_wheel(101)
    np.testing.assert_array_equal(wheel[50, 100], rgb[0, 0])  # rim, right = +x
    scene = scenes[0]
    path = flow_figure(tmp_path / "flow.png", scene.frames[0], {"truth": scene.flow[0], "deepflow": scene.flow[0]})
    assert path.stat().st_size > 5000


def test_auto_flow_is_deepflow_at_the_paper_preset_only():
    from pipeline.flow import configured_method

    assert configured_method("auto", "paper") == "deepflow"  # walker and staticflow used DeepFlow
    assert configured_method("auto", "demo") == configured_method("auto", "smoke") == "dis"
    assert configured_method("dis", "paper") == "dis"  # an explicit choice stands
    with pytest.raises(ValueError, match="farneback"):
        configured_method("farneback", "demo")

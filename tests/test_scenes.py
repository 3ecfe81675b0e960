"""The synthetic scenes' ground truth is the truth: flow, homographies, ambiguity, written layout."""

import dataclasses
import json
import re

import cv2
import numpy as np
import pytest

from pipeline.manifest import list_videos
from pipeline.synthetic.scenes import SceneConfig, render_scene, sample_directions
from pipeline.synthetic.standin import (
    StandinConfig,
    rendered_videos_record,
    write_standin_dataset,
)
from pipeline.video_probe import probe
from pipeline.video_read import decode
from pipeline.video_write import encoder_build

CFG = SceneConfig(width=96, height=72, frames=10, fps=30.0, classes=("updown", "leftright", "wave"))


def _warp_back(next_frame: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """Frame t reconstructed from frame t+1: sample t+1 at x + flow(x)."""
    h, w = flow.shape[:2]
    grid_x, grid_y = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    return cv2.remap(next_frame.astype(np.float32), grid_x + flow[..., 0], grid_y + flow[..., 1],
                     cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def _valid(scene, t: int, border: int = 3) -> np.ndarray:
    """Pixels whose flow target is visible in t+1 and lands well inside the frame."""
    h, w = scene.flow.shape[1:3]
    gx, gy = np.meshgrid(np.arange(w), np.arange(h))
    tx, ty = gx + scene.flow[t, ..., 0], gy + scene.flow[t, ..., 1]
    inside = (tx > border) & (tx < w - 1 - border) & (ty > border) & (ty < h - 1 - border)
    return inside & ~scene.occlusion[t]


@pytest.fixture(scope="module")
def scene():
    return render_scene(CFG, "updown", np.random.default_rng(7))


def test_flow_warps_frame_t_onto_frame_t_plus_1(scene):
    # Bound: bilinear resampling of an anti-aliased texture with real sub-pixel motion loses some
    # high-frequency contrast; 4 grey levels mean absolute error on visible pixels is well above
    # that and far below what a 1-pixel flow error gives (checked below).
    errors, shifted = [], []
    for t in range(CFG.frames - 1):
        valid = _valid(scene, t)
        assert valid.mean() > 0.6
        back = _warp_back(scene.frames[t + 1], scene.flow[t])
        errors.append(np.abs(back - scene.frames[t].astype(np.float32))[valid].mean())
        wrong = _warp_back(scene.frames[t + 1], scene.flow[t] + np.float32([1.0, 0.0]))
        shifted.append(np.abs(wrong - scene.frames[t].astype(np.float32))[valid].mean())
    assert max(errors) < 4.0, errors
    assert min(shifted) > 2.5 * max(errors), (errors, shifted)  # the test can fail


def _background_error(scene, t: int, homography: np.ndarray) -> float:
    """Mean abs error of frame 0 warped by ``homography`` against frame t, on background it saw."""
    h, w = CFG.height, CFG.width
    warped = cv2.warpPerspective(scene.frames[0].astype(np.float32), homography, (w, h),
                                 flags=cv2.INTER_LINEAR, borderValue=-1)
    seen = (warped[..., 0] >= 0) & (scene.masks[t] == 0)
    seen &= cv2.erode((scene.masks[t] == 0).astype(np.uint8), np.ones((7, 7), np.uint8)) > 0
    return float(np.abs(warped - scene.frames[t])[seen].mean())


def test_homographies_explain_the_background(scene):
    # Warping frame 0 by H[t] must give frame t on background pixels (mask 0) that frame 0 saw.
    # Bound: one bilinear warp of a rich texture over up to 9 frames of shake costs 3-5 grey levels
    # on average (median ~1.5); a homography off by one pixel costs about 15, no homography more.
    one_pixel = np.array([[1.0, 0.0, 1.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    for t in (3, CFG.frames - 1):
        error = _background_error(scene, t, scene.homographies[t])
        assert error < 6.0, error
        assert _background_error(scene, t, one_pixel @ scene.homographies[t]) > 2.5 * error
        assert _background_error(scene, t, np.eye(3)) > 2.5 * error  # the camera really moved
    # and the background flow is the homography's motion
    h, w, t = CFG.height, CFG.width, 2
    background = (scene.masks[t] == 0) & ~scene.occlusion[t]
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float64), np.arange(h, dtype=np.float64))
    points = np.stack([gx, gy, np.ones_like(gx)], -1) @ (scene.homographies[t + 1] @ np.linalg.inv(scene.homographies[t])).T
    expected = points[..., :2] / points[..., 2:] - np.stack([gx, gy], -1)
    assert np.abs(expected - scene.flow[t])[background].max() < 1e-3


def test_first_frame_does_not_tell_the_direction():
    rng = np.random.default_rng(0)
    up = render_scene(CFG, "updown", np.random.default_rng(3), directions=np.array([[0.0, -1.0]]))
    down = render_scene(CFG, "updown", np.random.default_rng(3), directions=np.array([[0.0, 1.0]]))
    np.testing.assert_array_equal(up.frames[0], down.frames[0])  # same look, same start
    assert np.abs(up.positions[-1, 0, 1] - down.positions[-1, 0, 1]) > 5  # different futures
    draws = np.concatenate([sample_directions("updown", 1, rng)[0] for _ in range(2000)])
    assert abs((draws[:, 1] < 0).mean() - 0.5) < 0.05  # fixed probabilities: up or down, 50/50
    assert np.allclose(np.abs(draws[:, 1]), 1.0)
    diagonal = np.concatenate([sample_directions("diagonal", 1, rng)[1] for _ in range(2000)])
    assert np.abs(np.bincount(diagonal, minlength=4) / 2000 - [0.4, 0.4, 0.1, 0.1]).max() < 0.04


LEAN_MEANS = {  # certain axis 0.8; the gamble axis 0.6 x (0.75 - 0.25) = 0.3 the likelier way
    "climb": [0.3, -0.8], "dive": [-0.3, 0.8], "push": [0.8, 0.3], "pull": [-0.8, -0.3],
}


def test_only_walk_and_the_lean_classes_have_a_mean_direction_a_single_guess_can_use():
    """Symmetric classes average to no motion; "walk" goes the way its arrow points 85% of the time;
    a lean class always moves on both axes, one of them certain and the other a 3:1 gamble."""
    from pipeline.synthetic.scenes import ACTION_CLASSES

    rng = np.random.default_rng(1)
    draws = {label: sample_directions(label, 20_000, rng)[0] for label in ACTION_CLASSES}
    means = {label: d.mean(axis=0) for label, d in draws.items()}
    for label, mean in means.items():
        if label == "walk":
            assert np.allclose(mean, [0.7, 0.0], atol=0.03)
        elif label in LEAN_MEANS:
            assert np.allclose(mean, LEAN_MEANS[label], atol=0.02), (label, mean)
            assert (np.abs(draws[label]) > 0.5).all()  # both axes move in every scene
        else:
            assert np.abs(mean).max() < 0.03, (label, mean)
    cfg = SceneConfig(width=64, height=48, frames=4, classes=("walk",), camera_motion_prob=0.0)
    scene = render_scene(cfg, "walk", np.random.default_rng(0))
    body = scene.masks[0] > 0
    assert body.any() and (scene.flow[0][body][:, 0] != 0).all()  # the arrow's actor moves along x
    big = SceneConfig(width=64, height=48, frames=4, classes=("climb",), camera_motion_prob=0.0)
    heights = [np.ptp(np.flatnonzero(render_scene(big, "climb", np.random.default_rng(k)).masks[0].any(axis=1)))
               for k in range(4)]
    assert min(heights) >= 0.3 * 1.4 * 48 - 3  # lean actors are 1.4 times the usual size


def test_lean_actors_wear_their_class_colour_whatever_way_they_go():
    """The class is visible in one frame (the body's colour), the gamble axis is not."""
    from pipeline.synthetic.scenes import ACTION_CLASSES

    cfg = SceneConfig(width=64, height=48, frames=3, classes=("climb", "dive", "push", "pull"),
                      camera_motion_prob=0.0)
    for label in cfg.classes:
        uniform = np.array(ACTION_CLASSES[label].colour)
        for seed in range(3):
            scene = render_scene(cfg, label, np.random.default_rng(seed))
            core = cv2.erode((scene.masks[0] > 0).astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
            body = np.median(scene.frames[0][core].astype(float), axis=0)
            assert np.abs(body - uniform).max() < 45, (label, seed, body)
    (right, left) = ACTION_CLASSES["climb"].directions
    one = render_scene(cfg, "climb", np.random.default_rng(5), directions=np.array([right]))
    other = render_scene(cfg, "climb", np.random.default_rng(5), directions=np.array([left]))
    np.testing.assert_array_equal(one.frames[0], other.frames[0])


def test_first_frames_across_seeds_do_not_separate_by_direction():
    # Over independent scenes, actors that will go up and actors that will go down start at the
    # same places with the same look (a start drawn from the direction would show here); their
    # last positions do separate, which shows the statistic can tell groups apart.
    cfg = SceneConfig(width=32, height=24, frames=6, classes=("updown",), speed_range=(2.0, 2.5))
    first, last, brightness, going_up = [], [], [], []
    for seed in range(60):
        scene = render_scene(cfg, "updown", np.random.default_rng(seed))
        first.append(scene.positions[0, 0, 1])
        last.append(scene.positions[-1, 0, 1])
        brightness.append(scene.frames[0][scene.masks[0] == 1].mean())
        going_up.append(scene.directions[0, 1] < 0)
    up = np.array(going_up)
    assert 15 < up.sum() < 45  # both directions drawn

    def separation(values):  # difference of group means in units of its standard error
        v = np.asarray(values, dtype=np.float64)
        a, b = v[up], v[~up]
        return abs(a.mean() - b.mean()) / np.sqrt(a.var(ddof=1) / len(a) + b.var(ddof=1) / len(b))

    assert separation(first) < 3.0 and separation(brightness) < 3.0
    assert separation(last) > 3.0


def test_standin_dataset_layout_reads_like_a_real_dataset(tmp_path):
    cfg = StandinConfig(scene=CFG, train_videos_per_class=2, test_videos_per_class=1, seed=5, hmdb_names=True)
    out = write_standin_dataset(tmp_path / "hmdb", cfg)
    record = json.loads((out / "source.json").read_text())
    assert record["source"] == "synthetic" and record["seed"] == 5 and record["generator"] == "scenes"
    train = (out / "splits" / "train.txt").read_text().split()
    test = (out / "splits" / "test.txt").read_text().split()
    videos = sorted(str(p.relative_to(out / "videos")) for p in (out / "videos").rglob("*.mp4"))
    assert sorted(train + test) == videos and len(videos) == 9 and not set(train) & set(test)
    info = probe(out / "videos" / train[0])
    assert (info.frames, info.width, info.height, round(info.fps)) == (10, 96, 72, 30)
    manifest = list_videos(out, "synthetic", workers=2, progress=False)
    assert set(manifest["status"]) == {"ok"} and set(manifest["camera_motion"]) <= {"cm", "nm"}
    assert set(manifest["label"]) == {"updown", "leftright", "wave"}
    # ground truth beside each video, matching it after an H.264 round trip (looser bound: encoding)
    assert (manifest["quality"] == "goo").any()
    row = manifest[manifest["quality"] == "goo"].iloc[0]  # goo = crf 18; med/bad are coarser
    assert int(np.load(out / row["groundtruth"])["crf"]) == 18
    truth = np.load(out / row["groundtruth"])
    frames = decode(row["path"])
    back = _warp_back(frames[1], truth["flow"][0].astype(np.float32))
    valid = ~truth["occlusion"][0]
    valid[:4], valid[-4:], valid[:, :4], valid[:, -4:] = False, False, False, False
    # Bound: H.264 at crf 18 adds a few grey levels to the 3-4 of rendering (measured ~7.3)
    assert np.abs(back - frames[0].astype(np.float32))[valid].mean() < 9.0
    # deterministic by seed, whatever the number of rendering processes: same names, splits and truth
    again = write_standin_dataset(tmp_path / "again", cfg, workers=2)
    for split in ("train.txt", "test.txt"):
        assert (again / "splits" / split).read_text() == (out / "splits" / split).read_text()
    for name in ("homographies", "masks", "positions", "flow"):
        np.testing.assert_array_equal(np.load(again / row["groundtruth"])[name], truth[name])
    np.testing.assert_array_equal(decode(str(row["path"]).replace(str(out), str(again))), frames)
    # the record names the x264 build and digests the videos: equal for equal bytes, not otherwise
    again_record = json.loads((again / "source.json").read_text())
    assert re.fullmatch(r"x264 core \d+( r\d+)?( [0-9a-f]+)?", record["encoder"])
    assert again_record["videos_sha256"] == record["videos_sha256"] and len(record["videos_sha256"]) == 64
    video = out / "videos" / train[0]
    video.write_bytes(video.read_bytes() + b"\0")
    assert rendered_videos_record(out / "videos", train + test)["videos_sha256"] != record["videos_sha256"]


def test_encoder_build_is_none_for_a_file_x264_did_not_write(tmp_path):
    other = tmp_path / "other.mp4"
    other.write_bytes(b"\0\0\0\x18ftypmp42" + bytes(100))
    assert encoder_build(other) is None


def test_bouncing_actors_stay_in_view_and_the_flow_still_holds():
    cfg = SceneConfig(width=64, height=48, frames=40, classes=("leftright",), speed_range=(2.5, 3.0),
                      bounce=True, camera_motion_prob=0.0)
    scene = render_scene(cfg, "leftright", np.random.default_rng(2))
    x = scene.positions[:, 0, 0]
    assert x.min() >= 0.1 * 64 - 1e-9 and x.max() <= 0.9 * 64 + 1e-9
    steps = np.sign(np.diff(x))
    assert (steps[1:] != steps[:-1]).any()  # it turned round at a wall
    for t in range(cfg.frames - 1):
        valid = _valid(scene, t)
        back = _warp_back(scene.frames[t + 1], scene.flow[t])
        assert np.abs(back - scene.frames[t].astype(np.float32))[valid].mean() < 4.0


def test_write_video_refuses_odd_sizes_and_leaves_nothing_behind(tmp_path):
    from pipeline.video_write import write_video

    with pytest.raises(ValueError, match="even"):
        write_video(tmp_path / "odd.mp4", np.zeros((3, 47, 64, 3), np.uint8), 25.0)
    path = write_video(tmp_path / "ok.mp4", np.zeros((3, 48, 64, 3), np.uint8), 29.97)
    assert [p.name for p in tmp_path.iterdir()] == ["ok.mp4"]
    assert abs(probe(path).fps - 29.97) < 0.01


def test_a_homogeneous_background_leaves_the_actor_the_only_thing_that_changes():
    """KTH's stand-in (static camera, homogeneous background): outside the actor every pixel is
    the same in every frame and nearly flat, while the cluttered background is not flat."""
    plain = SceneConfig(width=64, height=48, frames=6, classes=("walk",), camera_motion_prob=0.0,
                        background="homogeneous", bounce=True)
    scene = render_scene(plain, "walk", np.random.default_rng(3))
    near_actor = cv2.dilate((scene.masks > 0).any(axis=0).astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
    background = ~near_actor  # two pixels clear of anything the actor ever covers (anti-aliased edges)
    assert background.mean() > 0.5
    grey = scene.frames.astype(float).mean(axis=3)
    assert np.ptp(grey[:, background], axis=0).max() <= 1  # unchanged over time
    assert grey[0][background].std() < 6
    cluttered = render_scene(dataclasses.replace(plain, background="cluttered"), "walk", np.random.default_rng(3))
    assert cluttered.frames[0].astype(float).mean(axis=2)[background].std() > 15
    with pytest.raises(ValueError, match="background"):
        SceneConfig(background="plain")


def test_flickr_scenes_are_a_few_large_regions_and_the_preset_asks_for_them(tmp_path):
    """vgan's Flickr stand-in: background shapes a third of the frame tall (``texture_scale``), so a
    small frame holds a few smooth regions rather than the trackers' clutter; written through the
    same stand-in writer, with the scale in its record."""
    from pipeline.data import write_standin
    from pipeline.presets import PRESETS

    demo = PRESETS["demo"]["standin"]["flickr"]
    assert demo["texture_scale"] == demo["height"] / 3 and "texture_scale" not in PRESETS["demo"]["standin"]["ucf101"]

    def edges(texture_scale: float) -> float:  # share of pixels on a strong edge in the first frame
        cfg = dataclasses.replace(CFG, camera_motion_prob=0.0, texture_scale=texture_scale)
        grey = render_scene(cfg, "updown", np.random.default_rng(5)).frames[0].astype(np.float32).mean(axis=2)
        return float((np.hypot(*np.gradient(grey)) > 20).mean())

    assert edges(24.0) < 0.6 * edges(6.0)  # measured: about half
    sizes = {**PRESETS["smoke"]["standin"]["flickr"], "seconds": 0.3}
    folder = write_standin("flickr", tmp_path / "flickr", sizes, seed=0)
    record = json.loads((folder / "source.json").read_text())
    assert record["config"]["scene"]["texture_scale"] == 24.0


def test_kth_standin_actors_move_at_the_presets_speed(tmp_path):
    """KTH's stand-in sets its actors' speed (``speed_range``, px a frame before the class's factor):
    the positions the scenes record move that far per frame, and the stand-in writer passes the
    preset's range through to every scene; a range that is not (min <= max, both >= 0) is refused."""
    from pipeline.data import write_standin
    from pipeline.presets import PRESETS

    cfg = dataclasses.replace(CFG, classes=("walking", "running"), background="homogeneous", camera_motion_prob=0.0,
                              speed_range=(2.5, 6.0))
    for action, factor in (("walking", 1.0), ("running", 2.0)):
        for seed in range(4):
            scene = render_scene(cfg, action, np.random.default_rng(seed))
            assert 2.5 * factor <= scene.speeds[0] <= 6.0 * factor
            step = np.linalg.norm(np.diff(scene.positions[:2, 0], axis=0))  # first frame to second, before any turn
            assert step == pytest.approx(scene.speeds[0], rel=0.02)
    for scale in ("smoke", "demo", "paper"):
        kth = PRESETS[scale]["standin"]["kth"]
        assert kth["speed_range"][0] / kth["width"] == pytest.approx(2.5 / 160)  # the same speed in frame widths
    folder = write_standin("kth", tmp_path / "kth", {**PRESETS["smoke"]["standin"]["kth"], "seconds": 0.2}, seed=0)
    assert json.loads((folder / "source.json").read_text())["config"]["scene"]["speed_range"] == [1.25, 3.0]
    for bad in ((3.0, 1.0), (-1.0, 2.0), (1.0,)):
        with pytest.raises(ValueError, match="speed_range"):
            SceneConfig(speed_range=bad)

"""Shapes KL measurement: ground-truth frames score near 0, a model that never moves scores high."""

import numpy as np
import pytest
from scipy import ndimage

from pipeline.papers.crossconv.kl import (
    EDGES,
    SMOOTHING,
    kl_divergence,
    measure_motion,
    measure_motions,
    motion_histogram,
    shapes_kl,
)
from pipeline.papers.crossconv.spec import KL_KEYS
from pipeline.synthetic.shapes import ShapesConfig, generate_pairs, visible_masks

N = 300  # pairs at 64x64: a few seconds of measurement


@pytest.fixture(scope="module")
def measured():
    cfg = ShapesConfig(size=64)
    p = generate_pairs(cfg, N, np.random.default_rng(0))
    vis = visible_masks(cfg, p)
    truth_frames = np.stack([measure_motion(p.frame1[i], p.frame2[i], vis[i], p.color[i]) for i in range(N)])
    still_frames = np.stack([measure_motion(p.frame1[i], p.frame1[i], vis[i], p.color[i]) for i in range(N)])
    return p, vis, truth_frames, still_frames


def test_histogram_bins():
    assert len(EDGES) == 42 and EDGES[0] == -5 and EDGES[-1] == 5  # 41 bins over [-5, 5]
    v = np.array([[0.0, 0.0], [5.0, -5.0], [7.0, 0.0], [-0.2, 0.1], [np.nan, 1.0]])
    h = motion_histogram(v)
    assert h.shape == (41, 41) and h.sum() == 4  # the NaN row is left out
    assert h[20, 20] == 1  # zero motion: the centre bin
    assert h[0, 40] == 1  # dx = 5 (column 40), dy = -5 (row 0)
    assert h[20, 40] == 1  # dx = 7 clipped into the border bin
    assert h[20, 19] == 1  # -0.2 is one bin left of centre (bins are 10/41 = 0.244 px wide)


def test_kl_divergence_values():
    a = np.zeros((41, 41))
    a[20, 10:30] = 5
    assert kl_divergence(a, a) == pytest.approx(0.0, abs=1e-12)
    assert kl_divergence(a, 3 * a) == pytest.approx(0.0, abs=1e-12)  # normalised: scale does not matter
    b = np.zeros((41, 41))
    b[20, 20] = 100  # all mass in one bin
    floor = SMOOTHING / a.size
    p_in = (1 - SMOOTHING) / 20 + floor  # truth: 20 bins of equal mass, smoothed
    q_centre = (1 - SMOOTHING) + floor
    expected = 19 * p_in * np.log(p_in / floor) + p_in * np.log(p_in / q_centre)
    assert kl_divergence(a, b) == pytest.approx(expected, rel=1e-9)
    assert kl_divergence(a, b) > 9  # missing the truth's bins is expensive


def test_ground_truth_frames_measure_their_true_motion(measured):
    p, _, truth_frames, _ = measured
    found = ~np.isnan(truth_frames).any(-1)
    assert found.mean() > 0.9
    err = np.abs(truth_frames - p.motion)[found]
    assert np.median(err) < 0.02 and np.percentile(err, 90) < 0.15
    still = np.zeros_like(p.motion)
    assert np.median(np.abs(still - p.motion)[found]) > 1  # the check can fail: motions are real


def test_kl_near_zero_for_ground_truth_and_large_for_a_still_model(measured):
    p, _, truth_frames, still_frames = measured
    exact = shapes_kl(p.motion, p.motion, p.shape, p.present)
    assert all(exact[k] == pytest.approx(0.0, abs=1e-12) for k in KL_KEYS)
    gt = shapes_kl(p.motion, truth_frames, p.shape, p.present)
    still = shapes_kl(p.motion, still_frames, p.shape, p.present)
    # Measured on the true next frames: near 0 per shape (triangles, on the dx = dy diagonal, are
    # the most sensitive to small errors); the joint's 1,681 bins are sparse at 300 pairs.
    assert gt["circles"] < 0.1 and gt["squares"] < 0.1 and gt["triangles"] < 0.6
    assert gt["circles-triangles"] < 0.5 * still["circles-triangles"]
    # A model that never moves: every object measured at (0, 0), far from the truth.
    assert np.abs(still_frames[~np.isnan(still_frames)]).max() < 0.12  # all in the centre bin
    assert min(still[k] for k in ("circles", "squares", "triangles")) > 8
    assert still["circles-triangles"] > 6
    for k in KL_KEYS:
        assert still[k] > 10 * gt[k] or k == "circles-triangles"
        assert gt[f"{k} measured"] > 0.8


def test_soft_predictions_of_the_true_motion_score_low(measured):
    """A model's frames are blurrier than the renderer's: true next frames blurred by 1 px."""
    p, vis, _, still_frames = measured
    n = 150
    soft = [ndimage.gaussian_filter(p.frame2[i].astype(np.float64), (1.0, 1.0, 0)) for i in range(n)]
    m = np.stack([measure_motion(p.frame1[i], soft[i], vis[i], p.color[i]) for i in range(n)])
    kl = shapes_kl(p.motion[:n], m, p.shape[:n], p.present[:n])
    still = shapes_kl(p.motion[:n], still_frames[:n], p.shape[:n], p.present[:n])
    assert kl["circles"] < 0.25 and kl["squares"] < 0.25 and kl["triangles"] < 2.0  # 150 pairs: sparse
    assert all(kl[k] < 0.2 * still[k] for k in ("circles", "squares", "triangles"))


def test_wrong_axis_is_penalised_for_that_shape_only(measured):
    p = measured[0]
    swapped = p.motion.copy()
    swapped[:, 0] = swapped[:, 0, ::-1]  # circles (slot 0) move horizontally instead of vertically
    kl = shapes_kl(p.motion, swapped, p.shape, p.present)
    assert kl["circles"] > 5 and kl["squares"] == pytest.approx(0.0, abs=1e-12)
    assert kl["triangles"] == pytest.approx(0.0, abs=1e-12)


def test_lost_objects():
    cfg = ShapesConfig(size=64, shapes=("square",))
    p = generate_pairs(cfg, 1, np.random.default_rng(3))
    vis = visible_masks(cfg, p)[0]
    erased = np.zeros_like(p.frame2[0])  # the prediction lost the object
    assert np.isnan(measure_motion(p.frame1[0], erased, vis, p.color[0])).all()
    recoloured = (255 - p.frame1[0]) * (p.frame1[0] > 0)
    assert np.isnan(measure_motion(p.frame1[0], recoloured, vis, p.color[0])).all()
    hidden = np.zeros_like(vis)  # not visible in the input: nothing to measure
    assert np.isnan(measure_motion(p.frame1[0], p.frame2[0], hidden, p.color[0])).all()
    np.testing.assert_allclose(measure_motion(p.frame1[0], p.frame2[0], vis, p.color[0])[0], p.motion[0, 0],
                               atol=0.05)


def test_one_template_for_many_frames_gives_each_frame_its_own_numbers(measured):
    """measure_motions (the evaluation's path: S samples of one pair) equals S calls of measure_motion."""
    p, vis = measured[0], measured[1]
    for i in range(6):
        frames = np.stack([p.frame2[i], p.frame1[i], np.roll(p.frame2[i], 2, axis=1), np.zeros_like(p.frame1[i])])
        batched = measure_motions(p.frame1[i], frames, vis[i], p.color[i])
        one_by_one = np.stack([measure_motion(p.frame1[i], f, vis[i], p.color[i]) for f in frames])
        np.testing.assert_array_equal(batched, one_by_one)
        assert np.isnan(batched[3]).all() and not np.isnan(batched[0]).all()  # the black frame loses every object

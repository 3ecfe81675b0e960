"""The Shapes generator against the paper's specification (Xue et al., Sec. 5.1, Fig. 5).

"Circles always move vertically, squares horizontally, and triangles diagonally. The motion of
circles and squares are independent, while the motion of circles and triangles are correlated
(when the triangle moves up, the circle moves down). The shapes can be heavily occluded, and
their sizes, positions, and colors are chosen randomly." The KL histograms span [-5, 5]^2 px.
Checked twice: on the saved ground truth (many samples) and on motions measured from the
rendered pixels of generated pairs.
"""

import numpy as np
import pytest
from scipy import stats

from pipeline.papers.crossconv.kl import measure_motion
from pipeline.synthetic.shapes import (
    CIRCLE,
    SQUARE,
    TRIANGLE,
    ShapesConfig,
    generate_pairs,
    make_split,
    sample_motions,
    visible_masks,
)


@pytest.fixture(scope="module")
def truth():
    return sample_motions(ShapesConfig(), 50_000, np.random.default_rng(0)).astype(np.float64)  # (N, 3, 2)


@pytest.fixture(scope="module")
def rendered():
    cfg = ShapesConfig(size=64)
    p = generate_pairs(cfg, 200, np.random.default_rng(1))
    vis = visible_masks(cfg, p)
    measured = np.stack([measure_motion(p.frame1[i], p.frame2[i], vis[i], p.color[i]) for i in range(len(vis))])
    return cfg, p, vis, measured


def test_axes_and_uniform_displacements_over_the_histogram_range(truth):
    c, s, t = truth[:, CIRCLE], truth[:, SQUARE], truth[:, TRIANGLE]
    assert (c[:, 0] == 0).all() and (s[:, 1] == 0).all() and (t[:, 0] == t[:, 1]).all()
    uniform = stats.uniform(loc=-5, scale=10)
    for comp in (c[:, 1], s[:, 0], t[:, 1]):  # every moving component ~ U(-5, 5)
        assert stats.kstest(comp, uniform.cdf).pvalue > 1e-3
        assert comp.min() >= -5 and comp.max() <= 5


def test_circle_triangle_tied_squares_independent(truth):
    c, s, t = truth[:, CIRCLE, 1], truth[:, SQUARE, 0], truth[:, TRIANGLE, 1]
    assert (np.sign(t) == -np.sign(c)).all()  # triangle up (dy < 0) exactly when the circle goes down
    assert np.corrcoef(c, t)[0, 1] < -0.7
    # Independence of the square: its distribution given each circle/triangle quadrant is the same.
    for cond in (c > 0, c < 0, t > 2.5, np.abs(c) < 1):
        assert stats.ks_2samp(s[cond], s[~cond]).pvalue > 1e-3
    # The triangle's magnitude is independent of the circle's (only the sign is tied).
    assert stats.ks_2samp(np.abs(t[np.abs(c) > 2.5]), np.abs(t[np.abs(c) < 2.5])).pvalue > 1e-3


def test_motions_measured_from_pixels_follow_the_specification(rendered):
    measured = rendered[3]
    ok = ~np.isnan(measured).any(-1)
    assert ok.mean() > 0.9
    c, s, t = measured[:, CIRCLE], measured[:, SQUARE], measured[:, TRIANGLE]
    oc, os_, ot = ok[:, CIRCLE], ok[:, SQUARE], ok[:, TRIANGLE]
    # circles vertical, squares horizontal, triangles diagonal: the off-axis component stays ~0
    assert np.median(np.abs(c[oc, 0])) < 0.03 and np.abs(c[oc, 1]).max() > 4
    assert np.median(np.abs(s[os_, 1])) < 0.03 and np.abs(s[os_, 0]).max() > 4
    assert np.median(np.abs(t[ot, 0] - t[ot, 1])) < 0.05 and np.abs(t[ot, 0]).max() > 4
    both = oc & ot & (np.abs(c[:, 1]) > 0.3) & (np.abs(t[:, 1]) > 0.3)  # signs readable above the error
    assert (np.sign(t[both, 1]) == -np.sign(c[both, 1])).mean() > 0.97
    assert np.abs(measured[ok]).max() < 5.3  # inside the paper's [-5, 5] histogram range, up to error


def test_random_size_position_colour_and_occlusion(rendered):
    cfg, p, vis, _ = rendered
    r = p.radius / cfg.size
    assert r.min() < 0.12 and r.max() > 0.23  # sizes spread over radius_range (0.1, 0.25)
    assert p.center.std() > 8 and np.ptp(p.center) > 30  # positions spread over the frame
    hues = np.unique(p.color.reshape(-1, 3), axis=0)
    assert len(hues) > 0.95 * p.color.reshape(-1, 3).shape[0]  # colours are (almost) all distinct
    alone = np.stack([visible_masks(ShapesConfig(size=64, shapes=(n,)), p.slot(k))[:, 0]
                      for k, n in enumerate(("circle", "square", "triangle"))], 1)
    visible = vis.sum((2, 3)) / alone.sum((2, 3))
    assert (visible < 0.5).mean() > 0.05 and (visible == 1).mean() > 0.3  # heavy occlusion happens, not always
    assert len({tuple(d) for d in p.depth}) == 6  # every depth order occurs


def test_every_pair_saves_its_true_displacement():
    arrays, attrs = make_split(ShapesConfig(size=32), 4, seed=3)
    assert arrays["motion"].shape == (4, 3, 2) and arrays["motion"].dtype == np.float32
    assert attrs["motion_convention"] == "(dx, dy) pixels from frame1 to frame2"
    assert attrs["config"]["max_motion"] == 5.0

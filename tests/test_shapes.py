"""Shapes / Shapes+Texture pairs, checked against the paper's definition and their own truth."""

import numpy as np
import pytest

from pipeline.synthetic.shapes import (
    CIRCLE,
    SHAPE_NAMES,
    SQUARE,
    TRIANGLE,
    ShapesConfig,
    generate_pairs,
    make_split,
    sample_motions,
    visible_masks,
)


@pytest.fixture(scope="module")
def motions():
    cfg = ShapesConfig()
    return cfg, sample_motions(cfg, 20_000, np.random.default_rng(0))  # (N, 3, 2)


def test_each_shape_moves_along_its_axis_ground_truth(motions):
    cfg, m = motions
    c, s, t = m[:, CIRCLE], m[:, SQUARE], m[:, TRIANGLE]
    assert (c[:, 0] == 0).all() and (s[:, 1] == 0).all() and (t[:, 0] == t[:, 1]).all()
    assert np.abs(m).max() <= cfg.max_motion
    for comp in (c[:, 1], s[:, 0], t[:, 0]):  # each moves, both ways, over the whole range
        assert comp.min() < -0.9 * cfg.max_motion and comp.max() > 0.9 * cfg.max_motion
    # Everything fits the paper's [-5, 5]^2 evaluation histogram, and fills it.
    assert np.abs(m).max() <= 5 and np.abs(m).max() > 4.9


def test_circle_triangle_anticorrelated(motions):
    _, m = motions
    circle_dy, tri_dy = m[:, CIRCLE, 1], m[:, TRIANGLE, 1]
    assert (np.sign(tri_dy) == -np.sign(circle_dy)).all()  # triangle up <-> circle down
    assert np.corrcoef(circle_dy, tri_dy)[0, 1] < -0.5


def test_square_independent_of_circle_and_triangle(motions):
    _, m = motions
    sq, circ, tri = m[:, SQUARE, 0], m[:, CIRCLE, 1], m[:, TRIANGLE, 1]
    for other in (circ, tri):
        assert abs(np.corrcoef(sq, other)[0, 1]) < 0.03
        assert abs(np.corrcoef(np.abs(sq), np.abs(other))[0, 1]) < 0.03
    # Independence, not just zero correlation: the square's spread is the same given either circle sign.
    assert abs(sq[circ > 0].std() - sq[circ < 0].std()) < 0.05


def _centroid(img):
    w = img.astype(np.float64).sum(-1)  # (H, W) on a black background
    ys, xs = np.mgrid[0 : img.shape[0], 0 : img.shape[1]]
    return np.array([(w * xs).sum(), (w * ys).sum()]) / w.sum()


@pytest.mark.parametrize("textured", [False, True])
@pytest.mark.parametrize("name", SHAPE_NAMES)
def test_rendered_motion_matches_truth(name, textured):
    cfg = ShapesConfig(size=64, textured=textured, shapes=(name,))
    p = generate_pairs(cfg, 8, np.random.default_rng(1))
    for i in range(8):
        moved = _centroid(p.frame2[i]) - _centroid(p.frame1[i])
        np.testing.assert_allclose(moved, p.motion[i, 0], atol=0.06)
    axis_ok = {"circle": p.motion[:, 0, 0] == 0, "square": p.motion[:, 0, 1] == 0,
               "triangle": p.motion[:, 0, 0] == p.motion[:, 0, 1]}[name]
    assert axis_ok.all() and np.abs(p.motion).max() > 1.0


def test_pairs_layout_and_ground_truth():
    cfg = ShapesConfig(size=64)
    p = generate_pairs(cfg, 30, np.random.default_rng(2))
    assert p.frame1.shape == p.frame2.shape == (30, 64, 64, 3) and p.frame1.dtype == np.uint8
    assert p.motion.shape == (30, 3, 2) and p.present.all()
    assert (p.shape == [CIRCLE, SQUARE, TRIANGLE]).all()
    assert (np.sort(p.depth, 1) == [0, 1, 2]).all()
    lo = p.center - p.radius[..., None]
    hi = p.center + p.radius[..., None]
    for c in (0, 1):  # whole object inside both frames
        assert (lo + np.minimum(p.motion, 0) >= 0).all() and (hi + np.maximum(p.motion, 0) <= 63).all()
    assert not np.array_equal(p.frame1, p.frame2)


def test_occlusion_and_visible_masks():
    cfg = ShapesConfig(size=64)
    p = generate_pairs(cfg, 60, np.random.default_rng(3))
    vis = visible_masks(cfg, p)  # (N, 3, H, W)
    assert vis.sum(1).max() <= 1  # one owner per pixel
    alone = [visible_masks(ShapesConfig(size=64, shapes=(n,)), p.slot(k)) for k, n in enumerate(SHAPE_NAMES)]
    full = np.stack([a[:, 0] for a in alone], 1)  # (N, 3, H, W) unoccluded masks
    assert (vis <= full).all()
    hidden = 1 - vis.sum((2, 3)) / full.sum((2, 3))
    assert (hidden > 0.5).any() and (hidden == 0).any()  # heavy occlusion happens, not always
    # Every pixel drawn in frame1 belongs to some object, and no object leaves colour where it is absent.
    drawn = p.frame1.max(-1) > 0
    assert (drawn <= vis.any(1) | _fringe(full.any(1))).all()



def _fringe(mask):
    """Anti-aliased edge pixels just outside the >50% masks (8-neighbours)."""
    pad = np.pad(mask, ((0, 0), (1, 1), (1, 1)))
    h, w = mask.shape[1:]
    return np.any([pad[:, dy : dy + h, dx : dx + w] for dy in range(3) for dx in range(3)], axis=0)


def test_presence():
    cfg = ShapesConfig(size=64, present_prob=0.5)
    p = generate_pairs(cfg, 200, np.random.default_rng(4))
    assert 0.4 < p.present.mean() < 0.6
    assert (p.motion[~p.present] == 0).all()
    vis = visible_masks(cfg, p)
    assert not vis[~p.present].any()
    empty = ~p.present.any(1)
    assert empty.any() and (p.frame1[empty] == 0).all()


def _dominant_frequency(crop):
    lum = crop.astype(np.float64).mean(-1)
    spec = np.abs(np.fft.fft2(lum - lum.mean()))
    ky, kx = np.unravel_index(np.argmax(spec), spec.shape)
    return min(ky, lum.shape[0] - ky), min(kx, lum.shape[1] - kx)


def _grad_ratio(crop):
    lum = crop.astype(np.float64).mean(-1)
    gy, gx = np.gradient(lum)
    return ((gy**2).sum() + 1e-9) / ((gx**2).sum() + 1e-9)


@pytest.mark.parametrize("textured", [True, False])
def test_texture_orientation(textured):
    interior = {"square": 0.6, "circle": 0.6, "triangle": 0.3}  # half-size of a box inside the shape, x radius
    for name, frac in interior.items():
        cfg = ShapesConfig(size=128, textured=textured, shapes=(name,), radius_range=(0.24, 0.25))
        p = generate_pairs(cfg, 3, np.random.default_rng(5))
        for i in range(3):
            cx, cy = np.round(p.center[i, 0]).astype(int)
            h = int(frac * p.radius[i, 0])
            crop = p.frame1[i, cy - h : cy + h, cx - h : cx + h]
            if not textured:
                assert crop.std(axis=(0, 1)).max() < 1e-6  # flat colour
                continue
            ky, kx = _dominant_frequency(crop)
            ratio = _grad_ratio(crop)
            if name == "square":  # horizontal stripes: intensity changes along y only
                assert kx == 0 and ky > 0 and ratio > 20
            elif name == "triangle":  # vertical stripes
                assert ky == 0 and kx > 0 and ratio < 1 / 20
            else:  # checkerboard: both directions, energy on the diagonals
                assert kx > 0 and ky > 0 and 0.5 < ratio < 2


def test_deterministic_and_split_attrs():
    cfg = ShapesConfig(size=32, textured=True)
    a, attrs = make_split(cfg, 5, seed=9)
    b, _ = make_split(cfg, 5, seed=9)
    c, _ = make_split(cfg, 5, seed=10)
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert not np.array_equal(a["frame1"], c["frame1"])
    assert attrs["dataset"] == "shapes_texture" and attrs["config"]["size"] == 32
    assert {"frame1", "frame2", "shape", "present", "motion"} <= set(a)


def test_bad_config_is_rejected():
    with pytest.raises(ValueError, match="hexagon"):
        ShapesConfig(shapes=("hexagon",))
    with pytest.raises(ValueError, match="do not fit"):
        ShapesConfig(size=16, radius_range=(0.3, 0.4))

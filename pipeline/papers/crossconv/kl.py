"""Shapes KL measurement (Xue et al., Fig. 5): per-object motion in predicted frames, histogrammed.

The paper samples future frames, measures "the mean movement of each object" with optical flow,
and reports KL(p_gt || p_pred) between 2D histograms of 41x41 bins over [-5, 5]^2 px, per shape
and for the circles-triangles joint. Here the objects are known from the input frame (their
visible pixels and colours, from the generator's ground truth), so each object's motion is
measured by registering its own colour layer rather than by a generic optical flow:

1. colour layer of object k in a frame: its coverage alpha = clip(<f, c_k> / |c_k|^2, 0, 1)
   (exact over the black background, linear across anti-aliased edges) and a confidence
   exp(-|f - alpha c_k|^2 / (2 * 12^2)), near 0 wherever the pixel holds another colour
   (occluders, edges mixed with another object);
2. template = the input frame's coverage on object k's visible pixels (dilated by one pixel for
   its edge), vouching for those pixels and for the empty background only (not for other
   objects, which may share its colour); target = the predicted frame's coverage; each pixel
   counts with the product of both confidences, so occlusion in either frame is ignored rather
   than mismatched;
3. both coverages blurred by a 0.7 px Gaussian (`PRE_BLUR`, normalised by confidence), so a
   sharp template still fits a soft prediction (true next frames blurred by 1 px keep circle
   and square KLs near 0.05 at 300 pairs); then the integer displacement within |d| <= `search`
   px by correlations, and sub-pixel Gauss-Newton steps (cubic-spline shifts of the template,
   Cauchy-reweighted residuals);
4. an object is "lost" (NaN) with fewer than `min_pixels` visible pixels in the input, or when
   under a fifth of it is readable in the prediction or under half of that matches (the
   prediction erased or recoloured it). Lost objects are left out of the histograms; the
   measured fraction is reported beside each KL.

Histograms: bin edges linspace(-5, 5, 42) (41 bins of 10/41 px, the paper's division of
[-5, 5]); motions outside are clipped into the border bins; lost objects are left out and
counted. Empty bins: each normalised histogram is mixed with 1e-3 (`SMOOTHING`) of the uniform
distribution, so an empty bin holds 1e-3 / 1681 (a fixed floor, whatever the sample size) and a
prediction that never reaches a bin the truth fills pays log(p / 6e-7) per unit of truth there.
The circles-triangles joint is the histogram of (circle dy, triangle dy) over the pairs where
both were measured. Histogram KL needs many samples: the paper used 50,000; with a few hundred
the joint's 1,681 bins are sparse and even a small measurement error shows (the triangles' true
motion lies on the diagonal dx = dy, which crosses bin corners, so they are the most sensitive).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

EDGES = np.linspace(-5.0, 5.0, 42)  # 41 bins per axis over [-5, 5] px
COLOUR_SIGMA = 12.0  # confidence scale: distance from the black-to-colour line, 0-255 units
PRE_BLUR = 0.7  # px, Gaussian on both coverages: sharp templates still fit soft predictions
SMOOTHING = 1e-3  # weight of the uniform distribution mixed into each histogram


def colour_layer(frame: np.ndarray, colour: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(coverage, confidence), each (H, W), of `colour` in an (H, W, 3) frame (0-255).

    coverage = clip(<f, c> / |c|^2, 0, 1) is exact for the object over the black background
    (anti-aliased edges included); confidence = exp(-|f - coverage c|^2 / (2 * 12^2)) is near 1
    for such pixels and near 0 for pixels of other colours, including edges mixed with another
    object, whose coverage would be wrong.
    """
    f = frame.astype(np.float64)
    c = colour.astype(np.float64)
    alpha = np.clip(f @ c / max(c @ c, 1e-9), 0.0, 1.0)  # (H, W)
    resid = f - alpha[..., None] * c  # (H, W, 3)
    return alpha, np.exp(-(resid**2).sum(-1) / (2 * COLOUR_SIGMA**2))


@dataclass(frozen=True)
class _Template:
    """One object's template, prepared once for every frame it is registered against."""

    conf: np.ndarray  # confidence of the softened coverage, (h, w) with the `search` margin
    spline: np.ndarray  # cubic-spline coefficients of the coverage (what ndimage.shift would compute each call)
    kernels: np.ndarray  # (1, 3, h - 2s, w - 2s) flipped correlation templates (tc tv^2, tc tv, tc)
    mass: float  # sum of tc tv^2 over the inner window: what a perfect match reads
    search: int  # s: the largest integer displacement tried, the window's margin


def _template(t_val: np.ndarray, t_conf: np.ndarray, search: int) -> _Template:
    s = search
    tv, tc = t_val[s:-s, s:-s], t_conf[s:-s, s:-s]  # the template without its `search` margin
    kernels = np.stack([tc * tv**2, tc * tv, tc])[None, :, ::-1, ::-1]
    # shift(order=3, mode="constant") prefilters without padding: the same coefficients, once
    spline = ndimage.spline_filter(t_val, 3, output=np.float64, mode="constant")
    return _Template(t_conf, spline, kernels, float((tc * tv**2).sum()), search)


def _register(t: _Template, p_val: np.ndarray, p_conf: np.ndarray, iters: int = 8) -> np.ndarray:
    """(S, 2) displacements (dx, dy) moving the template onto each of S targets (same window), NaN if not found.

    Minimises E(d) = sum_x t_conf(x - d) p_conf(x) (p_val(x) - t_val(x - d))^2: pixels either
    frame cannot vouch for (other colours: occluders, mixed edges) do not count. Integer d by
    correlations, then Gauss-Newton steps with Cauchy reweighting (scale 0.25) of what remains.
    p_val, p_conf: (S, h, w).
    """
    # imported here, not at the top: the figure jobs read EDGES and histograms without scipy.signal (0.6 s)
    from scipy.signal import fftconvolve

    s = t.search
    # the three correlations of every target (each (2s + 1, 2s + 1), [s, s] = no motion) as one
    # batched FFT convolution with the flipped templates: one call for all targets
    targets = np.stack([p_conf, p_conf * p_val, p_conf * p_val**2], 1)  # (S, 3, h, w)
    correlations = fftconvolve(targets, t.kernels, mode="valid", axes=(2, 3))
    out = np.full((len(p_val), 2), np.nan)
    for i, (energy, cross, matched) in enumerate(correlations):
        ssd = matched - 2 * cross + energy
        # max of matched mass minus half the error: SSD alone would be 0 wherever the target
        # vouches for nothing (the template parked on another object)
        iy, ix = np.unravel_index(np.argmax(cross - 0.5 * ssd), ssd.shape)
        if energy[iy, ix] < 0.2 * t.mass or cross[iy, ix] < 0.5 * energy[iy, ix]:
            continue  # not found: under a fifth of it readable in the target, or under half of that matched
        d = _refine(t, p_val[i], p_conf[i], np.array([iy - s, ix - s], np.float64), iters)
        if np.abs(d).max() <= s + 1:
            out[i] = d[::-1]  # (dx, dy)
    return out


def _refine(t: _Template, p_val: np.ndarray, p_conf: np.ndarray, d: np.ndarray, iters: int) -> np.ndarray:
    """Sub-pixel Gauss-Newton steps from the integer displacement d = (dy, dx)."""
    for _ in range(iters):
        val = ndimage.shift(t.spline, d, order=3, mode="constant", prefilter=False)
        conf = ndimage.shift(t.conf, d, order=1, mode="constant")
        gy, gx = np.gradient(val)
        resid = p_val - val
        w = (conf * p_conf / (1.0 + (resid / 0.25) ** 2)).ravel()
        grad = np.stack([gy.ravel(), gx.ravel()], 1)  # (n, 2)
        hess = grad.T @ (grad * w[:, None])
        if np.linalg.eigvalsh(hess)[0] < 0.5:
            break  # too few readable edges along some direction (e.g. all mixed with an occluder)
        step = np.clip(-np.linalg.solve(hess, grad.T @ (w * resid.ravel())), -1.0, 1.0)  # argmin |r + G step|
        d = d + step
        if np.abs(step).max() < 1e-3:
            break
    return d


def _soften(value: np.ndarray, conf: np.ndarray) -> np.ndarray:
    """Gaussian blur by `PRE_BLUR` px normalised by confidence: pixels nobody vouches for do not
    leak into their neighbours. value, conf: (..., H, W), blurred over the last two axes."""
    sigma = (0,) * (value.ndim - 2) + (PRE_BLUR, PRE_BLUR)
    weight = ndimage.gaussian_filter(conf, sigma)
    return ndimage.gaussian_filter(value * conf, sigma) / np.maximum(weight, 1e-6)


def measure_motion(
    frame1: np.ndarray,
    frame2: np.ndarray,
    masks: np.ndarray,
    colours: np.ndarray,
    search: int = 7,
    min_pixels: int = 4,
) -> np.ndarray:
    """(K, 2) motions (dx, dy) in pixels of the K objects from frame1 to frame2; NaN when lost.

    frame1, frame2: (H, W, 3) 0-255; masks: (K, H, W) bool visible pixels of each object in
    frame1 (e.g. `pipeline.synthetic.shapes.visible_masks`); colours: (K, 3) 0-255.
    """
    return measure_motions(frame1, frame2[None], masks, colours, search, min_pixels)[0]


def measure_motions(
    frame1: np.ndarray,
    frames2: np.ndarray,
    masks: np.ndarray,
    colours: np.ndarray,
    search: int = 7,
    min_pixels: int = 4,
) -> np.ndarray:
    """(S, K, 2): :func:`measure_motion` of frame1 against each of S frames (S, H, W, 3), the
    same numbers; each object's template is made once for all S (a model's samples of one pair)."""
    pad = search + 2
    out = np.full((len(frames2), len(masks), 2), np.nan)
    # frames padded once with black; `inside` marks the real pixels: nothing outside the frame is readable
    f1 = np.pad(frame1, ((pad, pad), (pad, pad), (0, 0)))
    f2 = np.pad(frames2, ((0, 0), (pad, pad), (pad, pad), (0, 0)))
    inside = np.pad(np.ones(frame1.shape[:2], bool), pad)
    for k, (mask, colour) in enumerate(zip(masks, colours)):
        if mask.sum() < min_pixels:
            continue
        ys, xs = np.nonzero(mask)
        win = (slice(ys.min() - 1 + pad - search, ys.max() + 2 + pad + search),
               slice(xs.min() - 1 + pad - search, xs.max() + 2 + pad + search))
        own = np.pad(ndimage.binary_dilation(mask), pad)[win]  # this object's pixels and edge in frame1
        (v1, c1), (v2, c2) = colour_layer(f1[win], colour), colour_layer(f2[(slice(None), *win)], colour)
        c1, c2 = c1 * inside[win], c2 * inside[win]
        # the template speaks for this object and for the empty background, not for other objects
        c1 = c1 * (f1[win].max(-1) < 8) * ~own + c1 * own
        out[:, k] = _register(_template(_soften(v1 * own, c1), c1, search), _soften(v2, c2), c2)
    return out


def motion_histogram(values: np.ndarray, edges: np.ndarray = EDGES) -> np.ndarray:
    """(41, 41) counts of (N, 2) values (x along axis 1, y along axis 0); NaN rows left out."""
    v = values[~np.isnan(values).any(1)]
    v = np.clip(v, edges[0], edges[-1])  # clip into the border bins
    counts, _, _ = np.histogram2d(v[:, 1], v[:, 0], bins=[edges, edges])
    return counts


def kl_divergence(p_counts: np.ndarray, q_counts: np.ndarray, smoothing: float = SMOOTHING) -> float:
    """KL(p || q) in nats between two histograms, each normalised and mixed with `smoothing` of
    the uniform distribution over its bins (so empty bins hold smoothing / n_bins)."""
    def dist(counts: np.ndarray) -> np.ndarray:
        total = counts.sum()
        uniform = np.full(counts.shape, 1.0 / counts.size)
        return uniform if total == 0 else (1.0 - smoothing) * counts / total + smoothing * uniform

    p, q = dist(p_counts), dist(q_counts)
    return float((p * np.log(p / q)).sum())


def shapes_kl(
    true_motion: np.ndarray,
    pred_motion: np.ndarray,
    shape: np.ndarray,
    present: np.ndarray,
    smoothing: float = SMOOTHING,
) -> dict[str, float]:
    """The Fig. 5 table row: KL(truth || prediction) per shape and for circles-triangles.

    true_motion, pred_motion: (N, K, 2) (dx, dy), NaN where lost; shape: (N, K) codes of
    `pipeline.synthetic.shapes.SHAPE_NAMES` (circle 0, square 1, triangle 2); present (N, K).
    Also returns "<key> measured": the fraction of present objects (or pairs) measured.
    """
    out: dict[str, float] = {}
    for key, code in (("circles", 0), ("squares", 1), ("triangles", 2)):
        sel = present & (shape == code)
        pred = pred_motion[sel]
        out[key] = kl_divergence(motion_histogram(true_motion[sel]), motion_histogram(pred), smoothing)
        out[f"{key} measured"] = float((~np.isnan(pred).any(1)).mean()) if len(pred) else float("nan")
    circle = present & (shape == 0)
    triangle = present & (shape == 2)
    both = circle.any(1) & triangle.any(1)  # pairs with a circle and a triangle: the first of each
    rows, ci, ti = np.nonzero(both)[0], circle.argmax(1)[both], triangle.argmax(1)[both]
    t = np.stack([true_motion[rows, ci, 1], true_motion[rows, ti, 1]], 1)  # (n, 2) (circle dy, triangle dy)
    p = np.stack([pred_motion[rows, ci, 1], pred_motion[rows, ti, 1]], 1)
    out["circles-triangles"] = kl_divergence(motion_histogram(t), motion_histogram(p), smoothing)
    out["circles-triangles measured"] = float((~np.isnan(p).any(1)).mean()) if len(p) else float("nan")
    return out


def shape_histograms(motion: np.ndarray, shape: np.ndarray, present: np.ndarray) -> dict[str, np.ndarray]:
    """The four (41, 41) histograms of the Fig. 5 table from (M, K, 2) motions (NaN where lost).

    Unlike :func:`shapes_kl`, truth and prediction need not be aligned: the truth may be motions
    drawn from the generator, the prediction several samples per test pair. Per shape, every
    present object of that shape counts; the circles-triangles joint holds (circle dy, triangle
    dy) of the first circle and triangle of each row that has both.
    """
    out: dict[str, np.ndarray] = {}
    for key, code in (("circles", 0), ("squares", 1), ("triangles", 2)):
        out[key] = motion_histogram(motion[present & (shape == code)])
    circle, triangle = present & (shape == 0), present & (shape == 2)
    both = circle.any(1) & triangle.any(1)
    rows, ci, ti = np.nonzero(both)[0], circle.argmax(1)[both], triangle.argmax(1)[both]
    out["circles-triangles"] = motion_histogram(np.stack([motion[rows, ci, 1], motion[rows, ti, 1]], 1))
    return out

"""Bootstrap intervals of means, shared by every paper's tables (named in their provenance)."""

from __future__ import annotations

import numpy as np
from scipy.stats import bootstrap

INTERVAL = "95% percentile bootstrap over test images (scipy.stats.bootstrap, 2000 resamples)"
"""How the intervals of per-item means are made (staticflow, walker, crossconv's analogies; named in provenance)."""


def mean_interval(values: np.ndarray, seed: int = 0, resamples: int = 2000) -> tuple[float, float]:
    """95% percentile bootstrap interval of the mean of per-item values (N,), e.g. per test image.

    A difference between two predictors on the same images is paired: pass the per-image
    differences. NaN when there are fewer than two images (no spread to resample).
    """
    v = np.asarray(values, np.float64).reshape(-1)
    if len(v) < 2:
        return float("nan"), float("nan")
    if np.ptp(v) == 0:  # every resample has the same mean
        return float(v[0]), float(v[0])
    ci = bootstrap((v,), np.mean, confidence_level=0.95, n_resamples=resamples, method="percentile",
                   rng=np.random.default_rng(seed)).confidence_interval
    return float(ci.low), float(ci.high)

"""Parzen-window NLL and min-Euclidean curves against closed forms and toy distributions."""

import math

import numpy as np
import pytest
import torch
from scipy.special import logsumexp
from scipy.stats import norm

from pipeline.papers.walker.parzen import (
    gaussian_bandwidths,
    gaussian_samples,
    grid_nll,
    min_euclidean_curve,
    parzen_log_density,
    parzen_nll,
    sampled_squared_distances,
    select_bandwidths,
    squared_distances,
)


def test_one_sample_is_the_gaussian_nll():
    rng = np.random.default_rng(0)
    truth, mean, h = rng.normal(size=(5, 10, 4, 4)), rng.normal(size=(5, 10, 4, 4)), 0.7
    got = parzen_nll(torch.from_numpy(truth), torch.from_numpy(mean)[None], h, device="cpu")
    expected = -norm.logpdf(truth, loc=mean, scale=h).reshape(5, -1).sum(axis=1)
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-12)


def test_many_samples_match_scipy_logsumexp_in_high_dimension():
    """D = 3,200 and a narrow kernel: every kernel value underflows; logsumexp must not."""
    rng = np.random.default_rng(1)
    n, b, d, h = 50, 3, 3200, 0.05
    truth, samples = rng.normal(size=(b, d)), rng.normal(size=(n, b, d))
    got = parzen_nll(torch.from_numpy(truth), torch.from_numpy(samples), h, chunk=7, device="cpu")
    log_k = norm.logpdf(truth[None], loc=samples, scale=h).sum(axis=2)  # (N, B)
    expected = -(logsumexp(log_k, axis=0) - math.log(n))
    assert np.all(np.isfinite(got.numpy()))
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-10)


def test_two_blocks_use_their_own_bandwidths():
    rng = np.random.default_rng(2)
    n, b, h = 20, 4, (0.5, 3.0)
    y = [rng.normal(size=(b, 6)), rng.normal(size=(b, 2)) * 3]
    s = [rng.normal(size=(n, b, 6)), rng.normal(size=(n, b, 2)) * 3]
    sq = torch.stack([squared_distances(torch.from_numpy(t), torch.from_numpy(x), device="cpu") for t, x in zip(y, s)])
    got = parzen_log_density(sq, [6, 2], h)
    log_k = sum(norm.logpdf(t[None], loc=x, scale=hk).sum(axis=2) for t, x, hk in zip(y, s, h))
    np.testing.assert_allclose(got.numpy(), logsumexp(log_k, axis=0) - math.log(n), rtol=1e-10)


def test_grid_search_finds_the_right_bandwidth_on_a_1d_toy():
    """Samples ~ N(mu, tau^2), truth ~ N(mu, sigma^2): the window is best at h^2 = sigma^2 - tau^2."""
    g = torch.Generator().manual_seed(3)
    b, n, tau, sigma = 2000, 400, 0.6, 1.0
    mu = 5 * torch.randn(b, 1, generator=g, dtype=torch.float64)
    truth = mu + sigma * torch.randn(b, 1, generator=g, dtype=torch.float64)
    samples = mu[None] + tau * torch.randn(n, b, 1, generator=g, dtype=torch.float64)
    grid = np.logspace(-1.5, 0.5, 41)
    sq = squared_distances(truth, samples, device="cpu")
    (h,), table = select_bandwidths(sq, [1], [grid])
    assert table.shape == (41,)
    assert abs(math.log(h / 0.8)) < 0.15  # grid step is 12%
    with pytest.warns(UserWarning, match="edge of its grid"):
        select_bandwidths(sq, [1], [np.logspace(-3, -2, 5)])


def test_gaussian_bandwidths_are_the_mle_and_the_grid_agrees():
    g = torch.Generator().manual_seed(4)
    b = 3000
    pred = [torch.randn(b, 3, generator=g, dtype=torch.float64), torch.randn(b, 2, generator=g, dtype=torch.float64)]
    truth = [pred[0] + 0.5 * torch.randn(b, 3, generator=g, dtype=torch.float64),
             pred[1] + 3.0 * torch.randn(b, 2, generator=g, dtype=torch.float64)]
    sq = torch.stack([squared_distances(t, p[None], device="cpu") for t, p in zip(truth, pred)])  # (2, 1, B)
    h = gaussian_bandwidths(sq, [3, 2])
    assert h[0] == pytest.approx(0.5, rel=0.05) and h[1] == pytest.approx(3.0, rel=0.05)
    grids = [np.geomspace(0.1, 10, 61)] * 2
    best, _ = select_bandwidths(sq, [3, 2], grids)
    for found, mle in zip(best, h):
        assert abs(math.log(found / mle)) <= math.log(grids[0][1] / grids[0][0]) / 2 + 1e-9


def _bimodal(seed: int, b: int, d: int = 50, a: float = 3.0, noise: float = 0.1):
    """Each image moves along +v or -v (unknown from the image): truth and a two-mode sampler."""
    g = torch.Generator().manual_seed(seed)
    v = torch.randn(b, d, generator=g, dtype=torch.float64)
    v = a * v / v.norm(dim=1, keepdim=True)
    sign = torch.where(torch.rand(b, 1, generator=g) < 0.5, -1.0, 1.0).double()
    truth = sign * v + noise * torch.randn(b, d, generator=g, dtype=torch.float64)

    def draw(n: int) -> list[torch.Tensor]:
        s = torch.where(torch.rand(n, b, 1, generator=g) < 0.5, -1.0, 1.0).double()
        return [s * v[None] + noise * torch.randn(n, b, d, generator=g, dtype=torch.float64)]

    return truth, draw


def test_two_mode_sampler_beats_the_mean_predictor():
    """The paper's claim in miniature: on an ambiguous future, samples beat the best single guess."""
    n = 64
    train_truth, train_draw = _bimodal(5, 200)
    sq_train = sampled_squared_distances([train_truth], train_draw, n, chunk=16, device="cpu")
    (h,), _ = select_bandwidths(sq_train, [50], [np.geomspace(0.01, 10, 31)])
    truth, draw = _bimodal(6, 300)
    sq = sampled_squared_distances([truth], draw, n, chunk=16, device="cpu")[0]  # (N, B)
    sampler_nll = -parzen_log_density(sq, [50], [h]).mean()

    mean = torch.zeros_like(truth)  # the regressor's least-squares answer
    sq_mean = squared_distances(truth, mean[None], device="cpu")  # (1, B)
    h_reg = gaussian_bandwidths(sq_mean, [50])  # fitted on the test data: an upper bound
    regressor_nll = -parzen_log_density(sq_mean, [50], h_reg).mean()
    assert sampler_nll < regressor_nll - 50

    ns = [1, 2, 5, 10, 64]
    curve = min_euclidean_curve(sq, ns)
    mean_curve = min_euclidean_curve(sq_mean.expand(n, -1), ns)
    assert curve[0] > mean_curve[0]  # one sample: the mean is the safer guess
    assert curve[3] < 0.5 * mean_curve[3]  # a few samples: one of them hits the right mode
    reg_sq = sampled_squared_distances([truth], lambda m: gaussian_samples([mean], h_reg, m), n, device="cpu")[0]
    assert min_euclidean_curve(reg_sq, [10])[0] > curve[3]  # the sampled regressor too


def test_min_euclidean_curve_is_the_brute_force_running_minimum():
    rng = np.random.default_rng(7)
    truth, samples = rng.normal(size=(6, 5)), rng.normal(size=(12, 6, 5))
    sq = squared_distances(torch.from_numpy(truth), torch.from_numpy(samples), device="cpu")
    ns = [1, 3, 12]
    dist = np.linalg.norm(samples - truth[None], axis=2)  # (N, B)
    expected = [dist[:n].min(axis=0).mean() for n in ns]
    curve = min_euclidean_curve(sq, ns)
    np.testing.assert_allclose(curve, expected, rtol=1e-12)
    assert np.all(np.diff(curve) <= 0)


def test_chunked_sampling_equals_all_at_once():
    rng = np.random.default_rng(8)
    truth = torch.from_numpy(rng.normal(size=(4, 3, 2)))
    samples = torch.from_numpy(rng.normal(size=(10, 4, 3, 2)))
    drawn = iter(torch.split(samples, 3))
    chunked = sampled_squared_distances([truth], lambda m: [next(drawn)], 10, chunk=3, device="cpu")
    torch.testing.assert_close(chunked[0], squared_distances(truth, samples, chunk=4, device="cpu"))
    table = grid_nll(chunked, [6], [[0.5, 1.0, 2.0]])
    assert table.shape == (3,) and torch.all(torch.isfinite(table))

"""Parzen-window likelihood and min-Euclidean distance of sampled futures (walker Table 1, Fig. 5).

A model that outputs samples has no density; the paper scores it by a Gaussian-kernel Parzen
window over N samples per image (800 at paper scale) in the coarse trajectory space
(10 x 16 x 20 = 3,200 dims). The vector is split into blocks scored with their own isotropic
bandwidth — normalized trajectories and magnitudes, as the networks predict them — so for a
truth y = (y_1, ..., y_K) with block dims D_k and samples s_i:

    log p(y) = logsumexp_i sum_k [ -||y_k - s_ik||^2 / (2 h_k^2) ] - log N
               - sum_k (D_k / 2) log(2 pi h_k^2)

Everything reduces to the squared distances d_ik (K, N, B), computed once (chunked over
samples, in float64, on the GPU when there is one); bandwidth grids and curves then cost
nothing. Bandwidths are grid-searched on training images; the regressor is scored as a
Gaussian at its output (one "sample") with the maximum-likelihood bandwidth on the test data
itself, an upper bound on its likelihood, as the paper does.
"""

from __future__ import annotations

import itertools
import math
import warnings
from collections.abc import Callable, Sequence

import numpy as np
import torch


def auto_device(device: str | torch.device = "auto") -> torch.device:
    """``"auto"`` -> CUDA when present, else CPU."""
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def squared_distances(
    truth: torch.Tensor, samples: torch.Tensor, chunk: int = 64, device: str | torch.device = "auto"
) -> torch.Tensor:
    """||truth_b - samples_ib||^2: truth (B, ...), samples (N, B, ...) -> (N, B) float64."""
    dev = auto_device(device)
    if samples.shape[1:] != truth.shape:
        raise ValueError(
            f"samples {tuple(samples.shape)} must be (N, *truth.shape) with truth {tuple(truth.shape)}"
        )
    t = truth.to(dev, torch.float64).flatten(1)  # (B, D)
    out = []
    for start in range(0, samples.shape[0], chunk):
        s = samples[start : start + chunk].to(dev, torch.float64).flatten(2)  # (n, B, D)
        out.append((s - t).pow(2).sum(dim=2))  # (n, B)
    return torch.cat(out)


def sampled_squared_distances(
    truths: Sequence[torch.Tensor],
    draw: Callable[[int], Sequence[torch.Tensor]],
    n_samples: int,
    chunk: int = 100,
    device: str | torch.device = "auto",
) -> torch.Tensor:
    """Block distances of ``n_samples`` samples drawn ``chunk`` at a time -> (K, N, B) float64.

    truths: K blocks (B, ...); draw(n) returns the same K blocks for n samples, (n, B, ...).
    Only one chunk of samples is ever in memory.
    """
    parts = []
    for start in range(0, n_samples, chunk):
        blocks = draw(min(chunk, n_samples - start))
        if len(blocks) != len(truths):
            raise ValueError(f"draw returned {len(blocks)} blocks for {len(truths)} truth blocks")
        parts.append(torch.stack([squared_distances(t, s, device=device) for t, s in zip(truths, blocks)]))
    return torch.cat(parts, dim=1)


def _as_blocks(sq: torch.Tensor) -> torch.Tensor:
    return sq[None] if sq.dim() == 2 else sq  # (K, N, B)


def parzen_log_density(
    sq: torch.Tensor, dims: Sequence[int], bandwidths: Sequence[float]
) -> torch.Tensor:
    """log p(truth) per image from block distances (K, N, B) (or (N, B) for one block) -> (B,)."""
    sq = _as_blocks(sq)
    if not len(dims) == len(bandwidths) == sq.shape[0]:
        raise ValueError(
            f"{sq.shape[0]} distance blocks need as many dims {dims} and bandwidths {bandwidths}"
        )
    h = torch.as_tensor(bandwidths, dtype=torch.float64, device=sq.device)  # (K,)
    d = torch.as_tensor(dims, dtype=torch.float64, device=sq.device)
    log_k = -(sq / (2 * h[:, None, None] ** 2)).sum(dim=0)  # (N, B)
    norm = (d / 2 * torch.log(2 * math.pi * h**2)).sum()
    return torch.logsumexp(log_k, dim=0) - math.log(sq.shape[1]) - norm


def parzen_nll(
    truth: torch.Tensor,
    samples: torch.Tensor,
    bandwidth: float,
    chunk: int = 64,
    device: str | torch.device = "auto",
) -> torch.Tensor:
    """Negative log-likelihood per image of truth (B, ...) under a Parzen window of samples (N, B, ...)."""
    sq = squared_distances(truth, samples, chunk, device)  # (N, B)
    return -parzen_log_density(sq, [truth[0].numel()], [bandwidth])


def grid_nll(sq: torch.Tensor, dims: Sequence[int], grids: Sequence[Sequence[float]]) -> torch.Tensor:
    """Mean NLL over images for every bandwidth combination -> (len(grids[0]), ..., len(grids[K-1]))."""
    sq = _as_blocks(sq)
    shape = tuple(len(g) for g in grids)
    out = torch.empty(math.prod(shape), dtype=torch.float64)
    for i, hs in enumerate(itertools.product(*grids)):
        out[i] = -parzen_log_density(sq, dims, hs).mean()
    return out.view(shape)


def select_bandwidths(
    sq: torch.Tensor, dims: Sequence[int], grids: Sequence[Sequence[float]]
) -> tuple[tuple[float, ...], torch.Tensor]:
    """The grid point of least mean NLL (search it on training images) and the whole NLL grid."""
    table = grid_nll(sq, dims, grids)
    best = np.unravel_index(int(torch.argmin(table)), table.shape)
    for k, (g, i) in enumerate(zip(grids, best)):
        if len(g) > 1 and i in (0, len(g) - 1):
            warnings.warn(
                f"Parzen bandwidth of block {k} is at the edge of its grid ({float(g[i]):.4g} in "
                f"[{float(g[0]):.4g}, {float(g[-1]):.4g}]); widen the grid",
                stacklevel=2,
            )
    return tuple(float(g[i]) for g, i in zip(grids, best)), table


def gaussian_bandwidths(sq: torch.Tensor, dims: Sequence[int]) -> tuple[float, ...]:
    """Maximum-likelihood isotropic bandwidth of each block for a Gaussian at a point prediction.

    sq: block distances (K, 1, B) (or (1, B)) of the prediction; h_k^2 = mean_b d_kb / D_k.
    Fitting this on the test data gives the regressor's likelihood upper bound.
    """
    sq = _as_blocks(sq)
    if sq.shape[1] != 1:
        raise ValueError(f"a Gaussian at a point prediction has one sample, got {sq.shape[1]}")
    return tuple(math.sqrt(float(sq[k, 0].mean()) / dims[k]) for k in range(sq.shape[0]))


def gaussian_samples(
    means: Sequence[torch.Tensor],
    bandwidths: Sequence[float],
    n: int,
    generator: torch.Generator | None = None,
) -> list[torch.Tensor]:
    """n draws of N(mean_k, h_k^2 I) per block: means [(B, ...)] -> [(n, B, ...)] (the sampled regressor)."""
    out = []
    for mean, h in zip(means, bandwidths):
        noise = torch.randn((n, *mean.shape), generator=generator, dtype=torch.float32).to(mean.device)
        out.append(mean[None] + h * noise)
    return out


def best_of_n(sq: torch.Tensor, ns: Sequence[int]) -> np.ndarray:
    """Per image, the distance of the closest of the first n samples, for each n: (len(ns), B).

    sq: squared distances (N, B) in the space compared (sum the blocks for the full vector).
    Kept per image so a table can put a bootstrap interval on the curve's points.
    """
    if sq.dim() != 2:
        raise ValueError(f"best_of_n takes (N, B) squared distances, got {tuple(sq.shape)}")
    if max(ns) > sq.shape[0]:
        raise ValueError(f"curve asks for {max(ns)} samples but only {sq.shape[0]} were drawn")
    best = torch.cummin(sq, dim=0).values.clamp_min(0).sqrt()  # (N, B)
    return best[[n - 1 for n in ns]].numpy()


def min_euclidean_curve(sq: torch.Tensor, ns: Sequence[int]) -> np.ndarray:
    """Mean over images of the distance of the closest of the first n samples, for each n in ns.

    sq: squared distances (N, B) in the space compared (sum the blocks for the full vector).
    """
    return best_of_n(sq, ns).mean(axis=1)

"""walker's Figs. 3, 4 and 6 data: a few THUMOS test frames, the CVAE's samples for each clustered
by k-means (the paper: 800 samples into 10 clusters), and the futures along the latent segment
between two of the clusters, saved as one Zarr group the figures are drawn from."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.cluster import KMeans

from pipeline.batches import item_table, read_rows
from pipeline.papers.walker.data import walker_data
from pipeline.papers.walker.model import build_walker, downsample_trajectories, join_magnitude
from pipeline.saved_models import load_model
from pipeline.shards import open_shard, write_shard
from pipeline.training import resolve_device


def example_rows(table: Any, rows: np.ndarray, n: int) -> np.ndarray:
    """Up to n test rows, one per action class in turn (the first clip of each class first)."""
    sub = table.iloc[rows].assign(row=rows)
    picks: list[int] = []
    groups = [g["row"].to_numpy() for _, g in sub.groupby("label", sort=True)]
    depth = 0
    while len(picks) < min(n, len(rows)):
        for g in groups:
            if depth < len(g) and len(picks) < n:
                picks.append(int(g[depth]))
        depth += 1
    return np.asarray(picks, np.int64)


def cluster_samples(samples: np.ndarray, k: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """k-means of samples (n, D) -> centres (k, D), sizes (k,) (fractions), largest first."""

    k = min(k, len(samples))
    km = KMeans(n_clusters=k, n_init=4, random_state=seed).fit(samples)
    sizes = np.bincount(km.labels_, minlength=k) / len(samples)
    order = np.argsort(-sizes, kind="stable")
    return km.cluster_centers_[order].astype(np.float32), sizes[order]


def shown_clusters(centres: np.ndarray, sizes: np.ndarray, shown: int, significant: float = 0.5) -> np.ndarray:
    """The largest clusters "with significant motion": RMS motion >= ``significant`` x the largest's."""
    energy = np.sqrt((centres**2).mean(axis=1))
    moving = np.flatnonzero(energy >= significant * energy.max())
    rest = [i for i in range(len(sizes)) if i not in set(moving)]
    return np.asarray((list(moving) + rest)[:shown], np.int64)  # sizes are sorted: moving keeps that order


def interpolation_ends(samples: np.ndarray, centres: np.ndarray, shown: np.ndarray) -> np.ndarray:
    """Indices of the two samples (n, D) nearest the centres of the first two shown clusters: the
    latent points Fig. 6 walks between (from one predicted motion to another)."""
    picks = [int(np.argmin(((samples - centres[c]) ** 2).sum(axis=1))) for c in shown[:2]]
    return np.asarray(picks if len(picks) == 2 else picks * 2, np.int64)


def interpolate_latents(a: torch.Tensor, b: torch.Tensor, steps: int) -> torch.Tensor:
    """Points evenly spaced on the segment from a to b (both (d,)), ends included: (steps, d)."""
    t = torch.linspace(0.0, 1.0, steps)[:, None]
    return (1 - t) * a[None] + t * b[None]


def cvae_examples(
    model_path: Path,
    mean_image: Path,
    test_summary: Path,
    sizes: Mapping[str, Any],
    seed: int,
    device: str,
    out: Path,
) -> Path:
    """Figs. 3, 4 and 6 data: for a few test frames, the CVAE's samples at its finest head clustered
    by k-means, and the futures along the line between the latents of the two largest moving clusters."""

    e = sizes["examples"]
    dev = resolve_device(device)
    model = load_model(Path(model_path), build_walker).to(dev)
    cfg = model.cfg
    level = cfg.fine_levels
    test = walker_data(test_summary, mean_image)
    table = item_table(test.paths)
    rows = example_rows(table, test.rows["test"], int(e["images"]))
    generator = torch.Generator().manual_seed(seed)
    n, steps = int(e["samples"]), int(e["interpolation_steps"])
    truths, centres, fractions, shown, walks, ends = [], [], [], [], [], []
    for row in rows:
        image, dct = test.dataset[int(row)]
        image_t, dct_t = torch.from_numpy(image[None]), torch.from_numpy(dct[None])
        z, z_mag = model.draw_latents(n, 1, generator)  # (n, 1, d)
        ynorm, mag = model.decode_latents(image_t, z, z_mag, chunk=n, level=level)
        samples = join_magnitude(ynorm, mag)[:, 0].cpu().numpy()  # (n, 10, h, w)
        flat = samples.reshape(n, -1)
        c, f = cluster_samples(flat, int(e["clusters"]), seed)
        picked = shown_clusters(c, f, int(e["shown"]))
        i, j = interpolation_ends(flat, c, picked)
        line_z = interpolate_latents(z[i, 0], z[j, 0], steps)[:, None]  # (steps, 1, d)
        line_m = interpolate_latents(z_mag[i, 0], z_mag[j, 0], steps)[:, None]
        walks.append(join_magnitude(*model.decode_latents(image_t, line_z, line_m, chunk=steps, level=level))[:, 0]
                     .cpu().numpy())  # (steps, 10, h, w)
        ends.append(torch.cat([z[[i, j], 0], z_mag[[i, j], 0]], dim=1).numpy())  # (2, d + m)
        centres.append(c.reshape(len(c), *samples.shape[1:]))
        fractions.append(f)
        shown.append(picked)
        truths.append(downsample_trajectories(dct_t, cfg, level)[0].numpy())
    images = read_rows(test.paths, table, rows, "image")
    k = min(len(c) for c in centres)
    arrays = {
        "image": images,  # (E, H, W, 3) uint8
        "truth": np.stack(truths),  # (E, 10, h, w)
        "centres": np.stack([c[:k] for c in centres]),  # (E, k, 10, h, w), largest cluster first
        "fractions": np.stack([f[:k] for f in fractions]).astype(np.float32),  # (E, k)
        "shown": np.stack(shown),  # (E, shown) cluster indices drawn
        "interpolation": np.stack(walks).astype(np.float32),  # (E, steps, 10, h, w), Fig. 6
        "interpolation_latents": np.stack(ends).astype(np.float32),  # (E, 2, latent + magnitude latent)
        "label": np.asarray(table["label"].to_numpy()[rows]),
    }
    attrs = {"level": level, "grid": list(cfg.level_size(level)), "margin": list(cfg.margin),
             "image_size": list(cfg.image_size), "samples": n, "clusters": k,
             "labels": list(open_shard(test.paths[0]).attrs.get("labels", [])),
             "interpolation": "linear in (z, z_mag) between the samples nearest the first two shown cluster centres"}
    return write_shard(out, arrays, attrs)

"""Figures of the svg paper, drawn only from saved evaluation outputs.

Fig. 7 (SM-MNIST, KTH) and Fig. 8 (BAIR): per-frame SSIM / PSNR curves with 95% CI bands, read
from the curve tables of ``pipeline.papers.svg.metrics``; Fig. 5: velocity distributions after a
bounce; Fig. 6: the learned prior's sigma against true collisions; sample GIFs (truth, best
and random samples) from the saved example frames.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from pipeline.atomic import save_figure
from pipeline.gifs import sample_gif
from pipeline.papers.svg.spec import CURVE_COLUMNS, EXAMPLE_ROWS  # noqa: E402
from pipeline.shards import open_shard

_METRIC_LABELS = {"ssim": "SSIM", "psnr": "PSNR (dB)"}
_MODEL_ORDER = ("lp", "fp", "deterministic", "copylast")
_MODEL_LABELS = {"lp": "SVG-LP", "fp": "SVG-FP", "deterministic": "Deterministic", "copylast": "Copy last frame"}


def _read(path: str | Path, columns: Sequence[str]) -> pd.DataFrame:
    table = pd.read_csv(path)
    missing = set(columns) - set(table.columns)
    if missing:
        raise ValueError(f"{path}: missing columns {sorted(missing)} (has {list(table.columns)})")
    return table


def _save(fig: plt.Figure, out_path: str | Path) -> Path:
    save_figure(fig, out_path, dpi=120, bbox_inches="tight")
    plt.close(fig)
    return Path(out_path)


def plot_curves(
    csv_path: str | Path, out_path: str | Path, metrics: Sequence[str], title: str
) -> Path:
    """One panel per metric: mean per frame, CI band, dashed bar at the training horizon."""
    table = _read(csv_path, CURVE_COLUMNS)
    models = sorted(table["model"].unique(), key=lambda m: (_MODEL_ORDER.index(m) if m in _MODEL_ORDER else 99, m))
    fig, axes = plt.subplots(1, len(metrics), figsize=(5 * len(metrics), 3.8), squeeze=False)
    for ax, metric in zip(axes[0], metrics):
        part = table[table["metric"] == metric]
        if part.empty:
            raise ValueError(f"{csv_path}: no rows for metric {metric!r}")
        for model in models:
            rows = part[part["model"] == model].sort_values("frame")
            if rows.empty:
                continue
            style = {"color": "0.4", "linestyle": ":"} if model == "copylast" else {}
            line = ax.plot(rows["frame"], rows["mean"], label=_MODEL_LABELS.get(model, model), **style)[0]
            ax.fill_between(rows["frame"], rows["ci_low"], rows["ci_high"], alpha=0.25, color=line.get_color())
        for horizon in part["train_horizon"].unique():
            ax.axvline(horizon, color="k", linestyle="--", linewidth=1)
        ax.set_xlabel("frame")
        ax.set_ylabel(_METRIC_LABELS.get(metric, metric))
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle(title)
    return _save(fig, out_path)


def smmnist_ssim_figure(csv_path: str | Path, out_path: str | Path) -> Path:
    """Fig. 7 left: SM-MNIST, conditioned on 5 frames."""
    return plot_curves(csv_path, out_path, ["ssim"], "SM-MNIST: best-of-N SSIM per frame (95% CI)")


def kth_ssim_figure(csv_path: str | Path, out_path: str | Path) -> Path:
    """Fig. 7 right: KTH, conditioned on 10 frames."""
    return plot_curves(csv_path, out_path, ["ssim"], "KTH: best-of-N SSIM per frame (95% CI)")


def bair_ssim_psnr_figure(csv_path: str | Path, out_path: str | Path) -> Path:
    """Fig. 8: BAIR, conditioned on 2 frames, SSIM and PSNR."""
    return plot_curves(csv_path, out_path, ["ssim", "psnr"], "BAIR: best-of-N SSIM and PSNR per frame (95% CI)")


def velocity_figure(csv_path: str | Path, out_path: str | Path, steps: Sequence[int] | None = None) -> Path:
    """Fig. 5: per trajectory, the (dx, dy) distribution per step of SVG-LP samples (upper row)
    and of the truth (lower row); the column of the step the digit hits the wall is marked."""
    table = _read(csv_path, ["source", "step", "dx", "dy", "probability"])
    if "trajectory" not in table:
        table = table.assign(trajectory=0)
    steps = sorted(table["step"].unique()) if steps is None else list(steps)
    trajectories = sorted(table["trajectory"].unique())
    lim = int(max(table["dx"].abs().max(), table["dy"].abs().max(), 1))
    fig, axes = plt.subplots(2 * len(trajectories), len(steps), figsize=(1.2 * len(steps), 2.6 * len(trajectories)),
                             squeeze=False)
    for k, trajectory in enumerate(trajectories):
        part_k = table[table["trajectory"] == trajectory]
        hit = int(part_k["first_bounce_frame"].iloc[0]) if "first_bounce_frame" in part_k else None
        for col, step in enumerate(steps):
            for r, source in enumerate(("model", "truth")):
                grid = np.zeros((2 * lim + 1, 2 * lim + 1))
                part = part_k[(part_k["source"] == source) & (part_k["step"] == step)]
                grid[part["dy"].to_numpy() + lim, part["dx"].to_numpy() + lim] = part["probability"].to_numpy()
                ax = axes[2 * k + r, col]
                ax.imshow(grid, origin="lower", extent=(-lim - 0.5, lim + 0.5, -lim - 0.5, lim + 0.5), cmap="viridis")
                ax.set_xticks([])
                ax.set_yticks([])
                if step == hit:  # the motion from the wall-hit frame on is the first random one
                    for spine in ax.spines.values():
                        spine.set_color("tab:red")
                        spine.set_linewidth(2)
                if r == 0:
                    ax.set_title(f"t={step}", fontsize=7)
                if col == 0:
                    name = "SVG-LP" if source == "model" else "truth"
                    ax.set_ylabel(f"{name}\n(hit at {hit})" if hit is not None else name, fontsize=7)
    fig.suptitle(r"digit velocity $(\Delta x, \Delta y)$ per step, one pair of rows per trajectory "
                 "(red: the step from the wall hit)", fontsize=9)
    return _save(fig, out_path)


def prior_sigma_figure(sigma_csv: str | Path, collisions_csv: str | Path, out_path: str | Path) -> Path:
    """Fig. 6: mean +- std of the learned prior's sigma, vertical lines at true wall hits."""
    sig = _read(sigma_csv, ["frame", "sigma_mean", "sigma_std"])
    hits = _read(collisions_csv, ["digit", "frame"])
    fig, ax = plt.subplots(figsize=(9, 3))
    ax.plot(sig["frame"], sig["sigma_mean"], color="k", label=r"mean $\sigma_\psi$")
    ax.fill_between(
        sig["frame"], sig["sigma_mean"] - sig["sigma_std"], sig["sigma_mean"] + sig["sigma_std"], color="0.7"
    )
    colors = ("tab:red", "tab:blue", "tab:green", "tab:purple")
    for digit, rows in hits.groupby("digit"):
        for i, frame in enumerate(rows["frame"]):
            ax.axvline(frame, color=colors[int(digit) % len(colors)], linewidth=1,
                       label=f"digit {int(digit) + 1} hits a wall" if i == 0 else None)
    ax.set_xlabel("frame")
    ax.set_ylabel(r"$\sigma_\psi$")
    ax.legend(fontsize=8, loc="upper right")
    return _save(fig, out_path)


def curve_figure(dataset: str, table: str | Path, out: str | Path) -> Path:
    """Fig. 7 left / right or Fig. 8 from the dataset's table."""

    draw = {"smmnist": smmnist_ssim_figure, "kth": kth_ssim_figure,
            "bair": bair_ssim_psnr_figure}[dataset]
    return draw(table, out)


def write_gifs(examples: str | Path, outs: Sequence[str | Path]) -> list[Path]:
    """One GIF per saved example sequence (truth, approximate posterior, best and random samples side by side)."""

    group = open_shard(examples)
    frames = group["frames"]  # (K, R, T, H, W, C)
    if len(outs) > frames.shape[0]:
        raise ValueError(f"{examples} holds {frames.shape[0]} example sequences, {len(outs)} GIFs asked")
    labels = list(group.attrs.get("rows", EXAMPLE_ROWS))
    return [sample_gif(np.asarray(frames[k]), int(group.attrs["n_cond"]), out, labels) for k, out in enumerate(outs)]




def rollout_figures(rollout: str | Path, out_png: str | Path, out_gif: str | Path, every: int) -> list[Path]:
    """Fig. 11 from a rollout shard: per sequence the truth (as long as the test sequence) above
    the generated frames, the conditioning frames then one frame every ``every``; and a GIF of
    the whole rollouts beside the truth (black once the truth's frames run out)."""

    group = open_shard(rollout)
    video, truth = np.asarray(group["frames"][:]), np.asarray(group["truth"][:])  # (N, T, H, W, C)
    n_cond = int(group.attrs["n_cond"])
    total = video.shape[1]
    columns = list(range(n_cond)) + list(range(n_cond - 1 + every, total, every))
    n = len(video)
    fig, axes = plt.subplots(2 * n, len(columns), figsize=(0.9 * len(columns), 1.0 * 2 * n), squeeze=False)
    for i in range(n):
        for col, t in enumerate(columns):
            for r, (name, clip) in enumerate((("truth", truth[i]), ("SVG-LP", video[i]))):
                ax = axes[2 * i + r, col]
                ax.set_xticks([])
                ax.set_yticks([])
                if t < len(clip):
                    frame = clip[t]
                    ax.imshow(frame[..., 0] if frame.shape[-1] == 1 else frame, cmap="gray", vmin=0, vmax=255)
                else:
                    ax.axis("off")
                if i == 0 and r == 0:
                    ax.set_title(f"t={t + 1}", fontsize=7)
                if col == 0:
                    ax.set_ylabel(name, fontsize=7)
    fig.suptitle(f"{group.attrs['dataset']}: SVG-LP {group.attrs['steps']} steps after {n_cond} conditioning frames",
                 fontsize=9)
    png = _save(fig, out_png)
    padded = np.zeros_like(video)
    padded[:, : truth.shape[1]] = truth[:, :total]
    rows = np.stack([padded, video], axis=1).reshape(2 * n, *video.shape[1:])  # truth 1, SVG-LP 1, truth 2, ...
    labels = [f"{name} {i + 1}" for i in range(n) for name in ("truth", "SVG-LP")]
    gif = sample_gif(rows, n_cond, out_gif, labels, scale=1, truth_rows=range(0, 2 * n, 2))
    return [png, gif]

"""vgan's figures: generations beside real clips, the two-stream model's streams, training curves.

Each is drawn from files earlier jobs saved (the samples shards of ``evaluate.write_samples``,
the training logs beside the weights, the stabilized real clips), so one figure regenerates alone.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from pipeline.atomic import save_figure
from pipeline.gifs import sample_gif
from pipeline.papers.vgan.samples import COMPARE, read_samples
from pipeline.papers.vgan.spec import NAMES
from pipeline.shards import open_shard


def _strip(frames: np.ndarray, k: int) -> np.ndarray:
    """``k`` evenly spaced frames of a clip (T, H, W, C) side by side -> (H, k*W, C)."""
    picks = np.linspace(0, len(frames) - 1, k).round().astype(int)
    return np.concatenate(list(frames[picks]), axis=1)


def generations_figure(samples: Mapping[str, Path], real_frames: np.ndarray, path: str | Path,
                       n: int = 4, k: int = 6, scene: str | None = None) -> Path:
    """Fig. 2 of the paper (generations): ``n`` clips of each model and of real video, ``k`` frames each, one row a clip
    (``scene``: the scene the models and real clips are of, named in the titles)."""
    where = f", scene {scene}" if scene else ""
    sources = {NAMES[v] + where: read_samples(p)[:n] for v, p in samples.items()}
    sources["real" + where] = np.asarray(real_frames)[:n]
    rows = sum(len(f) for f in sources.values())
    fig = Figure(figsize=(1.1 * k, 1.15 * rows), dpi=100, layout="constrained")
    axes = np.atleast_1d(fig.subplots(rows, 1))
    i = 0
    for name, clips in sources.items():
        for j, clip in enumerate(clips):
            axes[i].imshow(_strip(clip, k))
            axes[i].set_axis_off()
            if j == 0:
                axes[i].set_title(f"{name} (frames left to right in time)", fontsize=8, loc="left")
            i += 1
    return save_figure(fig, path)


def streams_figure(twostream_samples: Path, path: str | Path, n: int = 4, k: int = 6) -> Path:
    """Fig. 3 of the paper (streams): the two-stream model's static background, foreground, mask (white = foreground) and video."""
    video = read_samples(twostream_samples)[:n]
    foreground = read_samples(twostream_samples, COMPARE, "foreground")[:n]
    mask = read_samples(twostream_samples, COMPARE, "mask")[:n]  # (n, T, H, W) uint8
    background = read_samples(twostream_samples, COMPARE, "background")[:n]  # (n, H, W, 3)
    fig = Figure(figsize=(1.1 * (k + 1), 1.2 * 3 * len(video)), dpi=100, layout="constrained")
    axes = fig.subplots(3 * len(video), 2, width_ratios=[1, k], squeeze=False)
    for i in range(len(video)):
        for r, (name, clip) in enumerate((("video", video[i]), ("foreground", foreground[i]),
                                          ("mask", np.repeat(mask[i][..., None], 3, axis=-1)))):
            ax_b, ax = axes[3 * i + r]
            ax.imshow(_strip(clip, k))
            ax.set_title(name, fontsize=7, loc="left")
            ax_b.imshow(background[i] if r == 0 else np.ones_like(background[i]) * 255)
            if r == 0:
                ax_b.set_title("background", fontsize=7)
            for a in (ax, ax_b):
                a.set_axis_off()
    return save_figure(fig, path)


def training_figure(model_dirs: Mapping[str, Path], path: str | Path) -> Path:
    """GAN losses (D's mean cross-entropy, G's adversarial term) and D's accuracy; the AE's reconstruction."""
    fig = Figure(figsize=(12, 3.4), dpi=100, layout="constrained")
    ax_loss, ax_acc, ax_ae = fig.subplots(1, 3)
    for i, (variant, folder) in enumerate(model_dirs.items()):
        log = pd.read_csv(Path(folder) / "log.csv")
        colour, name = f"C{i}", NAMES[variant]
        if variant == "ae":
            ax_ae.plot(log["step"], log["reconstruction"], color=colour, label=name)
            continue
        ax_loss.plot(log["step"], log["loss_d"], color=colour, label=f"{name} D")
        ax_loss.plot(log["step"], log["loss_g"], color=colour, ls="--", label=f"{name} G")
        ax_acc.plot(log["step"], 100 * log["d_real_accuracy"], color=colour, label=f"{name} real")
        ax_acc.plot(log["step"], 100 * log["d_fake_accuracy"], color=colour, ls="--", label=f"{name} generated")
    ax_loss.set(xlabel="step", ylabel="cross-entropy", title="GAN losses")
    ax_acc.set(xlabel="step", ylabel="%", title="discriminator accuracy")
    ax_ae.set(xlabel="step", ylabel="mean squared error", title="autoencoder reconstruction")
    for ax in (ax_loss, ax_acc, ax_ae):
        ax.legend(fontsize=7)
        ax.grid(alpha=0.3)
    return save_figure(fig, path)


def action_data_figure(data_csv: Path, accuracy_csv: Path, path: str | Path) -> Path:
    """Fig. 4b/c: accuracy against labelled training videos (random init, fine-tuned D and the most
    frequent class of the same labels, 95% intervals; chance dotted) and the fine-tuned model's relative gain."""
    curve = pd.read_csv(data_csv)
    flat = pd.read_csv(accuracy_csv).set_index("row")["ours"]
    fig = Figure(figsize=(9, 3.4), dpi=100, layout="constrained")
    ax_acc, ax_gain = fig.subplots(1, 2)
    for i, (row, part) in enumerate(curve.groupby("row", sort=False)):
        part = part.sort_values("labelled_videos")
        x = part["labelled_videos"]
        ax_acc.plot(x, part["ours"], "o-", color=f"C{i}", label=row)
        ax_acc.fill_between(x, part["low"], part["high"], color=f"C{i}", alpha=0.2)
        gain = part["relative_gain"].dropna()
        if len(gain):
            ax_gain.plot(part.loc[gain.index, "labelled_videos"], gain, "o-", color=f"C{i}", label=row)
    if "chance" in flat.index and pd.notna(flat["chance"]):
        ax_acc.axhline(flat["chance"], color="0.4", ls=":", label="chance")
    ax_gain.axhline(1.0, color="0.4", ls=":", label="no gain")
    ax_acc.set(xscale="log", xlabel="labelled training videos", ylabel="test accuracy (%)",
               title="(b) accuracy vs labelled data")
    ax_gain.set(xscale="log", xlabel="labelled training videos", ylabel="fine-tune / random init",
                title="(c) relative gain")
    for ax in (ax_acc, ax_gain):
        ax.legend(fontsize=7)
        ax.grid(alpha=0.3)
    return save_figure(fig, path)


def flow_histogram_figure(motion_csv: Path, path: str | Path) -> Path:
    """Flow-magnitude histograms of real and generated clips (share of pixels per bin), side by side."""
    table = pd.read_csv(motion_csv).dropna(subset=["ours"])
    names = list(dict.fromkeys(table["row"]))
    fig = Figure(figsize=(9, 3.6), dpi=100, layout="constrained")
    ax = fig.subplots()
    labels = [c.removesuffix(" px/frame") for c in table[table["row"] == names[0]]["column"]]
    width = 0.8 / len(names)
    for i, name in enumerate(names):
        part = table[table["row"] == name]
        ax.bar(np.arange(len(part)) + (i - (len(names) - 1) / 2) * width, 100 * part["ours"], width,
               color="0.2" if name == "real" else f"C{i}",
               label=f"{name} (mean {part['mean_magnitude'].iloc[0]:.2f} px/frame)")
    ax.set_xticks(np.arange(len(labels)), labels, fontsize=8)
    ax.set(xlabel="flow magnitude (pixels per frame)", ylabel="% of pixels", yscale="log",
           title="optical-flow magnitudes of real and generated clips")
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3, axis="y")
    return save_figure(fig, path)


def generations_gif(samples: Mapping[str, Path], real_frames: np.ndarray, path: str | Path, n: int = 2) -> Path:
    """The clips of Fig. 2 playing: ``n`` of each model (red border) beside ``n`` real ones (green)."""
    rows = [np.asarray(real_frames)[:n]] + [read_samples(p)[:n] for p in samples.values()]
    labels = ["real"] * len(rows[0]) + [NAMES[v] for v, r in zip(samples, rows[1:], strict=True) for _ in r]
    return sample_gif(np.concatenate(rows), 0, path, labels, truth_rows=range(len(rows[0])))


def streams_gif(twostream_samples: Path, path: str | Path, n: int = 2) -> Path:
    """Fig. 3 playing: per sample the video, its foreground, its mask and its static background."""
    video = read_samples(twostream_samples)[:n]
    foreground = read_samples(twostream_samples, COMPARE, "foreground")[:n]
    mask = np.repeat(read_samples(twostream_samples, COMPARE, "mask")[:n, ..., None], 3, axis=-1)
    background = np.repeat(read_samples(twostream_samples, COMPARE, "background")[:n, None], video.shape[1], axis=1)
    tiles = [x for i in range(len(video)) for x in (video[i], foreground[i], mask[i], background[i])]
    labels = [name for _ in range(len(video)) for name in ("video", "foreground", "mask", "background")]
    return sample_gif(np.stack(tiles), 0, path, labels, truth_rows=())


def futures_figure(futures: Path, path: str | Path, n: int = 4, k: int = 6) -> Path:
    """Fig. 5: per static input frame its real continuation (top) and the generated future (below)."""
    group = open_shard(futures)
    real, generated = np.asarray(group["real"][:n]), np.asarray(group["frames"][:n])
    fig = Figure(figsize=(1.1 * k, 2.4 * len(real)), dpi=100, layout="constrained")
    axes = np.atleast_1d(fig.subplots(2 * len(real), 1))
    for i in range(len(real)):
        for r, (name, clip) in enumerate((("real continuation of the input frame", real[i]),
                                          ("generated future of the first frame alone", generated[i]))):
            ax = axes[2 * i + r]
            ax.imshow(_strip(clip, k))
            ax.set_axis_off()
            ax.set_title(name, fontsize=7, loc="left")
    fig.suptitle(f"first-frame L1 {group.attrs['first_frame_l1']:.3f} (another clip's first frame: "
                 f"{group.attrs['other_clip_first_frame_l1']:.3f}), values in [-1, 1]", fontsize=8)
    return save_figure(fig, path)


def futures_gif(futures: Path, path: str | Path, n: int = 2) -> Path:
    """Fig. 5 playing: real continuations (green) beside the futures generated from their first frames (red)."""
    group = open_shard(futures)
    real, generated = np.asarray(group["real"][:n]), np.asarray(group["frames"][:n])
    tiles = np.stack([x for i in range(len(real)) for x in (real[i], generated[i])])
    labels = [name for _ in range(len(real)) for name in ("real", "future")]
    return sample_gif(tiles, 1, path, labels, truth_rows=range(0, len(tiles), 2))

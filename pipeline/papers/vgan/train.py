"""How the three models of Table 1 train: two GANs and the autoencoder, then its GMM.

Each is a ``Trainable`` of ``gan.py`` handed to the project's one loop (``pipeline.training.fit``),
which checkpoints, resumes and logs it; only the choice of networks and schedule is here. The
autoencoder baseline is two stages (paper Sec. 3.1): the autoencoder, then a Gaussian mixture
over its codes of the training clips, written beside ``model.pt`` as ``gmm.npz`` (plain arrays,
no pickled estimator). TensorBoard shows sample frames during training (``preview``).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from pipeline.atomic import write_with
from pipeline.papers.vgan.data import VganClips, training_batches, vgan_clips
from pipeline.papers.vgan.gan import (
    AutoencoderObjective,
    CodeGMM,
    VideoGAN,
    encode_clips,
)
from pipeline.papers.vgan.model import (
    Autoencoder,
    Discriminator,
    FutureGenerator,
    Generator,
    VGANConfig,
)
from pipeline.papers.vgan.spec import FUTURE, parse_variant
from pipeline.training import TrainConfig, TrainingJob, fit

log = logging.getLogger(__name__)

GMM_NAME = "gmm.npz"
"""The AE baseline's code mixture, beside its model.pt."""


def model_config(variant: str, clips: VganClips, sizes: Mapping[str, Any]) -> VGANConfig:
    """The networks of ``variant`` for the clips' size; the AE's decoder is the two-stream generator,
    the future generator is two-stream at its own base width (``main_conditional.lua``: 128)."""
    model = sizes["model"]
    base = int(sizes["future"]["base"]) if variant == FUTURE else VGANConfig.base
    return VGANConfig(z_dim=int(model["z_dim"]), frames=clips.frames, size=clips.size, base=base,
                      width=float(model["width"]), two_stream=variant != "onestream")


def build_generator(config: Mapping[str, Any]) -> Generator:
    """A generator from a saved ``model_config`` (for ``pipeline.saved_models.load_model``)."""
    return Generator(VGANConfig(**config))


def build_future_generator(config: Mapping[str, Any]) -> FutureGenerator:
    return FutureGenerator(VGANConfig(**config))


def build_autoencoder(config: Mapping[str, Any]) -> Autoencoder:
    return Autoencoder(VGANConfig(**config))


def preview_grid(clips: torch.Tensor, frames: int = 4) -> np.ndarray:
    """``frames`` evenly spaced frames of each clip (N, T, C, H, W) -> one image per clip (N, H, k*W, C) uint8."""
    t = clips.shape[1]
    picks = np.linspace(0, t - 1, min(frames, t)).round().astype(int)
    x = clips[:, picks].detach().cpu().float()  # (N, k, C, H, W)
    x = torch.cat(list(x.unbind(1)), dim=-1)  # (N, C, H, k*W)
    return ((x.clamp(-1, 1) + 1) * 127.5).round().byte().permute(0, 2, 3, 1).numpy()


def train_config(train: Mapping[str, Any]) -> TrainConfig:
    return TrainConfig(steps=int(train["steps"]), checkpoint_every=int(train["checkpoint_every"]),
                       log_every=int(train["log_every"]), preview_every=int(train.get("preview_every", 0)))


def train_gan(cfg: VGANConfig, clips: VganClips, job: TrainingJob) -> Path:
    """The game of Eq. 1 (Eq. 3 for the future generator) with the paper's Adam and mask prior,
    batches a function of (seed, step)."""
    train = job.sizes["train"]
    torch.manual_seed(job.seed)  # the initial weights are a function of the seed
    if job.variant == FUTURE:
        future = job.sizes["future"]
        gan = VideoGAN(FutureGenerator(cfg), Discriminator(cfg), lr=float(train["lr"]), beta1=float(train["beta1"]),
                       mask_penalty=0.0, first_frame_weight=float(future["first_frame_weight"]),
                       first_frame_norm=str(future["first_frame_norm"]))
        shown = torch.stack([torch.from_numpy(clips.dataset[int(r)]) for r in clips.rows["train"][:4]])
    else:
        gan = VideoGAN(Generator(cfg), Discriminator(cfg), lr=float(train["lr"]), beta1=float(train["beta1"]),
                       mask_penalty=float(train["mask_penalty"]) if cfg.two_stream else 0.0,
                       average=float(train.get("average", 0.0)))

    def preview() -> dict[str, np.ndarray]:
        if job.variant == FUTURE:
            return {"futures": preview_grid(torch.cat([shown, gan.predict(shown[:, 0]).cpu()]))}
        return {"samples": preview_grid(gan.sample(4, seed=job.seed))}

    batches = training_batches(clips, int(train["batch_size"]), job.seed, int(train.get("workers", 0)))
    log.info("vgan %s: %d training clips of %d frames at %dx%d, %s", job.variant, len(clips.rows["train"]),
             cfg.frames, cfg.size, cfg.size, cfg)
    return fit(gan, batches, train_config(train), job, dataclasses.asdict(cfg), preview=preview)


def train_autoencoder(cfg: VGANConfig, clips: VganClips, job: TrainingJob) -> Path:
    """The baseline: the autoencoder, then ``gmm.npz`` over the codes of every training clip."""
    if len(clips.rows["train"]) < 2:  # found before training, not after
        raise ValueError(f"vgan {job.variant}: the AE baseline's Gaussian mixture needs at least 2 training clips, "
                         f"got {len(clips.rows['train'])}: use more videos (of this scene) or smaller hold-out fractions")
    train = job.sizes["train"]
    torch.manual_seed(job.seed)
    autoencoder = Autoencoder(cfg)
    objective = AutoencoderObjective(autoencoder, lr=float(train["lr"]), beta1=float(train["beta1"]))
    shown = clips.rows["train"][:2]

    def preview() -> dict[str, np.ndarray]:
        real = torch.stack([torch.from_numpy(clips.dataset[int(r)]) for r in shown])
        device = next(autoencoder.parameters()).device
        recon = autoencoder(real.permute(0, 2, 1, 3, 4).to(device)).permute(0, 2, 1, 3, 4).cpu()
        return {"reconstructions": preview_grid(torch.cat([real, recon]))}

    batches = training_batches(clips, int(train["batch_size"]), job.seed, int(train.get("workers", 0)))
    model_path = fit(objective, batches, train_config(train), job, dataclasses.asdict(cfg), preview=preview)
    fit_code_gmm(autoencoder, clips, int(job.sizes["gmm"]["components"]), job.seed, model_path.parent / GMM_NAME)
    return model_path


def fit_code_gmm(autoencoder: Autoencoder, clips: VganClips, components: int, seed: int, out: Path) -> CodeGMM:
    """Encode the training clips (a batch at a time: at paper scale they do not fit in memory) and fit the GMM."""
    rows = clips.rows["train"]
    codes = [encode_clips(autoencoder, torch.stack([torch.from_numpy(clips.dataset[int(r)]) for r in chunk]))
             for chunk in np.array_split(rows, max(1, len(rows) // 64))]
    gmm = CodeGMM.fit(np.concatenate(codes), min(components, len(rows)), seed)
    write_with(out, lambda handle: np.savez(handle, **gmm.state()), mode="wb")
    log.info("vgan ae: GMM of %d components over %d codes -> %s", len(gmm.weights), len(rows), out)
    return gmm


def load_gmm(path: Path) -> CodeGMM:
    """The AE baseline's mixture written by :func:`fit_code_gmm`."""
    if not Path(path).is_file():
        raise FileNotFoundError(f"no GMM at {path}: it is written after the autoencoder trains; "
                                "rerun that training job (delete its model.pt)")
    with np.load(path) as state:
        return CodeGMM.from_state(dict(state))


def train(job: TrainingJob) -> Path:
    """Train ``job.variant`` (twostream | onestream | ae | future, the first three also as ``<variant>-<scene>``)
    on the stabilized clips of ``job.dataset`` (of its scene only: ``sizes["data"]["scene"]``)."""
    variant, _ = parse_variant(job.variant)
    clips = vgan_clips(job.inputs["summary"], job.sizes["data"])
    cfg = model_config(variant, clips, job.sizes)
    if variant == "ae":
        return train_autoencoder(cfg, clips, job)
    return train_gan(cfg, clips, job)

"""VGAN objectives: the adversarial game (noise or first-frame conditioned) and the AE + GMM baseline.

Each objective is a ``Trainable`` for the project's one training loop: it names its modules
(saved by name) and its optimizers, and its ``training_step(batch, step)`` does its own
zero_grad/backward/step and returns scalars to log. Batches are clips in the project layout
``(B, T, C, H, W)`` in [-1, 1]; the networks of ``model.py`` see ``(B, C, T, H, W)``.

What the paper leaves open follows the authors' code (cvondrick/videogan):

* ``main.lua``: one D step then one G step per batch, on the same fake batch; D has two
  outputs under a softmax cross-entropy with labels real/fake (``nn.CrossEntropyCriterion``,
  the paper's "numerically stable cross entropy"); G is trained against the *real* label
  (non-saturating); D's gradient is the sum of the real and the fake batch terms (the logged
  ``errD`` is their mean); real and fake go through D as separate batches (own BN statistics).
  One difference: Torch's G step reused D's forward output from before D's update
  (``netD.output``); here G's loss is D's fresh output on the same fake batch, after the update
  (as PyTorch DCGAN ports do), since autograd cannot mix the two weight versions.
* The mask prior is ``nn.L1Penalty(0.1, sizeAverage=true)`` on the mask: 0.1 * mean |m| over
  every element of the batch, added to G's loss only.
* ``main_conditional.lua``: first-frame term ``nn.AbsCriterion`` (L1, mean) times
  ``lambda = 10``, no mask penalty, batch 32. The paper's Eq. 3 writes a squared L2 norm and
  its text an L1 distance; ``first_frame_norm`` offers both, L1 (the code) by default.
* ``generate.lua`` samples with the generator in evaluation mode (BN running statistics).

Not in the paper or its code, opt-in (``average``, 0 = off, the paper's): the generator sampled is
an average of its weights over training (Yazici et al. 2019, "The unusual effectiveness of averaging
in GAN training"), the power-function average of Karras et al. 2024 (EDM2): after step t the
iterates of steps s <= t weigh ~ s^gamma, whose standard deviation over t is ``average`` (EDM2's sigma_rel; 0.29 a
uniform mean over all of training, 0.1 puts 90% of the weight on its last quarter), the same profile whatever the step
count. Batch norm's running statistics are averaged alike. It is the module ``generator_average``;
the game is unchanged: D always plays the live generator.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.mixture import GaussianMixture
from torch import nn

from pipeline.papers.vgan.model import (
    Autoencoder,
    Discriminator,
    FutureGenerator,
    Generator,
)

REAL, FAKE = 0, 1  # D's output classes (the Torch code's labels 1 and 2)
UNIFORM_WIDTH = 12 ** -0.5
"""Relative width of a uniform mean over [0, t] (gamma 0), the widest power-function average."""
AVERAGE_MODULE = "generator_average"
"""The averaged generator's name in ``model.pt`` (``average`` > 0), sampled instead of ``generator``."""


def average_exponent(sigma_rel: float) -> float:
    """The exponent gamma of the power-function average whose relative width is ``sigma_rel``
    (EDM2's ``sigma_rel_to_gamma``: the largest real root of g^3 + 7g^2 + (16 - s^-2)g + 12 - s^-2)."""
    if not 0.0 < sigma_rel <= UNIFORM_WIDTH:
        raise ValueError(f"average (relative width of the generator's weight average) must be in (0, "
                         f"{UNIFORM_WIDTH:.4f}] (that: a uniform mean over training), or 0 for none; got {sigma_rel}")
    t = sigma_rel ** -2
    return float(max(0.0, np.roots([1.0, 7.0, 16.0 - t, 12.0 - t]).real.max()))


def to_network_layout(batch: torch.Tensor) -> torch.Tensor:
    """(B, T, C, H, W) clips of the project -> (B, C, T, H, W) for 3D convolutions."""
    if batch.dim() != 5:
        raise ValueError(f"clips must be (B, T, C, H, W), got {tuple(batch.shape)}")
    return batch.permute(0, 2, 1, 3, 4)


def to_clip_layout(video: torch.Tensor) -> torch.Tensor:
    """(B, C, T, H, W) network output -> (B, T, C, H, W) project clips."""
    return video.permute(0, 2, 1, 3, 4)


def _adam(module: nn.Module, lr: float, beta1: float) -> torch.optim.Adam:
    return torch.optim.Adam(module.parameters(), lr=lr, betas=(beta1, 0.999))


def _device(module: nn.Module) -> torch.device:
    return next(module.parameters()).device


class VideoGAN:
    """The two-player game of Eq. 1 (noise generator) or Eq. 3 (``FutureGenerator``).

    A ``FutureGenerator`` is fed the first frame of each real clip and pays
    ``first_frame_weight`` times the distance between that frame and its first generated frame.
    The authors' future-generation run had no mask prior: pass ``mask_penalty=0`` to match it.
    """

    def __init__(
        self,
        generator: Generator | FutureGenerator,
        discriminator: Discriminator,
        *,
        lr: float = 2e-4,
        beta1: float = 0.5,
        mask_penalty: float = 0.1,
        first_frame_weight: float = 10.0,
        first_frame_norm: str = "l1",
        average: float = 0.0,
    ) -> None:
        if first_frame_norm not in ("l1", "l2"):
            raise ValueError(f"first_frame_norm must be 'l1' or 'l2', got {first_frame_norm!r}")
        self.generator, self.discriminator = generator, discriminator
        self._gamma = average_exponent(average) if average else 0.0
        self.generator_average = copy.deepcopy(generator).requires_grad_(False) if average else None
        self.conditional = isinstance(generator, FutureGenerator)
        self.mask_penalty = mask_penalty
        self.first_frame_weight = first_frame_weight
        self.first_frame_norm = first_frame_norm
        self._optimizers = {
            "generator": _adam(generator, lr, beta1),
            "discriminator": _adam(discriminator, lr, beta1),
        }

    def modules(self) -> dict[str, nn.Module]:
        named = {"generator": self.generator, "discriminator": self.discriminator}
        if self.generator_average is not None:
            named[AVERAGE_MODULE] = self.generator_average
        return named

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return self._optimizers

    @torch.no_grad()
    def _update_average(self, step: int) -> None:
        """Move the average towards the live generator after step ``step`` (0-based): decay
        (1 - 1/(step + 1))^(gamma + 1), so the first step's weights replace the initial ones."""
        decay = (1.0 - 1.0 / (step + 1)) ** (self._gamma + 1)
        live = self.generator.state_dict()
        for name, value in self.generator_average.state_dict().items():
            if value.is_floating_point():
                value.lerp_(live[name], 1.0 - decay)
            else:
                value.copy_(live[name])

    def _generator_input(self, real: torch.Tensor) -> torch.Tensor:
        if self.conditional:
            return real[:, :, 0]  # (B, C, H, W): the first frame x0
        return torch.randn(real.shape[0], self.generator.cfg.z_dim, device=real.device)

    def training_step(self, batch: torch.Tensor, step: int) -> dict[str, float]:
        """One D update then one G update on a batch of real clips (B, T, C, H, W)."""
        G, D = self.generator, self.discriminator
        real = to_network_layout(batch).to(_device(G), torch.float32)  # (B, 3, 32, 64, 64)
        n = real.shape[0]
        out = G.decompose(self._generator_input(real))
        fake = out.video  # (B, 3, 32, 64, 64)
        real_labels = torch.full((n,), REAL, device=real.device)
        fake_labels = torch.full((n,), FAKE, device=real.device)

        opt_d = self._optimizers["discriminator"]
        opt_d.zero_grad(set_to_none=True)
        logits_real = D(real)  # (B, 2)
        logits_fake = D(fake.detach())  # (B, 2)
        loss_real = F.cross_entropy(logits_real, real_labels)
        loss_fake = F.cross_entropy(logits_fake, fake_labels)
        (loss_real + loss_fake).backward()
        opt_d.step()

        opt_g = self._optimizers["generator"]
        opt_g.zero_grad(set_to_none=True)
        D.requires_grad_(False)  # G's step must not leave gradients in D
        try:
            adversarial = F.cross_entropy(D(fake), real_labels)
        finally:
            D.requires_grad_(True)
        loss_g = adversarial
        logs: dict[str, float] = {}
        if out.mask is not None and self.mask_penalty:
            mask_l1 = out.mask.abs().mean()
            loss_g = loss_g + self.mask_penalty * mask_l1
            logs["mask_l1"] = mask_l1.item()
        if self.conditional:
            diff = fake[:, :, 0] - real[:, :, 0]  # (B, 3, 64, 64)
            first = diff.abs().mean() if self.first_frame_norm == "l1" else diff.pow(2).mean()
            loss_g = loss_g + self.first_frame_weight * first
            logs["first_frame"] = first.item()
        loss_g.backward()
        opt_g.step()
        if self.generator_average is not None:
            self._update_average(step)

        with torch.no_grad():
            d_real_acc = (logits_real.argmax(1) == REAL).float().mean()
            d_fake_acc = (logits_fake.argmax(1) == FAKE).float().mean()
        return {
            "loss_d": (loss_real + loss_fake).item() / 2,
            "loss_g": adversarial.item(),
            "d_real_accuracy": float(d_real_acc),
            "d_fake_accuracy": float(d_fake_acc),
            **logs,
        }

    @torch.no_grad()
    def sample(self, n: int, seed: int = 0) -> torch.Tensor:
        """``n`` clips (n, T, C, H, W) from z ~ N(0, I), generator in eval mode (as generate.lua);
        the averaged generator when there is one."""
        if self.conditional:
            raise TypeError("a future generator needs frames: call predict(first_frames)")
        G = self.generator if self.generator_average is None else self.generator_average
        g = torch.Generator().manual_seed(seed)
        z = torch.randn(n, G.cfg.z_dim, generator=g).to(_device(G))
        return _eval_forward(G, z)

    @torch.no_grad()
    def predict(self, first_frames: torch.Tensor) -> torch.Tensor:
        """Futures (n, T, C, H, W) of static frames (n, C, H, W) from a ``FutureGenerator``."""
        if not self.conditional:
            raise TypeError("predict needs a FutureGenerator; sample() draws unconditional clips")
        return _eval_forward(self.generator, first_frames.to(_device(self.generator), torch.float32))


def _eval_forward(net: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Run ``net`` in eval mode and give back clips (B, T, C, H, W), restoring its mode."""
    was_training = net.training
    net.eval()
    try:
        return to_clip_layout(net(x))
    finally:
        net.train(was_training)


class AutoencoderObjective:
    """The baseline's first stage: reconstruct clips through a 100-d code (mean squared error).

    The paper gives no loss or optimiser for the autoencoder; squared error and the GAN's Adam
    settings are used.
    """

    def __init__(self, autoencoder: Autoencoder, *, lr: float = 2e-4, beta1: float = 0.5) -> None:
        self.autoencoder = autoencoder
        self._optimizers = {"model": _adam(autoencoder, lr, beta1)}

    def modules(self) -> dict[str, nn.Module]:
        return {"model": self.autoencoder}

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return self._optimizers

    def training_step(self, batch: torch.Tensor, step: int) -> dict[str, float]:
        x = to_network_layout(batch).to(_device(self.autoencoder), torch.float32)
        opt = self._optimizers["model"]
        opt.zero_grad(set_to_none=True)
        loss = F.mse_loss(self.autoencoder(x), x)
        loss.backward()
        opt.step()
        return {"reconstruction": loss.item()}


@torch.no_grad()
def encode_clips(autoencoder: Autoencoder, clips: torch.Tensor, batch_size: int = 64) -> np.ndarray:
    """Codes (N, z_dim) of clips (N, T, C, H, W), encoder in eval mode."""
    enc = autoencoder.encoder
    was_training = enc.training
    enc.eval()
    try:
        codes = [
            enc(to_network_layout(chunk).to(_device(enc), torch.float32)).cpu()
            for chunk in clips.split(batch_size)
        ]
    finally:
        enc.train(was_training)
    return torch.cat(codes).numpy().astype(np.float64)


@dataclass
class CodeGMM:
    """A Gaussian mixture over autoencoder codes, kept as plain arrays (no pickled estimator)."""

    weights: np.ndarray  # (K,)
    means: np.ndarray  # (K, D)
    covariances: np.ndarray  # (K, D, D)

    @classmethod
    def fit(cls, codes: np.ndarray, components: int = 256, seed: int = 0) -> CodeGMM:
        """Fit ``components`` full-covariance Gaussians (paper: 256) with scikit-learn's EM."""
        codes = np.asarray(codes, dtype=np.float64)
        if codes.ndim != 2 or len(codes) < components:
            raise ValueError(
                f"need codes (N >= {components}, D) for {components} components, got {codes.shape}"
            )
        gmm = GaussianMixture(components, covariance_type="full", random_state=seed).fit(codes)
        return cls(gmm.weights_, gmm.means_, gmm.covariances_)

    def sample(self, n: int, seed: int = 0) -> np.ndarray:
        """``n`` codes (n, D) in random order (scikit-learn's sampler returns them by component)."""
        rng = np.random.default_rng(seed)
        weights = self.weights / self.weights.sum()
        comp = rng.choice(len(weights), size=n, p=weights)  # (n,)
        chol = np.linalg.cholesky(self.covariances)  # (K, D, D)
        eps = rng.standard_normal((n, self.means.shape[1]))  # (n, D)
        return self.means[comp] + np.einsum("nij,nj->ni", chol[comp], eps)

    def state(self) -> dict[str, np.ndarray]:
        return {"weights": self.weights, "means": self.means, "covariances": self.covariances}

    @classmethod
    def from_state(cls, state: dict[str, np.ndarray]) -> CodeGMM:
        return cls(*(np.asarray(state[k], dtype=np.float64) for k in ("weights", "means", "covariances")))


@torch.no_grad()
def sample_autoencoder(
    autoencoder: Autoencoder, gmm: CodeGMM, n: int, seed: int = 0, batch_size: int = 64
) -> torch.Tensor:
    """The baseline's generations: GMM codes through the decoder, clips (n, T, C, H, W)."""
    dec = autoencoder.decoder
    codes = torch.from_numpy(gmm.sample(n, seed)).float().to(_device(dec))
    return torch.cat([_eval_forward(dec, chunk) for chunk in codes.split(batch_size)]).cpu()

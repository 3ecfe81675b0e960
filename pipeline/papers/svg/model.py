"""Stochastic Video Generation (Denton & Fergus, ICML 2018): SVG-LP, SVG-FP and the
deterministic baseline, as one model whose variants differ only in the prior over z_t.

At step t (predicting frame x_t from x_{t-1}):

    h_{t-1}, skips = Enc(x_{t-1})           frame encoder shared by all three LSTMs
    q_phi(z_t | x_{1:t})   = N(mu, sigma)   posterior LSTM on Enc(x_t)          (training)
    p_psi(z_t | x_{1:t-1}) = N(mu, sigma)   prior LSTM on h_{t-1}               (``lp``)
    p(z_t)                 = N(0, I)                                            (``fp``)
    g_t = LSTM_theta(h_{t-1}, z_t);  x_hat_t = Dec(g_t, skips of one known frame)

Loss (per sequence, summed over predicted steps): ||x_hat_t - x_t||^2 (mean over pixels)
+ beta * KL(q_phi || prior). Training is teacher-forced: the predictor always sees the true
previous frame, and frames inside the conditioning window are predicted too (as the authors'
``train_svg_lp.py`` does). Batches are (B, T, C, 64, 64) float in [0, 1].

Two conventions where the paper and the authors' code differ are settings (``SKIP_FRAMES``,
``BN_MODES``; the defaults are the code's): which frame's encoder activations feed the decoder's
skip connections (the paper says "the last ground truth frame"; ``train_svg_lp.py`` and
``generate_svg_lp.py`` keep the skips of frame ``n_past - 2``, the one before it, edenton/svg
issue 1), and whether batch norm uses batch statistics at test time (``generate_svg_lp.py`` calls
``encoder.train()`` and ``decoder.train()``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.distributions import Normal, kl_divergence

from pipeline.papers.svg.backbones import BACKBONES, build_backbone, pick_rows
from pipeline.papers.svg.batch_norm import batch_statistics_per_sample

VARIANTS: tuple[str, ...] = ("deterministic", "fp", "lp")
SKIP_FRAMES: tuple[str, ...] = ("before_last", "last", "previous")
"""Skips from frame n_past - 2 (authors' code), from frame n_past - 1 (the paper's text), or from
the previous, possibly generated, frame (the code's ``--last_frame_skip``)."""
BN_MODES: tuple[str, ...] = ("train", "eval")
"""Batch norm at test time: batch statistics of each sample's frames of all sequences (authors'
``generate_svg_lp.py``) or running averages."""

LSTMState = tuple[torch.Tensor, torch.Tensor]


@dataclass
class SVGConfig:
    variant: str = "lp"  # deterministic (no z) | fp (z ~ N(0, I)) | lp (learned prior LSTM_psi)
    backbone: str = "dcgan"  # dcgan (SM-MNIST) | vgg (KTH, BAIR)
    channels: int = 1  # image channels: 1 SM-MNIST / KTH, 3 BAIR
    width: int = 64  # channels of the first encoder stage; stages use 1, 2, 4, 8x (paper: 64)
    g_dim: int = 128  # |h| = |g|, encoder output and predictor output
    z_dim: int = 10  # |z|: 10 SM-MNIST, 32 KTH, 64 BAIR
    rnn_size: int = 256  # cells per LSTM layer
    predictor_layers: int = 2  # LSTM_theta
    posterior_layers: int = 1  # LSTM_phi
    prior_layers: int = 1  # LSTM_psi
    n_past: int = 5  # conditioning frames: 5 SM-MNIST, 10 KTH, 2 BAIR
    n_future: int = 10  # frames predicted during training
    beta: float = 1e-4  # KL weight: 1e-4 SM-MNIST and BAIR, 1e-6 KTH
    lr: float = 2e-3  # Adam learning rate
    beta1: float = 0.9  # Adam first-moment decay
    skip_frame: str = "before_last"  # one of SKIP_FRAMES; before_last is the authors' code
    image_size: int = 64  # frames are image_size x image_size: 64, or 128 with vgg (the paper's KTH)

    def __post_init__(self) -> None:
        if self.variant not in VARIANTS:
            raise ValueError(f"SVGConfig.variant must be one of {VARIANTS}, got {self.variant!r}")
        if self.backbone not in BACKBONES:
            raise ValueError(f"SVGConfig.backbone must be one of {BACKBONES}, got {self.backbone!r}")
        if self.n_past < 1 or self.n_future < 1:
            raise ValueError(f"SVGConfig needs n_past >= 1 and n_future >= 1, got {self.n_past}, {self.n_future}")
        if self.skip_frame not in SKIP_FRAMES:
            raise ValueError(f"SVGConfig.skip_frame must be one of {SKIP_FRAMES}, got {self.skip_frame!r}")

    @property
    def skip_source(self) -> int:
        """The known frame whose skips the decoder reads after the conditioning window."""
        if self.skip_frame == "last":
            return self.n_past - 1
        return max(0, self.n_past - 2)  # the authors' loop leaves ``skip`` at frame n_past - 2


class FramePredictor(nn.Module):
    """LSTM_theta: linear embedding, stacked LSTM, linear output through tanh (g lives in [-1, 1])."""

    def __init__(self, in_dim: int, out_dim: int, hidden: int, layers: int) -> None:
        super().__init__()
        self.embed = nn.Linear(in_dim, hidden)
        self.lstm = nn.LSTM(hidden, hidden, layers, batch_first=True)
        self.output = nn.Sequential(nn.Linear(hidden, out_dim), nn.Tanh())

    def forward(
        self, x: torch.Tensor, state: LSTMState | None = None
    ) -> tuple[torch.Tensor, LSTMState]:
        out, state = self.lstm(self.embed(x), state)  # x (B, T, in) -> (B, T, hidden)
        return self.output(out), state  # (B, T, out)


class GaussianLSTM(nn.Module):
    """LSTM_phi / LSTM_psi: embedding, stacked LSTM, linear heads for the mean and log-variance."""

    def __init__(self, in_dim: int, z_dim: int, hidden: int, layers: int) -> None:
        super().__init__()
        self.embed = nn.Linear(in_dim, hidden)
        self.lstm = nn.LSTM(hidden, hidden, layers, batch_first=True)
        self.mu = nn.Linear(hidden, z_dim)
        self.logvar = nn.Linear(hidden, z_dim)

    def forward(
        self, x: torch.Tensor, state: LSTMState | None = None
    ) -> tuple[Normal, LSTMState]:
        out, state = self.lstm(self.embed(x), state)  # x (B, T, in) -> (B, T, hidden)
        return Normal(self.mu(out), torch.exp(0.5 * self.logvar(out))), state  # (B, T, z)


def _init_weights(module: nn.Module) -> None:
    """DCGAN initialisation, as the authors apply to every conv, linear and batch-norm layer."""
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
        nn.init.normal_(module.weight, 0.0, 0.02)
        nn.init.zeros_(module.bias)
    elif isinstance(module, nn.BatchNorm2d):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


class SVG(nn.Module):
    def __init__(self, cfg: SVGConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.encoder, self.decoder = build_backbone(cfg.backbone, cfg.g_dim, cfg.channels, cfg.width, cfg.image_size)
        stochastic = cfg.variant != "deterministic"
        z_in = cfg.z_dim if stochastic else 0
        self.predictor = FramePredictor(cfg.g_dim + z_in, cfg.g_dim, cfg.rnn_size, cfg.predictor_layers)
        self.posterior = (
            GaussianLSTM(cfg.g_dim, cfg.z_dim, cfg.rnn_size, cfg.posterior_layers) if stochastic else None
        )
        self.prior = (
            GaussianLSTM(cfg.g_dim, cfg.z_dim, cfg.rnn_size, cfg.prior_layers)
            if cfg.variant == "lp"
            else None
        )
        self.apply(_init_weights)
        # Channels-last weights make the convolutions (the decoder's transposed ones most, about 2x)
        # run the faster oneDNN kernels on a CPU: a training step takes 20-35% less time, same model.
        self.to(memory_format=torch.channels_last)

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """All frames at once: x (B, T, C, 64, 64) -> h (B, T, g_dim), skips [(B, T, c, s, s)]."""
        b, t = x.shape[:2]
        h, skips = self.encoder(x.flatten(0, 1))  # (B*T, g_dim), [(B*T, c, s, s)]
        return h.view(b, t, -1), [s.view(b, t, *s.shape[1:]) for s in skips]

    def decode(self, g: torch.Tensor, skips: list[torch.Tensor], frames: list[int]) -> torch.Tensor:
        """g (B, T', g_dim) and the skips [(B, T, c, s, s)] of the encoded frames -> frames
        (B, T', C, 64, 64), step t decoded with the skips of frame ``frames[t]``.

        The skips' part of the decoder (``skip_terms``) runs once per frame read, not once per step:
        after the conditioning window every step reads the same frame (the authors' convention).
        """
        b, t = g.shape[:2]
        n_frames = skips[0].shape[1]
        read = sorted(set(frames))  # the frames whose skips are read, K of them
        slot = {frame: k for k, frame in enumerate(read)}
        sequence = torch.arange(b, device=g.device)[:, None]
        known_rows = (sequence * n_frames + torch.tensor(read, device=g.device)).flatten()  # (B*K,)
        known = [pick_rows(s.flatten(0, 1), known_rows) for s in skips]  # [(B*K, c, s, s)]
        per_step = torch.tensor([slot[frame] for frame in frames], device=g.device)  # (T',)
        rows = (sequence * len(read) + per_step).flatten()  # (B*T',)
        x = self.decoder(g.flatten(0, 1), self.decoder.skip_terms(known), rows)
        return x.view(b, t, *x.shape[1:])

    def latent_distributions(self, h: torch.Tensor) -> tuple[Normal | None, Normal | None]:
        """Posterior q(z_t | x_{1:t}) and prior for the steps predicting frames 1..T-1.

        h (B, T, g_dim) -> two Normals over (B, T-1, z_dim) (``None`` for the deterministic
        model). The posterior reads the target frames h_1..h_{T-1}; the learned prior reads
        only the frames before each target, h_0..h_{T-2}.
        """
        if self.posterior is None:
            return None, None
        q, _ = self.posterior(h[:, 1:])  # (B, T-1, z)
        if self.prior is None:
            zeros = torch.zeros_like(q.loc)
            return q, Normal(zeros, torch.ones_like(zeros))
        p, _ = self.prior(h[:, :-1])  # (B, T-1, z)
        return q, p

    def _skip_frames(self, t: int) -> list[int]:
        """Index of the frame whose skips feed the decoder when predicting frames 1..t-1."""
        if self.cfg.skip_frame == "previous":
            return list(range(t - 1))
        # inside the conditioning window the authors' loop takes the skips of the input frame
        return [min(i - 1, self.cfg.skip_source) for i in range(1, t)]

    def losses(self, batch: torch.Tensor) -> dict[str, torch.Tensor]:
        """Teacher-forced loss of one batch (B, T >= n_past + n_future, C, 64, 64) in [0, 1]."""
        t = self.cfg.n_past + self.cfg.n_future
        if batch.dim() != 5 or batch.shape[1] < t:
            raise ValueError(
                f"SVG batch must be (B, T >= {t}, C, 64, 64), got {tuple(batch.shape)}"
            )
        x = batch[:, :t].to(self.device, torch.float32)  # (B, T, C, 64, 64)
        h, skips = self.encode(x)  # (B, T, g), [(B, T, c, s, s)]
        q, p = self.latent_distributions(h)
        pred_in = h[:, :-1]  # (B, T-1, g)
        if q is not None:
            pred_in = torch.cat([pred_in, q.rsample()], dim=2)  # (B, T-1, g + z)
        g, _ = self.predictor(pred_in)  # (B, T-1, g)
        x_hat = self.decode(g, skips, self._skip_frames(t))  # (B, T-1, C, 64, 64)
        mse = F.mse_loss(x_hat, x[:, 1:], reduction="none").mean(dim=(0, 2, 3, 4)).sum()
        if q is None:
            kld = torch.zeros((), device=x.device)
        else:
            kld = kl_divergence(q, p).sum(dim=2).mean(dim=0).sum()  # sum_t mean_b sum_z
        return {
            "loss": mse + self.cfg.beta * kld,
            "mse": mse.detach() / (t - 1),
            "kld": kld.detach() / (t - 1),
        }

    @torch.no_grad()
    def generate(
        self, x_cond: torch.Tensor, n_future: int, n_samples: int, seed: int = 0, bn_mode: str = "eval",
        first_sample: int = 0,
    ) -> torch.Tensor:
        """Sample futures: x_cond (B, n_cond, C, 64, 64) -> (S, B, n_future, C, 64, 64).

        The conditioning frames are encoded once per sequence and all ``n_samples`` futures run
        as one batch of S * B. The conditioning frames go through the predictor with z from the
        posterior (as the authors do, so the LSTM states match training); each future z_t comes
        from the prior (learned or N(0, I)) and each generated frame is fed back. ``bn_mode``
        (``BN_MODES``): ``train`` normalises with batch statistics as the authors'
        ``generate_svg_lp.py`` (``encoder.train()``), which draws one sample of all B sequences at
        a time: the statistics of each sample's B frames at one time step, never pooled over
        samples; running averages are left untouched. Sample k draws its noise from its own
        stream, (seed, first_sample + k): a sample does not depend on the others drawn with it,
        so drawing them in chunks (``first_sample`` = the chunk's first) gives the same futures
        as one batch. The output holds predicted frames only.
        """
        if bn_mode not in BN_MODES:
            raise ValueError(f"bn_mode must be one of {BN_MODES}, got {bn_mode!r}")
        if bn_mode == "train" and x_cond.shape[0] < 2:
            raise ValueError("bn_mode='train' normalises over the sequences of a batch: give at least 2")
        was_training = self.training
        self.eval()
        try:
            with batch_statistics_per_sample(self, x_cond.shape[0], bn_mode == "train"):
                return self._generate(x_cond, n_future, n_samples, seed, first_sample)
        finally:
            self.train(was_training)

    def _encode_steps(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Like :meth:`encode`, one time step per encoder call (batch statistics per step)."""
        steps = [self.encoder(x[:, t]) for t in range(x.shape[1])]
        h = torch.stack([s[0] for s in steps], dim=1)
        skips = [torch.stack([s[1][k] for s in steps], dim=1) for k in range(len(steps[0][1]))]
        return h, skips

    def _generate(self, x_cond: torch.Tensor, n_future: int, n_samples: int, seed: int,
                  first_sample: int = 0) -> torch.Tensor:
        b, n_cond = x_cond.shape[:2]
        if n_cond < 1:
            raise ValueError("generate needs at least one conditioning frame")
        device = self.device
        s = n_samples
        streams = [torch.Generator(device=device).manual_seed(sample_seed(seed, first_sample + k)) for k in range(s)]

        def sample(dist: Normal) -> torch.Tensor:  # dist over (S*B, ...), sample-major
            shape = (b, *dist.loc.shape[1:])
            eps = torch.cat([torch.randn(shape, generator=g, device=device) for g in streams])
            return dist.loc + dist.scale * eps

        def repeat(t: torch.Tensor) -> torch.Tensor:  # (B, ...) -> (S*B, ...), sample-major
            return t.repeat(s, *([1] * (t.dim() - 1)))

        def repeat_state(state: LSTMState | None) -> LSTMState | None:  # (L, B, H) -> (L, S*B, H)
            return None if state is None else tuple(x.repeat(1, s, 1) for x in state)

        x = x_cond.to(device, torch.float32)  # (B, n_cond, C, H, W): encoded once per sequence
        h, skips = self._encode_steps(x)  # (B, n_cond, g), [(B, n_cond, c, s, s)]
        pred_state: LSTMState | None = None
        prior_state: LSTMState | None = None
        if n_cond > 1:  # teacher-forced warm-up over the conditioning frames
            pred_in = repeat(h[:, :-1])  # (S*B, n_cond-1, g)
            if self.posterior is not None:
                q, _ = self.posterior(h[:, 1:])  # (B, n_cond-1, z)
                q = Normal(repeat(q.loc), repeat(q.scale))
                pred_in = torch.cat([pred_in, sample(q)], dim=2)
            if self.prior is not None:
                _, prior_state = self.prior(h[:, :-1])
                prior_state = repeat_state(prior_state)
            _, pred_state = self.predictor(pred_in, pred_state)
        skip = self._skips_after_conditioning(skips)  # (B, ...): row j of the S*B futures reads j % B

        def latent(h_in: torch.Tensor) -> torch.Tensor | None:
            nonlocal prior_state
            if self.prior is not None:
                p, prior_state = self.prior(h_in, prior_state)
                return sample(p)
            if self.posterior is not None:
                zeros = torch.zeros(h_in.shape[0], 1, self.cfg.z_dim, device=device)
                return sample(Normal(zeros, torch.ones_like(zeros)))
            return None

        rows = torch.arange(b, device=device).repeat(s)  # sample-major
        out = self._rollout(repeat(h[:, -1:]), pred_state, skip, n_future, latent, rows)  # (S*B, n_future, C, 64, 64)
        return out.view(s, b, n_future, *out.shape[2:])

    def _skips_after_conditioning(self, skips: list[torch.Tensor]) -> list[torch.Tensor]:
        """The skips [(B, n_cond, c, s, s)] of the conditioning frame feeding the first predicted frame."""
        n_cond = skips[0].shape[1]
        frame = n_cond - 1 if self.cfg.skip_frame == "previous" else min(self.cfg.skip_source, n_cond - 1)
        return [k[:, frame] for k in skips]

    def _rollout(
        self, h_in: torch.Tensor, pred_state: LSTMState | None, skip: list[torch.Tensor], n_future: int,
        latent: Callable[[torch.Tensor], torch.Tensor | None], rows: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Predict ``n_future`` frames from h_in (N, 1, g) of the last known frame, each one fed back;
        ``latent(h_in)`` gives z_t (N, 1, z) or None. ``skip`` holds the skips of K known frames,
        row i reading frame ``rows[i]`` (None: K = N, row i its own); their part of the decoder
        is computed once for all steps. Returns (N, n_future, C, 64, 64)."""
        frames = []
        terms = self.decoder.skip_terms(skip)
        for _ in range(n_future):
            z = latent(h_in)
            pred_in = h_in if z is None else torch.cat([h_in, z], dim=2)
            g, pred_state = self.predictor(pred_in, pred_state)  # (N, 1, g)
            x_hat = self.decoder(g[:, 0], terms, rows)  # (N, C, 64, 64)
            frames.append(x_hat)
            h_new, skip_new = self.encoder(x_hat)  # (N, g)
            h_in = h_new[:, None]
            if self.cfg.skip_frame == "previous":
                terms, rows = self.decoder.skip_terms(skip_new), None
        return torch.stack(frames, dim=1)

    @torch.no_grad()
    def posterior_future(self, x: torch.Tensor, n_cond: int, bn_mode: str = "eval") -> torch.Tensor:
        """The "Approx. posterior" row of the authors' GIFs (``make_gifs`` in generate_svg_lp.py):
        x (B, T, C, 64, 64) true frames -> (B, T - n_cond, C, 64, 64).

        z_t is the mean of q_phi(z_t | x_{1:t}), read from the true frames; the predictor is fed the
        true frames inside the conditioning window and its own frames after it, decoded with the
        skips ``skip_frame`` names: how well the model reconstructs a future it is told about. The
        deterministic model has no posterior: this is its prediction. ``bn_mode`` as :meth:`generate`.
        """
        if bn_mode not in BN_MODES:
            raise ValueError(f"bn_mode must be one of {BN_MODES}, got {bn_mode!r}")
        b, t = x.shape[:2]
        if not 1 <= n_cond < t:
            raise ValueError(f"posterior_future needs 1 <= n_cond < T, got n_cond={n_cond} for {t} frames")
        if bn_mode == "train" and b < 2:
            raise ValueError("bn_mode='train' normalises over the sequences of a batch: give at least 2")
        was_training = self.training
        self.eval()
        try:
            with batch_statistics_per_sample(self, b, bn_mode == "train"):
                h, skips = self._encode_steps(x.to(self.device, torch.float32))  # (B, T, g): true frames
                means = None if self.posterior is None else self.posterior(h[:, 1:])[0].loc  # (B, T-1, z)
                pred_state = None
                if n_cond > 1:
                    pred_in = h[:, : n_cond - 1]
                    if means is not None:
                        pred_in = torch.cat([pred_in, means[:, : n_cond - 1]], dim=2)
                    _, pred_state = self.predictor(pred_in)
                step = iter(range(n_cond - 1, t - 1))  # means[:, k] is z of frame k + 1

                def latent(_h: torch.Tensor) -> torch.Tensor | None:
                    k = next(step)
                    return None if means is None else means[:, k : k + 1]

                skip = self._skips_after_conditioning([k[:, :n_cond] for k in skips])
                return self._rollout(h[:, n_cond - 1 : n_cond], pred_state, skip, t - n_cond, latent)
        finally:
            self.train(was_training)

    @torch.no_grad()
    def prior_sigma(self, x: torch.Tensor) -> torch.Tensor:
        """sigma_psi(x_{1:t-1}) of the learned prior fed true frames x (B, T, C, 64, 64) -> (B, T-1, z)."""
        if self.prior is None:
            raise ValueError(f"prior_sigma needs the learned prior (variant 'lp'), not {self.cfg.variant!r}")
        was_training = self.training
        self.eval()
        try:
            h, _ = self.encode(x.to(self.device, torch.float32))  # (B, T, g)
            p, _ = self.prior(h[:, :-1])
            return p.scale  # (B, T-1, z)
        finally:
            self.train(was_training)


def sample_seed(seed: int, sample: int) -> int:
    """Seed of sample ``sample``'s noise stream in :meth:`SVG.generate`."""
    return int(np.random.SeedSequence([seed, sample]).generate_state(1)[0])


def build_svg(model_config: dict) -> SVG:
    """Rebuild from the plain dict saved beside the weights (``pipeline.saved_models.load_model``)."""
    return SVG(SVGConfig(**model_config))


def svg_model_config(cfg: SVGConfig) -> dict:
    """The plain dict stored in checkpoints (never a pickled dataclass)."""
    return asdict(cfg)


def make_optimizer(model: SVG) -> torch.optim.Adam:
    """Adam with the paper's learning rate and beta1 (beta2 0.999 as in the authors' code)."""
    return torch.optim.Adam(model.parameters(), lr=model.cfg.lr, betas=(model.cfg.beta1, 0.999))


def frames_to_batch(frames: np.ndarray | torch.Tensor) -> torch.Tensor:
    """uint8 frames (B, T, H, W) or (B, T, H, W, C) -> float (B, T, C, H, W) in [0, 1]."""
    x = torch.as_tensor(np.asarray(frames))
    if x.dtype != torch.uint8:
        raise TypeError(f"frames_to_batch expects uint8 frames, got {x.dtype}")
    if x.dim() == 4:
        x = x[..., None]  # (B, T, H, W, 1)
    if x.dim() != 5:
        raise ValueError(f"frames must be (B, T, H, W) or (B, T, H, W, C), got {tuple(x.shape)}")
    return x.permute(0, 1, 4, 2, 3).float().div_(255.0)

"""Walker et al. (ECCV 2016): a conditional VAE over dense one-second trajectories, and its
regressor baseline.

Trajectories arrive as DCT coefficients per pixel, 10 channels: 0-4 the first five DCT
coefficients of the x offsets, 5-9 those of the y offsets. Each image's trajectories are split
into a normalized part and two global magnitudes (one per axis, see :func:`split_magnitude`)
that the model predicts through separate latents and decoder pathways, because "the amount of
absolute motion varies considerably between images" and normalizing gives each image equal
weight.

    image tower  C(96,11)-LRN-P-C(256,5)-LRN-P-C(384,3)-C(384,3)-C(256,3)x10  image -> F (1/16)
    encoder      [F, Ynorm, M] -> C(96,11)-LRN-P-C(256,5)-LRN-P-C(384,3)-C(384,3)-C(256,3)
                 -> C(8,1) x2 (mu, log sigma of z), C(m,1) x2 (of z_mag), averaged over space
    decoder      F * (1 + A z) -> C(256,3)x4 -> C(10,3)      = Ynorm_hat at 1/16 (16x20)
    magnitudes   F * (1 + A' z_mag) -> C(256,3)x4 -> C(2,3), averaged over space = (Mx, My)
    coarse-to-fine  up(decoder features) ++ conv2 -> D = C(256,5) -> C(10,5)   1/8 (32x40)
                    up(D) ++ conv1 -> C(10,5)                                   1/4 (64x80)

Loss per image: ||Ynorm - Ynorm_hat||^2 + (Mx - Mx_hat)^2 + (My - My_hat)^2 + KL(q || N(0, I)),
mean over the batch; each finer head adds its squared error divided by its area factor (4, 16)
so every resolution weighs like the coarse one. The regressor (``kind="regressor"``) is the same
network without encoder and latents. Batch norm follows every conv whose output scale carries
no meaning (all but mu, log sigma and the trajectory/magnitude outputs); conv + BN + ReLU then LRN.

Choices the paper leaves open, made here: the tower pads the image so that the 1/16 grid is
(16*Hc, 16*Wc) pixels wide, centred (extra rows/cols split evenly: 240 rows -> 16 cells, as the
paper's 16x20 output needs); the encoder runs at the coarse grid with stride 1 (its input
*is* the 16x20 concatenation; pools are 3x3 stride 1); z enters by a learned per-channel
multiplier 1 + A z (the "offset" is the 1); the magnitude latent has 8 dims like the
trajectory latent; the 1/8 head reads the tower's conv2 features (the only 1/8-resolution
layer; the paper calls it conv4) and the 1/4 head reads conv1.
Images are (B, 3, H, W) float, mean-subtracted and scaled to [-1, 1].
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from pipeline.local_response_norm import LocalResponseNorm
from pipeline.max_pool import MaxPool2d

KINDS: tuple[str, ...] = ("cvae", "regressor")
STRIDE = 16  # image pixels per coarse cell
N_COEFFS = 10  # 5 DCT coefficients of x, then 5 of y
ALEXNET_WIDTHS: tuple[int, ...] = (96, 256, 384, 384, 256)  # image and encoder towers
EXTRA_CONVS = 9  # C(256,3) layers after the AlexNet five: C(256,3)x10 with conv5
DECODER_WIDTH = 256
DECODER_LAYERS = 4
FINE_WIDTH = 256  # D = C(256, 5)


@dataclass
class WalkerConfig:
    kind: str = "cvae"  # cvae | regressor (image tower -> decoder, no latent)
    image_size: tuple[int, int] = (240, 320)  # (H, W) of the input image (paper: 240x320)
    coarse_size: tuple[int, int] = (16, 20)  # (Hc, Wc) of the coarse output (paper: 16x20)
    width: float = 1.0  # multiplier on every hidden width (paper: 1.0)
    latent_dim: int = 8  # z of the normalized trajectories (paper: 8)
    magnitude_latent_dim: int = 8  # z of the magnitudes (paper: separate, size unstated)
    fine_levels: int = 2  # coarse-to-fine heads: 0 none, 1 (1/8), 2 (1/8 and 1/4; paper)
    eps: float = 1e-3  # magnitude floor, in DCT units: M = sqrt(mean Y^2 + eps^2)

    def __post_init__(self) -> None:
        self.image_size = tuple(int(v) for v in self.image_size)  # YAML gives lists
        self.coarse_size = tuple(int(v) for v in self.coarse_size)
        if self.kind not in KINDS:
            raise ValueError(f"WalkerConfig.kind must be one of {KINDS}, got {self.kind!r}")
        for axis, size, cells in zip("HW", self.image_size, self.coarse_size):
            extra = STRIDE * cells - size
            if extra < 0 or extra % 2:
                raise ValueError(
                    f"WalkerConfig: coarse {axis} of {cells} cells covers {STRIDE * cells} pixels; "
                    f"it must cover the image's {size} with an even margin (e.g. 240 -> 16, 120 -> 8)"
                )
        if not 0 <= self.fine_levels <= 2:
            raise ValueError(f"WalkerConfig.fine_levels must be 0, 1 or 2, got {self.fine_levels}")

    @property
    def margin(self) -> tuple[int, int]:
        """Pixels of padding on each side so the image fills the coarse grid (8, 0 at paper scale)."""
        return tuple((STRIDE * c - s) // 2 for s, c in zip(self.image_size, self.coarse_size))

    def level_size(self, level: int) -> tuple[int, int]:
        """Output grid of level 0 (coarse, 1/16), 1 (1/8) or 2 (1/4)."""
        return tuple(c * 2**level for c in self.coarse_size)


def _scaled(channels: int, width: float) -> int:
    return max(1, round(channels * width))


def split_magnitude(y: torch.Tensor, eps: float = 1e-3) -> tuple[torch.Tensor, torch.Tensor]:
    """DCT trajectories (..., 10, H, W) -> normalized (..., 10, H, W), magnitudes (..., 2).

    M_x is the root mean square of the x coefficients over the image (likewise M_y), floored
    by ``eps`` so a still image stays finite; y == join_magnitude(*split_magnitude(y)).
    """
    xy = y.unflatten(-3, (2, N_COEFFS // 2))  # (..., 2, 5, H, W)
    mag = torch.sqrt(xy.pow(2).mean(dim=(-3, -2, -1)) + eps**2)  # (..., 2)
    return (xy / mag[..., None, None, None]).flatten(-4, -3), mag


def join_magnitude(ynorm: torch.Tensor, mag: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`split_magnitude`: (..., 10, H, W), (..., 2) -> (..., 10, H, W)."""
    xy = ynorm.unflatten(-3, (2, N_COEFFS // 2))  # (..., 2, 5, H, W)
    return (xy * mag[..., None, None, None]).flatten(-4, -3)


def downsample_trajectories(traj: torch.Tensor, cfg: WalkerConfig, level: int = 0) -> torch.Tensor:
    """Per-pixel DCT trajectories (B, 10, H, W) -> the model's grid at ``level`` (B, 10, h, w).

    The field is edge-padded by the tower's margin and averaged over blocks of 16 / 2**level
    pixels, so cell (i, j) of every level summarises the pixels the network's cell sees.
    """
    if traj.shape[-2:] != cfg.image_size:
        raise ValueError(f"trajectories must be (B, 10, {cfg.image_size}), got {tuple(traj.shape)}")
    mh, mw = cfg.margin
    padded = F.pad(traj, (mw, mw, mh, mh), mode="replicate")  # (B, 10, 16*Hc, 16*Wc)
    return F.avg_pool2d(padded, STRIDE // 2**level)


def _conv_bn(
    cin: int, cout: int, k: int, stride: int = 1, pad: int | tuple[int, int] | None = None
) -> nn.Sequential:
    pad = k // 2 if pad is None else pad
    return nn.Sequential(nn.Conv2d(cin, cout, k, stride, pad), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


def alexnet_lrn() -> LocalResponseNorm:
    """AlexNet's (Caffe's) local response normalisation: 5 channels, alpha 1e-4, beta 0.75, k 1."""
    return LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=1.0)


class ImageTower(nn.Module):
    """14 convs: image (B, 3, H, W) -> F (B, 256, Hc, Wc), conv2 (B, 256, 2Hc, 2Wc), conv1 (B, 96, 4Hc, 4Wc).

    conv2 and conv1 feed the coarse-to-fine heads.
    """

    def __init__(self, cfg: WalkerConfig) -> None:
        super().__init__()
        c1, c2, c3, c4, c5 = (_scaled(c, cfg.width) for c in ALEXNET_WIDTHS)
        mh, mw = cfg.margin
        self.conv1 = _conv_bn(3, c1, 11, stride=4, pad=(5 + mh, 5 + mw))  # cell i centred on pixel 4i
        self.pool1 = nn.Sequential(alexnet_lrn(), MaxPool2d(3, 2, 1))
        self.conv2 = _conv_bn(c1, c2, 5)
        self.pool2 = nn.Sequential(alexnet_lrn(), MaxPool2d(3, 2, 1))
        layers = [_conv_bn(c2, c3, 3), _conv_bn(c3, c4, 3), _conv_bn(c4, c5, 3)]
        layers += [_conv_bn(c5, c5, 3) for _ in range(EXTRA_CONVS)]
        self.trunk = nn.Sequential(*layers)
        self.channels = (c5, c2, c1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        f1 = self.conv1(x)  # (B, 96, 4Hc, 4Wc) = (B, 96, 64, 80)
        f2 = self.conv2(self.pool1(f1))  # (B, 256, 32, 40)
        return self.trunk(self.pool2(f2)), f2, f1  # (B, 256, 16, 20)


class EncoderTower(nn.Module):
    """Q(z | X, Y): [F, Ynorm, M tiled] (B, 256+12, Hc, Wc) -> (mu, log sigma) of z and z_mag."""

    def __init__(self, cfg: WalkerConfig, in_channels: int) -> None:
        super().__init__()
        c1, c2, c3, c4, c5 = (_scaled(c, cfg.width) for c in ALEXNET_WIDTHS)
        self.trunk = nn.Sequential(
            _conv_bn(in_channels, c1, 11),
            alexnet_lrn(),
            MaxPool2d(3, 1, 1),
            _conv_bn(c1, c2, 5),
            alexnet_lrn(),
            MaxPool2d(3, 1, 1),
            _conv_bn(c2, c3, 3),
            _conv_bn(c3, c4, 3),
            _conv_bn(c4, c5, 3),
        )
        self.mu = nn.Conv2d(c5, cfg.latent_dim, 1)
        self.log_sigma = nn.Conv2d(c5, cfg.latent_dim, 1)
        self.mag_mu = nn.Conv2d(c5, cfg.magnitude_latent_dim, 1)
        self.mag_log_sigma = nn.Conv2d(c5, cfg.magnitude_latent_dim, 1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        h = self.trunk(x)  # (B, 256, Hc, Wc)
        heads = (self.mu, self.log_sigma, self.mag_mu, self.mag_log_sigma)
        return tuple(head(h).mean(dim=(2, 3)) for head in heads)  # 4 x (B, latent)


class Decoder(nn.Module):
    """F (B, C, Hc, Wc) modulated by z -> C(256,3)xL -> C(out,3); returns (output, features)."""

    def __init__(self, in_channels: int, z_dim: int, width: int, layers: int, out_channels: int) -> None:
        super().__init__()
        self.modulate = nn.Linear(z_dim, in_channels) if z_dim > 0 else None
        blocks = [_conv_bn(in_channels if i == 0 else width, width, 3) for i in range(layers)]
        self.body = nn.Sequential(*blocks)
        self.out = nn.Conv2d(width, out_channels, 3, 1, 1)

    def forward(self, feats: torch.Tensor, z: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        if self.modulate is not None:
            if z is None:
                raise ValueError("this decoder needs a latent z")
            feats = feats * (1.0 + self.modulate(z))[:, :, None, None]  # z tiled over space
        h = self.body(feats)  # (B, 256, Hc, Wc)
        return self.out(h), h  # (B, out, Hc, Wc)


def _xavier(module: nn.Module) -> None:
    if isinstance(module, (nn.Conv2d, nn.Linear)):
        nn.init.xavier_uniform_(module.weight)
        nn.init.zeros_(module.bias)


class WalkerNet(nn.Module):
    def __init__(self, cfg: WalkerConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.image_tower = ImageTower(cfg)
        c_feat, c_conv2, c_conv1 = self.image_tower.channels
        latent = cfg.kind == "cvae"
        self.encoder = EncoderTower(cfg, c_feat + N_COEFFS + 2) if latent else None
        dw = _scaled(DECODER_WIDTH, cfg.width)
        self.decoder = Decoder(c_feat, cfg.latent_dim if latent else 0, dw, DECODER_LAYERS, N_COEFFS)
        self.magnitude_decoder = Decoder(
            c_feat, cfg.magnitude_latent_dim if latent else 0, dw, DECODER_LAYERS, 2
        )
        fw = _scaled(FINE_WIDTH, cfg.width)
        self.mid = _conv_bn(dw + c_conv2, fw, 5) if cfg.fine_levels >= 1 else None
        self.mid_out = nn.Conv2d(fw, N_COEFFS, 5, 1, 2) if cfg.fine_levels >= 1 else None
        self.fine_out = nn.Conv2d(fw + c_conv1, N_COEFFS, 5, 1, 2) if cfg.fine_levels >= 2 else None
        self.apply(_xavier)

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def _check_image(self, image: torch.Tensor) -> torch.Tensor:
        if image.dim() != 4 or image.shape[1] != 3 or tuple(image.shape[2:]) != self.cfg.image_size:
            raise ValueError(f"walker images must be (B, 3, {self.cfg.image_size}), got {tuple(image.shape)}")
        return image.to(self.device, torch.float32)

    def decode(
        self,
        feats: tuple[torch.Tensor, torch.Tensor, torch.Tensor],
        z: torch.Tensor | None,
        z_mag: torch.Tensor | None,
        levels: int = 0,
    ) -> tuple[list[torch.Tensor], torch.Tensor]:
        """Tower features -> [Ynorm_hat at levels 0..levels] (B, 10, Hc*2^l, Wc*2^l), M_hat (B, 2)."""
        if not 0 <= levels <= self.cfg.fine_levels:
            raise ValueError(f"level {levels} requested but the model has fine_levels={self.cfg.fine_levels}")
        f, f2, f1 = feats
        coarse, h = self.decoder(f, z)  # (B, 10, Hc, Wc), (B, 256, Hc, Wc)
        mag = self.magnitude_decoder(f, z_mag)[0].mean(dim=(2, 3))  # (B, 2)
        outs = [coarse]
        if levels >= 1:
            up = F.interpolate(h, scale_factor=2, mode="bilinear")  # (B, 256, 2Hc, 2Wc)
            d = self.mid(torch.cat([up, f2], 1))  # D: (B, 256, 2Hc, 2Wc)
            outs.append(self.mid_out(d))  # (B, 10, 2Hc, 2Wc)
            if levels >= 2:
                up = F.interpolate(d, scale_factor=2, mode="bilinear")  # (B, 256, 4Hc, 4Wc)
                outs.append(self.fine_out(torch.cat([up, f1], 1)))  # (B, 10, 4Hc, 4Wc)
        return outs, mag

    def _targets(self, traj: torch.Tensor) -> list[torch.Tensor]:
        """Trajectories at one of the model's grids -> that grid and every coarser one."""
        hc, wc = self.cfg.coarse_size
        for level in range(self.cfg.fine_levels + 1):
            if traj.shape[1:] == (N_COEFFS, hc * 2**level, wc * 2**level):
                return [F.avg_pool2d(traj, 2 ** (level - j)) if j < level else traj for j in range(level + 1)]
        sizes = [self.cfg.level_size(level) for level in range(self.cfg.fine_levels + 1)]
        raise ValueError(
            f"walker trajectories must be (B, {N_COEFFS}, h, w) with (h, w) in {sizes}, got {tuple(traj.shape)}"
        )

    def losses(self, batch: tuple[torch.Tensor, torch.Tensor]) -> dict[str, torch.Tensor]:
        """batch = (image (B, 3, H, W), DCT trajectories (B, 10, h, w) at one of the model's grids).

        Every head up to the trajectories' resolution is trained (coarse-to-fine: give coarse
        trajectories first, finer ones once the coarse output has converged).
        """
        image, traj = batch
        image = self._check_image(image)
        targets = self._targets(traj.to(self.device, torch.float32))
        ynorm, mag = split_magnitude(targets[0], self.cfg.eps)  # (B, 10, Hc, Wc), (B, 2)
        feats = self.image_tower(image)
        z = z_mag = None
        kl = torch.zeros(image.shape[0], device=self.device)
        if self.encoder is not None:
            tiled = mag[:, :, None, None].expand(-1, -1, *ynorm.shape[2:])  # (B, 2, Hc, Wc)
            mu, log_sigma, mag_mu, mag_log_sigma = self.encoder(torch.cat([feats[0], ynorm, tiled], 1))
            z = mu + torch.randn_like(mu) * log_sigma.exp()  # reparameterisation
            z_mag = mag_mu + torch.randn_like(mag_mu) * mag_log_sigma.exp()
            kl = _kl_std_normal(mu, log_sigma) + _kl_std_normal(mag_mu, mag_log_sigma)  # (B,)
        preds, mag_hat = self.decode(feats, z, z_mag, len(targets) - 1)
        coarse = (preds[0] - ynorm).pow(2).sum(dim=(1, 2, 3))  # (B,)
        fine = torch.zeros_like(coarse)
        for level in range(1, len(targets)):
            tgt = targets[level] / mag.repeat_interleave(N_COEFFS // 2, 1)[:, :, None, None]
            fine = fine + (preds[level] - tgt).pow(2).sum(dim=(1, 2, 3)) / 4**level
        mag_err = (mag_hat - mag).pow(2).sum(dim=1)  # (B,)
        loss = (coarse + fine + mag_err + kl).mean()
        return {
            "loss": loss,
            "coarse": coarse.detach().mean(),
            "fine": fine.detach().mean(),
            "magnitude": mag_err.detach().mean(),
            "kl": kl.detach().mean(),
        }

    @torch.no_grad()
    def sample_parts(
        self,
        image: torch.Tensor,
        n: int,
        generator: torch.Generator | None = None,
        chunk: int = 100,
        level: int = 0,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """n futures per image, z ~ N(0, I): -> Ynorm (n, B, 10, h, w), M (n, B, 2) at ``level``.

        The image tower runs once; the decoder runs on ``chunk`` samples at a time. z is drawn on
        the CPU from ``generator`` so a seed gives the same samples on any device.
        """
        z, z_mag = self.draw_latents(n, image.shape[0], generator)
        return self.decode_latents(image, z, z_mag, chunk, level)

    def draw_latents(
        self, n: int, b: int, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """n latents per image from N(0, I), on the CPU: z (n, B, latent), z_mag (n, B, magnitude latent)."""
        if self.encoder is None:
            raise ValueError(
                "the regressor has no latent to sample; use predict_parts and parzen.gaussian_samples"
            )
        # All latents first, so the samples do not depend on the chunking.
        z = torch.randn(n * b, self.cfg.latent_dim, generator=generator)
        z_mag = torch.randn(n * b, self.cfg.magnitude_latent_dim, generator=generator)
        return z.unflatten(0, (n, b)), z_mag.unflatten(0, (n, b))

    @torch.no_grad()
    def decode_latents(
        self, image: torch.Tensor, z: torch.Tensor, z_mag: torch.Tensor, chunk: int = 100, level: int = 0
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Futures of given latents z (n, B, latent), z_mag (n, B, m) -> Ynorm (n, B, 10, h, w), M (n, B, 2).

        Used for sampling (z drawn from the prior) and for walking the latent space (Fig. 6).
        """
        if self.encoder is None:
            raise ValueError("the regressor has no latent to decode")
        was_training = self.training
        self.eval()
        try:
            image = self._check_image(image)
            n, b = z.shape[:2]
            feats = self.image_tower(image)
            ys, ms = [], []
            for start in range(0, n, chunk):
                m = min(chunk, n - start)
                zc = z[start : start + m].flatten(0, 1).to(self.device)  # (m*B, latent), sample-major
                zm = z_mag[start : start + m].flatten(0, 1).to(self.device)
                rep = tuple(f.repeat(m, 1, 1, 1) for f in feats)  # (m*B, C, h, w)
                preds, mag = self.decode(rep, zc, zm, level)
                ys.append(preds[level].unflatten(0, (m, b)))  # (m, B, 10, h, w)
                ms.append(mag.clamp_min(0.0).unflatten(0, (m, b)))  # (m, B, 2)
            return torch.cat(ys), torch.cat(ms)
        finally:
            self.train(was_training)

    def sample(
        self, image: torch.Tensor, n: int, generator: torch.Generator | None = None, chunk: int = 100
    ) -> torch.Tensor:
        """n coarse trajectory fields per image: (B, 3, H, W) -> (n, B, 10, Hc, Wc) DCT coefficients."""
        return join_magnitude(*self.sample_parts(image, n, generator, chunk))

    @torch.no_grad()
    def predict_parts(self, image: torch.Tensor, level: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
        """The regressor's output (the CVAE's at z = 0): Ynorm (B, 10, h, w), M (B, 2)."""
        was_training = self.training
        self.eval()
        try:
            image = self._check_image(image)
            b = image.shape[0]
            z = z_mag = None
            if self.encoder is not None:
                z = torch.zeros(b, self.cfg.latent_dim, device=self.device)
                z_mag = torch.zeros(b, self.cfg.magnitude_latent_dim, device=self.device)
            preds, mag = self.decode(self.image_tower(image), z, z_mag, level)
            return preds[level], mag.clamp_min(0.0)
        finally:
            self.train(was_training)


def _kl_std_normal(mu: torch.Tensor, log_sigma: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, sigma^2) || N(0, 1)) summed over latent dims: (B, d) -> (B,)."""
    return 0.5 * (mu.pow(2) + (2 * log_sigma).exp() - 1.0 - 2 * log_sigma).sum(dim=1)


def make_optimizer(model: WalkerNet, lr: float = 1e-4) -> torch.optim.Adam:
    """Adam; the paper states no optimiser, this is the project's choice (lr in the config)."""
    return torch.optim.Adam(model.parameters(), lr=lr)


def build_walker(model_config: dict) -> WalkerNet:
    """Rebuild from the plain dict saved beside the weights (``pipeline.saved_models.load_model``)."""
    return WalkerNet(WalkerConfig(**model_config))


def walker_model_config(cfg: WalkerConfig) -> dict:
    """The plain dict stored in checkpoints (tuples as lists, never a pickled dataclass)."""
    return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(cfg).items()}

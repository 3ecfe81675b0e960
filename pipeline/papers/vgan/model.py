"""VGAN networks (Vondrick, Pirsiavash, Torralba, NIPS 2016): generators, discriminator, encoders.

Layer sizes, padding and initialisation follow the authors' Torch code (cvondrick/videogan):
``main.lua`` for the one/two-stream generator and the discriminator, ``main_conditional.lua``
for future generation. Networks work on videos laid out as in that code and in
``torch.nn.Conv3d``: ``(B, C, T, H, W)`` in [-1, 1]. The objectives in ``gan.py`` convert from
the project's batch layout ``(B, T, C, H, W)``.

Shapes in comments are at the paper preset (z 100, 32 frames of 64x64, base 64, width 1).
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise

import torch
from torch import nn


@dataclass(frozen=True)
class VGANConfig:
    z_dim: int = 100  # latent code, sampled from N(0, I)
    frames: int = 32  # T, a multiple of 16 (paper: 32 frames at 25 fps)
    size: int = 64  # H = W, a multiple of 16 (paper: 64)
    channels: int = 3  # colour channels of the clips
    base: int = 64  # G's last hidden / D's first layer width (main.lua 64, main_conditional 128)
    width: float = 1.0  # factor on every hidden width, < 1 for small presets
    two_stream: bool = True  # m*f + (1-m)*b with a static background, else one 3D stream

    def __post_init__(self) -> None:
        for name in ("frames", "size"):
            value = getattr(self, name)
            if value < 16 or value % 16:
                raise ValueError(f"VGANConfig.{name} must be a positive multiple of 16, got {value}")
        if self.z_dim < 1 or self.channels < 1 or self.base < 1 or self.width <= 0:
            raise ValueError(f"VGANConfig sizes must be positive: {self}")

    @property
    def widths(self) -> tuple[int, int, int, int]:
        """Hidden widths from the finest to the coarsest layer: (64, 128, 256, 512) at paper scale."""
        c = max(1, round(self.base * self.width))
        return c, 2 * c, 4 * c, 8 * c

    @property
    def first_kernel(self) -> tuple[int, int, int]:
        """(t, h, w) of the coarsest volume, the first G kernel and the last D kernel: (2, 4, 4)."""
        return self.frames // 16, self.size // 16, self.size // 16


def init_weights(module: nn.Module) -> None:
    """main.lua's ``weights_init``: conv N(0, 0.01) with zero bias; BN weight N(1, 0.02), bias 0.

    The paper only says N(0, 0.01); the BN rule is the DCGAN one the authors' code keeps.
    """
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.Conv3d, nn.ConvTranspose2d, nn.ConvTranspose3d)):
            nn.init.normal_(m.weight, 0.0, 0.01)
            nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm2d, nn.BatchNorm3d)):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


def _up3d(c_in: int, c_out: int, kernel, stride=1, padding=0) -> nn.Sequential:
    """Fractionally-strided 3D conv + BN + ReLU (every hidden generator layer)."""
    return nn.Sequential(
        nn.ConvTranspose3d(c_in, c_out, kernel, stride, padding), nn.BatchNorm3d(c_out), nn.ReLU()
    )


def _up2d(c_in: int, c_out: int, kernel, stride=1, padding=0) -> nn.Sequential:
    """Fractionally-strided 2D conv + BN + ReLU (background stream)."""
    return nn.Sequential(
        nn.ConvTranspose2d(c_in, c_out, kernel, stride, padding), nn.BatchNorm2d(c_out), nn.ReLU()
    )


def _down(conv: type[nn.Module], norm: type[nn.Module] | None, c_in: int, c_out: int) -> nn.Sequential:
    """Strided 4x4(x4) conv [+ BN, eps 1e-3 as in the authors' D] + LeakyReLU(0.2)."""
    layers: list[nn.Module] = [conv(c_in, c_out, 4, 2, 1)]
    if norm is not None:
        layers.append(norm(c_out, eps=1e-3))
    return nn.Sequential(*layers, nn.LeakyReLU(0.2))


def _video_trunk(c_in: int, first_kernel: tuple[int, int, int], widths: tuple[int, ...]) -> nn.Sequential:
    """First layer to the coarsest volume, then three stride-2 3D layers down ``widths``."""
    layers = [_up3d(c_in, widths[0], first_kernel)]
    layers += [_up3d(a, b, 4, 2, 1) for a, b in pairwise(widths)]
    return nn.Sequential(*layers)


def _image_upsampler(widths: tuple[int, ...], channels: int) -> nn.Sequential:
    """Stride-2 2D layers down ``widths`` and a tanh output layer: four doublings in all."""
    layers: list[nn.Module] = [_up2d(a, b, 4, 2, 1) for a, b in pairwise(widths)]
    return nn.Sequential(*layers, nn.ConvTranspose2d(widths[-1], channels, 4, 2, 1), nn.Tanh())


@dataclass
class GeneratorOutput:
    """The video and, for a two-stream generator, the streams it is made of (for figures/stats)."""

    video: torch.Tensor  # (B, C, T, H, W) in [-1, 1]
    foreground: torch.Tensor  # (B, C, T, H, W): f(z), the whole video for one stream
    mask: torch.Tensor | None = None  # (B, 1, T, H, W) in (0, 1), m(z)
    background: torch.Tensor | None = None  # (B, C, H, W), b(z): one image for all frames


class _StreamGenerator(nn.Module):
    """A 3D foreground trunk with video (tanh) and mask (sigmoid) heads, and a 2D background.

    Both the noise generator and the future generator are this, fed different inputs.
    """

    def _build_heads(self, cfg: VGANConfig, c_last: int) -> None:
        # The mask shares the whole foreground trunk but its last layer (paper Sec. 2.2).
        self.video_head = nn.Sequential(
            nn.ConvTranspose3d(c_last, cfg.channels, 4, 2, 1), nn.Tanh()
        )  # (B, 3, 32, 64, 64)
        self.mask_head = (
            nn.Sequential(nn.ConvTranspose3d(c_last, 1, 4, 2, 1), nn.Sigmoid())
            if cfg.two_stream
            else None
        )  # (B, 1, 32, 64, 64)

    def _streams(self, code3d: torch.Tensor, code2d: torch.Tensor) -> GeneratorOutput:
        h = self.trunk(code3d)  # (B, 64, 16, 32, 32)
        f = self.video_head(h)  # (B, 3, 32, 64, 64)
        if self.mask_head is None:
            return GeneratorOutput(video=f, foreground=f)
        m = self.mask_head(h)  # (B, 1, 32, 64, 64)
        b = self.background(code2d)  # (B, 3, 64, 64)
        video = m * f + (1 - m) * b.unsqueeze(2)  # (B, 3, 32, 64, 64), b replicated over time
        return GeneratorOutput(video=video, foreground=f, mask=m, background=b)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decompose(x).video


class Generator(_StreamGenerator):
    """z (B, z_dim) -> video (B, C, T, H, W); one or two streams (``main.lua``)."""

    def __init__(self, cfg: VGANConfig) -> None:
        super().__init__()
        self.cfg = cfg
        c1, c2, c4, c8 = cfg.widths
        # (B, 100, 1, 1, 1) -> (B, 512, 2, 4, 4) -> (B, 256, 4, 8, 8) -> (B, 128, 8, 16, 16)
        # -> (B, 64, 16, 32, 32)
        self.trunk = _video_trunk(cfg.z_dim, cfg.first_kernel, (c8, c4, c2, c1))
        self._build_heads(cfg, c1)
        if cfg.two_stream:
            # (B, 100, 1, 1) -> (B, 512, 4, 4) -> (B, 256, 8, 8) -> (B, 128, 16, 16)
            # -> (B, 64, 32, 32) -> (B, 3, 64, 64)
            self.background = nn.Sequential(
                _up2d(cfg.z_dim, c8, cfg.first_kernel[1:]),
                _image_upsampler((c8, c4, c2, c1), cfg.channels),
            )
        init_weights(self)

    def decompose(self, z: torch.Tensor) -> GeneratorOutput:
        if z.dim() != 2 or z.shape[1] != self.cfg.z_dim:
            raise ValueError(f"z must be (B, {self.cfg.z_dim}), got {tuple(z.shape)}")
        return self._streams(z[:, :, None, None, None], z[:, :, None, None])


class ImageEncoder(nn.Module):
    """Static frame (B, C, H, W) -> code map (B, 8c, H/16, W/16) (``main_conditional.lua``).

    The authors' encoder is four strided 4x4 convs (ReLU, BN but on the first, eps 1e-3), and
    its output is a 1024x4x4 map, not a vector: the generator's first layers take the map
    itself (the paper's "five-layer" encoder counts the temporal lift that follows).
    """

    def __init__(self, cfg: VGANConfig) -> None:
        super().__init__()
        self.cfg = cfg
        c1, c2, c4, c8 = cfg.widths

        def block(c_in: int, c_out: int, bn: bool) -> nn.Sequential:
            norm = [nn.BatchNorm2d(c_out, eps=1e-3)] if bn else []
            return nn.Sequential(nn.Conv2d(c_in, c_out, 4, 2, 1), *norm, nn.ReLU())

        self.net = nn.Sequential(
            block(cfg.channels, c1, bn=False),  # (B, 128, 32, 32) at the future preset (base 128)
            block(c1, c2, bn=True),  # (B, 256, 16, 16)
            block(c2, c4, bn=True),  # (B, 512, 8, 8)
            block(c4, c8, bn=True),  # (B, 1024, 4, 4)
        )
        init_weights(self)

    def forward(self, x0: torch.Tensor) -> torch.Tensor:
        expected = (self.cfg.channels, self.cfg.size, self.cfg.size)
        if x0.dim() != 4 or tuple(x0.shape[1:]) != expected:
            raise ValueError(f"frame must be (B, *{expected}), got {tuple(x0.shape)}")
        return self.net(x0)


class FutureGenerator(_StreamGenerator):
    """First frame x0 (B, C, H, W) -> video (B, C, T, H, W) whose first frame should be x0.

    As ``main_conditional.lua`` (paper preset: ``base=128``): the encoder's map feeds the 2D
    background stream directly (four doublings) and, lifted in time by a (T/16)x1x1
    fractionally-strided conv, the 3D foreground trunk (three doublings plus the heads).
    """

    def __init__(self, cfg: VGANConfig) -> None:
        super().__init__()
        self.cfg = cfg
        c1, c2, c4, c8 = cfg.widths
        self.encoder = ImageEncoder(cfg)
        # (B, 1024, 1, 4, 4) -> (B, 1024, 2, 4, 4) -> (B, 512, 4, 8, 8) -> (B, 256, 8, 16, 16)
        # -> (B, 128, 16, 32, 32)
        self.trunk = _video_trunk(c8, (cfg.frames // 16, 1, 1), (c8, c4, c2, c1))
        self._build_heads(cfg, c1)
        if cfg.two_stream:
            # (B, 1024, 4, 4) -> (B, 512, 8, 8) -> ... -> (B, 3, 64, 64)
            self.background = _image_upsampler((c8, c4, c2, c1), cfg.channels)
        init_weights(self)

    def decompose(self, x0: torch.Tensor) -> GeneratorOutput:
        h = self.encoder(x0)  # (B, 1024, 4, 4)
        return self._streams(h.unsqueeze(2), h)


class Discriminator(nn.Module):
    """Video (B, C, T, H, W) -> ``outputs`` logits; the generator's trunk reversed.

    The authors' last layer has two outputs (real, fake) under a softmax cross-entropy; with
    ``outputs=z_dim`` the same network is the autoencoder's encoder, and replacing ``head``
    by a K-way layer gives the action classifier of Sec. 3.3.
    """

    def __init__(self, cfg: VGANConfig, outputs: int = 2) -> None:
        super().__init__()
        self.cfg = cfg
        c1, c2, c4, c8 = cfg.widths
        self.features = nn.Sequential(
            _down(nn.Conv3d, None, cfg.channels, c1),  # (B, 64, 16, 32, 32), no BN
            _down(nn.Conv3d, nn.BatchNorm3d, c1, c2),  # (B, 128, 8, 16, 16)
            _down(nn.Conv3d, nn.BatchNorm3d, c2, c4),  # (B, 256, 4, 8, 8)
            _down(nn.Conv3d, nn.BatchNorm3d, c4, c8),  # (B, 512, 2, 4, 4)
        )
        self.head = nn.Conv3d(c8, outputs, cfg.first_kernel)  # (B, 2, 1, 1, 1)
        init_weights(self)

    def forward(self, video: torch.Tensor) -> torch.Tensor:
        cfg = self.cfg
        expected = (cfg.channels, cfg.frames, cfg.size, cfg.size)
        if video.dim() != 5 or tuple(video.shape[1:]) != expected:
            raise ValueError(f"video must be (B, *{expected}), got {tuple(video.shape)}")
        return self.head(self.features(video)).flatten(1)  # (B, 2)


class Autoencoder(nn.Module):
    """The paper's baseline: a D-like encoder to a 100-d code and the generator as decoder.

    The paper: "the encoder is similar to the discriminator network (except producing 100
    dimensional code), while the decoder follows the two-stream generator network". The
    authors' repository has no autoencoder, so the encoder is exactly ``Discriminator`` with
    ``z_dim`` outputs (a linear code, which the GMM of ``gan.py`` then models).
    """

    def __init__(self, cfg: VGANConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.encoder = Discriminator(cfg, outputs=cfg.z_dim)
        self.decoder = Generator(cfg)

    def encode(self, video: torch.Tensor) -> torch.Tensor:
        return self.encoder(video)  # (B, 100)

    def decode(self, code: torch.Tensor) -> torch.Tensor:
        return self.decoder(code)  # (B, 3, 32, 64, 64)

    def forward(self, video: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(video))

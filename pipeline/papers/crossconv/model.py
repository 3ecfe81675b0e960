"""Cross convolutional network (Xue et al., Visual Dynamics, Sec. 3.3 and 4.2) and its AE baseline.

A conditional VAE over the difference image v = J - I between a frame I and the next frame J:

    z ~ q(z | I, v) = N(z_mean, diag(exp(z_logvar)))   motion encoder (training only)
    kernels = KernelDecoder(z)                           z as 128x5x5 -> 4 scales x 32 kernels 5x5
    maps_s  = ImageEncoder_s(pyramid_s(I))               32 maps per scale ("segments")
    v_hat   = MotionDecoder(upsample(cross_conv(maps_s, kernels_s)))

Loss (Eq. 5 with the squared norm of Eq. 10): KL(q || N(0, I)) + lambda * ||v - v_hat||^2, per
pair, averaged over the batch; ``kl_weight`` scales the KL term for Fig. 11's sweep (1 in Eq. 5).
The AE baseline of Fig. 5 is the same network with ``variational=False``: z = z_mean, no
sampling layer and no KL term.

What the paper fixes (paper preset, 128x128 input): motion encoder six 5x5 conv+BN
{96, 96, 128, 128, 256, 256} -> 256x5x5, split into z_mean and z_logvar of 3,200 each; kernel
decoder two 5x5 convs of 128 channels; image encoder at four scales (256, 128, 64, 32) of four
5x5 conv+BN {64, 64, 64, 32}, two followed by 2x2 max-pooling (-> 64, 32, 16, 8); motion decoder
upsamples every scale to 64x64, then one 9x9 and two 1x1 convs {128, 128, 3}.

What it leaves open, and what we chose:
* Where the motion encoder pools ("some pooling layers in between"): 2x2 max-pooling after each
  of the first four convs, with the third and fourth unpadded, so 128 -> 64 -> 32 -> 28 -> 14 ->
  10 -> 5 ends at exactly 5x5 with six convs; `motion_layout` finds such a plan for any size.
  Other convs are padded ("same"). Its sixth conv is the linear z_mean/z_logvar head (no BN/ReLU).
* ReLU after every BN (after the pooling where a conv is pooled: the same values, cheaper); the
  kernel decoder's and the motion decoder's last convs are linear (they output kernels and the
  difference image). Convs followed by BN carry no bias.
* The pyramid: bilinear 2x upsampling and area (box) downsampling of I; scale outputs are
  upsampled to the largest one (64x64) by nearest neighbour. The decoder's 9x9 conv of that
  concatenation is computed as the sum over scales of each scale's share of the kernels applied
  before upsampling (`pipeline.upsampled_conv`): the same function, a demo step about 1.5x faster.
* The difference image is regressed at the decoder's resolution (64x64 for a 128x128 input):
  target = area-downsampled (J - I) x `target_scale`, with frames in [0, 1] and target_scale 100
  as in the authors' released demo (utilfunc.lua: "the output ... in training is (I2 - I1) * 100").
  Frames enter the encoders centred (x - 0.5).
* The 5x5 spatial grid of z equals the kernel size: z (num_scales*maps x 5x5) passes through
  "same" convs, and each output channel is one kernel. With 5 scales (the paper's footnote for
  a 128 input) this gives the footnote's 4,000 = 5x5x32x5.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from pipeline.max_pool import MaxPool2d
from pipeline.upsampled_conv import conv2d_nearest_upsampled


@dataclass(frozen=True)
class CrossConvConfig:
    image_size: int = 128  # input frames I, J are image_size^2 RGB in [0, 1] (paper: 128)
    num_scales: int = 4  # image pyramid levels: top_scale, top_scale/2, ... (paper: 4)
    top_scale: float = 2.0  # largest pyramid level relative to the input (paper: 256 for 128)
    maps: int = 32  # feature maps per scale = kernels per scale (paper: 32)
    kernel_size: int = 5  # cross-convolution kernels and every encoder conv (paper: 5)
    width: float = 1.0  # multiplies hidden channel widths below (1 at the paper preset)
    motion_channels: tuple[int, ...] = (96, 96, 128, 128, 256)  # motion encoder convs 1-5; conv 6 -> 2 x z channels
    image_channels: tuple[int, ...] = (64, 64, 64)  # image encoder convs 1-3 per scale; conv 4 -> maps
    decoder_channels: int = 128  # motion decoder 9x9 and first 1x1 conv
    decoder_kernel: int = 9  # motion decoder's first conv
    variational: bool = True  # False: the AE baseline (z = z_mean, no sampling, no KL)
    recon_weight: float = 1.0  # lambda of Eq. 5 (= 1 / (2 sigma^2), sigma in target units)
    kl_weight: float = 1.0  # weight of the KL term: 1 in Eq. 5; Fig. 11 varies it (there also called lambda)
    z_size: int = 0  # |z|: 0 is one z value per kernel-code entry (z_channels x k x k, paper: 3,200);
    # otherwise Fig. 12's smaller z (8, 32, 128): linear maps between it and the kernel code
    target_scale: float = 100.0  # difference image units: (J - I) x 100 for frames in [0, 1]

    def __post_init__(self) -> None:
        if self.image_size * self.top_scale * 0.5 ** (self.num_scales - 1) % 4:
            raise ValueError(f"the smallest pyramid level of a {self.image_size}px input at top_scale "
                             f"{self.top_scale} over {self.num_scales} scales is not a multiple of 4")
        motion_layout(self.image_size, self.kernel_size)  # raises if no six-conv plan reaches k x k
        if self.z_size < 0:
            raise ValueError(f"z_size must be 0 (the kernel code's size) or positive, got {self.z_size}")

    def hidden(self, channels: int) -> int:
        """A hidden width at this preset (at least 4 channels)."""
        return max(4, round(channels * self.width))

    @property
    def z_channels(self) -> int:
        return self.num_scales * self.maps  # one channel per kernel (paper: 128)

    @property
    def code_dim(self) -> int:
        """Entries of the kernel code the kernel decoder reads (z_channels x k x k; paper: 3,200)."""
        return self.z_channels * self.kernel_size**2

    @property
    def z_dim(self) -> int:
        return self.z_size or self.code_dim  # paper: 3,200

    @property
    def scales(self) -> tuple[float, ...]:
        return tuple(self.top_scale * 0.5**s for s in range(self.num_scales))

    @property
    def output_size(self) -> int:
        return round(self.image_size * self.top_scale) // 4  # paper: 64


def motion_layout(image_size: int, kernel_size: int, convs: int = 6) -> tuple[tuple[bool, bool], ...]:
    """(padded, pooled) per motion-encoder conv so `convs` k x k convs end at k x k.

    Why a search: the paper gives six 5x5 convs, 2x2 pools "in between" and a 5x5 output, not
    the plan; we take the one with fewest unpadded convs, then the earliest pools (at 128:
    pool after convs 1-4, convs 3 and 4 unpadded).
    """
    best = None
    for padded in itertools.product((True, False), repeat=convs):
        for pooled in itertools.product((True, False), repeat=convs):
            size = image_size
            for pad, pool in zip(padded, pooled):
                size = size if pad else size - kernel_size + 1
                if size < 1 or (pool and size % 2):
                    break
                size = size // 2 if pool else size
            else:
                if size == kernel_size:
                    key = (padded.count(False), [not p for p in pooled], [not p for p in padded])
                    if best is None or key < best[0]:
                        best = (key, tuple(zip(padded, pooled)))
    if best is None:
        raise ValueError(f"no plan of {convs} {kernel_size}x{kernel_size} convs with 2x2 pooling maps "
                         f"{image_size}px to {kernel_size}x{kernel_size}")
    return best[1]


def cross_convolve(maps: torch.Tensor, kernels: torch.Tensor) -> torch.Tensor:
    """Convolve each sample's maps with that sample's own kernels, as one grouped convolution.

    maps (B, C, H, W), kernels (B, C, k, k) -> (B, C, H, W), zero padding k // 2. Folding the
    batch into channels (groups = B*C) runs the whole batch in a single conv2d call, forward and
    backward, instead of B calls (benchmarks/bench_crossconv.py measures the difference).
    Like every conv2d this is a correlation; the kernels are learned, so the flip is immaterial.
    """
    b, c, h, w = maps.shape
    k = kernels.shape[-1]
    if kernels.shape != (b, c, k, k):
        raise ValueError(f"kernels {tuple(kernels.shape)} do not match maps {tuple(maps.shape)}")
    out = F.conv2d(maps.reshape(1, b * c, h, w), kernels.reshape(b * c, 1, k, k), padding=k // 2, groups=b * c)
    return out.view(b, c, h, w)


def cross_convolve_loop(maps: torch.Tensor, kernels: torch.Tensor) -> torch.Tensor:
    """The same as `cross_convolve`, one depthwise conv2d per sample: the reference it is tested
    and benchmarked against."""
    k = kernels.shape[-1]
    return torch.cat([F.conv2d(m[None], w[:, None], padding=k // 2, groups=m.shape[0]) for m, w in zip(maps, kernels)])


def image_pyramid(image: torch.Tensor, scales: tuple[float, ...]) -> list[torch.Tensor]:
    """The input at each scale: bilinear upsampling above 1, area (box) averaging below."""
    size = image.shape[-1]
    out = []
    for s in scales:
        target = round(size * s)
        if target == size:
            out.append(image)
        elif target > size:
            out.append(F.interpolate(image, size=(target, target), mode="bilinear", align_corners=False))
        else:
            out.append(F.interpolate(image, size=(target, target), mode="area"))
    return out


def _conv_bn(cin: int, cout: int, k: int, padding: int, pooled: bool = False) -> list[nn.Module]:
    """conv, BN, [2x2 max-pooling], ReLU. Pooling before the ReLU gives the same values and gradients
    (both are monotone; they differ only where all four inputs are negative, where the gradient is 0
    either way) and applies the ReLU to a quarter of the values."""
    pool = [MaxPool2d(2)] if pooled else []
    return [nn.Conv2d(cin, cout, k, padding=padding, bias=False), nn.BatchNorm2d(cout), *pool, nn.ReLU(inplace=True)]


class MotionEncoder(nn.Module):
    """(I, v) -> z_mean, z_logvar: six k x k convs, BN+ReLU on the first five (Fig. 3a)."""

    def __init__(self, cfg: CrossConvConfig) -> None:
        super().__init__()
        k = cfg.kernel_size
        widths = [6, *(cfg.hidden(c) for c in cfg.motion_channels), 2 * cfg.z_channels]
        layers: list[nn.Module] = []
        for i, (padded, pooled) in enumerate(motion_layout(cfg.image_size, k)):
            pad = k // 2 if padded else 0
            if i < len(widths) - 2:
                layers += _conv_bn(widths[i], widths[i + 1], k, pad, pooled)
            else:  # the head: linear, its output split into z_mean and z_logvar
                layers.append(nn.Conv2d(widths[i], widths[i + 1], k, padding=pad))
                if pooled:
                    layers.append(MaxPool2d(2))
        self.net = nn.Sequential(*layers)
        # Fig. 12's smaller z: the head's 2 x 3,200 values map linearly to 2 x z_size
        self.bottleneck = nn.Linear(2 * cfg.code_dim, 2 * cfg.z_dim) if cfg.z_dim != cfg.code_dim else None

    def forward(self, image: torch.Tensor, diff: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = torch.cat([image, diff], 1)  # (B, 6, 128, 128)
        # 128 -> pool 64 -> pool 32 -> unpadded 28 -> pool 14 -> unpadded 10 -> pool 5 -> 5 -> 5
        h = self.net(x).flatten(1)  # (B, 256, 5, 5) -> (B, 6400)
        if self.bottleneck is not None:
            h = self.bottleneck(h)  # (B, 2 z_size)
        mean, logvar = h.chunk(2, 1)  # (B, 3200) each: channels 0-127 and 128-255
        return mean, logvar


class KernelDecoder(nn.Module):
    """z -> kernels: z as (z_channels, k, k) through two padded k x k convs (Fig. 3b)."""

    def __init__(self, cfg: CrossConvConfig) -> None:
        super().__init__()
        c, k = cfg.z_channels, cfg.kernel_size
        self.cfg = cfg
        self.expand = nn.Linear(cfg.z_dim, cfg.code_dim) if cfg.z_dim != cfg.code_dim else None  # Fig. 12's small z
        self.net = nn.Sequential(*_conv_bn(c, c, k, k // 2), nn.Conv2d(c, c, k, padding=k // 2))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        cfg, k = self.cfg, self.cfg.kernel_size
        if self.expand is not None:
            z = self.expand(z)  # (B, z_size) -> (B, 3200)
        x = z.view(-1, cfg.z_channels, k, k)  # (B, 3200) -> (B, 128, 5, 5)
        x = self.net(x)  # (B, 128, 5, 5)
        return x.view(-1, cfg.num_scales, cfg.maps, k, k)  # (B, 4, 32, 5, 5): 4 sets of 32 kernels


class ImageEncoder(nn.Module):
    """One scale of the pyramid -> `maps` feature maps at a quarter of its size (Fig. 3c)."""

    def __init__(self, cfg: CrossConvConfig) -> None:
        super().__init__()
        k = cfg.kernel_size
        widths = [3, *(cfg.hidden(c) for c in cfg.image_channels), cfg.maps]
        layers: list[nn.Module] = []
        for i in range(4):
            # "two of which are followed by a 2x2 max pooling layer"
            layers += _conv_bn(widths[i], widths[i + 1], k, k // 2, pooled=i in (0, 2))
        self.net = nn.Sequential(*layers)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        # (B, 3, 256, 256) -> 64 -> pool 64x128x128 -> 64 -> 64 -> pool 64x64x64 -> (B, 32, 64, 64);
        # the 128, 64, 32 levels give (B, 32, 32, 32), (B, 32, 16, 16), (B, 32, 8, 8)
        return self.net(image)


class MotionDecoder(nn.Module):
    """Cross-convolved maps of every scale -> difference image (Fig. 3e)."""

    def __init__(self, cfg: CrossConvConfig) -> None:
        super().__init__()
        c, k9 = cfg.hidden(cfg.decoder_channels), cfg.decoder_kernel
        self.size = cfg.output_size
        self.net = nn.Sequential(
            *_conv_bn(cfg.z_channels, c, k9, k9 // 2), *_conv_bn(c, c, 1, 0), nn.Conv2d(c, 3, 1)
        )

    def forward(self, maps: list[torch.Tensor]) -> torch.Tensor:
        # The 9x9 conv of the scales upsampled to 64x64 by nearest neighbour and concatenated (4 x 32
        # channels), as a sum over scales of each one's share of the kernels applied to it before
        # upsampling: the same function, without the 64x64 copies of the coarse scales (upsampled_conv).
        conv = self.net[0]
        shares = conv.weight.split([m.shape[1] for m in maps], 1)  # 4 x (128, 32, 9, 9)
        x = sum(conv2d_nearest_upsampled(m, w, self.size // m.shape[-1]) for m, w in zip(maps, shares))
        return self.net[1:](x)  # (B, 128, 64, 64) -> BN, ReLU, 1x1: (B, 128, 64, 64) -> 1x1: (B, 3, 64, 64)


class CrossConvNet(nn.Module):
    """The whole network; batches are (B, 2, 3, H, W) float frame pairs (I, J) in [0, 1]."""

    def __init__(self, cfg: CrossConvConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.motion_encoder = MotionEncoder(cfg)
        self.kernel_decoder = KernelDecoder(cfg)
        self.image_encoders = nn.ModuleList(ImageEncoder(cfg) for _ in range(cfg.num_scales))
        self.motion_decoder = MotionDecoder(cfg)

    def target(self, image: torch.Tensor, future: torch.Tensor) -> torch.Tensor:
        """(J - I) at the decoder's resolution, in target units: (B, 3, 64, 64)."""
        size = self.cfg.output_size
        return F.interpolate(future - image, size=(size, size), mode="area") * self.cfg.target_scale

    def encode(self, image: torch.Tensor, future: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """q(z | I, v): (z_mean, z_logvar), each (B, z_dim); z_logvar is unused by the AE."""
        return self.motion_encoder(image - 0.5, future - image)  # frames centred, v = J - I in [-1, 1]

    def feature_maps(self, image: torch.Tensor) -> list[torch.Tensor]:
        """The image encoder's maps per scale, (B, 32, 64|32|16|8, ...): what the kernels move (Fig. 8)."""
        levels = image_pyramid(image - 0.5, self.cfg.scales)  # (B, 3, 256|128|64|32, ...)
        return [enc(x) for enc, x in zip(self.image_encoders, levels)]

    def decode(self, z: torch.Tensor, image: torch.Tensor, maps: list[torch.Tensor] | None = None) -> torch.Tensor:
        """f_mean(z, I): the difference image (B, 3, 64, 64) in target units. ``maps``: the image's
        :meth:`feature_maps` when already computed, as for many z drawn for one image (they do not depend on z)."""
        kernels = self.kernel_decoder(z)  # (B, 4, 32, 5, 5)
        maps = self.feature_maps(image) if maps is None else maps
        moved = [cross_convolve(m, kernels[:, s]) for s, m in enumerate(maps)]
        return self.motion_decoder(moved)  # moved: (B, 32, 64|32|16|8, ...)

    def future_frames(self, image: torch.Tensor, diff: torch.Tensor) -> torch.Tensor:
        """J = I + v at the input's resolution (v upsampled bilinearly), clipped to [0, 1]."""
        size = image.shape[-1]
        v = F.interpolate(diff, size=(size, size), mode="bilinear", align_corners=False) / self.cfg.target_scale
        return (image + v).clamp(0.0, 1.0)

    def latent(self, image: torch.Tensor, future: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(z, z_mean, z_logvar): reparameterised sample for the VAE, z = z_mean for the AE."""
        mean, logvar = self.encode(image, future)
        if not self.cfg.variational:
            return mean, mean, logvar
        return mean + torch.randn_like(mean) * (0.5 * logvar).exp(), mean, logvar

    def losses(self, batch: torch.Tensor) -> dict[str, torch.Tensor]:
        """{"loss", "reconstruction", "kl" (VAE only)} averaged over the batch; minimise "loss"."""
        image, future = batch[:, 0], batch[:, 1]  # (B, 3, 128, 128) each
        z, mean, logvar = self.latent(image, future)
        recon = (self.decode(z, image) - self.target(image, future)).pow(2).flatten(1).sum(1).mean()
        out = {"reconstruction": recon}
        if self.cfg.variational:  # closed form KL(N(mean, exp(logvar)) || N(0, I)), summed over z
            out["kl"] = 0.5 * (logvar.exp() + mean.pow(2) - 1.0 - logvar).sum(1).mean()
            out["loss"] = self.cfg.kl_weight * out["kl"] + self.cfg.recon_weight * recon
        else:
            out["loss"] = self.cfg.recon_weight * recon
        return out


    @torch.no_grad()
    def sample(self, image: torch.Tensor, z: torch.Tensor, maps: list[torch.Tensor] | None = None) -> torch.Tensor:
        """Future frames (B, 3, H, W) for the images and z drawn by `sample_prior` / `sample_empirical`
        (``maps``: the images' feature maps, see :meth:`decode`)."""
        return self.future_frames(image, self.decode(z, image, maps))


@dataclass
class ZBank:
    """Posterior parameters of training pairs: the empirical distribution test-time z is drawn from."""

    mean: torch.Tensor  # (N, z_dim)
    logvar: torch.Tensor  # (N, z_dim); ignored for the AE (its z is the mean)
    variational: bool = True


@torch.no_grad()
def collect_z(model: CrossConvNet, batches: list[torch.Tensor] | tuple[torch.Tensor, ...]) -> ZBank:
    """Encode training pairs (each batch (B, 2, 3, H, W)) into a ZBank, the model in eval mode."""
    was_training = model.training
    model.eval()
    means, logvars = zip(*(model.encode(b[:, 0], b[:, 1]) for b in batches))
    model.train(was_training)
    return ZBank(torch.cat(means), torch.cat(logvars), model.cfg.variational)


def sample_empirical(bank: ZBank, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """n draws from the aggregate posterior: a random training pair, then z ~ q(z | that pair).

    Why: the paper samples test-time z from "an empirical distribution of z over all training
    samples" rather than the prior (Sec. 4.2, after Doersch); for the AE, z is the pair's mean.
    """
    idx = torch.randint(len(bank.mean), (n,), generator=generator)
    mean = bank.mean[idx]
    if not bank.variational:
        return mean
    eps = torch.randn(mean.shape, generator=generator, dtype=mean.dtype)
    return mean + eps * (0.5 * bank.logvar[idx]).exp()


def sample_prior(n: int, z_dim: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """n draws from the prior N(0, I), the alternative the paper compares against."""
    return torch.randn(n, z_dim, generator=generator)

"""Frame encoders and decoders of SVG (Denton & Fergus 2018), 64x64 frames (and 128x128 for VGG), two families.

``dcgan``: the DCGAN discriminator/generator pair used for SM-MNIST; ``vgg``: VGG16 up to its
last pooling layer and its mirror (nearest up-sampling instead of pooling), used for KTH and
BAIR. Both export one interface so the SVG model never knows which it holds:

* ``Encoder(g_dim, channels, width)(x)``: x (N, C, 64, 64) in [0, 1] ->
  (h (N, g_dim) in [-1, 1], skips), where ``skips`` are the four intermediate activation maps
  (finest first), fed to the decoder so it can copy static background from a known frame.
* ``Decoder(g_dim, channels, width)(g, decoder.skip_terms(skips), rows)`` -> (N, C, 64, 64) in
  [0, 1] (sigmoid). Each decoder stage reads [d, skip] through one convolution, which is linear in
  its input: the skip's part of it is computed apart (``skip_terms``), once per known frame, and
  row i of ``g`` reads the terms of frame ``rows[i]``. Many predicted frames read one known frame's
  skips (every frame after the conditioning window, every one of the 100 samples drawn at test),
  so the skip half of the decoder's convolutions runs on a few frames instead of on all of them:
  the same function as the concatenation, the sums taken in another order.

``width`` is the first stage's channel count (64 in the paper); stages use 1, 2, 4, 8 times it.
Layer and kernel choices follow the authors' code (edenton/svg, ``models/dcgan_64.py`` and
``models/vgg_64.py``, ``models/vgg_128.py``), so at ``width=64`` the parameter counts equal theirs.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from pipeline.max_pool import MaxPool2d

IMAGE_SIZE = 64
IMAGE_SIZES: tuple[int, ...] = (64, 128)
"""Frame sizes: 64x64 for both families; 128x128 for ``vgg`` (the paper's KTH resolution)."""
BACKBONES: tuple[str, ...] = ("dcgan", "vgg")


def _leaky_relu() -> nn.LeakyReLU:
    """Leaky ReLU in place, as the authors' blocks: its input is batch norm's fresh output, which no one
    else reads (batch norm's backward keeps its own input), so overwriting it saves a tensor per layer
    and its backward reads the output's sign instead (the same for a positive slope): the same values
    and gradients to the bit."""
    return nn.LeakyReLU(0.2, inplace=True)


def _dcgan_down(c_in: int, c_out: int) -> nn.Sequential:
    """Strided 4x4 conv halving the resolution (DCGAN discriminator block)."""
    return nn.Sequential(nn.Conv2d(c_in, c_out, 4, 2, 1), nn.BatchNorm2d(c_out), _leaky_relu())


def _dcgan_up(c_in: int, c_out: int) -> nn.Sequential:
    """Transposed 4x4 conv doubling the resolution (DCGAN generator block)."""
    return nn.Sequential(
        nn.ConvTranspose2d(c_in, c_out, 4, 2, 1), nn.BatchNorm2d(c_out), _leaky_relu()
    )


def _vgg_layer(c_in: int, c_out: int) -> nn.Sequential:
    """3x3 conv at constant resolution (VGG block)."""
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, 1, 1), nn.BatchNorm2d(c_out), _leaky_relu())


def _to_vector(c_in: int, g_dim: int) -> nn.Sequential:
    """4x4 map -> g_dim vector, tanh-bounded as the LSTMs expect."""
    return nn.Sequential(nn.Conv2d(c_in, g_dim, 4, 1, 0), nn.BatchNorm2d(g_dim), nn.Tanh())


def _from_vector(g_dim: int, c_out: int) -> nn.Sequential:
    """g_dim vector -> 4x4 map."""
    return nn.Sequential(
        nn.ConvTranspose2d(g_dim, c_out, 4, 1, 0), nn.BatchNorm2d(c_out), _leaky_relu()
    )


def _check_frames(x: torch.Tensor, channels: int, size: int = IMAGE_SIZE) -> None:
    if x.dim() != 4 or x.shape[1:] != (channels, size, size):
        raise ValueError(f"expected frames (N, {channels}, {size}, {size}), got {tuple(x.shape)}")


def _check_size(image_size: int) -> int:
    if image_size not in IMAGE_SIZES:
        raise ValueError(f"image_size must be one of {IMAGE_SIZES}, got {image_size!r}")
    return image_size


def _first_conv(stage: nn.Sequential) -> tuple[nn.Conv2d | nn.ConvTranspose2d, list[nn.Module]]:
    """A decoder stage as (its first convolution, the modules after it), nested blocks unrolled."""
    head, rest = stage[0], list(stage)[1:]
    while isinstance(head, nn.Sequential):
        head, rest = head[0], list(head)[1:] + rest
    return head, rest


def _conv_part(conv: nn.Conv2d | nn.ConvTranspose2d, x: torch.Tensor, first: int, bias: bool) -> torch.Tensor:
    """``conv``'s response to input channels ``first`` .. ``first + x.shape[1]`` alone: by linearity,
    conv([a, b]) = part(a, 0, bias=True) + part(b, len(a), bias=False)."""
    channels = slice(first, first + x.shape[1])
    b = conv.bias if bias else None
    if isinstance(conv, nn.ConvTranspose2d):  # weight (in, out, k, k)
        return F.conv_transpose2d(x, conv.weight[channels], b, conv.stride, conv.padding, conv.output_padding,
                                  conv.groups, conv.dilation)
    return F.conv2d(x, conv.weight[:, channels], b, conv.stride, conv.padding, conv.dilation, conv.groups)


def _skip_term(stage: nn.Sequential, skip: torch.Tensor) -> torch.Tensor:
    """The part of ``stage``'s first convolution that reads the skip (the last input channels)."""
    conv, _ = _first_conv(stage)
    return _conv_part(conv, skip, conv.in_channels - skip.shape[1], bias=False)


def _stage_with_skip(stage: nn.Sequential, d: torch.Tensor, term: torch.Tensor,
                     rows: torch.Tensor | None) -> torch.Tensor:
    """``stage(cat([d, skip], 1))`` from d and the skip's precomputed ``term`` (row i of d reads
    ``term[rows[i]]``, or ``term[i]`` when ``rows`` is None)."""
    conv, rest = _first_conv(stage)
    y = _conv_part(conv, d, 0, bias=True) + (term if rows is None else pick_rows(term, rows))
    for module in rest:
        y = module(y)
    return y


def pick_rows(maps: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
    """``maps[rows]`` (N, C, H, W), channels-last, by ``index_select`` over the (N, H, W, C) view. Its
    gradient is an ``index_add`` of whole rows into a channels-last buffer: about 3x faster on a CPU
    than advanced indexing's ``index_put``, and it sums with the channels-last gradients of the
    layers around at full speed (mixed layouts make batch norm's and leaky ReLU's backward crawl)."""
    return torch.index_select(maps.permute(0, 2, 3, 1), 0, rows).permute(0, 3, 1, 2)


def _check_rows(n: int, terms: list[torch.Tensor], rows: torch.Tensor | None) -> None:
    known = terms[0].shape[0]
    if rows is None and known != n:
        raise ValueError(f"{n} rows of g read skips of {known} frames: give rows (which frame each row reads)")
    if rows is not None and rows.shape != (n,):
        raise ValueError(f"rows must hold one frame index per row of g ({n}), got shape {tuple(rows.shape)}")


class SkipDecoder(nn.Module):
    """What both decoder families share: ``upc1`` from the vector to (8nf, 4, 4), then ``n_stages``
    stages ``upc2`` ... ``upc{n_stages + 1}`` that read [d, skip] (coarsest first), their skip terms
    and the pass through them. A family sets those modules and how d grows between stages (``_grow``)."""

    g_dim: int
    n_stages: int

    def _skip_stages(self) -> list[nn.Sequential]:
        """The stages reading [d, skip], coarsest first (``skips[-1]`` first)."""
        return [getattr(self, f"upc{i}") for i in range(2, self.n_stages + 2)]

    def _grow(self, d: torch.Tensor) -> torch.Tensor:
        return d

    def skip_terms(self, skips: list[torch.Tensor]) -> list[torch.Tensor]:
        """The skips' (finest first) parts of the stages' first convolutions, coarsest first."""
        return [_skip_term(stage, skip) for stage, skip in zip(self._skip_stages(), reversed(skips))]

    def forward(self, g: torch.Tensor, terms: list[torch.Tensor], rows: torch.Tensor | None = None) -> torch.Tensor:
        _check_rows(g.shape[0], terms, rows)
        d = self.upc1(g.view(-1, self.g_dim, 1, 1))  # (N, 8nf, 4, 4)
        for stage, term in zip(self._skip_stages(), terms):  # [d, the skip of the same resolution], coarsest first
            d = _stage_with_skip(stage, self._grow(d), term, rows)
        return d  # (N, C, S, S)


class DCGANEncoder(nn.Module):
    def __init__(self, g_dim: int, channels: int = 1, width: int = 64) -> None:
        super().__init__()
        self.g_dim, self.channels = g_dim, channels
        nf = width
        self.c1 = _dcgan_down(channels, nf)  # -> (nf, 32, 32)
        self.c2 = _dcgan_down(nf, nf * 2)  # -> (2nf, 16, 16)
        self.c3 = _dcgan_down(nf * 2, nf * 4)  # -> (4nf, 8, 8)
        self.c4 = _dcgan_down(nf * 4, nf * 8)  # -> (8nf, 4, 4)
        self.c5 = _to_vector(nf * 8, g_dim)  # -> (g_dim, 1, 1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        _check_frames(x, self.channels)
        h1 = self.c1(x)  # (N, nf, 32, 32)
        h2 = self.c2(h1)  # (N, 2nf, 16, 16)
        h3 = self.c3(h2)  # (N, 4nf, 8, 8)
        h4 = self.c4(h3)  # (N, 8nf, 4, 4)
        h5 = self.c5(h4)  # (N, g_dim, 1, 1)
        return h5.flatten(1), [h1, h2, h3, h4]


class DCGANDecoder(SkipDecoder):
    def __init__(self, g_dim: int, channels: int = 1, width: int = 64) -> None:
        super().__init__()
        self.g_dim = g_dim
        nf = width
        self.upc1 = _from_vector(g_dim, nf * 8)  # -> (8nf, 4, 4)
        self.upc2 = _dcgan_up(nf * 8 * 2, nf * 4)  # [d1, skip 4x4] -> (4nf, 8, 8)
        self.upc3 = _dcgan_up(nf * 4 * 2, nf * 2)  # [d2, skip 8x8] -> (2nf, 16, 16)
        self.upc4 = _dcgan_up(nf * 2 * 2, nf)  # [d3, skip 16x16] -> (nf, 32, 32)
        self.upc5 = nn.Sequential(  # [d4, skip 32x32] -> (C, 64, 64)
            nn.ConvTranspose2d(nf * 2, channels, 4, 2, 1), nn.Sigmoid()
        )
        self.n_stages = 4  # upc2 .. upc5: each transposed conv doubles the resolution itself



class VGGEncoder(nn.Module):
    """VGG16 to its last pooling layer: at 64x64 four stages (c1-c4) then c5 to the vector; at
    128x128 a fifth stage of three 8nf layers first (the authors' ``vgg_128.py``), c6 to the vector."""

    def __init__(self, g_dim: int, channels: int = 1, width: int = 64, image_size: int = IMAGE_SIZE) -> None:
        super().__init__()
        self.g_dim, self.channels, self.image_size = g_dim, channels, _check_size(image_size)
        nf = width
        stages = [
            [_vgg_layer(channels, nf), _vgg_layer(nf, nf)],  # full resolution
            [_vgg_layer(nf, nf * 2), _vgg_layer(nf * 2, nf * 2)],  # 1/2
            [_vgg_layer(nf * 2, nf * 4), _vgg_layer(nf * 4, nf * 4), _vgg_layer(nf * 4, nf * 4)],  # 1/4
            [_vgg_layer(nf * 4, nf * 8), _vgg_layer(nf * 8, nf * 8), _vgg_layer(nf * 8, nf * 8)],  # 1/8
        ]
        if image_size == 128:
            stages.append([_vgg_layer(nf * 8, nf * 8), _vgg_layer(nf * 8, nf * 8), _vgg_layer(nf * 8, nf * 8)])
        self.n_stages = len(stages)
        for i, layers in enumerate(stages, start=1):
            setattr(self, f"c{i}", nn.Sequential(*layers))
        setattr(self, f"c{self.n_stages + 1}", _to_vector(nf * 8, g_dim))  # 4x4 -> 1x1
        self.pool = MaxPool2d(kernel_size=2, stride=2)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        _check_frames(x, self.channels, self.image_size)
        skips = [self.c1(x)]  # (N, nf, S, S)
        for i in range(2, self.n_stages + 1):
            skips.append(getattr(self, f"c{i}")(self.pool(skips[-1])))  # halving the resolution each time
        h = getattr(self, f"c{self.n_stages + 1}")(self.pool(skips[-1]))  # (N, g_dim, 1, 1)
        return h.flatten(1), skips


class VGGDecoder(SkipDecoder):
    """The encoder's mirror, nearest up-sampling instead of pooling; at 128x128 one more 8nf stage
    first (the authors' ``vgg_128.py``)."""

    def __init__(self, g_dim: int, channels: int = 1, width: int = 64, image_size: int = IMAGE_SIZE) -> None:
        super().__init__()
        self.g_dim = g_dim
        _check_size(image_size)
        nf = width
        stages = [
            [_vgg_layer(nf * 8 * 2, nf * 8), _vgg_layer(nf * 8, nf * 8), _vgg_layer(nf * 8, nf * 4)],  # 1/8
            [_vgg_layer(nf * 4 * 2, nf * 4), _vgg_layer(nf * 4, nf * 4), _vgg_layer(nf * 4, nf * 2)],  # 1/4
            [_vgg_layer(nf * 2 * 2, nf * 2), _vgg_layer(nf * 2, nf)],  # 1/2
            [_vgg_layer(nf * 2, nf), nn.ConvTranspose2d(nf, channels, 3, 1, 1), nn.Sigmoid()],  # full
        ]
        if image_size == 128:  # [up(d1), skip 8x8] at 8nf before the 64x64 stages
            stages.insert(0, [_vgg_layer(nf * 8 * 2, nf * 8), _vgg_layer(nf * 8, nf * 8), _vgg_layer(nf * 8, nf * 8)])
        self.n_stages = len(stages)
        self.upc1 = _from_vector(g_dim, nf * 8)  # -> (8nf, 4, 4)
        for i, layers in enumerate(stages, start=2):
            setattr(self, f"upc{i}", nn.Sequential(*layers))
        self.up = nn.UpsamplingNearest2d(scale_factor=2)

    def _grow(self, d: torch.Tensor) -> torch.Tensor:
        return self.up(d)  # nearest up-sampling to the next skip's resolution


_FAMILIES: dict[str, tuple[type[nn.Module], type[nn.Module]]] = {
    "dcgan": (DCGANEncoder, DCGANDecoder),
    "vgg": (VGGEncoder, VGGDecoder),
}


def build_backbone(
    name: str, g_dim: int, channels: int, width: int, image_size: int = IMAGE_SIZE
) -> tuple[nn.Module, nn.Module]:
    """(encoder, decoder) of the family ``name`` (``dcgan`` or ``vgg``) for ``image_size`` frames."""
    if name not in _FAMILIES:
        raise ValueError(f"backbone must be one of {BACKBONES}, got {name!r}")
    _check_size(image_size)
    encoder_cls, decoder_cls = _FAMILIES[name]
    if name == "dcgan":
        if image_size != IMAGE_SIZE:
            raise ValueError(f"the dcgan backbone takes {IMAGE_SIZE}x{IMAGE_SIZE} frames, not {image_size}")
        return encoder_cls(g_dim, channels, width), decoder_cls(g_dim, channels, width)
    return encoder_cls(g_dim, channels, width, image_size), decoder_cls(g_dim, channels, width, image_size)

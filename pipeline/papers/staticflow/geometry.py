"""The staticflow nets' layer tables and the grid sizes they give, without torch.

The flow stage picks its label grid from the all-conv net's output size (``allconv_output_size``)
in a job that runs no network: reading the geometry from here spares it torch's import.
"""

from __future__ import annotations

# (filters, kernel, stride, pad) of the AlexNet-like convs; a 3/s2 max-pool follows 0, 1 and 4.
ALEXNET_CONVS: tuple[tuple[int, int, int, int], ...] = (
    (96, 11, 4, 2),
    (256, 5, 1, 2),
    (384, 3, 1, 1),
    (384, 3, 1, 1),
    (256, 3, 1, 1),
)
ALEXNET_POOL_AFTER: tuple[int, ...] = (0, 1, 4)
ALEXNET_FC = 4096
# (filters, kernel, stride, pad, dropout) of the all-conv hidden layers; a 1x1 ConvBN to the
# classes follows.
ALLCONV_CONVS: tuple[tuple[int, int, int, int, float], ...] = (
    (96, 7, 4, 2, 0.0),
    (128, 3, 2, 1, 0.0),
    (256, 4, 1, 0, 0.0),
    (256, 3, 1, 1, 0.3),
    (512, 3, 1, 0, 0.3),
    (512, 3, 1, 1, 0.3),
    (512, 3, 1, 1, 0.0),
)


def _conv_out(size: int, kernel: int, stride: int, pad: int) -> int:
    return (size + 2 * pad - kernel) // stride + 1


def allconv_output_size(image_size: int) -> int:
    """Side of the all-conv net's output grid for a square input (200 -> 20, 120 -> 10).

    The all-conv geometry fixes the label grid, so a preset picks the flow grid from here.
    """
    size = image_size
    for _, k, s, p, _ in ALLCONV_CONVS:
        size = _conv_out(size, k, s, p)
    return size


def alexnet_feature_size(image_size: int) -> int:
    """Side of the last pooled AlexNet map for a square input (200 -> 5)."""
    size = image_size
    for i, (_, k, s, p) in enumerate(ALEXNET_CONVS):
        size = _conv_out(size, k, s, p)
        if i in ALEXNET_POOL_AFTER:
            size = _conv_out(size, 3, 2, 0)
    return size

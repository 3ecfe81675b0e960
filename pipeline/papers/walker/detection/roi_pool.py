"""RoI max pooling (Fast R-CNN), in plain torch ops (no torchvision here).

A RoI (x1, y1, x2, y2) in image pixels is mapped to feature cells by rounding ``x *
spatial_scale`` (Caffe's RoIPooling), clipped to the map, and max-pooled into ``size x size``
bins; bin i of a region of h cells spans cells ``floor(i h / size)`` to ``ceil((i + 1) h / size)``,
exactly :func:`torch.nn.functional.adaptive_max_pool2d`'s bins. RoIs whose regions have the same
(h, w) are gathered into one tensor and pooled in one call, so the cost is a few calls per
batch, not one per RoI; gradients flow to the features through the gather.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def roi_cells(rois: torch.Tensor, spatial_scale: float, height: int, width: int) -> torch.Tensor:
    """(R, 5) [batch index, x1, y1, x2, y2] in pixels -> (R, 5) long [b, cx1, cy1, cx2, cy2] in cells."""
    cells = torch.round(rois[:, 1:] * spatial_scale).long()
    cells[:, 0::2] = cells[:, 0::2].clamp(0, width - 1)
    cells[:, 1::2] = cells[:, 1::2].clamp(0, height - 1)
    cells[:, 2] = torch.maximum(cells[:, 2], cells[:, 0])  # at least one cell
    cells[:, 3] = torch.maximum(cells[:, 3], cells[:, 1])
    return torch.cat([rois[:, :1].long(), cells], dim=1)


def roi_max_pool(features: torch.Tensor, rois: torch.Tensor, size: int, spatial_scale: float) -> torch.Tensor:
    """features (B, C, H, W), rois (R, 5) -> (R, C, size, size)."""
    _, channels, height, width = features.shape
    cells = roi_cells(rois, spatial_scale, height, width)
    h_all = cells[:, 4] - cells[:, 2] + 1
    w_all = cells[:, 3] - cells[:, 1] + 1
    order, pooled = [], []
    for h, w in torch.unique(torch.stack([h_all, w_all], dim=1), dim=0).tolist():
        idx = torch.nonzero((h_all == h) & (w_all == w)).squeeze(1)  # RoIs with an h x w region
        sel = cells[idx]
        ys = sel[:, 2, None] + torch.arange(h, device=features.device)  # (n, h)
        xs = sel[:, 1, None] + torch.arange(w, device=features.device)  # (n, w)
        crops = features[sel[:, 0, None, None], :, ys[:, :, None], xs[:, None, :]]  # (n, h, w, C)
        pooled.append(F.adaptive_max_pool2d(crops.permute(0, 3, 1, 2), size))  # (n, C, size, size)
        order.append(idx)
    if not pooled:
        return features.new_zeros((0, channels, size, size))
    inverse = torch.empty(len(rois), dtype=torch.long, device=features.device)
    inverse[torch.cat(order)] = torch.arange(len(rois), device=features.device)
    return torch.cat(pooled)[inverse]  # (R, C, size, size), in the RoIs' order

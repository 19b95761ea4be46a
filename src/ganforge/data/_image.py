"""Small image helpers shared by the dataset loaders."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def round_to_uint8_(x: torch.Tensor) -> torch.Tensor:
    """float in [0, 255] -> uint8, rounding half up (as ``float_to_uint8``), clamped.

    Works in place on ``x`` (a temporary in every caller) to avoid three extra copies.
    """
    return x.add_(0.5).floor_().clamp_(0, 255).to(torch.uint8)


def resize_bilinear_uint8(
    images: torch.Tensor, size: int, *, scale: float = 1.0, chunk: int = 4096
) -> torch.Tensor:
    """Bilinear resize of (N, C, H, W) images to (N, C, size, size) uint8.

    ``images * scale`` must lie in [0, 255]. Uses ``F.interpolate(mode="bilinear",
    align_corners=False)`` in float32 and rounds half up. Processed in chunks so that
    resizing 60,000 MNIST digits to 64x64 never holds a 1 GB float copy.
    """
    out = torch.empty((images.shape[0], images.shape[1], size, size), dtype=torch.uint8)
    for i in range(0, len(images), chunk):
        x = images[i : i + chunk].to(torch.float32, copy=True)  # modified in place below
        if scale != 1.0:
            x.mul_(scale)
        if x.shape[-2:] != (size, size):
            x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
        out[i : i + chunk] = round_to_uint8_(x)
    return out

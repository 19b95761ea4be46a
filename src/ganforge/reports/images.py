"""Sample grids: tile a batch of images into one uint8 image and save it as a PNG.

Float images follow the project convention (NCHW in [-1, 1]) and are quantised with
:func:`ganforge.data.base.float_to_uint8`, the one rounding rule of the project, so a
saved grid shows exactly the pixels a metric would see.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ganforge.data.base import float_to_uint8
from ganforge.io import atomic_write

#: Width in pixels that :func:`save_image_grid` upscales small grids to (at least).
MIN_GRID_WIDTH = 256
#: Largest automatic upscaling factor (a single 4x4 image stays a sensible size).
MAX_AUTO_SCALE = 16


def _as_uint8_batch(images: torch.Tensor) -> torch.Tensor:
    """(N, C, H, W) or (C, H, W), float in [-1, 1] or uint8 -> uint8 (N, C, H, W) on CPU."""
    if not isinstance(images, torch.Tensor):
        raise TypeError(f"images must be a torch.Tensor, got {type(images).__name__}")
    if images.dim() == 3:
        images = images.unsqueeze(0)
    if images.dim() != 4:
        raise ValueError(
            f"images must be (N, C, H, W) or (C, H, W), got shape {tuple(images.shape)}"
        )
    if images.dtype == torch.uint8:
        return images.detach().cpu()
    if images.is_floating_point():
        return float_to_uint8(images.detach().cpu())
    raise TypeError(
        f"images must be float in [-1, 1] or uint8, got {images.dtype}; "
        "convert integer images with .to(torch.uint8) first"
    )


def make_grid(
    images: torch.Tensor,
    nrow: int | None = None,
    padding: int = 2,
    pad_value: int = 255,
) -> torch.Tensor:
    """Tile images into one grid image, row by row.

    Args:
        images: float (N, C, H, W) in [-1, 1] (quantised with ``float_to_uint8``) or
            uint8 (N, C, H, W); a single (C, H, W) image is allowed.
        nrow: images per row; default ``ceil(sqrt(N))`` (a square-ish grid).
        padding: pixels of border around and between the images (0 for none).
        pad_value: border colour in uint8 units, 0..255. The default is white because
            digit and toy samples are light on a black background, so a black border
            would not separate them.

    Returns:
        uint8 (C, H', W') with ``H' = rows * (H + padding) + padding`` and
        ``W' = ncol * (W + padding) + padding``, where ``ncol = min(nrow, N)`` and
        ``rows = ceil(N / ncol)``. Cells after the last image are ``pad_value``.
    """
    batch = _as_uint8_batch(images)
    n, c, h, w = batch.shape
    if n == 0:
        raise ValueError("make_grid needs at least one image, got an empty batch")
    if padding < 0:
        raise ValueError(f"padding must be >= 0, got {padding}")
    if not 0 <= pad_value <= 255:
        raise ValueError(f"pad_value is in uint8 units and must be in 0..255, got {pad_value}")
    if nrow is None:
        nrow = math.ceil(math.sqrt(n))
    if nrow < 1:
        raise ValueError(f"nrow must be >= 1, got {nrow}")
    ncol = min(nrow, n)
    rows = math.ceil(n / ncol)
    grid = torch.full(
        (c, rows * (h + padding) + padding, ncol * (w + padding) + padding),
        int(pad_value),
        dtype=torch.uint8,
    )
    for i in range(n):
        r, k = divmod(i, ncol)
        top, left = padding + r * (h + padding), padding + k * (w + padding)
        grid[:, top : top + h, left : left + w] = batch[i]
    return grid


def auto_scale(width: int, min_width: int = MIN_GRID_WIDTH) -> int:
    """Smallest integer factor that makes ``width`` at least ``min_width`` (capped at 16)."""
    if width <= 0:
        raise ValueError(f"width must be positive, got {width}")
    return max(1, min(MAX_AUTO_SCALE, math.ceil(min_width / width)))


def upscale_nearest(grid: torch.Tensor, scale: int) -> torch.Tensor:
    """Repeat every pixel ``scale`` x ``scale`` times: (C, H, W) -> (C, H*s, W*s).

    Nearest neighbour keeps the pixels honest (no smoothing that would flatter
    blurry samples).
    """
    if scale < 1:
        raise ValueError(f"scale must be a positive integer, got {scale}")
    if scale == 1:
        return grid
    return grid.repeat_interleave(scale, dim=-2).repeat_interleave(scale, dim=-1)


def to_pil(image: torch.Tensor) -> Image.Image:
    """uint8 (C, H, W) with C = 1 ('L'), 3 ('RGB') or 4 ('RGBA') -> a Pillow image."""
    if image.dtype != torch.uint8 or image.dim() != 3:
        raise ValueError(
            f"to_pil needs a uint8 (C, H, W) tensor, got {image.dtype} {tuple(image.shape)}"
        )
    modes = {1: "L", 3: "RGB", 4: "RGBA"}
    c = image.shape[0]
    if c not in modes:
        raise ValueError(
            f"can only save 1 (grey), 3 (RGB) or 4 (RGBA) channels as PNG, got {c}; "
            "select channels first, e.g. images[:, :3]"
        )
    array = image.permute(1, 2, 0).contiguous().numpy()
    if c == 1:
        array = array[:, :, 0]
    image_out = Image.fromarray(np.ascontiguousarray(array))  # mode follows the shape
    return image_out


def save_image_grid(
    images: torch.Tensor,
    path: str | os.PathLike[str],
    nrow: int | None = None,
    scale: int | None = None,
    padding: int = 2,
    pad_value: int = 255,
    min_width: int = MIN_GRID_WIDTH,
) -> Path:
    """Save images as one PNG grid, atomically.

    Args:
        images: float (N, C, H, W) in [-1, 1] or uint8, C = 1, 3 or 4.
        path: the PNG file to write (parent folders are created).
        nrow: images per row (default ``ceil(sqrt(N))``).
        scale: integer nearest-neighbour upscaling of the whole grid. ``None`` (the
            default) picks the smallest factor making the grid at least ``min_width``
            pixels wide, so a grid of 16x16 digits is visible; ``1`` keeps the pixels.
        padding, pad_value: see :func:`make_grid` (in pixels before upscaling).
        min_width: target width for the automatic scale.

    Returns:
        ``path`` as a :class:`Path`.
    """
    grid = make_grid(images, nrow=nrow, padding=padding, pad_value=pad_value)
    if scale is None:
        scale = auto_scale(grid.shape[-1], min_width)
    image = to_pil(upscale_nearest(grid, int(scale)))
    return atomic_write(path, lambda f: image.save(f, format="PNG"))


def load_png(path: str | os.PathLike[str]) -> torch.Tensor:
    """Read a PNG (or any Pillow image) as uint8 (C, H, W); 'L' gives C = 1.

    Palette and other modes are converted to RGB; 'LA' to 'RGBA'.
    """
    with Image.open(path) as image:
        if image.mode not in ("L", "RGB", "RGBA"):
            image = image.convert("RGBA" if "A" in image.getbands() else "RGB")
        array = np.asarray(image, dtype=np.uint8).copy()
    if array.ndim == 2:
        array = array[:, :, None]
    return torch.from_numpy(array).permute(2, 0, 1).contiguous()

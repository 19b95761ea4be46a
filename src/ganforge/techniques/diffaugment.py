"""Differentiable augmentation (DiffAugment) of the critic's real and fake inputs.

Zhao et al. 2020, Differentiable Augmentation for Data-Efficient GAN Training. With
little data the critic memorises the training set. Augmenting only the real images
would teach the generator to produce augmented images; DiffAugment instead applies the
same family of random transformations T to *both* real and fake images, in the critic
update and in the generator update, so D sees T(x) and T(G(z)). Because T is
differentiable, the generator's gradient flows back through T(G(z)).

Policies (comma-separated in ``policy``, applied in the order given):

- ``color``: per sample, brightness x + b, b ~ U(-0.5, 0.5); then saturation
  (x - mean_c) * s + mean_c, s ~ U(0, 2), mean_c the mean over channels at each pixel;
  then contrast (x - mean) * k + mean, k ~ U(0.5, 1.5), mean over the whole image.
- ``translation``: per sample, an integer shift (dy, dx) with |dy| <= H // 8 and
  |dx| <= W // 8, uniform, the uncovered border filled with zeros.
- ``cutout``: per sample, zero a (H // 2) x (W // 2) rectangle whose centre is uniform
  over the pixels; near the border the rectangle is clipped (cut off by the image edge),
  as in Cutout (DeVries & Taylor 2017), so fewer pixels may be zeroed.

Scale: the images are assumed in [-1, 1], the convention of the paper's reference code,
and the constants above are applied unchanged on that scale (brightness U(-0.5, 0.5) is
a quarter of the range; zero, the translation padding and cutout value, is mid-grey).
On [0, 1] data the same numbers would be twice as strong and zero would be black, so
rescale to [-1, 1] first. The results are not clamped back to [-1, 1]: clamping would
zero the gradient wherever it acts, and the critic does not need in-range inputs.

Randomness: every draw comes from ``generator`` in a fixed order determined only by the
policy and the batch shape, so two generators with the same seed apply the *same*
augmentation to two batches of equal shape (useful for tests and for consistency
regularisation). The paper does not require identical draws for real and fake: it only
applies the same *distribution* of transformations to both, with independent draws per
sample; calling with one shared generator (or none) gives exactly that.
"""

from __future__ import annotations

import torch

from ganforge.nn.parallel import sharded

#: The valid policy names.
POLICIES = ("color", "translation", "cutout")

#: Largest translation as a fraction of the image size.
TRANSLATION_RATIO = 1 / 8
#: Cutout rectangle size as a fraction of the image size.
CUTOUT_RATIO = 1 / 2


def _draw_device(generator: torch.Generator | None, device: torch.device) -> torch.device:
    # Draw where the generator lives (a CPU generator cannot draw on CUDA), then move.
    return generator.device if generator is not None else device


def _uniform(
    n: int, low: float, high: float, generator: torch.Generator | None, x: torch.Tensor
) -> torch.Tensor:
    """(N, 1, 1, 1) ~ U(low, high) in x's dtype and device."""
    if generator is None:  # a training draw: sharded over data-parallel ranks
        u = sharded(lambda s: torch.rand(s, device=x.device), (n,))
    else:
        u = torch.rand(n, generator=generator, device=_draw_device(generator, x.device))
    return (low + (high - low) * u).to(device=x.device, dtype=x.dtype).view(n, 1, 1, 1)


def _randint(
    n: int, low: int, high: int, generator: torch.Generator | None, device: torch.device
) -> torch.Tensor:
    """(N,) integers uniform in [low, high] (inclusive), on ``device``."""
    if generator is None:  # a training draw: sharded over data-parallel ranks
        return sharded(lambda s: torch.randint(low, high + 1, s, device=device), (n,))
    r = torch.randint(
        low, high + 1, (n,), generator=generator, device=_draw_device(generator, device)
    )
    return r.to(device)


def adjust_color(
    x: torch.Tensor, brightness: torch.Tensor, saturation: torch.Tensor, contrast: torch.Tensor
) -> torch.Tensor:
    """Brightness, saturation and contrast with given per-sample factors.

    Args:
        x: (N, C, H, W) images.
        brightness: (N, 1, 1, 1) added.
        saturation: (N, 1, 1, 1) scale of the deviation from the per-pixel channel mean.
        contrast: (N, 1, 1, 1) scale of the deviation from the per-image mean.

    Returns:
        (N, C, H, W).
    """
    x = x + brightness
    mean_c = x.mean(dim=1, keepdim=True)
    x = (x - mean_c) * saturation + mean_c
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - mean) * contrast + mean


def translate(x: torch.Tensor, dy: torch.Tensor, dx: torch.Tensor) -> torch.Tensor:
    """Shift each image by integer pixels, filling the uncovered border with zeros.

    ``out[n, :, i, j] = x[n, :, i - dy[n], j - dx[n]]`` where that pixel exists, else 0:
    positive dy moves content down, positive dx right. Implemented by indexing with
    clamped source coordinates and zeroing the out-of-image ones (no padding copy, no
    host synchronisation); differentiable in x.

    Args:
        x: (N, C, H, W) images.
        dy, dx: (N,) integer shifts.

    Returns:
        (N, C, H, W).
    """
    n, _, h, w = x.shape
    dy = dy.to(device=x.device, dtype=torch.long)
    dx = dx.to(device=x.device, dtype=torch.long)
    rows = torch.arange(h, device=x.device)[None, :] - dy[:, None]  # (N, H) source rows
    cols = torch.arange(w, device=x.device)[None, :] - dx[:, None]  # (N, W) source cols
    valid = ((rows >= 0) & (rows < h))[:, :, None] & ((cols >= 0) & (cols < w))[:, None, :]
    batch = torch.arange(n, device=x.device)[:, None, None]
    # Advanced indices around a slice: the result is (N, H, W, C).
    out = x[batch, :, rows.clamp(0, h - 1)[:, :, None], cols.clamp(0, w - 1)[:, None, :]]
    return out.permute(0, 3, 1, 2) * valid[:, None].to(x.dtype)


def cutout(
    x: torch.Tensor,
    cy: torch.Tensor,
    cx: torch.Tensor,
    size: tuple[int, int],
) -> torch.Tensor:
    """Zero a rectangle of ``size = (sh, sw)`` centred near (cy, cx) in each image.

    The rectangle covers rows ``[cy - sh // 2, cy - sh // 2 + sh)`` and columns
    ``[cx - sw // 2, cx - sw // 2 + sw)``, clipped to the image. Multiplies by a 0/1 mask,
    so the gradient is 1 outside and 0 inside the rectangle.

    Args:
        x: (N, C, H, W) images.
        cy, cx: (N,) integer centres.
        size: (sh, sw) the rectangle's height and width.

    Returns:
        (N, C, H, W).
    """
    _, _, h, w = x.shape
    sh, sw = size
    top = cy.to(device=x.device, dtype=torch.long)[:, None, None] - sh // 2
    left = cx.to(device=x.device, dtype=torch.long)[:, None, None] - sw // 2
    rows = torch.arange(h, device=x.device)[None, :, None]
    cols = torch.arange(w, device=x.device)[None, None, :]
    inside = (rows >= top) & (rows < top + sh) & (cols >= left) & (cols < left + sw)
    mask = (~inside).to(x.dtype)  # (N, H, W): 0 inside the rectangle
    return x * mask[:, None]


def _parse(policy: str) -> list[str]:
    names = [p.strip() for p in policy.split(",") if p.strip()]
    bad = [p for p in names if p not in POLICIES]
    if bad:
        raise ValueError(
            f"Unknown DiffAugment policy {', '.join(map(repr, bad))}; "
            f"choose from {', '.join(POLICIES)} (comma-separated)."
        )
    return names


def diff_augment(
    x: torch.Tensor,
    policy: str = "color,translation,cutout",
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Apply the DiffAugment ``policy`` to a batch of images, differentiably.

    Each sample gets its own random parameters. See the module docstring for the
    transformations, the [-1, 1] scale and the randomness contract (same seed, same
    batch shape -> same augmentation).

    Args:
        x: (N, C, H, W) images in [-1, 1].
        policy: comma-separated names from ``color``, ``translation``, ``cutout``,
            applied in order; ``""`` applies nothing and returns x.
        generator: source of every random draw.

    Returns:
        (N, C, H, W) augmented images (not clamped).

    Raises:
        ValueError: for an unknown policy name (listing the valid ones) or a non-4-D x.
    """
    names = _parse(policy)  # validate before drawing anything
    if x.ndim != 4:
        raise ValueError(f"diff_augment expects (N, C, H, W) images, got {tuple(x.shape)}.")
    n, _, h, w = x.shape
    for name in names:
        if name == "color":
            b = _uniform(n, -0.5, 0.5, generator, x)
            s = _uniform(n, 0.0, 2.0, generator, x)
            k = _uniform(n, 0.5, 1.5, generator, x)
            x = adjust_color(x, b, s, k)
        elif name == "translation":
            max_dy, max_dx = int(h * TRANSLATION_RATIO), int(w * TRANSLATION_RATIO)
            dy = _randint(n, -max_dy, max_dy, generator, x.device)
            dx = _randint(n, -max_dx, max_dx, generator, x.device)
            x = translate(x, dy, dx)
        else:  # cutout
            size = (int(h * CUTOUT_RATIO), int(w * CUTOUT_RATIO))
            cy = _randint(n, 0, h - 1, generator, x.device)
            cx = _randint(n, 0, w - 1, generator, x.device)
            x = cutout(x, cy, cx, size)
    return x

r"""SSIM, MS-SSIM and PSNR of image batches, and MS-SSIM sample diversity.

SSIM (Wang, Bovik, Sheikh & Simoncelli 2004, "Image quality assessment: from error
visibility to structural similarity"): with local statistics under a normalised
Gaussian window (11 x 11, sigma 1.5), C1 = (K1 L)^2, C2 = (K2 L)^2, K1 = 0.01,
K2 = 0.03 and L the data range,

    l(x, y)  = (2 mu_x mu_y + C1) / (mu_x^2 + mu_y^2 + C1)                  luminance
    cs(x, y) = (2 sigma_xy + C2) / (sigma_x^2 + sigma_y^2 + C2)             contrast-structure
    SSIM     = mean over channels and valid window positions of l * cs.

"Valid" means the window is only placed where it fits entirely (no padding), so an
H x W image gives an (H - 10) x (W - 10) map. Colour images are scored per channel and
the channel scores averaged.

MS-SSIM (Wang, Simoncelli & Bovik 2003, "Multiscale structural similarity for image
quality assessment"): over M = 5 scales j = 1..M, the image halved between scales,

    MS-SSIM = prod_{j=1..M-1} cs_j^{w_j} * SSIM_M^{w_M},
    w = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333),

with cs_j the mean of the contrast-structure map at scale j and SSIM_M the mean of the
full l * cs map at the coarsest scale: contrast-structure at every scale, luminance
only at the last (the paper's l_M^{a_M} prod_j c_j^{b_j} s_j^{g_j} with a_M = b_M = g_M
= w_M, pooled the way the authors' MATLAB code and ``tf.image.ssim_multiscale`` pool it).
Each term is averaged over the spatial positions, then over the channels, before the
powers.

Small images. Five scales of an 11-pixel window need images of at least
11 * 2^4 = 176 pixels. For smaller images (28 x 28 digits, 32 x 32 CIFAR-10) we follow
the TensorFlow research ``msssim.py`` convention: at each scale the window is
``size = min(11, H_j, W_j)`` pixels with ``sigma = 1.5 * size / 11`` (the same shape
relative to the window), so scales where the image is >= 11 pixels use the standard
window and smaller ones a window covering the whole image (one global SSIM term). A
32 x 32 image is scored at 32, 16, 8, 4, 2 pixels with windows 11, 11, 8, 4, 2.
Odena et al. 2017 (AC-GAN, section 4.2) used MS-SSIM between pairs of generated 128 x 128
ImageNet samples of one class as a diversity measure; the same measure is routinely
applied to 32 x 32 CIFAR-10-sized samples with this shrinking.

Downsampling: 2 x 2 average pooling with stride 2; an odd height or width is first
padded by repeating its last row or column, so an H-pixel side becomes ceil(H / 2)
(28 -> 14 -> 7 -> 4 -> 2).

Negative contrast-structure. cs_j < 0 (anti-correlated images) has no real power
``cs_j ** 0.2856``; we clamp cs_j and SSIM_M to >= 0 before the powers (as
``tf.image.ssim_multiscale`` does with a ReLU), so MS-SSIM is in [0, 1].

Inputs: uint8, or floats in [0, data_range], shape (N, C, H, W) (a (C, H, W) image is
taken as N = 1); everything is computed in float64. SSIM's luminance term is not shift
invariant, so images in the project's [-1, 1] convention must be mapped first (with
:func:`ganforge.data.base.float_to_uint8`, as :func:`ms_ssim_diversity` does).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from ganforge.data.base import float_to_uint8

__all__ = ["ms_ssim", "ms_ssim_diversity", "psnr", "ssim"]

K1, K2 = 0.01, 0.03
WIN_SIZE, WIN_SIGMA = 11, 1.5
MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)


# ------------------------------------------------------------------------------- inputs


def _image_batch(x: Any, name: str) -> torch.Tensor:
    """(N, C, H, W) or (C, H, W) uint8/float tensor or array -> float64 (N, C, H, W)."""
    if not isinstance(x, torch.Tensor):
        x = torch.as_tensor(np.asarray(x))
    if x.dim() == 3:
        x = x.unsqueeze(0)
    if x.dim() != 4:
        raise ValueError(
            f"{name} must be images (N, C, H, W) or (C, H, W), got shape {tuple(x.shape)}."
        )
    if x.dtype == torch.bool or x.is_complex():
        raise ValueError(f"{name} must be uint8 or float images, got {x.dtype}.")
    x = x.detach().cpu().to(torch.float64)
    if not torch.isfinite(x).all():
        raise ValueError(f"{name} contains NaN/inf pixels; remove those images first.")
    return x


def _image_pair(x: Any, y: Any) -> tuple[torch.Tensor, torch.Tensor]:
    a, b = _image_batch(x, "x"), _image_batch(y, "y")
    if a.shape != b.shape:
        raise ValueError(
            f"x and y must have the same shape, got {tuple(a.shape)} and {tuple(b.shape)}."
        )
    if a.shape[0] == 0:
        raise ValueError("x and y are empty batches.")
    return a, b


def _check_range(a: torch.Tensor, b: torch.Tensor, data_range: float) -> None:
    """SSIM needs intensities in [0, data_range] (its luminance term is not shift invariant)."""
    if not (data_range > 0 and math.isfinite(data_range)):
        raise ValueError(f"data_range must be a positive number, got {data_range}.")
    lo = min(float(a.min()), float(b.min()))
    hi = max(float(a.max()), float(b.max()))
    tol = 1e-6 * data_range
    if lo < -tol or hi > data_range + tol:
        raise ValueError(
            f"pixel values span [{lo:.4g}, {hi:.4g}] but SSIM expects [0, data_range] = "
            f"[0, {data_range:g}]. For the project's [-1, 1] images use "
            "ganforge.data.base.float_to_uint8(x) with data_range=255, or (x + 1) / 2 with "
            "data_range=1."
        )


# ------------------------------------------------------------------------------ windows


def _gaussian_1d(size: int, sigma: float) -> torch.Tensor:
    """Normalised 1-D Gaussian of ``size`` taps centred on the window (float64).

    For an even size the centre falls between the two middle taps.
    """
    coords = torch.arange(size, dtype=torch.float64) - (size - 1) / 2.0
    g = torch.exp(-(coords**2) / (2.0 * sigma**2))
    return g / g.sum()


def _filter(x: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    """Separable 'valid' Gaussian filtering of each channel: (N, C, H, W) -> (N, C, H', W')."""
    c = x.shape[1]
    size = g.numel()
    kh = g.view(1, 1, size, 1).expand(c, 1, size, 1)
    kw = g.view(1, 1, 1, size).expand(c, 1, 1, size)
    return F.conv2d(F.conv2d(x, kh, groups=c), kw, groups=c)


def _ssim_maps(
    x: torch.Tensor, y: torch.Tensor, data_range: float, size: int, sigma: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """Luminance and contrast-structure maps (N, C, H', W') under a ``size`` Gaussian window."""
    g = _gaussian_1d(size, sigma)
    c1 = (K1 * data_range) ** 2
    c2 = (K2 * data_range) ** 2
    mu_x, mu_y = _filter(x, g), _filter(y, g)
    # Local second moments minus squared means: the window-weighted (biased) variances
    # and covariance of Wang et al. In float64 the cancellation loses nothing that
    # matters for 8-bit images (values <= 65025 vs 1e-16 relative precision).
    var_x = _filter(x * x, g) - mu_x * mu_x
    var_y = _filter(y * y, g) - mu_y * mu_y
    cov_xy = _filter(x * y, g) - mu_x * mu_y
    lum = (2.0 * mu_x * mu_y + c1) / (mu_x * mu_x + mu_y * mu_y + c1)
    cs = (2.0 * cov_xy + c2) / (var_x + var_y + c2)
    return lum, cs


# ----------------------------------------------------------------------------- metrics


def ssim(
    x: Any,
    y: Any,
    data_range: float = 255.0,
    win_size: int = WIN_SIZE,
    win_sigma: float = WIN_SIGMA,
) -> torch.Tensor:
    """Structural similarity (Wang et al. 2004) of image pairs, one value per pair.

    Args:
        x, y: images (N, C, H, W) (or (C, H, W)), uint8 or float in [0, data_range],
            same shape; H, W >= ``win_size``.
        data_range: L, the value range (255 for uint8, 1 for floats in [0, 1]).
        win_size, win_sigma: the Gaussian window (11 and 1.5 in the paper).

    Returns:
        float64 tensor (N,), each in [-1, 1]; 1 exactly for identical images.
    """
    a, b = _image_pair(x, y)
    _check_range(a, b, data_range)
    if int(win_size) != win_size or win_size < 1:
        raise ValueError(f"win_size must be a positive integer, got {win_size!r}.")
    h, w = a.shape[-2:]
    if min(h, w) < win_size:
        raise ValueError(
            f"images of {h} x {w} pixels are smaller than the {win_size}-pixel SSIM window; "
            f"pass win_size <= {min(h, w)} (and a smaller win_sigma), or use ms_ssim, which "
            "shrinks the window for small images."
        )
    lum, cs = _ssim_maps(a, b, data_range, int(win_size), float(win_sigma))
    return (lum * cs).mean(dim=(1, 2, 3))


def _downsample(x: torch.Tensor) -> torch.Tensor:
    """2 x 2 average pooling, stride 2; odd sides first padded by repeating the last line."""
    h, w = x.shape[-2:]
    pad_h, pad_w = h % 2, w % 2
    if pad_h or pad_w:
        x = F.pad(x, (0, pad_w, 0, pad_h), mode="replicate")
    return F.avg_pool2d(x, kernel_size=2, stride=2)


def ms_ssim(
    x: Any,
    y: Any,
    data_range: float = 255.0,
    weights: Sequence[float] = MS_SSIM_WEIGHTS,
) -> torch.Tensor:
    """Multi-scale SSIM (Wang et al. 2003) of image pairs, one value per pair.

    See the module docstring for the exact scheme: ``len(weights)`` scales, 2 x 2
    average-pool downsampling, window ``min(11, H_j, W_j)`` with sigma ``1.5 * size / 11``
    at scale j, cs_j at scales 1..M-1 and the full SSIM (luminance too) at the last, all
    clamped to >= 0 before the powers.

    Args:
        x, y: images (N, C, H, W), uint8 or float in [0, data_range], same shape; each
            side must allow ``len(weights) - 1`` halvings (at least 2^(M-1) = 16 pixels
            for 5 scales).
        data_range: L (255 for uint8).
        weights: the exponents w_1..w_M (the paper's by default).

    Returns:
        float64 tensor (N,), in [0, 1]; 1 exactly for identical images.
    """
    a, b = _image_pair(x, y)
    _check_range(a, b, data_range)
    w = torch.as_tensor([float(v) for v in weights], dtype=torch.float64)
    if w.numel() < 1 or not torch.isfinite(w).all() or (w < 0).any():
        raise ValueError(
            f"weights must be a non-empty sequence of non-negative numbers, got {weights!r}."
        )
    levels = w.numel()
    h, wd = a.shape[-2:]
    need = 2 ** (levels - 1)
    if min(h, wd) < need:
        raise ValueError(
            f"{levels} scales need images of at least {need} x {need} pixels, got {h} x {wd}; "
            "pass fewer weights (e.g. weights[:3]) for such small images."
        )
    terms = []  # (N,) each: cs_1 .. cs_{M-1}, then SSIM_M
    for j in range(levels):
        size = min(WIN_SIZE, a.shape[-2], a.shape[-1])
        sigma = WIN_SIGMA * size / WIN_SIZE
        lum, cs = _ssim_maps(a, b, data_range, size, sigma)
        if j < levels - 1:
            terms.append(cs.mean(dim=(2, 3)).mean(dim=1))  # spatial mean, then channels
            a, b = _downsample(a), _downsample(b)
        else:
            terms.append((lum * cs).mean(dim=(2, 3)).mean(dim=1))
    stacked = torch.stack(terms, dim=1).clamp(min=0.0)  # (N, M)
    return torch.prod(stacked ** w[None, :], dim=1)


def psnr(x: Any, y: Any, data_range: float = 255.0) -> torch.Tensor:
    """Peak signal-to-noise ratio per image pair: 10 log10(L^2 / MSE), MSE over C, H, W.

    Args:
        x, y: images (N, C, H, W), uint8 or float, same shape; any value range.
        data_range: L, the peak value (255 for uint8).

    Returns:
        float64 tensor (N,) in dB; ``inf`` where the images are identical (MSE = 0).
    """
    a, b = _image_pair(x, y)
    if not (data_range > 0 and math.isfinite(data_range)):
        raise ValueError(f"data_range must be a positive number, got {data_range}.")
    mse = ((a - b) ** 2).mean(dim=(1, 2, 3))
    # MSE = 0 gives L^2 / 0 = inf and log10(inf) = inf: no special case needed.
    return 10.0 * torch.log10(data_range**2 / mse)


# --------------------------------------------------------------------------- diversity


def _as_uint8_images(images: Any) -> torch.Tensor:
    """uint8 as is; floats in the project's [-1, 1] convention via ``float_to_uint8``."""
    if not isinstance(images, torch.Tensor):
        images = torch.as_tensor(np.asarray(images))
    if images.dim() != 4:
        raise ValueError(f"images must be (N, C, H, W), got shape {tuple(images.shape)}.")
    if images.dtype == torch.uint8:
        return images.detach().cpu()
    if images.is_floating_point():
        if not torch.isfinite(images).all():
            raise ValueError("images contain NaN/inf pixels; remove those samples first.")
        return float_to_uint8(images.detach().cpu())
    raise ValueError(f"images must be uint8 or float in [-1, 1], got {images.dtype}.")


def _random_pairs(n: int, n_pairs: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``n_pairs`` uniform pairs (i, j), i != j, of 0..n-1 (pairs drawn independently)."""
    i = rng.integers(0, n, size=n_pairs)
    j = rng.integers(0, n - 1, size=n_pairs)
    j = j + (j >= i)  # uniform over the n - 1 indices other than i
    return i, j


def _mean_ms_ssim(images: torch.Tensor, i: np.ndarray, j: np.ndarray, batch: int) -> float:
    values = []
    for lo in range(0, len(i), batch):
        ii = torch.from_numpy(i[lo : lo + batch])
        jj = torch.from_numpy(j[lo : lo + batch])
        values.append(ms_ssim(images[ii], images[jj], data_range=255.0))
    return float(torch.cat(values).mean())


def ms_ssim_diversity(
    images: Any,
    n_pairs: int = 1000,
    seed: int = 0,
    labels: Any = None,
    batch_size: int = 256,
) -> dict[str, Any]:
    """Mean MS-SSIM between random pairs of samples: lower means more diverse.

    Odena et al. 2017 (AC-GAN, section 4.2) score the diversity of a class-conditional
    generator by the mean MS-SSIM of random pairs of samples *within a class* (and
    compare it with the same number for real images of that class); values near 1 flag
    mode collapse.

    Args:
        images: (N, C, H, W) uint8, or float in [-1, 1] (the project convention, mapped
            with :func:`~ganforge.data.base.float_to_uint8`); N >= 2.
        n_pairs: pairs drawn (i != j, uniformly and independently, so a pair may
            repeat), overall and, with labels, per class.
        seed: seed of the pair sampler (``numpy.random.default_rng``).
        labels: optional (N,) integer class labels.
        batch_size: pairs scored at once.

    Returns:
        ``{"ms_ssim": mean over random pairs of all images, "n_pairs": n_pairs}``; with
        labels also ``"per_class"`` ({label: mean MS-SSIM of pairs drawn within that
        class}), ``"class_mean"`` (the unweighted mean of the per-class values) and
        ``"skipped_classes"`` (labels with fewer than 2 samples, which have no pairs).
    """
    imgs = _as_uint8_images(images)
    n = imgs.shape[0]
    if n < 2:
        raise ValueError(f"ms_ssim_diversity needs at least 2 images to form pairs, got {n}.")
    if int(n_pairs) != n_pairs or n_pairs < 1:
        raise ValueError(f"n_pairs must be a positive integer, got {n_pairs!r}.")
    rng = np.random.default_rng(seed)
    i, j = _random_pairs(n, int(n_pairs), rng)
    out: dict[str, Any] = {
        "ms_ssim": _mean_ms_ssim(imgs, i, j, batch_size),
        "n_pairs": int(n_pairs),
    }
    if labels is None:
        return out
    lab = labels.detach().cpu().numpy() if isinstance(labels, torch.Tensor) else np.asarray(labels)
    if lab.shape != (n,) or not np.issubdtype(lab.dtype, np.integer):
        raise ValueError(
            f"labels must be an integer vector of length {n}, got {lab.dtype} {lab.shape}."
        )
    per_class: dict[int, float] = {}
    skipped: list[int] = []
    for c in np.unique(lab):
        members = np.flatnonzero(lab == c)
        if len(members) < 2:
            skipped.append(int(c))
            continue
        ci, cj = _random_pairs(len(members), int(n_pairs), rng)
        per_class[int(c)] = _mean_ms_ssim(imgs, members[ci], members[cj], batch_size)
    out["per_class"] = per_class
    out["class_mean"] = float(np.mean(list(per_class.values()))) if per_class else math.nan
    out["skipped_classes"] = skipped
    return out

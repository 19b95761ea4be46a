r"""Scores of image-to-image translators: paired fidelity, cycle error, label survival.

Conventions (the same for every translator, and on every card):

- **Pixels.** Outputs in [-1, 1] are quantised with the project's one rule
  (:func:`ganforge.data.base.float_to_uint8`) and scored on the [0, 255] scale, so a
  score is that of the PNG a user would save. Targets are the dataset's uint8 images.
- **PSNR** = 10 log10(255^2 / MSE) per image, the MSE over all channels and pixels
  jointly (colour images are not converted to luma, unlike the Y-channel convention of
  many super-resolution papers: say so when comparing), averaged over images; no border
  is cropped.
- **SSIM** (Wang et al. 2004): 11 x 11 Gaussian window (sigma 1.5) placed only where it
  fits (no padding: an H x W image gives an (H - 10) x (W - 10) map), K1 = 0.01,
  K2 = 0.03, L = 255; colour images scored per channel and the channels averaged;
  averaged over images (:func:`ganforge.metrics.ssim.ssim`).
- **Cycle error** (CycleGAN): mean |F(G(a)) - a| on the [0, 255] scale over every
  pixel of the test images of A (and likewise for B).
- **Label preservation**: the fraction of translated images that a classifier assigns
  the class of their source (MNIST -> coloured MNIST keeps the digit).
- **FID** of translated images against the target domain uses the evaluation machinery
  unchanged: :func:`translation_source` wraps a translator as the ``sample(n, seed)``
  source that :func:`ganforge.metrics.evaluate.evaluate` takes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import torch

from ganforge.data.base import float_to_uint8, uint8_to_float
from ganforge.metrics.evaluate import SAMPLE_CHUNK, GeneratorSource, batch_seed
from ganforge.metrics.ssim import psnr, ssim

Translate = Callable[[torch.Tensor], torch.Tensor]

PAIRED_CONVENTION = (
    "uint8 [0, 255] after float_to_uint8; PSNR: MSE over C, H, W jointly (no luma), no "
    "border crop; SSIM: 11x11 Gaussian (1.5), valid positions only, per channel then mean"
)


def _batches(x: torch.Tensor, batch_size: int) -> Iterator[tuple[int, torch.Tensor]]:
    for i in range(0, len(x), batch_size):
        yield i, x[i : i + batch_size]


@torch.no_grad()
def translate_all(
    translate: Translate, source: torch.Tensor, batch_size: int = 256
) -> torch.Tensor:
    """uint8 (N, C, H, W) sources -> uint8 (N, C', H', W') translations (quantised)."""
    out = [
        float_to_uint8(translate(uint8_to_float(b)).cpu()) for _, b in _batches(source, batch_size)
    ]
    return torch.cat(out)


def paired_scores(
    translate: Translate,
    source: torch.Tensor,
    target: torch.Tensor,
    batch_size: int = 256,
    win_size: int = 11,
) -> dict[str, float]:
    """Mean PSNR (dB) and SSIM of ``translate(source)`` against ``target``.

    Args:
        translate: float [-1, 1] (B, C, H, W) -> float [-1, 1] (B, C', H', W').
        source: uint8 (N, C, H, W); target: uint8 (N, C', H', W'), row i the pair of row i.
        win_size: the SSIM window (smaller only for images under 11 pixels).

    Returns:
        ``{"psnr": ..., "ssim": ..., "n": N}``; identical images would give PSNR inf.
    """
    if len(source) != len(target):
        raise ValueError(f"{len(source)} sources but {len(target)} targets: pairs must align.")
    fake = translate_all(translate, source, batch_size)
    if fake.shape != target.shape:
        raise ValueError(f"translations are {tuple(fake.shape)}, targets {tuple(target.shape)}.")
    p = psnr(fake, target).mean().item()
    sigma = 1.5 * win_size / 11
    s = ssim(fake, target, win_size=win_size, win_sigma=sigma).mean().item()
    return {"psnr": p, "ssim": s, "n": len(source)}


@torch.no_grad()
def cycle_error(
    there: Translate, back: Translate, images: torch.Tensor, batch_size: int = 256
) -> float:
    """Mean |back(there(x)) - x| on the [0, 255] scale over every pixel of uint8 ``images``."""
    total, count = 0.0, 0
    for _, b in _batches(images, batch_size):
        rec = float_to_uint8(back(there(uint8_to_float(b))).cpu()).float()
        total += (rec - b.float()).abs().sum().item()
        count += b.numel()
    return total / count


@torch.no_grad()
def label_preservation(
    translate: Translate,
    source: torch.Tensor,
    labels: torch.Tensor,
    classify: Callable[[torch.Tensor], torch.Tensor],
    batch_size: int = 256,
) -> dict[str, Any]:
    """Fraction of translations that ``classify`` assigns their source's label.

    Args:
        classify: uint8 images (B, C', H', W') -> logits (B, K) (e.g. ganforge's MNIST
            classifier after a colour-to-gray conversion chosen by the caller).
    Returns:
        ``{"accuracy": ..., "per_class": [...], "n": N}``.
    """
    preds = []
    for _, b in _batches(source, batch_size):
        fake = float_to_uint8(translate(uint8_to_float(b)).cpu())
        preds.append(classify(fake).argmax(1).cpu())
    pred = torch.cat(preds)
    labels = labels.cpu()
    per_class = [
        float((pred[labels == k] == k).float().mean()) if (labels == k).any() else float("nan")
        for k in range(int(labels.max()) + 1)
    ]
    return {
        "accuracy": float((pred == labels).float().mean()),
        "per_class": per_class,
        "n": len(labels),
    }


def translation_source(
    translate: Translate, source: torch.Tensor, info: dict[str, Any] | None = None, seed: int = 0
) -> GeneratorSource:
    """A translator as the sample source of :func:`ganforge.metrics.evaluate.evaluate`.

    The evaluation draws its stream in chunks of 256 seeded ``batch_seed(seed, b)``;
    chunk b here translates sources [256 b, 256 (b + 1)), so evaluating with
    ``n = len(source)`` and this ``seed`` translates every source exactly once (FID of
    the translated test set against the target domain).
    """
    chunks = -(-len(source) // SAMPLE_CHUNK)
    starts = {batch_seed(seed, b): b * SAMPLE_CHUNK for b in range(chunks)}

    def sample(m: int, chunk_seed: int) -> torch.Tensor:
        if chunk_seed not in starts:
            raise ValueError(
                f"translation_source was made for seed {seed} and n <= {len(source)}; "
                "evaluate with that seed and n."
            )
        s = starts[chunk_seed]
        with torch.no_grad():
            return translate(uint8_to_float(source[s : s + m]))

    return GeneratorSource(sample, "images", info)

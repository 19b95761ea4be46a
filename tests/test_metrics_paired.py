"""Paired translation scores: PSNR/SSIM conventions, cycle error, label preservation and
the exact-once translation source, against hand-computed values."""

from __future__ import annotations

import math

import pytest
import torch

from ganforge.data.base import uint8_to_float
from ganforge.metrics.paired import (
    cycle_error,
    label_preservation,
    paired_scores,
    translate_all,
    translation_source,
)


def _u8(*shape: int, seed: int = 0) -> torch.Tensor:
    return torch.randint(
        0, 256, shape, dtype=torch.uint8, generator=torch.Generator().manual_seed(seed)
    )


def test_identity_translation_is_perfect_and_quantisation_is_exact() -> None:
    x = _u8(5, 3, 16, 16)
    # uint8 -> [-1, 1] -> uint8 is lossless with the project's rounding rule.
    assert torch.equal(translate_all(lambda t: t, x), x)
    s = paired_scores(lambda t: t, x, x)
    assert math.isinf(s["psnr"]) and s["ssim"] == pytest.approx(1.0, abs=1e-12) and s["n"] == 5


def test_psnr_by_hand_on_a_constant_offset() -> None:
    target = torch.full((2, 3, 12, 12), 100, dtype=torch.uint8)
    source = torch.full((2, 3, 12, 12), 110, dtype=torch.uint8)
    s = paired_scores(lambda t: t, source, target)  # error 10 everywhere: MSE 100
    assert s["psnr"] == pytest.approx(10 * math.log10(255**2 / 100), abs=1e-9)
    # SSIM of two constant images: cs = 1, luminance (2*100*110 + C1) / (100^2 + 110^2 + C1)
    c1 = (0.01 * 255) ** 2
    assert s["ssim"] == pytest.approx((2 * 100 * 110 + c1) / (100**2 + 110**2 + c1), rel=1e-9)


def test_paired_scores_refuse_misaligned_inputs() -> None:
    with pytest.raises(ValueError, match="pairs must align"):
        paired_scores(lambda t: t, _u8(3, 1, 12, 12), _u8(4, 1, 12, 12))
    with pytest.raises(ValueError, match="translations are"):
        paired_scores(lambda t: t, _u8(3, 1, 12, 12), _u8(3, 3, 12, 12))


def test_cycle_error_by_hand() -> None:
    x = torch.full((2, 1, 4, 4), 50, dtype=torch.uint8)
    # there: identity; back: adds 20/127.5 in [-1, 1] units = +20 grey levels.
    err = cycle_error(lambda t: t, lambda t: t + 20 / 127.5, x)
    assert err == pytest.approx(20.0)


def test_label_preservation_counts_per_class() -> None:
    source = torch.zeros(4, 1, 2, 2, dtype=torch.uint8)
    source[1], source[3] = 255, 255
    labels = torch.tensor([0, 1, 1, 0])

    def classify(u8: torch.Tensor) -> torch.Tensor:  # bright -> class 1
        bright = (u8.float().mean((1, 2, 3)) > 127).float()
        return torch.stack([1 - bright, bright], 1)

    r = label_preservation(lambda t: t, source, labels, classify)
    # predictions 0, 1, 0, 1 against 0, 1, 1, 0
    assert r["accuracy"] == pytest.approx(0.5) and r["per_class"] == [0.5, 0.5]


def test_translation_source_translates_each_source_once() -> None:
    from ganforge.metrics.evaluate import batch_seed

    src = _u8(300, 1, 4, 4)
    source = translation_source(lambda t: -t, src, seed=3)
    got = torch.cat(list(source.batches(300, 3)))
    assert torch.equal(got, -uint8_to_float(src))
    with pytest.raises(ValueError, match="seed 3"):
        source.sample(10, batch_seed(4, 0))

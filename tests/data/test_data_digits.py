"""scikit-learn digits: shapes, range, labels, the 0..16 -> 0..255 scaling."""

from __future__ import annotations

import pytest
import torch

from ganforge.data import uint8_to_float
from ganforge.registry import DATASETS


@pytest.mark.parametrize("resolution", [8, 16, 32])
def test_shapes_range_labels(resolution: int) -> None:
    ds = DATASETS.build({"name": "digits", "resolution": resolution})
    real, label = ds.tensors["real"], ds.tensors["label"]
    assert ds.kind == "images" and ds.num_classes == 10
    assert real.shape == (1797, 1, resolution, resolution) and real.dtype == torch.uint8
    assert real.min().item() == 0 and real.max().item() == 255
    assert label.dtype == torch.int64 and label.shape == (1797,)
    assert set(label.tolist()) == set(range(10))
    # white digit on black: mean brightness ~78 of 255 (inverted images would be ~177)
    assert 60 < real.float().mean().item() < 100
    batch = ds.batch(torch.arange(4))
    assert batch["real"].min() >= -1 and batch["real"].max() <= 1


def test_native_values_and_mean_preserved() -> None:
    from sklearn.datasets import load_digits

    raw = torch.from_numpy(load_digits().images).float()
    d8 = DATASETS.build({"name": "digits", "resolution": 8}).tensors["real"][:, 0]
    assert torch.equal(d8, torch.floor(raw * 255 / 16 + 0.5).to(torch.uint8))
    # bilinear upsampling keeps the mean brightness (up to edge effects and rounding)
    d32 = DATASETS.build({"name": "digits", "resolution": 32}).tensors["real"]
    assert uint8_to_float(d32).mean().item() == pytest.approx(
        uint8_to_float(d8).mean().item(), abs=0.02
    )

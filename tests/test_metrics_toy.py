"""2-D mode metrics (VEEGAN / PacGAN protocol) on hand-built samples with known answers."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from ganforge.data.toy import grid25, ring8
from ganforge.metrics import mode_metrics

STD = 0.1
CENTERS = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])  # K = 4


def at(center: int, offset: tuple[float, float] = (0.0, 0.0), n: int = 1) -> np.ndarray:
    """n copies of a point at CENTERS[center] + offset."""
    return np.tile(CENTERS[center] + np.asarray(offset), (n, 1))


def test_perfect_uniform_samples() -> None:
    x = np.concatenate([at(k, n=5) for k in range(4)])
    m = mode_metrics(x, CENTERS, STD)
    assert m["modes_covered"] == 4
    assert m["high_quality"] == 1.0
    assert m["reverse_kl"] == pytest.approx(0.0, abs=1e-15)
    assert m["mode_counts"] == [5, 5, 5, 5]
    assert (m["n_modes"], m["n_samples"]) == (4, 20)


def test_full_collapse_onto_one_mode() -> None:
    m = mode_metrics(at(2, n=10), CENTERS, STD)
    assert m["modes_covered"] == 1
    assert m["high_quality"] == 1.0
    assert m["reverse_kl"] == pytest.approx(math.log(4), abs=1e-15)  # KL(delta || uniform)
    assert m["mode_counts"] == [0, 0, 10, 0]


def test_threshold_and_low_quality_samples() -> None:
    # distances in std: 2.9 (high quality), 3.1 (not), the midpoint between modes (5 std)
    x = np.concatenate(
        [
            at(0, (0.29, 0.0)),
            at(1, (0.0, 0.31)),
            np.array([[0.5, 0.0]]),
            at(3, n=3),
        ]
    )
    m = mode_metrics(x, CENTERS, STD)
    assert m["mode_counts"] == [1, 0, 0, 3]
    assert m["modes_covered"] == 2
    assert m["high_quality"] == pytest.approx(4 / 6, abs=1e-15)
    # histogram of the 4 high-quality samples (1/4, 0, 0, 3/4) against uniform 1/4
    expected = 0.25 * math.log(0.25 / 0.25) + 0.75 * math.log(0.75 / 0.25)
    assert m["reverse_kl"] == pytest.approx(expected, abs=1e-15)
    # a wider threshold admits the 3.1-std sample (and the 5-std midpoint at 6 std)
    wide = mode_metrics(x, CENTERS, STD, threshold=6.0)
    assert wide["modes_covered"] == 3 and wide["high_quality"] == 1.0


def test_stricter_variant_needs_min_count_samples() -> None:
    x = np.concatenate([at(0, n=10), at(1, n=2), at(2, n=1)])
    assert mode_metrics(x, CENTERS, STD)["modes_covered"] == 3
    assert mode_metrics(x, CENTERS, STD, min_count=2)["modes_covered"] == 2
    assert mode_metrics(x, CENTERS, STD, min_count=10)["modes_covered"] == 1
    # the other numbers do not depend on min_count
    a, b = mode_metrics(x, CENTERS, STD), mode_metrics(x, CENTERS, STD, min_count=10)
    assert a["high_quality"] == b["high_quality"] and a["reverse_kl"] == b["reverse_kl"]


def test_no_high_quality_sample_gives_nan_reverse_kl() -> None:
    m = mode_metrics(np.array([[0.5, 0.5], [5.0, 5.0]]), CENTERS, STD)
    assert m["modes_covered"] == 0 and m["high_quality"] == 0.0
    assert math.isnan(m["reverse_kl"])


def test_non_finite_samples_are_low_quality() -> None:
    x = np.array([[math.nan, 0.0], [math.inf, 1.0], [0.0, 0.0]])
    m = mode_metrics(torch.tensor(x, dtype=torch.float32), CENTERS, STD)
    assert m["mode_counts"] == [1, 0, 0, 0] and m["high_quality"] == pytest.approx(1 / 3)


def test_real_data_of_ring8_and_grid25_scores_perfectly() -> None:
    for ds in (ring8(n=2500, seed=1), grid25(n=2500, seed=1)):
        info = ds.info
        m = mode_metrics(ds.tensors["real"], info["centers"], info["std"])
        k = len(info["centers"])
        assert m["modes_covered"] == k
        # P(chi_2 > 3) = exp(-9/2) = 1.1%: almost every real sample is high quality
        assert 0.97 < m["high_quality"] <= 1.0
        # a multinomial histogram of ~2,500 draws is close to uniform
        assert 0 <= m["reverse_kl"] < 0.02
        # modes are far apart, so the nearest centre is the true one: the histogram is
        # that of the true labels of the samples within 3 std of their own centre
        x, label = ds.tensors["real"].double(), ds.tensors["label"]
        dist = (x - info["centers"].double()[label]).norm(dim=1) / info["std"]
        assert m["mode_counts"] == torch.bincount(label[dist < 3], minlength=k).tolist()


def test_bad_input_is_explained() -> None:
    with pytest.raises(ValueError, match=r"samples must have shape \(N, 2\)"):
        mode_metrics(np.zeros((3, 3)), CENTERS, STD)
    with pytest.raises(ValueError, match="std must be a positive"):
        mode_metrics(np.zeros((3, 2)), CENTERS, 0.0)
    with pytest.raises(ValueError, match="min_count"):
        mode_metrics(np.zeros((3, 2)), CENTERS, STD, min_count=0)
    assert mode_metrics(np.zeros((0, 2)), CENTERS, STD)["high_quality"] == 0.0

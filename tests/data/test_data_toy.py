"""Toy 2-D mixtures: shapes, centres, empirical std, mode balance, determinism."""

from __future__ import annotations

import math

import pytest
import torch

from ganforge.data import TensorDataset
from ganforge.registry import DATASETS

TOYS = {"ring8": (8, 0.01), "grid25": (25, 0.05), "spiral": (16, 0.05), "line": (9, 0.05)}
N = 50_000


@pytest.fixture(scope="module", params=sorted(TOYS))
def toy(request: pytest.FixtureRequest) -> tuple[str, TensorDataset]:
    return request.param, DATASETS.build({"name": request.param, "n": N})


def test_shapes_and_info(toy: tuple[str, TensorDataset]) -> None:
    name, ds = toy
    k, std = TOYS[name]
    assert ds.kind == "points" and ds.name == name
    assert ds.tensors["real"].shape == (N, 2) and ds.tensors["real"].dtype == torch.float32
    assert ds.tensors["label"].shape == (N,) and ds.tensors["label"].dtype == torch.int64
    assert ds.num_classes == k
    assert ds.info["centers"].shape == (k, 2) and ds.info["centers"].dtype == torch.float32
    assert ds.info["std"] == pytest.approx(std)
    assert ds.shape == (2,)


def test_empirical_std_and_modes(toy: tuple[str, TensorDataset]) -> None:
    name, ds = toy
    k, std = TOYS[name]
    x, y, c = ds.tensors["real"], ds.tensors["label"], ds.info["centers"]
    resid = x - c[y]
    # std estimate from 2N values: relative standard error 1/sqrt(4N) ~ 0.2 %
    assert resid.std().item() == pytest.approx(std, rel=0.02)
    assert resid.mean(0).abs().max().item() < 5 * std / math.sqrt(N / k)
    # every point is closest to its own centre (modes are > 6 std apart)
    nearest = torch.cdist(x, c).argmin(1)
    assert (nearest == y).float().mean().item() > 0.999
    # equal weights: each mode gets 1/k of the points, within 5 binomial std
    freq = torch.bincount(y, minlength=k).float() / N
    tol = 5 * math.sqrt((1 / k) * (1 - 1 / k) / N)
    assert (freq - 1 / k).abs().max().item() < tol
    # modes are well separated relative to the noise
    d = torch.cdist(c, c) + torch.eye(k) * 1e9
    assert d.min().item() > 6 * std


def test_known_centres() -> None:
    ring = DATASETS.build({"name": "ring8", "n": 10}).info["centers"]
    assert torch.allclose(ring.norm(dim=1), torch.ones(8))
    assert torch.allclose(ring[2], torch.tensor([0.0, 1.0]), atol=1e-6)
    grid = DATASETS.build({"name": "grid25", "n": 10}).info["centers"]
    assert sorted(set(grid[:, 0].tolist())) == [-4.0, -2.0, 0.0, 2.0, 4.0]
    assert len({tuple(p) for p in grid.tolist()}) == 25
    line = DATASETS.build({"name": "line", "n": 10, "modes": 5}).info["centers"]
    assert line[:, 0].tolist() == [-2.0, -1.0, 0.0, 1.0, 2.0] and (line[:, 1] == 0).all()
    sp = DATASETS.build({"name": "spiral", "n": 10, "modes": 16}).info["centers"]
    radii = sp.norm(dim=1)
    assert radii[0].item() == pytest.approx(0.5, abs=1e-3)
    assert radii[-1].item() == pytest.approx(2.0, abs=1e-3)
    assert (radii[1:] > radii[:-1]).all()  # ordered from the centre outwards
    steps = (sp[1:] - sp[:-1]).norm(dim=1)  # equal arc length -> near-equal chords
    assert steps.min().item() > 0.9 * steps.max().item()


@pytest.mark.parametrize("name", sorted(TOYS))
def test_determinism_and_private_rng(name: str) -> None:
    state = torch.get_rng_state()
    a = DATASETS.build({"name": name, "n": 1000, "seed": 7})
    b = DATASETS.build({"name": name, "n": 1000, "seed": 7})
    c = DATASETS.build({"name": name, "n": 1000, "seed": 8})
    assert torch.equal(torch.get_rng_state(), state)  # the global RNG is untouched
    assert torch.equal(a.tensors["real"], b.tensors["real"])
    assert torch.equal(a.tensors["label"], b.tensors["label"])
    assert not torch.equal(a.tensors["real"], c.tensors["real"])


def test_validation_of_parameters() -> None:
    from ganforge.errors import ConfigError

    with pytest.raises(ConfigError, match="n"):
        DATASETS.validate({"name": "ring8", "n": 0}, "data")
    with pytest.raises(ConfigError, match="std"):
        DATASETS.validate({"name": "grid25", "std": -1.0}, "data")
    with pytest.raises(ConfigError, match="modes"):
        DATASETS.validate({"name": "spiral", "modes": 1}, "data")

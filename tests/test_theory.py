"""Theory: the optimal discriminator, the value of the game, KL and JSD, loss curves."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from ganforge.theory import generator_loss_curves, jsd, kl, optimal_discriminator, value

LOG4, LOG2 = math.log(4), math.log(2)


def random_pairs(seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """Random distribution pairs of several sizes, some with zeros (partial supports)."""
    rng = np.random.default_rng(seed)
    pairs = []
    for k in (2, 3, 7, 50):
        for _ in range(3):
            p, q = rng.dirichlet(np.ones(k)), rng.dirichlet(0.5 * np.ones(k))
            pairs.append((p, q))
    p, q = rng.dirichlet(np.ones(6)), rng.dirichlet(np.ones(6))
    p[0], q[1] = 0.0, 0.0  # each misses a point of the other's support
    pairs.append((p / p.sum(), q / q.sum()))
    pairs.append((np.array([0.5, 0.5, 0.0, 0.0]), np.array([0.0, 0.0, 0.3, 0.7])))  # disjoint
    return pairs


PAIRS = random_pairs()


# -- the optimal discriminator -----------------------------------------------------------------
@pytest.mark.parametrize(("p", "q"), PAIRS)
def test_value_at_optimal_discriminator_is_2jsd_minus_log4(p: np.ndarray, q: np.ndarray) -> None:
    v = value(p, q, optimal_discriminator(p, q))
    assert abs(v - (-LOG4 + 2 * jsd(p, q))) < 1e-9


def test_value_identity_on_torch_tensors() -> None:
    for p, q in PAIRS[:4]:
        pt, qt = torch.tensor(p), torch.tensor(q)
        v = value(pt, qt, optimal_discriminator(pt, qt))
        assert isinstance(v, torch.Tensor) and v.dtype == torch.float64
        assert abs(v.item() - (-LOG4 + 2 * jsd(pt, qt).item())) < 1e-9


@pytest.mark.parametrize(("p", "q"), PAIRS[:-2])  # full supports: D* in (0, 1)
def test_optimal_discriminator_maximises_value(p: np.ndarray, q: np.ndarray) -> None:
    d_star = optimal_discriminator(p, q)
    best = value(p, q, d_star)
    rng = np.random.default_rng(1)
    for eps in (1e-3, 1e-2, 0.1):
        for _ in range(20):
            d = np.clip(d_star + eps * rng.standard_normal(len(p)), 1e-12, 1 - 1e-12)
            assert value(p, q, d) < best
    # the constant guess 1/2 is the best a critic can do when p = q: V = -log 4
    assert abs(value(p, p, np.full(len(p), 0.5)) - (-LOG4)) < 1e-12
    assert value(p, q, np.full(len(p), 0.5)) <= best


def test_optimal_discriminator_values() -> None:
    d = optimal_discriminator([0.2, 0.0, 0.5, 0.0], [0.6, 0.3, 0.0, 0.0])
    np.testing.assert_allclose(d, [0.25, 0.0, 1.0, 0.5], rtol=0, atol=1e-15)  # 0/0 -> 1/2
    # tensors: same values, and no NaN gradient from the 0/0 point
    p = torch.tensor([0.2, 0.0, 0.5, 0.0], requires_grad=True)
    dt = optimal_discriminator(p, torch.tensor([0.6, 0.3, 0.0, 0.0]))
    assert torch.allclose(dt, torch.tensor([0.25, 0.0, 1.0, 0.5]), atol=1e-7, rtol=0)
    dt.sum().backward()
    assert torch.isfinite(p.grad).all()


def test_value_uses_zero_log_zero() -> None:
    # D = 0 where p_data = 0 and D = 1 where p_g = 0 costs nothing ...
    assert value([0.0, 1.0], [1.0, 0.0], [0.0, 1.0]) == 0.0
    # ... but D = 0 on the support of p_data is -inf.
    assert value([0.5, 0.5], [0.5, 0.5], [0.0, 0.5]) == -math.inf


# -- divergences -------------------------------------------------------------------------------
@pytest.mark.parametrize(("p", "q"), PAIRS)
def test_jsd_bounds_and_symmetry(p: np.ndarray, q: np.ndarray) -> None:
    d = jsd(p, q)
    assert 0.0 < d <= LOG2 + 1e-12
    assert abs(d - jsd(q, p)) < 1e-12
    assert jsd(p, p) == 0.0 and jsd(q, q) == 0.0


def test_jsd_closed_forms() -> None:
    assert abs(jsd([1.0, 0.0], [0.0, 1.0]) - LOG2) < 1e-12  # disjoint supports: log 2
    # p = (1/2, 1/2), q = (1, 0), m = (3/4, 1/4)
    kl_pm = 0.5 * math.log(0.5 / 0.75) + 0.5 * math.log(0.5 / 0.25)
    kl_qm = math.log(1 / 0.75)
    assert abs(jsd([0.5, 0.5], [1.0, 0.0]) - (0.5 * kl_pm + 0.5 * kl_qm)) < 1e-12
    # close distributions: JSD ~ chi^2 / 8 -> tiny but positive
    assert 0 < jsd([0.5, 0.5], [0.5 + 1e-4, 0.5 - 1e-4]) < 1e-8


@pytest.mark.parametrize(("a", "b"), [(0.3, 0.6), (0.01, 0.99), (0.5, 0.5), (0.9, 0.2)])
def test_kl_of_two_bernoullis(a: float, b: float) -> None:
    expected = a * math.log(a / b) + (1 - a) * math.log((1 - a) / (1 - b))
    assert abs(kl([a, 1 - a], [b, 1 - b]) - expected) < 1e-12
    assert abs(kl(torch.tensor([a, 1 - a]), torch.tensor([b, 1 - b])).item() - expected) < 1e-6


def test_kl_edge_cases() -> None:
    assert abs(kl([1.0, 0.0], [0.5, 0.5]) - LOG2) < 1e-12  # 0 log 0 = 0
    assert kl([0.5, 0.5], [1.0, 0.0]) == math.inf  # p > 0 where q = 0
    assert kl(torch.tensor([0.5, 0.5]), torch.tensor([1.0, 0.0])).item() == math.inf
    assert kl(torch.tensor([1.0, 0.0]), torch.tensor([1.0, 0.0])).item() == 0.0
    for p, q in PAIRS[:-2]:
        assert kl(p, q) > 0 and kl(p, p) == 0.0


def test_batched_and_gridded_inputs() -> None:
    p = np.stack([pq[0] for pq in PAIRS[3:6]])  # (3, 3)
    q = np.stack([pq[1] for pq in PAIRS[3:6]])
    batch = jsd(p, q)
    assert batch.shape == (3,)
    np.testing.assert_allclose(batch, [jsd(a, b) for a, b in zip(p, q)], rtol=0, atol=1e-15)
    # a density on a 2-D grid: reduce over every axis
    grid_p, grid_q = p / p.sum(), q / q.sum()
    assert abs(kl(grid_p, grid_q, axis=None) - kl(grid_p.ravel(), grid_q.ravel())) < 1e-15


# -- generator loss curves (Goodfellow 2016, Fig. 16) -----------------------------------------
def test_generator_loss_curves_values() -> None:
    c = generator_loss_curves(np.array([0.5, 0.9]))
    assert set(c) == {"minimax", "ns", "ml"}
    np.testing.assert_allclose(c["minimax"], [math.log(0.5), math.log(0.1)], atol=1e-12, rtol=0)
    np.testing.assert_allclose(c["ns"], [-math.log(0.5), -math.log(0.9)], atol=1e-12, rtol=0)
    # -1/2 exp(logit D): logit(0.9) = log 9
    np.testing.assert_allclose(c["ml"], [-0.5, -0.5 * 9.0], atol=1e-12, rtol=0)
    ct = generator_loss_curves(torch.tensor([0.5, 0.9], dtype=torch.float64))
    for k in c:
        np.testing.assert_allclose(ct[k].numpy(), c[k], atol=1e-12, rtol=0)


def test_generator_loss_curves_shapes() -> None:
    d = np.linspace(1e-4, 1 - 1e-4, 2001)
    c = generator_loss_curves(d)
    for k, y in c.items():
        assert y.shape == d.shape and np.isfinite(y).all()
        assert (np.diff(y) < 0).all(), f"{k}: every cost falls as the critic is fooled more"
    slope = {k: np.gradient(y, d) for k, y in c.items()}
    # near D = 0 (the critic wins, early training): minimax is flat, NS steep ...
    assert abs(slope["ns"][1]) > 100 * abs(slope["minimax"][1])
    assert abs(slope["ml"][1]) < 1.0
    # ... near D = 1 the ML cost is the steepest: its gradient comes from realistic samples
    assert abs(slope["ml"][-2]) > abs(slope["minimax"][-2]) > abs(slope["ns"][-2])

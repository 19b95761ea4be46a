"""IPM-family objectives: MMD, Fisher, McGan, Sobolev.

Expected values are computed here from the definitions with plain Python loops and the
``math`` module (brute-force kernel sums, Fractions for discrete distributions), never
by calling the function under test.
"""

from __future__ import annotations

import inspect
import math
import random
from fractions import Fraction

import pytest
import torch

import ganforge.penalties  # noqa: F401  (registers sobolev-constraint)
from ganforge.nets import CriticOutput
from ganforge.objectives.base import Objective, implied_penalties, is_stateful
from ganforge.objectives.fisher import FisherGAN, fisher_d_loss, fisher_g_loss
from ganforge.objectives.mcgan import McGan, covariance_feature_distance, mean_feature_distance
from ganforge.objectives.mmd import MMDGAN, mmd2_unbiased
from ganforge.objectives.sobolev import SobolevGAN
from ganforge.registry import OBJECTIVES, PENALTIES

F64 = torch.float64
MINE = ["mmd", "fisher", "mcgan", "sobolev"]
SIGMAS = (1.0, 2.0, 4.0, 8.0, 16.0)


def rows(t: torch.Tensor) -> list[list[float]]:
    return t.reshape(t.shape[0], -1).tolist()


def randn(*shape: int, seed: int) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=F64)


# -- MMD -------------------------------------------------------------------------------------
def k_brute(a: list[float], b: list[float], sigmas=SIGMAS) -> float:
    d2 = sum((u - v) ** 2 for u, v in zip(a, b))
    return sum(math.exp(-d2 / (2 * s * s)) for s in sigmas)


def mmd2_brute(x: list[list[float]], y: list[list[float]], sigmas=SIGMAS) -> float:
    m, n = len(x), len(y)
    sxx = sum(k_brute(x[i], x[j], sigmas) for i in range(m) for j in range(m) if i != j)
    syy = sum(k_brute(y[i], y[j], sigmas) for i in range(n) for j in range(n) if i != j)
    sxy = sum(k_brute(a, b, sigmas) for a in x for b in y)
    return sxx / (m * (m - 1)) + syy / (n * (n - 1)) - 2 * sxy / (m * n)


def test_mmd2_matches_brute_force_double_loops() -> None:
    x, y = randn(4, 3, seed=1), 1.5 * randn(5, 3, seed=2) + 0.7
    expected = mmd2_brute(rows(x), rows(y))
    assert abs(mmd2_unbiased(x, y).item() - expected) < 1e-10
    assert (
        abs(mmd2_unbiased(x, y, (0.5, 3.0)).item() - mmd2_brute(rows(x), rows(y), (0.5, 3.0)))
        < 1e-10
    )

    obj = MMDGAN()
    real, fake = CriticOutput(torch.zeros(4), x), CriticOutput(torch.zeros(5), y)
    assert abs(obj.d_loss(real, fake).item() + expected) < 1e-10
    assert abs(obj.g_loss(fake, real).item() - expected) < 1e-10
    assert expected > 0
    sq = MMDGAN(sqrt=True)
    assert abs(sq.d_loss(real, fake).item() + math.sqrt(expected)) < 1e-10
    assert abs(sq.g_loss(fake, real).item() - math.sqrt(expected)) < 1e-10


def test_mmd_falls_back_to_the_score_without_features() -> None:
    r, f = randn(4, seed=3), randn(3, seed=4) + 1
    expected = mmd2_brute([[v] for v in r.tolist()], [[v] for v in f.tolist()])
    got = MMDGAN().g_loss(CriticOutput(f), CriticOutput(r)).item()
    assert abs(got - expected) < 1e-10


def test_mmd2_is_unbiased_where_the_biased_estimate_is_not() -> None:
    # P = Q: the unbiased estimate averages to 0; the V-statistic (diagonal included)
    # is biased upwards by O(1/m).
    g = torch.Generator().manual_seed(0)
    draws, biased = [], []
    for _ in range(300):
        x, y = torch.randn(8, 2, generator=g, dtype=F64), torch.randn(8, 2, generator=g, dtype=F64)
        draws.append(mmd2_unbiased(x, y).item())
        kxx = sum(k_brute(a, b) for a in rows(x) for b in rows(x)) / 64
        kyy = sum(k_brute(a, b) for a in rows(y) for b in rows(y)) / 64
        kxy = sum(k_brute(a, b) for a in rows(x) for b in rows(y)) / 64
        biased.append(kxx + kyy - 2 * kxy)
    mean = sum(draws) / len(draws)
    se = math.sqrt(sum((d - mean) ** 2 for d in draws) / (len(draws) - 1) / len(draws))
    assert abs(mean) < 3 * se
    assert sum(biased) / len(biased) > mean + 10 * se


def test_mmd2_separates_distributions() -> None:
    x, x2, y = randn(64, 2, seed=5), randn(64, 2, seed=6), randn(64, 2, seed=7) + 2.0
    same, diff = mmd2_unbiased(x, x2).item(), mmd2_unbiased(x, y).item()
    assert abs(same) < 0.05 < 0.5 < diff


def test_mmd_gradcheck_and_sqrt_at_zero() -> None:
    x = randn(4, 3, seed=8).requires_grad_(True)
    y = (randn(5, 3, seed=9) + 0.5).requires_grad_(True)
    assert torch.autograd.gradcheck(lambda a, b: mmd2_unbiased(a, b), (x, y))
    sq = MMDGAN(sqrt=True)
    assert torch.autograd.gradcheck(
        lambda a, b: sq.g_loss(CriticOutput(a[:, 0], b), CriticOutput(a[:, 0], a)), (x, y)
    )
    # identical batches: MMD^2_u < 0, clipped to 0 by relu; the gradient is 0, not NaN
    z = randn(4, 3, seed=10).requires_grad_(True)
    loss = sq.d_loss(CriticOutput(z[:, 0], z), CriticOutput(z[:, 0], z))
    assert mmd2_unbiased(z, z).item() < 0 and loss.item() == 0.0
    loss.backward()
    assert torch.isfinite(z.grad).all()


def test_mmd_errors_teach() -> None:
    obj = MMDGAN()
    a = CriticOutput(torch.zeros(3), randn(3, 2, seed=0))
    with pytest.raises(ValueError, match="real"):
        obj.g_loss(a)
    with pytest.raises(ValueError, match="at least 2 samples"):
        obj.d_loss(a, CriticOutput(torch.zeros(1), randn(1, 2, seed=1)))


# -- Fisher ----------------------------------------------------------------------------------
def _batch(probs: list[Fraction], denom: int) -> list[int]:
    """Support indices repeated in proportion to ``probs``: a batch whose mean is the expectation."""
    return [i for i, p in enumerate(probs) for _ in range(int(p * denom))]


P5 = [Fraction(1, 10), Fraction(2, 10), Fraction(3, 10), Fraction(3, 10), Fraction(1, 10)]
Q5 = [Fraction(4, 10), Fraction(3, 10), Fraction(1, 10), Fraction(1, 10), Fraction(1, 10)]


def test_fisher_optimal_critic_attains_the_chi2_distance() -> None:
    p, q = [float(v) for v in P5], [float(v) for v in Q5]
    m = [(a + b) / 2 for a, b in zip(p, q)]
    chi2_p_m = sum((a - c) ** 2 / c for a, c in zip(p, m))  # Pearson chi2(P || (P+Q)/2)
    d_f = 2 * math.sqrt(chi2_p_m)
    # the same number written with p and q only
    assert abs(d_f - math.sqrt(2 * sum((a - b) ** 2 / (a + b) for a, b in zip(p, q)))) < 1e-12
    # optimal critic f* = (p - q) / (m d_F), proportional to (p - q) / (p + q)
    f_star = torch.tensor([(a - b) / (c * d_f) for a, b, c in zip(p, q, m)], dtype=F64)
    real, fake = f_star[_batch(P5, 10)], f_star[_batch(Q5, 10)]
    # second-moment constraint is active: Omega(f*) = 1/2 E_P f*^2 + 1/2 E_Q f*^2 = 1
    omega = 0.5 * sum(a * v * v for a, v in zip(p, f_star.tolist())) + 0.5 * sum(
        b * v * v for b, v in zip(q, f_star.tolist())
    )
    assert abs(omega - 1) < 1e-12
    obj = FisherGAN(rho=0.5)
    for lam in (0.0, 0.7, -2.0):  # constraint terms vanish at Omega = 1, whatever lam
        state = {"lam": torch.tensor(lam, dtype=F64)}
        d = obj.d_loss(CriticOutput(real), CriticOutput(fake), state=state).item()
        assert abs(d + d_f) < 1e-6
        # and lam does not move at the optimum
        new = obj.next_state(state, CriticOutput(real), CriticOutput(fake))
        assert abs(new["lam"].item() - lam) < 1e-12
    # f* is the maximiser: no other critic with Omega = 1 does better
    rng = random.Random(0)
    for _ in range(200):
        f = [v + rng.gauss(0, 0.5) for v in f_star.tolist()]
        norm = math.sqrt(sum(c * v * v for c, v in zip(m, f)))  # sqrt(Omega(f))
        ipm = sum((a - b) * v for a, b, v in zip(p, q, f)) / norm
        assert ipm < d_f + 1e-12


def test_fisher_d_loss_by_hand() -> None:
    r, f = [0.5, 1.5, -0.5], [0.2, -1.0]
    lam, rho = 0.3, 0.1
    ipm = sum(r) / 3 - sum(f) / 2
    omega = 0.5 * sum(v * v for v in r) / 3 + 0.5 * sum(v * v for v in f) / 2
    expected = -(ipm + lam * (1 - omega) - rho / 2 * (1 - omega) ** 2)
    rt, ft = torch.tensor(r, dtype=F64), torch.tensor(f, dtype=F64)
    assert abs(fisher_d_loss(rt, ft, lam, rho).item() - expected) < 1e-12
    obj = FisherGAN(rho=rho)
    st = {"lam": torch.tensor(lam, dtype=F64)}
    assert abs(obj.d_loss(CriticOutput(rt), CriticOutput(ft), state=st).item() - expected) < 1e-12
    # no state: lam = 0
    no_state = -(ipm - rho / 2 * (1 - omega) ** 2)
    assert abs(obj.d_loss(CriticOutput(rt), CriticOutput(ft)).item() - no_state) < 1e-12
    # generator: -E_Q f, real and state ignored
    assert abs(obj.g_loss(CriticOutput(ft)).item() + sum(f) / 2) < 1e-12
    assert torch.equal(obj.g_loss(CriticOutput(ft), CriticOutput(rt), state=st), fisher_g_loss(ft))
    # patch scores: every expectation is a mean over all elements
    rp, fp = randn(3, 2, 2, seed=0), randn(2, 2, 2, seed=1)
    flat = fisher_d_loss(rp.flatten(), fp.flatten(), lam, rho).item()
    assert abs(fisher_d_loss(rp, fp, lam, rho).item() - flat) < 1e-12


@pytest.mark.parametrize(("scale", "direction"), [(3.0, +1), (0.1, -1)])
def test_fisher_next_state_moves_lambda_against_the_violation(scale: float, direction: int) -> None:
    obj = FisherGAN(rho=0.1)
    r, f = scale * randn(6, seed=2), scale * randn(6, seed=3)
    omega = 0.5 * sum(v * v for v in r.tolist()) / 6 + 0.5 * sum(v * v for v in f.tolist()) / 6
    assert (omega - 1) * direction > 0
    state = obj.initial_state()
    assert state["lam"].item() == 0.0
    state = {"lam": torch.tensor(0.2)}
    new = obj.next_state(state, CriticOutput(r.requires_grad_(True)), CriticOutput(f))
    assert abs(new["lam"].item() - (0.2 - 0.1 * (1 - omega))) < 1e-6  # lam - rho (1 - Omega)
    assert new["lam"].dtype == torch.float32 and not new["lam"].requires_grad
    assert (new["lam"].item() - 0.2) * direction > 0
    # with the new lam the critic's loss pushes the scale of f towards Omega = 1 harder:
    # d loss / d s at s = 1 for scores s * f grows (Omega > 1) or falls (Omega < 1).
    slopes = []
    for st in (state, new):
        s = torch.ones((), dtype=F64, requires_grad=True)
        loss = obj.d_loss(CriticOutput(s * r.detach()), CriticOutput(s * f), state=st)
        (g,) = torch.autograd.grad(loss, s)
        slopes.append(g.item())
    assert (slopes[1] - slopes[0]) * direction > 0


def test_fisher_gradcheck() -> None:
    r = randn(4, seed=4).requires_grad_(True)
    f = randn(3, seed=5).requires_grad_(True)
    assert torch.autograd.gradcheck(lambda a, b: fisher_d_loss(a, b, 0.4, 0.3), (r, f))


# -- McGan -----------------------------------------------------------------------------------
def test_mcgan_mean_matching_by_hand() -> None:
    x, y = randn(4, 3, seed=1), randn(5, 3, seed=2) + 0.3
    mx = [sum(c) / 4 for c in zip(*rows(x))]
    my = [sum(c) / 5 for c in zip(*rows(y))]
    l2 = math.sqrt(sum((a - b) ** 2 for a, b in zip(mx, my)))
    l1 = sum(abs(a - b) for a, b in zip(mx, my))
    assert abs(mean_feature_distance(x, y, 2).item() - l2) < 1e-12
    assert abs(mean_feature_distance(x, y, 1).item() - l1) < 1e-12
    real, fake = CriticOutput(torch.zeros(4), x), CriticOutput(torch.zeros(5), y)
    for q, v in ((2, l2), (1, l1)):
        obj = McGan(mode="mean", q=q)
        assert abs(obj.d_loss(real, fake).item() + v) < 1e-12
        assert abs(obj.g_loss(fake, real).item() - v) < 1e-12


def test_mcgan_covariance_is_the_max_over_orthonormal_u_v() -> None:
    x, y = randn(6, 4, seed=3), 1.3 * randn(7, 4, seed=4)
    # uncentered second moments by hand: Sigma[a][b] = mean_i x_ia x_ib
    sx = [[sum(r[a] * r[b] for r in rows(x)) / 6 for b in range(4)] for a in range(4)]
    sy = [[sum(r[a] * r[b] for r in rows(y)) / 7 for b in range(4)] for a in range(4)]
    diff = torch.tensor([[sx[a][b] - sy[a][b] for b in range(4)] for a in range(4)], dtype=F64)
    # symmetric: the nuclear norm is the sum of |eigenvalues| (an independent route)
    nuclear = torch.linalg.eigvalsh(diff).abs().sum().item()
    got = covariance_feature_distance(x, y).item()
    assert abs(got - nuclear) < 1e-10
    # no orthonormal U, V does better than the nuclear norm; the singular vectors attain it
    g = torch.Generator().manual_seed(0)
    for _ in range(100):
        u, _r = torch.linalg.qr(torch.randn(4, 4, generator=g, dtype=F64))
        v, _r = torch.linalg.qr(torch.randn(4, 4, generator=g, dtype=F64))
        assert torch.trace(u.T @ diff @ v).item() < nuclear + 1e-12
    uu, _s, vh = torch.linalg.svd(diff)
    assert abs(torch.trace(uu.T @ diff @ vh.T).item() - nuclear) < 1e-10
    obj = McGan(mode="cov")
    real, fake = CriticOutput(torch.zeros(6), x), CriticOutput(torch.zeros(7), y)
    assert abs(obj.d_loss(real, fake).item() + nuclear) < 1e-10
    assert abs(obj.g_loss(fake, real).item() - nuclear) < 1e-10


@pytest.mark.parametrize(("mode", "q"), [("mean", 2), ("mean", 1), ("cov", 2)])
def test_mcgan_gradcheck(mode: str, q: int) -> None:
    x = randn(5, 3, seed=5).requires_grad_(True)
    y = (randn(6, 3, seed=6) + 0.4).requires_grad_(True)
    obj = McGan(mode=mode, q=q)  # type: ignore[arg-type]
    assert torch.autograd.gradcheck(
        lambda a, b: obj.d_loss(CriticOutput(a[:, 0], a), CriticOutput(b[:, 0], b)), (x, y)
    )


def test_mcgan_errors_teach() -> None:
    a = CriticOutput(torch.zeros(3), randn(3, 2, seed=0))
    with pytest.raises(ValueError, match="real"):
        McGan().g_loss(a)
    with pytest.raises(ValueError, match="same width"):
        McGan().d_loss(a, CriticOutput(torch.zeros(3), randn(3, 4, seed=1)))
    with pytest.raises(ValueError, match="mean"):
        McGan(mode="median")  # type: ignore[arg-type]


# -- Sobolev ---------------------------------------------------------------------------------
def test_sobolev_objective_values_and_implied_penalty() -> None:
    r, f = [0.5, 1.5, -0.5], [0.2, -1.0]
    rt, ft = torch.tensor(r, dtype=F64), torch.tensor(f, dtype=F64)
    obj = SobolevGAN(rho=1e-3)
    assert (
        abs(obj.d_loss(CriticOutput(rt), CriticOutput(ft)).item() - (sum(f) / 2 - sum(r) / 3))
        < 1e-12
    )
    assert abs(obj.g_loss(CriticOutput(ft)).item() + sum(f) / 2) < 1e-12
    specs = implied_penalties(OBJECTIVES.get("sobolev"), {"rho": 1e-3})
    assert specs == [{"name": "sobolev-constraint", "rho": 1e-3}]
    for spec in specs:  # each implied spec is a valid penalty
        assert PENALTIES.validate(spec, "test")["rho"] == 1e-3
    assert not is_stateful(obj)  # the multiplier lives in the penalty


# -- contract for the objectives of this file ------------------------------------------------
@pytest.mark.parametrize("name", MINE)
def test_contract_purity_and_docs(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    entry = OBJECTIVES.entry(name)
    doc = (inspect.getdoc(entry.obj) or "").lower()
    assert "divergence" in doc and "optimal critic" in doc and entry.paper
    assert isinstance(entry.obj.divergence, str) and entry.obj.divergence
    obj = OBJECTIVES.build({"name": name})
    assert isinstance(obj, Objective)

    def forbidden(*args, **kwargs):
        raise AssertionError("an objective called backward()/autograd.grad")

    monkeypatch.setattr(torch.Tensor, "backward", forbidden)
    monkeypatch.setattr(torch.autograd, "backward", forbidden)
    monkeypatch.setattr(torch.autograd, "grad", forbidden)
    g = torch.Generator().manual_seed(0)
    tensors = [torch.randn(8, generator=g), torch.randn(8, generator=g)]
    tensors += [torch.randn(8, 4, generator=g), torch.randn(8, 4, generator=g)]
    tensors = [t.requires_grad_(True) for t in tensors]
    before = [t.detach().clone() for t in tensors]
    real, fake = CriticOutput(tensors[0], tensors[2]), CriticOutput(tensors[1], tensors[3])
    kw = {"state": obj.initial_state()} if is_stateful(obj) else {}
    for loss in (
        obj.d_loss(real, fake, **kw),
        obj.g_loss(fake, real if obj.needs_real_for_g else None),
    ):
        assert loss.shape == () and torch.isfinite(loss) and loss.requires_grad
    if is_stateful(obj):
        new = obj.next_state(kw["state"], real, fake)
        assert set(new) == set(kw["state"])
    for t, b in zip(tensors, before):
        assert torch.equal(t.detach(), b)


@pytest.mark.parametrize("name", ["mmd", "mcgan", "fisher", "sobolev"])
def test_half_precision_outputs_give_float32_losses(name: str) -> None:
    obj = OBJECTIVES.build({"name": name})
    g = torch.Generator().manual_seed(0)
    real = CriticOutput(
        torch.randn(6, generator=g).bfloat16(), torch.randn(6, 3, generator=g).bfloat16()
    )
    fake = CriticOutput(
        torch.randn(6, generator=g).bfloat16(), torch.randn(6, 3, generator=g).bfloat16()
    )
    assert obj.d_loss(real, fake).dtype == torch.float32
    assert obj.g_loss(fake, real).dtype == torch.float32

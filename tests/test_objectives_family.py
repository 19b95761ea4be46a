"""f-GAN, least squares, Wasserstein, hinge, relativistic and loss-sensitive objectives.

Expected numbers are computed here from the definitions (the papers' formulas written
with the ``math`` module, divergences as sums over a discrete support), never by calling
the formula under test. Optimal-critic identities use two distributions p (data) and
q (model) on a 5-point support; an expectation is either a weighted sum of the
elementwise terms or the mean over a batch that holds each support point in proportion
to its probability.
"""

from __future__ import annotations

import itertools
import math
from fractions import Fraction

import pytest
import torch

import ganforge.objectives  # noqa: F401  (registers the objectives)
from ganforge.errors import ConfigError
from ganforge.nets import CriticOutput
from ganforge.objectives import original
from ganforge.objectives.base import implied_penalties, needs_samples
from ganforge.objectives.fgan import (
    DIVERGENCES,
    fgan_activation,
    fgan_conjugate,
    fgan_d_loss,
    fgan_fake_term,
    fgan_g_loss,
    fgan_real_term,
)
from ganforge.objectives.hinge import hinge_d_loss, hinge_g_loss
from ganforge.objectives.loss_sensitive import (
    loss_sensitive_d_loss,
    loss_sensitive_g_loss,
    loss_sensitive_margin,
)
from ganforge.objectives.lsgan import least_squares_d_loss, least_squares_g_loss
from ganforge.objectives.relativistic import (
    rasgan_d_loss,
    rasgan_g_loss,
    rsgan_d_loss,
    rsgan_g_loss,
)
from ganforge.objectives.wgan import wgan_d_loss, wgan_g_loss
from ganforge.registry import OBJECTIVES

F64 = torch.float64
MINE = ["fgan", "lsgan", "wgan", "wgan-gp", "hinge", "rgan", "ragan", "lsgan-qi"]

# p = data, q = model, full support so every ratio is finite; no point with p = q.
P = [Fraction(1, 10), Fraction(2, 10), Fraction(3, 10), Fraction(3, 20), Fraction(5, 20)]
Q = [Fraction(4, 10), Fraction(3, 10), Fraction(1, 10), Fraction(1, 20), Fraction(3, 20)]
PF, QF = [float(a) for a in P], [float(b) for b in Q]


def t64(xs) -> torch.Tensor:
    return torch.tensor(xs, dtype=F64)


def _batch(probs: list[Fraction], denom: int) -> list[int]:
    """Support indices repeated in proportion to ``probs``: a batch whose mean is the expectation."""
    idx = [i for i, p in enumerate(probs) for _ in range(int(p * denom))]
    assert len(idx) == denom
    return idx


def softplus(x: float) -> float:
    return math.log1p(math.exp(x))


def sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


# == f-GAN ===================================================================================
# Table 2 of Nowozin et al. 2016, written naively: g_f (activation) and f* (conjugate).
G_F = {
    "kl": lambda v: v,
    "reverse-kl": lambda v: -math.exp(-v),
    "pearson": lambda v: v,
    "neyman": lambda v: 1 - math.exp(-v),
    "hellinger": lambda v: 1 - math.exp(-v),
    "js": lambda v: math.log(2) - math.log(1 + math.exp(-v)),
    "gan": lambda v: -math.log(1 + math.exp(-v)),
    "tv": lambda v: math.tanh(v) / 2,
}
F_STAR = {
    "kl": lambda t: math.exp(t - 1),
    "reverse-kl": lambda t: -1 - math.log(-t),
    "pearson": lambda t: t * t / 4 + t,
    "neyman": lambda t: 2 - 2 * math.sqrt(1 - t),
    "hellinger": lambda t: t / (1 - t),
    "js": lambda t: -math.log(2 - math.exp(t)),
    "gan": lambda t: -math.log(1 - math.exp(t)),
    "tv": lambda t: t,
}
# Generators f of the f-divergences (Table 1) ...
F_GEN = {
    "kl": lambda u: u * math.log(u),
    "reverse-kl": lambda u: -math.log(u),
    "pearson": lambda u: (u - 1) ** 2,
    "neyman": lambda u: (1 - u) ** 2 / u,
    "hellinger": lambda u: (math.sqrt(u) - 1) ** 2,
    "js": lambda u: u * math.log(u) - (u + 1) * math.log((u + 1) / 2),
    "gan": lambda u: u * math.log(u) - (u + 1) * math.log(u + 1),
    "tv": lambda u: abs(u - 1) / 2,
}
# ... and the optimal score v* = g_f^{-1}(f'(p/q)), by hand from f' and g_f.
BIG = 40.0  # tanh(40) == 1 in float64: the TV critic's +-1/2 is approached in the limit
V_STAR = {
    "kl": lambda u: 1 + math.log(u),  # f'(u) = 1 + log u, g_f = id
    "reverse-kl": lambda u: math.log(u),  # f' = -1/u = -exp(-v)
    "pearson": lambda u: 2 * (u - 1),  # f' = 2(u - 1)
    "neyman": lambda u: 2 * math.log(u),  # f' = 1 - 1/u^2 = 1 - exp(-v)
    "hellinger": lambda u: math.log(u) / 2,  # f' = 1 - 1/sqrt(u) = 1 - exp(-v)
    "js": lambda u: math.log(u),  # f' = log(2u / (u + 1)) = log 2 - log(1 + e^-v)
    "gan": lambda u: math.log(u),  # f' = log(u / (u + 1)) = -log(1 + e^-v)
    "tv": lambda u: math.copysign(BIG, u - 1),  # f' = sign(u - 1) / 2
}


def kl(a: list[float], b: list[float]) -> float:
    return sum(x * math.log(x / y) for x, y in zip(a, b))


def jsd(a: list[float], b: list[float]) -> float:
    m = [(x + y) / 2 for x, y in zip(a, b)]
    return 0.5 * kl(a, m) + 0.5 * kl(b, m)


# The divergences by their usual names (what the module docstring claims D_f is).
NAMED = {
    "kl": kl(PF, QF),
    "reverse-kl": kl(QF, PF),
    "pearson": sum((p - q) ** 2 / q for p, q in zip(PF, QF)),
    "neyman": sum((p - q) ** 2 / p for p, q in zip(PF, QF)),
    "hellinger": sum((math.sqrt(p) - math.sqrt(q)) ** 2 for p, q in zip(PF, QF)),
    "js": 2 * jsd(PF, QF),
    "gan": 2 * jsd(PF, QF) - math.log(4),
    "tv": 0.5 * sum(abs(p - q) for p, q in zip(PF, QF)),
}

VR, VF = [0.5, -1.0, 0.25], [0.3, 1.2]  # scores on real and on generated samples


def test_fgan_registry_knows_all_eight_divergences() -> None:
    assert set(DIVERGENCES) == set(G_F)
    with pytest.raises(ConfigError, match="divergence"):
        OBJECTIVES.validate({"name": "fgan", "divergence": "chi2"}, "objective")
    with pytest.raises(ValueError, match="Unknown f-divergence"):
        fgan_d_loss(t64([0.0]), t64([0.0]), "chi2")


@pytest.mark.parametrize("div", DIVERGENCES)
def test_fgan_hand_computed_values(div: str) -> None:
    g, fs = G_F[div], F_STAR[div]
    e_real_t = sum(g(v) for v in VR) / len(VR)
    e_fake_conj = sum(fs(g(v)) for v in VF) / len(VF)
    e_fake_t = sum(g(v) for v in VF) / len(VF)
    obj_ns = OBJECTIVES.build({"name": "fgan", "divergence": div})
    obj_sat = OBJECTIVES.build({"name": "fgan", "divergence": div, "g_form": "saturating"})
    real, fake = CriticOutput(t64(VR)), CriticOutput(t64(VF))
    # D maximises E_P[T] - E_Q[f*(T)]
    assert obj_ns.d_loss(real, fake).item() == pytest.approx(-(e_real_t - e_fake_conj), abs=1e-12)
    assert obj_sat.d_loss(real, fake).item() == pytest.approx(-(e_real_t - e_fake_conj), abs=1e-12)
    # saturating G minimises the bound (-E_Q[f*(T)]); non-saturating maximises E_Q[T]
    assert obj_sat.g_loss(fake).item() == pytest.approx(-e_fake_conj, abs=1e-12)
    assert obj_ns.g_loss(fake).item() == pytest.approx(-e_fake_t, abs=1e-12)


@pytest.mark.parametrize("div", DIVERGENCES)
def test_fgan_activation_and_conjugate_match_table_2(div: str) -> None:
    vs = [-3.0, -0.7, 0.0, 0.4, 2.5]
    v = t64(vs)
    act, conj_of_act = fgan_activation(v, div), fgan_fake_term(v, div)
    naive = fgan_conjugate(fgan_activation(v, div), div)
    for i, x in enumerate(vs):
        t = G_F[div](x)
        assert act[i].item() == pytest.approx(t, rel=1e-12, abs=1e-12)
        assert conj_of_act[i].item() == pytest.approx(F_STAR[div](t), rel=1e-10, abs=1e-12)
        assert naive[i].item() == pytest.approx(F_STAR[div](t), rel=1e-10, abs=1e-12)
    assert torch.equal(fgan_real_term(v, div), act)


@pytest.mark.parametrize("div", DIVERGENCES)
def test_fgan_optimal_critic_recovers_the_divergence(div: str) -> None:
    # D_f(P || Q) = sum_x q f(p / q), from the definition ...
    d_f = sum(q * F_GEN[div](p / q) for p, q in zip(PF, QF))
    # ... is the divergence the docstring names,
    assert d_f == pytest.approx(NAMED[div], rel=1e-12, abs=1e-12)
    # ... and the bound at the optimal critic T* = f'(p / q) attains it.
    v = t64([V_STAR[div](p / q) for p, q in zip(PF, QF)])
    w_p, w_q = t64(PF), t64(QF)
    bound = (w_p * fgan_real_term(v, div)).sum() - (w_q * fgan_fake_term(v, div)).sum()
    assert abs(bound.item() - d_f) < 1e-6
    # Same through the registered critic loss, on batches drawn exactly in proportion.
    real, fake = CriticOutput(v[_batch(P, 20)]), CriticOutput(v[_batch(Q, 20)])
    d_loss = OBJECTIVES.build({"name": "fgan", "divergence": div}).d_loss(real, fake)
    assert abs(-d_loss.item() - d_f) < 1e-6


@pytest.mark.parametrize("div", [d for d in DIVERGENCES if d != "tv"])
def test_fgan_optimal_critic_maximises_the_bound(div: str) -> None:
    v_star = t64([V_STAR[div](p / q) for p, q in zip(PF, QF)])
    w_p, w_q = t64(PF), t64(QF)

    def bound(v: torch.Tensor) -> float:
        return ((w_p * fgan_real_term(v, div)).sum() - (w_q * fgan_fake_term(v, div)).sum()).item()

    best = bound(v_star)
    gen = torch.Generator().manual_seed(0)
    for _ in range(20):
        assert bound(v_star + 0.2 * torch.randn(5, generator=gen, dtype=F64)) < best


@pytest.mark.parametrize("div", DIVERGENCES)
def test_fgan_terms_gradcheck(div: str) -> None:
    gen = torch.Generator().manual_seed(1)
    v = (4 * torch.rand(6, generator=gen, dtype=F64) - 2).requires_grad_()
    assert torch.autograd.gradcheck(lambda x: fgan_real_term(x, div), (v,))
    assert torch.autograd.gradcheck(lambda x: fgan_fake_term(x, div), (v,))
    r = v.detach()[:3].clone().requires_grad_()
    f = v.detach()[3:].clone().requires_grad_()
    assert torch.autograd.gradcheck(lambda a, b: fgan_d_loss(a, b, div), (r, f))
    for form in ("saturating", "nonsaturating"):
        assert torch.autograd.gradcheck(lambda b, form=form: fgan_g_loss(b, div, form), (f,))


@pytest.mark.parametrize("div", ["js", "gan", "tv"])
def test_fgan_extreme_scores_stay_finite(div: str) -> None:
    v = torch.tensor([-100.0, 100.0])  # float32: the naive -log(1 - exp(t)) is inf here
    for fn in (fgan_real_term, fgan_fake_term):
        assert torch.isfinite(fn(v, div)).all()
    v = torch.tensor([-100.0, 100.0], requires_grad=True)
    (grad,) = torch.autograd.grad(fgan_d_loss(v, v, div), v)
    assert torch.isfinite(grad).all()


def test_fgan_gan_divergence_is_the_original_gan() -> None:
    gen = torch.Generator().manual_seed(2)
    r, f = torch.randn(7, generator=gen, dtype=F64), torch.randn(5, generator=gen, dtype=F64)
    assert fgan_d_loss(r, f, "gan").item() == pytest.approx(
        original.gan_d_loss(r, f).item(), abs=1e-12
    )
    assert fgan_g_loss(f, "gan", "nonsaturating").item() == pytest.approx(
        original.ns_g_loss(f).item(), abs=1e-12
    )
    assert fgan_g_loss(f, "gan", "saturating").item() == pytest.approx(
        original.minimax_g_loss(f).item(), abs=1e-12
    )


def test_fgan_instance_names_its_divergence() -> None:
    obj = OBJECTIVES.build({"name": "fgan", "divergence": "reverse-kl", "g_form": "saturating"})
    assert "KL(Q || P)" in obj.divergence
    assert repr(obj) == "FGAN(divergence='reverse-kl', g_form='saturating')"
    with pytest.raises(ValueError, match="g_form"):
        fgan_g_loss(t64([0.0]), "js", "minimax")


# == least squares GAN =======================================================================
@pytest.mark.parametrize(("a", "b", "c"), [(0.0, 1.0, 1.0), (-1.0, 1.0, 0.0)])
def test_lsgan_hand_computed_values(a: float, b: float, c: float) -> None:
    r, f = [0.2, 1.5], [-0.3, 0.8, 0.1]
    want_d = 0.5 * sum((x - b) ** 2 for x in r) / 2 + 0.5 * sum((x - a) ** 2 for x in f) / 3
    want_g = 0.5 * sum((x - c) ** 2 for x in f) / 3
    obj = OBJECTIVES.build({"name": "lsgan", "a": a, "b": b, "c": c})
    assert obj.d_loss(CriticOutput(t64(r)), CriticOutput(t64(f))).item() == pytest.approx(
        want_d, abs=1e-12
    )
    assert obj.g_loss(CriticOutput(t64(f))).item() == pytest.approx(want_g, abs=1e-12)


@pytest.mark.parametrize(("a", "b", "c"), [(-1.0, 1.0, 0.0), (0.0, 1.0, 0.5), (0.0, 1.0, 1.0)])
def test_lsgan_optimal_critic_and_pearson_chi2(a: float, b: float, c: float) -> None:
    d_star = t64([(b * p + a * q) / (p + q) for p, q in zip(PF, QF)])  # Mao et al. eq. 4
    real, fake = d_star[_batch(P, 20)], d_star[_batch(Q, 20)]
    # J(D*) = (b - a)^2 / 2 sum p q / (p + q), by hand from the pointwise minimum
    j_d = (b - a) ** 2 / 2 * sum(p * q / (p + q) for p, q in zip(PF, QF))
    assert abs(least_squares_d_loss(real, fake, a, b).item() - j_d) < 1e-12
    gen = torch.Generator().manual_seed(3)
    for _ in range(20):  # D* is the minimiser
        other = d_star + 0.1 * torch.randn(5, generator=gen, dtype=F64)
        worse = least_squares_d_loss(other[_batch(P, 20)], other[_batch(Q, 20)], a, b)
        assert worse.item() > j_d
    # C(G) = 1/2 E_P[(D* - c)^2] + 1/2 E_Q[(D* - c)^2] (eq. 8)
    c_g = least_squares_g_loss(real, c).item() + least_squares_g_loss(fake, c).item()
    if c == (a + b) / 2:
        # 2 C(G) = (b - a)^2 / 4 chi^2_Pearson(p + q || 2q), Mao et al.'s
        # chi^2_Pearson(P || Q) = sum (Q - P)^2 / P (eq. 9), = sum (p - q)^2 / (p + q)
        chi2 = sum((2 * q - (p + q)) ** 2 / (p + q) for p, q in zip(PF, QF))
        assert abs(2 * c_g - (b - a) ** 2 / 4 * chi2) < 1e-6
        if b - c == 1 and b - a == 2:
            assert abs(2 * c_g - chi2) < 1e-6
        # a divergence: zero when p = q
        same = t64([(b + a) / 2] * 4)  # D* = (b + a) / 2 where p = q
        assert least_squares_g_loss(same, c).item() == pytest.approx(0.0, abs=1e-15)
    else:  # 0-1 coding: C(G) = 1/2 sum q^2 / (p + q), not zero at p = q
        assert abs(c_g - 0.5 * sum(q * q / (p + q) for p, q in zip(PF, QF))) < 1e-6


def test_lsgan_gradcheck_and_labels() -> None:
    r = torch.tensor([0.2, 1.5, -0.4], dtype=F64, requires_grad=True)
    f = torch.tensor([-0.3, 0.8], dtype=F64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x, y: least_squares_d_loss(x, y, -1.0, 1.0), (r, f))
    assert torch.autograd.gradcheck(lambda y: least_squares_g_loss(y, 0.0), (f,))
    with pytest.raises(ValueError, match="nothing to tell apart"):
        OBJECTIVES.build({"name": "lsgan", "a": 1.0, "b": 1.0})


# == Wasserstein GAN =========================================================================
def test_wgan_hand_computed_values() -> None:
    r, f = [0.5, 2.0, -1.0], [0.25, -0.75]
    for name in ("wgan", "wgan-gp"):
        obj = OBJECTIVES.build({"name": name})
        d = obj.d_loss(CriticOutput(t64(r)), CriticOutput(t64(f)))
        assert d.item() == pytest.approx(sum(f) / 2 - sum(r) / 3, abs=1e-12)
        assert obj.g_loss(CriticOutput(t64(f))).item() == pytest.approx(-sum(f) / 2, abs=1e-12)


def kantorovich_potential_1d(xs: list[float], ys: list[float]) -> dict[float, float]:
    """f(t) = int_{-inf}^t sign(F_Q(s) - F_P(s)) ds at every sample, P ~ xs, Q ~ ys."""
    pts = sorted(set(xs) | set(ys))
    n_p, n_q = len(xs), len(ys)
    f = {pts[0]: 0.0}
    for lo, hi in itertools.pairwise(pts):
        fp = sum(x <= lo for x in xs) / n_p  # right-continuous CDFs, constant on [lo, hi)
        fq = sum(y <= lo for y in ys) / n_q
        sign = (fq > fp) - (fq < fp)
        f[hi] = f[lo] + sign * (hi - lo)
    return f


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_wgan_critic_loss_at_the_kantorovich_potential_is_minus_w1(seed: int) -> None:
    gen = torch.Generator().manual_seed(seed)
    xs = (torch.randn(9, generator=gen, dtype=F64) + 0.5).tolist()
    ys = (2 * torch.randn(9, generator=gen, dtype=F64)).tolist()
    w1 = sum(abs(x - y) for x, y in zip(sorted(xs), sorted(ys))) / 9  # sorted coupling
    pot = kantorovich_potential_1d(xs, ys)
    pts = sorted(pot)
    assert all(abs(pot[b] - pot[a]) <= (b - a) + 1e-12 for a, b in itertools.pairwise(pts))  # 1-Lip
    real, fake = t64([pot[x] for x in xs]), t64([pot[y] for y in ys])
    assert abs(-wgan_d_loss(real, fake).item() - w1) < 1e-6


def test_wgan_two_point_masses() -> None:
    # P = delta_0, Q = delta_3: the potential is f(t) = -t, W1 = 3.
    pot = kantorovich_potential_1d([0.0], [3.0])
    assert pot == {0.0: 0.0, 3.0: -3.0}
    assert -wgan_d_loss(t64([pot[0.0]]), t64([pot[3.0]])).item() == pytest.approx(3.0, abs=1e-12)


def test_wgan_gradcheck() -> None:
    r = torch.tensor([0.2, 1.5, -0.4], dtype=F64, requires_grad=True)
    f = torch.tensor([-0.3, 0.8], dtype=F64, requires_grad=True)
    assert torch.autograd.gradcheck(wgan_d_loss, (r, f))
    assert torch.autograd.gradcheck(wgan_g_loss, (f,))


def test_wgan_gp_implies_the_gradient_penalty() -> None:
    cls = OBJECTIVES.get("wgan-gp")
    kw = {k: v for k, v in OBJECTIVES.validate({"name": "wgan-gp"}, "o").items() if k != "name"}
    assert implied_penalties(cls, kw) == [
        {"name": "gradient-penalty", "weight": 10.0, "one_sided": False}
    ]
    assert implied_penalties(cls, {"weight": 2.5, "one_sided": True}) == [
        {"name": "gradient-penalty", "weight": 2.5, "one_sided": True}
    ]
    assert implied_penalties(OBJECTIVES.get("wgan"), {}) == []
    assert isinstance(OBJECTIVES.build({"name": "wgan-gp"}), OBJECTIVES.get("wgan"))
    # the spec is one the penalty registry accepts
    import ganforge.penalties  # noqa: F401
    from ganforge.registry import PENALTIES

    if "gradient-penalty" not in PENALTIES:
        pytest.skip("gradient-penalty is not registered yet")
    spec = PENALTIES.validate(implied_penalties(cls, kw)[0], "penalty")
    assert spec["weight"] == 10.0 and spec["one_sided"] is False


# == hinge ===================================================================================
def test_hinge_hand_computed_values() -> None:
    r, f = [0.5, 2.0, -0.5], [-2.0, 0.0, 0.5, -0.5]
    # relu(1 - r): 0.5, 0, 1.5; relu(1 + f): 0, 1, 1.5, 0.5
    want_d = (0.5 + 0.0 + 1.5) / 3 + (0.0 + 1.0 + 1.5 + 0.5) / 4
    obj = OBJECTIVES.build({"name": "hinge"})
    assert obj.d_loss(CriticOutput(t64(r)), CriticOutput(t64(f))).item() == pytest.approx(
        want_d, abs=1e-12
    )
    assert obj.g_loss(CriticOutput(t64(f))).item() == pytest.approx(0.5, abs=1e-12)
    assert hinge_g_loss(t64(f)).item() == pytest.approx(0.5, abs=1e-12)


def test_hinge_optimal_critic_gives_2_minus_2tv() -> None:
    tv = 0.5 * sum(abs(p - q) for p, q in zip(PF, QF))
    d_star = t64([math.copysign(1.0, p - q) for p, q in zip(PF, QF)])  # sign(p - q)
    w_p, w_q = t64(PF), t64(QF)

    def j(d: torch.Tensor) -> float:  # expectations as weighted sums of the per-point terms
        return ((w_p * torch.relu(1 - d)).sum() + (w_q * torch.relu(1 + d)).sum()).item()

    assert j(d_star) == pytest.approx(2 - 2 * tv, abs=1e-12)
    # the functional core on batches in proportion to p and q gives the same
    got = hinge_d_loss(d_star[_batch(P, 20)], d_star[_batch(Q, 20)]).item()
    assert abs(got - (2 - 2 * tv)) < 1e-6
    # no critic does better
    gen = torch.Generator().manual_seed(4)
    for _ in range(100):
        other = 6 * torch.rand(5, generator=gen, dtype=F64) - 3
        assert j(other) >= 2 - 2 * tv - 1e-12
    # and E_P[D*] - E_Q[D*] = 2 TV
    assert ((w_p - w_q) * d_star).sum().item() == pytest.approx(2 * tv, abs=1e-12)


def test_hinge_gradcheck_away_from_the_kinks() -> None:
    r = torch.tensor([0.2, 1.5, -0.4], dtype=F64, requires_grad=True)
    f = torch.tensor([-0.3, -1.8, 0.6], dtype=F64, requires_grad=True)
    assert torch.autograd.gradcheck(hinge_d_loss, (r, f))
    assert torch.autograd.gradcheck(hinge_g_loss, (f,))


# == relativistic ============================================================================
RR, RF = [0.5, -1.0, 2.0], [0.0, 1.5, -0.5]


def test_rgan_hand_computed_values() -> None:
    obj = OBJECTIVES.build({"name": "rgan"})
    assert obj.needs_real_for_g is True
    # -log sigmoid(C_r - C_f) per pair
    want_d = sum(-math.log(sigmoid(r - f)) for r, f in zip(RR, RF)) / 3
    want_g = sum(-math.log(sigmoid(f - r)) for r, f in zip(RR, RF)) / 3
    real, fake = CriticOutput(t64(RR)), CriticOutput(t64(RF))
    assert obj.d_loss(real, fake).item() == pytest.approx(want_d, abs=1e-12)
    assert obj.g_loss(fake, real).item() == pytest.approx(want_g, abs=1e-12)
    # the same numbers via softplus: -log sigmoid(z) = log(1 + e^-z)
    assert want_d == pytest.approx(sum(softplus(f - r) for r, f in zip(RR, RF)) / 3, abs=1e-12)


def test_ragan_hand_computed_values() -> None:
    rf = RF[:2]  # a different batch size is fine for the average version
    mr, mf = sum(RR) / 3, sum(rf) / 2
    want_d = (
        sum(-math.log(sigmoid(r - mf)) for r in RR) / 3
        + sum(-math.log(1 - sigmoid(f - mr)) for f in rf) / 2
    )
    want_g = (
        sum(-math.log(sigmoid(f - mr)) for f in rf) / 2
        + sum(-math.log(1 - sigmoid(r - mf)) for r in RR) / 3
    )
    obj = OBJECTIVES.build({"name": "ragan"})
    real, fake = CriticOutput(t64(RR)), CriticOutput(t64(rf))
    assert obj.d_loss(real, fake).item() == pytest.approx(want_d, abs=1e-12)
    assert obj.g_loss(fake, real).item() == pytest.approx(want_g, abs=1e-12)


def test_relativistic_errors_teach() -> None:
    with pytest.raises(ValueError, match="same shape"):
        rsgan_d_loss(t64(RR), t64(RF[:2]))
    with pytest.raises(ValueError, match="same shape"):
        rsgan_g_loss(t64(RF[:2]), t64(RR))
    for name in ("rgan", "ragan"):
        with pytest.raises(ValueError, match="real data"):
            OBJECTIVES.build({"name": name}).g_loss(CriticOutput(t64(RF)))


def test_relativistic_losses_at_p_equals_q() -> None:
    # P = Q = p on the support. Pairs over the product support (weights p_i p_j) give the
    # RSGAN expectation exactly; a constant critic gives log 2, nothing gives less.
    n = len(P)
    ii = [i for i in range(n) for _ in range(n)]
    jj = [j for _ in range(n) for j in range(n)]
    w = t64([PF[i] * PF[j] for i, j in zip(ii, jj)])

    def rs(c: torch.Tensor) -> float:
        return (w * torch.nn.functional.softplus(c[jj] - c[ii])).sum().item()

    assert rs(torch.zeros(n, dtype=F64) + 0.7) == pytest.approx(math.log(2), abs=1e-12)
    batch = _batch(P, 20)
    const = torch.full((20,), -1.3, dtype=F64)
    assert rasgan_d_loss(const, const).item() == pytest.approx(2 * math.log(2), abs=1e-12)
    gen = torch.Generator().manual_seed(5)
    for _ in range(30):
        c = 2 * torch.randn(n, generator=gen, dtype=F64)
        assert rs(c) >= math.log(2) - 1e-12
        assert rasgan_d_loss(c[batch], c[batch]).item() >= 2 * math.log(2) - 1e-12
    # P != Q: the critic log(p / q) beats every constant, so the divergences are > 0
    c = t64([math.log(p / q) for p, q in zip(PF, QF)])
    assert rsgan_d_loss(c[_batch(P, 20)], c[_batch(Q, 20)]).item() < math.log(2)
    assert rasgan_d_loss(c[_batch(P, 20)], c[_batch(Q, 20)]).item() < 2 * math.log(2)


def test_relativistic_gradcheck() -> None:
    r = torch.tensor(RR, dtype=F64, requires_grad=True)
    f = torch.tensor(RF, dtype=F64, requires_grad=True)
    for fn in (rsgan_d_loss, rasgan_d_loss):
        assert torch.autograd.gradcheck(fn, (r, f))
    for fn in (rsgan_g_loss, rasgan_g_loss):
        assert torch.autograd.gradcheck(fn, (f, r))


# == loss-sensitive GAN ======================================================================
XR = [[0.0, 1.0, 2.0], [1.0, -1.0, 0.5], [0.0, 0.0, 0.0]]
XF = [[0.5, 1.0, 0.0], [1.0, 1.0, 0.5], [0.3, -0.3, 0.0]]


def test_loss_sensitive_margin_by_hand() -> None:
    xr, xf = t64(XR), t64(XF)
    # p = 1: mean |diff| per pair: (0.5 + 0 + 2) / 3, (0 + 2 + 0) / 3, (0.3 + 0.3 + 0) / 3
    l1 = [2.5 / 3, 2.0 / 3, 0.6 / 3]
    # p = 2: mean diff^2: (0.25 + 0 + 4) / 3, 4 / 3, 0.18 / 3
    l2 = [4.25 / 3, 4.0 / 3, 0.18 / 3]
    assert torch.allclose(loss_sensitive_margin(xr, xf, 1), t64(l1), rtol=0, atol=1e-12)
    assert torch.allclose(loss_sensitive_margin(xr, xf, 2, 0.5), 0.5 * t64(l2), atol=1e-12)
    # images (N, C, H, W) are flattened per sample
    img_r, img_f = xr.reshape(3, 1, 1, 3), xf.reshape(3, 1, 3, 1)
    with pytest.raises(ValueError, match="same shape"):
        loss_sensitive_margin(img_r, img_f)
    assert torch.allclose(loss_sensitive_margin(img_r, xf.reshape(3, 1, 1, 3)), t64(l1))


@pytest.mark.parametrize(("margin_p", "lam", "scale"), [(1, 1.0, 1.0), (2, 0.5, 3.0)])
def test_loss_sensitive_hand_computed_values(margin_p: int, lam: float, scale: float) -> None:
    lr, lf = [0.2, 1.0, 0.1], [1.5, 0.5, 0.3]
    deltas = [scale * sum(abs(a - b) ** margin_p for a, b in zip(r, f)) / 3 for r, f in zip(XR, XF)]
    # E[L(x_r)] + lam E[max(0, Delta + L(x_r) - L(x_f))]
    hinge = [max(0.0, d + a - b) for d, a, b in zip(deltas, lr, lf)]
    want_d = sum(lr) / 3 + lam * sum(hinge) / 3
    obj = OBJECTIVES.build({"name": "lsgan-qi", "margin_p": margin_p, "lam": lam, "scale": scale})
    assert needs_samples(obj)
    real, fake = CriticOutput(t64(lr)), CriticOutput(t64(lf))
    d = obj.d_loss(real, fake, x_real=t64(XR), x_fake=t64(XF))
    assert d.item() == pytest.approx(want_d, abs=1e-12)
    assert obj.g_loss(fake, None, x_real=t64(XR), x_fake=t64(XF)).item() == pytest.approx(
        sum(lf) / 3, abs=1e-12
    )


def test_loss_sensitive_margin_decides_which_pairs_count() -> None:
    # L(x_f) - L(x_r) = 1 for both pairs; margins 0.5 (satisfied) and 2 (violated by 1).
    lr, lf, margin = t64([0.0, 0.0]), t64([1.0, 1.0]), t64([0.5, 2.0])
    assert loss_sensitive_d_loss(lr, lf, margin, lam=1.0).item() == pytest.approx(0.5, abs=1e-12)
    assert loss_sensitive_d_loss(lr, lf, margin, lam=4.0).item() == pytest.approx(2.0, abs=1e-12)


def test_loss_sensitive_patch_scores_are_averaged_per_sample() -> None:
    gen = torch.Generator().manual_seed(6)
    lr, lf = torch.randn(3, 2, 2, generator=gen, dtype=F64), torch.randn(3, 4, generator=gen)
    margin = t64([0.3, 0.1, 0.8])
    flat = loss_sensitive_d_loss(lr.mean(dim=(1, 2)), lf.double().mean(dim=1), margin)
    assert loss_sensitive_d_loss(lr, lf.double(), margin).item() == pytest.approx(flat.item())


def test_loss_sensitive_errors_teach() -> None:
    obj = OBJECTIVES.build({"name": "lsgan-qi"})
    real, fake = CriticOutput(t64([0.1, 0.2])), CriticOutput(t64([0.3, 0.4]))
    with pytest.raises(ValueError, match=r"x_real=\.\.\., x_fake="):
        obj.d_loss(real, fake)
    with pytest.raises(ValueError, match="batch sizes"):
        loss_sensitive_d_loss(t64([0.1, 0.2]), t64([0.3]), t64([0.0, 0.0]))
    with pytest.raises(ConfigError, match="margin_p"):
        OBJECTIVES.validate({"name": "lsgan-qi", "margin_p": 3}, "objective")


def test_loss_sensitive_gradcheck() -> None:
    lr = torch.tensor([0.2, 1.0, 0.1], dtype=F64, requires_grad=True)
    lf = torch.tensor([1.5, 0.5, 0.4], dtype=F64, requires_grad=True)  # no pair on the kink
    xr = torch.tensor(XR, dtype=F64, requires_grad=True)
    xf = torch.tensor(XF, dtype=F64)
    margin = loss_sensitive_margin(xr.detach(), xf, 1)
    assert torch.autograd.gradcheck(lambda a, b: loss_sensitive_d_loss(a, b, margin, 0.7), (lr, lf))
    assert torch.autograd.gradcheck(loss_sensitive_g_loss, (lf,))
    # the squared margin is smooth in the samples
    assert torch.autograd.gradcheck(lambda x: loss_sensitive_margin(x, xf, 2, 1.5), (xr,))


def test_loss_sensitive_implied_penalty() -> None:
    cls = OBJECTIVES.get("lsgan-qi")

    def kw(**over) -> dict:
        spec = OBJECTIVES.validate({"name": "lsgan-qi", **over}, "objective")
        return {k: v for k, v in spec.items() if k != "name"}

    assert implied_penalties(cls, kw()) == []
    assert implied_penalties(cls, kw(gp_weight=5.0)) == [
        {"name": "gradient-penalty", "weight": 5.0, "one_sided": True}
    ]


# == all of this file's objectives ===========================================================
@pytest.mark.parametrize("name", MINE)
def test_every_objective_names_its_divergence_and_paper(name: str) -> None:
    entry = OBJECTIVES.entry(name)
    assert isinstance(entry.obj.divergence, str) and entry.obj.divergence
    assert isinstance(OBJECTIVES.build({"name": name}).divergence, str)
    assert entry.paper


@pytest.mark.parametrize("name", MINE)
def test_half_precision_scores_give_float32_losses(name: str) -> None:
    obj = OBJECTIVES.build({"name": name})
    s = torch.tensor([0.1, -0.2, 0.3], dtype=torch.bfloat16)
    kw = {"x_real": torch.zeros(3, 2), "x_fake": torch.ones(3, 2)} if needs_samples(obj) else {}
    out = CriticOutput(s)
    assert obj.d_loss(out, out, **kw).dtype == torch.float32
    assert obj.g_loss(out, out, **kw).dtype == torch.float32

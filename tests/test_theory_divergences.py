"""Theory: f-divergences, LSGAN's chi^2, W1, optimal critics, the divergence table, plots.

Expected values are computed here from the definitions (sum_x q f(p/q) with f written
out below, Nowozin et al. 2016 Table 2 conjugates, scipy quadrature, brute-force
transport), never by calling the function under test.
"""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import numpy as np
import pytest
import scipy.integrate
import scipy.stats
import torch

from ganforge.cli import main
from ganforge.theory import (
    F_DIVERGENCES,
    divergence_table,
    f_divergence,
    fgan_critic,
    gan_logit,
    gaussian_divergence,
    generator_loss_gradients,
    hinge_critic,
    lsgan_critic,
    lsgan_pearson,
    plot_generator_losses,
    w1_discrete,
    w1_gaussians,
    w1_sorted,
    wgan_critic_1d,
)
from ganforge.theory import critics as critics_mod

LOG2, LOG4 = math.log(2), math.log(4)

# f of each divergence (Nowozin et al. 2016, Table 1), written out independently.
F = {
    "kl": lambda u: u * math.log(u),
    "reverse-kl": lambda u: -math.log(u),
    "js": lambda u: u * math.log(u) - (u + 1) * math.log((u + 1) / 2),
    "gan": lambda u: u * math.log(u) - (u + 1) * math.log(u + 1),
    "pearson": lambda u: (u - 1) ** 2,
    "neyman": lambda u: (1 - u) ** 2 / u,
    "hellinger": lambda u: (math.sqrt(u) - 1) ** 2,
    "tv": lambda u: 0.5 * abs(u - 1),
}
# Fenchel conjugates f* (Nowozin et al. 2016, Table 2).
F_STAR = {
    "kl": lambda t: math.exp(t - 1),
    "reverse-kl": lambda t: -1 - math.log(-t),
    "js": lambda t: -math.log(2 - math.exp(t)),
    "gan": lambda t: -math.log(1 - math.exp(t)),
    "pearson": lambda t: t * t / 4 + t,
    "neyman": lambda t: 2 - 2 * math.sqrt(1 - t),
    "hellinger": lambda t: t / (1 - t),
    "tv": lambda t: t,
}
NAMES = list(F)


def full_support_pairs() -> list[tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(0)
    return [(rng.dirichlet(np.ones(k)), rng.dirichlet(0.7 * np.ones(k))) for k in (2, 3, 5, 9)]


PAIRS = full_support_pairs()


def by_definition(name: str, p: np.ndarray, q: np.ndarray) -> float:
    return sum(qi * F[name](pi / qi) for pi, qi in zip(p, q))


# -- f-divergences -------------------------------------------------------------------------------
def test_table_lists_the_eight_f_gan_divergences() -> None:
    assert set(F_DIVERGENCES) == set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_f_divergence_is_sum_q_f_of_ratio(name: str) -> None:
    for p, q in PAIRS:
        expected = by_definition(name, p, q)
        got = f_divergence(p, q, name)
        assert abs(got - expected) <= 1e-12 * max(1.0, abs(expected))
        # torch in, torch out, same value
        gt = f_divergence(torch.tensor(p), torch.tensor(q), name)
        assert isinstance(gt, torch.Tensor) and abs(gt.item() - expected) < 1e-10
    # zero iff p = q (the gan divergence's minimum is -log 4)
    p = PAIRS[1][0]
    assert abs(f_divergence(p, p, name) - (-LOG4 if name == "gan" else 0.0)) < 1e-12


def test_hand_computed_values() -> None:
    p, q = [0.5, 0.5], [0.25, 0.75]
    assert f_divergence(p, q, "kl") == pytest.approx(
        0.5 * math.log(2) + 0.5 * math.log(2 / 3), abs=1e-14
    )
    assert f_divergence(p, q, "pearson") == pytest.approx(
        0.25**2 / 0.25 + 0.25**2 / 0.75, abs=1e-14
    )
    assert f_divergence(p, q, "neyman") == pytest.approx(0.25**2 / 0.5 * 2, abs=1e-14)
    assert f_divergence(p, q, "tv") == pytest.approx(0.25, abs=1e-14)
    h = (math.sqrt(0.5) - 0.5) ** 2 + (math.sqrt(0.5) - math.sqrt(0.75)) ** 2
    assert f_divergence(p, q, "hellinger") == pytest.approx(h, abs=1e-14)
    # the ``js`` f-divergence is twice the Jensen-Shannon divergence
    m = [0.375, 0.625]
    js = 0.5 * sum(a * math.log(a / b) for a, b in zip(p, m)) + 0.5 * sum(
        a * math.log(a / b) for a, b in zip(q, m)
    )
    assert f_divergence(p, q, "js") == pytest.approx(2 * js, abs=1e-14)
    assert f_divergence(p, q, "gan") == pytest.approx(2 * js - LOG4, abs=1e-14)


def test_disjoint_and_partial_supports() -> None:
    p, q = [1.0, 0.0], [0.0, 1.0]
    assert f_divergence(p, q, "kl") == math.inf
    assert f_divergence(p, q, "reverse-kl") == math.inf
    assert f_divergence(p, q, "pearson") == math.inf
    assert f_divergence(p, q, "neyman") == math.inf
    assert f_divergence(p, q, "js") == pytest.approx(LOG4, abs=1e-14)
    assert f_divergence(p, q, "gan") == pytest.approx(0.0, abs=1e-14)
    assert f_divergence(p, q, "hellinger") == pytest.approx(2.0, abs=1e-14)
    assert f_divergence(p, q, "tv") == pytest.approx(1.0, abs=1e-14)
    assert lsgan_pearson(p, q) == pytest.approx(2.0, abs=1e-14)
    # q misses a point of p's support: KL, Pearson infinite; reverse KL, Neyman finite
    p, q = [0.5, 0.5, 0.0], [0.5, 0.0, 0.5]
    assert f_divergence(p, q, "kl") == math.inf and f_divergence(p, q, "pearson") == math.inf
    assert f_divergence([0.5, 0.5], [1.0, 0.0], "reverse-kl") == pytest.approx(LOG2, abs=1e-14)
    assert f_divergence([0.5, 0.5], [1.0, 0.0], "neyman") == pytest.approx(1.0, abs=1e-14)
    for name in NAMES:  # never NaN, on NumPy or torch
        assert not math.isnan(f_divergence(p, q, name))
        assert not math.isnan(f_divergence(torch.tensor(p), torch.tensor(q), name).item())


def test_batched_axis_and_unknown_name() -> None:
    p = np.stack([a for a, _ in PAIRS[1:2] * 3])
    q = np.stack([b for _, b in PAIRS[1:2] * 3])
    assert f_divergence(p, q, "hellinger").shape == (3,)
    with pytest.raises(ValueError, match="Did you mean 'pearson'"):
        f_divergence(p, q, "pearsn")


# -- optimal critics ---------------------------------------------------------------------------
@pytest.mark.parametrize("name", NAMES)
def test_fgan_optimal_critic_attains_the_divergence(name: str) -> None:
    """E_P[T*] - E_Q[f*(T*)] = D_f(P || Q) at T* = f'(p/q), and any other T does worse."""
    rng = np.random.default_rng(3)
    for p, q in PAIRS:
        t_star = fgan_critic(p, q, name)
        bound = sum(pi * t - qi * F_STAR[name](t) for pi, qi, t in zip(p, q, t_star))
        assert abs(bound - by_definition(name, p, q)) < 1e-9
        for _ in range(10):
            t = t_star + 0.05 * rng.standard_normal(len(p))
            if name == "tv":
                t = np.clip(t, -0.5, 0.5)  # dom f* = [-1/2, 1/2]
            if name in ("js", "gan", "neyman", "hellinger", "reverse-kl"):
                # stay in the domain of f*: t < log 2, t < 0, t < 1, t < 1, t < 0
                cap = {"js": LOG2, "gan": 0.0, "neyman": 1.0, "hellinger": 1.0}.get(name, 0.0)
                t = np.minimum(t, cap - 1e-6)
            other = sum(pi * ti - qi * F_STAR[name](ti) for pi, qi, ti in zip(p, q, t))
            assert other <= bound + 1e-12
    tt = fgan_critic(torch.tensor(PAIRS[0][0]), torch.tensor(PAIRS[0][1]), name)
    np.testing.assert_allclose(tt.numpy(), fgan_critic(*PAIRS[0], name), rtol=0, atol=1e-12)


def test_gan_logit_is_log_density_ratio() -> None:
    for p, q in PAIRS:
        d = 1 / (1 + np.exp(-gan_logit(p, q)))
        np.testing.assert_allclose(d, p / (p + q), rtol=0, atol=1e-12)
        # value of the game at D*: 2 JSD - log 4
        v = sum(pi * math.log(di) + qi * math.log(1 - di) for pi, qi, di in zip(p, q, d))
        assert abs(v - f_divergence(p, q, "gan")) < 1e-12
    assert list(gan_logit([0.5, 0.5, 0.0], [0.0, 0.5, 0.5])) == [math.inf, 0.0, -math.inf]


@pytest.mark.parametrize(("a", "b"), [(-1.0, 1.0), (0.0, 1.0), (-1.0, 1.5)])
def test_lsgan_optimal_critic_and_maos_chi2(a: float, b: float) -> None:
    rng = np.random.default_rng(4)
    for p, q in PAIRS:
        d = lsgan_critic(p, q, a, b)

        def loss(dd: np.ndarray, p: np.ndarray = p, q: np.ndarray = q) -> float:
            return float(0.5 * np.sum(p * (dd - b) ** 2) + 0.5 * np.sum(q * (dd - a) ** 2))

        for _ in range(10):
            assert loss(d + 0.05 * rng.standard_normal(len(p))) > loss(d)
        # Mao et al. eq. 9: sum (2q - (p + q))^2 / (p + q)
        chi2 = sum((2 * qi - (pi + qi)) ** 2 / (pi + qi) for pi, qi in zip(p, q))
        assert abs(lsgan_pearson(p, q) - chi2) < 1e-12
        # the critic's loss at D*: (b - a)^2 / 8 (2 - chi2)
        assert abs(loss(d) - (b - a) ** 2 / 8 * (2 - chi2)) < 1e-12


def test_lsgan_generator_cost_at_optimum_is_maos_chi2() -> None:
    """Mao et al. Thm 1: with b - c = 1, b - a = 2, 2 C(G) = chi2_Pearson(p + q || 2q),
    C(G) = 1/2 E_P[(D* - c)^2] + 1/2 E_Q[(D* - c)^2]."""
    a, b, c = -1.0, 1.0, 0.0
    for p, q in PAIRS:
        d = lsgan_critic(p, q, a, b)
        cost = 0.5 * np.sum(p * (d - c) ** 2) + 0.5 * np.sum(q * (d - c) ** 2)
        assert abs(2 * cost - lsgan_pearson(p, q)) < 1e-12


def test_hinge_optimal_critic() -> None:
    rng = np.random.default_rng(5)
    for p, q in PAIRS:
        d = hinge_critic(p, q)

        def loss(dd: np.ndarray, p: np.ndarray = p, q: np.ndarray = q) -> float:
            return float(np.sum(p * np.maximum(0, 1 - dd) + q * np.maximum(0, 1 + dd)))

        tv = 0.5 * np.abs(p - q).sum()
        assert abs(loss(d) - (2 - 2 * tv)) < 1e-12
        for _ in range(10):
            assert loss(d + 0.1 * rng.standard_normal(len(p))) >= loss(d) - 1e-12


def test_w1_sorted_is_the_optimal_matching() -> None:
    rng = np.random.default_rng(6)
    for n in (1, 3, 6):
        x, y = rng.normal(size=n), rng.normal(1.0, 2.0, size=n)
        brute = min(np.mean(np.abs(x - y[list(perm)])) for perm in itertools.permutations(range(n)))
        assert abs(w1_sorted(x, y) - brute) < 1e-12
        assert abs(w1_sorted(torch.tensor(x), torch.tensor(y)) - brute) < 1e-12
    assert w1_sorted([0.0, 1.0], [3.0, 2.0]) == pytest.approx(2.0, abs=1e-15)
    with pytest.raises(ValueError, match="same size"):
        w1_sorted([0.0, 1.0], [1.0])


def test_w1_discrete_and_the_kantorovich_potential() -> None:
    x = np.array([0.0, 1.0, 3.0])
    assert w1_discrete(x, [1, 0, 0], [0, 0, 1]) == pytest.approx(3.0, abs=1e-15)
    assert w1_discrete(x, [0.5, 0.5, 0], [0, 0.5, 0.5]) == pytest.approx(1.5, abs=1e-15)
    rng = np.random.default_rng(7)
    for k in (2, 5, 12):
        pts = np.sort(rng.normal(size=k))
        p, q = rng.dirichlet(np.ones(k)), rng.dirichlet(np.ones(k))
        # W1 = integral |F_P - F_Q| computed here from the CDFs
        w1 = sum(
            abs(p[: j + 1].sum() - q[: j + 1].sum()) * (pts[j + 1] - pts[j]) for j in range(k - 1)
        )
        assert abs(w1_discrete(pts, p, q) - w1) < 1e-12
        f = wgan_critic_1d(pts, p, q)
        assert abs(np.dot(p - q, f) - w1) < 1e-12  # the potential attains W1 ...
        assert np.all(np.abs(np.diff(f)) <= np.diff(pts) + 1e-12)  # ... and is 1-Lipschitz
    # equal-mass samples: the discrete W1 is the sorted-sample W1
    xs, ys = rng.normal(size=7), rng.normal(2, 1, size=7)
    pts = np.concatenate([xs, ys])
    order = np.argsort(pts)
    p = np.concatenate([np.full(7, 1 / 7), np.zeros(7)])[order]
    q = np.concatenate([np.zeros(7), np.full(7, 1 / 7)])[order]
    assert abs(w1_discrete(pts[order], p, q) - w1_sorted(xs, ys)) < 1e-12


# -- two Gaussians ----------------------------------------------------------------------------
GAUSS = [(0.0, 1.0, 1.0, 1.0), (0.0, 1.0, 1.0, 1.25), (0.3, 0.8, -0.5, 1.0)]


def quad(fn, m1: float, s1: float, m2: float, s2: float) -> float:
    lo, hi = min(m1 - 12 * s1, m2 - 12 * s2), max(m1 + 12 * s1, m2 + 12 * s2)
    return scipy.integrate.quad(fn, lo, hi, limit=400, epsabs=1e-12, epsrel=1e-12)[0]


@pytest.mark.parametrize("params", GAUSS)
@pytest.mark.parametrize("name", NAMES)
def test_gaussian_f_divergences_match_quadrature(name: str, params: tuple) -> None:
    m1, s1, m2, s2 = params

    def integrand(x: float) -> float:
        p, q = scipy.stats.norm.pdf(x, m1, s1), scipy.stats.norm.pdf(x, m2, s2)
        if q < 1e-300 or p < 1e-300:
            return 0.0
        return q * F[name](p / q)

    expected = quad(integrand, m1, s1, m2, s2)
    assert abs(gaussian_divergence(name, m1, s1, m2, s2) - expected) < 1e-7 * max(1, expected)


def test_gaussian_closed_forms() -> None:
    # KL(N(0,1) || N(1,1)) = 1/2; chi^2 both ways e - 1; H^2 = 2 - 2 exp(-1/8)
    assert gaussian_divergence("kl", 0, 1, 1, 1) == pytest.approx(0.5, abs=1e-14)
    assert gaussian_divergence("pearson", 0, 1, 1, 1) == pytest.approx(math.e - 1, abs=1e-12)
    assert gaussian_divergence("neyman", 0, 1, 1, 1) == pytest.approx(math.e - 1, abs=1e-12)
    assert gaussian_divergence("hellinger", 0, 1, 1, 1) == pytest.approx(
        2 - 2 * math.exp(-1 / 8), abs=1e-14
    )
    tv = scipy.stats.norm.cdf(0.5) - scipy.stats.norm.cdf(-0.5)
    assert gaussian_divergence("tv", 0, 1, 1, 1) == pytest.approx(tv, abs=1e-9)
    # chi^2 is infinite once s_Q^2 <= s_P^2 / 2
    assert gaussian_divergence("pearson", 0, 1, 0, 0.7) == math.inf
    m1, s1, m2, s2 = 0.0, 1.0, 1.0, 1.25
    kl = math.log(s2 / s1) + (s1**2 + (m1 - m2) ** 2) / (2 * s2**2) - 0.5
    assert gaussian_divergence("kl", m1, s1, m2, s2) == pytest.approx(kl, abs=1e-14)
    with pytest.raises(ValueError, match="Unknown divergence"):
        gaussian_divergence("wasserstein", 0, 1, 1, 1)


@pytest.mark.parametrize("params", [*GAUSS, (2.0, 0.5, -1.0, 3.0)])
def test_gaussian_w1_and_lsgan(params: tuple) -> None:
    m1, s1, m2, s2 = params
    # W1 = E|(m1 - m2) + (s1 - s2) Z|, by quadrature over z
    w1 = scipy.integrate.quad(
        lambda z: abs(m1 - m2 + (s1 - s2) * z) * scipy.stats.norm.pdf(z), -40, 40, limit=200
    )[0]
    assert abs(gaussian_divergence("w1", m1, s1, m2, s2) - w1) < 1e-8
    assert abs(w1_gaussians(m1, s1, m2, s2) - w1) < 1e-4

    def tri(x: float) -> float:
        p, q = scipy.stats.norm.pdf(x, m1, s1), scipy.stats.norm.pdf(x, m2, s2)
        return (p - q) ** 2 / (p + q) if p + q > 1e-300 else 0.0

    expected = quad(tri, m1, s1, m2, s2)
    assert abs(gaussian_divergence("lsgan-pearson", m1, s1, m2, s2) - expected) < 1e-7


# -- the divergence table: trained critics vs closed forms -------------------------------------
def test_divergence_table_trained_critics_reach_the_closed_form() -> None:
    rows = divergence_table(steps=150, objectives=["gan", "fgan-kl", "lsgan", "hinge"])
    assert [r.key for r in rows] == ["gan", "fgan-kl", "lsgan", "hinge"]
    closed = {
        "gan": gaussian_divergence("jsd", 0, 1, 1, 1),
        "fgan-kl": 0.5,
        "lsgan": gaussian_divergence("lsgan-pearson", 0, 1, 1, 1),
        "hinge": gaussian_divergence("tv", 0, 1, 1, 1),
    }
    for r in rows:
        assert r.closed_form == pytest.approx(closed[r.key], abs=1e-9)
        if r.critic is None:  # objective family not registered (yet)
            assert r.note.startswith("skipped")
            continue
        assert abs(r.critic - r.closed_form) < 0.1 * abs(r.closed_form), r
    # seeded: the same numbers again
    again = divergence_table(steps=150, objectives=["gan"])
    assert again[0].critic == rows[0].critic


def test_divergence_table_skips_missing_objectives(monkeypatch: pytest.MonkeyPatch) -> None:
    spec = critics_mod._Spec("ghost", {"name": "no-such-objective"}, "KL", "kl", float, "")
    monkeypatch.setattr(critics_mod, "_specs", lambda: [spec])
    (row,) = divergence_table(steps=5)
    assert row.critic is None and row.abs_diff is None
    assert "skipped" in row.note and "no-such-objective" in row.note
    with pytest.raises(ValueError, match="Unknown row"):
        divergence_table(objectives=["nope"])


# -- generator losses (Goodfellow 2016, Fig. 16) ----------------------------------------------
def test_generator_loss_gradients_closed_forms() -> None:
    d = np.array([0.01, 0.3, 0.5, 0.9])
    g = generator_loss_gradients(d)
    np.testing.assert_allclose(g["minimax"], -d, rtol=0, atol=1e-12)
    np.testing.assert_allclose(g["ns"], d - 1, rtol=0, atol=1e-12)
    np.testing.assert_allclose(g["ml"], -d / (2 * (1 - d)), rtol=0, atol=1e-12)


def test_plot_generator_losses_and_cli(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from PIL import Image

    out = plot_generator_losses(tmp_path / "a.png")
    assert Image.open(out).size == (1000, 400)
    assert main(["theory", "gen-losses", "--out", str(tmp_path / "b.png")]) == 0
    assert (tmp_path / "b.png").is_file() and "wrote" in capsys.readouterr().out


def test_cli_divergences(capsys: pytest.CaptureFixture) -> None:
    assert main(["theory", "divergences", "--steps", "5", "--only", "gan"]) == 0
    out = capsys.readouterr().out
    assert "JSD(P,Q)" in out and "0.1114" in out  # JSD(N(0,1), N(1,1)) = 0.1114
    assert main(["theory", "divergences", "--steps", "0"]) == 2
    assert "--steps must be positive" in capsys.readouterr().err
    assert main(["theory", "divergences", "--only", "nope"]) == 2
    assert "unknown row 'nope'" in capsys.readouterr().err
    assert main(["theory"]) == 2
    assert "needs an action" in capsys.readouterr().err

r"""Closed-form divergences: the f-divergences of f-GAN, LSGAN's chi^2, and W1 in 1-D.

Nowozin et al. 2016, f-GAN: Training Generative Neural Samplers using Variational
Divergence Minimization (Table 1 and 2); Mao et al. 2017, Least Squares Generative
Adversarial Networks (Theorem 1, eq. 9); Arjovsky et al. 2017, Wasserstein GAN.

**f-divergences.** For a convex f with f(1) = 0,

    D_f(P || Q) = sum_x q(x) f(p(x) / q(x))      (an integral for densities),

with P the data and Q the model in every GAN below. The f of each entry of
:data:`F_DIVERGENCES` is exactly the one whose Fenchel conjugate f* Nowozin et al.
list in their Table 2, so the value of an f-GAN critic at its optimum,
sup_T E_P[T] - E_Q[f*(T)], *is* ``f_divergence(p, q, name)``:

==============  =====================================  ==========================================
name            f(u)                                   D_f(P || Q)
==============  =====================================  ==========================================
``kl``          u log u                                KL(P || Q) = sum p log(p / q)
``reverse-kl``  -log u                                 KL(Q || P) = sum q log(q / p)
``js``          u log u - (u + 1) log((u + 1) / 2)     2 JSD(P || Q) = KL(P || M) + KL(Q || M)
``gan``         u log u - (u + 1) log(u + 1)           2 JSD(P || Q) - log 4
``pearson``     (u - 1)^2                              sum (p - q)^2 / q
``neyman``      (1 - u)^2 / u                          sum (q - p)^2 / p
``hellinger``   (sqrt(u) - 1)^2                        sum (sqrt(p) - sqrt(q))^2
``tv``          1/2 |u - 1|                            1/2 sum |p - q|
==============  =====================================  ==========================================

(M = (P + Q) / 2.) Note on ``js``: Nowozin et al.'s Table 1 prints the Jensen-Shannon
divergence with a factor 1/2, but the f it lists next to it, and the conjugate
f*(t) = -log(2 - e^t) of Table 2 that an f-GAN trains with, give twice that: D_f = 2 JSD,
in [0, log 4]. We follow f (what the f-GAN estimates) and say so in the name's label.

**Conventions.** Distributions are probability vectors along ``axis`` (default the
last; ``axis=None`` sums over everything). Functions take NumPy arrays, lists or torch
tensors and answer in kind, like :mod:`ganforge.theory.discriminator`. Limits at the
edges of the supports are the usual ones (0 f(0/0) = 0; q f(p/q) -> p lim f(u)/u as
q -> 0): a divergence is ``inf`` where it should be (KL with p > 0 = q, Pearson with
q = 0 < p, ...), never NaN.

**Gaussians.** :func:`gaussian_divergence` evaluates every divergence here between two
1-D Gaussians, in closed form where one exists (KL both ways, squared Hellinger,
Pearson and Neyman chi^2, W1) and by quadrature on a fine grid otherwise (JS, GAN, TV,
LSGAN's chi^2).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import scipy.special
import scipy.stats
import torch

from ganforge.theory.discriminator import ArrayLike, Axis, _as_common, _sum, jsd, kl

__all__ = [
    "F_DIVERGENCES",
    "FDivergence",
    "f_divergence",
    "gan_divergence",
    "gaussian_divergence",
    "gaussian_kl",
    "hellinger",
    "js2",
    "lsgan_pearson",
    "neyman",
    "pearson",
    "reverse_kl",
    "total_variation",
    "w1_discrete",
    "w1_gaussians",
    "w1_sorted",
]


# -- elementwise helpers that work for NumPy and torch alike --------------------------------------
def _xlogy(x, y, is_torch: bool):
    return torch.xlogy(x, y) if is_torch else scipy.special.xlogy(x, y)


def _ratio_term(num, den, is_torch: bool):
    """num^2 / den elementwise, with 0 where num = 0 and +inf where den = 0 < num."""
    if is_torch:
        safe = torch.where(den > 0, den, torch.ones_like(den))
        inf = torch.full_like(num, math.inf)
        return torch.where(
            den > 0, num**2 / safe, torch.where(num != 0, inf, torch.zeros_like(num))
        )
    safe = np.where(den > 0, den, 1.0)
    return np.where(den > 0, num**2 / safe, np.where(num != 0, np.inf, 0.0))


# -- the f-divergences -------------------------------------------------------------------------
def reverse_kl(p: ArrayLike, q: ArrayLike, axis: Axis = -1):
    """Reverse KL: KL(Q || P) = sum_x q log(q / p); f(u) = -log u. +inf where q > 0 = p."""
    return kl(q, p, axis)


def js2(p: ArrayLike, q: ArrayLike, axis: Axis = -1):
    """Twice the Jensen-Shannon divergence, KL(P || M) + KL(Q || M), M = (P + Q) / 2.

    The f-divergence of f(u) = u log u - (u + 1) log((u + 1) / 2), the ``js`` f-GAN's
    (Nowozin et al. 2016, Tables 1-2; see the module note on the factor 2). In [0, log 4].
    """
    return 2 * jsd(p, q, axis)


def gan_divergence(p: ArrayLike, q: ArrayLike, axis: Axis = -1):
    """The original GAN's f-divergence, 2 JSD(P || Q) - log 4, in [-log 4, 0].

    f(u) = u log u - (u + 1) log(u + 1), so q f(p/q) = p log(p / (p + q)) + q log(q / (p + q)):
    the value of the game at the optimal discriminator (Goodfellow et al. 2014, Thm 1).
    """
    is_torch, (pp, qq) = _as_common(p, q)
    s = pp + qq
    # p log p + q log q - (p + q) log(p + q), with 0 log 0 = 0
    terms = _xlogy(pp, pp, is_torch) + _xlogy(qq, qq, is_torch) - _xlogy(s, s, is_torch)
    return _sum(terms, is_torch, axis)


def pearson(p: ArrayLike, q: ArrayLike, axis: Axis = -1):
    """Pearson chi^2: sum_x (p - q)^2 / q; f(u) = (u - 1)^2. +inf where q = 0 < p."""
    is_torch, (pp, qq) = _as_common(p, q)
    return _sum(_ratio_term(pp - qq, qq, is_torch), is_torch, axis)


def neyman(p: ArrayLike, q: ArrayLike, axis: Axis = -1):
    """Neyman chi^2: sum_x (q - p)^2 / p; f(u) = (1 - u)^2 / u. +inf where p = 0 < q."""
    is_torch, (pp, qq) = _as_common(p, q)
    return _sum(_ratio_term(qq - pp, pp, is_torch), is_torch, axis)


def hellinger(p: ArrayLike, q: ArrayLike, axis: Axis = -1):
    """Squared Hellinger distance: sum_x (sqrt(p) - sqrt(q))^2, in [0, 2]; f(u) = (sqrt(u) - 1)^2.

    Nowozin et al.'s convention (no factor 1/2): 2 - 2 sum sqrt(p q).
    """
    is_torch, (pp, qq) = _as_common(p, q)
    terms = (torch.sqrt(pp) - torch.sqrt(qq)) ** 2 if is_torch else (np.sqrt(pp) - np.sqrt(qq)) ** 2
    return _sum(terms, is_torch, axis)


def total_variation(p: ArrayLike, q: ArrayLike, axis: Axis = -1):
    """Total variation: 1/2 sum_x |p - q| = sup_A P(A) - Q(A), in [0, 1]; f(u) = 1/2 |u - 1|."""
    is_torch, (pp, qq) = _as_common(p, q)
    terms = 0.5 * (torch.abs(pp - qq) if is_torch else np.abs(pp - qq))
    return _sum(terms, is_torch, axis)


@dataclass(frozen=True)
class FDivergence:
    """One f-divergence of f-GAN (Nowozin et al. 2016, Table 1).

    Attributes:
        name: the f-GAN ``divergence=`` name.
        label: what D_f(P || Q) is, in words.
        f: the generator function, as a formula.
        f_prime: its derivative, the optimal f-GAN critic T*(x) = f'(p(x) / q(x)).
        fn: ``fn(p, q, axis)``, D_f on discrete distributions.
    """

    name: str
    label: str
    f: str
    f_prime: str
    fn: Callable[..., object]


F_DIVERGENCES: dict[str, FDivergence] = {
    d.name: d
    for d in (
        FDivergence("kl", "KL(P||Q)", "u log u", "1 + log u", kl),
        FDivergence("reverse-kl", "KL(Q||P)", "-log u", "-1 / u", reverse_kl),
        FDivergence("js", "2 JSD(P,Q)", "u log u - (u+1) log((u+1)/2)", "log(2u / (1+u))", js2),
        FDivergence(
            "gan",
            "2 JSD(P,Q) - log 4",
            "u log u - (u+1) log(u+1)",
            "log(u / (1+u))",
            gan_divergence,
        ),
        FDivergence("pearson", "Pearson chi2(P||Q)", "(u-1)^2", "2 (u - 1)", pearson),
        FDivergence("neyman", "Neyman chi2(P||Q)", "(1-u)^2 / u", "1 - 1/u^2", neyman),
        FDivergence("hellinger", "Hellinger^2(P,Q)", "(sqrt(u)-1)^2", "1 - 1/sqrt(u)", hellinger),
        FDivergence("tv", "TV(P,Q)", "|u-1| / 2", "sign(u - 1) / 2", total_variation),
    )
}


def _check_name(name: str) -> FDivergence:
    if name not in F_DIVERGENCES:
        import difflib

        close = difflib.get_close_matches(name, list(F_DIVERGENCES), n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ValueError(
            f"Unknown f-divergence {name!r}.{hint} Choose one of {', '.join(F_DIVERGENCES)}."
        )
    return F_DIVERGENCES[name]


def f_divergence(p: ArrayLike, q: ArrayLike, name: str, axis: Axis = -1):
    """D_f(P || Q) = sum_x q f(p / q) for one of the f-GAN divergences (see the module table).

    Args:
        p: the data distribution P, probabilities along ``axis``.
        q: the model distribution Q, same shape.
        name: ``kl``, ``reverse-kl``, ``js``, ``gan``, ``pearson``, ``neyman``,
            ``hellinger`` or ``tv``.
        axis: the support axis (or axes); ``None`` for all.
    """
    return _check_name(name).fn(p, q, axis)


def lsgan_pearson(p: ArrayLike, q: ArrayLike, axis: Axis = -1):
    """LSGAN's divergence: chi^2_Pearson(p_d + p_g || 2 p_g) in Mao et al. 2017's notation.

    With b - c = 1 and b - a = 2 in the LSGAN objective, the generator's cost at the
    optimal critic is (Mao et al. 2017, Theorem 1, eq. 9)

        2 C(G) = sum_x (2 p_g - (p_d + p_g))^2 / (p_d + p_g) = sum_x (p_d - p_g)^2 / (p_d + p_g),

    which Mao et al. write chi^2_Pearson(p_d + p_g || 2 p_g) (their chi^2 puts the *first*
    argument in the denominator). It is symmetric, in [0, 2], 0 iff p_d = p_g and 2 iff
    the supports are disjoint (the triangular discrimination). Points outside both
    supports contribute 0.

    Args:
        p: the data distribution p_d along ``axis``.
        q: the model distribution p_g, same shape.
        axis: the support axis (or axes); ``None`` for all.
    """
    is_torch, (pp, qq) = _as_common(p, q)
    return _sum(_ratio_term(2 * qq - (pp + qq), pp + qq, is_torch), is_torch, axis)


# -- Wasserstein-1 in one dimension -----------------------------------------------------------
def w1_sorted(x: ArrayLike, y: ArrayLike) -> float:
    """W1 between two 1-D empirical distributions with the same number of samples.

    In 1-D the optimal coupling pairs the order statistics (the quantile coupling), so
    W1 = 1/n sum_i |x_(i) - y_(i)| with x_(1) <= ... <= x_(n) and likewise for y.

    Args:
        x, y: samples, shape (n,) each (or anything that flattens to it).

    Returns:
        W1 as a float.
    """
    xs = np.sort(_flat(x))
    ys = np.sort(_flat(y))
    if xs.size != ys.size or xs.size == 0:
        raise ValueError(
            f"w1_sorted needs two non-empty samples of the same size, got {xs.size} and "
            f"{ys.size}; subsample the larger one (or use w1_discrete with weights)."
        )
    return float(np.mean(np.abs(xs - ys)))


def _flat(x: ArrayLike) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().double().numpy()
    return np.asarray(x, dtype=np.float64).reshape(-1)


def w1_discrete(x: ArrayLike, p: ArrayLike, q: ArrayLike) -> float:
    """W1 between two distributions on the same sorted 1-D points: sum_j |P_j - Q_j| (x_{j+1} - x_j).

    W1 = integral |F_P(t) - F_Q(t)| dt, and the CDFs are constant between the points.

    Args:
        x: the support points, increasing, shape (K,).
        p, q: probabilities at those points, shape (K,) each.
    """
    xs, pp, qq = _flat(x), _flat(p), _flat(q)
    if not (xs.shape == pp.shape == qq.shape):
        raise ValueError(
            f"x, p and q must have the same length, got {xs.size}, {pp.size}, {qq.size}."
        )
    if np.any(np.diff(xs) < 0):
        raise ValueError("w1_discrete needs increasing support points x; sort x, p and q together.")
    gap = np.cumsum(pp)[:-1] - np.cumsum(qq)[:-1]
    return float(np.sum(np.abs(gap) * np.diff(xs)))


def w1_gaussians(m1: float, s1: float, m2: float, s2: float, n: int = 200_000) -> float:
    """W1(N(m1, s1^2), N(m2, s2^2)) by numerical quantile integration.

    W1 = integral_0^1 |F1^{-1}(u) - F2^{-1}(u)| du = E|(m1 - m2) + (s1 - s2) Z|, Z ~ N(0, 1),
    evaluated with the midpoint rule on ``n`` quantile levels u_i = (i + 1/2) / n. The
    integrand grows only like |Phi^{-1}(u)| at the ends, so the error is O(sqrt(log n) / n).

    Args:
        m1, s1: mean and standard deviation of the first Gaussian (s1 > 0).
        m2, s2: the second.
        n: number of quantile levels.
    """
    _check_sd(s1, s2)
    z = scipy.stats.norm.ppf((np.arange(n) + 0.5) / n)
    return float(np.mean(np.abs((m1 - m2) + (s1 - s2) * z)))


# -- two 1-D Gaussians ------------------------------------------------------------------------
def _check_sd(*s: float) -> None:
    if any(not (v > 0) for v in s):
        raise ValueError(f"standard deviations must be > 0, got {s}.")


def gaussian_kl(m1: float, s1: float, m2: float, s2: float) -> float:
    """KL(N(m1, s1^2) || N(m2, s2^2)) = log(s2/s1) + (s1^2 + (m1 - m2)^2) / (2 s2^2) - 1/2."""
    _check_sd(s1, s2)
    return math.log(s2 / s1) + (s1**2 + (m1 - m2) ** 2) / (2 * s2**2) - 0.5


def _gaussian_hellinger(m1: float, s1: float, m2: float, s2: float) -> float:
    # 2 - 2 BC, Bhattacharyya coefficient BC = sqrt(2 s1 s2 / (s1^2 + s2^2)) exp(-(m1-m2)^2 / (4 (s1^2 + s2^2)))
    v = s1**2 + s2**2
    bc = math.sqrt(2 * s1 * s2 / v) * math.exp(-((m1 - m2) ** 2) / (4 * v))
    return 2 - 2 * bc


def _gaussian_pearson(m1: float, s1: float, m2: float, s2: float) -> float:
    # integral p^2 / q - 1. p^2/q = s2 / (s1^2 sqrt(2 pi)) exp(-A x^2 + 2 B x - C) with
    # A = 1/s1^2 - 1/(2 s2^2), B = m1/s1^2 - m2/(2 s2^2), C = m1^2/s1^2 - m2^2/(2 s2^2);
    # the Gaussian integral gives s2 / (s1^2 sqrt(2 A)) exp(B^2/A - C); infinite if A <= 0.
    a = 1 / s1**2 - 1 / (2 * s2**2)
    if a <= 0:
        return math.inf
    b = m1 / s1**2 - m2 / (2 * s2**2)
    c = m1**2 / s1**2 - m2**2 / (2 * s2**2)
    return s2 / (s1**2 * math.sqrt(2 * a)) * math.exp(b**2 / a - c) - 1


def _gaussian_grid(m1: float, s1: float, m2: float, s2: float, n: int = 400_001):
    """Densities of both Gaussians on a grid covering +-14 sd of each, and the cell width."""
    lo = min(m1 - 14 * s1, m2 - 14 * s2)
    hi = max(m1 + 14 * s1, m2 + 14 * s2)
    x, dx = np.linspace(lo, hi, n, retstep=True)
    return x, scipy.stats.norm.pdf(x, m1, s1), scipy.stats.norm.pdf(x, m2, s2), dx


#: names :func:`gaussian_divergence` knows besides the f-divergences.
GAUSSIAN_EXTRA = ("jsd", "lsgan-pearson", "w1")


def gaussian_divergence(name: str, m1: float, s1: float, m2: float, s2: float) -> float:
    """A divergence between P = N(m1, s1^2) (the data) and Q = N(m2, s2^2) (the model).

    Closed forms: ``kl``, ``reverse-kl`` (:func:`gaussian_kl`), ``hellinger``
    (2 - 2 x the Bhattacharyya coefficient), ``pearson`` and ``neyman`` (Gaussian
    integrals of p^2/q; ``inf`` when s2^2 <= s1^2 / 2, resp. s1^2 <= s2^2 / 2) and ``w1``
    (E|m1 - m2 + (s1 - s2) Z|, the folded-normal mean). ``js``, ``gan``, ``tv``,
    ``jsd`` and ``lsgan-pearson`` by quadrature (trapezoid on 400,001 points over
    +-14 sd; error far below 1e-8).

    Args:
        name: an f-divergence name (see :data:`F_DIVERGENCES`) or ``jsd``,
            ``lsgan-pearson``, ``w1``.
        m1, s1: mean and standard deviation of P (s1 > 0).
        m2, s2: mean and standard deviation of Q (s2 > 0).
    """
    _check_sd(s1, s2)
    if name == "kl":
        return gaussian_kl(m1, s1, m2, s2)
    if name == "reverse-kl":
        return gaussian_kl(m2, s2, m1, s1)
    if name == "hellinger":
        return _gaussian_hellinger(m1, s1, m2, s2)
    if name == "pearson":
        return _gaussian_pearson(m1, s1, m2, s2)
    if name == "neyman":
        return _gaussian_pearson(m2, s2, m1, s1)
    if name == "w1":
        mu, sd = m1 - m2, abs(s1 - s2)
        if sd == 0:
            return abs(mu)
        # E|mu + sd Z| = sd sqrt(2/pi) exp(-mu^2 / (2 sd^2)) + mu (1 - 2 Phi(-mu / sd))
        return sd * math.sqrt(2 / math.pi) * math.exp(-(mu**2) / (2 * sd**2)) + mu * (
            1 - 2 * scipy.stats.norm.cdf(-mu / sd)
        )
    fn: Callable[..., object]
    if name == "jsd":
        fn = jsd
    elif name == "lsgan-pearson":
        fn = lsgan_pearson
    elif name in F_DIVERGENCES:
        fn = F_DIVERGENCES[name].fn
    else:
        known = [*F_DIVERGENCES, *GAUSSIAN_EXTRA]
        raise ValueError(f"Unknown divergence {name!r}; choose one of {', '.join(known)}.")
    # Riemann sum of the densities times the cell width: p dx, q dx are probabilities,
    # and every divergence here is 1-homogeneous in (p, q), so sum f-terms = integral.
    _, p, q, dx = _gaussian_grid(m1, s1, m2, s2)
    return float(fn(p * dx, q * dx))

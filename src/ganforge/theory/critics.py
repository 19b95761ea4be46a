r"""Optimal critics of each objective, and the divergence a trained critic recovers.

For a fixed generator with density (or mass) q = p_g and data p = p_data, each
adversarial objective's critic loss is minimised pointwise; the minimiser and the value
there say which divergence the objective measures:

======================  ==================================  ======================================
objective               optimal critic (pointwise)          -d_loss at the optimum
======================  ==================================  ======================================
GAN (minimax, ns, ml)   logit l* = log(p / q)               2 JSD(P || Q) - log 4
f-GAN, divergence f     T* = f'(p / q)  (T = g_f(V))        D_f(P || Q)
LSGAN (a, b, c)         D* = (b p + a q) / (p + q)          -(b-a)^2 / 2 sum p q / (p + q)
hinge                   D* = sign(p - q)                    2 TV(P, Q) - 2
WGAN (1-Lipschitz)      Kantorovich potential, 1-D:         W1(P, Q)
                        f'(x) = sign(F_Q(x) - F_P(x))
======================  ==================================  ======================================

For LSGAN with b - a = 2 the critic's value is affine in Mao et al.'s chi^2 of
:func:`~ganforge.theory.divergences.lsgan_pearson`: since sum p q / (p + q) =
(2 - Delta) / 4 with Delta = sum (p - q)^2 / (p + q), -d_loss = (b-a)^2 (Delta - 2) / 8.

:func:`divergence_table` checks all of this against the registered objectives: for
two fixed 1-D Gaussians it trains a small MLP critic on fresh samples (the generator
is a fixed sample distribution, not a network) to minimise each objective's
``d_loss`` and compares the divergence it reaches with the closed form.

Goodfellow et al. 2014 (Prop. 1, Thm. 1); Nowozin et al. 2016, f-GAN (eq. 5-6, Tables
1-2); Mao et al. 2017, LSGAN (eq. 6-9); Lim & Ye 2017, Geometric GAN (hinge, TV);
Arjovsky et al. 2017, Wasserstein GAN (Kantorovich-Rubinstein duality);
Gulrajani et al. 2017, WGAN-GP.
"""

from __future__ import annotations

import contextlib
import importlib
import math
import pkgutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.stats
import torch
from torch import nn

from ganforge.theory.discriminator import ArrayLike, _as_common
from ganforge.theory.divergences import F_DIVERGENCES, _check_name, _flat, gaussian_divergence

__all__ = [
    "DivergenceRow",
    "divergence_table",
    "fgan_critic",
    "gan_logit",
    "hinge_critic",
    "lsgan_critic",
    "wgan_critic_1d",
]


# -- closed-form optimal critics ----------------------------------------------------------------
def _ratio(p: ArrayLike, q: ArrayLike):
    """(is_torch, u = p / q) with u = 1 where p = q = 0 (outside both supports, any critic
    is optimal; we take the value of the symmetric case), +inf where q = 0 < p."""
    is_torch, (pp, qq) = _as_common(p, q)
    if is_torch:
        both = (pp == 0) & (qq == 0)
        safe_q = torch.where(qq > 0, qq, torch.ones_like(qq))
        u = torch.where(qq > 0, pp / safe_q, torch.full_like(pp, math.inf))
        return True, torch.where(both, torch.ones_like(u), u)
    with np.errstate(divide="ignore", invalid="ignore"):
        u = np.where(qq > 0, pp / np.where(qq > 0, qq, 1.0), np.inf)
    return False, np.where((pp == 0) & (qq == 0), 1.0, u)


def gan_logit(p: ArrayLike, q: ArrayLike):
    """The original GAN's optimal logit l*(x) = log(p(x) / q(x)), D* = sigmoid(l*).

    Goodfellow et al. 2014, Proposition 1 (D* = p / (p + q)). +inf where q = 0 < p,
    -inf where p = 0 < q, 0 outside both supports.
    """
    is_torch, u = _ratio(p, q)
    if is_torch:
        return torch.log(u)
    with np.errstate(divide="ignore"):
        return np.log(u)


def fgan_critic(p: ArrayLike, q: ArrayLike, divergence: str):
    """The optimal f-GAN critic T*(x) = f'(p(x) / q(x)) (Nowozin et al. 2016, eq. 6).

    T is the critic's output *after* the output activation g_f. With u = p / q:

    - ``kl``: 1 + log u;  ``reverse-kl``: -1/u;  ``js``: log(2u / (1 + u));
    - ``gan``: log(u / (1 + u));  ``pearson``: 2 (u - 1);  ``neyman``: 1 - 1/u^2;
    - ``hellinger``: 1 - 1/sqrt(u);  ``tv``: sign(u - 1) / 2.

    At T*, E_P[T*] - E_Q[f*(T*)] = D_f(P || Q) (see
    :func:`ganforge.theory.divergences.f_divergence`). Values at u = 0 or u = inf are the
    limits (possibly infinite).
    """
    _check_name(divergence)
    is_torch, u = _ratio(p, q)
    lib: Any = torch if is_torch else np
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if divergence == "kl":
            return 1 + lib.log(u)
        if divergence == "reverse-kl":
            return -1 / u
        if divergence == "js":
            # log(2u / (1 + u)) = log 2 + log u - log(1 + u); the limit at u = inf is log 2
            return lib.where(lib.isinf(u), math.log(2), math.log(2) + lib.log(u) - lib.log1p(u))
        if divergence == "gan":
            return lib.where(lib.isinf(u), 0.0, lib.log(u) - lib.log1p(u))
        if divergence == "pearson":
            return 2 * (u - 1)
        if divergence == "neyman":
            return 1 - 1 / u**2
        if divergence == "hellinger":
            return 1 - 1 / lib.sqrt(u)
        return 0.5 * lib.sign(u - 1)  # tv


def lsgan_critic(p: ArrayLike, q: ArrayLike, a: float = -1.0, b: float = 1.0):
    """LSGAN's optimal critic D*(x) = (b p(x) + a q(x)) / (p(x) + q(x)) (Mao et al. 2017, eq. 6).

    The critic minimises 1/2 E_P[(D - b)^2] + 1/2 E_Q[(D - a)^2]; pointwise the minimiser
    is the weighted mean of the targets b (real) and a (fake). (a + b) / 2 outside both
    supports.
    """
    is_torch, (pp, qq) = _as_common(p, q)
    s = pp + qq
    if is_torch:
        safe = torch.where(s > 0, s, torch.ones_like(s))
        return torch.where(s > 0, (b * pp + a * qq) / safe, torch.full_like(s, (a + b) / 2))
    return np.where(s > 0, (b * pp + a * qq) / np.where(s > 0, s, 1.0), (a + b) / 2)


def hinge_critic(p: ArrayLike, q: ArrayLike):
    """The hinge loss's optimal critic D*(x) = sign(p(x) - q(x)) (Lim & Ye 2017).

    Pointwise the critic minimises p max(0, 1 - D) + q max(0, 1 + D), linear in D on
    [-1, 1] with slope q - p: the minimum sits at D = 1 where p > q and D = -1 where
    p < q (0 where p = q, where every D in [-1, 1] is optimal). The loss there is
    sum 2 min(p, q) = 2 - 2 TV(P, Q).
    """
    is_torch, (pp, qq) = _as_common(p, q)
    return torch.sign(pp - qq) if is_torch else np.sign(pp - qq)


def wgan_critic_1d(x: ArrayLike, p: ArrayLike, q: ArrayLike) -> np.ndarray:
    """WGAN's optimal critic in 1-D: the Kantorovich potential on sorted points ``x``.

    W1(P, Q) = sup_{Lip(f) <= 1} E_P[f] - E_Q[f], and E_P[f] - E_Q[f] =
    integral f'(t) (F_Q(t) - F_P(t)) dt, so f'(t) = sign(F_Q(t) - F_P(t)) attains
    integral |F_P - F_Q| = W1:

        f(x_0) = 0,   f(x_{j+1}) = f(x_j) + sign(Q_j - P_j) (x_{j+1} - x_j),

    with P_j, Q_j the CDFs at x_j. For masses on the points x the identity
    sum_j (p_j - q_j) f(x_j) = W1 is exact (it is summation by parts); for densities,
    pass p dx and q dx on a fine grid. The potential is defined up to a constant.

    Args:
        x: increasing support points, shape (K,).
        p, q: probabilities of the data and the model at those points, shape (K,).

    Returns:
        f at the points x, float64 (K,).
    """
    xs, pp, qq = _flat(x), _flat(p), _flat(q)
    if not (xs.shape == pp.shape == qq.shape):
        raise ValueError(
            f"x, p and q must have the same length, got {xs.size}, {pp.size}, {qq.size}."
        )
    if np.any(np.diff(xs) < 0):
        raise ValueError("wgan_critic_1d needs increasing points x; sort x, p and q together.")
    slope = np.sign(np.cumsum(qq)[:-1] - np.cumsum(pp)[:-1])
    return np.concatenate([[0.0], np.cumsum(slope * np.diff(xs))])


# -- trained critics vs closed forms ------------------------------------------------------------
@dataclass
class DivergenceRow:
    """One line of :func:`divergence_table`.

    Attributes:
        key: the row's key (see :data:`TABLE_KEYS`), e.g. ``fgan-kl``.
        objective: the registered objective (with its arguments) the critic trained on.
        divergence: what the closed form is, in words.
        closed_form: its value between the two Gaussians.
        critic: the value the trained critic reaches (mapped from -d_loss to the
            divergence's scale), or None when the objective is not available.
        note: why a row was skipped, or how -d_loss maps to the divergence.
        seconds: training time of the critic.
    """

    key: str
    objective: str
    divergence: str
    closed_form: float
    critic: float | None
    note: str = ""
    seconds: float = 0.0

    @property
    def abs_diff(self) -> float | None:
        return None if self.critic is None else abs(self.critic - self.closed_form)


@dataclass
class _Spec:
    key: str
    objective: dict[str, Any]
    divergence: str  # label
    closed: str  # name for gaussian_divergence
    to_div: Callable[[float], float]  # -d_loss -> divergence
    note: str
    penalties: list[dict[str, Any]] = field(default_factory=list)


def _specs() -> list[_Spec]:
    log4 = math.log(4)
    specs = [
        _Spec(
            "gan",
            {"name": "ns"},
            "JSD(P,Q)",
            "jsd",
            lambda v: (v + log4) / 2,
            "JSD = (-d_loss + log 4) / 2",
        )
    ]
    for name, d in F_DIVERGENCES.items():
        specs.append(
            _Spec(
                f"fgan-{name}",
                {"name": "fgan", "divergence": name},
                d.label,
                name,
                lambda v: v,
                "D_f = -d_loss",
            )
        )
    specs += [
        _Spec(
            "lsgan",
            {"name": "lsgan", "a": -1.0, "b": 1.0, "c": 0.0},
            "Mao chi2(P+Q||2Q)",
            "lsgan-pearson",
            # -d_loss = (b-a)^2 (Delta - 2) / 8 with b - a = 2
            lambda v: 2 + 2 * v,
            "chi2 = 2 - 2 d_loss",
        ),
        _Spec(
            "hinge",
            {"name": "hinge"},
            "TV(P,Q)",
            "tv",
            lambda v: 1 + v / 2,
            "TV = 1 - d_loss / 2",
        ),
        _Spec(
            "wgan-gp",
            {"name": "wgan"},
            "W1(P,Q)",
            "w1",
            lambda v: v,
            "W1 ~ -d_loss (GP critic, penalty excluded)",
            [{"name": "gradient-penalty"}],
        ),
    ]
    return specs


#: (mean, standard deviation) of the data P and the model Q in :func:`divergence_table`.
DEFAULT_DATA: tuple[float, float] = (0.0, 1.0)
DEFAULT_MODEL: tuple[float, float] = (1.0, 1.0)

#: row keys of :func:`divergence_table`, in order.
TABLE_KEYS: tuple[str, ...] = tuple(s.key for s in _specs())


def _register_everything() -> None:
    """Import every objective and penalty module, so that families whose package
    ``__init__`` does not import them yet are registered too. A module that cannot be
    imported is passed over: its rows are then reported as skipped."""
    from ganforge import registry

    registry.load_all()
    for pkg_name in ("ganforge.objectives", "ganforge.penalties"):
        pkg = importlib.import_module(pkg_name)
        for info in pkgutil.iter_modules(pkg.__path__):
            with contextlib.suppress(ImportError):
                importlib.import_module(f"{pkg_name}.{info.name}")


class _Critic(nn.Module):
    """A 1-D MLP critic, 1 -> 64 -> 64 -> 1 (LeakyReLU 0.2), returning CriticOutput."""

    def __init__(self, width: int = 64) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Linear(1, width), nn.LeakyReLU(0.2), nn.Linear(width, width), nn.LeakyReLU(0.2)
        )
        self.head = nn.Linear(width, 1)

    def forward(self, x: torch.Tensor):
        from ganforge.nets.base import CriticOutput

        h = self.body(x)
        return CriticOutput(score=self.head(h).squeeze(1), features=h)


def _quantile_points(m: float, s: float, n: int) -> torch.Tensor:
    """n points at the quantiles (i + 1/2) / n of N(m, s^2): a mean over them is a
    (deterministic, low-variance) quadrature of the expectation under N(m, s^2)."""
    z = scipy.stats.norm.ppf((np.arange(n) + 0.5) / n)
    return torch.as_tensor(m + s * z, dtype=torch.float32).unsqueeze(1)


def _train_critic(
    spec: _Spec,
    objective: Any,
    penalties: list[Any],
    data: tuple[float, float],
    model: tuple[float, float],
    steps: int,
    seed: int,
    batch_size: int,
    lr: float,
    n_eval: int,
) -> float:
    """Minimise the objective's d_loss (+ penalties) over a fresh critic; return the
    divergence its -d_loss maps to, evaluated on quantile points.

    Runs inside a forked RNG seeded with ``seed`` (penalties draw their interpolation
    weights from the global RNG): deterministic, and the caller's RNG is untouched."""
    (mp, sp), (mq, sq) = data, model
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        critic = _Critic()
        opt = torch.optim.Adam(critic.parameters(), lr=lr, betas=(0.5, 0.999))
        for _ in range(steps):
            x_real = mp + sp * torch.randn(batch_size, 1)
            x_fake = mq + sq * torch.randn(batch_size, 1)
            out_real, out_fake = critic(x_real), critic(x_fake)
            loss = objective.d_loss(out_real, out_fake)
            for pen in penalties:
                loss = loss + pen(critic, x_real, x_fake, out_real=out_real, out_fake=out_fake)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            for pen in penalties:
                after = getattr(pen, "after_step", None)
                if after is not None:
                    after(critic)
    with torch.no_grad():
        out_real = critic(_quantile_points(mp, sp, n_eval))
        out_fake = critic(_quantile_points(mq, sq, n_eval))
        value = -float(objective.d_loss(out_real, out_fake))
    return spec.to_div(value)


def divergence_table(
    steps: int = 500,
    seed: int = 0,
    data: tuple[float, float] = DEFAULT_DATA,
    model: tuple[float, float] = DEFAULT_MODEL,
    objectives: Sequence[str] | None = None,
    batch_size: int = 512,
    lr: float = 2e-3,
    n_eval: int = 20_000,
) -> list[DivergenceRow]:
    """Closed-form divergence vs the value a trained critic reaches, per objective.

    The data P = N(data[0], data[1]^2) and the model Q = N(model[0], model[1]^2) are
    fixed, by default N(0, 1) vs N(1, 1): equal variances keep every likelihood ratio
    p/q = exp(linear) so that every critic's estimator has finite variance. (With
    unequal variances one tail ratio grows like exp(x^2) and the chi^2 estimators become
    heavy-tailed: Neyman's E_P[T*^2] = integral q^4 / p^3 is infinite for s_Q^2 > 3/2 s_P^2,
    and the trained value is then unreliable.) For each objective a fresh MLP critic
    (1 -> 64 -> 64 -> 1, Adam) is trained for ``steps`` steps on ``batch_size`` fresh
    samples of each distribution to minimise the registered objective's ``d_loss``
    (plus, for WGAN, the registered ``gradient-penalty``), i.e. to maximise the
    variational lower bound -d_loss. Its -d_loss, evaluated on ``n_eval`` quantile
    points of each Gaussian (a deterministic quadrature of both expectations), is mapped
    to the divergence's scale (the note column says how) and compared with the closed
    form of :func:`~ganforge.theory.divergences.gaussian_divergence`.

    With 500 steps every row lands within about 5% of its closed form (the Pearson
    chi^2 critic, whose optimum 2 (p/q - 1) grows exponentially in a tail, and the
    hinge critic, whose optimum is a step, converge slowest; a variational bound
    approaches from below). The WGAN-GP value is only approximately W1: the penalty is
    soft, so the critic's slope can exceed 1 where F_Q - F_P is large.

    Objectives come from the registries (``ganforge.objectives.original``, ``.fgan``,
    ``.lsgan``, ``.wgan``, ``.hinge`` and the ``gradient-penalty`` penalty); a row whose
    objective or penalty is not registered is reported with ``critic=None`` and a note.

    Args:
        steps: critic optimisation steps per objective.
        seed: seeds the critic's initialisation and the samples.
        data, model: (mean, standard deviation) of P and Q.
        objectives: row keys to run (see :data:`TABLE_KEYS`); None runs all.
        batch_size: samples of each distribution per step.
        lr: Adam learning rate.
        n_eval: quantile points per distribution for the final evaluation.

    Returns:
        One :class:`DivergenceRow` per objective, in :data:`TABLE_KEYS` order.
    """
    from ganforge import registry
    from ganforge.errors import ConfigError

    if steps <= 0:
        raise ValueError(f"steps must be positive, got {steps}.")
    specs = _specs()
    if objectives is not None:
        unknown = [k for k in objectives if k not in TABLE_KEYS]
        if unknown:
            raise ValueError(
                f"Unknown row(s) {', '.join(map(repr, unknown))}; choose from {', '.join(TABLE_KEYS)}."
            )
        specs = [s for s in specs if s.key in set(objectives)]
    _register_everything()
    rows = []
    for spec in specs:
        closed = float(gaussian_divergence(spec.closed, *data, *model))
        label = ", ".join(f"{k}={v}" for k, v in spec.objective.items() if k != "name")
        name = spec.objective["name"] + (f"({label})" if label else "")
        if spec.penalties:
            name += " + " + " + ".join(p["name"] for p in spec.penalties)
        try:
            objective = registry.OBJECTIVES.build(spec.objective, "objective")
            penalties = [
                registry.PENALTIES.build(p, f"penalties[{i}]") for i, p in enumerate(spec.penalties)
            ]
        except (ConfigError, KeyError) as e:
            first = str(e).split(". ")[0]
            rows.append(
                DivergenceRow(spec.key, name, spec.divergence, closed, None, f"skipped: {first}")
            )
            continue
        start = time.perf_counter()
        value = _train_critic(
            spec, objective, penalties, data, model, steps, seed, batch_size, lr, n_eval
        )
        rows.append(
            DivergenceRow(
                spec.key,
                name,
                spec.divergence,
                closed,
                value,
                spec.note,
                time.perf_counter() - start,
            )
        )
    return rows

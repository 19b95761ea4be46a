r"""f-GAN: variational divergence minimisation for any f-divergence.

Nowozin, Cseke & Tomioka 2016, f-GAN: Training Generative Neural Samplers using
Variational Divergence Minimization.

For a convex f with f(1) = 0 the f-divergence between the data distribution P (density p)
and the model Q (density q) is D_f(P || Q) = int q(x) f(p(x) / q(x)) dx. Its Fenchel dual
gives the variational lower bound (Nguyen, Wainwright & Jordan 2010)

    D_f(P || Q) >= sup_T  E_P[T(x)] - E_Q[f*(T(x))],

with f* the convex conjugate of f. The bound is tight at the optimal critic

    T*(x) = f'(p(x) / q(x)),

because f*(f'(u)) = u f'(u) - f(u), so E_P[T*] - E_Q[f*(T*)] = E_Q[f(p / q)] = D_f.

The critic network outputs an unconstrained score v(x) (``CriticOutput.score``); the
output activation g_f of the paper's Table 2 maps it into the domain of f*,
T(x) = g_f(v(x)). This module implements Table 2 exactly:

=========== ============================== ===================== ======================= ===================
divergence  f(u)                           g_f(v)                f*(t)                   D_f(P || Q)
=========== ============================== ===================== ======================= ===================
kl          u log u                        v                     exp(t - 1)              KL(P || Q)
reverse-kl  -log u                         -exp(-v)              -1 - log(-t)            KL(Q || P)
pearson     (u - 1)^2                      v                     t^2 / 4 + t             int (p - q)^2 / q
neyman      (1 - u)^2 / u                  1 - exp(-v)           2 - 2 sqrt(1 - t)       int (p - q)^2 / p
hellinger   (sqrt(u) - 1)^2                1 - exp(-v)           t / (1 - t)             int (sqrt p - sqrt q)^2
js          u log u - (u+1) log((u+1)/2)   log 2 - log(1+e^-v)   -log(2 - exp(t))        2 JSD(P, Q)
gan         u log u - (u+1) log(u+1)       -log(1 + exp(-v))     -log(1 - exp(t))        2 JSD(P, Q) - log 4
tv          |u - 1| / 2                    tanh(v) / 2           t  (|t| <= 1/2)         1/2 int |p - q|
=========== ============================== ===================== ======================= ===================

(JSD is the usual 1/2 KL(P || M) + 1/2 KL(Q || M), M = (P + Q) / 2; the ``js`` row's f
is the one of the paper's Table 1, whose D_f is twice that.)

The optimal critic T* = f'(p/q), and the score v* = g_f^{-1}(T*) that produces it:

=========== ============================ ================================
divergence  T*(x) = f'(p/q)              v*(x)
=========== ============================ ================================
kl          1 + log(p/q)                 1 + log(p/q)
reverse-kl  -q/p                         log(p/q)
pearson     2 (p/q - 1)                  2 (p/q - 1)
neyman      1 - (q/p)^2                  2 log(p/q)
hellinger   1 - sqrt(q/p)                log(p/q) / 2
js          log(2p / (p + q))            log(p/q)
gan         log(p / (p + q))             log(p/q)
tv          sign(p - q) / 2              sign(p - q) * inf (approached)
=========== ============================ ================================

The critic minimises ``d_loss = -(E_P[g_f(v)] - E_Q[f*(g_f(v))])``. The generator either
minimises the same bound (``g_form="saturating"``: ``g_loss = -E_Q[f*(g_f(v))]``, the P
term does not depend on it) or, as the paper recommends (section 3.2), maximises
E_Q[g_f(v)] (``g_form="nonsaturating"``: ``g_loss = -E_Q[g_f(v)]``), which has the same
fixed point and stronger gradients early in training. For ``gan`` the two are exactly the
minimax and non-saturating losses of Goodfellow et al. 2014.

The composition f*(g_f(v)) is computed in closed form from v (softplus, expm1), never by
evaluating f* at a rounded T: e.g. for ``gan`` f*(g_f(v)) = softplus(v), where the naive
-log(1 - exp(-softplus(-v))) loses every digit once exp(t) rounds to 1.

Functional core (pure tensor functions, scores of any shape, means over all elements):
``fgan_activation`` (g_f), ``fgan_conjugate`` (f* on its domain), ``fgan_real_term`` and
``fgan_fake_term`` (the per-sample terms of the bound, so that expectations can be taken
with any weights), ``fgan_d_loss`` and ``fgan_g_loss``. The registered wrapper is
``fgan`` in :data:`ganforge.registry.OBJECTIVES`.
"""

from __future__ import annotations

import math
from typing import ClassVar, Literal, get_args

import torch
import torch.nn.functional as F

from ganforge.nets.base import CriticOutput
from ganforge.registry import OBJECTIVES

_PAPER = (
    "Nowozin, Cseke & Tomioka 2016, f-GAN: Training Generative Neural Samplers using "
    "Variational Divergence Minimization"
)

FDivergence = Literal["kl", "reverse-kl", "js", "gan", "pearson", "neyman", "hellinger", "tv"]
GForm = Literal["saturating", "nonsaturating"]

#: the divergences of Table 2, in the order of the ``FDivergence`` literal.
DIVERGENCES: tuple[str, ...] = get_args(FDivergence)

#: D_f(P || Q) recovered at the optimal critic, for ``ganforge zoo`` and reports.
DIVERGENCE_TEXT: dict[str, str] = {
    "kl": "Kullback-Leibler KL(P || Q) (at the optimal critic)",
    "reverse-kl": "reverse Kullback-Leibler KL(Q || P) (at the optimal critic)",
    "js": "2 x Jensen-Shannon, 2 JSD(P, Q) (at the optimal critic)",
    "gan": "2 JSD(P, Q) - log 4, the original GAN's (at the optimal critic)",
    "pearson": "Pearson chi^2(P || Q) = int (p - q)^2 / q (at the optimal critic)",
    "neyman": "Neyman chi^2(P || Q) = int (p - q)^2 / p (at the optimal critic)",
    "hellinger": "squared Hellinger int (sqrt p - sqrt q)^2 (at the optimal critic)",
    "tv": "total variation 1/2 int |p - q| (at the optimal critic)",
}

_LOG2 = math.log(2.0)


def _f32(x: torch.Tensor) -> torch.Tensor:
    """Half-precision scores (under autocast) are promoted to float32 before the loss."""
    return x.float() if x.dtype in (torch.float16, torch.bfloat16) else x


def _check(divergence: str) -> None:
    if divergence not in DIVERGENCES:
        raise ValueError(
            f"Unknown f-divergence {divergence!r}. Choose one of {', '.join(DIVERGENCES)} "
            "(Nowozin et al. 2016, Table 2)."
        )


# -- functional core -------------------------------------------------------------------------
def fgan_activation(v: torch.Tensor, divergence: str) -> torch.Tensor:
    """The output activation T = g_f(v) of Table 2, elementwise.

    Args:
        v: raw critic scores, any shape.
        divergence: one of :data:`DIVERGENCES`.

    Returns:
        T, same shape, inside the domain of f* for every finite v.
    """
    _check(divergence)
    v = _f32(v)
    if divergence in ("kl", "pearson"):
        return v  # g_f(v) = v, dom f* = R
    if divergence == "reverse-kl":
        return -torch.exp(-v)  # g_f(v) = -exp(-v) < 0
    if divergence in ("neyman", "hellinger"):
        return -torch.expm1(-v)  # g_f(v) = 1 - exp(-v) < 1
    if divergence == "js":
        return _LOG2 - F.softplus(-v)  # log 2 - log(1 + exp(-v)) < log 2
    if divergence == "gan":
        return -F.softplus(-v)  # -log(1 + exp(-v)) = log sigmoid(v) < 0
    return 0.5 * torch.tanh(v)  # tv: |g_f(v)| < 1/2


def fgan_conjugate(t: torch.Tensor, divergence: str) -> torch.Tensor:
    """The convex conjugate f*(t) of Table 2, elementwise, for t in dom f*.

    Outside the domain the result is NaN or +inf (the conjugate is +inf there; the TV
    conjugate is returned as t without the |t| <= 1/2 check). For a loss use
    :func:`fgan_fake_term`, which composes f* with g_f stably.

    Args:
        t: values T(x), any shape.
        divergence: one of :data:`DIVERGENCES`.
    """
    _check(divergence)
    t = _f32(t)
    if divergence == "kl":
        return torch.exp(t - 1.0)
    if divergence == "reverse-kl":
        return -1.0 - torch.log(-t)
    if divergence == "pearson":
        return 0.25 * t * t + t
    if divergence == "neyman":
        return 2.0 - 2.0 * torch.sqrt(1.0 - t)
    if divergence == "hellinger":
        return t / (1.0 - t)
    if divergence == "js":
        return -torch.log(2.0 - torch.exp(t))
    if divergence == "gan":
        return -torch.log(-torch.expm1(t))  # -log(1 - exp(t))
    return t  # tv


def fgan_real_term(v: torch.Tensor, divergence: str) -> torch.Tensor:
    """Per-sample real-data term of the bound: g_f(v), elementwise (= :func:`fgan_activation`).

    E_P[fgan_real_term(v)] - E_Q[fgan_fake_term(v)] is the variational lower bound on
    D_f(P || Q); with weights instead of means it is the bound on a discrete support.
    """
    return fgan_activation(v, divergence)


def fgan_fake_term(v: torch.Tensor, divergence: str) -> torch.Tensor:
    """Per-sample generated-data term of the bound: f*(g_f(v)), elementwise, in closed form.

    Args:
        v: raw critic scores, any shape.
        divergence: one of :data:`DIVERGENCES`.

    Returns:
        f*(g_f(v)), same shape.
    """
    _check(divergence)
    v = _f32(v)
    if divergence == "kl":
        return torch.exp(v - 1.0)  # exp(t - 1), t = v
    if divergence == "reverse-kl":
        return v - 1.0  # -1 - log(exp(-v))
    if divergence == "pearson":
        return 0.25 * v * v + v  # t^2/4 + t, t = v
    if divergence == "neyman":
        return -2.0 * torch.expm1(-0.5 * v)  # 2 - 2 sqrt(exp(-v)) = 2 - 2 exp(-v/2)
    if divergence == "hellinger":
        return torch.expm1(v)  # (1 - e^-v) / e^-v = e^v - 1
    if divergence == "js":
        # exp(t) = 2 sigmoid(v), so -log(2 - 2 sigmoid(v)) = -log 2 - log sigmoid(-v)
        return F.softplus(v) - _LOG2
    if divergence == "gan":
        return F.softplus(v)  # -log(1 - sigmoid(v)) = softplus(v)
    return 0.5 * torch.tanh(v)  # tv: f*(t) = t


def fgan_d_loss(real_v: torch.Tensor, fake_v: torch.Tensor, divergence: str) -> torch.Tensor:
    """Critic loss: minus the variational bound, -(E_P[g_f(v)] - E_Q[f*(g_f(v))]).

    At the optimal critic (v = v*, see the module table) it equals -D_f(P || Q).

    Args:
        real_v: critic scores on real samples, any shape.
        fake_v: critic scores on generated samples, any shape (any batch size).
        divergence: one of :data:`DIVERGENCES`.

    Returns:
        A scalar: each expectation is the mean over all elements of its tensor.
    """
    return -(fgan_real_term(real_v, divergence).mean() - fgan_fake_term(fake_v, divergence).mean())


def fgan_g_loss(
    fake_v: torch.Tensor, divergence: str, g_form: str = "nonsaturating"
) -> torch.Tensor:
    """Generator loss.

    - ``"saturating"``: the generator minimises the bound itself; only its Q term depends
      on the generator: J(G) = -E_Q[f*(g_f(v))].
    - ``"nonsaturating"`` (Nowozin et al. 2016, section 3.2): J(G) = -E_Q[g_f(v)].

    Args:
        fake_v: critic scores on generated samples, any shape.
        divergence: one of :data:`DIVERGENCES`.
        g_form: ``"saturating"`` or ``"nonsaturating"``.

    Returns:
        A scalar, the mean over all elements.
    """
    if g_form == "saturating":
        return -fgan_fake_term(fake_v, divergence).mean()
    if g_form == "nonsaturating":
        return -fgan_real_term(fake_v, divergence).mean()
    raise ValueError(f"Unknown g_form {g_form!r}: use 'saturating' or 'nonsaturating'.")


# -- registered objective --------------------------------------------------------------------
@OBJECTIVES.register("fgan", paper=_PAPER)
class FGAN:
    """f-GAN: the critic maximises the variational bound on an f-divergence D_f(P || Q).

    - Critic value: T(x) = g_f(v(x)), v the critic score, g_f the divergence's output
      activation (Nowozin et al. 2016, Table 2).
    - Critic: J(D) = -(E_P[g_f(v)] - E_Q[f*(g_f(v))]).
    - Generator: ``saturating``: J(G) = -E_Q[f*(g_f(v))] (minimise the bound);
      ``nonsaturating`` (default, section 3.2): J(G) = -E_Q[g_f(v)].
    - Optimal critic: T*(x) = f'(p(x) / q(x)) (P = data, Q = model); there
      E_P[T*] - E_Q[f*(T*)] = D_f(P || Q), so J(D) = -D_f(P || Q).
    - Divergence: D_f(P || Q) = int q f(p / q) for the chosen f: ``kl`` (u log u),
      ``reverse-kl`` (-log u), ``pearson`` ((u - 1)^2), ``neyman`` ((1 - u)^2 / u),
      ``hellinger`` ((sqrt u - 1)^2), ``js`` (u log u - (u + 1) log((u + 1) / 2): 2 JSD),
      ``gan`` (u log u - (u + 1) log(u + 1): 2 JSD - log 4), ``tv`` (|u - 1| / 2).
      See :mod:`ganforge.objectives.fgan` for f*, g_f, T* and v* of each.

    Args:
        divergence: which f-divergence.
        g_form: the generator loss, ``saturating`` or ``nonsaturating``.
    """

    needs_real_for_g: ClassVar[bool] = False
    #: what ``ganforge zoo`` prints for the class; an instance names its own divergence.
    divergence: str = "an f-divergence D_f(P || Q), chosen by `divergence` (default: 2 JSD)"

    def __init__(self, divergence: FDivergence = "js", g_form: GForm = "nonsaturating") -> None:
        _check(divergence)
        if g_form not in get_args(GForm):
            raise ValueError(f"Unknown g_form {g_form!r}: use 'saturating' or 'nonsaturating'.")
        self.f_divergence: str = divergence
        self.g_form: str = g_form
        self.divergence = DIVERGENCE_TEXT[divergence]

    def d_loss(self, real: CriticOutput, fake: CriticOutput) -> torch.Tensor:
        """-(E[g_f(real.score)] - E[f*(g_f(fake.score))]); see :func:`fgan_d_loss`."""
        return fgan_d_loss(real.score, fake.score, self.f_divergence)

    def g_loss(self, fake: CriticOutput, real: CriticOutput | None = None) -> torch.Tensor:
        """See :func:`fgan_g_loss`; ``real`` is ignored."""
        return fgan_g_loss(fake.score, self.f_divergence, self.g_form)

    def __repr__(self) -> str:
        return f"FGAN(divergence={self.f_divergence!r}, g_form={self.g_form!r})"

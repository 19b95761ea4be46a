r"""Fisher GAN: an IPM whose critic is constrained by its second moments.

Mroueh & Sercu 2017, "Fisher GAN" (NeurIPS). The Fisher IPM is

    d_F(P, Q) = sup_f (E_P f - E_Q f) / sqrt(1/2 E_P f^2 + 1/2 E_Q f^2),

a Fisher discriminant ratio: between-class mean difference over within-class second
moment. Being scale invariant, it is the same as maximising E_P f - E_Q f under the
data-dependent constraint Omega(f) = 1/2 (E_P f^2 + E_Q f^2) = 1, which needs no weight
clipping and no gradient penalty. The paper enforces it with an augmented Lagrangian
(its eq. 8 and Algorithm 1): the critic maximises

    L(f, lam) = E_P f - E_Q f + lam (1 - Omega) - rho/2 (1 - Omega)^2

and the multiplier lam takes a gradient DESCENT step on L after each critic step,
lam <- lam - rho * dL/dlam = lam - rho (1 - Omega).

Full capacity (paper, Theorem 2): over all square-integrable f, with the mixture
M = (P + Q)/2, Cauchy-Schwarz in L2(M) gives

    d_F(P, Q) = sqrt(E_M[((p - q) / m)^2]) = sqrt(2 * integral (p - q)^2 / (p + q))
              = 2 sqrt(chi2(P || M)),   chi2(P || M) = integral (p - m)^2 / m,

a chi-squared distance between P and the mixture, attained by the optimal critic
f*(x) = (p(x) - q(x)) / (m(x) d_F(P, Q)), i.e. f* proportional to (p - q) / (p + q),
normalised so that Omega(f*) = 1. (Written with the chi-squared distance between P and
the mixture; the factor 2 belongs to Pearson's chi2 as defined here. The tests check the
identity on discrete distributions.)

The module has a functional core of pure tensor functions (scores of any shape, every
expectation the mean over all elements) and the registered ``fisher`` objective, which
is stateful: the algorithm owns lam (``initial_state``/``next_state``).
"""

from __future__ import annotations

from typing import Annotated, ClassVar

import torch
from pydantic import Field

from ganforge.nets.base import CriticOutput
from ganforge.objectives.wgan import wgan_g_loss
from ganforge.registry import OBJECTIVES

State = dict[str, torch.Tensor]

_PAPER = "Mroueh & Sercu 2017, Fisher GAN"


def _scores(x: torch.Tensor) -> torch.Tensor:
    """Half-precision scores (under autocast) are promoted to float32 before the loss."""
    return x.float() if x.dtype in (torch.float16, torch.bfloat16) else x


# -- functional core -------------------------------------------------------------------------
def fisher_ipm(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """E_P f - E_Q f: the mean critic score on real minus the mean on generated samples."""
    return _scores(real).mean() - _scores(fake).mean()


def fisher_omega(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """Omega = 1/2 E_P f^2 + 1/2 E_Q f^2, the second moment under the mixture (P + Q)/2."""
    return 0.5 * _scores(real).pow(2).mean() + 0.5 * _scores(fake).pow(2).mean()


def fisher_d_loss(
    real: torch.Tensor, fake: torch.Tensor, lam: torch.Tensor | float, rho: float
) -> torch.Tensor:
    """Critic loss: -(E_P f - E_Q f + lam (1 - Omega) - rho/2 (1 - Omega)^2).

    Args:
        real: critic scores on real samples, any shape.
        fake: critic scores on generated samples, any shape.
        lam: the Lagrange multiplier (a scalar; it gets no gradient here).
        rho: the quadratic penalty weight.

    Returns:
        A scalar. At a critic with Omega = 1 it equals -(E_P f - E_Q f) whatever lam.
    """
    ipm = fisher_ipm(real, fake)
    c = 1 - fisher_omega(real, fake)  # constraint violation 1 - Omega
    lam_t = torch.as_tensor(lam, dtype=ipm.dtype, device=ipm.device).detach()
    return -(ipm + lam_t * c - 0.5 * rho * c.pow(2))


#: Generator loss -E_Q f (the E_P f part of the IPM does not depend on G): WGAN's.
fisher_g_loss = wgan_g_loss


def fisher_next_lam(
    lam: torch.Tensor, real: torch.Tensor, fake: torch.Tensor, rho: float
) -> torch.Tensor:
    """lam - rho (1 - Omega): gradient descent on L in lam (Algorithm 1), no graph kept.

    Omega > 1 (critic too large) makes lam grow, so lam (1 - Omega) penalises Omega
    harder at the next step; Omega < 1 makes it shrink.
    """
    omega = fisher_omega(real.detach(), fake.detach())
    return lam - rho * (1 - omega).to(lam)


# -- registered objective --------------------------------------------------------------------
@OBJECTIVES.register("fisher", paper=_PAPER)
class FisherGAN:
    """Fisher GAN: IPM with the critic's second moment constrained, by augmented Lagrangian.

    - Critic: maximises E_P f - E_Q f + lam (1 - Omega) - rho/2 (1 - Omega)^2 with
      Omega = 1/2 (E_P f^2 + E_Q f^2); ``d_loss`` is minus that.
    - Multiplier: lam <- lam - rho (1 - Omega) after each critic step (``next_state``).
    - Generator: ``g_loss`` = -E_Q f.
    - Divergence: the Fisher IPM sup_f (E_P f - E_Q f) / sqrt(Omega(f)); at full capacity
      a chi-squared distance, d_F = 2 sqrt(chi2(P || (P+Q)/2)) = sqrt(2 int (p-q)^2/(p+q))
      (paper, Theorem 2).
    - Optimal critic: f* = (p - q) / (m d_F) with m = (p + q)/2, i.e. proportional to
      (p - q)/(p + q), with Omega(f*) = 1.
    - Stateful: the algorithm owns ``{"lam": tensor}`` (``initial_state``, ``next_state``)
      and passes it as ``state=``; without a state lam = 0.

    Args:
        rho: quadratic penalty weight and the multiplier's step size (> 0); 1e-6 in the
            paper's image experiments.
    """

    needs_real_for_g: ClassVar[bool] = False
    stateful: ClassVar[bool] = True
    divergence: ClassVar[str] = (
        "Fisher IPM; at full capacity a chi-squared distance between P and (P+Q)/2"
    )

    def __init__(self, rho: Annotated[float, Field(gt=0)] = 1e-6) -> None:
        self.rho = float(rho)

    def initial_state(self) -> State:
        """{"lam": 0}: the multiplier starts at zero (Algorithm 1)."""
        return {"lam": torch.tensor(0.0)}

    def d_loss(
        self, real: CriticOutput, fake: CriticOutput, state: State | None = None
    ) -> torch.Tensor:
        """-(E_P f - E_Q f + lam (1 - Omega) - rho/2 (1 - Omega)^2); see :func:`fisher_d_loss`."""
        lam = (state or self.initial_state())["lam"]
        return fisher_d_loss(real.score, fake.score, lam, self.rho)

    def g_loss(
        self, fake: CriticOutput, real: CriticOutput | None = None, state: State | None = None
    ) -> torch.Tensor:
        """-E_Q f; ``real`` and ``state`` are ignored. See :func:`fisher_g_loss`."""
        return fisher_g_loss(fake.score)

    def next_state(self, state: State, real: CriticOutput, fake: CriticOutput) -> State:
        """{"lam": lam - rho (1 - Omega)}; see :func:`fisher_next_lam`."""
        return {"lam": fisher_next_lam(state["lam"], real.score, fake.score, self.rho)}

    def __repr__(self) -> str:
        return f"FisherGAN(rho={self.rho!r})"

r"""Sobolev GAN: an IPM whose critic lies in a Sobolev ball of a dominant measure.

Mroueh, Li, Sercu, Raj & Cheng 2018, "Sobolev GAN" (ICLR). The Sobolev IPM is

    S_mu(P, Q) = sup { E_P f - E_Q f : f in W_0^{1,2}, E_{x~mu} ||grad_x f(x)||^2 <= 1 },

with mu a dominant measure; the paper takes mu = (P + Q)/2. It compares the
distributions through weighted conditional CDFs of each coordinate given the others
(paper, sec. 3); in one dimension, integrating by parts and applying Cauchy-Schwarz,

    S_mu(P, Q) = sqrt( integral (F_P(x) - F_Q(x))^2 / mu(x) dx ),

a weighted Cramer-von Mises statistic, attained by the optimal critic with
f*'(x) = (F_Q(x) - F_P(x)) / (mu(x) S_mu(P, Q)). In general the optimal critic solves
the weighted Poisson equation -div(mu grad f*) = (p - q) / S_mu(P, Q).

The objective itself is the plain IPM; the constraint E_mu||grad f||^2 = 1 needs the
critic's input gradient, so it is a PENALTY (``sobolev-constraint``, stateful: it carries
the augmented-Lagrangian multiplier). The ``sobolev`` objective implies it
(``implied_penalties``), as the paper's Algorithm 1 does.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar

import torch
from pydantic import Field

from ganforge.nets.base import CriticOutput
from ganforge.objectives.wgan import wgan_d_loss, wgan_g_loss
from ganforge.registry import OBJECTIVES

_PAPER = "Mroueh et al. 2018, Sobolev GAN"


# -- functional core -------------------------------------------------------------------------
# The IPM losses are WGAN's: E_Q f - E_P f for the critic, -E_Q f for the generator. The
# Sobolev part is the constraint on the critic (penalty ``sobolev-constraint``).
ipm_d_loss = wgan_d_loss
ipm_g_loss = wgan_g_loss


# -- registered objective --------------------------------------------------------------------
@OBJECTIVES.register("sobolev", paper=_PAPER)
class SobolevGAN:
    """Sobolev GAN: IPM with E_{(P+Q)/2}||grad f||^2 = 1, via the ``sobolev-constraint`` penalty.

    - Critic: ``d_loss`` = E_Q f - E_P f; the implied ``sobolev-constraint`` penalty adds
      -lam (1 - Omega) + rho/2 (1 - Omega)^2 with Omega = E_mu||grad f||^2.
    - Generator: ``g_loss`` = -E_Q f.
    - Divergence: the Sobolev IPM S_mu(P, Q) with mu = (P + Q)/2, a metric comparing
      weighted conditional CDFs coordinate by coordinate (in 1-D,
      sqrt(int (F_P - F_Q)^2 / mu), a Cramer-von Mises statistic).
    - Optimal critic: the solution of -div(mu grad f*) = (p - q) / S_mu(P, Q); in 1-D
      f*' = (F_Q - F_P) / (mu S_mu).
    - ``implied_penalties``: a recipe with ``objective: {name: sobolev, rho: ...}`` gets
      ``{name: sobolev-constraint, rho: ...}`` added to its penalties.

    Args:
        rho: the augmented-Lagrangian weight passed to the implied penalty (> 0).
    """

    needs_real_for_g: ClassVar[bool] = False
    divergence: ClassVar[str] = (
        "Sobolev IPM with dominant measure (P+Q)/2 (weighted conditional-CDF comparison)"
    )

    def __init__(self, rho: Annotated[float, Field(gt=0)] = 1e-5) -> None:
        self.rho = float(rho)

    @staticmethod
    def implied_penalties(rho: float = 1e-5, **_: Any) -> list[dict[str, Any]]:
        """The Sobolev constraint this objective stands with: [{"name": ..., "rho": rho}]."""
        return [{"name": "sobolev-constraint", "rho": rho}]

    def d_loss(self, real: CriticOutput, fake: CriticOutput) -> torch.Tensor:
        """E_Q f - E_P f; see :func:`ipm_d_loss`."""
        return ipm_d_loss(real.score, fake.score)

    def g_loss(self, fake: CriticOutput, real: CriticOutput | None = None) -> torch.Tensor:
        """-E_Q f; ``real`` is ignored. See :func:`ipm_g_loss`."""
        return ipm_g_loss(fake.score)

    def __repr__(self) -> str:
        return f"SobolevGAN(rho={self.rho!r})"

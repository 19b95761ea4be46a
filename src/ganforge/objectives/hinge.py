r"""Hinge loss GAN (Geometric GAN).

Lim & Ye 2017, Geometric GAN; Miyato, Kataoka, Koyama & Yoshida 2018, Spectral
Normalization for Generative Adversarial Networks (eq. 16-17, where it is the default
loss), and Tran, Ranganath & Blei 2017 for the same loss.

The critic is a soft-margin classifier with margin 1 on its raw score D(x):

    J(D) = E_P[relu(1 - D(x))] + E_Q[relu(1 + D(x))],
    J(G) = -E_Q[D(x)],

P the data distribution (density p), Q the model (density q).

Optimal critic. For an unconstrained critic, J(D) is minimised pointwise: at x the
integrand p relu(1 - D) + q relu(1 + D) is (p + q) + D (q - p) on [-1, 1] and larger
outside, so

    D*(x) = sign(p(x) - q(x))   (any value in [-1, 1] where p = q),

and at D* the integrand is p + q - |p - q| = 2 min(p, q), hence

    J(D*) = 2 - int |p - q| dx = 2 - 2 TV(P, Q),

with TV(P, Q) = 1/2 int |p - q| the total variation distance. The critic's optimal loss is
therefore an affine function of TV: the game in which the generator maximises the
critic's loss minimises the total variation distance, zero iff P = Q (Lim & Ye 2017 show
that the game's equilibrium is p_g = p_data). Also E_P[D*] - E_Q[D*] = 2 TV(P, Q): the
generator's -E_Q[D] is the Q side of that estimate, as in WGAN (Miyato et al. 2018).

Functional core: ``hinge_d_loss``, ``hinge_g_loss`` (scores of any shape, means over all
elements). Registered wrapper: ``hinge``.
"""

from __future__ import annotations

from typing import ClassVar

import torch
import torch.nn.functional as F

from ganforge.nets.base import CriticOutput
from ganforge.registry import OBJECTIVES

_PAPER = (
    "Lim & Ye 2017, Geometric GAN; Miyato et al. 2018, Spectral Normalization for "
    "Generative Adversarial Networks"
)


def _f32(x: torch.Tensor) -> torch.Tensor:
    """Half-precision scores (under autocast) are promoted to float32 before the loss."""
    return x.float() if x.dtype in (torch.float16, torch.bfloat16) else x


# -- functional core -------------------------------------------------------------------------
def hinge_d_loss(real_scores: torch.Tensor, fake_scores: torch.Tensor) -> torch.Tensor:
    """Critic loss E_P[relu(1 - D)] + E_Q[relu(1 + D)].

    Minimised by D* = sign(p - q), where it equals 2 - 2 TV(P, Q).

    Args:
        real_scores: critic scores on real samples, any shape.
        fake_scores: critic scores on generated samples, any shape (any batch size).

    Returns:
        A scalar: each expectation is the mean over all elements of its tensor.
    """
    # max(0, 1 - D(x_r)) + max(0, 1 + D(x_f))
    return F.relu(1.0 - _f32(real_scores)).mean() + F.relu(1.0 + _f32(fake_scores)).mean()


def hinge_g_loss(fake_scores: torch.Tensor) -> torch.Tensor:
    """Generator loss -E_Q[D].

    Args:
        fake_scores: critic scores on generated samples, any shape.

    Returns:
        A scalar, the mean over all elements.
    """
    return -_f32(fake_scores).mean()


# -- registered objective --------------------------------------------------------------------
@OBJECTIVES.register("hinge", paper=_PAPER)
class HingeGAN:
    """Hinge GAN: J(D) = E_P[relu(1 - D)] + E_Q[relu(1 + D)], J(G) = -E_Q[D].

    - Optimal critic (unconstrained): D*(x) = sign(p(x) - q(x)), any value in [-1, 1]
      where p = q.
    - Divergence: at D*, J(D*) = 2 - 2 TV(P, Q), TV(P, Q) = 1/2 int |p - q|, so the
      critic's optimal loss measures the total variation distance (Lim & Ye 2017);
      E_P[D*] - E_Q[D*] = 2 TV(P, Q).
    - Usually paired with spectral normalization (Miyato et al. 2018).
    """

    needs_real_for_g: ClassVar[bool] = False
    divergence: ClassVar[str] = "total variation: min J(D) = 2 - 2 TV(P, Q) (at the optimal critic)"

    def d_loss(self, real: CriticOutput, fake: CriticOutput) -> torch.Tensor:
        """E[relu(1 - real.score)] + E[relu(1 + fake.score)]; see :func:`hinge_d_loss`."""
        return hinge_d_loss(real.score, fake.score)

    def g_loss(self, fake: CriticOutput, real: CriticOutput | None = None) -> torch.Tensor:
        """-E[fake.score]; ``real`` is ignored."""
        return hinge_g_loss(fake.score)

    def __repr__(self) -> str:
        return "HingeGAN()"

r"""Wasserstein GAN: the critic estimates the Wasserstein-1 distance by duality.

Arjovsky, Chintala & Bottou 2017, Wasserstein Generative Adversarial Networks;
Gulrajani, Ahmed, Arjovsky, Dumoulin & Courville 2017, Improved Training of Wasserstein
GANs (the gradient penalty).

By the Kantorovich-Rubinstein duality the Wasserstein-1 (earth mover's) distance between
the data distribution P and the model Q is

    W1(P, Q) = sup_{||f||_L <= 1}  E_P[f(x)] - E_Q[f(x)],

the supremum over 1-Lipschitz functions f. The critic's score is f(x); it minimises

    J(D) = E_Q[f(x)] - E_P[f(x)]   (so -J(D) is the estimate of W1),

and the generator minimises J(G) = -E_Q[f(x)], the part of the estimate it controls.

The objective itself is unconstrained: the Lipschitz constraint is a separate term in
the recipe, either weight clipping (the ``weight-clip`` penalty, Arjovsky et al.) or the
gradient penalty (``gradient-penalty``, Gulrajani et al.). ``wgan-gp`` is a name for
``wgan`` plus the gradient penalty: the config adds the penalty it implies.

The optimal critic is a Kantorovich potential: a 1-Lipschitz f* attaining the supremum,
unique up to an additive constant on the supports under mild conditions. In 1-D,
f*(t) = int_{-inf}^t sign(F_Q(s) - F_P(s)) ds (F_P, F_Q the distribution functions), and
W1 = int |F_P - F_Q|; for two empirical measures with n sorted samples each,
W1 = 1/n sum_i |x_(i) - y_(i)|.

Functional core: ``wgan_d_loss``, ``wgan_g_loss`` (scores of any shape, means over all
elements). Registered wrappers: ``wgan``, ``wgan-gp``.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar

import torch
from pydantic import Field

from ganforge.nets.base import CriticOutput
from ganforge.registry import OBJECTIVES

_PAPER = "Arjovsky, Chintala & Bottou 2017, Wasserstein Generative Adversarial Networks"
_PAPER_GP = "Gulrajani et al. 2017, Improved Training of Wasserstein GANs"


def _f32(x: torch.Tensor) -> torch.Tensor:
    """Half-precision scores (under autocast) are promoted to float32 before the loss."""
    return x.float() if x.dtype in (torch.float16, torch.bfloat16) else x


# -- functional core -------------------------------------------------------------------------
def wgan_d_loss(real_scores: torch.Tensor, fake_scores: torch.Tensor) -> torch.Tensor:
    """Critic loss E_Q[f] - E_P[f]: minus the dual estimate of W1(P, Q).

    Args:
        real_scores: critic values f(x) on real samples, any shape.
        fake_scores: critic values on generated samples, any shape (any batch size).

    Returns:
        A scalar: each expectation is the mean over all elements of its tensor.
    """
    return _f32(fake_scores).mean() - _f32(real_scores).mean()


def wgan_g_loss(fake_scores: torch.Tensor) -> torch.Tensor:
    """Generator loss -E_Q[f].

    Args:
        fake_scores: critic values on generated samples, any shape.

    Returns:
        A scalar, the mean over all elements.
    """
    return -_f32(fake_scores).mean()


# -- registered objectives -------------------------------------------------------------------
@OBJECTIVES.register("wgan", paper=_PAPER)
class WassersteinGAN:
    """Wasserstein GAN: J(D) = E_Q[f] - E_P[f], J(G) = -E_Q[f].

    - Divergence: the Wasserstein-1 distance, W1(P, Q) = sup over 1-Lipschitz f of
      E_P[f] - E_Q[f] (Kantorovich-Rubinstein duality), when the critic f is kept
      1-Lipschitz; this objective does not do it: add a ``weight-clip`` or
      ``gradient-penalty`` penalty to the recipe (or use ``wgan-gp``).
    - Optimal critic: a Kantorovich potential, the 1-Lipschitz f* attaining the supremum;
      then -J(D) = W1(P, Q). In 1-D, f*(t) = int_{-inf}^t sign(F_Q - F_P) ds.
    - Without a constraint the critic's loss is unbounded below.
    """

    needs_real_for_g: ClassVar[bool] = False
    divergence: ClassVar[str] = (
        "Wasserstein-1 W1(P, Q) (Kantorovich-Rubinstein dual, with a 1-Lipschitz critic)"
    )

    def d_loss(self, real: CriticOutput, fake: CriticOutput) -> torch.Tensor:
        """E[fake.score] - E[real.score]; see :func:`wgan_d_loss`."""
        return wgan_d_loss(real.score, fake.score)

    def g_loss(self, fake: CriticOutput, real: CriticOutput | None = None) -> torch.Tensor:
        """-E[fake.score]; ``real`` is ignored."""
        return wgan_g_loss(fake.score)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


@OBJECTIVES.register("wgan-gp", paper=_PAPER_GP)
class WassersteinGANGP(WassersteinGAN):
    """WGAN-GP: the Wasserstein objective plus the gradient penalty it implies.

    Same losses as ``wgan``; the name adds the ``gradient-penalty`` penalty
    lambda E_{x^}[(||grad f(x^)|| - 1)^2] on random interpolates x^ between real and
    generated samples (``one_sided``: only (max(0, ||grad f|| - 1))^2), which keeps the
    critic approximately 1-Lipschitz (Gulrajani et al. 2017, eq. 3; lambda = 10).

    - Divergence: Wasserstein-1 W1(P, Q), estimated by -J(D) for a 1-Lipschitz critic.
    - Optimal critic: a Kantorovich potential; Gulrajani et al. (Prop. 1) show it has
      gradient norm 1 almost everywhere on the lines between coupled points of P and Q,
      which is what the penalty asks for.

    Args:
        weight: lambda, the penalty's weight.
        one_sided: penalise only gradient norms above 1.
    """

    def __init__(
        self, weight: Annotated[float, Field(ge=0)] = 10.0, one_sided: bool = False
    ) -> None:
        self.weight = float(weight)
        self.one_sided = bool(one_sided)

    @staticmethod
    def implied_penalties(
        weight: float = 10.0, one_sided: bool = False, **_: Any
    ) -> list[dict[str, Any]]:
        """The penalty spec this name stands for (added by the config)."""
        return [{"name": "gradient-penalty", "weight": weight, "one_sided": one_sided}]

    def __repr__(self) -> str:
        return f"WassersteinGANGP(weight={self.weight}, one_sided={self.one_sided})"

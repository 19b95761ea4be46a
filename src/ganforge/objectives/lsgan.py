r"""Least squares GAN: regress the critic's score onto target labels.

Mao, Li, Xie, Lau, Wang & Smolley 2017, Least Squares Generative Adversarial Networks.

With labels a (fake), b (real) and c (the value the generator wants the critic to give
its samples), the critic and generator losses are (the paper's eq. 2)

    J(D) = 1/2 E_P[(D(x) - b)^2] + 1/2 E_Q[(D(x) - a)^2],
    J(G) = 1/2 E_Q[(D(x) - c)^2],

P the data distribution (density p), Q the model (density q), D(x) the raw critic score
(no sigmoid). Minimising J(D) pointwise gives the optimal critic (eq. 4)

    D*(x) = (b p(x) + a q(x)) / (p(x) + q(x)).

At D*, the paper adds the term 1/2 E_P[(D(x) - c)^2] (independent of G for a fixed D)
to J(G) and obtains

    2 C(G) = E_P[(D* - c)^2] + E_Q[(D* - c)^2]
           = int ((b - c) p + (a - c) q)^2 / (p + q) dx.

When b - c = 1 and b - a = 2 (e.g. the -1/1/0 coding a = -1, b = 1, c = 0) this is

    2 C(G) = int (p - q)^2 / (p + q) dx = int (2q - (p + q))^2 / (p + q) dx,

what Mao et al. call the Pearson chi^2 divergence chi^2_Pearson(p + q || 2q) (eq. 8-9):
it is zero iff p = q. More generally C(G) is a divergence exactly when c = (a + b) / 2,
where 2 C(G) = (b - a)^2 / 4 int (p - q)^2 / (p + q). The popular 0-1 coding (a = 0,
b = 1, c = 1; the paper's eq. 10) does not satisfy it, but works well in practice.

At D*, J(D) = (b - a)^2 / 2 int p q / (p + q) dx.

Functional core: ``least_squares_d_loss``, ``least_squares_g_loss`` (scores of any
shape, means over all elements). Registered wrapper: ``lsgan``.
"""

from __future__ import annotations

from typing import ClassVar

import torch

from ganforge.nets.base import CriticOutput
from ganforge.registry import OBJECTIVES

_PAPER = "Mao et al. 2017, Least Squares Generative Adversarial Networks"


def _f32(x: torch.Tensor) -> torch.Tensor:
    """Half-precision scores (under autocast) are promoted to float32 before the loss."""
    return x.float() if x.dtype in (torch.float16, torch.bfloat16) else x


# -- functional core -------------------------------------------------------------------------
def least_squares_d_loss(
    real_scores: torch.Tensor, fake_scores: torch.Tensor, a: float = 0.0, b: float = 1.0
) -> torch.Tensor:
    """Critic loss 1/2 E_P[(D - b)^2] + 1/2 E_Q[(D - a)^2].

    Args:
        real_scores: critic scores on real samples, any shape.
        fake_scores: critic scores on generated samples, any shape.
        a: target for generated samples.
        b: target for real samples.

    Returns:
        A scalar: each expectation is the mean over all elements of its tensor.
    """
    # 1/2 (D(x_r) - b)^2 + 1/2 (D(x_f) - a)^2
    return (
        0.5 * (_f32(real_scores) - b).square().mean()
        + 0.5 * (_f32(fake_scores) - a).square().mean()
    )


def least_squares_g_loss(fake_scores: torch.Tensor, c: float = 1.0) -> torch.Tensor:
    """Generator loss 1/2 E_Q[(D - c)^2].

    Args:
        fake_scores: critic scores on generated samples, any shape.
        c: the score the generator wants the critic to give its samples.

    Returns:
        A scalar, the mean over all elements.
    """
    return 0.5 * (_f32(fake_scores) - c).square().mean()


# -- registered objective --------------------------------------------------------------------
@OBJECTIVES.register("lsgan", paper=_PAPER)
class LeastSquaresGAN:
    """Least squares GAN: the critic regresses real scores to b, fake ones to a.

    - Critic: J(D) = 1/2 E_P[(D(x) - b)^2] + 1/2 E_Q[(D(x) - a)^2].
    - Generator: J(G) = 1/2 E_Q[(D(x) - c)^2].
    - Optimal critic: D*(x) = (b p(x) + a q(x)) / (p(x) + q(x)).
    - Divergence: with b - c = 1 and b - a = 2 (a = -1, b = 1, c = 0), the generator's
      objective at D* (plus the G-independent 1/2 E_P[(D* - c)^2]) is
      1/2 chi^2_Pearson(p + q || 2q) = 1/2 int (p - q)^2 / (p + q) (Mao et al. eq. 8-9);
      it is a divergence whenever c = (a + b) / 2. The default 0-1 coding (a = 0, b = 1,
      c = 1) is not of that kind but is the paper's practical choice.

    Args:
        a: label of generated samples.
        b: label of real samples (must differ from a).
        c: the value G wants D to believe for generated samples.
    """

    needs_real_for_g: ClassVar[bool] = False
    divergence: ClassVar[str] = (
        "Pearson chi^2(P + Q || 2Q) = int (p - q)^2 / (p + q) when c = (a + b) / 2, e.g. "
        "a=-1, b=1, c=0 (at the optimal critic)"
    )

    def __init__(self, a: float = 0.0, b: float = 1.0, c: float = 1.0) -> None:
        if a == b:
            raise ValueError(
                f"lsgan: the real label b and the fake label a are both {a}: the critic then "
                "has nothing to tell apart. Use e.g. a=0, b=1, c=1 or a=-1, b=1, c=0."
            )
        self.a, self.b, self.c = float(a), float(b), float(c)

    def d_loss(self, real: CriticOutput, fake: CriticOutput) -> torch.Tensor:
        """1/2 E[(real.score - b)^2] + 1/2 E[(fake.score - a)^2]."""
        return least_squares_d_loss(real.score, fake.score, self.a, self.b)

    def g_loss(self, fake: CriticOutput, real: CriticOutput | None = None) -> torch.Tensor:
        """1/2 E[(fake.score - c)^2]; ``real`` is ignored."""
        return least_squares_g_loss(fake.score, self.c)

    def __repr__(self) -> str:
        return f"LeastSquaresGAN(a={self.a}, b={self.b}, c={self.c})"

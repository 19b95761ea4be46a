r"""The original GAN objective and its three generator losses.

Goodfellow et al. 2014, Generative Adversarial Nets; Goodfellow 2016, NIPS 2016
Tutorial: Generative Adversarial Networks (section 3.2).

The critic outputs a logit l(x); D(x) = sigmoid(l(x)) is the probability that x is real.
The value of the game is

    V(G, D) = E_{x~p_data}[log D(x)] + E_{z~p_z}[log(1 - D(G(z)))].

For a fixed generator the best discriminator is D*(x) = p_data(x) / (p_data(x) + p_g(x)),
i.e. the optimal logit is l*(x) = log(p_data(x) / p_g(x)); and
V(G, D*) = -log 4 + 2 JSD(p_data || p_g). The three generator losses differ in which
divergence they minimise when D = D*.

Every loss below is computed from logits with softplus, never from D itself, since
log(sigmoid(l)) = -softplus(-l) and log(1 - sigmoid(l)) = -softplus(l) stay finite and
accurate for any logit, where log(D) underflows to -inf once D rounds to 0.

The module has two layers:

- a functional core of pure tensor functions (``gan_d_loss``, ``minimax_g_loss``,
  ``ns_g_loss``, ``ml_g_loss``) that take logits of any shape and average over all
  elements;
- thin registered wrappers (``minimax``, ``ns``, ``ml`` in
  :data:`ganforge.registry.OBJECTIVES`) that implement the
  :class:`~ganforge.objectives.base.Objective` protocol on
  :class:`~ganforge.nets.base.CriticOutput`.

It is self-contained on purpose: each objective family lives in its own file.
"""

from __future__ import annotations

from typing import ClassVar

import torch
import torch.nn.functional as F

from ganforge.nets.base import CriticOutput
from ganforge.registry import OBJECTIVES
from ganforge.techniques.labels import bce_with_targets

_PAPER_2014 = "Goodfellow et al. 2014, Generative Adversarial Nets"
_PAPER_2016 = "Goodfellow 2016, NIPS 2016 Tutorial: Generative Adversarial Networks"


def _logits(x: torch.Tensor) -> torch.Tensor:
    """Half-precision logits (under autocast) are promoted to float32 before the loss."""
    return x.float() if x.dtype in (torch.float16, torch.bfloat16) else x


# -- functional core -------------------------------------------------------------------------
def gan_d_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """Discriminator loss of the original GAN: minus the value of the game.

    J(D) = -E_{p_data}[log D(x)] - E_{p_g}[log(1 - D(x))]
         = E[softplus(-real_logits)] + E[softplus(fake_logits)],

    the binary cross-entropy with label 1 for real and 0 for fake. Its minimiser is
    D*(x) = p_data / (p_data + p_g), where it equals log 4 - 2 JSD(p_data || p_g).

    Args:
        real_logits: critic logits on real samples, any shape (N,), (N, H, W), ...
        fake_logits: critic logits on generated samples, any shape.

    Returns:
        A scalar: each expectation is the mean over all elements of its tensor.
    """
    # -log(sigmoid(r)) = softplus(-r);  -log(1 - sigmoid(f)) = softplus(f)
    return F.softplus(-_logits(real_logits)).mean() + F.softplus(_logits(fake_logits)).mean()


def gan_d_loss_targets(
    real_logits: torch.Tensor,
    fake_logits: torch.Tensor,
    real_targets: torch.Tensor,
    fake_targets: torch.Tensor,
) -> torch.Tensor:
    """The critic loss of the original GAN with soft targets t (label smoothing, flips).

    J(D) = BCE(real_logits, t_real) + BCE(fake_logits, t_fake), where
    BCE(l, t) = -E[t log sigmoid(l) + (1 - t) log(1 - sigmoid(l))]. With t_real = 1 and
    t_fake = 0 it is :func:`gan_d_loss` exactly. For constant targets alpha (real) and
    beta (fake) the minimiser is D*(x) = (alpha p_data + beta p_g) / (p_data + p_g)
    (Salimans et al. 2016, sec. 3.4).

    Args:
        real_logits, fake_logits: critic logits (N,) or (N, ...) (patch critics).
        real_targets, fake_targets: (N,) targets in [0, 1], broadcast over patches.

    Returns:
        A scalar.
    """
    return bce_with_targets(_logits(real_logits), real_targets) + bce_with_targets(
        _logits(fake_logits), fake_targets
    )


def minimax_g_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """Minimax (zero-sum) generator loss: J(G) = E_z[log(1 - D(G(z)))] = -E[softplus(f)].

    The generator minimises the value of the game itself (Goodfellow et al. 2014, eq. 1).
    At D = D* this minimises JSD(p_data || p_g) (up to the constant -log 4 and a factor 2).
    It saturates: where D(G(z)) ~ 0 (early training) dJ/df = -sigmoid(f) ~ 0.

    Args:
        fake_logits: critic logits on generated samples, any shape.

    Returns:
        A scalar, the mean over all elements.
    """
    # log(1 - sigmoid(f)) = -softplus(f)
    return -F.softplus(_logits(fake_logits)).mean()


def ns_g_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """Non-saturating generator loss: J(G) = -E_z[log D(G(z))] = E[softplus(-f)].

    Goodfellow et al. 2014 (section 3) and the 2016 tutorial: the generator maximises the
    log-probability of the critic being mistaken instead of minimising that of it being
    right. Same fixed point as minimax, but dJ/df = -sigmoid(-f) ~ -1 where D(G(z)) ~ 0,
    so the generator still learns when the critic rejects its samples confidently.
    At D = D* its expected gradient is that of KL(p_g || p_data) - 2 JSD(p_data || p_g)
    (Arjovsky & Bottou 2017, Towards Principled Methods for Training GANs, Thm 2.5).

    Args:
        fake_logits: critic logits on generated samples, any shape.

    Returns:
        A scalar, the mean over all elements.
    """
    # -log(sigmoid(f)) = softplus(-f)
    return F.softplus(-_logits(fake_logits)).mean()


def ml_g_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """Maximum-likelihood generator loss: J(G) = -1/2 E_z[exp(sigma^-1(D(G(z))))] = -1/2 E[exp(f)].

    Goodfellow 2016 tutorial, section 3.2.3 (after Goodfellow 2014, On distinguishability
    criteria for estimating generative models): at D = D*, exp(f) = p_data / p_g, and the
    expected gradient of J(G) equals that of KL(p_data || p_g), i.e. maximum likelihood.
    As a function of D = D(G(z)), J = -D / (2 (1 - D)): flat where D ~ 0 and steep where
    D ~ 1, so the gradient is dominated by the few samples the critic already finds
    realistic (high variance).

    The exponential is not clipped (that would change the estimator): logits above ~88 in
    float32 overflow to inf, which the engine reports as divergence.

    Args:
        fake_logits: critic logits on generated samples, any shape.

    Returns:
        A scalar, the mean over all elements.
    """
    return -0.5 * torch.exp(_logits(fake_logits)).mean()


# -- registered objectives -------------------------------------------------------------------
class _OriginalGAN:
    """Shared critic side of the three original-GAN objectives (the same J(D))."""

    needs_real_for_g: ClassVar[bool] = False

    def d_loss(self, real: CriticOutput, fake: CriticOutput) -> torch.Tensor:
        """E[softplus(-real.score)] + E[softplus(fake.score)]; see :func:`gan_d_loss`."""
        return gan_d_loss(real.score, fake.score)

    def d_loss_with_targets(
        self,
        real: CriticOutput,
        fake: CriticOutput,
        real_targets: torch.Tensor,
        fake_targets: torch.Tensor,
    ) -> torch.Tensor:
        """The critic's BCE with soft (N,) targets; see :func:`gan_d_loss_targets`."""
        return gan_d_loss_targets(real.score, fake.score, real_targets, fake_targets)

    def g_loss(self, fake: CriticOutput, real: CriticOutput | None = None) -> torch.Tensor:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


@OBJECTIVES.register("minimax", paper=_PAPER_2014)
class MinimaxGAN(_OriginalGAN):
    """Original minimax GAN: min_G max_D E_data[log D(x)] + E_z[log(1 - D(G(z)))].

    - Critic: J(D) = E[softplus(-l_real)] + E[softplus(l_fake)] (binary cross-entropy).
    - Generator: J(G) = E_z[log(1 - D(G(z)))] = -E[softplus(l_fake)].
    - Optimal critic: D*(x) = p_data(x) / (p_data(x) + p_g(x)), logit log(p_data / p_g).
    - Divergence at D*: J(G) = -J(D) = -log 4 + 2 JSD(p_data || p_g).
    - Saturates when the critic wins (dJ(G)/dl = -sigmoid(l) ~ 0); prefer ``ns`` in practice.
    """

    divergence: ClassVar[str] = "Jensen-Shannon: 2 JSD(p_data || p_g) - log 4"

    def g_loss(self, fake: CriticOutput, real: CriticOutput | None = None) -> torch.Tensor:
        """-E[softplus(fake.score)]; ``real`` is ignored. See :func:`minimax_g_loss`."""
        return minimax_g_loss(fake.score)


@OBJECTIVES.register("ns", paper=_PAPER_2014)
class NonSaturatingGAN(_OriginalGAN):
    """Non-saturating GAN: the critic as in minimax, the generator maximises log D(G(z)).

    - Critic: J(D) = E[softplus(-l_real)] + E[softplus(l_fake)].
    - Generator: J(G) = -E_z[log D(G(z))] = E[softplus(-l_fake)].
    - Optimal critic: D*(x) = p_data(x) / (p_data(x) + p_g(x)), logit log(p_data / p_g).
    - Divergence at D*: KL(p_g || p_data) - 2 JSD(p_data || p_g) (Arjovsky & Bottou 2017).
    - Strong gradient where D(G(z)) ~ 0: the default choice for the original GAN.
    """

    divergence: ClassVar[str] = "KL(p_g || p_data) - 2 JSD(p_data || p_g)"

    def g_loss(self, fake: CriticOutput, real: CriticOutput | None = None) -> torch.Tensor:
        """E[softplus(-fake.score)]; ``real`` is ignored. See :func:`ns_g_loss`."""
        return ns_g_loss(fake.score)


@OBJECTIVES.register("ml", paper=_PAPER_2016)
class MaximumLikelihoodGAN(_OriginalGAN):
    """Maximum-likelihood GAN: the critic as in minimax, J(G) = -1/2 E_z[exp(l(G(z)))].

    - Critic: J(D) = E[softplus(-l_real)] + E[softplus(l_fake)].
    - Generator: J(G) = -1/2 E_z[exp(sigma^-1(D(G(z))))] = -1/2 E[exp(l_fake)].
    - Optimal critic: D*(x) = p_data(x) / (p_data(x) + p_g(x)), so exp(l*) = p_data / p_g.
    - Divergence at D*: KL(p_data || p_g) (maximum likelihood), Goodfellow 2016, sec. 3.2.3.
    - High variance: the gradient comes mostly from samples with D(G(z)) near 1.
    """

    divergence: ClassVar[str] = "KL(p_data || p_g) (forward KL, maximum likelihood)"

    def g_loss(self, fake: CriticOutput, real: CriticOutput | None = None) -> torch.Tensor:
        """-1/2 E[exp(fake.score)]; ``real`` is ignored. See :func:`ml_g_loss`."""
        return ml_g_loss(fake.score)

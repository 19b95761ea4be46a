"""Closed-form GAN theory: optimal critics, divergences, generator-loss curves.

Used by tests (closed-form checks of the objectives), by reports (Goodfellow 2016,
Fig. 16), by ``ganforge theory`` and by the 2-D diagnostics. Functions accept NumPy
arrays or torch tensors.

- :mod:`~ganforge.theory.discriminator`: the original GAN's optimal discriminator, the
  value of the game, KL, JSD, the generator-loss curves;
- :mod:`~ganforge.theory.divergences`: the f-GAN f-divergences, LSGAN's chi^2, W1 in
  1-D, closed forms between 1-D Gaussians;
- :mod:`~ganforge.theory.critics`: the optimal critic of each objective and
  :func:`divergence_table` (trained critic vs closed form);
- :mod:`~ganforge.theory.plots`: :func:`plot_generator_losses`.
"""

from __future__ import annotations

from ganforge.theory.critics import (
    DivergenceRow,
    divergence_table,
    fgan_critic,
    gan_logit,
    hinge_critic,
    lsgan_critic,
    wgan_critic_1d,
)
from ganforge.theory.discriminator import (
    generator_loss_curves,
    jsd,
    kl,
    optimal_discriminator,
    value,
)
from ganforge.theory.divergences import (
    F_DIVERGENCES,
    f_divergence,
    gan_divergence,
    gaussian_divergence,
    gaussian_kl,
    hellinger,
    js2,
    lsgan_pearson,
    neyman,
    pearson,
    reverse_kl,
    total_variation,
    w1_discrete,
    w1_gaussians,
    w1_sorted,
)
from ganforge.theory.plots import generator_loss_gradients, plot_generator_losses

__all__ = [
    "F_DIVERGENCES",
    "DivergenceRow",
    "divergence_table",
    "f_divergence",
    "fgan_critic",
    "gan_divergence",
    "gan_logit",
    "gaussian_divergence",
    "gaussian_kl",
    "generator_loss_curves",
    "generator_loss_gradients",
    "hellinger",
    "hinge_critic",
    "js2",
    "jsd",
    "kl",
    "lsgan_critic",
    "lsgan_pearson",
    "neyman",
    "optimal_discriminator",
    "pearson",
    "plot_generator_losses",
    "reverse_kl",
    "total_variation",
    "value",
    "w1_discrete",
    "w1_gaussians",
    "w1_sorted",
    "wgan_critic_1d",
]

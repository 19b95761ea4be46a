"""Adversarial objectives: pure functions of critic outputs, one file per family.

Importing this package registers every built-in objective in
:data:`ganforge.registry.OBJECTIVES`:

- ``minimax``, ``ns``, ``ml``: :mod:`ganforge.objectives.original` (Goodfellow et al.
  2014; Goodfellow 2016).
- ``fgan``: :mod:`ganforge.objectives.fgan` (Nowozin et al. 2016), any of eight
  f-divergences.
- ``lsgan``: :mod:`ganforge.objectives.lsgan` (Mao et al. 2017, least squares).
- ``wgan``, ``wgan-gp``: :mod:`ganforge.objectives.wgan` (Arjovsky et al. 2017;
  Gulrajani et al. 2017).
- ``hinge``: :mod:`ganforge.objectives.hinge` (Lim & Ye 2017; Miyato et al. 2018).
- ``rgan``, ``ragan``: :mod:`ganforge.objectives.relativistic` (Jolicoeur-Martineau 2019).
- ``lsgan-qi``: :mod:`ganforge.objectives.loss_sensitive` (Qi 2017, loss-sensitive).
- IPM family: ``mmd`` (:mod:`~ganforge.objectives.mmd`, Li et al. 2017), ``fisher``
  (:mod:`~ganforge.objectives.fisher`, Mroueh & Sercu 2017), ``mcgan``
  (:mod:`~ganforge.objectives.mcgan`, Mroueh et al. 2017), ``sobolev``
  (:mod:`~ganforge.objectives.sobolev`, Mroueh et al. 2018).

Each objective implements :class:`Objective` (``d_loss``, ``g_loss``,
``needs_real_for_g``) and documents the divergence it minimises and its optimal critic.
"""

from __future__ import annotations

from ganforge.objectives import (
    fgan,
    fisher,
    hinge,
    loss_sensitive,
    lsgan,
    mcgan,
    mmd,
    original,
    relativistic,
    sobolev,
    wgan,
)
from ganforge.objectives.base import Objective
from ganforge.objectives.fgan import (
    FGAN,
    fgan_activation,
    fgan_conjugate,
    fgan_d_loss,
    fgan_fake_term,
    fgan_g_loss,
    fgan_real_term,
)
from ganforge.objectives.hinge import HingeGAN, hinge_d_loss, hinge_g_loss
from ganforge.objectives.loss_sensitive import (
    LossSensitiveGAN,
    loss_sensitive_d_loss,
    loss_sensitive_g_loss,
    loss_sensitive_margin,
)
from ganforge.objectives.lsgan import LeastSquaresGAN, least_squares_d_loss, least_squares_g_loss
from ganforge.objectives.original import (
    MaximumLikelihoodGAN,
    MinimaxGAN,
    NonSaturatingGAN,
    gan_d_loss,
    minimax_g_loss,
    ml_g_loss,
    ns_g_loss,
)
from ganforge.objectives.relativistic import (
    RelativisticAverageGAN,
    RelativisticGAN,
    rasgan_d_loss,
    rasgan_g_loss,
    rsgan_d_loss,
    rsgan_g_loss,
)
from ganforge.objectives.wgan import WassersteinGAN, WassersteinGANGP, wgan_d_loss, wgan_g_loss

__all__ = [
    "FGAN",
    "HingeGAN",
    "LeastSquaresGAN",
    "LossSensitiveGAN",
    "MaximumLikelihoodGAN",
    "MinimaxGAN",
    "NonSaturatingGAN",
    "Objective",
    "RelativisticAverageGAN",
    "RelativisticGAN",
    "WassersteinGAN",
    "WassersteinGANGP",
    "fgan",
    "fgan_activation",
    "fgan_conjugate",
    "fgan_d_loss",
    "fgan_fake_term",
    "fgan_g_loss",
    "fgan_real_term",
    "fisher",
    "gan_d_loss",
    "hinge",
    "hinge_d_loss",
    "hinge_g_loss",
    "least_squares_d_loss",
    "least_squares_g_loss",
    "loss_sensitive",
    "loss_sensitive_d_loss",
    "loss_sensitive_g_loss",
    "loss_sensitive_margin",
    "lsgan",
    "mcgan",
    "minimax_g_loss",
    "ml_g_loss",
    "mmd",
    "ns_g_loss",
    "original",
    "rasgan_d_loss",
    "rasgan_g_loss",
    "relativistic",
    "rsgan_d_loss",
    "rsgan_g_loss",
    "sobolev",
    "wgan",
    "wgan_d_loss",
    "wgan_g_loss",
]

"""Adversarial objectives: pure functions of critic outputs, one file per family.

Importing this package registers every built-in objective in
:data:`ganforge.registry.OBJECTIVES`:

- ``minimax``, ``ns``, ``ml``: :mod:`ganforge.objectives.original` (Goodfellow et al.
  2014; Goodfellow 2016).

Each objective implements :class:`Objective` (``d_loss``, ``g_loss``,
``needs_real_for_g``) and documents the divergence it minimises and its optimal critic.
"""

from __future__ import annotations

from ganforge.objectives import original
from ganforge.objectives.base import Objective
from ganforge.objectives.original import (
    MaximumLikelihoodGAN,
    MinimaxGAN,
    NonSaturatingGAN,
    gan_d_loss,
    minimax_g_loss,
    ml_g_loss,
    ns_g_loss,
)

__all__ = [
    "MaximumLikelihoodGAN",
    "MinimaxGAN",
    "NonSaturatingGAN",
    "Objective",
    "gan_d_loss",
    "minimax_g_loss",
    "ml_g_loss",
    "ns_g_loss",
    "original",
]

"""Closed-form GAN theory: the optimal discriminator, divergences, generator-loss curves.

Used by tests (closed-form checks of the objectives), by reports (Goodfellow 2016,
Fig. 16) and by the 2-D diagnostics. Functions accept NumPy arrays or torch tensors.
"""

from __future__ import annotations

from ganforge.theory.discriminator import (
    generator_loss_curves,
    jsd,
    kl,
    optimal_discriminator,
    value,
)

__all__ = ["generator_loss_curves", "jsd", "kl", "optimal_discriminator", "value"]

"""Algorithms: the only place that knows how a GAN variant trains (one file per family)."""

from ganforge.algorithms import (
    acgan,
    bigan,
    cgan,
    cyclegan,
    discogan,
    dualgan,
    infogan,
    pix2pix,
    segan,
    srgan,
    ssgan,
    stargan,
    unconditional,
    unrolled,
    vaegan,
)
from ganforge.algorithms.base import Algorithm, LossOutput, Phase

__all__ = [
    "Algorithm",
    "LossOutput",
    "Phase",
    "acgan",
    "bigan",
    "cgan",
    "cyclegan",
    "discogan",
    "dualgan",
    "infogan",
    "pix2pix",
    "segan",
    "srgan",
    "ssgan",
    "stargan",
    "unconditional",
    "unrolled",
    "vaegan",
]

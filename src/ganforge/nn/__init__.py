"""Shared layers and helpers for every network family (spectral norm, inits, activations)."""

from __future__ import annotations

from ganforge.nn.layers import (
    LEAKY_SLOPE,
    ActivationName,
    InitName,
    PositiveInt,
    Probability,
    Shape,
    UnsupportedShapeError,
    Widths,
    activation,
    apply_spectral_norm,
    init_weights,
)

__all__ = [
    "LEAKY_SLOPE",
    "ActivationName",
    "InitName",
    "PositiveInt",
    "Probability",
    "Shape",
    "UnsupportedShapeError",
    "Widths",
    "activation",
    "apply_spectral_norm",
    "init_weights",
]

"""What every network returns and shares."""

from __future__ import annotations

from typing import NamedTuple

import torch


class CriticOutput(NamedTuple):
    """The output of every critic (discriminator).

    Attributes:
        score: (N,) raw critic values: logits for the original GAN, real-valued
            critic values for IPM objectives. Patch critics return (N, H, W).
        features: (N, F) the penultimate features (feature matching, MMD, McGan), or None.
        aux: (N, K) logits of an auxiliary head (AC-GAN classes, InfoGAN codes), or None.
    """

    score: torch.Tensor
    features: torch.Tensor | None = None
    aux: torch.Tensor | None = None


def check_input_shape(net: str, x: torch.Tensor, in_shape: tuple[int, ...]) -> None:
    """Raise a ValueError naming ``net`` unless ``x`` is (N, *in_shape)."""
    if tuple(x.shape[1:]) != in_shape:
        raise ValueError(
            f"{net} expects images of shape (N, {', '.join(map(str, in_shape))}); "
            f"got {tuple(x.shape)}."
        )

"""Multilayer perceptrons: the generator and critic of toy 2-D experiments and small images.

Goodfellow et al. 2014 (Generative Adversarial Nets) used MLPs for both players. Any
sample shape works: the generator reshapes its last layer to ``out_shape``, the critic
flattens its input.

Registered as ``mlp-g`` and ``mlp-d``. Depth and width are given together as
``hidden``, the widths of the hidden layers from the input side (``(128, 128)``: two
hidden layers of 128 units; ``()``: a single linear map).
"""

from __future__ import annotations

import math
from typing import Literal

import torch
from torch import nn

from ganforge.nets.base import CriticOutput
from ganforge.nn.layers import (
    InitName,
    PositiveInt,
    Probability,
    Shape,
    Widths,
    apply_spectral_norm,
    init_weights,
)
from ganforge.nn.layers import activation as make_activation
from ganforge.registry import NETS

_PAPER = "Goodfellow et al. 2014, Generative Adversarial Nets"


@NETS.register("mlp-g", paper=_PAPER)
class MLPGenerator(nn.Module):
    """MLP generator: z (N, latent_dim) -> x (N, *out_shape).

    Each hidden layer is Linear -> [BatchNorm1d] -> activation; the output layer is
    Linear -> ``out_activation``. Use ``out_activation="none"`` for unbounded points (toy
    2-D mixtures) and ``"tanh"`` for images scaled to [-1, 1].

    Args:
        latent_dim: size of z.
        out_shape: shape of one sample, e.g. ``(2,)`` or ``(1, 8, 8)``.
        hidden: hidden-layer widths, input side first.
        activation: ``relu`` or ``leaky_relu`` (slope 0.2).
        norm: ``batch`` puts BatchNorm1d after every hidden linear layer (as DCGAN
            does in its generator); ``none`` leaves it out.
        out_activation: ``none`` or ``tanh``.
        spectral_norm: spectrally normalise every linear layer (Miyato et al. 2018).
        init: ``default`` (PyTorch's) or ``dcgan`` (N(0, 0.02)).
    """

    def __init__(
        self,
        latent_dim: PositiveInt,
        out_shape: Shape,
        hidden: Widths = (128, 128),
        activation: Literal["relu", "leaky_relu"] = "relu",
        norm: Literal["none", "batch"] = "none",
        out_activation: Literal["none", "tanh"] = "none",
        spectral_norm: bool = False,
        init: InitName = "default",
    ) -> None:
        super().__init__()
        self.latent_dim = int(latent_dim)
        self.out_shape = tuple(int(s) for s in out_shape)
        layers: list[nn.Module] = []
        width = self.latent_dim
        for h in hidden:
            # A bias before batch norm is removed by its mean subtraction: leave it out.
            layers.append(nn.Linear(width, h, bias=norm != "batch"))
            if norm == "batch":
                layers.append(nn.BatchNorm1d(h))
            layers.append(make_activation(activation))
            width = h
        layers.append(nn.Linear(width, math.prod(self.out_shape)))
        layers.append(make_activation(out_activation))
        self.net = nn.Sequential(*layers)
        init_weights(self, init)
        if spectral_norm:
            apply_spectral_norm(self)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """z: (N, latent_dim) -> (N, *out_shape)."""
        if z.dim() != 2 or z.shape[1] != self.latent_dim:
            raise ValueError(
                f"mlp-g expects z of shape (N, {self.latent_dim}); got {tuple(z.shape)}."
            )
        return self.net(z).view(z.shape[0], *self.out_shape)


@NETS.register("mlp-d", paper=_PAPER)
class MLPDiscriminator(nn.Module):
    """MLP critic: x (N, *in_shape) -> CriticOutput(score (N,), features (N, F)).

    Each hidden layer is Linear -> activation -> [Dropout]; a final Linear maps to one
    raw score (a logit for the original GAN). ``features`` is the input of that final
    layer: the last hidden activations, F = ``hidden[-1]`` (or the flattened input when
    ``hidden`` is empty).

    Args:
        in_shape: shape of one sample, e.g. ``(2,)`` or ``(1, 8, 8)``.
        hidden: hidden-layer widths, input side first.
        activation: ``leaky_relu`` (slope 0.2) or ``relu``.
        dropout: dropout probability after every hidden activation (Goodfellow et al.
            2014 trained their discriminator with dropout); 0 disables it.
        spectral_norm: spectrally normalise every linear layer (Miyato et al. 2018).
        init: ``default`` (PyTorch's) or ``dcgan`` (N(0, 0.02)).
    """

    def __init__(
        self,
        in_shape: Shape,
        hidden: Widths = (128, 128),
        activation: Literal["relu", "leaky_relu"] = "leaky_relu",
        dropout: Probability = 0.0,
        spectral_norm: bool = False,
        init: InitName = "default",
    ) -> None:
        super().__init__()
        self.in_shape = tuple(int(s) for s in in_shape)
        layers: list[nn.Module] = []
        width = math.prod(self.in_shape)
        for h in hidden:
            layers.append(nn.Linear(width, h))
            layers.append(make_activation(activation))
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            width = h
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(width, 1)
        self.feature_dim = width
        init_weights(self, init)
        if spectral_norm:
            apply_spectral_norm(self)

    def forward(self, x: torch.Tensor) -> CriticOutput:
        """x: (N, *in_shape) -> CriticOutput(score (N,), features (N, F), aux None)."""
        if tuple(x.shape[1:]) != self.in_shape:
            raise ValueError(
                f"mlp-d expects inputs of shape (N, {', '.join(map(str, self.in_shape))}); "
                f"got {tuple(x.shape)}."
            )
        features = self.body(x.flatten(1))
        score = self.head(features).squeeze(1)
        return CriticOutput(score=score, features=features)

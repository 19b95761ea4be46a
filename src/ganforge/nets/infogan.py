"""InfoGAN's MNIST networks: fully connected + convolutional generator and critic with Q.

Chen et al. 2016, InfoGAN: Interpretable Representation Learning by Information
Maximizing Generative Adversarial Nets, appendix C, table 1 (MNIST). With b =
``base_channels`` (64 in the paper), W = ``hidden`` (1024) and s = H / 4 (7 for 28x28):

    generator  z (N, latent_dim) -> FC W - BN - ReLU -> FC 2b*s*s - BN - ReLU
               -> (2b, s, s) -> 4x4 upconv b, stride 2 - BN - ReLU
               -> 4x4 upconv C, stride 2 -> tanh                  (N, C, H, H)
    critic     x -> 4x4 conv b, stride 2 - lReLU -> 4x4 conv 2b, stride 2 - BN - lReLU
               -> FC W - BN - lReLU = features (N, W)
               D: FC 1 = score;  Q: FC q - BN - lReLU - FC A = aux (N, A)

Q shares the critic's whole trunk and has its own hidden layer (q = ``aux_hidden``,
128 in the paper). The paper's generator ends in a sigmoid for images in [0, 1]; here
tanh, since ganforge's images live in [-1, 1]. Registered as ``infogan-g`` and
``infogan-d``; square images whose side is a multiple of 4 (MNIST: 28 as in the paper,
or 32), any channel count. Also usable without codes: ``aux_dim = 0`` (no Q head),
e.g. as the critic of an AC-GAN (``aux_dim`` = number of classes).
"""

from __future__ import annotations

from typing import Annotated, Literal

import torch
from pydantic import Field
from torch import nn

from ganforge.nets.base import CriticOutput, check_input_shape
from ganforge.nn.conditional import AuxDim
from ganforge.nn.layers import (
    LEAKY_SLOPE,
    InitName,
    PositiveInt,
    Shape,
    UnsupportedShapeError,
    apply_spectral_norm,
    init_weights,
)
from ganforge.registry import NETS

_PAPER = (
    "Chen et al. 2016, InfoGAN: Interpretable Representation Learning by Information "
    "Maximizing Generative Adversarial Nets"
)


def _side(shape: tuple[int, ...], net: str, arg: str) -> tuple[int, int]:
    """(channels, H / 4) for a square image shape whose side is a multiple of 4 (>= 8)."""
    if len(shape) != 3 or shape[1] != shape[2] or shape[1] % 4 or shape[1] < 8:
        raise UnsupportedShapeError(
            f"{net} supports square images (C, H, H) with H a multiple of 4, at least 8 "
            f"(MNIST: 28 or 32); got {arg}={shape}."
        )
    return shape[0], shape[1] // 4


@NETS.register("infogan-g", paper=_PAPER)
class InfoGANGenerator(nn.Module):
    """InfoGAN's MNIST generator: z (N, latent_dim) -> images (N, C, H, H) in [-1, 1].

    FC ``hidden`` - FC 2b (H/4)^2 - upconv b - upconv C (module docstring), batch norm and
    ReLU after every layer but the last. z is the whole input: InfoGAN's codes are
    concatenated to the noise by the algorithm.

    Args:
        latent_dim: size of the input (noise + codes; 62 + 10 + 2 = 74 on MNIST).
        out_shape: (C, H, H), H a multiple of 4.
        base_channels: b, channels of the last hidden map (64 in the paper).
        hidden: width of the first fully connected layer (1024 in the paper).
        norm: ``batch`` (the paper) or ``none``.
        spectral_norm: spectrally normalise every layer (Miyato et al. 2018).
        init: ``dcgan`` (N(0, 0.02), BN scale N(1, 0.02)) or ``default`` (PyTorch's).
    """

    def __init__(
        self,
        latent_dim: PositiveInt,
        out_shape: Shape,
        base_channels: PositiveInt = 64,
        hidden: PositiveInt = 1024,
        norm: Literal["batch", "none"] = "batch",
        spectral_norm: bool = False,
        init: InitName = "dcgan",
    ) -> None:
        super().__init__()
        self.latent_dim = int(latent_dim)
        self.out_shape = tuple(int(s) for s in out_shape)
        channels, s = _side(self.out_shape, "infogan-g", "out_shape")
        b, bn = int(base_channels), norm == "batch"
        self._map = (2 * b, s, s)

        def norm1(n: int) -> list[nn.Module]:
            return [nn.BatchNorm1d(n)] if bn else []

        def norm2(n: int) -> list[nn.Module]:
            return [nn.BatchNorm2d(n)] if bn else []

        self.fc = nn.Sequential(
            nn.Linear(self.latent_dim, hidden, bias=not bn),
            *norm1(hidden),
            nn.ReLU(),
            nn.Linear(hidden, 2 * b * s * s, bias=not bn),
            *norm1(2 * b * s * s),
            nn.ReLU(),
        )
        self.conv = nn.Sequential(
            nn.ConvTranspose2d(2 * b, b, 4, 2, 1, bias=not bn),
            *norm2(b),
            nn.ReLU(),
            nn.ConvTranspose2d(b, channels, 4, 2, 1),
            nn.Tanh(),
        )
        init_weights(self, init)
        if spectral_norm:
            apply_spectral_norm(self)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """z: (N, latent_dim) -> (N, C, H, H), values in [-1, 1]."""
        if z.dim() != 2 or z.shape[1] != self.latent_dim:
            raise ValueError(
                f"infogan-g expects z of shape (N, {self.latent_dim}); got {tuple(z.shape)}."
            )
        return self.conv(self.fc(z).reshape(z.shape[0], *self._map))


@NETS.register("infogan-d", paper=_PAPER)
class InfoGANDiscriminator(nn.Module):
    """InfoGAN's MNIST critic with its Q head: x (N, C, H, H) -> CriticOutput.

    conv b - conv 2b - FC ``hidden`` (module docstring), a leaky ReLU after each, batch
    norm after all but the first; ``features`` is the (N, hidden) output of the FC layer,
    ``score`` a linear map of it. With ``aux_dim = A > 0``, ``aux`` = Q's output
    FC(A)(lReLU(BN(FC(aux_hidden)(features)))), the paper's Q network on the shared
    trunk (InfoGAN: code logits / Gaussian parameters; AC-GAN: class logits).
    ``aux_hidden = 0`` makes Q a single linear layer on the features.

    Args:
        in_shape: (C, H, H), H a multiple of 4.
        base_channels: b, channels of the first convolution (64 in the paper).
        hidden: width of the fully connected layer (1024 in the paper).
        norm: ``batch`` (the paper) or ``none`` (usual with ``spectral_norm``).
        spectral_norm: spectrally normalise every layer (Miyato et al. 2018).
        init: ``dcgan`` (N(0, 0.02), BN scale N(1, 0.02)) or ``default`` (PyTorch's).
        aux_dim: A, the width of Q's output; 0 = no Q head (aux None).
        aux_hidden: width of Q's hidden layer (128 in the paper); 0 = none.
        negative_slope: slope of the leaky ReLUs for x < 0. The paper does not give it;
            the authors' code uses 0.01 (its ``leaky_rectify`` default), DCGAN 0.2
            (the default here, shared with ganforge's other critics).
    """

    def __init__(
        self,
        in_shape: Shape,
        base_channels: PositiveInt = 64,
        hidden: PositiveInt = 1024,
        norm: Literal["batch", "none"] = "batch",
        spectral_norm: bool = False,
        init: InitName = "dcgan",
        aux_dim: AuxDim = 0,
        aux_hidden: Annotated[int, Field(ge=0, le=100000)] = 128,
        negative_slope: Annotated[float, Field(ge=0, lt=1)] = LEAKY_SLOPE,
    ) -> None:
        super().__init__()
        self.in_shape = tuple(int(s) for s in in_shape)
        channels, s = _side(self.in_shape, "infogan-d", "in_shape")
        b, bn = int(base_channels), norm == "batch"
        self.aux_dim = int(aux_dim)
        self.feature_dim = int(hidden)
        act = float(negative_slope)
        self.body = nn.Sequential(
            nn.Conv2d(channels, b, 4, 2, 1),
            nn.LeakyReLU(act),
            nn.Conv2d(b, 2 * b, 4, 2, 1, bias=not bn),
            *([nn.BatchNorm2d(2 * b)] if bn else []),
            nn.LeakyReLU(act),
            nn.Flatten(),
            nn.Linear(2 * b * s * s, hidden, bias=not bn),
            *([nn.BatchNorm1d(hidden)] if bn else []),
            nn.LeakyReLU(act),
        )
        self.head = nn.Linear(hidden, 1)
        self.aux_head: nn.Module | None = None
        if self.aux_dim > 0 and aux_hidden:
            self.aux_head = nn.Sequential(
                nn.Linear(hidden, aux_hidden, bias=not bn),
                *([nn.BatchNorm1d(aux_hidden)] if bn else []),
                nn.LeakyReLU(act),
                nn.Linear(aux_hidden, self.aux_dim),
            )
        elif self.aux_dim > 0:
            self.aux_head = nn.Linear(hidden, self.aux_dim)
        init_weights(self, init)
        if spectral_norm:
            apply_spectral_norm(self)

    def forward(self, x: torch.Tensor) -> CriticOutput:
        """x: (N, *in_shape) -> CriticOutput(score (N,), features (N, hidden),
        aux (N, aux_dim) or None)."""
        check_input_shape("infogan-d", x, self.in_shape)
        f = self.body(x)
        aux = self.aux_head(f) if self.aux_head is not None else None
        return CriticOutput(score=self.head(f).reshape(x.shape[0]), features=f, aux=aux)

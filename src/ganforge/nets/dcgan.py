"""DCGAN: all-convolutional generator and critic for square images.

Radford et al. 2016, Unsupervised Representation Learning with Deep Convolutional
Generative Adversarial Networks. The architecture guidelines of the paper: strided
(transposed) convolutions instead of pooling, batch norm in both players except the
generator's output and the critic's input layer, ReLU in the generator (tanh at the
output), LeakyReLU(0.2) in the critic, no fully connected hidden layers, weights
~ N(0, 0.02).

Registered as ``dcgan-g`` and ``dcgan-d``. Resolutions 16, 32 and 64 (square, any
channel count). Width: ``base_channels`` is the channel count at the largest feature
map next to the image; channels double each time the resolution halves, so the 4x4
map has ``base_channels * 2**(log2(H) - 3)`` (512 for 64x64 and base 64, as in the paper's
PyTorch port).

The critic has two options against mode collapse, off by default: minibatch standard
deviation and minibatch discrimination (layers from :mod:`ganforge.nn.minibatch`).
"""

from __future__ import annotations

import copy
from typing import Literal

import torch
from torch import nn

from ganforge.nets.base import CriticOutput
from ganforge.nets.mlp import (
    GroupSize,
    KernelDim,
    NumKernels,
    check_batch_options,
    check_group_divides,
)
from ganforge.nn.layers import (
    LEAKY_SLOPE,
    InitName,
    PositiveInt,
    Probability,
    Shape,
    UnsupportedShapeError,
    apply_spectral_norm,
    init_weights,
)
from ganforge.nn.minibatch import MinibatchDiscrimination, MinibatchStdDev
from ganforge.registry import NETS

_PAPER = (
    "Radford et al. 2016, Unsupervised Representation Learning with Deep "
    "Convolutional Generative Adversarial Networks"
)

#: Image sides the DCGAN networks support -> number of stride-2 (de)convolutions.
SUPPORTED_RESOLUTIONS: dict[int, int] = {16: 2, 32: 3, 64: 4}


def _geometry(shape: tuple[int, ...], net: str, arg: str) -> tuple[int, int]:
    """(channels, number of stride-2 layers) for an image shape (C, H, W), or a teaching error."""
    shape = tuple(int(s) for s in shape)
    sides = ", ".join(str(r) for r in SUPPORTED_RESOLUTIONS)
    if len(shape) != 3 or shape[1] != shape[2] or shape[1] not in SUPPORTED_RESOLUTIONS:
        raise UnsupportedShapeError(
            f"{net} supports square images (C, H, H) with H in {{{sides}}}; got {arg}={shape}. "
            f"Resize or pad the data (e.g. MNIST 28x28 -> 32x32), or use mlp-g / mlp-d."
        )
    return shape[0], SUPPORTED_RESOLUTIONS[shape[1]]


@NETS.register("dcgan-g", paper=_PAPER)
class DCGANGenerator(nn.Module):
    """DCGAN generator: z (N, latent_dim) -> images (N, C, H, H) in [-1, 1].

    z is read as a (latent_dim, 1, 1) map and projected to 4x4 by a 4x4 transposed
    convolution; stride-2 transposed convolutions (k4, s2, p1) + BN + ReLU then double
    the resolution and halve the channels; the last one maps to C channels + tanh.

    Args:
        latent_dim: size of z.
        out_shape: (C, H, H) with H in 16, 32, 64.
        base_channels: channels of the last hidden map (H/2 x H/2).
        norm: ``batch`` (the paper) or ``none``.
        spectral_norm: spectrally normalise every (transposed) convolution (Miyato et al. 2018).
        init: ``dcgan`` (N(0, 0.02), BN scale N(1, 0.02)) or ``default`` (PyTorch's).

    Raises:
        UnsupportedShapeError (a ValueError): for any other ``out_shape``.
    """

    def __init__(
        self,
        latent_dim: PositiveInt,
        out_shape: Shape,
        base_channels: PositiveInt = 64,
        norm: Literal["batch", "none"] = "batch",
        spectral_norm: bool = False,
        init: InitName = "dcgan",
    ) -> None:
        super().__init__()
        self.latent_dim = int(latent_dim)
        self.out_shape = tuple(int(s) for s in out_shape)
        channels, n_up = _geometry(self.out_shape, "dcgan-g", "out_shape")
        bias = norm != "batch"  # batch norm's mean subtraction cancels a conv bias

        def block(c_in: int, c_out: int, stride: int, padding: int) -> list[nn.Module]:
            layers: list[nn.Module] = [
                nn.ConvTranspose2d(c_in, c_out, 4, stride, padding, bias=bias)
            ]
            if norm == "batch":
                layers.append(nn.BatchNorm2d(c_out))
            layers.append(nn.ReLU())
            return layers

        ch = base_channels * 2 ** (n_up - 1)
        layers = block(self.latent_dim, ch, 1, 0)  # 1x1 -> 4x4
        for _ in range(n_up - 1):  # 4x4 -> ... -> H/2
            layers += block(ch, ch // 2, 2, 1)
            ch //= 2
        layers += [nn.ConvTranspose2d(ch, channels, 4, 2, 1), nn.Tanh()]  # H/2 -> H
        self.net = nn.Sequential(*layers)
        init_weights(self, init)
        if spectral_norm:
            apply_spectral_norm(self)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """z: (N, latent_dim) -> (N, C, H, H), values in [-1, 1]."""
        if z.dim() != 2 or z.shape[1] != self.latent_dim:
            raise ValueError(
                f"dcgan-g expects z of shape (N, {self.latent_dim}); got {tuple(z.shape)}."
            )
        return self.net(z[:, :, None, None])


@NETS.register("dcgan-d", paper=_PAPER)
class DCGANDiscriminator(nn.Module):
    """DCGAN critic: images (N, C, H, H) -> CriticOutput(score (N,), features (N, F)).

    Stride-2 convolutions (k4, s2, p1) + norm + LeakyReLU(0.2) halve the resolution and
    double the channels down to 4x4 (no norm on the first layer, which sees the image);
    a final 4x4 convolution gives one raw score per sample. ``features`` is the
    flattened 4x4 map h fed to that last layer, F = 16 * base_channels * 2**(n - 1), n
    the number of stride-2 layers; always per-sample, taken *before* the batch layers
    below, so feature matching never sees batch statistics.

    Options against mode collapse (off by default; then the network, its parameters and
    their initialisation are exactly those of the plain critic). With K the channels of
    the 4x4 map h (N, K, 4, 4):

    - ``minibatch_std = G > 0``: ``MinibatchStdDev(G)`` appends to h one constant
      channel, the standard deviation over groups of G consecutive samples averaged
      over channels and positions, right before the final 4x4 convolution, which then
      reads K + 1 channels: (N, K, 4, 4) -> (N, K + 1, 4, 4) -> score. This is where
      Karras et al. 2018 (Progressive Growing of GANs, section 3) put it, before the
      critic's last block. A collapsed generator gives ~0 there. No parameters.
    - ``minibatch_discrimination = B > 0``: ``MinibatchDiscrimination(F, B, C)``, C =
      ``minibatch_kernel_dim``, on the flattened map h (N, F) -> B closeness columns
      (Salimans et al. 2016, Improved Techniques for Training GANs, section 3.2): N - 1
      each for N identical samples, ~0 for a spread batch. The final 4x4 convolution is
      then replaced by the same map written as a Linear (a 4x4 convolution of a 4x4 map
      is a linear map of the flattened map) extended by B inputs:
      score = Linear(flatten(map), o), width 16 * (K [+ 1]) + B, the map including the
      std channel when ``minibatch_std`` is on too. T keeps the layer's own
      initialisation whatever ``init`` is, and is not spectrally normalised. T has
      F * B * C entries (8192 * B * C at 64x64 with base 64).

    With a batch layer on, a sample's score depends on the other samples of its batch
    (also in eval mode; ``norm="batch"`` already does this in training mode): real and
    fake batches must be scored separately (the built-in algorithms do), a gradient
    penalty's per-sample input gradient picks up cross-sample terms, and with
    ``minibatch_std`` the critic's batch size must be a multiple of G (a batch smaller
    than G forms one group), else a ValueError.

    Args:
        in_shape: (C, H, H) with H in 16, 32, 64.
        base_channels: channels after the first convolution (H/2 x H/2).
        norm: ``batch`` (the paper); ``layer`` (per-sample GroupNorm(1, C) over C, H, W,
            which Gulrajani et al. 2017 recommend for gradient-penalty critics, since a
            batch-norm critic mixes samples in the penalised gradient); or ``none``
            (usual with ``spectral_norm``).
        spectral_norm: spectrally normalise every convolution (Miyato et al. 2018).
        init: ``dcgan`` (N(0, 0.02), norm scale N(1, 0.02)) or ``default`` (PyTorch's).
        minibatch_std: group size G of the minibatch standard deviation; 0 = off.
        minibatch_discrimination: number of kernels B of minibatch discrimination; 0 = off.
        minibatch_kernel_dim: dimension C of each minibatch-discrimination kernel; only
            read when ``minibatch_discrimination > 0``.
        dropout: dropout probability after every LeakyReLU (a regulariser against an
            over-confident, overfitting critic, as in Goodfellow et al. 2014); 0 = off.

    Raises:
        UnsupportedShapeError (a ValueError): for any other ``in_shape``.
    """

    def __init__(
        self,
        in_shape: Shape,
        base_channels: PositiveInt = 64,
        norm: Literal["batch", "layer", "none"] = "batch",
        spectral_norm: bool = False,
        init: InitName = "dcgan",
        minibatch_std: GroupSize = 0,
        minibatch_discrimination: NumKernels = 0,
        minibatch_kernel_dim: KernelDim = 5,
        dropout: Probability = 0.0,
    ) -> None:
        super().__init__()
        check_batch_options(
            "dcgan-d", minibatch_std, minibatch_discrimination, minibatch_kernel_dim
        )
        self.in_shape = tuple(int(s) for s in in_shape)
        channels, n_down = _geometry(self.in_shape, "dcgan-d", "in_shape")
        ch = base_channels
        # Dropout modules only when on: the state dict's keys stay those of the paper's net.
        drop: list[nn.Module] = [nn.Dropout(dropout)] if dropout > 0 else []
        layers: list[nn.Module] = [
            nn.Conv2d(channels, ch, 4, 2, 1),
            nn.LeakyReLU(LEAKY_SLOPE),
            *drop,
        ]
        for _ in range(n_down - 1):
            layers.append(nn.Conv2d(ch, 2 * ch, 4, 2, 1, bias=norm != "batch"))
            if norm == "batch":
                layers.append(nn.BatchNorm2d(2 * ch))
            elif norm == "layer":
                layers.append(nn.GroupNorm(1, 2 * ch))
            layers.append(nn.LeakyReLU(LEAKY_SLOPE))
            layers.extend(copy.deepcopy(drop))
            ch *= 2
        self.body = nn.Sequential(*layers)
        self.feature_dim = ch * 16
        # Batch layers: registered only when on, so that the state dict (and the random
        # numbers drawn at construction) are unchanged when they are off.
        self.mbstd = MinibatchStdDev(minibatch_std) if minibatch_std > 0 else None
        self.mbdisc = (
            MinibatchDiscrimination(
                self.feature_dim, minibatch_discrimination, minibatch_kernel_dim
            )
            if minibatch_discrimination > 0
            else None
        )
        head_ch = ch + (1 if self.mbstd is not None else 0)
        self.head: nn.Module
        if self.mbdisc is None:
            self.head = nn.Conv2d(head_ch, 1, 4, 1, 0)  # 4x4 -> 1x1
        else:  # the same 4x4 map read by a Linear, plus the B closeness inputs
            self.head = nn.Linear(head_ch * 16 + minibatch_discrimination, 1)
        init_weights(self, init)
        if spectral_norm:
            apply_spectral_norm(self)

    def forward(self, x: torch.Tensor) -> CriticOutput:
        """x: (N, C, H, H) -> CriticOutput(score (N,), features (N, 16 * K), aux None).

        Shapes, K the channels of the last 4x4 map: body -> h (N, K, 4, 4) ->
        [minibatch_std: (N, K + 1, 4, 4)] -> 4x4 conv head -> (N, 1, 1, 1) -> score; or,
        with minibatch_discrimination B: [flatten -> (N, 16 * (K [+ 1])), closeness of
        flatten(h) (N, B)] -> Linear head -> (N, 1) -> score.
        """
        if tuple(x.shape[1:]) != self.in_shape:
            raise ValueError(
                f"dcgan-d expects images of shape (N, {', '.join(map(str, self.in_shape))}); "
                f"got {tuple(x.shape)}."
            )
        h = self.body(x)
        features = h.flatten(1)  # (N, F), per sample
        head_in = h
        if self.mbstd is not None:
            check_group_divides("dcgan-d", self.mbstd.group_size, x.shape[0])
            head_in = self.mbstd(h)  # (N, K + 1, 4, 4)
        if self.mbdisc is not None:
            closeness = self.mbdisc(features)[:, self.feature_dim :]  # (N, B)
            head_in = torch.cat([head_in.flatten(1), closeness], dim=1)
        score = self.head(head_in).reshape(x.shape[0])
        return CriticOutput(score=score, features=features)

"""DiscoGAN: convolutional encoder-decoder generator and critic with a feature loss.

Kim et al. 2017, Learning to Discover Cross-Domain Relations with Generative
Adversarial Networks (DiscoGAN), section 4 and the authors' code: the generator is an
encoder of 4x4 stride-2 convolutions with LeakyReLU and batch norm followed by a
decoder of 4x4 stride-2 transposed convolutions; the critic is the same encoder ending
in one logit per image. The paper's generator loss adds a feature-matching term on the
critic's intermediate layers, which ``discogan-d`` returns as ``features``.

Registered as ``discogan-g`` and ``discogan-d``. The paper works at 64 x 64 (four
stride-2 stages).
"""

from __future__ import annotations

from typing import Annotated, Literal

import torch
from pydantic import Field
from torch import nn

from ganforge.nets.base import CriticOutput, check_input_shape
from ganforge.nets.unet import check_image
from ganforge.nn.layers import (
    LEAKY_SLOPE,
    ConvPyramid,
    InitName,
    PositiveInt,
    Shape,
    apply_spectral_norm,
    init_weights,
)
from ganforge.registry import NETS

_PAPER = (
    "Kim et al. 2017, Learning to Discover Cross-Domain Relations with Generative "
    "Adversarial Networks (DiscoGAN)"
)

#: Number of stride-2 stages of the DiscoGAN encoder (and decoder).
NStages = Annotated[int, Field(ge=1, le=8)]


@NETS.register("discogan-g", paper=_PAPER)
class DiscoGANGenerator(nn.Module):
    """DiscoGAN generator: images (N, in_channels, H, W) -> (N, out_channels, H, W) in [-1, 1].

    With b = base_channels and n = n_down (paper: b = 64, n = 4 at 64 x 64):

        encoder: Conv4s2(b) - LReLU, [Conv4s2(2^k b) - BN - LReLU] k = 1 .. n-1
                 (H -> H / 2**n, 2^(n-1) b channels)
        decoder: [ConvT4s2(2^(k-1) b) - BN - ReLU] k = n-1 .. 1, ConvT4s2(out) - tanh

    LeakyReLU slope 0.2, no norm on the layer that reads the image or on the output.
    No skip connections (unlike the U-Net): the whole image goes through the bottleneck.

    Args:
        in_channels: channels of domain A images.
        out_channels: channels of domain B images.
        base_channels: b (64 in the paper).
        n_down: n stride-2 stages; H and W must be multiples of 2**n.
        norm: ``batch`` (the paper) or ``none``.
        spectral_norm: spectrally normalise every (transposed) convolution.
        init: ``default`` (PyTorch's, as the authors' code) or ``dcgan`` (N(0, 0.02)).

    Raises:
        ValueError: in forward, for other than ``in_channels`` channels or sides that
            are not multiples of 2**n_down.
    """

    def __init__(
        self,
        in_channels: PositiveInt = 3,
        out_channels: PositiveInt = 3,
        base_channels: PositiveInt = 64,
        n_down: NStages = 4,
        norm: Literal["batch", "none"] = "batch",
        spectral_norm: bool = False,
        init: InitName = "default",
    ) -> None:
        super().__init__()
        if norm not in ("batch", "none"):
            raise ValueError(f"discogan-g: norm must be 'batch' or 'none'; got {norm!r}.")
        self.in_channels, self.out_channels = int(in_channels), int(out_channels)
        self.n_down = int(n_down)
        bn = norm == "batch"
        b = base_channels
        layers: list[nn.Module] = [
            nn.Conv2d(self.in_channels, b, 4, 2, 1),
            nn.LeakyReLU(LEAKY_SLOPE),
        ]
        c = b
        for _ in range(1, self.n_down):
            layers += [nn.Conv2d(c, 2 * c, 4, 2, 1, bias=not bn)]
            layers += [nn.BatchNorm2d(2 * c)] if bn else []
            layers += [nn.LeakyReLU(LEAKY_SLOPE)]
            c *= 2
        for _ in range(1, self.n_down):
            layers += [nn.ConvTranspose2d(c, c // 2, 4, 2, 1, bias=not bn)]
            layers += [nn.BatchNorm2d(c // 2)] if bn else []
            layers += [nn.ReLU()]
            c //= 2
        layers += [nn.ConvTranspose2d(c, self.out_channels, 4, 2, 1), nn.Tanh()]
        self.net = nn.Sequential(*layers)
        init_weights(self, init)
        if spectral_norm:
            apply_spectral_norm(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (N, in_channels, H, W), H and W multiples of 2**n_down -> (N, out_channels, H, W)."""
        check_image(
            "discogan-g", x, self.in_channels, 2**self.n_down,
            hint=f"(n_down={self.n_down} stride-2 stages; pad or crop the images).",
        )  # fmt: skip
        return self.net(x)


@NETS.register("discogan-d", paper=_PAPER)
class DiscoGANDiscriminator(nn.Module):
    """DiscoGAN critic: images (N, C, H, W) -> CriticOutput(score (N,), features (N, F)).

    With b = base_channels and n = n_layers (paper: 64, 128, 256, 512 at 64 x 64):

        h_1 = LReLU(Conv4s2(x))                          (b channels, H/2; no norm)
        h_k = LReLU(BN(Conv4s2(h_{k-1})))   k = 2 .. n   (2^(k-1) b channels, H/2^k)
        score = Conv(h_n), kernel = the whole H/2^n x W/2^n map, no padding -> (N,)

    ``features`` is [flatten(h_2), ..., flatten(h_n)] (N, F): the intermediate layers
    the paper's feature loss compares between real and generated images (the authors'
    code returns the activations of layers 2, 3 and 4). :attr:`feature_splits` gives
    the width of each part, so a loss can be averaged layer by layer.

    Args:
        in_shape: (C, H, W); H and W multiples of 2**n_layers.
        base_channels: b (64 in the paper).
        n_layers: n stride-2 layers, 2..8 (4 in the paper).
        norm: ``batch`` (the paper) or ``none`` (usual with ``spectral_norm``).
        spectral_norm: spectrally normalise every convolution (Miyato et al. 2018).
        init: ``default`` (PyTorch's) or ``dcgan`` (N(0, 0.02)).

    Raises:
        UnsupportedShapeError (a ValueError): for an ``in_shape`` whose sides are not
            multiples of 2**n_layers; in forward, a ValueError for any other input shape.
    """

    def __init__(
        self,
        in_shape: Shape,
        base_channels: PositiveInt = 64,
        n_layers: Annotated[int, Field(ge=2, le=8)] = 4,
        norm: Literal["batch", "none"] = "batch",
        spectral_norm: bool = False,
        init: InitName = "default",
    ) -> None:
        super().__init__()
        self.in_shape = tuple(int(s) for s in in_shape)
        n = int(n_layers)
        if not 2 <= n <= 8:
            raise ValueError(f"discogan-d: n_layers must be in 2..8; got {n}.")
        self.trunk = ConvPyramid("discogan-d", self.in_shape, base_channels, n, norm)
        c, h, w = self.trunk.out_shape
        self.head = nn.Conv2d(c, 1, (h, w))  # the whole final map -> one logit
        #: Widths of flatten(h_2), ..., flatten(h_n) inside ``features``.
        self.feature_splits: tuple[int, ...] = self.trunk.widths[1:]
        init_weights(self, init)
        if spectral_norm:
            apply_spectral_norm(self)

    def forward(self, x: torch.Tensor) -> CriticOutput:
        """x: (N, *in_shape) -> CriticOutput(score (N,), features (N, sum(feature_splits)), None)."""
        check_input_shape("discogan-d", x, self.in_shape)
        hs = self.trunk(x)
        feats = [h.flatten(1) for h in hs[1:]]
        h = hs[-1]
        score = self.head(h).reshape(x.shape[0])
        return CriticOutput(score=score, features=torch.cat(feats, dim=1), aux=None)

"""SRResNet / SRGAN: super-resolution generator and critic.

Ledig et al. 2017, Photo-Realistic Single Image Super-Resolution Using a Generative
Adversarial Network, section 2.2 and figure 4. The generator (SRResNet) keeps the
low-resolution grid through B residual blocks and upsamples at the end with sub-pixel
convolutions (Shi et al. 2016, Real-Time Single Image and Video Super-Resolution Using
an Efficient Sub-Pixel Convolutional Neural Network); the critic is a VGG-style stack
of eight 3x3 convolutions and two dense layers.

Registered as ``srresnet-g`` and ``srgan-d``. Images are in [-1, 1] on both sides (the
house convention; the paper scales the low-resolution input to [0, 1] and the output to
[-1, 1]): ``srresnet-g`` maps a low-resolution batch (N, C, h, w) to (N, C, scale h,
scale w) with a tanh output.
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
    InitName,
    PositiveInt,
    Shape,
    UnsupportedShapeError,
    apply_spectral_norm,
    init_weights,
)
from ganforge.registry import NETS

_PAPER = (
    "Ledig et al. 2017, Photo-Realistic Single Image Super-Resolution Using a "
    "Generative Adversarial Network (SRGAN)"
)


class _SRBlock(nn.Module):
    """x (N, c, h, w) -> x + BN(Conv3(PReLU(BN(Conv3(x))))) (Ledig et al., figure 4)."""

    def __init__(self, c: int, bn: bool) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.Conv2d(c, c, 3, 1, 1, bias=not bn)]
        layers += [nn.BatchNorm2d(c)] if bn else []
        layers += [nn.PReLU(), nn.Conv2d(c, c, 3, 1, 1, bias=not bn)]
        layers += [nn.BatchNorm2d(c)] if bn else []
        self.body = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


@NETS.register("srresnet-g", paper=_PAPER)
class SRResNetGenerator(nn.Module):
    """SRResNet: low-res images (N, C_in, h, w) -> high-res (N, C_out, scale h, scale w) in [-1, 1].

    With b = base_channels (64) and B = n_blocks (16), Ledig et al. figure 4:

        h_0 = PReLU(Conv9(b)(x))
        h   = h_0 + BN(Conv3(b)(ResBlock^B(h_0)))       ResBlock: x + BN-Conv3-PReLU-BN-Conv3
        log2(scale) x [Conv3(4b) - PixelShuffle(2) - PReLU]   (4b channels -> b at 2x size)
        out = tanh(Conv9(C_out))

    PixelShuffle(2) rearranges (N, 4b, h, w) into (N, b, 2h, 2w): the sub-pixel
    convolution, learning the upsampling filter at low resolution. PReLU has one learned
    slope per layer. ``norm="none"`` drops every batch norm (as EDSR / ESRGAN do for
    fewer artefacts); convolutions followed by a batch norm have no bias.

    Args:
        in_channels: channels of the low-resolution images.
        out_channels: channels of the high-resolution images.
        base_channels: b (64 in the paper).
        n_blocks: B residual blocks (16 in the paper).
        scale: upsampling factor, 2, 4 (the paper) or 8.
        norm: ``batch`` (the paper) or ``none``.
        spectral_norm: spectrally normalise every convolution.
        init: ``default`` (PyTorch's) or ``dcgan`` (N(0, 0.02)).

    Raises:
        ValueError: in forward, for images with other than ``in_channels`` channels.
    """

    def __init__(
        self,
        in_channels: PositiveInt = 3,
        out_channels: PositiveInt = 3,
        base_channels: PositiveInt = 64,
        n_blocks: Annotated[int, Field(ge=0, le=64)] = 16,
        scale: Literal[2, 4, 8] = 4,
        norm: Literal["batch", "none"] = "batch",
        spectral_norm: bool = False,
        init: InitName = "default",
    ) -> None:
        super().__init__()
        if scale not in (2, 4, 8):
            raise ValueError(f"srresnet-g: scale must be 2, 4 or 8; got {scale!r}.")
        if norm not in ("batch", "none"):
            raise ValueError(f"srresnet-g: norm must be 'batch' or 'none'; got {norm!r}.")
        self.in_channels, self.out_channels = int(in_channels), int(out_channels)
        self.scale = int(scale)
        bn = norm == "batch"
        b = base_channels
        self.head = nn.Sequential(nn.Conv2d(self.in_channels, b, 9, 1, 4), nn.PReLU())
        tail: list[nn.Module] = [nn.Conv2d(b, b, 3, 1, 1, bias=not bn)]
        tail += [nn.BatchNorm2d(b)] if bn else []
        self.blocks = nn.Sequential(*[_SRBlock(b, bn) for _ in range(n_blocks)], *tail)
        up: list[nn.Module] = []
        for _ in range(self.scale.bit_length() - 1):  # log2(scale) x2 stages
            up += [nn.Conv2d(b, 4 * b, 3, 1, 1), nn.PixelShuffle(2), nn.PReLU()]
        self.upsample = nn.Sequential(*up)
        self.out = nn.Sequential(nn.Conv2d(b, self.out_channels, 9, 1, 4), nn.Tanh())
        init_weights(self, init)
        if spectral_norm:
            apply_spectral_norm(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (N, in_channels, h, w) -> (N, out_channels, scale h, scale w)."""
        check_image("srresnet-g", x, self.in_channels)
        h0 = self.head(x)
        h = h0 + self.blocks(h0)  # the long skip around all residual blocks
        return self.out(self.upsample(h))


@NETS.register("srgan-d", paper=_PAPER)
class SRGANDiscriminator(nn.Module):
    """SRGAN critic: images (N, C, H, W) -> CriticOutput(score (N,), features (N, hidden)).

    With b = base_channels (64), Ledig et al. figure 4:

        8 x [Conv3 - BN - LeakyReLU(0.2)], channels b, b, 2b, 2b, 4b, 4b, 8b, 8b,
            strides 1, 2, 1, 2, 1, 2, 1, 2, no BN on the first
        AdaptiveAvgPool2d(1) -> (N, 8b)
        f = LeakyReLU(0.2)(Dense(hidden))                -> features (N, hidden)
        score = Dense(1)(f)                              -> (N,)

    The paper flattens the 6 x 6 x 512 map of its 96 x 96 crops into the first dense
    layer; averaging over positions instead (as common PyTorch ports do) lets the same
    critic read any size, small test images included, at the cost of spatial detail in
    the dense layers (the convolutions still see it).

    Args:
        in_shape: (C, H, W); any sides.
        base_channels: b (64 in the paper).
        hidden: width of the first dense layer (1024 in the paper).
        norm: ``batch`` (the paper) or ``none`` (usual with ``spectral_norm``).
        spectral_norm: spectrally normalise every convolution and dense layer.
        init: ``default`` (PyTorch's) or ``dcgan`` (N(0, 0.02)).

    Raises:
        UnsupportedShapeError (a ValueError): ``in_shape`` not (C, H, W); in forward, a
            ValueError for any other input shape.
    """

    def __init__(
        self,
        in_shape: Shape,
        base_channels: PositiveInt = 64,
        hidden: PositiveInt = 1024,
        norm: Literal["batch", "none"] = "batch",
        spectral_norm: bool = False,
        init: InitName = "default",
    ) -> None:
        super().__init__()
        self.in_shape = tuple(int(s) for s in in_shape)
        if len(self.in_shape) != 3:
            raise UnsupportedShapeError(
                f"srgan-d needs in_shape (C, H, W); got in_shape={self.in_shape}."
            )
        if norm not in ("batch", "none"):
            raise ValueError(f"srgan-d: norm must be 'batch' or 'none'; got {norm!r}.")
        bn = norm == "batch"
        b = base_channels
        widths = [b, b, 2 * b, 2 * b, 4 * b, 4 * b, 8 * b, 8 * b]
        layers: list[nn.Module] = []
        c_in = self.in_shape[0]
        for i, c in enumerate(widths):
            use_bn = bn and i > 0
            layers.append(nn.Conv2d(c_in, c, 3, 1 + i % 2, 1, bias=not use_bn))
            layers += [nn.BatchNorm2d(c)] if use_bn else []
            layers.append(nn.LeakyReLU(LEAKY_SLOPE))
            c_in = c
        self.body = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.dense = nn.Sequential(nn.Linear(c_in, hidden), nn.LeakyReLU(LEAKY_SLOPE))
        self.head = nn.Linear(hidden, 1)
        init_weights(self, init)
        if spectral_norm:
            apply_spectral_norm(self)

    def forward(self, x: torch.Tensor) -> CriticOutput:
        """x: (N, *in_shape) -> CriticOutput(score (N,), features (N, hidden), aux None)."""
        check_input_shape("srgan-d", x, self.in_shape)
        f = self.dense(self.body(x))
        return CriticOutput(score=self.head(f).reshape(x.shape[0]), features=f, aux=None)

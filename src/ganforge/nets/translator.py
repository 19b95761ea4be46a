"""ResNet translator: the CycleGAN generator (Johnson et al.'s style-transfer network).

Johnson et al. 2016, Perceptual Losses for Real-Time Style Transfer and Super-Resolution
(the architecture); Zhu et al. 2017, Unpaired Image-to-Image Translation using
Cycle-Consistent Adversarial Networks (CycleGAN, appendix 7.2, which names the layers
c7s1-64, d128, d256, R256 x n, u128, u64, c7s1-3 and uses 6 blocks at 128 x 128, 9 at
256 x 256).

Registered as ``resnet-translator``. Fully convolutional: any (N, C_in, H, W) with H and
W multiples of 2**n_down maps to (N, C_out, H, W) in [-1, 1].
"""

from __future__ import annotations

from typing import Annotated

import torch
from pydantic import Field
from torch import nn

from ganforge.nets.unet import NormName, check_image, norm_layer
from ganforge.nn.layers import InitName, PositiveInt, apply_spectral_norm, init_weights
from ganforge.registry import NETS

_PAPER = (
    "Zhu et al. 2017, Unpaired Image-to-Image Translation using Cycle-Consistent "
    "Adversarial Networks (CycleGAN); Johnson et al. 2016, Perceptual Losses for "
    "Real-Time Style Transfer and Super-Resolution"
)

#: Number of stride-2 down (and up) sampling stages of a ResNet translator.
NDown = Annotated[int, Field(ge=0, le=6)]
#: Number of residual blocks at the bottleneck.
NBlocks = Annotated[int, Field(ge=0, le=64)]


def _norm(norm: str, c: int) -> list[nn.Module]:
    layer = norm_layer(norm, c)
    return [layer] if layer is not None else []


class ResidualBlock(nn.Module):
    """x (N, C, H, W) -> x + F(x), F = Pad1-Conv3-Norm-ReLU-Pad1-Conv3-Norm (same shape).

    He et al. 2016 residual block as used by Johnson et al. 2016 and CycleGAN (no ReLU
    after the addition; Gross & Wilber 2016). ``pad`` is ``reflect`` (CycleGAN, fewer
    border artefacts) or ``zeros``. With ``norm="none"`` the convolutions keep a bias.
    """

    def __init__(self, channels: int, norm: str, pad: str = "reflect") -> None:
        super().__init__()
        bias = norm == "none"  # a norm's mean subtraction cancels a conv bias
        self.body = nn.Sequential(
            nn.Conv2d(channels, channels, 3, 1, 1, bias=bias, padding_mode=pad),
            *_norm(norm, channels),
            nn.ReLU(),
            nn.Conv2d(channels, channels, 3, 1, 1, bias=bias, padding_mode=pad),
            *_norm(norm, channels),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


@NETS.register("resnet-translator", paper=_PAPER)
class ResNetTranslator(nn.Module):
    """CycleGAN ResNet generator: images (N, in_channels, H, W) -> (N, out_channels, H, W) in [-1, 1].

    With b = base_channels and n = n_down (CycleGAN: b = 64, n = 2):

        c7s1-b:      ReflectPad3 - Conv7 (b) - Norm - ReLU                      (H, W)
        d(2^k b):    Conv3 stride 2 (2^k b) - Norm - ReLU, k = 1 .. n           (H/2^k)
        R(2^n b):    n_blocks residual blocks (:class:`ResidualBlock`, reflection pad)
        u(2^(k-1) b): ConvT3 stride 2, output_padding 1 - Norm - ReLU, k = n .. 1
        c7s1-out:    ReflectPad3 - Conv7 (out_channels) - tanh

    Reflection padding (Johnson et al.'s choice against border artefacts) in the 7x7
    and residual convolutions; zero padding in the stride-2 ones, as CycleGAN's code.
    Convolutions followed by a norm have no bias (the norm cancels it; instance norm
    here has its own learned gain and bias).

    Args:
        in_channels: channels of the source images.
        out_channels: channels of the translated images.
        base_channels: b, channels of the first 7x7 layer (64 in the paper).
        n_blocks: residual blocks at the bottleneck: 6 for 128 x 128, 9 for 256 x 256.
        n_down: stride-2 stages (2 in the paper); H and W must be multiples of 2**n_down.
        norm: ``instance`` (CycleGAN, Johnson et al.'s later versions), ``batch`` or ``none``.
        spectral_norm: spectrally normalise every (transposed) convolution.
        init: ``dcgan`` (N(0, 0.02), as CycleGAN) or ``default`` (PyTorch's).

    Raises:
        ValueError: in forward, for other than ``in_channels`` channels, sides not a
            multiple of 2**n_down, or a bottleneck too small for reflection padding.
    """

    def __init__(
        self,
        in_channels: PositiveInt = 3,
        out_channels: PositiveInt = 3,
        base_channels: PositiveInt = 64,
        n_blocks: NBlocks = 6,
        n_down: NDown = 2,
        norm: NormName = "instance",
        spectral_norm: bool = False,
        init: InitName = "dcgan",
    ) -> None:
        super().__init__()
        norm_layer(norm, 1)  # validates the name
        self.in_channels, self.out_channels = int(in_channels), int(out_channels)
        self.n_down = int(n_down)
        bias = norm == "none"
        b = base_channels
        layers: list[nn.Module] = [
            nn.Conv2d(self.in_channels, b, 7, 1, 3, bias=bias, padding_mode="reflect"),
            *_norm(norm, b),
            nn.ReLU(),
        ]
        c = b
        for _ in range(self.n_down):  # d(2c)
            layers += [nn.Conv2d(c, 2 * c, 3, 2, 1, bias=bias), *_norm(norm, 2 * c), nn.ReLU()]
            c *= 2
        layers += [ResidualBlock(c, norm) for _ in range(n_blocks)]
        for _ in range(self.n_down):  # u(c/2): exact x2 with output_padding=1
            layers += [
                nn.ConvTranspose2d(c, c // 2, 3, 2, 1, output_padding=1, bias=bias),
                *_norm(norm, c // 2),
                nn.ReLU(),
            ]
            c //= 2
        layers += [nn.Conv2d(c, self.out_channels, 7, 1, 3, padding_mode="reflect"), nn.Tanh()]
        self.net = nn.Sequential(*layers)
        init_weights(self, init)
        if spectral_norm:
            apply_spectral_norm(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (N, in_channels, H, W), H and W multiples of 2**n_down -> (N, out_channels, H, W)."""
        m = 2**self.n_down
        check_image(
            "resnet-translator", x, self.in_channels, m,
            hint=f"(n_down={self.n_down} stride-2 stages; pad or crop the images).",
        )  # fmt: skip
        if min(x.shape[2], x.shape[3]) < 4 or min(x.shape[2], x.shape[3]) // m < 2:
            raise ValueError(
                f"resnet-translator expects images of at least {max(4, 2 * m)} pixels a side "
                f"(reflection padding needs a bottleneck of 2 x 2 or more with "
                f"n_down={self.n_down}); got {tuple(x.shape)}."
            )
        return self.net(x)

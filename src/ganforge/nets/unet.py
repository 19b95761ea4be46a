"""U-Net: the pix2pix image-to-image generator (and its encoder-decoder ablation).

Isola et al. 2017, Image-to-Image Translation with Conditional Adversarial Networks
(pix2pix), section 3.2.1 and appendix 6.1.1; the skip connections come from Ronneberger
et al. 2015, U-Net: Convolutional Networks for Biomedical Image Segmentation.

Registered as ``unet-g``. The network is fully convolutional: any (N, C_in, H, W) with
H and W divisible by 2**depth maps to (N, C_out, H, W) in [-1, 1] (tanh). pix2pix uses
depth 8 at 256 x 256 (so the bottleneck is 1 x 1) and 7 at 128 x 128: depth = log2(H)
reaches a 1 x 1 bottleneck; a smaller depth leaves an (H / 2**depth) x (W / 2**depth)
one, which is fine too (a smaller receptive field for the generator).

Also home of the small helpers the other translation families share (:mod:`patchgan`,
:mod:`translator`, :mod:`discogan`, :mod:`stargan`, :mod:`srresnet`, :mod:`segan` import
them from here, as :mod:`dcgan` imports from :mod:`mlp`): :data:`NormName`,
:func:`norm_layer`, :func:`check_image` and :class:`NoiseDropout`, and the
:class:`UNet` body that ``segan-s`` reuses with a sigmoid output.
"""

from __future__ import annotations

from typing import Annotated, Literal

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn

from ganforge.nn.layers import (
    LEAKY_SLOPE,
    InitName,
    PositiveInt,
    Probability,
    apply_spectral_norm,
    init_weights,
)
from ganforge.registry import NETS

_PAPER = (
    "Isola et al. 2017, Image-to-Image Translation with Conditional Adversarial Networks "
    "(pix2pix); Ronneberger et al. 2015, U-Net: Convolutional Networks for Biomedical "
    "Image Segmentation"
)

# -- shared by the translation families ------------------------------------------------------
#: Feature normalisation of the translation networks: batch norm (pix2pix, DiscoGAN,
#: SRGAN), instance norm (CycleGAN, StarGAN; Ulyanov et al. 2016) or none.
NormName = Literal["batch", "instance", "none"]
#: Number of stride-2 levels of a U-Net (2**depth must divide H and W).
UNetDepth = Annotated[int, Field(ge=1, le=12)]


def norm_layer(norm: str, channels: int) -> nn.Module | None:
    """A fresh normalisation layer for (N, channels, H, W) maps, or None for ``none``.

    ``instance`` is ``nn.InstanceNorm2d(affine=True)`` without running statistics: each
    sample is normalised by its own per-channel mean and variance in training *and* eval
    mode (what instance norm means; pix2pix and CycleGAN use it that way), then scaled
    and shifted by a learned per-channel gain and bias (Ulyanov et al. 2016, Instance
    Normalization). It needs more than one pixel per channel.

    Raises:
        ValueError: for an unknown name.
    """
    if norm == "batch":
        return nn.BatchNorm2d(channels)
    if norm == "instance":
        return nn.InstanceNorm2d(channels, affine=True, track_running_stats=False)
    if norm == "none":
        return None
    raise ValueError(f"Unknown norm {norm!r}; choose 'batch', 'instance' or 'none'.")


def check_image(
    net: str, x: torch.Tensor, channels: int, multiple: int = 1, hint: str = ""
) -> None:
    """Check that ``x`` is a batch of images (N, channels, H, W) with H, W divisible by
    ``multiple``; else a ValueError that says what ``net`` expects (and ``hint``)."""
    if not isinstance(x, torch.Tensor) or x.dim() != 4 or x.shape[1] != channels:
        got = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ValueError(
            f"{net} expects images of shape (N, {channels}, H, W); got {got}."
            + (f" {hint}" if hint else "")
        )
    h, w = int(x.shape[2]), int(x.shape[3])
    if h % multiple or w % multiple or h < multiple or w < multiple:
        raise ValueError(
            f"{net} expects H and W to be positive multiples of {multiple}; got H={h}, "
            f"W={w} (shape {tuple(x.shape)})." + (f" {hint}" if hint else "")
        )


class NoiseDropout(nn.Module):
    """Dropout that can stay on in eval mode: pix2pix's source of randomness.

    Isola et al. 2017 (section 3.1) give the generator no z: it learnt to ignore it.
    The only noise is dropout in some decoder layers, "applied ... at both training and
    test time". With ``at_test=True`` this layer drops (and rescales by 1 / (1 - p)) in
    eval mode too: ``net.eval()`` then still samples, and two calls differ unless the
    global torch RNG is re-seeded between them (``torch.manual_seed``). With
    ``at_test=False`` it is ``nn.Dropout``: identity in eval mode.
    """

    def __init__(self, p: float, at_test: bool) -> None:
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise ValueError(f"dropout must be in [0, 1); got {p}.")
        self.p = float(p)
        self.at_test = bool(at_test)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.dropout(x, self.p, training=self.training or self.at_test)

    def extra_repr(self) -> str:
        return f"p={self.p}, at_test={self.at_test}"


# -- the U-Net body ---------------------------------------------------------------------------
class UNet(nn.Module):
    """U-Net body: (N, in_channels, H, W) -> (N, out_channels, H, W); not registered.

    ``unet-g`` (tanh output) and ``segan-s`` (sigmoid output, resize-convolutions) are
    this module with their papers' defaults. With e_i the output of encoder level i
    (H / 2**i, channels c_i = min(base_channels * 2**(i - 1), max_channels)):

        e_1 = Conv4s2(x)                                 (no norm on the image side)
        e_i = Norm(Conv4s2(LeakyReLU_0.2(e_{i-1})))      1 < i < D
        e_D = Conv4s2(LeakyReLU_0.2(e_{D-1}))            (no norm at the bottleneck)
        u_D = Drop(Norm(Up(ReLU(e_D))))                  (H / 2**(D-1), c_{D-1} channels)
        u_i = Drop(Norm(Up(ReLU([e_i, u_{i+1}]))))       1 < i < D, [.,.] = channel concat
        out = act(Up(ReLU([e_1, u_2])))                  (H, out_channels)

    This is pix2pix's pre-activation ordering (their ``UnetSkipConnectionBlock``): the
    skip carries e_i before its activation, and the decoder's ReLU acts on the concat.
    ``Up`` is a 4x4 stride-2 transposed convolution (``upsample="transposed"``) or a
    bilinear x2 resize followed by a 3x3 convolution (``"resize"``, which avoids
    checkerboard artefacts; Odena et al. 2016). ``Drop`` is :class:`NoiseDropout` in the
    innermost three decoder levels i = D, D-1, D-2 (never the output level), the
    paper's CD512-CD512-CD512 (appendix 6.1.1); identity elsewhere or with dropout 0.
    Without ``skips`` the concatenations are left out: pix2pix's "encoder-decoder"
    ablation (section 4.3, figure 4). The bottleneck is left unnormalised because a
    1 x 1 map has no spatial statistics (instance norm of it is 0). Convolutions
    followed by a norm have no bias (the norm's mean subtraction cancels it).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        base_channels: int = 64,
        max_channels: int = 512,
        depth: int = 8,
        norm: str = "batch",
        dropout: float = 0.5,
        dropout_at_test: bool = True,
        skips: bool = True,
        upsample: Literal["transposed", "resize"] = "transposed",
        out_activation: Literal["tanh", "sigmoid"] = "tanh",
        spectral_norm: bool = False,
        init: str = "dcgan",
        name: str = "unet",
    ) -> None:
        super().__init__()
        self.name = name
        for arg, v in (("in_channels", in_channels), ("out_channels", out_channels),
                       ("base_channels", base_channels), ("max_channels", max_channels),
                       ("depth", depth)):  # fmt: skip
            if int(v) < 1:
                raise ValueError(f"{name}: {arg} must be a positive integer; got {v}.")
        if upsample not in ("transposed", "resize"):
            raise ValueError(
                f"{name}: upsample must be 'transposed' or 'resize'; got {upsample!r}."
            )
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"{name}: dropout must be in [0, 1) (0 = off); got {dropout}.")
        if out_activation not in ("tanh", "sigmoid"):
            raise ValueError(f"{name}: out_activation must be 'tanh' or 'sigmoid'.")
        norm_layer(norm, 1)  # validates the name
        self.in_channels, self.out_channels = int(in_channels), int(out_channels)
        self.depth, self.skips = int(depth), bool(skips)
        d = self.depth
        # ch[i] = channels of e_{i+1} (0-based list of the 1-based levels above)
        ch = [min(base_channels * 2**i, max_channels) for i in range(d)]
        self.channels = tuple(ch)

        self.down = nn.ModuleList()
        for i in range(d):
            has_norm = 0 < i < d - 1 and norm != "none"
            layers: list[nn.Module] = [] if i == 0 else [nn.LeakyReLU(LEAKY_SLOPE)]
            c_in = self.in_channels if i == 0 else ch[i - 1]
            layers.append(nn.Conv2d(c_in, ch[i], 4, 2, 1, bias=not has_norm))
            if has_norm:
                layers.append(norm_layer(norm, ch[i]))  # type: ignore[arg-type]
            self.down.append(nn.Sequential(*layers))

        # up[i] maps level i + 1 to the resolution of level i (up[0]: the output layer)
        self.up = nn.ModuleList()
        for i in range(d):
            outer = i == 0
            has_norm = not outer and norm != "none"
            c_in = ch[i] if (i == d - 1 or not self.skips) else 2 * ch[i]
            c_out = self.out_channels if outer else ch[i - 1]
            layers = [nn.ReLU()]
            if upsample == "transposed":
                layers.append(nn.ConvTranspose2d(c_in, c_out, 4, 2, 1, bias=not has_norm))
            else:
                layers += [
                    nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False),
                    nn.Conv2d(c_in, c_out, 3, 1, 1, bias=not has_norm),
                ]
            if outer:
                layers.append(nn.Tanh() if out_activation == "tanh" else nn.Sigmoid())
            else:
                if has_norm:
                    layers.append(norm_layer(norm, c_out))  # type: ignore[arg-type]
                if dropout > 0 and i >= d - 3:  # the innermost three decoder levels
                    layers.append(NoiseDropout(dropout, dropout_at_test))
            self.up.append(nn.Sequential(*layers))
        init_weights(self, init)
        if spectral_norm:
            apply_spectral_norm(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (N, in_channels, H, W), H and W multiples of 2**depth -> (N, out_channels, H, W)."""
        m = 2**self.depth
        check_image(
            self.name, x, self.in_channels, m,
            hint=f"(depth={self.depth} stride-2 levels; pad or crop the images, or build "
            f"the network with a depth d such that 2**d divides H and W).",
        )  # fmt: skip
        enc: list[torch.Tensor] = []
        h = x
        for down in self.down:  # e_1 (H/2) ... e_D (H/2**D)
            h = down(h)
            enc.append(h)
        h = self.up[-1](enc[-1])  # u_D
        for i in range(self.depth - 2, -1, -1):
            if self.skips:  # [e_{i+1}, u_{i+2}]: the skip first, as in pix2pix
                h = torch.cat([enc[i], h], dim=1)
            h = self.up[i](h)
        return h


@NETS.register("unet-g", paper=_PAPER)
class UNetGenerator(UNet):
    """pix2pix U-Net generator: images (N, in_channels, H, W) -> (N, out_channels, H, W) in [-1, 1].

    Encoder C64-C128-C256-C512-C512-C512-C512-C512 (4x4 stride-2 convolutions,
    LeakyReLU(0.2), norm except on the first and the bottleneck level), decoder
    CD512-CD512-CD512-C512-C256-C128-C64 (4x4 stride-2 transposed convolutions, ReLU,
    norm, dropout 0.5 in the first three) with skip connections from encoder level i to
    decoder level i, then a transposed convolution to ``out_channels`` and tanh (Isola
    et al. 2017, appendix 6.1.1; depth 8, base 64, max 512). The full layer equations
    are in :class:`UNet`.

    Randomness: pix2pix has no z; dropout is the noise and the paper keeps it on at test
    time. With ``dropout_at_test=True`` (the default, as the paper) the dropout layers
    drop in eval mode too, so ``net.eval()(x)`` is random: seed the global torch RNG
    (``torch.manual_seed``) before a call for reproducible samples. With
    ``dropout_at_test=False`` eval mode is deterministic (dropout is the identity),
    and ``train()`` mode drops as usual.

    Args:
        in_channels: channels of the source images (C_in).
        out_channels: channels of the generated target images (C_out).
        base_channels: channels of the first encoder level (64 in the paper).
        max_channels: channel cap of the deeper levels (512 in the paper).
        depth: number of stride-2 levels D; H and W must be multiples of 2**D. 8 for
            256 x 256 (pix2pix, 1 x 1 bottleneck), 7 for 128 x 128; log2(H) in general.
        norm: ``batch`` (pix2pix), ``instance`` or ``none``.
        dropout: dropout probability of the three innermost decoder levels; 0 = off.
        dropout_at_test: keep that dropout on in eval mode (the paper's test-time noise).
        skips: U-Net skip connections; False = pix2pix's encoder-decoder ablation.
        spectral_norm: spectrally normalise every (transposed) convolution.
        init: ``dcgan`` (N(0, 0.02), as pix2pix) or ``default`` (PyTorch's).

    Raises:
        ValueError: in forward, for images whose channels differ from ``in_channels``
            or whose sides are not multiples of 2**depth.
    """

    def __init__(
        self,
        in_channels: PositiveInt = 3,
        out_channels: PositiveInt = 3,
        base_channels: PositiveInt = 64,
        max_channels: PositiveInt = 512,
        depth: UNetDepth = 8,
        norm: NormName = "batch",
        dropout: Probability = 0.5,
        dropout_at_test: bool = True,
        skips: bool = True,
        spectral_norm: bool = False,
        init: InitName = "dcgan",
    ) -> None:
        super().__init__(
            in_channels, out_channels, base_channels, max_channels, depth, norm, dropout,
            dropout_at_test, skips, upsample="transposed", out_activation="tanh",
            spectral_norm=spectral_norm, init=init, name="unet-g",
        )  # fmt: skip

"""PatchGAN: the pix2pix / CycleGAN critic that scores every N x N patch of an image.

Isola et al. 2017, Image-to-Image Translation with Conditional Adversarial Networks
(pix2pix), section 3.2.2 and appendix 6.1.2. The critic is a stack of 4x4 convolutions
whose every output sees one receptive field of the input; the paper compares patch
sizes 1 x 1 ("PixelGAN"), 16, 70 (its default) and 286 x 286 ("ImageGAN"). CycleGAN
(Zhu et al. 2017) uses the 70 x 70 one with instance norm.

Registered as ``patchgan-d``. Fully convolutional: any input at least
:attr:`PatchGANDiscriminator.min_side` pixels on each side. For a conditional critic
the algorithm concatenates source and target along channels, so ``in_channels`` is
C_source + C_target.

:func:`receptive_field` computes the receptive field of any stack of convolutions from
its kernel sizes, strides and dilations.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

import torch
from torch import nn

from ganforge.nets.base import CriticOutput
from ganforge.nets.unet import NormName, check_image, norm_layer
from ganforge.nn.layers import (
    LEAKY_SLOPE,
    InitName,
    PositiveInt,
    apply_spectral_norm,
    init_weights,
)
from ganforge.registry import NETS

_PAPER = (
    "Isola et al. 2017, Image-to-Image Translation with Conditional Adversarial Networks "
    "(pix2pix), PatchGAN / PixelGAN / ImageGAN"
)

#: Receptive fields of the PatchGAN configurations; "full" = one score per image.
ReceptiveField = Literal[1, 16, 34, 70, 142, 286, "full"]
#: Receptive field -> number of stride-2 convolutions of the stack (pix2pix's n_layers).
N_LAYERS: dict[int | str, int] = {16: 1, 34: 2, 70: 3, 142: 4, 286: 5, "full": 5}


def _pair(v: int | tuple[int, ...]) -> tuple[int, int]:
    """(v, v) for an int, the first two entries of a tuple (a layer's kernel / stride)."""
    return (int(v), int(v)) if isinstance(v, int) else (int(v[0]), int(v[-1]))


def receptive_field(net_or_layers: nn.Module | Iterable[nn.Module | tuple[int, int]]) -> int:
    """The receptive field (side, in input pixels) of one output of a convolution stack.

    Layers are read in order: the ``nn.Conv2d`` / ``nn.MaxPool2d`` / ``nn.AvgPool2d``
    modules of a module (``net.modules()``, registration order, which is the forward
    order for ``nn.Sequential`` stacks), or an iterable of such modules or of
    ``(kernel, stride)`` pairs. Other layers (activations, norms) are pointwise and do
    not widen it. With j_l = s_1 ... s_{l-1} the input-pixel distance between two
    neighbouring inputs of layer l (its "jump"):

        r_0 = 1,   r_l = r_{l-1} + d_l (k_l - 1) j_l

    k the kernel, s the stride, d the dilation. E.g. pix2pix's 70 x 70 PatchGAN
    (three 4x4 stride-2 convolutions, two 4x4 stride-1): 1 + 3 (1 + 2 + 4 + 8 + 8) = 70.
    Padding does not change it (it only shifts the window and clips it at the border).

    Raises:
        ValueError: for a transposed convolution (its output is not a window function
            of the input in this sense) or a non-square kernel / stride.
    """
    items = (
        list(net_or_layers.modules())
        if isinstance(net_or_layers, nn.Module)
        else list(net_or_layers)
    )
    rf, jump = 1, 1
    for m in items:
        if isinstance(m, tuple):
            k, s, d = int(m[0]), int(m[1]), 1
        elif isinstance(m, (nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)):
            raise ValueError("receptive_field: transposed convolutions are not supported.")
        elif isinstance(m, (nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d)):
            ks, ss, ds = _pair(m.kernel_size), _pair(m.stride), _pair(getattr(m, "dilation", 1))
            if ks[0] != ks[1] or ss[0] != ss[1] or ds[0] != ds[1]:
                raise ValueError(f"receptive_field: square kernels and strides only; got {m}.")
            k, s, d = ks[0], ss[0], ds[0]
        else:
            continue
        rf += d * (k - 1) * jump
        jump *= s
    return rf


@NETS.register("patchgan-d", paper=_PAPER)
class PatchGANDiscriminator(nn.Module):
    """PatchGAN critic: images (N, in_channels, H, W) -> CriticOutput(score (N, H', W'), features (N, F)).

    Every score is the logit of "this receptive_field x receptive_field patch is real";
    the objective averages its loss over patches (pix2pix, section 3.2.2). Layers, with
    n = N_LAYERS[receptive_field] and c_l = base_channels * min(2**l, 8) (pix2pix's
    ``NLayerDiscriminator``; C64-C128-C256-C512 for 70 x 70):

        Conv4s2(c_0) + LeakyReLU(0.2)                           (no norm on the input)
        [Conv4s2(c_l) + Norm + LeakyReLU(0.2)]   l = 1 .. n-1
        Conv4s1(c_n) + Norm + LeakyReLU(0.2)      -> h (N, c_n, H', W') penultimate map
        Conv4s1(1)                                -> score map (N, H', W')

    all with padding 1. receptive_field = 1 + 3 (1 + 2 + ... + 2**(n-1) + 2**n + 2**n)
    = 9 * 2**n - 2: 16, 34, 70, 142, 286 for n = 1..5 (see :func:`receptive_field`).

    ``receptive_field=1`` is the PixelGAN: 1x1 convolutions Conv(c_0) + LeakyReLU, Conv(2 c_0) + Norm + LeakyReLU,
    Conv(1), a score per pixel (only colour statistics). ``"full"`` is the ImageGAN: the
    286 stack with its score map averaged over positions, one logit per image, score
    (N,); at 256 x 256 every patch of the 286 stack already sees the whole image.

    ``features`` (N, c_n) is the penultimate map h averaged over positions (one value
    per channel), so its width does not depend on the image size; for feature matching.

    Output side for an input side s: H' = s / 2**n - 2 for s a multiple of 2**n (the
    paper's 30 x 30 map for 256 x 256 with the 70 stack); ``min_side`` is the smallest
    input side that leaves a 1 x 1 map.

    Args:
        in_channels: C; for pix2pix's conditional critic C_source + C_target (6 for RGB
            to RGB), for CycleGAN's unconditional one the image channels.
        base_channels: c_0 (64 in the paper).
        receptive_field: 1, 16, 34, 70 (default), 142, 286 or ``"full"``.
        norm: ``batch`` (pix2pix), ``instance`` (CycleGAN) or ``none`` (usual with
            ``spectral_norm``).
        spectral_norm: spectrally normalise every convolution (Miyato et al. 2018).
        init: ``dcgan`` (N(0, 0.02), as pix2pix) or ``default`` (PyTorch's).

    Raises:
        ValueError: for an unknown receptive field; in forward, for images with other
            than ``in_channels`` channels or smaller than ``min_side``.
    """

    def __init__(
        self,
        in_channels: PositiveInt = 3,
        base_channels: PositiveInt = 64,
        receptive_field: ReceptiveField = 70,
        norm: NormName = "batch",
        spectral_norm: bool = False,
        init: InitName = "dcgan",
    ) -> None:
        super().__init__()
        if receptive_field != 1 and receptive_field not in N_LAYERS:
            raise ValueError(
                f"patchgan-d: receptive_field must be one of 1, 16, 34, 70, 142, 286 or "
                f"'full'; got {receptive_field!r}."
            )
        norm_layer(norm, 1)  # validates the name
        self.in_channels = int(in_channels)
        self.receptive_field = receptive_field
        self.n_layers = 0 if receptive_field == 1 else N_LAYERS[receptive_field]

        def norm_or_none(c: int) -> list[nn.Module]:
            layer = norm_layer(norm, c)
            return [layer] if layer is not None else []

        bias = norm == "none"  # a norm's mean subtraction cancels a conv bias
        b = base_channels
        layers: list[nn.Module]
        if receptive_field == 1:  # PixelGAN
            layers = [nn.Conv2d(self.in_channels, b, 1), nn.LeakyReLU(LEAKY_SLOPE),
                      nn.Conv2d(b, 2 * b, 1, bias=bias), *norm_or_none(2 * b),
                      nn.LeakyReLU(LEAKY_SLOPE)]  # fmt: skip
            c = 2 * b
        else:
            n = self.n_layers
            layers = [nn.Conv2d(self.in_channels, b, 4, 2, 1), nn.LeakyReLU(LEAKY_SLOPE)]
            c = b
            for stride, c_next in [(2, b * min(2**j, 8)) for j in range(1, n)] + [
                (1, b * min(2**n, 8))
            ]:
                layers += [nn.Conv2d(c, c_next, 4, stride, 1, bias=bias), *norm_or_none(c_next),
                           nn.LeakyReLU(LEAKY_SLOPE)]  # fmt: skip
                c = c_next
        self.body = nn.Sequential(*layers)
        self.head = nn.Conv2d(c, 1, 1) if receptive_field == 1 else nn.Conv2d(c, 1, 4, 1, 1)
        self.feature_dim = c
        self.min_side = self._min_side()
        init_weights(self, init)
        if spectral_norm:
            apply_spectral_norm(self)

    def _out_side(self, side: int) -> int:
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                k, s, p = m.kernel_size[0], m.stride[0], m.padding[0]
                side = (side + 2 * p - k) // s + 1  # type: ignore[operator]
                if side < 1:
                    return 0
        return side

    def _min_side(self) -> int:
        side = 1
        while self._out_side(side) < 1:
            side += 1
        return side

    def forward(self, x: torch.Tensor) -> CriticOutput:
        """x: (N, in_channels, H, W), H, W >= min_side -> CriticOutput(score (N, H', W'),
        or (N,) for ``"full"``; features (N, c_n); aux None)."""
        check_image("patchgan-d", x, self.in_channels)
        if min(x.shape[2], x.shape[3]) < self.min_side:
            raise ValueError(
                f"patchgan-d expects images of at least {self.min_side} x {self.min_side} "
                f"pixels with receptive_field={self.receptive_field!r}; got "
                f"{tuple(x.shape)}. Use a smaller receptive_field or larger images."
            )
        h = self.body(x)  # (N, c_n, H', W')
        score = self.head(h)[:, 0]  # (N, H', W') patch logits
        if self.receptive_field == "full":
            score = score.mean(dim=(1, 2))  # ImageGAN: one logit per image, (N,)
        return CriticOutput(score=score, features=h.mean(dim=(2, 3)), aux=None)

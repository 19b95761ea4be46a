"""SegAN: adversarial segmentation with a multi-scale L1 loss.

Xue et al. 2018, SegAN: Adversarial Network with Multi-scale L1 Loss for Medical Image
Segmentation (Neuroinformatics), section 2. The segmentor S maps an image to a mask;
the critic C reads the image masked by the predicted or the true mask (x * mask,
computed by the algorithm) and its activations at every layer, input included, are
the multi-scale features whose L1 distance (averaged layer by layer) S minimises and
C maximises.

Registered as ``segan-s`` and ``segan-c``. Masks are probabilities in [0, 1] (sigmoid),
not images in [-1, 1]: the product x * mask then keeps x where the mask is 1.
"""

from __future__ import annotations

from typing import Annotated, Literal

import torch
from pydantic import Field
from torch import nn

from ganforge.nets.base import CriticOutput
from ganforge.nets.unet import UNet, UNetDepth
from ganforge.nn.layers import (
    ConvPyramid,
    InitName,
    PositiveInt,
    Shape,
    apply_spectral_norm,
    init_weights,
)
from ganforge.registry import NETS

_PAPER = (
    "Xue et al. 2018, SegAN: Adversarial Network with Multi-scale L1 Loss for Medical "
    "Image Segmentation"
)


@NETS.register("segan-s", paper=_PAPER)
class SegANSegmentor(UNet):
    """SegAN segmentor: images (N, in_channels, H, W) -> mask probabilities (N, out_channels, H, W) in [0, 1].

    A U-Net (:class:`~ganforge.nets.unet.UNet`, the same body as ``unet-g``): encoder
    of 4x4 stride-2 convolutions with LeakyReLU(0.2) and batch norm (64, 128, 256, 512
    channels at depth 4), decoder of resize-convolutions (bilinear x2 upsampling, then
    a 3x3 convolution; Xue et al. use resize-convolutions against checkerboard
    artefacts) with ReLU and batch norm, skip connections by concatenation, and a
    sigmoid output: one probability per pixel and mask channel. No dropout.

    Args:
        in_channels: channels of the input images (e.g. 4 MRI modalities in BRATS).
        out_channels: mask channels (1: one foreground mask).
        base_channels: channels of the first encoder level (64).
        max_channels: channel cap of the deeper levels (512).
        depth: stride-2 levels D; H and W must be multiples of 2**D.
        norm: ``batch`` (the paper), ``instance`` or ``none``.
        skips: U-Net skip connections; False = plain encoder-decoder.
        spectral_norm: spectrally normalise every convolution.
        init: ``default`` (PyTorch's) or ``dcgan`` (N(0, 0.02)).

    Raises:
        ValueError: in forward, for images whose channels differ from ``in_channels``
            or whose sides are not multiples of 2**depth.
    """

    def __init__(
        self,
        in_channels: PositiveInt = 3,
        out_channels: PositiveInt = 1,
        base_channels: PositiveInt = 64,
        max_channels: PositiveInt = 512,
        depth: UNetDepth = 4,
        norm: Literal["batch", "instance", "none"] = "batch",
        skips: bool = True,
        spectral_norm: bool = False,
        init: InitName = "default",
    ) -> None:
        super().__init__(
            in_channels, out_channels, base_channels, max_channels, depth, norm,
            dropout=0.0, dropout_at_test=False, skips=skips, upsample="resize",
            out_activation="sigmoid", spectral_norm=spectral_norm, init=init, name="segan-s",
        )  # fmt: skip


@NETS.register("segan-c", paper=_PAPER)
class SegANCritic(nn.Module):
    """SegAN critic: masked images (N, C, H, W) -> CriticOutput(score (N,), features (N, F)).

    The input is x * mask (the algorithm multiplies; a (N, 1, H, W) mask broadcasts over
    the image channels). With b = base_channels and n = n_layers (3):

        h_0 = input
        h_k = LeakyReLU(0.2)(Norm(Conv4 s2 p1 (2^(k-1) b)(h_{k-1})))    k = 1 .. n
              (no norm on the first layer)
        features = [flatten(h_0), flatten(h_1), ..., flatten(h_n)]     (N, F)
        score = mean of h_n over channels and positions                 (N,)

    The multi-scale L1 loss of the paper (eq. 2) is
    l_mae = 1/L sum_l mean |f_l(x * s) - f_l(x * y)| over these L = n + 1 parts, s the
    predicted and y the true mask: split ``features`` by :attr:`feature_splits` (the
    widths C H W, 2^0 b H/2 W/2, ...) to average each layer's term on its own. ``score``
    is only there so that the critic has the usual :class:`CriticOutput`; SegAN itself
    uses the features alone.

    Args:
        in_shape: (C, H, W) of the images; H and W multiples of 2**n_layers.
        base_channels: b (64).
        n_layers: n stride-2 layers (3).
        norm: ``batch`` (the paper) or ``none``.
        spectral_norm: spectrally normalise every convolution.
        init: ``default`` (PyTorch's) or ``dcgan`` (N(0, 0.02)).

    Raises:
        UnsupportedShapeError (a ValueError): ``in_shape`` sides not multiples of
            2**n_layers; in forward, a ValueError for any other input shape.
    """

    def __init__(
        self,
        in_shape: Shape,
        base_channels: PositiveInt = 64,
        n_layers: Annotated[int, Field(ge=1, le=8)] = 3,
        norm: Literal["batch", "none"] = "batch",
        spectral_norm: bool = False,
        init: InitName = "default",
    ) -> None:
        super().__init__()
        self.in_shape = tuple(int(s) for s in in_shape)
        self.trunk = ConvPyramid("segan-c", self.in_shape, base_channels, int(n_layers), norm)
        c_in, h, w = self.in_shape
        #: Widths of flatten(h_0) (the input), flatten(h_1), ..., flatten(h_n) in ``features``.
        self.feature_splits: tuple[int, ...] = (c_in * h * w, *self.trunk.widths)
        init_weights(self, init)
        if spectral_norm:
            apply_spectral_norm(self)

    def forward(self, x: torch.Tensor) -> CriticOutput:
        """x: (N, *in_shape), the masked image -> CriticOutput(score (N,), features
        (N, sum(feature_splits)), aux None)."""
        if tuple(x.shape[1:]) != self.in_shape:
            raise ValueError(
                f"segan-c expects masked images of shape "
                f"(N, {', '.join(map(str, self.in_shape))}); got {tuple(x.shape)}."
            )
        hs = self.trunk(x)
        feats = [x.flatten(1)] + [h.flatten(1) for h in hs]
        h = hs[-1]
        score = h.mean(dim=(1, 2, 3))
        return CriticOutput(score=score, features=torch.cat(feats, dim=1), aux=None)

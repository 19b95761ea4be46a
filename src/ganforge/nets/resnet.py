"""SNGAN ResNet: residual generator and spectrally normalised residual critic.

Miyato, Kataoka, Koyama & Yoshida 2018, Spectral Normalization for Generative
Adversarial Networks, Appendix B.4, Table 4 (the CIFAR-10 / STL-10 ResNets, after
Gulrajani et al. 2017's WGAN-GP ResNet); class conditioning as in Miyato & Koyama 2018,
cGANs with Projection Discriminator. Shapes follow the paper's public code
(pfnet-research/sngan_projection, ``gen_models/resnet_32.py``,
``dis_models/snresnet_32.py``):

Generator, 32x32 (``channels`` = 256)::

    z (N, 128) -> Linear -> (N, 256, 4, 4)
    -> 3 x up-ResBlock 256             4 -> 8 -> 16 -> 32
    -> BN -> ReLU -> Conv3x3(256 -> 3) -> tanh -> (N, 3, 32, 32)

    up-ResBlock(x) = Conv3x3(ReLU(BN(Conv3x3(up(ReLU(BN(x)))))))  +  Conv1x1(up(x))

Critic, 32x32 (``channels`` = 128)::

    x (N, 3, 32, 32)
    -> optimized down-ResBlock 3 -> 128      32 -> 16
    -> down-ResBlock 128                      16 -> 8
    -> ResBlock 128 -> ResBlock 128           8 -> 8
    -> ReLU -> sum over H, W -> h (N, 128) -> SNLinear(128 -> 1) -> score (N,)

    optimized(x)     = avgpool(Conv3x3(ReLU(Conv3x3(x))))  +  Conv1x1(avgpool(x))
    down-ResBlock(x) = avgpool(Conv3x3(ReLU(Conv3x3(ReLU(x)))))  +  avgpool(Conv1x1(x))
    ResBlock(x)      = Conv3x3(ReLU(Conv3x3(ReLU(x))))  +  x

``up`` is nearest-neighbour 2x upsampling, ``avgpool`` 2x2 average pooling. A 1x1
shortcut convolution is there exactly when a block changes the shape (resolution or
channels); otherwise the shortcut is the identity. Every critic layer is spectrally
normalised (``spectral_norm=True``, the default). Other resolutions add or remove
blocks: 16x16 has 2 up-blocks and only the optimized down-block, 64x64 has 4 up-blocks
and 3 down-blocks (the final critic map is 8x8 from 32 up, as in the paper).

Initialisation (``init="sngan"``, the paper's code): Xavier (Glorot) uniform,
U(-a, a) with a = gain sqrt(6 / (fan_in + fan_out)), gain sqrt(2) for the 3x3
convolutions inside the residual branches and gain 1 for the 1x1 shortcuts, the
generator's input linear and output convolution, and the critic's linear head (and its
class projection); biases 0; batch-norm scale 1, shift 0. ``init="default"`` keeps
PyTorch's own initialisation.

Registered as ``resnet-g`` and ``resnet-d``. Parameter counts at the paper's widths
(32x32, unconditional): generator 4,276,739; critic 1,053,825 (the arithmetic is in
``tests/test_nets_resnet.py``).
"""

from __future__ import annotations

import math
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from ganforge.nets.base import CriticOutput, check_input_shape
from ganforge.nn.conditional import (
    AuxDim,
    ClassProjection,
    ConditionalBatchNorm,
    NumClasses,
    check_condition_options,
    check_labels,
)
from ganforge.nn.layers import PositiveInt, Shape, UnsupportedShapeError, apply_spectral_norm
from ganforge.registry import NETS

_PAPER = (
    "Miyato et al. 2018, Spectral Normalization for Generative Adversarial Networks "
    "(ResNet, Appendix B.4)"
)

#: Image sides the ResNet networks support -> number of generator up-blocks (4x4 -> H).
#: The critic has one down-block fewer (its final map is H / 2**(n - 1)), then two
#: blocks at that resolution.
SUPPORTED_RESOLUTIONS: dict[int, int] = {16: 2, 32: 3, 64: 4}

#: Initialisation schemes: the paper's Xavier-uniform one, or PyTorch's defaults.
ResNetInit = Literal["sngan", "default"]

_RESIDUAL_GAIN = math.sqrt(2.0)  # 3x3 convs of the residual branches (ReLU before them)


def _geometry(shape: tuple[int, ...], net: str, arg: str) -> tuple[int, int]:
    """(channels, number of up-blocks) for an image shape (C, H, W), or a teaching error."""
    shape = tuple(int(s) for s in shape)
    sides = ", ".join(str(r) for r in SUPPORTED_RESOLUTIONS)
    if len(shape) != 3 or shape[1] != shape[2] or shape[1] not in SUPPORTED_RESOLUTIONS:
        raise UnsupportedShapeError(
            f"{net} supports square images (C, H, H) with H in {{{sides}}}; got {arg}={shape}. "
            f"Resize or pad the data (e.g. MNIST 28x28 -> 32x32 with data.resolution=32)."
        )
    return shape[0], SUPPORTED_RESOLUTIONS[shape[1]]


def _xavier(layer: nn.Conv2d | nn.Linear, gain: float, init: str) -> None:
    """Xavier-uniform weight with ``gain`` and zero bias (``init="sngan"``); else untouched."""
    if init == "sngan":
        nn.init.xavier_uniform_(layer.weight, gain=gain)
        if layer.bias is not None:
            nn.init.zeros_(layer.bias)


def _up(x: torch.Tensor) -> torch.Tensor:
    """Nearest-neighbour 2x upsampling: (N, C, H, W) -> (N, C, 2H, 2W)."""
    return F.interpolate(x, scale_factor=2.0, mode="nearest")


def _down(x: torch.Tensor) -> torch.Tensor:
    """2x2 average pooling: (N, C, H, W) -> (N, C, H/2, W/2)."""
    return F.avg_pool2d(x, 2)


class GBlock(nn.Module):
    """Generator up-block: (N, C_in, H, W) [, y] -> (N, C_out, 2H, 2W).

    residual: BN -> ReLU -> up -> Conv3x3 -> BN -> ReLU -> Conv3x3; shortcut: up -> Conv1x1
    (always learnable: the block changes the resolution). The shortcut is computed as
    Conv1x1 then up, which is the same function (a 1x1 convolution acts on each pixel
    alone, so it commutes with nearest-neighbour copying) at a quarter of the cost.
    With ``num_classes > 0`` both batch norms are conditional (per-class gain and shift).
    """

    def __init__(self, c_in: int, c_out: int, num_classes: int, init: str) -> None:
        super().__init__()
        self.cond = num_classes > 0

        def bn(c: int) -> nn.Module:
            return ConditionalBatchNorm(c, num_classes) if self.cond else nn.BatchNorm2d(c)

        self.bn1 = bn(c_in)
        self.conv1 = nn.Conv2d(c_in, c_out, 3, 1, 1)
        self.bn2 = bn(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1)
        self.shortcut = nn.Conv2d(c_in, c_out, 1, 1, 0)
        _xavier(self.conv1, _RESIDUAL_GAIN, init)
        _xavier(self.conv2, _RESIDUAL_GAIN, init)
        _xavier(self.shortcut, 1.0, init)

    def _bn(self, layer: nn.Module, h: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        return layer(h, y) if self.cond else layer(h)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        h = self.conv1(_up(F.relu(self._bn(self.bn1, x, y))))
        h = self.conv2(F.relu(self._bn(self.bn2, h, y)))
        return h + _up(self.shortcut(x))


class DBlock(nn.Module):
    """Critic block: (N, C_in, H, W) -> (N, C_out, H', W'), H' = H/2 if ``down`` else H.

    residual: ReLU -> Conv3x3 -> ReLU -> Conv3x3 [-> avgpool]; shortcut: [Conv1x1]
    [-> avgpool], the 1x1 convolution only when the shape changes (``down`` or C_in !=
    C_out), the identity otherwise. The shortcut pools first, then convolves: the same
    function as the paper's conv-then-pool (both are linear and act on different axes;
    the bias survives averaging) at a quarter of the cost.

    ``optimized=True`` is the paper's first block, which sees the image: no ReLU before
    the first convolution, and always down with a 1x1 shortcut.
    """

    def __init__(
        self, c_in: int, c_out: int, down: bool, init: str, optimized: bool = False
    ) -> None:
        super().__init__()
        self.down = down or optimized
        self.optimized = optimized
        self.conv1 = nn.Conv2d(c_in, c_out, 3, 1, 1)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1)
        learnable = optimized or self.down or c_in != c_out
        self.shortcut = nn.Conv2d(c_in, c_out, 1, 1, 0) if learnable else None
        _xavier(self.conv1, _RESIDUAL_GAIN, init)
        _xavier(self.conv2, _RESIDUAL_GAIN, init)
        if self.shortcut is not None:
            _xavier(self.shortcut, 1.0, init)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x if self.optimized else F.relu(x)
        h = self.conv2(F.relu(self.conv1(h)))
        s = x
        if self.down:
            h, s = _down(h), _down(s)
        if self.shortcut is not None:
            s = self.shortcut(s)
        return h + s


@NETS.register("resnet-g", paper=_PAPER)
class ResNetGenerator(nn.Module):
    """SNGAN ResNet generator: z (N, latent_dim) [, labels y (N,)] -> images (N, C, H, H)
    in [-1, 1].

    z -> Linear -> (N, channels, 4, 4) -> log2(H) - 2 up-ResBlocks of ``channels``
    channels (4x4 -> H x H) -> BN -> ReLU -> Conv3x3 to C channels -> tanh. At 32x32 with
    ``channels=256`` and ``latent_dim=128`` this is the paper's Table 4 generator
    (4,276,739 parameters). Initialisation: see the module docstring (``init="sngan"``:
    Xavier uniform, gain sqrt(2) in the residual branches, 1 elsewhere).

    Class-conditional generation (off by default, ``num_classes = 0``): with ``num_classes
    = K > 0`` every batch norm inside the up-blocks becomes a
    :class:`~ganforge.nn.conditional.ConditionalBatchNorm` (per-class gain and shift,
    gain 1 and shift 0 at initialisation; Miyato & Koyama 2018), the final batch norm
    stays unconditional as in their code, and ``forward(z, y)`` needs int64 labels y (N,).

    Args:
        latent_dim: size of z (the paper: 128).
        out_shape: (C, H, H) with H in 16, 32, 64.
        channels: width of every up-block (the paper: 256).
        spectral_norm: spectrally normalise every convolution and linear layer (off in the
            paper's generator; SAGAN / BigGAN turn it on).
        init: ``sngan`` (the paper's Xavier-uniform scheme) or ``default`` (PyTorch's).
        num_classes: K, the number of classes to condition on, 0..10000; 0 = unconditional.

    Raises:
        UnsupportedShapeError (a ValueError): for any other ``out_shape``.
    """

    def __init__(
        self,
        latent_dim: PositiveInt,
        out_shape: Shape,
        channels: PositiveInt = 256,
        spectral_norm: bool = False,
        init: ResNetInit = "sngan",
        num_classes: NumClasses = 0,
    ) -> None:
        super().__init__()
        check_condition_options("resnet-g", num_classes, "cbn", ("cbn",), None)
        if init not in ("sngan", "default"):
            raise ValueError(f"resnet-g: init must be 'sngan' or 'default'; got {init!r}.")
        self.latent_dim = int(latent_dim)
        self.out_shape = tuple(int(s) for s in out_shape)
        self.num_classes = int(num_classes)
        self.channels = int(channels)
        out_channels, n_up = _geometry(self.out_shape, "resnet-g", "out_shape")
        ch = self.channels
        self.linear = nn.Linear(self.latent_dim, 4 * 4 * ch)
        self.blocks = nn.ModuleList([GBlock(ch, ch, self.num_classes, init) for _ in range(n_up)])
        self.bn = nn.BatchNorm2d(ch)
        self.conv_out = nn.Conv2d(ch, out_channels, 3, 1, 1)
        _xavier(self.linear, 1.0, init)
        _xavier(self.conv_out, 1.0, init)
        if spectral_norm:
            apply_spectral_norm(self)

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """z: (N, latent_dim), y: (N,) int64 labels (conditional only) -> (N, C, H, H),
        values in [-1, 1]. Shapes: (N, ch * 16) -> (N, ch, 4, 4) -> (N, ch, 8, 8) -> ...
        -> (N, ch, H, H) -> (N, C, H, H)."""
        if z.dim() != 2 or z.shape[1] != self.latent_dim:
            raise ValueError(
                f"resnet-g expects z of shape (N, {self.latent_dim}); got {tuple(z.shape)}."
            )
        y = check_labels("resnet-g", y, self.num_classes, z.shape[0])
        h = self.linear(z).view(z.shape[0], self.channels, 4, 4)
        for block in self.blocks:
            h = block(h, y)
        return torch.tanh(self.conv_out(F.relu(self.bn(h))))


@NETS.register("resnet-d", paper=_PAPER)
class ResNetDiscriminator(nn.Module):
    """SNGAN ResNet critic: images (N, C, H, H) [, labels y (N,)] ->
    CriticOutput(score (N,), features (N, channels), aux).

    optimized down-ResBlock (C -> channels), log2(H) - 4 more down-ResBlocks, two
    ResBlocks without resampling (all ``channels`` wide), ReLU, global *sum* pooling to
    h (N, channels), linear head to one raw score. ``features`` is h, the per-sample
    vector the head reads (feature matching, probes). Every convolution and linear
    layer is spectrally normalised by default. At 32x32 with ``channels=128`` this is
    the paper's Table 4 critic (1,053,825 parameters). Initialisation: see the module
    docstring.

    Class conditioning and the auxiliary head (off by default):

    - ``num_classes = K > 0``: the projection discriminator (Miyato & Koyama 2018,
      eq. 3): score = head(h) + <E[y], h>, E (K, channels) Xavier-uniform initialised and
      spectrally normalised with ``spectral_norm`` (their SNEmbedID), on the same pooled
      h the head reads; ``forward(x, y)`` then needs int64 labels y (N,).
    - ``aux_dim = A > 0``: ``aux = Linear(channels, A)(h)`` (AC-GAN class logits, InfoGAN
      code parameters), spectrally normalised with ``spectral_norm``.

    Args:
        in_shape: (C, H, H) with H in 16, 32, 64 (any C: PacGAN packs samples in channels).
        channels: width of every block (the paper: 128).
        spectral_norm: spectrally normalise every convolution and linear layer (the paper).
        init: ``sngan`` (the paper's Xavier-uniform scheme) or ``default`` (PyTorch's).
        num_classes: K, the number of classes to condition on, 0..10000; 0 = unconditional.
        aux_dim: A, the width of the auxiliary head, 0..10000; 0 = no head (aux None).

    Raises:
        UnsupportedShapeError (a ValueError): for any other ``in_shape``.
    """

    def __init__(
        self,
        in_shape: Shape,
        channels: PositiveInt = 128,
        spectral_norm: bool = True,
        init: ResNetInit = "sngan",
        num_classes: NumClasses = 0,
        aux_dim: AuxDim = 0,
    ) -> None:
        super().__init__()
        check_condition_options(
            "resnet-d", num_classes, "projection", ("projection",), None, aux_dim
        )
        if init not in ("sngan", "default"):
            raise ValueError(f"resnet-d: init must be 'sngan' or 'default'; got {init!r}.")
        self.in_shape = tuple(int(s) for s in in_shape)
        self.num_classes = int(num_classes)
        self.aux_dim = int(aux_dim)
        in_channels, n_up = _geometry(self.in_shape, "resnet-d", "in_shape")
        ch = int(channels)
        n_down = n_up - 1  # the optimized block included: final map 8x8 from 32x32 up
        blocks = [DBlock(in_channels, ch, True, init, optimized=True)]
        blocks += [DBlock(ch, ch, True, init) for _ in range(n_down - 1)]
        blocks += [DBlock(ch, ch, False, init) for _ in range(2)]
        self.blocks = nn.Sequential(*blocks)
        self.feature_dim = ch
        self.head = nn.Linear(ch, 1)
        _xavier(self.head, 1.0, init)
        # Registered only when on: the unconditional critic's state dict stays the paper's.
        self.proj: ClassProjection | None = None
        if self.num_classes > 0:
            self.proj = ClassProjection(self.num_classes, ch)
            if init == "sngan":  # their SNEmbedID uses the head's GlorotUniform too
                nn.init.xavier_uniform_(self.proj.embed.weight)
        self.aux_head = nn.Linear(ch, self.aux_dim) if self.aux_dim > 0 else None
        if self.aux_head is not None:
            _xavier(self.aux_head, 1.0, init)
        if spectral_norm:
            apply_spectral_norm(self)
            if self.proj is not None:
                self.proj.apply_spectral_norm()

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> CriticOutput:
        """x: (N, C, H, H), y: (N,) int64 labels (conditional only) ->
        CriticOutput(score (N,), features h (N, channels), aux (N, aux_dim) or None).

        Shapes at 32x32: (N, C, 32, 32) -> (N, ch, 16, 16) -> (N, ch, 8, 8) -> (N, ch, 8, 8)
        -> (N, ch, 8, 8) -> ReLU, sum over H, W -> h (N, ch) -> score (N,).
        """
        check_input_shape("resnet-d", x, self.in_shape)
        y = check_labels("resnet-d", y, self.num_classes, x.shape[0])
        h = F.relu(self.blocks(x)).sum(dim=(2, 3))  # global sum pooling: (N, ch)
        score = self.head(h).reshape(x.shape[0])
        if self.proj is not None:  # + <E[y], h> (Miyato & Koyama 2018, eq. 3)
            score = score + self.proj(h, y)
        aux = self.aux_head(h) if self.aux_head is not None else None
        return CriticOutput(score=score, features=h, aux=aux)

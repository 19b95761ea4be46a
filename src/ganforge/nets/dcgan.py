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

Both networks can be class-conditional (``num_classes = K > 0``; then ``forward`` takes
int64 labels y (N,) too): the generator by concatenating a label embedding to z (cGAN)
or through conditional batch norm, the critic by appending label maps to the image
(cGAN) or by a projection (Miyato & Koyama 2018); and the critic can have an auxiliary
head (AC-GAN classes, InfoGAN codes). Layers from :mod:`ganforge.nn.conditional`. With
these options at their defaults the networks are exactly the unconditional ones.
"""

from __future__ import annotations

import copy
from typing import Literal

import torch
from torch import nn

from ganforge.nets.base import CriticOutput, check_input_shape
from ganforge.nets.mlp import (
    GroupSize,
    KernelDim,
    NumKernels,
    check_batch_options,
    check_group_divides,
)
from ganforge.nn.conditional import (
    AuxDim,
    ClassProjection,
    ConditionalBatchNorm,
    EmbedDim,
    NumClasses,
    check_condition_options,
    check_labels,
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
    """DCGAN generator: z (N, latent_dim) [, labels y (N,)] -> images (N, C, H, H) in [-1, 1].

    z is read as a (latent_dim, 1, 1) map and projected to 4x4 by a 4x4 transposed
    convolution; stride-2 transposed convolutions (k4, s2, p1) + BN + ReLU then double
    the resolution and halve the channels; the last one maps to C channels + tanh.

    Class-conditional generation (off by default, ``num_classes = 0``; then the network,
    its parameters and their initialisation are exactly those of the plain generator).
    With ``num_classes = K > 0``, ``forward(z, y)`` needs y, int64 labels (N,) in [0, K):

    - ``condition="concat"`` (Mirza & Osindero 2014, Conditional Generative Adversarial
      Nets): z' = [z, E[y]] (N, latent_dim + e), read as a (latent_dim + e, 1, 1) map by
      the first transposed convolution; E a learned ``nn.Embedding(K, e)``, e =
      ``embed_dim`` (K when None), E ~ N(0, 1) like z whatever ``init`` is and not
      spectrally normalised (it is an input, not a layer).
    - ``condition="cbn"`` (needs ``norm="batch"``): every BatchNorm2d becomes a
      :class:`~ganforge.nn.conditional.ConditionalBatchNorm`, batch norm without affine
      followed by a per-class, per-channel gain gamma[y] and bias beta[y] (de Vries et
      al. 2017; Miyato & Koyama 2018), gamma = 1 and beta = 0 at initialisation (also
      with ``init="dcgan"``, which draws plain BN scales from N(1, 0.02)). The layers stay
      at the same places in ``net``.

    Args:
        latent_dim: size of z.
        out_shape: (C, H, H) with H in 16, 32, 64.
        base_channels: channels of the last hidden map (H/2 x H/2).
        norm: ``batch`` (the paper) or ``none``.
        spectral_norm: spectrally normalise every (transposed) convolution (Miyato et al. 2018).
        init: ``dcgan`` (N(0, 0.02), BN scale N(1, 0.02)) or ``default`` (PyTorch's).
        num_classes: K, the number of classes to condition on, 0..10000; 0 = unconditional.
        condition: ``concat`` or ``cbn``; only read when ``num_classes > 0``.
        embed_dim: e, the width of the label embedding, 1..10000 (None = K); only read
            with ``condition="concat"``.

    Raises:
        UnsupportedShapeError (a ValueError): for any other ``out_shape``.
        ValueError: ``condition="cbn"`` without ``norm="batch"``, or an option out of range.
    """

    def __init__(
        self,
        latent_dim: PositiveInt,
        out_shape: Shape,
        base_channels: PositiveInt = 64,
        norm: Literal["batch", "none"] = "batch",
        spectral_norm: bool = False,
        init: InitName = "dcgan",
        num_classes: NumClasses = 0,
        condition: Literal["concat", "cbn"] = "concat",
        embed_dim: EmbedDim = None,
    ) -> None:
        super().__init__()
        check_condition_options("dcgan-g", num_classes, condition, ("concat", "cbn"), embed_dim)
        self.latent_dim = int(latent_dim)
        self.out_shape = tuple(int(s) for s in out_shape)
        self.num_classes = int(num_classes)
        self.condition = condition
        channels, n_up = _geometry(self.out_shape, "dcgan-g", "out_shape")
        cbn = self.num_classes > 0 and condition == "cbn"
        if cbn and norm != "batch":
            raise ValueError(
                f"dcgan-g: condition='cbn' makes every batch norm of the generator "
                f"conditional, but norm={norm!r} has none; set norm='batch' or "
                f"condition='concat'."
            )
        self.cbn = cbn
        e = (embed_dim or self.num_classes) if self.num_classes > 0 and not cbn else 0
        bias = norm != "batch"  # batch norm's mean subtraction cancels a conv bias

        def block(c_in: int, c_out: int, stride: int, padding: int) -> list[nn.Module]:
            layers: list[nn.Module] = [
                nn.ConvTranspose2d(c_in, c_out, 4, stride, padding, bias=bias)
            ]
            if cbn:
                layers.append(ConditionalBatchNorm(c_out, self.num_classes))
            elif norm == "batch":
                layers.append(nn.BatchNorm2d(c_out))
            layers.append(nn.ReLU())
            return layers

        ch = base_channels * 2 ** (n_up - 1)
        layers = block(self.latent_dim + e, ch, 1, 0)  # 1x1 -> 4x4 (z' = [z, E[y]])
        for _ in range(n_up - 1):  # 4x4 -> ... -> H/2
            layers += block(ch, ch // 2, 2, 1)
            ch //= 2
        layers += [nn.ConvTranspose2d(ch, channels, 4, 2, 1), nn.Tanh()]  # H/2 -> H
        self.net = nn.Sequential(*layers)
        # Registered only when on: the state dict and the random numbers drawn at
        # construction are those of the unconditional generator when it is off.
        self.embed = nn.Embedding(self.num_classes, e) if e > 0 else None
        init_weights(self, init)
        if spectral_norm:
            apply_spectral_norm(self)

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """z: (N, latent_dim), y: (N,) int64 labels (conditional only) -> (N, C, H, H),
        values in [-1, 1]."""
        if z.dim() != 2 or z.shape[1] != self.latent_dim:
            raise ValueError(
                f"dcgan-g expects z of shape (N, {self.latent_dim}); got {tuple(z.shape)}."
            )
        y = check_labels("dcgan-g", y, self.num_classes, z.shape[0])
        h = z
        if self.embed is not None:
            h = torch.cat([z, self.embed(y)], dim=1)  # (N, latent_dim + e)
        h = h[:, :, None, None]  # a 1x1 map
        if not self.cbn:
            return self.net(h)
        for layer in self.net:  # the conditional batch norms read the labels too
            h = layer(h, y) if isinstance(layer, ConditionalBatchNorm) else layer(h)
        return h


@NETS.register("dcgan-d", paper=_PAPER)
class DCGANDiscriminator(nn.Module):
    """DCGAN critic: images (N, C, H, H) [, labels y (N,)] -> CriticOutput(score, features, aux).

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

    Class conditioning and the auxiliary head (off by default, ``num_classes = 0`` and
    ``aux_dim = 0``; then the network is exactly the plain critic). With
    ``num_classes > 0``, ``forward(x, y)`` needs y, int64 labels (N,) in [0, num_classes):

    - ``condition="concat"`` (Mirza & Osindero 2014, Conditional Generative Adversarial
      Nets, with the label given as feature maps as in most convolutional cGANs): E[y]
      (N, e) is broadcast to e constant H x H maps appended to the image channels,
      (N, C, H, H) -> (N, C + e, H, H), so the first convolution reads C + e channels.
      E is a learned ``nn.Embedding(num_classes, e)``, e = ``embed_dim`` (num_classes if
      None), E ~ N(0, 1), not spectrally normalised (an input, not a layer: the
      normalised first convolution still bounds the Lipschitz constant in x).
    - ``condition="projection"`` (Miyato & Koyama 2018, cGANs with Projection
      Discriminator, eq. 3): score = head(...) + <E[y], h>, E: ``Embedding(num_classes,
      F)``, on h = ``features`` (N, F), the *flattened* 4x4 map, F = 16 K. Why the
      flattened map and not its spatial sum (Miyato & Koyama's ResNet critic sums the
      final map before its linear head): here the head is a 4x4 convolution of the 4x4
      map, which is a linear map of the flattened map, psi(h) = <w, h> + b; projecting
      the same vector keeps eq. 3 exact (class y is scored by the head with weight
      w + E[y]) and uses the features the critic returns. Summing would project a pooled
      vector the head never reads. Added after the head, whatever the batch layers
      append to its input. E is initialised like the head's weights and spectrally
      normalised with ``spectral_norm`` (Miyato & Koyama's SNEmbedID). See
      :class:`~ganforge.nn.conditional.ClassProjection`.
    - ``aux_dim = A > 0``: ``aux = Linear(F, A)(h)`` (N, A) on the flattened map, a head
      sharing the trunk: AC-GAN class logits (Odena et al. 2017, Conditional Image
      Synthesis with Auxiliary Classifier GANs; A = num_classes) or the parameters of
      InfoGAN's code posterior Q(c|x) (Chen et al. 2016, InfoGAN). It reads the
      per-sample h (never the batch statistics), works with or without ``num_classes``,
      and follows ``init`` and ``spectral_norm`` like every linear layer.

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
        num_classes: the number of classes to condition on, 0..10000; 0 = unconditional.
        condition: ``projection`` or ``concat``; only read when ``num_classes > 0``.
        embed_dim: e, the number of label maps, 1..10000 (None = num_classes); only read with
            ``condition="concat"``.
        aux_dim: A, the width of the auxiliary head, 0..10000; 0 = no head (aux None).

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
        num_classes: NumClasses = 0,
        condition: Literal["concat", "projection"] = "projection",
        embed_dim: EmbedDim = None,
        aux_dim: AuxDim = 0,
    ) -> None:
        super().__init__()
        check_batch_options(
            "dcgan-d", minibatch_std, minibatch_discrimination, minibatch_kernel_dim
        )
        check_condition_options(
            "dcgan-d", num_classes, condition, ("concat", "projection"), embed_dim, aux_dim
        )
        self.in_shape = tuple(int(s) for s in in_shape)
        self.num_classes = int(num_classes)
        self.condition = condition
        self.aux_dim = int(aux_dim)
        channels, n_down = _geometry(self.in_shape, "dcgan-d", "in_shape")
        concat = self.num_classes > 0 and condition == "concat"
        e = (embed_dim or self.num_classes) if concat else 0
        ch = base_channels
        # Dropout modules only when on: the state dict's keys stay those of the paper's net.
        drop: list[nn.Module] = [nn.Dropout(dropout)] if dropout > 0 else []
        layers: list[nn.Module] = [
            nn.Conv2d(channels + e, ch, 4, 2, 1),  # + e label maps with concat
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
        # Conditioning and auxiliary head: registered only when on, like the batch layers.
        self.embed = nn.Embedding(self.num_classes, e) if e > 0 else None
        self.proj = (
            ClassProjection(self.num_classes, self.feature_dim, init)
            if self.num_classes > 0 and condition == "projection"
            else None
        )
        self.aux_head = nn.Linear(self.feature_dim, self.aux_dim) if self.aux_dim > 0 else None
        init_weights(self, init)
        if spectral_norm:
            apply_spectral_norm(self)
            if self.proj is not None:
                self.proj.apply_spectral_norm()

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> CriticOutput:
        """x: (N, C, H, H), y: (N,) int64 labels (conditional only) ->
        CriticOutput(score (N,), features (N, 16 * K), aux (N, aux_dim) or None).

        Shapes, K the channels of the last 4x4 map: [concat: (N, C + e, H, H)] -> body ->
        h (N, K, 4, 4) -> [minibatch_std: (N, K + 1, 4, 4)] -> 4x4 conv head ->
        (N, 1, 1, 1) -> score; or, with minibatch_discrimination B: [flatten ->
        (N, 16 * (K [+ 1])), closeness of flatten(h) (N, B)] -> Linear head -> (N, 1) ->
        score. [projection: score + <E[y], flatten(h)>]; [aux: Linear(flatten(h)) (N, A)].
        """
        check_input_shape("dcgan-d", x, self.in_shape)
        y = check_labels("dcgan-d", y, self.num_classes, x.shape[0])
        if self.embed is not None:  # E[y] as e constant maps: (N, e) -> (N, e, H, H)
            maps = self.embed(y)[:, :, None, None].expand(-1, -1, *x.shape[2:])
            x = torch.cat([x, maps.to(x.dtype)], dim=1)  # (N, C + e, H, H)
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
        if self.proj is not None:  # + <E[y], h> (Miyato & Koyama 2018, eq. 3)
            score = score + self.proj(features, y)
        aux = self.aux_head(features) if self.aux_head is not None else None  # (N, A)
        return CriticOutput(score=score, features=features, aux=aux)

"""Multilayer perceptrons: the generator and critic of toy 2-D experiments and small images.

Goodfellow et al. 2014 (Generative Adversarial Nets) used MLPs for both players. Any
sample shape works: the generator reshapes its last layer to ``out_shape``, the critic
flattens its input.

Registered as ``mlp-g`` and ``mlp-d``. Depth and width are given together as
``hidden``, the widths of the hidden layers from the input side (``(128, 128)``: two
hidden layers of 128 units; ``()``: a single linear map).

The critic has three options against mode collapse, off by default: maxout hidden
layers (the PacGAN 2-D critic), minibatch standard deviation and minibatch
discrimination (layers from :mod:`ganforge.nn.minibatch`).

Both networks can be class-conditional (``num_classes = K > 0``; then ``forward`` takes
int64 labels y (N,) too): the generator by concatenating a label embedding to z (cGAN)
or through conditional batch norm, the critic by concatenating a label embedding to its
input (cGAN) or by a projection (Miyato & Koyama 2018); and the critic can have an
auxiliary head (AC-GAN classes, InfoGAN codes). Layers from :mod:`ganforge.nn.conditional`.
With these options at their defaults the networks are exactly the unconditional ones.
"""

from __future__ import annotations

import math
from typing import Annotated, Literal

import torch
from pydantic import Field
from torch import nn

from ganforge.nets.base import CriticOutput
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
    InitName,
    PositiveInt,
    Probability,
    Shape,
    Widths,
    apply_spectral_norm,
    init_weights,
)
from ganforge.nn.layers import activation as make_activation
from ganforge.nn.minibatch import Maxout, MinibatchDiscrimination, MinibatchStdDev
from ganforge.registry import NETS

_PAPER = "Goodfellow et al. 2014, Generative Adversarial Nets"

# -- critic options against mode collapse (shared with ganforge.nets.dcgan) ------------------
#: Linear pieces per maxout unit (1 would be a plain linear layer).
MaxoutPieces = Annotated[int, Field(ge=2, le=16)]
#: MinibatchStdDev group size; 0 switches the layer off.
GroupSize = Annotated[int, Field(ge=0, le=1024)]
#: MinibatchDiscrimination kernel count B; 0 switches the layer off.
NumKernels = Annotated[int, Field(ge=0, le=1024)]
#: MinibatchDiscrimination kernel dimension C.
KernelDim = Annotated[int, Field(ge=1, le=128)]


def check_batch_options(
    net: str, minibatch_std: int, minibatch_discrimination: int, minibatch_kernel_dim: int
) -> None:
    """The same bounds as the type hints, for direct Python construction (no pydantic)."""
    if not 0 <= minibatch_std <= 1024:
        raise ValueError(
            f"{net}: minibatch_std must be in [0, 1024] (0 = off); got {minibatch_std}."
        )
    if not 0 <= minibatch_discrimination <= 1024:
        raise ValueError(
            f"{net}: minibatch_discrimination must be in [0, 1024] (0 = off); "
            f"got {minibatch_discrimination}."
        )
    if not 1 <= minibatch_kernel_dim <= 128:
        raise ValueError(
            f"{net}: minibatch_kernel_dim must be in [1, 128]; got {minibatch_kernel_dim}."
        )


def check_group_divides(net: str, group_size: int, n: int) -> None:
    """Raise a ValueError naming the option when N is not a multiple of the group size."""
    g = min(group_size, n)
    if n > 0 and n % g:
        raise ValueError(
            f"{net}: minibatch_std={group_size} computes the standard deviation over groups "
            f"of {group_size} samples, so the critic's batch size must be a multiple of "
            f"{group_size} (or smaller than it); got a batch of {n}. Change train.batch_size "
            f"(with algorithm.pack = m the critic sees batch_size / m inputs) or minibatch_std."
        )


@NETS.register("mlp-g", paper=_PAPER)
class MLPGenerator(nn.Module):
    """MLP generator: z (N, latent_dim) [, labels y (N,)] -> x (N, *out_shape).

    Each hidden layer is Linear -> [BatchNorm1d] -> activation; the output layer is
    Linear -> ``out_activation``. Use ``out_activation="none"`` for unbounded points (toy
    2-D mixtures) and ``"tanh"`` for images scaled to [-1, 1].

    Class-conditional generation (off by default, ``num_classes = 0``; then the network,
    its parameters and their initialisation are exactly those of the plain generator).
    With ``num_classes = K > 0``, ``forward(z, y)`` needs y, int64 labels (N,) in [0, K):

    - ``condition="concat"`` (Mirza & Osindero 2014, Conditional Generative Adversarial
      Nets): z' = [z, E[y]] (N, latent_dim + e), E a learned ``nn.Embedding(K, e)``, e =
      ``embed_dim`` (K when None), E ~ N(0, 1) like z whatever ``init`` is and not
      spectrally normalised (it is an input, not a layer). The first linear layer reads
      latent_dim + e inputs.
    - ``condition="cbn"`` (needs ``norm="batch"``): every BatchNorm1d becomes a
      :class:`~ganforge.nn.conditional.ConditionalBatchNorm`, batch norm without affine
      followed by a per-class gain gamma[y] and bias beta[y] (de Vries et al. 2017;
      Miyato & Koyama 2018), gamma = 1 and beta = 0 at initialisation (with
      ``init="dcgan"`` too). The layers stay at the same places in ``net``.

    Args:
        latent_dim: size of z.
        out_shape: shape of one sample, e.g. ``(2,)`` or ``(1, 8, 8)``.
        hidden: hidden-layer widths, input side first.
        activation: ``relu`` or ``leaky_relu`` (slope 0.2).
        norm: ``batch`` puts BatchNorm1d after every hidden linear layer (as DCGAN
            does in its generator); ``none`` leaves it out.
        out_activation: ``none`` or ``tanh``.
        spectral_norm: spectrally normalise every linear layer (Miyato et al. 2018).
        init: ``default`` (PyTorch's) or ``dcgan`` (N(0, 0.02)).
        num_classes: K, the number of classes to condition on, 0..10000; 0 = unconditional.
        condition: ``concat`` or ``cbn``; only read when ``num_classes > 0``.
        embed_dim: e, the width of the label embedding, 1..10000 (None = K); only read
            with ``condition="concat"``.

    Raises:
        ValueError: ``condition="cbn"`` without ``norm="batch"`` or with ``hidden=()`` (no
            batch norm to make conditional), or an option out of range.
    """

    def __init__(
        self,
        latent_dim: PositiveInt,
        out_shape: Shape,
        hidden: Widths = (128, 128),
        activation: Literal["relu", "leaky_relu"] = "relu",
        norm: Literal["none", "batch"] = "none",
        out_activation: Literal["none", "tanh"] = "none",
        spectral_norm: bool = False,
        init: InitName = "default",
        num_classes: NumClasses = 0,
        condition: Literal["concat", "cbn"] = "concat",
        embed_dim: EmbedDim = None,
    ) -> None:
        super().__init__()
        check_condition_options("mlp-g", num_classes, condition, ("concat", "cbn"), embed_dim)
        self.latent_dim = int(latent_dim)
        self.out_shape = tuple(int(s) for s in out_shape)
        self.num_classes = int(num_classes)
        self.condition = condition
        cbn = self.num_classes > 0 and condition == "cbn"
        if cbn and norm != "batch":
            raise ValueError(
                f"mlp-g: condition='cbn' makes every batch norm of the generator conditional, "
                f"but norm={norm!r} has none; set norm='batch' or condition='concat'."
            )
        if cbn and not hidden:
            raise ValueError(
                "mlp-g: condition='cbn' makes the hidden layers' batch norms conditional, but "
                "hidden=() has no hidden layer (the labels would be ignored); give hidden "
                "layers or use condition='concat'."
            )
        self.cbn = cbn
        e = (embed_dim or self.num_classes) if self.num_classes > 0 and not cbn else 0
        layers: list[nn.Module] = []
        width = self.latent_dim + e  # z' = [z, E[y]] with concat
        for h in hidden:
            # A bias before batch norm is removed by its mean subtraction: leave it out.
            layers.append(nn.Linear(width, h, bias=norm != "batch"))
            if cbn:
                layers.append(ConditionalBatchNorm(h, self.num_classes))
            elif norm == "batch":
                layers.append(nn.BatchNorm1d(h))
            layers.append(make_activation(activation))
            width = h
        layers.append(nn.Linear(width, math.prod(self.out_shape)))
        layers.append(make_activation(out_activation))
        self.net = nn.Sequential(*layers)
        # Registered only when on: the state dict and the random numbers drawn at
        # construction are those of the unconditional generator when it is off.
        self.embed = nn.Embedding(self.num_classes, e) if e > 0 else None
        init_weights(self, init)
        if spectral_norm:
            apply_spectral_norm(self)

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """z: (N, latent_dim), y: (N,) int64 labels (conditional only) -> (N, *out_shape)."""
        if z.dim() != 2 or z.shape[1] != self.latent_dim:
            raise ValueError(
                f"mlp-g expects z of shape (N, {self.latent_dim}); got {tuple(z.shape)}."
            )
        y = check_labels("mlp-g", y, self.num_classes, z.shape[0])
        h = z
        if self.embed is not None:
            h = torch.cat([z, self.embed(y)], dim=1)  # (N, latent_dim + e)
        if not self.cbn:
            return self.net(h).view(z.shape[0], *self.out_shape)
        for layer in self.net:  # the conditional batch norms read the labels too
            h = layer(h, y) if isinstance(layer, ConditionalBatchNorm) else layer(h)
        return h.view(z.shape[0], *self.out_shape)


@NETS.register("mlp-d", paper=_PAPER)
class MLPDiscriminator(nn.Module):
    """MLP critic: x (N, *in_shape) [, labels y (N,)] -> CriticOutput(score, features, aux).

    Each hidden layer is Linear -> activation -> [Dropout], or Maxout -> [Dropout] with
    ``activation="maxout"``; then the optional batch layers; a final Linear maps to one
    raw score (a logit for the original GAN). ``features`` are the last hidden
    activations h, F = ``hidden[-1]`` (or the flattened input when ``hidden`` is
    empty): always per-sample, taken *before* the batch layers, so feature matching and
    other feature statistics never see batch statistics.

    Options against mode collapse (all off by default; then the network, its parameters
    and their initialisation are exactly those of the plain critic):

    - ``activation="maxout"``: each hidden layer is ``Maxout(width, h, pieces)``, h units
      each the max of ``pieces`` linear maps (Goodfellow et al. 2013, Maxout Networks).
      The PacGAN 2-D critic (Lin et al. 2018, PacGAN: The Power of Two Samples in GANs,
      appendix) is ``hidden=(200, 200, 200)``, ``pieces=5``. ``init`` acts on the
      maxout's inner Linear; with ``spectral_norm`` that Linear is normalised, which
      keeps the layer 1-Lipschitz (the max over pieces is 1-Lipschitz).
    - ``minibatch_std = G > 0``: ``MinibatchStdDev(G)`` appends to h one column, the
      standard deviation of h over groups of G consecutive samples averaged over the
      features (Karras et al. 2018, Progressive Growing of GANs, section 3). A collapsed
      generator gives ~0 there. No parameters.
    - ``minibatch_discrimination = B > 0``: ``MinibatchDiscrimination(F, B, C)``, C =
      ``minibatch_kernel_dim``, appends B columns, how close h is to the other samples'
      h under B learned kernels (Salimans et al. 2016, Improved Techniques for Training
      GANs, section 3.2): N - 1 each for N identical samples, ~0 for a spread batch. Its
      tensor T keeps the layer's own initialisation whatever ``init`` is, and is not
      spectrally normalised.

    Both batch layers read the same h, and their outputs are concatenated in a fixed
    order: the head sees ``[h, std (1 if minibatch_std), closeness (B)]``, width
    F + [1] + B.

    With a batch layer on, a sample's score depends on the other samples of its batch
    (also in eval mode): real and fake batches must be scored separately (the built-in
    algorithms do), a gradient penalty's per-sample input gradient picks up
    cross-sample terms, and with ``minibatch_std`` the critic's batch size must be a
    multiple of G (a batch smaller than G forms one group), else a ValueError.

    Class conditioning and the auxiliary head (off by default, ``num_classes = 0`` and
    ``aux_dim = 0``; then the network is exactly the plain critic). With
    ``num_classes = K > 0``, ``forward(x, y)`` needs y, int64 labels (N,) in [0, K):

    - ``condition="concat"`` (Mirza & Osindero 2014, Conditional Generative Adversarial
      Nets): the body reads [flatten(x), E[y]] (N, prod(in_shape) + e), E a learned
      ``nn.Embedding(K, e)``, e = ``embed_dim`` (K when None), E ~ N(0, 1), not
      spectrally normalised (an input, not a layer: the normalised first layer still
      bounds the Lipschitz constant in x). With ``hidden=()``, features are that
      concatenated input.
    - ``condition="projection"`` (Miyato & Koyama 2018, cGANs with Projection
      Discriminator, eq. 3): score = head(...) + <E[y], h>, E: ``Embedding(K, F)`` on the
      per-sample features h (N, F) = ``features``, added after the head (whatever the
      batch layers append to the head's input). E is initialised like the head's weight
      row and spectrally normalised with ``spectral_norm`` (Miyato & Koyama's SNEmbedID).
      See :class:`~ganforge.nn.conditional.ClassProjection`.
    - ``aux_dim = A > 0``: ``aux = Linear(F, A)(h)`` (N, A), a head sharing the trunk:
      AC-GAN class logits (Odena et al. 2017, Conditional Image Synthesis with Auxiliary
      Classifier GANs; A = K) or the parameters of InfoGAN's code posterior Q(c|x) (Chen
      et al. 2016, InfoGAN). It reads the per-sample h (never the batch statistics),
      works with or without ``num_classes``, and follows ``init`` and ``spectral_norm``
      like every linear layer.

    Args:
        in_shape: shape of one sample, e.g. ``(2,)`` or ``(1, 8, 8)``.
        hidden: hidden-layer widths, input side first.
        activation: ``leaky_relu`` (slope 0.2), ``relu`` or ``maxout``.
        dropout: dropout probability after every hidden layer (Goodfellow et al. 2014
            trained their discriminator with dropout); 0 disables it.
        spectral_norm: spectrally normalise every linear layer (Miyato et al. 2018).
        init: ``default`` (PyTorch's) or ``dcgan`` (N(0, 0.02)).
        pieces: linear pieces per maxout unit, 2..16; only read with ``activation="maxout"``.
        minibatch_std: group size G of the minibatch standard deviation; 0 = off.
        minibatch_discrimination: number of kernels B of minibatch discrimination; 0 = off.
        minibatch_kernel_dim: dimension C of each minibatch-discrimination kernel; only
            read when ``minibatch_discrimination > 0``.
        num_classes: K, the number of classes to condition on, 0..10000; 0 = unconditional.
        condition: ``projection`` or ``concat``; only read when ``num_classes > 0``.
        embed_dim: e, the width of the label embedding, 1..10000 (None = K); only read
            with ``condition="concat"``.
        aux_dim: A, the width of the auxiliary head, 0..10000; 0 = no head (aux None).
    """

    def __init__(
        self,
        in_shape: Shape,
        hidden: Widths = (128, 128),
        activation: Literal["relu", "leaky_relu", "maxout"] = "leaky_relu",
        dropout: Probability = 0.0,
        spectral_norm: bool = False,
        init: InitName = "default",
        pieces: MaxoutPieces = 5,
        minibatch_std: GroupSize = 0,
        minibatch_discrimination: NumKernels = 0,
        minibatch_kernel_dim: KernelDim = 5,
        num_classes: NumClasses = 0,
        condition: Literal["concat", "projection"] = "projection",
        embed_dim: EmbedDim = None,
        aux_dim: AuxDim = 0,
    ) -> None:
        super().__init__()
        if not 2 <= pieces <= 16:
            raise ValueError(f"mlp-d: pieces must be in [2, 16]; got {pieces}.")
        check_batch_options("mlp-d", minibatch_std, minibatch_discrimination, minibatch_kernel_dim)
        check_condition_options(
            "mlp-d", num_classes, condition, ("concat", "projection"), embed_dim, aux_dim
        )
        self.in_shape = tuple(int(s) for s in in_shape)
        self.num_classes = int(num_classes)
        self.condition = condition
        self.aux_dim = int(aux_dim)
        concat = self.num_classes > 0 and condition == "concat"
        e = (embed_dim or self.num_classes) if concat else 0
        layers: list[nn.Module] = []
        width = math.prod(self.in_shape) + e  # [flatten(x), E[y]] with concat
        for h in hidden:
            if activation == "maxout":
                layers.append(Maxout(width, h, pieces))
            else:
                layers.append(nn.Linear(width, h))
                layers.append(make_activation(activation))
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            width = h
        self.body = nn.Sequential(*layers)
        self.feature_dim = width
        # Batch layers: registered only when on, so that the state dict (and the random
        # numbers drawn at construction) are unchanged when they are off.
        self.mbstd = MinibatchStdDev(minibatch_std) if minibatch_std > 0 else None
        self.mbdisc = (
            MinibatchDiscrimination(width, minibatch_discrimination, minibatch_kernel_dim)
            if minibatch_discrimination > 0
            else None
        )
        extra = (1 if self.mbstd is not None else 0) + minibatch_discrimination
        self.head = nn.Linear(width + extra, 1)
        # Conditioning and auxiliary head: registered only when on, like the batch layers.
        self.embed = nn.Embedding(self.num_classes, e) if e > 0 else None
        self.proj = (
            ClassProjection(self.num_classes, width, init)
            if self.num_classes > 0 and condition == "projection"
            else None
        )
        self.aux_head = nn.Linear(width, self.aux_dim) if self.aux_dim > 0 else None
        init_weights(self, init)
        if spectral_norm:
            apply_spectral_norm(self)
            if self.proj is not None:
                self.proj.apply_spectral_norm()

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> CriticOutput:
        """x: (N, *in_shape), y: (N,) int64 labels (conditional only) ->
        CriticOutput(score (N,), features (N, F), aux (N, aux_dim) or None)."""
        if tuple(x.shape[1:]) != self.in_shape:
            raise ValueError(
                f"mlp-d expects inputs of shape (N, {', '.join(map(str, self.in_shape))}); "
                f"got {tuple(x.shape)}."
            )
        y = check_labels("mlp-d", y, self.num_classes, x.shape[0])
        inp = x.flatten(1)
        if self.embed is not None:
            inp = torch.cat([inp, self.embed(y)], dim=1)  # (N, prod(in_shape) + e)
        features = self.body(inp)  # (N, F), per sample
        head_in = features
        if self.mbstd is not None or self.mbdisc is not None:
            parts = [features]
            if self.mbstd is not None:
                check_group_divides("mlp-d", self.mbstd.group_size, features.shape[0])
                parts.append(self.mbstd(features)[:, self.feature_dim :])  # (N, 1)
            if self.mbdisc is not None:
                parts.append(self.mbdisc(features)[:, self.feature_dim :])  # (N, B)
            head_in = torch.cat(parts, dim=1)
        score = self.head(head_in).squeeze(1)
        if self.proj is not None:  # + <E[y], h> (Miyato & Koyama 2018, eq. 3)
            score = score + self.proj(features, y)
        aux = self.aux_head(features) if self.aux_head is not None else None  # (N, A)
        return CriticOutput(score=score, features=features, aux=aux)


@NETS.register(
    "mlp-e",
    paper="Donahue et al. 2017, Adversarial Feature Learning (BiGAN); Dumoulin et al. 2017 (ALI)",
)
class MLPEncoder(nn.Module):
    """MLP encoder (inference network): x (N, *in_shape) -> z (N, latent_dim).

    The encoder E of BiGAN / ALI, mapping data back to the latent space. Each hidden layer
    is Linear -> [BatchNorm1d] -> activation; the output layer is linear (z is
    unbounded, like the Gaussian prior it must match).

    Args:
        in_shape: shape of one sample, e.g. ``(1, 28, 28)``.
        latent_dim: size of z.
        hidden: hidden-layer widths, input side first.
        activation: ``leaky_relu`` (slope 0.2) or ``relu``.
        norm: ``batch`` or ``none``.
        spectral_norm: spectrally normalise every linear layer.
        init: ``default`` (PyTorch's) or ``dcgan`` (N(0, 0.02)).
    """

    def __init__(
        self,
        in_shape: Shape,
        latent_dim: PositiveInt,
        hidden: Widths = (512, 512),
        activation: Literal["relu", "leaky_relu"] = "leaky_relu",
        norm: Literal["none", "batch"] = "none",
        spectral_norm: bool = False,
        init: InitName = "default",
    ) -> None:
        super().__init__()
        self.in_shape = tuple(int(s) for s in in_shape)
        self.latent_dim = int(latent_dim)
        layers: list[nn.Module] = []
        width = math.prod(self.in_shape)
        for h in hidden:
            layers.append(nn.Linear(width, h, bias=norm != "batch"))
            if norm == "batch":
                layers.append(nn.BatchNorm1d(h))
            layers.append(make_activation(activation))
            width = h
        layers.append(nn.Linear(width, self.latent_dim))
        self.net = nn.Sequential(*layers)
        init_weights(self, init)
        if spectral_norm:
            apply_spectral_norm(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (N, *in_shape) -> z (N, latent_dim)."""
        if tuple(x.shape[1:]) != self.in_shape:
            raise ValueError(
                f"mlp-e expects inputs of shape (N, {', '.join(map(str, self.in_shape))}); "
                f"got {tuple(x.shape)}."
            )
        return self.net(x.flatten(1))

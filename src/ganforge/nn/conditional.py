"""Layers and checks for class-conditional networks (cGAN, AC-GAN, projection critics).

- :class:`ConditionalBatchNorm`: batch norm whose gain and bias are looked up per class
  (de Vries et al. 2017, Modulating early visual processing by language; Miyato & Koyama
  2018, cGANs with Projection Discriminator, appendix). The generator's ``cbn`` option.
- :class:`ClassProjection`: the class term <E[y], h> of the projection discriminator
  (Miyato & Koyama 2018, eq. 3). The critic's ``projection`` option.
- :class:`ConditioningAugmentation`: StackGAN's KL-regularised sampling of a condition
  vector from a text (or any) embedding (Zhang et al. 2017, sec. 3.1), for the
  text-conditioned models.
- :func:`balanced_labels`: the classes a conditional generator is asked for by default
  (equal blocks: one class per grid row); :func:`draw_codes` and :func:`with_codes`:
  InfoGAN's latent codes and the generator input [z, one_hot(c_cat), c_cont]. Shared by
  the algorithms, the exported generator and the metrics, so they agree.
- :func:`check_labels`: the one check of the labels ``y`` every conditional network's
  ``forward(x, y)`` runs, with errors that say what is expected.
- :func:`check_condition_options`: the bounds of the constructor options, for direct
  Python construction (the registry checks them through the type hints below).

Labels ``y`` are int64 class indices of shape (N,), one per sample, in [0, num_classes).
"""

from __future__ import annotations

import math
from typing import Annotated

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm as _spectral_norm

from ganforge.nn.parallel import sharded

# -- constructor argument types (validated by the registry through pydantic) ----------------
#: Number of classes K of a conditional network; 0 = unconditional.
NumClasses = Annotated[int, Field(ge=0, le=10000)]
#: Width of a learned label embedding E[y]; None = num_classes.
EmbedDim = Annotated[int, Field(ge=1, le=10000)] | None
#: Width of a critic's auxiliary head (AC-GAN class logits, InfoGAN code parameters); 0 = off.
AuxDim = Annotated[int, Field(ge=0, le=10000)]

#: Upper bound of num_classes, embed_dim and aux_dim (the type hints above say the same).
MAX_CLASSES = 10000


def check_condition_options(
    net: str,
    num_classes: int,
    condition: str,
    conditions: tuple[str, ...],
    embed_dim: int | None,
    aux_dim: int = 0,
) -> None:
    """The same bounds as the type hints, for direct Python construction (no pydantic).

    Raises:
        ValueError: naming the option, its valid range or choices and the value given.
    """
    if not 0 <= num_classes <= MAX_CLASSES:
        raise ValueError(
            f"{net}: num_classes must be in [0, {MAX_CLASSES}] (0 = unconditional); "
            f"got {num_classes}."
        )
    if condition not in conditions:
        raise ValueError(
            f"{net}: condition must be one of {', '.join(map(repr, conditions))}; "
            f"got {condition!r}."
        )
    if embed_dim is not None and not 1 <= embed_dim <= MAX_CLASSES:
        raise ValueError(
            f"{net}: embed_dim must be in [1, {MAX_CLASSES}] or None (= num_classes); "
            f"got {embed_dim}."
        )
    if not 0 <= aux_dim <= MAX_CLASSES:
        raise ValueError(f"{net}: aux_dim must be in [0, {MAX_CLASSES}] (0 = off); got {aux_dim}.")


def check_labels(net: str, y: torch.Tensor | None, num_classes: int, n: int) -> torch.Tensor | None:
    """Check the labels given to ``net``'s forward; return them as int64 (None if unconditional).

    Args:
        net: the network's registry name, for the messages.
        y: the labels passed to forward, or None.
        num_classes: K of the network; 0 = unconditional (then y must be None).
        n: the batch size N of the other input (z or x).

    Raises:
        ValueError: y given to an unconditional network; y missing for a conditional one;
            y not an integer tensor of shape (N,); a label outside [0, K).

    The range check reads the labels' minimum and maximum back from the device (one
    synchronisation per call on a GPU); without it an out-of-range label makes a CUDA
    embedding lookup fail with an opaque device-side assertion instead.
    """
    if num_classes == 0:
        if y is not None:
            raise ValueError(
                f"{net} is unconditional (num_classes=0) but was given labels y; call it "
                f"without y, or build it with num_classes=K to condition on K classes."
            )
        return None
    expected = (
        f"y, the int64 class labels of shape ({n},) (one per sample) with values in "
        f"[0, {num_classes - 1}]"
    )
    if y is None:
        raise ValueError(
            f"{net} is conditional (num_classes={num_classes}): forward needs {expected}; "
            f"got no labels."
        )
    if not isinstance(y, torch.Tensor):
        raise ValueError(f"{net} expects {expected}; got a {type(y).__name__}.")
    if y.dtype.is_floating_point or y.dtype.is_complex or y.dtype == torch.bool:
        raise ValueError(f"{net} expects {expected}; got dtype {y.dtype} (use y.long()).")
    if tuple(y.shape) != (n,):
        raise ValueError(f"{net} expects {expected}; got shape {tuple(y.shape)}.")
    if n > 0 and bool(((y < 0) | (y >= num_classes)).any()):
        raise ValueError(
            f"{net} expects {expected}; got labels from {int(y.min())} to {int(y.max())}."
        )
    return y.long()


class ConditionalBatchNorm(nn.Module):
    """Batch norm with a per-class gain and bias: (N, C, *) and labels (N,) -> (N, C, *).

    de Vries et al. 2017 (Modulating early visual processing by language, conditional
    batch normalisation); Miyato & Koyama 2018 (cGANs with Projection Discriminator) use
    it in their class-conditional generators. For a sample i of class y_i and channel c:

        x_hat_ic = (x_ic - mu_c) / sqrt(var_c + eps)       (batch norm without affine)
        out_ic   = gamma[y_i, c] * x_hat_ic + beta[y_i, c]

    mu_c, var_c are the batch mean and (biased) variance over N and all positions in
    training mode, and the running estimates in eval mode, exactly as ``nn.BatchNorm1d``
    / ``nn.BatchNorm2d`` with ``affine=False`` compute them (same ``eps``, ``momentum``
    and buffers ``running_mean``, ``running_var``, ``num_batches_tracked``). gamma and
    beta are embeddings (K, C), initialised to 1 and 0: at initialisation the layer *is*
    batch norm without affine, for every class. One class serves vectors (N, C) and
    feature maps (N, C, H, W) (any (N, C, *)).

    Building the layer draws no random numbers. ``init_weights`` and spectral norm leave
    gamma and beta alone (they are not linear maps of the input).

    Args:
        num_features: C, the channels (or width) normalised.
        num_classes: K.
        eps: added to the variance.
        momentum: running-statistics update factor.

    Shapes:
        x (N, C, *), y (N,) int64 in [0, K) -> (N, C, *).
    """

    def __init__(
        self, num_features: int, num_classes: int, eps: float = 1e-5, momentum: float = 0.1
    ) -> None:
        super().__init__()
        if min(num_features, num_classes) < 1:
            raise ValueError("num_features and num_classes must be >= 1.")
        self.num_features = num_features
        self.num_classes = num_classes
        self.eps = eps
        self.momentum = momentum
        # from_pretrained builds the tables from the given values: no N(0, 1) draw.
        self.gamma = nn.Embedding.from_pretrained(
            torch.ones(num_classes, num_features), freeze=False
        )
        self.beta = nn.Embedding.from_pretrained(
            torch.zeros(num_classes, num_features), freeze=False
        )
        self.register_buffer("running_mean", torch.zeros(num_features))
        self.register_buffer("running_var", torch.ones(num_features))
        self.register_buffer("num_batches_tracked", torch.tensor(0, dtype=torch.long))

    def reset_parameters(self) -> None:
        """gamma = 1, beta = 0, running statistics back to mean 0 and variance 1."""
        with torch.no_grad():
            self.gamma.weight.fill_(1.0)
            self.beta.weight.zero_()
        self.running_mean.zero_()
        self.running_var.fill_(1.0)
        self.num_batches_tracked.zero_()

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if x.dim() < 2 or x.shape[1] != self.num_features:
            raise ValueError(
                f"ConditionalBatchNorm expects x of shape (N, {self.num_features}, *); "
                f"got {tuple(x.shape)}."
            )
        if tuple(y.shape) != (x.shape[0],):
            raise ValueError(
                f"ConditionalBatchNorm expects labels y of shape ({x.shape[0]},); "
                f"got {tuple(y.shape)}."
            )
        if self.training:
            self.num_batches_tracked.add_(1)
        # The call nn.BatchNorm makes with affine=False and tracked running statistics.
        x_hat = F.batch_norm(
            x, self.running_mean, self.running_var, None, None, self.training,
            self.momentum, self.eps,
        )  # fmt: skip
        view = (x.shape[0], self.num_features) + (1,) * (x.dim() - 2)
        return self.gamma(y).view(view) * x_hat + self.beta(y).view(view)

    def extra_repr(self) -> str:
        return (
            f"{self.num_features}, num_classes={self.num_classes}, eps={self.eps}, "
            f"momentum={self.momentum}"
        )


class ClassProjection(nn.Module):
    """The class term of the projection discriminator: (h (N, F), y (N,)) -> <E[y], h> (N,).

    Miyato & Koyama 2018, cGANs with Projection Discriminator, eq. 3: with phi(x) = h the
    critic's features and psi a linear head, the conditional critic is

        f(x, y) = psi(h) + <E[y], h>,      E: Embedding(K, F)

    i.e. the log density ratio of the class-conditional models written as a per-class
    inner product. For a linear head psi(h) = <w, h> + b, class y is scored by the same
    head with weight w + E[y].

    Initialisation: like the weight row of the head ``Linear(F, 1)`` it is added to, so
    that both terms start at the same scale: ``default`` U(-1/sqrt(F), 1/sqrt(F))
    (PyTorch's Linear init), ``dcgan`` N(0, 0.02). (nn.Embedding's own N(0, 1) would
    make <E[y], h> sqrt(F) times larger than the head's output.)

    With spectral norm (:meth:`apply_spectral_norm`), E is divided by its largest singular
    value as a (K, F) matrix, as Miyato & Koyama's SNEmbedID does, so that the class term
    is 1-Lipschitz in h like the normalised head.

    Args:
        num_classes: K.
        num_features: F, the width of h.
        init: ``default`` or ``dcgan``, the scheme of the critic.
    """

    def __init__(self, num_classes: int, num_features: int, init: str = "default") -> None:
        super().__init__()
        if min(num_classes, num_features) < 1:
            raise ValueError("num_classes and num_features must be >= 1.")
        # Built from an empty table (no N(0, 1) draw), then initialised once below.
        self.embed = nn.Embedding.from_pretrained(
            torch.empty(num_classes, num_features), freeze=False
        )
        self.reset_parameters(init)

    def reset_parameters(self, init: str = "default") -> None:
        """E ~ U(-1/sqrt(F), 1/sqrt(F)) (``default``) or N(0, 0.02) (``dcgan``)."""
        weight = self.embed.weight
        if init == "dcgan":
            nn.init.normal_(weight, 0.0, 0.02)
        elif init == "default":
            bound = 1.0 / math.sqrt(weight.shape[1])
            nn.init.uniform_(weight, -bound, bound)
        else:
            raise ValueError(f"Unknown init scheme {init!r}; choose 'default' or 'dcgan'.")

    def apply_spectral_norm(self, n_power_iterations: int = 1) -> ClassProjection:
        """Spectrally normalise E (``ganforge.nn.layers.apply_spectral_norm`` only wraps
        linear and conv layers, not embeddings). Returns ``self``."""
        _spectral_norm(self.embed, n_power_iterations=n_power_iterations)
        return self

    def forward(self, h: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        # <E[y_i], h_i> for every sample i: (N, F) * (N, F) summed over F -> (N,)
        return (self.embed(y) * h).sum(dim=1)


class ConditioningAugmentation(nn.Module):
    r"""Conditioning augmentation (Zhang et al. 2017, StackGAN, sec. 3.1).

    A fixed embedding phi (e.g. of a caption) is a single point in a high-dimensional
    space, and few captions give a sparse, discontinuous conditioning manifold. StackGAN
    instead samples the condition c ~ N(mu(phi), diag(sigma(phi)^2)) with mu and
    log sigma from one linear layer, and adds to the generator's loss

        KL( N(mu, diag sigma^2) || N(0, I) ) = 1/2 sum_j (mu_j^2 + sigma_j^2 - 1 - 2 log sigma_j)

    (averaged over the batch, weighted by lambda = 1 in the paper), which smooths the
    conditioning manifold and keeps it near the prior.

    Args:
        embed_dim: D, width of phi.
        cond_dim: width of c (128 in StackGAN).

    Shapes:
        phi (N, D) -> (c (N, cond_dim), kl scalar). In eval mode c = mu (no sampling).
    """

    def __init__(self, embed_dim: int, cond_dim: int = 128) -> None:
        super().__init__()
        if embed_dim < 1 or cond_dim < 1:
            raise ValueError(f"embed_dim and cond_dim must be >= 1, got {embed_dim}, {cond_dim}.")
        self.cond_dim = cond_dim
        self.fc = nn.Linear(embed_dim, 2 * cond_dim)

    def forward(self, phi: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mu, log_sigma = self.fc(phi).chunk(2, dim=1)
        kl = 0.5 * (mu.pow(2) + torch.exp(2 * log_sigma) - 1 - 2 * log_sigma).sum(1).mean()
        if not self.training:
            return mu, kl
        # reparameterisation: c = mu + sigma * eps keeps c differentiable in phi
        return mu + torch.exp(log_sigma) * torch.randn_like(mu), kl


def balanced_labels(n: int, num_classes: int, device: torch.device | str = "cpu") -> torch.Tensor:
    """(n,) labels in blocks, class k for samples [k n / K, (k + 1) n / K): a sample grid
    with n / K images per row shows one class per row."""
    return torch.arange(n, device=device) * num_classes // n


def uniform_noise(
    shape: tuple[int, ...],
    device: torch.device | str = "cpu",
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """U(-1, 1) noise of ``shape``; training draws (no ``generator``) are sharded over
    data-parallel ranks like :func:`draw_codes`."""
    if generator is None:
        return sharded(lambda s: torch.rand(s, device=device), shape) * 2 - 1
    return torch.rand(shape, device=device, generator=generator) * 2 - 1


def draw_codes(
    n: int,
    categorical: int,
    continuous: int,
    device: torch.device | str = "cpu",
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """InfoGAN codes: c_cat (n,) uniform over ``categorical`` classes (all 0 when there is
    no categorical code) and c_cont (n, continuous) ~ U(-1, 1), drawn in that order."""
    if generator is None:  # a training draw: sharded over data-parallel ranks
        c_cat = sharded(lambda s: torch.randint(max(categorical, 1), s, device=device), (n,))
        c_cont = sharded(lambda s: torch.rand(s, device=device), (n, continuous)) * 2 - 1
        return c_cat, c_cont
    c_cat = torch.randint(max(categorical, 1), (n,), device=device, generator=generator)
    c_cont = torch.rand(n, continuous, device=device, generator=generator) * 2 - 1
    return c_cat, c_cont


def with_codes(
    z: torch.Tensor, c_cat: torch.Tensor, c_cont: torch.Tensor, categorical: int
) -> torch.Tensor:
    """InfoGAN's generator input [z, one_hot(c_cat), c_cont]: (N, d_z + K + C); the one-hot
    part is left out when ``categorical`` is 0."""
    parts = [z]
    if categorical:
        parts.append(F.one_hot(c_cat, categorical).to(z.dtype))
    parts.append(c_cont.to(z.dtype))
    return torch.cat(parts, dim=1)

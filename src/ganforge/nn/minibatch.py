"""Critic layers that look across the batch, and the maxout unit.

A critic that scores each sample alone cannot see that a generator puts all its samples in
the same place (mode collapse): every single sample may look real. The two layers below
give each sample's features a summary of the *other* samples, so a collapsed batch looks
different from a real one.

- :class:`MinibatchStdDev`: appends the standard deviation of the features over a small
  group of samples (Karras et al. 2018, Progressive Growing of GANs for Improved Quality,
  Stability, and Variation, section 3). No parameters.
- :class:`MinibatchDiscrimination`: appends learned closeness of each sample to the others
  (Salimans et al. 2016, Improved Techniques for Training GANs, section 3.2).
- :class:`Maxout`: a linear map followed by a max over groups of ``pieces`` units
  (Goodfellow et al. 2013, Maxout Networks); the PacGAN 2-D critic stacks three of these.

Both batch layers make a sample's output depend on the rest of its batch, so real and fake
samples must not be mixed in one batch passed through them (the statistics would then
leak which is which), and evaluation-time outputs depend on the batch composition.
"""

from __future__ import annotations

import math

import torch
from torch import nn

#: Added to the variance before the square root so its gradient stays finite at 0.
STDDEV_EPS = 1e-8


class MinibatchStdDev(nn.Module):
    """Append the within-group standard deviation of the features as extra channel(s).

    The batch of N samples is cut into consecutive groups of G = min(group_size, N)
    samples (samples ``[g*G, (g+1)*G)`` form group g; with a shuffled batch the grouping
    is arbitrary anyway). For each group and each feature (channel and position), the
    biased standard deviation over the G samples is computed,
    ``sqrt(mean_i (x_i - mean x)^2 + 1e-8)``. The channels are split into
    ``num_features`` equal blocks and the std is averaged over each block (and over all
    spatial positions), giving ``num_features`` numbers per group. Every sample of the
    group gets them appended: as constant feature maps for images, as extra columns for
    vectors. ``num_features = 1`` is the layer of Karras et al. 2018 (ProGAN), section 3;
    more blocks follow the later StyleGAN variant.

    A generator whose samples collapse produces a std near 0 in every group, which the
    following critic layers can detect and punish.

    Args:
        group_size: the largest group size G; the batch size must be divisible by
            min(group_size, N).
        num_features: how many statistics to append; the channel count C (or width D)
            must be divisible by it.

    Shapes:
        (N, C, H, W) -> (N, C + num_features, H, W), or (N, D) -> (N, D + num_features).
        Any (N, C, *spatial) works the same way.
    """

    def __init__(self, group_size: int = 4, num_features: int = 1) -> None:
        super().__init__()
        if group_size < 1:
            raise ValueError(f"group_size must be >= 1, got {group_size}.")
        if num_features < 1:
            raise ValueError(f"num_features must be >= 1, got {num_features}.")
        self.group_size = group_size
        self.num_features = num_features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim < 2:
            raise ValueError(f"Expected (N, C, ...) input, got shape {tuple(x.shape)}.")
        n, c, *spatial = x.shape
        g = min(self.group_size, n)
        f = self.num_features
        if n % g != 0:
            raise ValueError(
                f"MinibatchStdDev: batch size {n} is not divisible by the group size {g}."
            )
        if c % f != 0:
            raise ValueError(
                f"MinibatchStdDev: {c} channels are not divisible by num_features={f}."
            )
        m = n // g
        # (M groups, G samples, F blocks, C/F channels, *spatial)
        y = x.reshape(m, g, f, c // f, *spatial)
        std = torch.sqrt(y.var(dim=1, unbiased=False) + STDDEV_EPS)  # (M, F, C/F, *spatial)
        stat = std.flatten(2).mean(dim=2)  # (M, F): averaged over channels and positions
        # Give every sample of the group the group's statistics, constant over positions.
        stat = stat[:, None].expand(m, g, f).reshape(n, f)
        stat = stat.reshape(n, f, *([1] * len(spatial))).expand(n, f, *spatial)
        return torch.cat([x, stat.to(x.dtype)], dim=1)

    def extra_repr(self) -> str:
        return f"group_size={self.group_size}, num_features={self.num_features}"


class MinibatchDiscrimination(nn.Module):
    """Append, per learned kernel, how close each sample is to the others in the batch.

    Salimans et al. 2016, Improved Techniques for Training GANs, section 3.2. With the
    input features x_i in R^A and a learned tensor T in R^{A x B x C}:

        M_i = x_i T                                   (B x C matrix per sample)
        c_b(x_i, x_j) = exp(-||M_{i,b} - M_{j,b}||_1)  (closeness under kernel b)
        o(x_i)_b = sum_{j != i} c_b(x_i, x_j)

    and the output is [x_i, o(x_i)]. The sum over all j includes j = i with
    c_b = exp(0) = 1, which is subtracted, so o counts only the *other* samples: a batch
    of N identical samples gives o = N - 1 for every kernel, a widely spread batch o ~ 0.
    The layer is permutation-equivariant in the batch. Memory is O(N^2 B C).

    Initialisation: T ~ N(0, s^2) with s = 1 / (C sqrt(A)). For inputs with unit-variance
    independent features, each entry of M_i - M_j then has std sqrt(2) / C, so the L1
    distance over the C entries is about C * (sqrt(2) / C) * sqrt(2 / pi) = 2 / sqrt(pi)
    ~ 1.1 whatever A and C are. The closeness exp(-d) thus starts near 0.3: neither ~0 (where it and its
    gradient vanish, the layer being dead) nor ~1 (every pair indistinguishable). A fixed
    std such as 0.1 gives the same order only for moderate A and C (A * C^2 ~ 100).

    Args:
        in_features: A, the width of the input features.
        num_kernels: B, the number of closeness features appended.
        kernel_dim: C, the dimension of each kernel's projection.

    Shapes:
        (N, A) -> (N, A + B).
    """

    def __init__(self, in_features: int, num_kernels: int = 50, kernel_dim: int = 5) -> None:
        super().__init__()
        if min(in_features, num_kernels, kernel_dim) < 1:
            raise ValueError("in_features, num_kernels and kernel_dim must all be >= 1.")
        self.in_features = in_features
        self.num_kernels = num_kernels
        self.kernel_dim = kernel_dim
        # Stored as (A, B*C) so that x @ T is a single matmul.
        self.T = nn.Parameter(torch.empty(in_features, num_kernels * kernel_dim))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """T ~ N(0, (1 / (C sqrt(A)))^2); see the class docstring for why."""
        nn.init.normal_(self.T, 0.0, 1.0 / (self.kernel_dim * math.sqrt(self.in_features)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 2 or x.shape[1] != self.in_features:
            raise ValueError(f"Expected input (N, {self.in_features}), got shape {tuple(x.shape)}.")
        m = (x @ self.T).view(-1, self.num_kernels, self.kernel_dim).transpose(0, 1)  # (B, N, C)
        # (B, N, N): ||M_i,b - M_j,b||_1. cdist's fused kernel and backward are 2-4x faster
        # on CPU than broadcasting (N, N, B, C) differences, with the same values.
        dist = torch.cdist(m, m, p=1.0)
        o = torch.exp(-dist).sum(dim=2) - 1.0  # (B, N); the -1 removes j = i
        return torch.cat([x, o.T], dim=1)

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, num_kernels={self.num_kernels}, "
            f"kernel_dim={self.kernel_dim}"
        )


class Maxout(nn.Module):
    """A maxout layer: ``out_features`` units, each the max of ``pieces`` linear maps.

    Goodfellow et al. 2013, Maxout Networks: h_k(x) = max_{p} (W_{kp} x + b_{kp}). It is
    one ``Linear(in_features, out_features * pieces)`` whose outputs are read as
    (out_features, pieces), unit k using rows ``[k * pieces, (k + 1) * pieces)``, followed
    by a max over the pieces. A maxout unit is a learned convex piecewise-linear
    activation. The PacGAN 2-D critic (Lin et al. 2018) uses three maxout layers of 200
    units with 5 pieces.

    Args:
        in_features: input width.
        out_features: number of maxout units.
        pieces: linear pieces per unit.

    Shapes:
        (N, in_features) -> (N, out_features); leading dimensions other than N are kept.
    """

    def __init__(self, in_features: int, out_features: int, pieces: int = 5) -> None:
        super().__init__()
        if min(in_features, out_features, pieces) < 1:
            raise ValueError("in_features, out_features and pieces must all be >= 1.")
        self.out_features = out_features
        self.pieces = pieces
        self.linear = nn.Linear(in_features, out_features * pieces)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = self.linear(x)
        # max (with indices) rather than amax: its backward is one scatter, amax's splits
        # the gradient over ties with mask and count passes (1.3x slower unrolled steps).
        return z.view(*z.shape[:-1], self.out_features, self.pieces).max(dim=-1).values

    def extra_repr(self) -> str:
        return f"pieces={self.pieces}"

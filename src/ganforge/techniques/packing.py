"""PacGAN packing: the critic scores m samples at once.

Lin et al. 2018, PacGAN: The Power of Two Samples in Generative Adversarial Networks.
The critic receives m samples concatenated into one input and decides whether all of
them are real or all fake. Seeing m samples jointly, it can tell a distribution that
misses modes from the data far more easily (the paper shows packing penalises mode
collapse in the divergence the critic estimates); only the critic's input width changes.

- :func:`pack`: (N, *S) -> (N // m, m * S[0], *S[1:]): images are stacked along
  channels, vectors concatenated.
- :func:`unpack`: the exact inverse.

The m samples packed together must be drawn independently from the same distribution:
all real (from a shuffled batch) or all fake (from independent latent codes), never a
mix, and never copies or augmentations of one another. :func:`pack` groups *consecutive*
samples: samples ``[g*m, (g+1)*m)`` form packed sample g, sample ``g*m + i`` landing in
channel block i (channels ``[i*S[0], (i+1)*S[0])``). A batch of N samples gives N // m
critic inputs, so the critic loss averages over N // m scores.
"""

from __future__ import annotations

import torch


def _check_m(m: int) -> None:
    if not isinstance(m, int) or isinstance(m, bool) or m < 1:
        raise ValueError(f"The packing degree m must be a positive integer, got {m!r}.")


def pack(x: torch.Tensor, m: int) -> torch.Tensor:
    """Pack every m consecutive samples into one.

    Args:
        x: (N, *S) a batch of samples: (N, C, H, W) images or (N, D) vectors; N must be
            divisible by m.
        m: the packing degree; m = 1 returns an equal-valued view.

    Returns:
        (N // m, m * S[0], *S[1:]): (N // m, m * C, H, W) or (N // m, m * D). Packed
        sample g holds samples ``g*m .. g*m + m - 1`` in channel blocks ``0 .. m - 1``.

    Raises:
        ValueError: if x has no feature axis, m < 1, or N is not divisible by m.
    """
    _check_m(m)
    if x.ndim < 2:
        raise ValueError(f"pack expects (N, D) or (N, C, ...) input, got {tuple(x.shape)}.")
    n, c, *rest = x.shape
    if n % m != 0:
        raise ValueError(f"pack: batch size {n} is not divisible by the packing degree {m}.")
    # (N, C, *rest) in row-major order is (N/m, m, C, *rest): merging the m and C axes puts
    # sample i of each group into channel block i.
    return x.reshape(n // m, m * c, *rest)


def unpack(x: torch.Tensor, m: int) -> torch.Tensor:
    """The exact inverse of :func:`pack`: (N', m * C, *R) -> (N' * m, C, *R).

    Raises:
        ValueError: if x has no feature axis, m < 1, or its axis 1 is not divisible by m.
    """
    _check_m(m)
    if x.ndim < 2:
        raise ValueError(f"unpack expects (N, D) or (N, C, ...) input, got {tuple(x.shape)}.")
    n, mc, *rest = x.shape
    if mc % m != 0:
        raise ValueError(f"unpack: axis 1 of size {mc} is not divisible by m = {m}.")
    return x.reshape(n * m, mc // m, *rest)

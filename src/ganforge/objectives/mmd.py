r"""MMD GAN: maximum mean discrepancy with a learned kernel on critic features.

Li et al. 2017, "MMD GAN: Towards Deeper Understanding of Moment Matching Network"
(NeurIPS). For a kernel k, the squared maximum mean discrepancy is

    MMD^2(P, Q) = E_{x,x'~P} k(x, x') + E_{y,y'~Q} k(y, y') - 2 E_{x~P, y~Q} k(x, y),

the squared distance between the mean embeddings of P and Q in the kernel's RKHS; with a
characteristic kernel (Gaussian RBF) it is a metric on distributions. MMD GAN composes a
fixed Gaussian kernel with a learned feature map (the critic, an encoder f_phi):
k_phi(x, y) = k(f_phi(x), f_phi(y)), the critic maximises MMD^2 of the features over
phi and the generator minimises it. Kernel: a mixture of RBF kernels with bandwidths
sigma in {1, 2, 4, 8, 16} (the paper's choice),

    k(a, b) = sum_s exp(-||a - b||^2 / (2 s^2)).

Estimator: the unbiased one (Gretton et al. 2012, eq. 3), which leaves out the diagonal
terms k(x_i, x_i):

    MMD^2_u = 1/(m(m-1)) sum_{i != j} k(x_i, x_j) + 1/(n(n-1)) sum_{i != j} k(y_i, y_j)
              - 2/(mn) sum_{i, j} k(x_i, y_j).

It can be slightly negative when P = Q; the ``sqrt`` variant (the released MMD GAN code
trains on sqrt(relu(MMD^2_u))) clips it at zero first.

Features: ``CriticOutput.features`` (N, F). A critic that returns no features falls back
to its score as a feature vector, ``score.reshape(N, -1)`` ((N, 1) for a scalar score),
so the kernel then compares the critic's scalar outputs.

Not included: the paper's autoencoder term (a decoder that keeps f_phi injective) and
its one-sided penalty. The critic's feasible set (the paper clips its weights) is a
penalty in the recipe: ``weight-clip`` as in the paper, or ``gradient-penalty`` (as in
Binkowski et al. 2018, Demystifying MMD GANs).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, ClassVar

import torch
from pydantic import Field

from ganforge.nets.base import CriticOutput
from ganforge.registry import OBJECTIVES

_PAPER = "Li et al. 2017, MMD GAN: Towards Deeper Understanding of Moment Matching Network"

#: the paper's bandwidths
DEFAULT_SIGMAS: tuple[float, ...] = (1.0, 2.0, 4.0, 8.0, 16.0)


def _float(x: torch.Tensor) -> torch.Tensor:
    """Half-precision features (under autocast) are promoted to float32."""
    return x.float() if x.dtype in (torch.float16, torch.bfloat16) else x


def critic_features(out: CriticOutput) -> torch.Tensor:
    """The (N, F) features of a critic output; the score reshaped to (N, -1) if it has none."""
    feats = out.features if out.features is not None else out.score.reshape(out.score.shape[0], -1)
    if feats.dim() != 2:
        feats = feats.reshape(feats.shape[0], -1)
    return _float(feats)


# -- functional core -------------------------------------------------------------------------
def mix_rbf_kernel(
    x: torch.Tensor, y: torch.Tensor, sigmas: Sequence[float] = DEFAULT_SIGMAS
) -> torch.Tensor:
    """Mixture of Gaussian RBF kernels: K[i, j] = sum_s exp(-||x_i - y_j||^2 / (2 s^2)).

    Args:
        x: (m, F) features.
        y: (n, F) features.
        sigmas: bandwidths.

    Returns:
        (m, n) kernel matrix.
    """
    # ||x - y||^2 = ||x||^2 + ||y||^2 - 2 <x, y>; clamped at 0 against rounding. No sqrt,
    # so the kernel stays smooth where x_i = y_j.
    d2 = (x.pow(2).sum(1)[:, None] + y.pow(2).sum(1)[None, :] - 2 * x @ y.T).clamp_min(0)
    return sum(torch.exp(-d2 / (2.0 * s * s)) for s in sigmas)  # type: ignore[return-value]


def mmd2_unbiased(
    x: torch.Tensor, y: torch.Tensor, sigmas: Sequence[float] = DEFAULT_SIGMAS
) -> torch.Tensor:
    """Unbiased estimate of MMD^2 between the samples x (m, F) and y (n, F).

    1/(m(m-1)) sum_{i!=j} k(x_i, x_j) + 1/(n(n-1)) sum_{i!=j} k(y_i, y_j) - 2/(mn) sum k(x_i, y_j)

    Raises:
        ValueError: when a batch has fewer than 2 samples or the feature sizes differ.
    """
    m, n = x.shape[0], y.shape[0]
    if m < 2 or n < 2:
        raise ValueError(
            f"The unbiased MMD estimate needs at least 2 samples per batch (it averages "
            f"over pairs i != j); got {m} real and {n} generated. Use a larger batch."
        )
    if x.shape[1:] != y.shape[1:]:
        raise ValueError(
            f"Real and generated features must have the same size to be compared by a "
            f"kernel; got {tuple(x.shape)} and {tuple(y.shape)}."
        )
    kxx, kyy, kxy = (
        mix_rbf_kernel(x, x, sigmas),
        mix_rbf_kernel(y, y, sigmas),
        mix_rbf_kernel(x, y, sigmas),
    )
    # sums over i != j: the full sum minus the diagonal
    sxx = (kxx.sum() - kxx.diagonal().sum()) / (m * (m - 1))
    syy = (kyy.sum() - kyy.diagonal().sum()) / (n * (n - 1))
    return sxx + syy - 2 * kxy.mean()


def mmd_d_loss(
    real: torch.Tensor,
    fake: torch.Tensor,
    sigmas: Sequence[float] = DEFAULT_SIGMAS,
    sqrt: bool = False,
) -> torch.Tensor:
    """Critic loss: -MMD^2_u(real, fake), or -sqrt(relu(MMD^2_u)) with ``sqrt``.

    Args:
        real: (m, F) critic features of real samples.
        fake: (n, F) critic features of generated samples.
    """
    return -_mmd_value(real, fake, sigmas, sqrt)


def mmd_g_loss(
    real: torch.Tensor,
    fake: torch.Tensor,
    sigmas: Sequence[float] = DEFAULT_SIGMAS,
    sqrt: bool = False,
) -> torch.Tensor:
    """Generator loss: MMD^2_u(real, fake), or sqrt(relu(MMD^2_u)) with ``sqrt``."""
    return _mmd_value(real, fake, sigmas, sqrt)


def _mmd_value(
    real: torch.Tensor, fake: torch.Tensor, sigmas: Sequence[float], sqrt: bool
) -> torch.Tensor:
    mmd2 = mmd2_unbiased(_float(real), _float(fake), sigmas)
    # relu first: the unbiased estimate can be slightly negative. relu's backward masks
    # the infinite slope of sqrt at 0, so the gradient there is 0, not NaN.
    return torch.sqrt(torch.relu(mmd2)) if sqrt else mmd2


# -- registered objective --------------------------------------------------------------------
@OBJECTIVES.register("mmd", paper=_PAPER)
class MMDGAN:
    """MMD GAN: the critic learns features on which a Gaussian-mixture-kernel MMD is largest.

    - Critic: ``d_loss`` = -MMD^2_u(f(x_real), f(x_fake)) (or -sqrt(relu(MMD^2_u))).
    - Generator: ``g_loss`` = +MMD^2_u (or sqrt(relu(MMD^2_u))); it needs the real
      features (``needs_real_for_g``).
    - Kernel: k(a, b) = sum_s exp(-||a - b||^2 / (2 s^2)) on ``CriticOutput.features``
      (the score as a 1-feature vector when a critic has no features).
    - Divergence: MMD with a characteristic (Gaussian) kernel is a metric; maximised over
      injective feature maps it is a continuous metric in the weak topology (paper,
      Theorem 3), minimised by the generator.
    - Optimal critic: the feature map f_phi whose induced kernel k(f_phi(.), f_phi(.))
      maximises the MMD between P and Q; for a fixed kernel the witness function
      E_P k(x, .) - E_Q k(x, .) attains the MMD.
    - Feasibility: the paper clips the critic's weights; add ``weight-clip`` (or
      ``gradient-penalty``) to the recipe's penalties.

    Args:
        sigmas: RBF bandwidths (each > 0); the paper's (1, 2, 4, 8, 16).
        sqrt: train on sqrt(relu(MMD^2_u)) as the released code does, instead of MMD^2_u.
    """

    needs_real_for_g: ClassVar[bool] = True
    divergence: ClassVar[str] = (
        "MMD with a characteristic Gaussian-mixture kernel (a metric) on critic features"
    )

    def __init__(
        self,
        sigmas: Annotated[
            tuple[Annotated[float, Field(gt=0)], ...], Field(min_length=1)
        ] = DEFAULT_SIGMAS,
        sqrt: bool = False,
    ) -> None:
        if len(sigmas) == 0:
            raise ValueError(
                "mmd needs at least one kernel bandwidth in 'sigmas', e.g. [1, 2, 4, 8, 16]."
            )
        self.sigmas = tuple(float(s) for s in sigmas)
        self.sqrt = bool(sqrt)

    def d_loss(self, real: CriticOutput, fake: CriticOutput) -> torch.Tensor:
        """-MMD^2_u of the features; see :func:`mmd_d_loss`."""
        return mmd_d_loss(critic_features(real), critic_features(fake), self.sigmas, self.sqrt)

    def g_loss(self, fake: CriticOutput, real: CriticOutput | None = None) -> torch.Tensor:
        """MMD^2_u of the features; ``real`` is required. See :func:`mmd_g_loss`."""
        if real is None:
            raise ValueError(
                "The mmd generator loss compares generated with real features: pass the "
                "critic's output on a real batch (the objective sets needs_real_for_g)."
            )
        return mmd_g_loss(critic_features(real), critic_features(fake), self.sigmas, self.sqrt)

    def __repr__(self) -> str:
        return f"MMDGAN(sigmas={self.sigmas!r}, sqrt={self.sqrt!r})"

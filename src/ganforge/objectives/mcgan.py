r"""McGan: mean and covariance feature matching IPMs.

Mroueh, Sercu & Goel 2017, "McGan: Mean and Covariance Feature Matching GAN" (ICML).
The critic is a feature map Phi_w: x -> R^m (``CriticOutput.features``) with w in a
compact set (weight clipping), and the IPM compares statistics of the features:

- Mean matching (paper, sec. 3): the critic functions f(x) = <v, Phi_w(x)> with
  ||v||_p <= 1 (p the dual exponent of q) give

      d_{mu,q}(P, Q) = max_w max_{||v||_p <= 1} <v, mu_w(P) - mu_w(Q)>
                     = max_w ||mu_w(P) - mu_w(Q)||_q,   mu_w(P) = E_P Phi_w(x),

  the inner maximum over v in closed form (Hoelder's inequality is tight).
- Covariance matching (paper, sec. 4): f(x) = sum_j <u_j, Phi(x)> <v_j, Phi(x)> with
  U, V in R^{m x k} orthonormal; with the uncentered covariances
  Sigma_w(P) = E_P Phi_w(x) Phi_w(x)^T,

      max_{U, V} Tr(U^T (Sigma_w(P) - Sigma_w(Q)) V) = ||[Sigma_w(P) - Sigma_w(Q)]_k||_*,

  the sum of the k largest singular values (Ky Fan k-norm). The paper learns U, V by
  gradient steps with a projection onto orthonormal matrices; here k = m and the
  maximum is computed exactly, ||Sigma_P - Sigma_Q||_* by ``torch.linalg.svdvals``:
  the value the paper's learned U, V approach, without their extra parameters.

Both are IPMs (pseudo-metrics on distributions) for each w; the critic maximises the
distance over w (``d_loss`` = -distance), the generator minimises it (``g_loss`` =
+distance, which needs the real features: ``needs_real_for_g``). The compact set of w
is a penalty in the recipe: ``weight-clip`` as in the paper.

Features are the (N, m) ``CriticOutput.features``; a critic without features falls back
to its score reshaped to (N, -1), as in :mod:`ganforge.objectives.mmd`.
"""

from __future__ import annotations

from typing import ClassVar, Literal

import torch

from ganforge.nets.base import CriticOutput
from ganforge.registry import OBJECTIVES

_PAPER = "Mroueh, Sercu & Goel 2017, McGan: Mean and Covariance Feature Matching GAN"


def _features(out: CriticOutput) -> torch.Tensor:
    """(N, m) features, the score reshaped to (N, -1) if there are none; half -> float32."""
    f = out.features if out.features is not None else out.score
    f = f.reshape(f.shape[0], -1)
    return f.float() if f.dtype in (torch.float16, torch.bfloat16) else f


def _check(real: torch.Tensor, fake: torch.Tensor) -> None:
    if real.dim() != 2 or fake.dim() != 2 or real.shape[1] != fake.shape[1]:
        raise ValueError(
            f"McGan compares (N, m) feature matrices of the same width m; got real "
            f"{tuple(real.shape)} and fake {tuple(fake.shape)}."
        )


# -- functional core -------------------------------------------------------------------------
def mean_feature_distance(
    real: torch.Tensor, fake: torch.Tensor, q: Literal[1, 2] = 2
) -> torch.Tensor:
    """||mu_P - mu_Q||_q with mu the mean feature vector of each batch.

    Args:
        real: (N, m) features of real samples.
        fake: (M, m) features of generated samples.
        q: 1 or 2, the norm.

    Returns:
        A scalar >= 0.
    """
    _check(real, fake)
    diff = real.mean(0) - fake.mean(0)  # mu_P - mu_Q, (m,)
    return torch.linalg.vector_norm(diff, ord=q)


def second_moment(phi: torch.Tensor) -> torch.Tensor:
    """Sigma = E[Phi Phi^T] = Phi^T Phi / N, the uncentered (m, m) covariance of the paper."""
    return phi.T @ phi / phi.shape[0]


def covariance_feature_distance(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """||Sigma_P - Sigma_Q||_*: the nuclear norm (sum of singular values) of the difference.

    Equals max over orthonormal U, V (m x m) of Tr(U^T (Sigma_P - Sigma_Q) V), the
    covariance-matching IPM at a fixed feature map.

    Args:
        real: (N, m) features of real samples.
        fake: (M, m) features of generated samples.

    Returns:
        A scalar >= 0.
    """
    _check(real, fake)
    return torch.linalg.svdvals(second_moment(real) - second_moment(fake)).sum()


def mcgan_distance(
    real: torch.Tensor,
    fake: torch.Tensor,
    mode: Literal["mean", "cov"] = "mean",
    q: Literal[1, 2] = 2,
) -> torch.Tensor:
    """The McGan IPM at the current features: mean (q-norm) or covariance (nuclear norm)."""
    if mode == "mean":
        return mean_feature_distance(real, fake, q)
    if mode == "cov":
        return covariance_feature_distance(real, fake)
    raise ValueError(f"McGan mode must be 'mean' or 'cov'; got {mode!r}.")


# -- registered objective --------------------------------------------------------------------
@OBJECTIVES.register("mcgan", paper=_PAPER)
class McGan:
    """McGan: the critic's features maximise a mean (q-norm) or covariance (nuclear) gap.

    - Critic: ``d_loss`` = -d(P, Q) with d = ||mu_P - mu_Q||_q (``mode="mean"``) or
      ||Sigma_P - Sigma_Q||_* (``mode="cov"``, uncentered covariances E[Phi Phi^T]) of
      ``CriticOutput.features``.
    - Generator: ``g_loss`` = +d(P, Q) (needs the real features: ``needs_real_for_g``).
    - Divergence: an IPM, max over the clipped feature maps of the distance between
      feature means (or second-moment matrices) of P and Q.
    - Optimal critic: the feature map Phi_w maximising that gap, with the linear
      (mean) or bilinear (cov) read-out in closed form: v = the dual-norm maximiser of
      <v, mu_P - mu_Q> (v proportional to mu_P - mu_Q for q = 2, sign(mu_P - mu_Q) for
      q = 1); U, V the singular vectors of Sigma_P - Sigma_Q. The paper learns U, V; the
      nuclear norm computes the value they attain exactly.
    - Feasibility: weight clipping, as in the paper: add ``weight-clip`` to the penalties.

    Args:
        mode: "mean" (mean matching) or "cov" (covariance matching).
        q: the norm of the mean matching, 1 or 2 (unused with ``mode="cov"``).
    """

    needs_real_for_g: ClassVar[bool] = True
    divergence: ClassVar[str] = (
        "mean (q-norm) or covariance (nuclear-norm) feature-matching IPM on critic features"
    )

    def __init__(self, mode: Literal["mean", "cov"] = "mean", q: Literal[1, 2] = 2) -> None:
        if mode not in ("mean", "cov"):
            raise ValueError(f"McGan mode must be 'mean' or 'cov'; got {mode!r}.")
        if q not in (1, 2):
            raise ValueError(f"McGan's mean matching uses the 1- or 2-norm; got q={q!r}.")
        self.mode = mode
        self.q = q

    def _distance(self, real: CriticOutput, fake: CriticOutput) -> torch.Tensor:
        return mcgan_distance(_features(real), _features(fake), self.mode, self.q)

    def d_loss(self, real: CriticOutput, fake: CriticOutput) -> torch.Tensor:
        """-d(P, Q); see :func:`mcgan_distance`."""
        return -self._distance(real, fake)

    def g_loss(self, fake: CriticOutput, real: CriticOutput | None = None) -> torch.Tensor:
        """+d(P, Q); ``real`` is required."""
        if real is None:
            raise ValueError(
                "The mcgan generator loss compares generated with real features: pass the "
                "critic's output on a real batch (the objective sets needs_real_for_g)."
            )
        return self._distance(real, fake)

    def __repr__(self) -> str:
        return f"McGan(mode={self.mode!r}, q={self.q!r})"

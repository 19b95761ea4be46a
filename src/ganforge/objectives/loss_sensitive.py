r"""Loss-sensitive GAN: the critic is a loss that must be lower on real data by a margin.

Qi 2017, Loss-Sensitive Generative Adversarial Networks on Lipschitz Densities (IJCV
2020; arXiv 1701.06264).

The critic's score is a loss L(x), meant to be low on real samples. Each real sample x_r
is paired with a generated one x_f, and the loss of the real one must be lower by at
least a data-dependent margin Delta(x_r, x_f):

    J(L) = E_P[L(x_r)] + lam E_{(x_r, x_f)}[relu(Delta(x_r, x_f) + L(x_r) - L(x_f))],
    J(G) = E_Q[L(x_f)].

The margin here is

    Delta(x_r, x_f) = scale * mean_j |x_r[j] - x_f[j]|^p,   p in {1, 2},

the mean over the flattened features of each pair (a per-feature L1 distance for p = 1,
the mean squared difference, without a square root, for p = 2). Qi uses the L1 distance;
the mean instead of the sum keeps ``scale`` comparable across image sizes (multiply
``scale`` by the number of features to get the sum). Because the margin depends on the
samples themselves, the objective declares ``needs_samples = True`` and the algorithm
passes ``x_real`` and ``x_fake``; the margin is not differentiated by the critic (the
samples do not depend on its parameters).

Divergence and optimal critic. Qi restricts L to Lipschitz functions (and the data density
to a Lipschitz one) and shows that at the equilibrium the generated density matches the
data density: the total variation int |p_data - p_G*| dx is bounded by 2 / lam, so it
vanishes as the hinge's weight grows. The optimal critic is not available in closed form;
the paper's non-parametric analysis bounds it above and below by cone-shaped
(piecewise-linear in Delta) functions with non-vanishing gradients, which is why the
generator still gets a gradient from an over-trained loss. Qi keeps L Lipschitz by weight
decay or a gradient penalty on L: here that is the ``gradient-penalty`` penalty, added
one-sided when ``gp_weight > 0`` (or list a penalty in the recipe yourself).

Qi's L is a loss, non-negative: a shift L -> L - k leaves the hinge term unchanged and
lowers E_P[L] by k, so an unbounded critic can lower J(L) without limit. Give the critic a
non-negative output: the registered objective uses L = |score| by default
(``loss_activation="abs"``; a final softplus saturated in our ring8 runs).

Critic scores of shape (N, ...) are reduced to one loss per sample by their mean over the
non-batch dimensions before pairing.

Functional core: ``loss_sensitive_margin``, ``loss_sensitive_d_loss``,
``loss_sensitive_g_loss``. Registered wrapper: ``lsgan-qi`` (``lsgan`` is Mao et al.'s
least squares GAN).
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

import torch
import torch.nn.functional as F
from pydantic import Field

from ganforge.nets.base import CriticOutput
from ganforge.registry import OBJECTIVES

_PAPER = "Qi 2017, Loss-Sensitive Generative Adversarial Networks on Lipschitz Densities"


def _f32(x: torch.Tensor) -> torch.Tensor:
    """Half-precision tensors (under autocast) are promoted to float32 before the loss."""
    return x.float() if x.dtype in (torch.float16, torch.bfloat16) else x


def _per_sample(scores: torch.Tensor) -> torch.Tensor:
    """(N, ...) scores -> (N,) losses, the mean over non-batch dimensions."""
    scores = _f32(scores)
    if scores.ndim == 0:
        raise ValueError("loss-sensitive GAN: critic scores must have a batch dimension (N, ...).")
    return scores.reshape(scores.shape[0], -1).mean(dim=1)


# -- functional core -------------------------------------------------------------------------
def loss_sensitive_margin(
    x_real: torch.Tensor, x_fake: torch.Tensor, p: int = 1, scale: float = 1.0
) -> torch.Tensor:
    """Delta(x_r, x_f) = scale * mean over features of |x_r - x_f|^p, per pair.

    Args:
        x_real: real samples (N, ...).
        x_fake: generated samples, the same shape; x_fake[i] is paired with x_real[i].
        p: 1 (mean absolute difference) or 2 (mean squared difference).
        scale: multiplier of the margin.

    Returns:
        (N,) margins.

    Raises:
        ValueError: if the shapes differ or p is not 1 or 2.
    """
    if x_real.shape != x_fake.shape:
        raise ValueError(
            "loss-sensitive GAN pairs each real sample with one generated sample, so x_real "
            f"and x_fake must have the same shape; got {tuple(x_real.shape)} and "
            f"{tuple(x_fake.shape)}. Generate as many samples as there are real ones."
        )
    if p not in (1, 2):
        raise ValueError(f"margin_p must be 1 or 2, got {p!r}.")
    diff = (_f32(x_real) - _f32(x_fake)).reshape(x_real.shape[0], -1).abs()
    return scale * (diff if p == 1 else diff.square()).mean(dim=1)


def loss_sensitive_d_loss(
    real_scores: torch.Tensor,
    fake_scores: torch.Tensor,
    margin: torch.Tensor,
    lam: float = 1.0,
) -> torch.Tensor:
    """Critic loss E_P[L(x_r)] + lam E[relu(Delta + L(x_r) - L(x_f))].

    Args:
        real_scores: L on real samples, (N,) or (N, ...) (reduced per sample by the mean).
        fake_scores: L on the paired generated samples, the same batch size N.
        margin: (N,) margins Delta(x_r[i], x_f[i]) (:func:`loss_sensitive_margin`).
        lam: weight of the hinge term.

    Returns:
        A scalar.

    Raises:
        ValueError: if the batch sizes differ.
    """
    lr, lf = _per_sample(real_scores), _per_sample(fake_scores)
    margin = _f32(margin).reshape(-1)
    if not (lr.shape == lf.shape == margin.shape):
        raise ValueError(
            "loss-sensitive GAN pairs real[i] with fake[i] and margin[i]: got batch sizes "
            f"{lr.shape[0]} (real), {lf.shape[0]} (fake), {margin.shape[0]} (margin). Use "
            "equal real and fake batch sizes."
        )
    # E[L(x_r)] + lam E[(Delta(x_r, x_f) + L(x_r) - L(x_f))_+]
    return lr.mean() + lam * F.relu(margin + lr - lf).mean()


def loss_sensitive_g_loss(fake_scores: torch.Tensor) -> torch.Tensor:
    """Generator loss E_Q[L(x_f)].

    Args:
        fake_scores: L on generated samples, any shape.

    Returns:
        A scalar, the mean over all elements.
    """
    return _f32(fake_scores).mean()


# -- registered objective --------------------------------------------------------------------
@OBJECTIVES.register("lsgan-qi", paper=_PAPER)
class LossSensitiveGAN:
    """Loss-sensitive GAN: a learned loss L, lower on real data by a sample-dependent margin.

    - Critic: J(L) = E_P[L(x_r)] + lam E[relu(Delta(x_r, x_f) + L(x_r) - L(x_f))],
      Delta = scale * mean_j |x_r[j] - x_f[j]|^margin_p over the flattened features of
      each pair (x_r[i], x_f[i]).
    - Generator: J(G) = E_Q[L(x_f)].
    - Divergence: for Lipschitz L and a Lipschitz data density, the equilibrium bounds the
      total variation int |p_data - p_G| by 2 / lam (Qi 2017), so it goes to zero as lam
      grows.
    - Optimal critic: no closed form; Qi's non-parametric solution bounds it by
      cone-shaped (piecewise-linear) functions of the distance to the samples, with
      non-vanishing gradient almost everywhere.
    - Lipschitz constraint: Qi uses weight decay or a gradient penalty on L; ``gp_weight > 0``
      adds a one-sided ``gradient-penalty`` with that weight.
    - L should be non-negative (e.g. a final softplus in the critic): J(L) drops without
      limit under L -> L - k otherwise.
    - ``needs_samples``: the algorithm passes ``x_real`` and ``x_fake`` (same shape).

    Args:
        margin_p: the p of the margin's |x_r - x_f|^p.
        lam: weight of the hinge term.
        scale: multiplier of the margin Delta.
        gp_weight: weight of the implied one-sided gradient penalty (0: none).
        loss_activation: "abs" (default) makes L = |critic score| >= 0, the non-negative
            loss the paper assumes; "none" uses the raw score (unbounded below).
    """

    needs_real_for_g: ClassVar[bool] = False
    needs_samples: ClassVar[bool] = True
    divergence: ClassVar[str] = (
        "total variation, bounded by 2 / lam at the equilibrium for Lipschitz losses "
        "(no closed-form optimal critic)"
    )

    def __init__(
        self,
        margin_p: Literal[1, 2] = 1,
        lam: Annotated[float, Field(gt=0)] = 1.0,
        scale: Annotated[float, Field(ge=0)] = 1.0,
        gp_weight: Annotated[float, Field(ge=0)] = 0.0,
        loss_activation: Literal["abs", "none"] = "abs",
    ) -> None:
        if margin_p not in (1, 2):
            raise ValueError(f"lsgan-qi: margin_p must be 1 or 2, got {margin_p!r}.")
        self.margin_p = int(margin_p)
        self.lam = float(lam)
        self.scale = float(scale)
        self.gp_weight = float(gp_weight)
        self.loss_activation = loss_activation

    def _loss(self, scores: torch.Tensor) -> torch.Tensor:
        # L = |score| >= 0: Qi's L is a loss; an unbounded-below L lets J(L) drop forever
        # (measured: the critic ran to -2e7 on ring8 and G diverged; softplus saturated).
        return scores.abs() if self.loss_activation == "abs" else scores

    @staticmethod
    def implied_penalties(gp_weight: float = 0.0, **_: Any) -> list[dict[str, Any]]:
        """``[one-sided gradient-penalty]`` when ``gp_weight > 0``, else ``[]``."""
        if gp_weight > 0:
            return [{"name": "gradient-penalty", "weight": gp_weight, "one_sided": True}]
        return []

    def d_loss(
        self,
        real: CriticOutput,
        fake: CriticOutput,
        *,
        x_real: torch.Tensor | None = None,
        x_fake: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """E[L(x_r)] + lam E[relu(Delta(x_r, x_f) + L(x_r) - L(x_f))].

        Raises:
            ValueError: if ``x_real`` or ``x_fake`` is missing, or the batches differ.
        """
        if x_real is None or x_fake is None:
            raise ValueError(
                "lsgan-qi.d_loss needs the samples for its margin Delta(x_real, x_fake): call "
                "d_loss(real, fake, x_real=..., x_fake=...). Algorithms do so when "
                "needs_samples(objective) is True."
            )
        margin = loss_sensitive_margin(x_real, x_fake, self.margin_p, self.scale)
        return loss_sensitive_d_loss(
            self._loss(real.score), self._loss(fake.score), margin, self.lam
        )

    def g_loss(
        self,
        fake: CriticOutput,
        real: CriticOutput | None = None,
        *,
        x_real: torch.Tensor | None = None,
        x_fake: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """E[L(x_f)]; ``real`` and the samples are ignored."""
        return loss_sensitive_g_loss(self._loss(fake.score))

    def __repr__(self) -> str:
        return (
            f"LossSensitiveGAN(margin_p={self.margin_p}, lam={self.lam}, scale={self.scale}, "
            f"gp_weight={self.gp_weight})"
        )

r"""Relativistic GANs: the critic judges whether real data is more realistic than fake.

Jolicoeur-Martineau 2019, The relativistic discriminator: a key element missing from
standard GAN (ICLR 2019); Jolicoeur-Martineau 2020, On Relativistic f-Divergences (ICML
2020) for the divergences.

With C(x) the critic's raw score and sigma the logistic sigmoid:

Relativistic standard GAN (RSGAN, ``rgan``): D(x_r, x_f) = sigma(C(x_r) - C(x_f)) is the
probability that the real sample is more realistic than the fake one it is paired with:

    J(D) = -E_{(x_r, x_f)}[log sigma(C(x_r) - C(x_f))] = E[softplus(-(C(x_r) - C(x_f)))],
    J(G) = -E_{(x_r, x_f)}[log sigma(C(x_f) - C(x_r))] = E[softplus(-(C(x_f) - C(x_r)))].

Pairs are formed elementwise (x_r[i], x_f[i]), so the two batches must have the same
shape.

Relativistic average standard GAN (RaSGAN, ``ragan``): each sample is compared with the
mean critic value of the other distribution (the batch mean estimates it):

    J(D) = E_P[softplus(-(C(x_r) - E_Q C))] + E_Q[softplus(C(x_f) - E_P C)],
    J(G) = E_Q[softplus(-(C(x_f) - E_P C))] + E_P[softplus(C(x_r) - E_Q C)],

i.e. -E_P[log D~(x_r)] - E_Q[log(1 - D~(x_f))] with D~(x_r) = sigma(C(x_r) - E_Q C) and
D~(x_f) = sigma(C(x_f) - E_P C); the generator swaps the roles of real and fake. The means
are not detached: the paper's losses differentiate through them.

Divergences. Both critics' objectives are relativistic divergences (Jolicoeur-Martineau
2020): with f(z) = log 2 - softplus(-z) = log(2 sigma(z)) (concave, f(0) = 0, f'(0) = 1/2),

    D_R(P, Q)  = sup_C E_{x~P, y~Q}[f(C(x) - C(y))]             = log 2 - min_C J_RSGAN(D),
    D_Ra(P, Q) = sup_C E_P[f(C(x) - E_Q C)] + E_Q[f(E_P C - C(y))] = 2 log 2 - min_C J_RaSGAN(D),

both >= 0 and zero iff P = Q. The optimal critic has no closed form in general; J depends on
C only through differences, so C* is defined up to an additive constant, and when P = Q
every constant critic is optimal (softplus(z) + softplus(-z) >= 2 log 2 with equality at
z = 0), giving J_RSGAN(D) = log 2 and J_RaSGAN(D) = 2 log 2.

Functional core: ``rsgan_d_loss``, ``rsgan_g_loss``, ``rasgan_d_loss``, ``rasgan_g_loss``
(scores of any shape, means over all elements). Registered wrappers: ``rgan``, ``ragan``.
"""

from __future__ import annotations

from typing import ClassVar

import torch
import torch.nn.functional as F

from ganforge.nets.base import CriticOutput
from ganforge.registry import OBJECTIVES

_PAPER = (
    "Jolicoeur-Martineau 2019, The relativistic discriminator: a key element missing from "
    "standard GAN"
)


def _f32(x: torch.Tensor) -> torch.Tensor:
    """Half-precision scores (under autocast) are promoted to float32 before the loss."""
    return x.float() if x.dtype in (torch.float16, torch.bfloat16) else x


def _paired(real_scores: torch.Tensor, fake_scores: torch.Tensor, who: str) -> None:
    if real_scores.shape != fake_scores.shape:
        raise ValueError(
            f"{who}: the relativistic (paired) loss compares real[i] with fake[i], so real and "
            f"fake critic scores must have the same shape; got {tuple(real_scores.shape)} and "
            f"{tuple(fake_scores.shape)}. Use equal real and fake batch sizes, or the "
            "relativistic average loss ('ragan'), which allows different ones."
        )


# -- functional core -------------------------------------------------------------------------
def rsgan_d_loss(real_scores: torch.Tensor, fake_scores: torch.Tensor) -> torch.Tensor:
    """RSGAN critic loss E[softplus(-(C(x_r) - C(x_f)))], pairs formed elementwise.

    Args:
        real_scores: critic scores C(x_r), any shape.
        fake_scores: critic scores C(x_f), the same shape.

    Returns:
        A scalar, the mean over all pairs.

    Raises:
        ValueError: if the shapes differ.
    """
    _paired(real_scores, fake_scores, "rsgan_d_loss")
    # -log sigmoid(C_r - C_f) = softplus(-(C_r - C_f))
    return F.softplus(_f32(fake_scores) - _f32(real_scores)).mean()


def rsgan_g_loss(fake_scores: torch.Tensor, real_scores: torch.Tensor) -> torch.Tensor:
    """RSGAN generator loss E[softplus(-(C(x_f) - C(x_r)))], pairs formed elementwise.

    Args:
        fake_scores: critic scores C(x_f), any shape.
        real_scores: critic scores C(x_r), the same shape.

    Returns:
        A scalar, the mean over all pairs.

    Raises:
        ValueError: if the shapes differ.
    """
    _paired(real_scores, fake_scores, "rsgan_g_loss")
    # -log sigmoid(C_f - C_r) = softplus(C_r - C_f)
    return F.softplus(_f32(real_scores) - _f32(fake_scores)).mean()


def rasgan_d_loss(real_scores: torch.Tensor, fake_scores: torch.Tensor) -> torch.Tensor:
    """RaSGAN critic loss E_P[softplus(-(C_r - E_Q C))] + E_Q[softplus(C_f - E_P C)].

    Args:
        real_scores: critic scores on real samples, any shape.
        fake_scores: critic scores on generated samples, any shape (any batch size).

    Returns:
        A scalar: every expectation is the mean over all elements of its tensor.
    """
    r, f = _f32(real_scores), _f32(fake_scores)
    # -log sigmoid(C_r - mean C_f) - log(1 - sigmoid(C_f - mean C_r))
    return F.softplus(-(r - f.mean())).mean() + F.softplus(f - r.mean()).mean()


def rasgan_g_loss(fake_scores: torch.Tensor, real_scores: torch.Tensor) -> torch.Tensor:
    """RaSGAN generator loss E_Q[softplus(-(C_f - E_P C))] + E_P[softplus(C_r - E_Q C)].

    Args:
        fake_scores: critic scores on generated samples, any shape.
        real_scores: critic scores on real samples, any shape (any batch size).

    Returns:
        A scalar: every expectation is the mean over all elements of its tensor.
    """
    r, f = _f32(real_scores), _f32(fake_scores)
    # -log sigmoid(C_f - mean C_r) - log(1 - sigmoid(C_r - mean C_f))
    return F.softplus(-(f - r.mean())).mean() + F.softplus(r - f.mean()).mean()


# -- registered objectives -------------------------------------------------------------------
class _Relativistic:
    needs_real_for_g: ClassVar[bool] = True

    def _real(self, real: CriticOutput | None) -> CriticOutput:
        if real is None:
            name = type(self).__name__
            raise ValueError(
                f"{name}.g_loss needs the critic's output on real data (a relativistic "
                "generator loss compares fake with real scores): pass g_loss(fake, real). "
                "Algorithms do so when objective.needs_real_for_g is True."
            )
        return real

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


@OBJECTIVES.register("rgan", paper=_PAPER)
class RelativisticGAN(_Relativistic):
    """Relativistic standard GAN (RSGAN): sigma(C(x_r) - C(x_f)) = P(x_r more real than x_f).

    - Critic: J(D) = E[softplus(-(C(x_r) - C(x_f)))], pairs (x_r[i], x_f[i]).
    - Generator: J(G) = E[softplus(-(C(x_f) - C(x_r)))] (needs the real scores).
    - Divergence: log 2 - min_C J(D) = sup_C E_{P x Q}[log(2 sigma(C(x) - C(y)))], a
      relativistic divergence (Jolicoeur-Martineau 2020, On Relativistic f-Divergences):
      >= 0, zero iff P = Q.
    - Optimal critic: no closed form in general; defined up to an additive constant; when
      P = Q every constant critic is optimal and J(D) = log 2.
    - Real and fake batches must have the same size (ValueError otherwise).
    """

    divergence: ClassVar[str] = (
        "relativistic divergence log 2 - min J(D) = sup_C E[log(2 sigmoid(C(x_r) - C(x_f)))] "
        "(at the optimal critic)"
    )

    def d_loss(self, real: CriticOutput, fake: CriticOutput) -> torch.Tensor:
        """E[softplus(-(real.score - fake.score))]; see :func:`rsgan_d_loss`."""
        return rsgan_d_loss(real.score, fake.score)

    def g_loss(self, fake: CriticOutput, real: CriticOutput | None = None) -> torch.Tensor:
        """E[softplus(-(fake.score - real.score))]; see :func:`rsgan_g_loss`."""
        return rsgan_g_loss(fake.score, self._real(real).score)


@OBJECTIVES.register("ragan", paper=_PAPER)
class RelativisticAverageGAN(_Relativistic):
    """Relativistic average standard GAN (RaSGAN): compare with the other side's mean score.

    - Critic: J(D) = E_P[softplus(-(C(x_r) - E_Q C))] + E_Q[softplus(C(x_f) - E_P C)].
    - Generator: J(G) = E_Q[softplus(-(C(x_f) - E_P C))] + E_P[softplus(C(x_r) - E_Q C)].
    - Divergence: 2 log 2 - min_C J(D), a relativistic average divergence
      (Jolicoeur-Martineau 2020, On Relativistic f-Divergences): >= 0, zero iff P = Q.
    - Optimal critic: no closed form in general; defined up to an additive constant; when
      P = Q every constant critic is optimal and J(D) = 2 log 2.
    - Batch means estimate E_P C and E_Q C; real and fake batch sizes may differ.
    """

    divergence: ClassVar[str] = (
        "relativistic average divergence 2 log 2 - min J(D) (at the optimal critic)"
    )

    def d_loss(self, real: CriticOutput, fake: CriticOutput) -> torch.Tensor:
        """See :func:`rasgan_d_loss`."""
        return rasgan_d_loss(real.score, fake.score)

    def g_loss(self, fake: CriticOutput, real: CriticOutput | None = None) -> torch.Tensor:
        """See :func:`rasgan_g_loss`."""
        return rasgan_g_loss(fake.score, self._real(real).score)

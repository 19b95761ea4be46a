r"""Penalties on the critic's input gradient: WGAN-GP, DRAGAN, R1/R2, Sobolev constraint.

Every penalty here evaluates the critic on some points x, differentiates its score with
respect to x (``torch.autograd.grad(..., create_graph=True)``, so the penalty itself can be
backpropagated into the critic's parameters: a double backward) and returns a weighted
scalar for the critic's loss.

Conventions shared by all of them:

- The points are detached from whatever produced them (the generator, the data
  pipeline) and marked ``requires_grad``: the critic is re-run on them. The critic
  outputs the algorithm already computed (``out_real``, ``out_fake``) carry no graph to
  the inputs and are not used.
- Per-sample critic value: ``critic(x).score`` may be (N,) or a patch map (N, H, W, ...);
  the gradient of ``score.sum()`` with respect to x gives, for each sample, the gradient
  of the SUM of its patch scores (samples do not interact in a critic without batch
  statistics). For a patch critic the penalised function is therefore the sum over
  patches; scale ``weight`` if you want the mean.
- Gradient norms are taken over the WHOLE sample: the gradient (N, C, H, W) is flattened
  to (N, C*H*W) and each row's Euclidean norm is one number per sample. (A per-pixel or
  per-channel norm is a different, wrong, constraint.)
- No epsilon is added inside the square root: the norm's backward at a zero gradient
  is the zero subgradient in PyTorch (no NaN), which the tests check.
- Random numbers (interpolation weights, DRAGAN's noise) come from the global RNG of the
  samples' device (``torch.rand(..., device=x.device)``), which the checkpoint saves, so a
  resumed run draws the same numbers.

Registered in :data:`ganforge.registry.PENALTIES`: ``gradient-penalty``, ``dragan``,
``r1``, ``r2``, ``sobolev-constraint``.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar

import torch
from pydantic import Field
from torch import nn

from ganforge.nets.base import CriticOutput
from ganforge.nn.parallel import sharded
from ganforge.nn.precision import loss_scaled_grad
from ganforge.registry import PENALTIES

State = dict[str, torch.Tensor]

_PAPER_GP = "Gulrajani et al. 2017, Improved Training of Wasserstein GANs"
_PAPER_DRAGAN = "Kodali et al. 2017, On Convergence and Stability of GANs"
_PAPER_R1 = (
    "Mescheder, Geiger & Nowozin 2018, Which Training Methods for GANs do actually Converge?"
)
_PAPER_SOBOLEV = "Mroueh et al. 2018, Sobolev GAN"


# -- functional core -------------------------------------------------------------------------
def input_gradient(
    critic: nn.Module, x: torch.Tensor, *, create_graph: bool = True
) -> torch.Tensor:
    """Gradient of the critic's score with respect to its input, one row per sample.

    ``x`` is detached and marked ``requires_grad`` (whatever graph it had is cut), the
    critic is re-run on it, and ``d score.sum() / dx`` is returned flattened.

    Args:
        critic: maps x (N, ...) to a :class:`CriticOutput` (or a tensor of scores).
        x: samples (N, *shape).
        create_graph: keep the graph of the gradient so a loss built from it can be
            backpropagated into the critic's parameters (True for a penalty term, False
            when only its value is needed).

    Returns:
        (N, D) with D = prod(shape): row i is the gradient of sample i's score (the sum of
        its patch scores for a patch critic).
    """
    x = x.detach().requires_grad_(True)
    with torch.enable_grad():
        out = critic(x)
        score = out.score if isinstance(out, CriticOutput) else out
        # fp16 training: scaled so that small input gradients do not flush to zero
        (grad,) = loss_scaled_grad(score.sum(), [x], create_graph=create_graph)
    assert grad is not None
    return grad.flatten(1)


def interpolate(x_real: torch.Tensor, x_fake: torch.Tensor) -> torch.Tensor:
    """x_hat = eps * x_real + (1 - eps) * x_fake with eps ~ U[0, 1], ONE per sample.

    Gulrajani et al. 2017, Algorithm 1: points on straight lines between pairs of real
    and generated samples. ``eps`` has shape (N, 1, 1, ...) and is drawn with the global
    RNG of the samples' device.

    Raises:
        ValueError: when the two batches do not have the same shape.
    """
    if x_real.shape != x_fake.shape:
        raise ValueError(
            f"The gradient penalty pairs each real sample with a generated one, so both "
            f"batches must have the same shape; got real {tuple(x_real.shape)} and fake "
            f"{tuple(x_fake.shape)}. Generate as many samples as the real batch holds."
        )
    shape = (x_real.shape[0],) + (1,) * (x_real.dim() - 1)
    # sharded: with data parallelism each sample keeps the eps it has in one process
    eps = sharded(lambda s: torch.rand(s, device=x_real.device, dtype=x_real.dtype), shape)
    return eps * x_real.detach() + (1 - eps) * x_fake.detach()


def gradient_norm_penalty(
    grad: torch.Tensor, *, center: float = 1.0, one_sided: bool = False
) -> torch.Tensor:
    """E[(||g|| - center)^2] (two-sided) or E[relu(||g|| - center)^2] (one-sided).

    Args:
        grad: (N, D) per-sample gradients, see :func:`input_gradient`.
        center: the target norm (1 for a 1-Lipschitz critic).
        one_sided: only penalise norms above ``center`` (Gulrajani et al. 2017, sec. 4,
            mention it; Petzka et al. 2018 argue for it).

    Returns:
        A scalar, the mean over the N samples.
    """
    norm = torch.linalg.vector_norm(grad, dim=1)  # ||grad f(x_i)||_2 over the whole sample
    gap = norm - center
    if one_sided:
        gap = torch.relu(gap)
    return gap.pow(2).mean()


def squared_gradient_norm(grad: torch.Tensor) -> torch.Tensor:
    """E[||g||^2]: the mean over samples of the squared Euclidean norm of each row."""
    return grad.pow(2).sum(dim=1).mean()


def sobolev_omega(
    critic: nn.Module, x_real: torch.Tensor, x_fake: torch.Tensor, *, create_graph: bool = True
) -> torch.Tensor:
    """Omega = E_{x~mu} ||grad_x f(x)||^2 with mu = (P + Q) / 2, the pooled batches.

    1/2 E_P||grad f||^2 + 1/2 E_Q||grad f||^2, each half averaged over its own batch (the
    batches may differ in size); the critic is run on each batch separately, as the
    algorithm does, so batch statistics are not mixed.
    """
    g_real = input_gradient(critic, x_real, create_graph=create_graph)
    g_fake = input_gradient(critic, x_fake, create_graph=create_graph)
    return 0.5 * squared_gradient_norm(g_real) + 0.5 * squared_gradient_norm(g_fake)


def augmented_lagrangian_term(omega: torch.Tensor, lam: torch.Tensor, rho: float) -> torch.Tensor:
    """The critic's LOSS term for the constraint Omega = 1: -lam (1 - Omega) + rho/2 (1 - Omega)^2.

    The critic maximises IPM + lam (1 - Omega) - rho/2 (1 - Omega)^2 (Mroueh & Sercu
    2017, Fisher GAN, eq. 8; Mroueh et al. 2018, Sobolev GAN, Algorithm 1); as a loss to
    minimise, the constraint part enters with the opposite sign.
    """
    c = 1 - omega
    return -lam.to(omega) * c + 0.5 * rho * c.pow(2)


# -- registered penalties --------------------------------------------------------------------
class _InputGradientPenalty:
    """Shared boilerplate: phase "d", a readable repr."""

    phase: ClassVar[str] = "d"

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"{type(self).__name__}({args})"


@PENALTIES.register("gradient-penalty", paper=_PAPER_GP)
class GradientPenalty(_InputGradientPenalty):
    """WGAN-GP gradient penalty: weight * E_{x_hat}[(||grad D(x_hat)||_2 - center)^2].

    Gulrajani et al. 2017, "Improved Training of Wasserstein GANs". Failure addressed:
    WGAN's weight clipping (Arjovsky et al. 2017) enforces the Lipschitz constraint so
    crudely that the critic collapses to overly simple functions, its weights pile up at
    the clipping bounds, and gradients explode or vanish with depth. A differentiable
    1-Lipschitz function has gradient norm at most 1 everywhere, and the optimal WGAN
    critic has norm exactly 1 on lines between coupled real and fake points (their
    Proposition 1), so the penalty softly pushes ||grad D|| to 1 on random interpolates
    x_hat = eps x_real + (1 - eps) x_fake, eps ~ U[0, 1] per sample.

    - Norm over the whole sample (all non-batch dimensions flattened), one per sample.
    - ``one_sided``: penalise relu(||grad|| - center)^2 only, i.e. the Lipschitz bound
      itself rather than the norm-1 property of the optimal critic.
    - ``x_real`` and ``x_fake`` must have the same shape (pairs are interpolated).

    Args:
        weight: lambda, 10 in the paper (>= 0).
        one_sided: the one-sided variant.
        center: the target norm (1 in the paper).
    """

    def __init__(
        self,
        weight: Annotated[float, Field(ge=0)] = 10.0,
        one_sided: bool = False,
        center: Annotated[float, Field(ge=0)] = 1.0,
    ) -> None:
        self.weight = float(weight)
        self.one_sided = bool(one_sided)
        self.center = float(center)

    def __call__(
        self,
        critic: nn.Module,
        x_real: torch.Tensor,
        x_fake: torch.Tensor,
        *,
        out_real: CriticOutput | None = None,
        out_fake: CriticOutput | None = None,
        **kw: Any,
    ) -> torch.Tensor:
        """x_real, x_fake: (N, *shape), same shape. Returns the weighted scalar penalty."""
        grad = input_gradient(critic, interpolate(x_real, x_fake))
        return self.weight * gradient_norm_penalty(
            grad, center=self.center, one_sided=self.one_sided
        )


@PENALTIES.register("dragan", paper=_PAPER_DRAGAN)
class DRAGANPenalty(_InputGradientPenalty):
    """DRAGAN: weight * E[(||grad D(x_tilde)||_2 - 1)^2] at points near the REAL data.

    Kodali et al. 2017, "On Convergence and Stability of GANs" (How to Train Your DRAGAN).
    Failure addressed: mode collapse of the original GAN, which the paper attributes to
    sharp gradients of the discriminator around real data points (spurious local
    equilibria of the no-regret game); a gradient penalty in a neighbourhood of the data
    manifold keeps the discriminator smooth there. Unlike WGAN-GP it needs no generated
    samples and works with any objective (the paper uses the original GAN loss).

    Perturbation, as in the authors' reference implementation (the paper writes delta ~
    N(0, cI); the released code and common reimplementations use a uniform one):
    x_p = x + noise * std(x) * U with U ~ U[0, 1] elementwise and std(x) the standard
    deviation of the whole real batch (population, one scalar); the penalised points are
    x_tilde = x + alpha (x_p - x) with alpha ~ U[0, 1] per sample.

    Args:
        weight: lambda, 10 in the paper (>= 0).
        noise: the perturbation scale c relative to the data's std (0.5 in the code).
    """

    def __init__(
        self,
        weight: Annotated[float, Field(ge=0)] = 10.0,
        noise: Annotated[float, Field(ge=0)] = 0.5,
    ) -> None:
        self.weight = float(weight)
        self.noise = float(noise)

    def perturb(self, x_real: torch.Tensor) -> torch.Tensor:
        """x + alpha * noise * std(x) * U, alpha per sample, U elementwise, both U[0, 1]."""
        x = x_real.detach()
        std = x.std(correction=0)  # one scalar over the whole batch (numpy's x.std())
        u = sharded(lambda s: torch.rand(s, device=x.device, dtype=x.dtype), tuple(x.shape))
        alpha = sharded(
            lambda s: torch.rand(s, device=x.device, dtype=x.dtype),
            (x.shape[0],) + (1,) * (x.dim() - 1),
        )
        return x + alpha * (self.noise * std * u)

    def __call__(
        self,
        critic: nn.Module,
        x_real: torch.Tensor,
        x_fake: torch.Tensor | None = None,
        *,
        out_real: CriticOutput | None = None,
        out_fake: CriticOutput | None = None,
        **kw: Any,
    ) -> torch.Tensor:
        """x_real: (N, *shape); x_fake is not used. Returns the weighted scalar penalty."""
        grad = input_gradient(critic, self.perturb(x_real))
        return self.weight * gradient_norm_penalty(grad, center=1.0)


@PENALTIES.register("r1", paper=_PAPER_R1)
class R1Penalty(_InputGradientPenalty):
    """R1: weight / 2 * E_{x~P_data}[||grad D(x)||^2], on real data only.

    Mescheder, Geiger & Nowozin 2018, "Which Training Methods for GANs do actually
    Converge?". Failure addressed: unregularised GAN training (and WGAN / WGAN-GP with
    finitely many critic steps) is not locally convergent when the data distribution is
    concentrated on a low-dimensional manifold: near the equilibrium the critic keeps a
    non-zero gradient orthogonal to the data and the iterates oscillate (their Dirac-GAN
    example). Penalising the critic's gradient on the data makes the equilibrium
    locally asymptotically stable.

    D is the critic's raw score (the logit for the original GAN). ``x_real`` is detached
    and the critic re-run on it; ``out_real`` (which has no graph to x) is not used.

    Args:
        weight: gamma (>= 0); 10 is a common value for images, the paper tunes it.
    """

    #: which batch the penalty is taken on (R1: real, R2: fake).
    on: ClassVar[str] = "real"

    def __init__(self, weight: Annotated[float, Field(ge=0)] = 10.0) -> None:
        self.weight = float(weight)

    def __call__(
        self,
        critic: nn.Module,
        x_real: torch.Tensor,
        x_fake: torch.Tensor,
        *,
        out_real: CriticOutput | None = None,
        out_fake: CriticOutput | None = None,
        **kw: Any,
    ) -> torch.Tensor:
        """Returns weight / 2 * mean over the batch of ||grad_x D(x)||^2 (a scalar)."""
        x = x_real if self.on == "real" else x_fake
        grad = input_gradient(critic, x)
        return 0.5 * self.weight * squared_gradient_norm(grad)


@PENALTIES.register("r2", paper=_PAPER_R1)
class R2Penalty(R1Penalty):
    """R2: weight / 2 * E_{x~P_g}[||grad D(x)||^2], on generated data.

    Mescheder, Geiger & Nowozin 2018, "Which Training Methods for GANs do actually
    Converge?". Failure addressed: the same non-convergence of GAN training near the
    equilibrium as R1 (oscillation driven by the critic's off-manifold gradient); R2
    penalises the gradient on the generator's samples instead of the data. The paper
    proves local convergence for both.

    Args:
        weight: gamma (>= 0).
    """

    on: ClassVar[str] = "fake"


@PENALTIES.register("sobolev-constraint", paper=_PAPER_SOBOLEV)
class SobolevConstraint(_InputGradientPenalty):
    """Sobolev GAN constraint E_{x~mu}||grad f(x)||^2 = 1 by an augmented Lagrangian.

    Mroueh et al. 2018, "Sobolev GAN" (ICLR). Failure addressed: the critic of an IPM
    must be restricted to a bounded set; clipping (WGAN) or a point-wise gradient penalty
    (WGAN-GP) are crude or only enforce the constraint locally. The Sobolev IPM bounds the
    critic in the Sobolev semi-norm ||f||^2 = E_{x~mu}||grad_x f(x)||^2 with respect to a
    dominant measure mu, a constraint on average, which the paper enforces with an
    augmented Lagrangian (Algorithm 1) instead of a fixed-weight penalty.

    The critic maximises E_P f - E_Q f + lam (1 - Omega) - rho/2 (1 - Omega)^2, so this
    penalty, added to the ``sobolev`` objective's loss E_Q f - E_P f, is

        term = -lam (1 - Omega) + rho/2 (1 - Omega)^2,
        Omega = 1/2 E_P||grad f||^2 + 1/2 E_Q||grad f||^2,

    with mu = (P + Q)/2 taken as the pooled real and fake batches (the choice of the
    paper's Algorithm 1; the paper also discusses WGAN-GP-style interpolates as mu). The
    multiplier does gradient descent on the Lagrangian (Algorithm 1):
    lam <- lam - rho * d/dlam = lam - rho (1 - Omega). When Omega > 1 (critic too steep)
    lam grows, which makes the term penalise Omega harder, and conversely.

    ``next_state`` recomputes Omega at the same critic parameters without building a
    double-backward graph (an extra forward/backward of the critic per step).

    Args:
        rho: the quadratic weight and the multiplier's step size (> 0). 1e-5 as in common
            reimplementations; the paper's Fisher GAN used 1e-6.
    """

    stateful: ClassVar[bool] = True

    def __init__(self, rho: Annotated[float, Field(gt=0)] = 1e-5) -> None:
        self.rho = float(rho)

    def initial_state(self) -> State:
        """{"lam": 0}: the Lagrange multiplier starts at zero (Algorithm 1)."""
        return {"lam": torch.tensor(0.0)}

    def __call__(
        self,
        critic: nn.Module,
        x_real: torch.Tensor,
        x_fake: torch.Tensor,
        *,
        out_real: CriticOutput | None = None,
        out_fake: CriticOutput | None = None,
        state: State | None = None,
        **kw: Any,
    ) -> torch.Tensor:
        """-lam (1 - Omega) + rho/2 (1 - Omega)^2, a scalar; ``state`` defaults to lam = 0."""
        lam = (state or self.initial_state())["lam"]
        omega = sobolev_omega(critic, x_real, x_fake)
        return augmented_lagrangian_term(omega, lam, self.rho)

    def next_state(
        self,
        state: State,
        critic: nn.Module,
        x_real: torch.Tensor,
        x_fake: torch.Tensor,
        *,
        out_real: CriticOutput | None = None,
        out_fake: CriticOutput | None = None,
        **kw: Any,
    ) -> State:
        """{"lam": lam - rho (1 - Omega)}, Omega at the current critic (no graph kept)."""
        lam = state["lam"]
        omega = sobolev_omega(critic, x_real, x_fake, create_graph=False).detach()
        return {"lam": lam - self.rho * (1 - omega).to(lam)}

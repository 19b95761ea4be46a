r"""Unrolled GAN: the generator plays against the critic k optimisation steps ahead.

Metz et al. 2017, Unrolled Generative Adversarial Networks (ICLR). With critic
parameters theta_D and generator parameters theta_G, define the look-ahead critic by k
steps of the critic's own optimiser on the critic loss f:

    theta_D^0 = theta_D,    theta_D^{j+1} = theta_D^j - eta * step_j(d f(theta_G, theta_D^j) / d theta_D^j).

The generator minimises its loss against theta_D^k(theta_G, theta_D), *differentiating
through the k updates* (eq. 6-7 of the paper): the term d theta_D^k / d theta_G tells
the generator how the critic would react to its move, so it is not rewarded for jumping
to the mode the current critic likes best, only for distributions the critic cannot
quickly learn to reject. That counters mode collapse and mode hopping. The critic itself
is updated as in the plain GAN (with theta_D^1 only, as in the paper): the look-ahead
copies are functional (:func:`torch.func.functional_call` on new tensors), so the
critic's real parameters and buffers are never changed by the generator's step.

``second_order = False`` drops the derivative through the updates (the look-ahead critic
is then a constant for the generator): cheaper, and the paper's ablation of it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Annotated, Any, Literal

import torch
from pydantic import Field
from torch import nn
from torch.autograd.function import once_differentiable
from torch.func import functional_call

from ganforge.algorithms.unconditional import Unconditional
from ganforge.nets.base import CriticOutput
from ganforge.nn.precision import loss_scaled_grad
from ganforge.objectives.base import Objective
from ganforge.penalties.base import Penalty
from ganforge.registry import ALGORITHMS


class _AdamStep(torch.autograd.Function):
    """One Adam step on one tensor, with a hand-written backward.

    Forward (t-th step, c1 = 1 - b1^t, c2 = 1 - b2^t, k = lr / c1):

        m' = b1 m + (1 - b1) g,    v' = b2 v + (1 - b2) g^2,
        s = sqrt(v' / c2 + eps^2),  p' = p - k m' / s.

    Backward, from the output gradients (P, M, V) of (p', m', v'):

        M~ = M - k P / s,          V~ = V + k P m' / (2 c2 s^3),
        dp = P,  dg = (1 - b1) M~ + 2 (1 - b2) g V~,  dm = b1 M~,  dv = b2 V~.

    The same numbers as autograd through the composite expression, in about a third of
    the elementwise passes over the critic's parameters: the unrolled generator step is
    dominated by them (k steps x every critic tensor, forward and backward).
    """

    @staticmethod
    def forward(  # type: ignore[override]
        ctx: Any,
        p: torch.Tensor,
        g: torch.Tensor,
        m: torch.Tensor,
        v: torch.Tensor,
        k: float,
        b1: float,
        b2: float,
        c2: float,
        eps2: float,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        m2 = m.mul(b1).add_(g, alpha=1 - b1)
        v2 = v.mul(b2).addcmul_(g, g, value=1 - b2)
        s = v2.div(c2).add_(eps2).sqrt_()
        ctx.save_for_backward(g, m2, s)
        ctx.consts = (k, b1, b2, c2)
        ctx.set_materialize_grads(False)
        return p.addcdiv(m2, s, value=-k), m2, v2

    @staticmethod
    @once_differentiable
    def backward(  # type: ignore[override]
        ctx: Any, gp: torch.Tensor | None, gm: torch.Tensor | None, gv: torch.Tensor | None
    ) -> tuple[torch.Tensor | None, ...]:
        g, m2, s = ctx.saved_tensors
        k, b1, b2, c2 = ctx.consts
        mt, vt = gm, gv
        if gp is not None:
            kp_s = gp.mul(k).div_(s)  # k P / s
            mt = -kp_s if mt is None else mt - kp_s
            # k P m' / (2 c2 s^3) = (k P / s) * m' / (2 c2 s^2)
            dv = kp_s.mul_(m2).div_(s.square().mul_(2 * c2))
            vt = dv if vt is None else vt + dv
        dg = dm = dv_in = None
        if mt is not None:
            dg = mt.mul(1 - b1)
            dm = mt.mul(b1) if ctx.needs_input_grad[2] else None
        if vt is not None:
            gv_term = vt.mul(g).mul_(2 * (1 - b2))
            dg = gv_term if dg is None else dg.add_(gv_term)
            dv_in = vt.mul(b2) if ctx.needs_input_grad[3] else None
        if not ctx.needs_input_grad[1]:
            dg = None
        return gp, dg, dm, dv_in, None, None, None, None, None


def adam_lookahead(
    params: dict[str, torch.Tensor],
    grads: dict[str, torch.Tensor],
    moments: dict[str, tuple[torch.Tensor, torch.Tensor]],
    t: int,
    lr: float,
    betas: tuple[float, float],
    eps: float = 1e-8,
) -> tuple[dict[str, torch.Tensor], dict[str, tuple[torch.Tensor, torch.Tensor]]]:
    """One differentiable Adam step (Kingma & Ba 2015) from moments ``moments`` at step t.

    theta <- theta - lr * m_hat / sqrt(v_hat + eps^2), with m, v the bias-corrected first
    and second moments. eps sits inside the square root (not after it, as in torch.optim)
    so that the second derivative stays finite where a gradient is exactly 0; the step
    differs from torch.optim.Adam's by less than eps. Differentiable once (the unrolled
    generator's backward), through :class:`_AdamStep`.

    Returns the new parameters and moments (tensors with the graph of their inputs).
    """
    b1, b2 = betas
    k, c2 = lr / (1 - b1**t), 1 - b2**t
    new_params, new_moments = {}, {}
    for name, p in params.items():
        m, v = moments[name]
        new_params[name], m, v = _AdamStep.apply(p, grads[name], m, v, k, b1, b2, c2, eps * eps)
        new_moments[name] = (m, v)
    return new_params, new_moments


@ALGORITHMS.register("unrolled", paper="Metz et al. 2017, Unrolled Generative Adversarial Networks")
class Unrolled(Unconditional):
    """The unconditional GAN whose generator loss uses a critic unrolled k steps ahead.

    Args:
        nets, objective, penalties, techniques, latent_dim, n_critic, pack: as for
            ``unconditional`` (packing, techniques and penalties apply in the unrolled
            critic steps too).
        unroll_steps: k, the look-ahead critic updates (the paper's 2-D runs: 5 to 10).
        unroll_lr: eta of the look-ahead updates (use the critic optimiser's rate).
        unroll_optimizer: ``adam`` (fresh moments at each generator step, as the critic's
            Adam would start them) or ``sgd``.
        unroll_betas: Adam's betas for the look-ahead steps.
        second_order: differentiate through the look-ahead updates (the method);
            False gives the first-order ablation.

    Cost: each generator step runs k extra critic forward/backward passes (with a graph
    of the k updates when ``second_order``).
    """

    def __init__(
        self,
        nets: dict[str, nn.Module],
        objective: Objective,
        penalties: Sequence[Penalty] = (),
        techniques: Sequence[Any] = (),
        latent_dim: Annotated[int, Field(gt=0, le=4096)] = 64,
        n_critic: Annotated[int, Field(gt=0, le=100)] = 1,
        pack: Annotated[int, Field(ge=1, le=16)] = 1,
        unroll_steps: Annotated[int, Field(ge=1, le=50)] = 5,
        unroll_lr: Annotated[float, Field(gt=0, le=10)] = 1e-4,
        unroll_optimizer: Literal["adam", "sgd"] = "adam",
        unroll_betas: tuple[
            Annotated[float, Field(ge=0, lt=1)], Annotated[float, Field(ge=0, lt=1)]
        ] = (0.5, 0.999),
        second_order: bool = True,
    ) -> None:
        super().__init__(
            nets,
            objective,
            penalties=penalties,
            techniques=techniques,
            latent_dim=latent_dim,
            n_critic=n_critic,
            pack=pack,
        )
        self.unroll_steps = unroll_steps
        self.unroll_lr = unroll_lr
        self.unroll_optimizer = unroll_optimizer
        self.unroll_betas = (float(unroll_betas[0]), float(unroll_betas[1]))
        self.second_order = second_order

    critic_lookahead = True

    def generator_critic(
        self,
        real: torch.Tensor,
        fake: torch.Tensor,
        step: int,
        batch: dict[str, torch.Tensor] | None = None,
    ) -> Callable[[torch.Tensor], CriticOutput]:
        """theta_D^k after k look-ahead steps on (real, fake), as a functional critic.

        real, fake: critic inputs (N', *S'). The returned callable maps x -> CriticOutput
        with the look-ahead parameters; the critic module itself is left untouched.
        """
        d = self.nets["d"]
        # Fresh leaves: the engine has switched off the critic's requires_grad in the
        # generator's phase, and these copies are what the look-ahead differentiates.
        params = {n: p.detach().requires_grad_(True) for n, p in d.named_parameters()}
        # Copies of the buffers: batch-norm statistics / spectral-norm vectors updated by
        # the look-ahead passes must not leak into the real critic.
        buffers = {n: b.clone() for n, b in d.named_buffers()}

        def critic_with(ps: dict[str, torch.Tensor]) -> Callable[[torch.Tensor], CriticOutput]:
            return lambda x: functional_call(d, (ps, buffers), (x,))

        look_fake = fake if self.second_order else fake.detach()
        moments = {n: (torch.zeros_like(p), torch.zeros_like(p)) for n, p in params.items()}
        for j in range(1, self.unroll_steps + 1):
            loss, _ = self.critic_loss(critic_with(params), real, look_fake, step, commit=False)
            names = list(params)
            grads_t = loss_scaled_grad(
                loss,
                [params[n] for n in names],
                create_graph=self.second_order,
                allow_unused=True,
            )
            grads = {
                n: g if g is not None else torch.zeros_like(params[n])
                for n, g in zip(names, grads_t, strict=True)
            }
            if self.unroll_optimizer == "adam":
                params, moments = adam_lookahead(
                    params, grads, moments, j, self.unroll_lr, self.unroll_betas
                )
            else:
                params = {n: p - self.unroll_lr * grads[n] for n, p in params.items()}
        return critic_with(params)

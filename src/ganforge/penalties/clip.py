r"""Weight clipping: WGAN's projection of the critic's parameters onto a box.

Arjovsky, Chintala & Bottou 2017, "Wasserstein GAN", Algorithm 1: after every critic
update, clip every parameter to [-c, c] (c = 0.01), so that the critic ranges over a
compact set of functions that are all K-Lipschitz for some K depending on c and the
architecture; the critic then estimates K * W_1(P_data, P_g).

It is not a loss term but a projection: ``__call__`` returns zero and the work happens in
``after_step(critic)``, which the algorithm calls right after the critic's optimizer
step.

Registered in :data:`ganforge.registry.PENALTIES`: ``weight-clip``.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar

import torch
from pydantic import Field
from torch import nn

from ganforge.nets.base import CriticOutput
from ganforge.registry import PENALTIES

_PAPER_WGAN = "Arjovsky, Chintala & Bottou 2017, Wasserstein GAN"


def clip_parameters_(module: nn.Module, bound: float) -> None:
    """Clamp every parameter of ``module`` to [-bound, bound], in place, without autograd.

    Only ``module.parameters()`` are touched (weights, biases, normalisation gains and
    offsets, as in the WGAN reference code); buffers such as BatchNorm's running mean and
    variance are statistics, not parameters of the critic function, and stay as they are.
    """
    with torch.no_grad():
        for p in module.parameters():
            p.clamp_(-bound, bound)


@PENALTIES.register("weight-clip", paper=_PAPER_WGAN)
class WeightClip:
    """WGAN weight clipping: after each critic step, clamp all critic parameters to [-bound, bound].

    Arjovsky, Chintala & Bottou 2017, "Wasserstein GAN". Failure addressed: the
    Kantorovich-Rubinstein dual of W_1 needs a Lipschitz critic; without any constraint
    the WGAN critic's objective E_P f - E_Q f is unbounded (f can be scaled up forever).
    Clipping keeps the parameters in a compact box, hence the critic K-Lipschitz for some
    K. The paper itself calls it "a clearly terrible way to enforce a Lipschitz
    constraint" (too small a bound: vanishing gradients; too large: slow to converge); see
    ``gradient-penalty`` for the fix of Gulrajani et al. 2017.

    ``__call__`` returns a zero scalar on the device and dtype of the critic's scores;
    :meth:`after_step` does the projection. BatchNorm running statistics (buffers) are
    left alone.

    Args:
        bound: c, the clipping bound (> 0), 0.01 in the paper.
    """

    phase: ClassVar[str] = "d"

    def __init__(self, bound: Annotated[float, Field(gt=0)] = 0.01) -> None:
        self.bound = float(bound)

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
        """A zero scalar: clipping adds nothing to the loss."""
        ref = out_real.score if out_real is not None else x_real
        return ref.new_zeros(())

    def after_step(self, critic: nn.Module) -> None:
        """Project the critic's parameters onto [-bound, bound] (in place)."""
        clip_parameters_(critic, self.bound)

    def __repr__(self) -> str:
        return f"WeightClip(bound={self.bound!r})"

r"""DiscoGAN: cross-domain relations learned with two reconstruction losses.

Kim, Cha, Kim, Lee & Kim 2017, Learning to Discover Cross-Domain Relations with
Generative Adversarial Networks. G_AB, G_BA and critics D_B, D_A with the original GAN
loss (``objective: ns``), and each generator's loss the sum of its adversarial term and a
reconstruction term,

    L_G = L_GAN_B + L_CONST_A + L_GAN_A + L_CONST_B,
    L_CONST_A = d(G_BA(G_AB(x_A)), x_A),                         (sec. 3.2)

with d a distance (the paper names MSE, cosine or hinge; ``cycle_loss: mse``) and equal
weights (``cycle_weight = 1``). No image pool and no halving of the critic loss. The
authors' implementation also adds feature matching on the critic's intermediate
features (``feature_weight``; the paper does not describe it, so it is 0 by default).
Networks: the paper's conv encoder-decoder generator and conv critic (``discogan-g``,
``discogan-d``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any, Literal

from pydantic import Field
from torch import nn

from ganforge.algorithms.cyclegan import CycleGAN
from ganforge.objectives.base import Objective
from ganforge.penalties.base import Penalty
from ganforge.registry import ALGORITHMS


@ALGORITHMS.register(
    "discogan",
    paper="Kim et al. 2017, Learning to Discover Cross-Domain Relations with Generative "
    "Adversarial Networks",
)
class DiscoGAN(CycleGAN):
    """CycleGAN with DiscoGAN's defaults: MSE reconstruction of weight 1, no pool, full
    critic loss (see :class:`CycleGAN` for the arguments)."""

    def __init__(
        self,
        nets: dict[str, nn.Module],
        objective: Objective,
        penalties: Sequence[Penalty] = (),
        techniques: Sequence[Any] = (),
        cycle_weight: Annotated[float, Field(ge=0)] = 1.0,
        cycle_loss: Literal["l1", "mse"] = "mse",
        identity_weight: Annotated[float, Field(ge=0)] = 0.0,
        pool_size: Annotated[int, Field(ge=0, le=100_000)] = 0,
        d_scale: Annotated[float, Field(gt=0)] = 1.0,
        feature_weight: Annotated[float, Field(ge=0)] = 0.0,
        n_critic: Annotated[int, Field(gt=0, le=100)] = 1,
        cycle_noise: Annotated[float, Field(ge=0, le=10)] = 0.0,
    ) -> None:
        super().__init__(
            nets, objective, penalties, techniques, cycle_weight=cycle_weight,
            cycle_loss=cycle_loss, identity_weight=identity_weight, pool_size=pool_size,
            d_scale=d_scale, feature_weight=feature_weight, n_critic=n_critic,
            cycle_noise=cycle_noise,
        )  # fmt: skip

r"""DualGAN: CycleGAN's game with a Wasserstein critic.

Yi, Zhang, Tan & Gong 2017, DualGAN: Unsupervised Dual Learning for Image-to-Image
Translation. Primal G: U -> V and dual F: V -> U, critics D_V and D_U trained as WGAN
critics (Arjovsky et al. 2017: ``objective: wgan`` with weight clipping,
``penalties: [{name: clip}]``, RMSProp 5e-5, ``n_critic`` critic steps per generator
step), and the generators' loss

    l_g(u, v) = lambda_U |u - F(G(u))|_1 + lambda_V |v - G(F(v))|_1 - D_V(G(u)) - D_U(F(v)),

the paper setting lambda_U = lambda_V "within [100.0, 1000.0]" (one ``cycle_weight``
here; the sum of the adversarial terms is the objective's generator loss). Unlike
CycleGAN there is no image pool and the critics' loss is not halved. The paper's
networks are the U-Net generator and the 70 x 70 PatchGAN critic (without the sigmoid:
a Wasserstein critic), as in the ``dualgan-*`` recipes.
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
    "dualgan",
    paper="Yi et al. 2017, DualGAN: Unsupervised Dual Learning for Image-to-Image Translation",
)
class DualGAN(CycleGAN):
    """CycleGAN with DualGAN's defaults: reconstruction weight 100, no pool, full critic
    loss, 2 critic steps per generator step (see :class:`CycleGAN` for the arguments)."""

    def __init__(
        self,
        nets: dict[str, nn.Module],
        objective: Objective,
        penalties: Sequence[Penalty] = (),
        techniques: Sequence[Any] = (),
        cycle_weight: Annotated[float, Field(ge=0)] = 100.0,
        cycle_loss: Literal["l1", "mse"] = "l1",
        identity_weight: Annotated[float, Field(ge=0)] = 0.0,
        pool_size: Annotated[int, Field(ge=0, le=100_000)] = 0,
        d_scale: Annotated[float, Field(gt=0)] = 1.0,
        feature_weight: Annotated[float, Field(ge=0)] = 0.0,
        n_critic: Annotated[int, Field(gt=0, le=100)] = 2,
        cycle_noise: Annotated[float, Field(ge=0, le=10)] = 0.0,
    ) -> None:
        super().__init__(
            nets, objective, penalties, techniques, cycle_weight=cycle_weight,
            cycle_loss=cycle_loss, identity_weight=identity_weight, pool_size=pool_size,
            d_scale=d_scale, feature_weight=feature_weight, n_critic=n_critic,
            cycle_noise=cycle_noise,
        )  # fmt: skip

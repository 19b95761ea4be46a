r"""BiGAN / ALI: learn an encoder E: x -> z jointly with G, by a critic on (x, z) pairs.

Donahue et al. 2017, Adversarial Feature Learning (BiGAN); Dumoulin et al. 2017,
Adversarially Learned Inference (ALI). The critic D(x, z) tells data pairs (x, E(x)),
x ~ p_data, from model pairs (G(z), z), z ~ N(0, I). At the optimum the two joint
distributions match, so E inverts G (E = G^{-1} almost everywhere, Donahue et al.,
Theorem 2) and E(x) is a learned representation of x.

- Critic: the objective's critic loss with real = D(x, E(x)), fake = D(G(z), z).
- G and E (one optimizer, phase ``g``): the critic's loss with the roles of the pairs
  swapped, d_loss(fake = D(x, E(x)), real = D(G(z), z)): for the original GAN this is the
  non-saturating loss of both players (the "inverted labels" of the BiGAN code), for an
  IPM critic it is E[D(x, E(x))] - E[D(G(z), z)].

The critic sees the pair as one vector [flatten(x), z] (the fully connected joint
discriminator of both papers' MNIST models): use ``mlp-d``; its ``in_shape`` is filled as
(prod(x.shape) + latent_dim,).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Annotated, Any, ClassVar

import torch
from pydantic import Field
from torch import nn

from ganforge.algorithms.base import LossOutput
from ganforge.algorithms.unconditional import Unconditional
from ganforge.errors import ConfigError
from ganforge.objectives.base import Objective
from ganforge.penalties.base import Penalty
from ganforge.registry import ALGORITHMS


def joint(x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """The critic's input for a pair: [flatten(x), z], shape (N, prod(x.shape[1:]) + d_z)."""
    return torch.cat([x.flatten(1), z], dim=1)


@ALGORITHMS.register(
    "bigan",
    paper="Donahue et al. 2017, Adversarial Feature Learning; Dumoulin et al. 2017, ALI",
)
class BiGAN(Unconditional):
    """Generator ``g``, encoder ``e`` and a joint critic ``d`` on (x, z) pairs.

    Args:
        nets: ``g`` maps z (N, latent_dim) -> x; ``e`` maps x -> z; ``d`` maps the joint
            vector [flatten(x), z] -> CriticOutput.
        objective, penalties, latent_dim, n_critic: as for ``unconditional``.
        techniques: those without critic-input transforms (the critic's input is a pair).
    """

    networks: ClassVar[dict[str, str]] = {"g": "generator", "e": "encoder", "d": "critic"}
    optimizers: ClassVar[dict[str, tuple[str, ...]]] = {"d": ("d",), "g": ("g", "e")}

    def __init__(
        self,
        nets: dict[str, nn.Module],
        objective: Objective,
        penalties: Sequence[Penalty] = (),
        techniques: Sequence[Any] = (),
        latent_dim: Annotated[int, Field(gt=0, le=4096)] = 64,
        n_critic: Annotated[int, Field(gt=0, le=100)] = 1,
    ) -> None:
        super().__init__(
            nets, objective, penalties=penalties, techniques=techniques,
            latent_dim=latent_dim, n_critic=n_critic,
        )  # fmt: skip
        unsupported = [h for h in ("critic_input", "replay", "generator_loss") if self.hooks[h]]
        if unsupported:
            raise ConfigError(
                f"bigan's critic judges (x, z) pairs; techniques with {unsupported} hooks "
                "do not apply to it. Remove them."
            )

    @classmethod
    def net_defaults(cls, algo_kwargs: dict[str, Any], data: Any) -> dict[str, dict[str, Any]]:
        shape = tuple(data.shape)
        latent = int(algo_kwargs.get("latent_dim", 64))
        return {
            "g": {"latent_dim": latent, "out_shape": shape},
            "e": {"in_shape": shape, "latent_dim": latent},
            "d": {"in_shape": (math.prod(shape) + latent,)},
        }

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """E(x): (N, *shape) -> (N, latent_dim)."""
        return self.nets["e"](x)

    def loss(self, phase: str, batch: dict[str, torch.Tensor], step: int) -> LossOutput:
        g, e, d = self.nets["g"], self.nets["e"], self.nets["d"]
        x = batch["real"]
        z = self.noise(x.shape[0])
        if phase == "d":  # G and E are frozen by the engine: no graph through them
            real = joint(x, e(x).detach())
            fake = joint(g(z).detach(), z)
            loss, logs = self.critic_loss(d, real, fake, step, commit=True)
            return LossOutput(loss + self._parameter_terms("d", logs), logs)
        if phase == "g":
            real, fake = joint(x, e(x)), joint(g(z), z)
            # inverted roles: the data pairs should look generated and vice versa
            loss = self._term("objective", "d_loss", d(fake), d(real), fake, real)
            logs: dict[str, torch.Tensor] = {}
            return LossOutput(loss + self._parameter_terms("g", logs), logs)
        raise ValueError(f"unknown phase {phase!r}")
